"""The interface every kind implements, and what its steps return to the engine.

A kind is a `Kind` subclass with class attributes (key, label, spec, grant, steps, resource
labels, templates) and a few methods (checks, probe, dependencies, plan); the engine, services
and views ask it instead of testing ``kind == ...``. Like healthchecks' ``Transport``: a new kind
is one class, its templates, its simulator support and its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import serializers

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from connectivity.models import ConnectivityRequest
    from connectivity.preflight import Check


# --- Outcomes of one step (the engine applies them) -------------------------------------------


@dataclass
class Next:
    """The step is done; go on to ``step`` now."""

    step: str
    message: str
    resources: dict[str, Any] = field(default_factory=dict)


@dataclass
class Poll:
    """Nothing wrong, but not there yet: run the same step again later (not a sleeping worker)."""

    message: str


#: ARM ``provisioningState`` values of an operation still under way.
RUNNING_STATES = frozenset({"updating", "creating", "accepted", "deleting", "provisioning",
                            "inprogress", "running"})


def progress(provisioning_state: str | None) -> str:
    """``done``, ``running`` or ``failed``: what a step that started a long-running operation
    (and returned at once) learns from the resource's ``provisioningState`` on a later run.
    Workers never follow an operation to its end; they read the resource again after a while."""
    state = (provisioning_state or "").lower()
    if state == "succeeded":
        return "done"
    if state in RUNNING_STATES:
        return "running"
    return "failed"


@dataclass
class Busy:
    """Another request is writing to the same VNet; try again in a moment (not an attempt)."""

    vnet_id: str


@dataclass
class Active:
    message: str
    resources: dict[str, Any] = field(default_factory=dict)


@dataclass
class Removed:
    message: str
    resources: dict[str, Any] = field(default_factory=dict)


Outcome = Next | Poll | Busy | Active | Removed
Step = Callable[["ConnectivityRequest"], Outcome]


class VNetBusy(Exception):
    def __init__(self, vnet_id: str) -> None:
        super().__init__(vnet_id)
        self.vnet_id = vnet_id


def vnet_lease_name(vnet_id: str) -> str:
    return "vnet:" + vnet_id.strip().rstrip("/").lower()


@contextmanager
def vnet_lock(vnet_id: str, request: ConnectivityRequest) -> Iterator[None]:
    """Hold the VNet for this request while it writes: a short lease renewed while held
    (connectivity/leases.py), so a killed worker blocks the VNet for at most VNET_LOCK_TTL.
    The same request takes its own lease over, so its retry after a crash need not wait."""
    from connectivity import leases

    try:
        with leases.held(vnet_lease_name(vnet_id), str(request.pk),
                         ttl=float(getattr(settings, "VNET_LOCK_TTL", 30))):
            yield
    except leases.LeaseTaken as taken:
        raise VNetBusy(vnet_id) from taken


def gateway() -> Any:
    from connectivity.azure import gateway as gw

    return gw


def platform_tenant() -> str:
    return str(settings.AZURE_PLATFORM_TENANT_ID)


# --- The spec: a kind's fields ----------------------------------------------------------------


@dataclass(frozen=True)
class SpecField:
    """One field of a kind's spec. ``validate`` is the shared rule (it returns the cleaned value
    and raises ValidationError naming the field); ``form`` and ``api`` build the portal's form
    field and the API serializer's field, so both carry the same label and help text."""

    name: str
    label: str
    help_text: str = ""
    validate: Callable[[Any], Any] | None = None
    default: Any = ""
    form: Callable[[SpecField], forms.Field] | None = None
    parse_form: Callable[[Any], Any] | None = None
    api: Callable[[SpecField], serializers.Field] | None = None
    api_only: bool = False  # an input convenience (vnet_id), never stored
    form_only: bool = False

    def clean(self, value: Any) -> Any:
        if self.validate is None:
            return self.default if value is None else value
        return self.validate(value)

    def form_field(self) -> forms.Field:
        if self.form is not None:
            return self.form(self)
        return forms.CharField(label=self.label, help_text=self.help_text, max_length=253)

    def api_field(self) -> serializers.Field:
        if self.api is not None:
            return self.api(self)
        return serializers.CharField(max_length=253, required=False, allow_blank=True,
                                     help_text=self.help_text or None)


class SpecForm(forms.Form):
    """A kind's portal form, derived from its spec: one field per spec field, each cleaned with
    the spec's parser and rule, and required-field messages that name the field."""

    kind: ClassVar[Kind]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for form_field in self.fields.values():
            form_field.error_messages["required"] = f"{form_field.label} is required."

    def _clean_spec_field(self, spec: SpecField) -> Any:
        value = self.cleaned_data.get(spec.name)
        if spec.parse_form is not None:
            value = spec.parse_form(value)
        if value in ("", None) and not self.fields[spec.name].required:
            return value
        return spec.clean(value)

    def service_fields(self) -> dict[str, Any]:
        return {s.name: self.cleaned_data.get(s.name) for s in self.kind.stored_fields()}


def spec_form(kind: type[Kind], base: type[SpecForm] = SpecForm) -> type[SpecForm]:
    """Build the form class for ``kind`` from its spec (fields of ``base`` come first)."""
    attrs: dict[str, Any] = {"kind": kind, "__module__": kind.__module__}
    for spec in kind.spec:
        if spec.api_only:
            continue
        attrs[spec.name] = spec.form_field()
        if f"clean_{spec.name}" not in vars(base):
            attrs[f"clean_{spec.name}"] = (lambda s: lambda self: self._clean_spec_field(s))(spec)
    return type(f"{kind.__name__}Form", (base,), attrs)


# --- Resources, dependencies, health ----------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """An Azure resource a request created, as the request page shows it."""

    key: str
    label: str
    value: str


@dataclass(frozen=True)
class PlannedResource:
    what: str
    resource_id: str
    where: str  # whose subscription, as the approver should read it


PLATFORM = "platform subscription"


@dataclass(frozen=True)
class Health:
    """What a kind's health probe saw: healthy or not, Azure's states in words, request ids."""

    healthy: bool
    states: str
    request_ids: list[str] = field(default_factory=list)


# --- The kind ---------------------------------------------------------------------------------


class Kind:
    """One kind of connection. Subclasses set the class attributes and implement the methods
    that raise NotImplementedError; the others have safe defaults."""

    key: ClassVar[str]
    label: ClassVar[str]
    #: One sentence for the wizard's choice of kind.
    description: ClassVar[str] = ""
    #: The fields a customer gives, in the order the form and the API show them.
    spec: ClassVar[tuple[SpecField, ...]] = ()
    #: Whether the platform acts in the customer's subscription with a role they grant.
    needs_grant: ClassVar[bool] = False
    #: Provisioning steps (after the engine's shared pre-flight step), then teardown steps.
    steps: ClassVar[dict[str, Step]] = {}
    first_step: ClassVar[str]
    first_remove_step: ClassVar[str]
    #: Keys of ``request.azure_resources`` and the labels the request page shows for them.
    resource_labels: ClassVar[dict[str, str]] = {}
    #: Spec fields that say which connection this is (two open requests for the same are a clash).
    identity_fields: ClassVar[tuple[str, ...]] = ()
    form_base: ClassVar[type[SpecForm]] = SpecForm
    _form: ClassVar[type[SpecForm] | None] = None

    # --- spec ---
    @classmethod
    def stored_fields(cls) -> list[SpecField]:
        return [s for s in cls.spec if not s.api_only and not s.form_only]

    @classmethod
    def form_class(cls) -> type[SpecForm]:
        if cls.__dict__.get("_form") is None:
            cls._form = spec_form(cls, cls.form_base)
        assert cls._form is not None
        return cls._form

    def clean(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Validate the spec with the shared rules; errors are keyed by field name."""
        errors: dict[str, list[str]] = {}
        cleaned: dict[str, Any] = {}
        for spec in self.stored_fields():
            try:
                cleaned[spec.name] = spec.clean(fields.get(spec.name))
            except ValidationError as exc:
                errors[spec.name] = exc.messages
        if errors:
            raise ValidationError(errors)
        return cleaned

    def api_input(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Turn the API's input conveniences into spec fields (raise ValidationError by field)."""
        return attrs

    def create_errors(self, cleaned: dict[str, Any]) -> dict[str, list[str]]:
        """Refusals at create beyond the field rules (e.g. the platform's own scopes)."""
        return {}

    def target(self, request: ConnectivityRequest) -> str:
        """What the connection points at, in a few words (dashboard, search)."""
        return ", ".join(str(getattr(request, f, "")) for f in self.identity_fields)

    # --- templates ---
    @property
    def template_dir(self) -> str:
        return f"connectivity/kinds/{self.key}"

    @property
    def details_template(self) -> str:
        return f"{self.template_dir}/details.html"

    @property
    def fields_template(self) -> str:
        return f"{self.template_dir}/fields.html"

    @property
    def review_template(self) -> str:
        return f"{self.template_dir}/review.html"

    # --- grant ---
    def role_actions(self) -> list[str]:
        return []

    def grant_scope(self, request: ConnectivityRequest) -> str:
        return ""

    def grant_tenant(self, request: ConnectivityRequest) -> str:
        return ""

    def grant_instructions(self, request: ConnectivityRequest) -> Any:
        return None

    def grant_formats(self, request: ConnectivityRequest, *, role_name: str | None = None) -> Any:
        """The grant in the customer's own tools (CLI, PowerShell, Terraform, Bicep)."""
        return {}

    def revoke_command(self, request: ConnectivityRequest) -> str:
        return ""

    def grant_gone_message(self, request: ConnectivityRequest) -> str:
        return ""

    def revoke_reminder_message(self, request: ConnectivityRequest) -> str:
        return ""

    def after_create(self, request: ConnectivityRequest) -> None:
        """Called once the draft exists (e.g. tell other organisations about a claimed VNet)."""

    # --- pre-flight ---
    def checks(self, request: ConnectivityRequest) -> list[Check]:
        raise NotImplementedError

    def same_connection(self, queryset: QuerySet[ConnectivityRequest],
                        request: ConnectivityRequest) -> QuerySet[ConnectivityRequest]:
        """Narrow ``queryset`` (same cluster and kind) to requests for the same connection."""
        for name in self.identity_fields:
            queryset = queryset.filter(**{f"spec__{name}__iexact": getattr(request, name)})
        return queryset

    def before_provisioning(self, request: ConnectivityRequest) -> dict[str, Any]:
        """Resources to record once pre-flight passed again, before the first step writes."""
        return {}

    # --- health, dependencies, resources ---
    has_probe: ClassVar[bool] = False

    def probe(self, request: ConnectivityRequest) -> Health | None:
        """Azure's view of a live connection; None when it cannot tell now (try later)."""
        return None

    def degraded_message(self, health: Health) -> str:
        return f"Azure reports the connection is no longer healthy ({health.states})."

    def restored_message(self, health: Health) -> str:
        return f"Azure reports the connection healthy again ({health.states})."

    def depends_on(self, request: ConnectivityRequest) -> list[ConnectivityRequest]:
        """The live requests this one needs to keep working."""
        return []

    def resources(self, request: ConnectivityRequest) -> list[Resource]:
        """The Azure resources recorded on the request, with labels for people."""
        out = []
        for key, value in (request.azure_resources or {}).items():
            if key not in self.resource_labels:
                continue
            text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
            out.append(Resource(key, self.resource_labels[key], text))
        return out

    def planned_resources(self, request: ConnectivityRequest) -> list[PlannedResource]:
        raise NotImplementedError

    def leftover_command(self, request: ConnectivityRequest) -> str:
        """After removal, what the customer runs to delete what the platform had to leave."""
        return ""

    def completed_message(self, request: ConnectivityRequest) -> str:
        return (f"A {self.label.lower()} needs no role in your subscription, so there is "
                "nothing to revoke.")

    def __repr__(self) -> str:
        return f"<Kind {self.key}>"
