"""Representation without DRF's per-field machinery, for the serializers on the hot paths.

DRF renders each field of each row through `get_attribute` (a dotted-source walk with
`is_simple_callable` checks), `to_representation`, and for links one `reverse()` apiece: for a
list page that is most of the CPU an API call costs. A serializer that mixes in
`FastRepresentation` declares its fields as usual (they are the schema and the input rules) and
returns plain getters for the fields it wants fast; every other field in `Meta.fields` is still
rendered by its DRF field. The output is the same to the byte (tests/api/test_representation.py
compares the two for every kind and state).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import UTC, timedelta
from functools import lru_cache
from typing import Any

from django.urls import get_script_prefix, reverse
from django.utils import timezone
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

Getter = Callable[[Any], Any]
ZERO = timedelta(0)
# Stands in for the id while a route is reversed once; never a valid id, so never in a real path.
_SLOT = "00000000-0000-0000-0000-00000000511d"


@lru_cache(maxsize=64)
def _route_around_id(name: str, script_prefix: str) -> tuple[str, str]:
    """The route's path split at its one id argument: (before, after)."""
    path = reverse(f"api:{name}", args=[_SLOT])
    head, _, tail = path.partition(_SLOT)
    return head, tail


def absolute_link(context: dict[str, Any], name: str) -> Callable[[object], str]:
    """id → the absolute URL of route `name` for that id: `reverse()` and `build_absolute_uri`
    run once per response instead of once per link."""
    head, tail = _route_around_id(name, get_script_prefix())
    head = _absolute(context, head)
    return lambda pk: f"{head}{pk}{tail}"


def _absolute(context: dict[str, Any], path: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


def absolute_links(context: dict[str, Any], names: dict[str, str]) -> Callable[[object], dict[str, str]]:
    """id → {key: the absolute URL of route `names[key]` for that id}: `absolute_link` for each,
    with the id turned into text once when the routes share the part before it."""
    routes = {key: _route_around_id(name, get_script_prefix()) for key, name in names.items()}
    if len({head for head, _ in routes.values()}) != 1:
        links = {key: absolute_link(context, name) for key, name in names.items()}
        return lambda pk: {key: link(pk) for key, link in links.items()}
    head = _absolute(context, next(iter(routes.values()))[0])
    tails = [(key, tail) for key, (_, tail) in routes.items()]

    def render(pk: object) -> dict[str, str]:
        before = f"{head}{pk}"
        return {key: before + tail for key, tail in tails}

    return render


def datetime_renderer() -> Callable[[Any], str | None]:
    """DRF's ISO 8601 DateTimeField output (in the current time zone, UTC as `Z`)."""
    zone = timezone.get_current_timezone()
    in_utc = zone.utcoffset(None) == ZERO and str(zone) in ("UTC", "Etc/UTC")

    def render(value: Any) -> str | None:
        if not value:
            return None
        if in_utc and value.tzinfo is UTC:  # as the database gives it: already in the zone
            return f"{value.isoformat()[:-6]}Z"
        if timezone.is_aware(value):
            value = value.astimezone(zone)
        text: str = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return render


def choice(value: Any) -> Any:
    """A ChoiceField's output for a stored value (our choices are strings)."""
    return value if value in ("", None) else str(value)


def text(value: Any) -> str | None:
    """A CharField's output."""
    return None if value is None else str(value)


def strings(values: Iterable[Any] | None) -> list[str | None] | None:
    """ListField(child=CharField()) output."""
    if values is None:
        return None
    return [None if v is None else str(v) for v in values]


def rows(values: Iterable[dict[str, Any]] | None, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """A nested serializer of CharFields (many=True) over stored JSON objects."""
    return [{key: None if row[key] is None else str(row[key]) for key in keys}
            for row in values or []]


class FastRepresentation:
    """Mix in before the DRF serializer class and define `fast_fields()`."""

    _renderers: list[tuple[str, Getter]] | None = None

    def fast_fields(self) -> dict[str, Getter]:
        return {}

    def to_representation(self, instance: Any) -> dict[str, Any]:
        # A list's child serializer renders every row: the getters are built once per response.
        if self._renderers is None:
            self._renderers = self._build_renderers()
        try:
            return {name: render(instance) for name, render in self._renderers}
        except SkipField:  # only a DRF field does that: render the row again without it
            out: dict[str, Any] = {}
            for name, render in self._renderers:
                try:
                    out[name] = render(instance)
                except SkipField:
                    continue
            return out

    def _build_renderers(self) -> list[tuple[str, Getter]]:
        getters = self.fast_fields()
        names: list[str] = list(self.Meta.fields)  # type: ignore[attr-defined]
        return [(name, getters.get(name) or self._drf_field(name)) for name in names]

    def _drf_field(self, name: str) -> Getter:
        declared: dict[str, Any] = self._declared_fields  # type: ignore[attr-defined]
        if name in declared:  # a copy of that one field, not of every field (`self.fields`)
            field = copy.deepcopy(declared[name])
            field.bind(field_name=name, parent=self)
        else:  # a field the model serializer builds from the model
            field = self.fields[name]  # type: ignore[attr-defined]

        def render(instance: Any) -> Any:
            attribute = field.get_attribute(instance)
            check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            return None if check is None else field.to_representation(attribute)

        return render
