"""Request lists and requests served from the cache while nothing they show has changed.

Automation polls: most calls to the request list, and to a request a pipeline waits on, ask
again for a page whose rows have not moved since. A page (a list page, or one request) as
rendered is stored under its organisation's `api_version`, which every write to what a page
shows bumps once it commits (`models.pages_changed`), so a stored page is never older than its
organisation's rows (but for a process that dies between a write's commit and the bump: then
until the next write or the page's expiry). The version comes with the organisation in the
token lookup's query, read before anything else, so a hit costs no query beyond
authentication.

The key holds everything else the body depends on: the organisation (and its creation time, so
a reused primary key after a database reset is another organisation), the address the links
are built on (scheme and host), the path with its query string, the negotiated media type
(`; indent=` changes the bytes), the time zone and language (fixed for the API), and a digest
of the code and settings that render it, so a deploy that changes a field, a command or a data
migration never serves a page the old code rendered (processes of one deploy share the digest,
and so the pages). Rows do not depend on who asks within the organisation. Only 200 answers
rendered as JSON are stored, so every bad parameter still gets its 400 from the real path, and
entries expire after `API_PAGE_CACHE_SECONDS` (0 turns the cache off).

Each page carries an `ETag` (a digest of its body), so a caller that sends it back in
`If-None-Match` gets `304 Not Modified` and no body while the page is unchanged.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

import connectivity
import portal
from connectivity.models import Organization

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024  # a 100-row page is about 300 KB


def serve(request: Request, organization: Organization | None,
          render: Callable[[], Response]) -> HttpResponse:
    """The stored page for this request, else `render()`'s, stored once rendered; either with
    its `ETag`, and a 304 instead when the caller's `If-None-Match` names it."""
    seconds = settings.API_PAGE_CACHE_SECONDS
    if not seconds or organization is None or not isinstance(request.accepted_renderer,
                                                             JSONRenderer):
        return render()
    key = _key(request, organization)
    stored = _get(key)
    if stored is not None:
        content_type, body, etag = stored
        response = HttpResponse(body, content_type=content_type)
        response["ETag"] = etag
        return get_conditional_response(request, etag=etag, response=response) or response
    rendering = render()

    def store(rendered: Any) -> HttpResponse | None:
        if rendered.status_code != 200:
            return None
        etag = quote_etag(hashlib.sha256(rendered.content).hexdigest()[:32])
        rendered["ETag"] = etag
        if len(rendered.content) <= MAX_BODY_BYTES:
            _set(key, (rendered["Content-Type"], rendered.content, etag), seconds)
        conditional = get_conditional_response(request, etag=etag, response=rendered)
        return conditional if conditional is not rendered else None

    rendering.add_post_render_callback(store)
    return rendering


@lru_cache(maxsize=1)
def code_generation() -> str:
    """A digest of what renders a page besides its rows: the project's code and its settings."""
    digest = hashlib.sha256()
    for package in (connectivity, portal):
        root = Path(str(package.__file__)).parent
        for source in sorted(root.rglob("*.py")):
            digest.update(str(source.relative_to(root)).encode())
            digest.update(source.read_bytes())
    names = sorted(name for name in dir(settings) if name.isupper())
    digest.update(repr([(name, getattr(settings, name)) for name in names]).encode())
    return digest.hexdigest()


def _settings_changed(**kwargs: Any) -> None:
    code_generation.cache_clear()  # tests change settings; a deploy restarts the processes


setting_changed.connect(_settings_changed, dispatch_uid="pagecache-settings")


def _key(request: Request, organization: Organization) -> str:
    parts = "\n".join([
        code_generation(),
        str(organization.pk), organization.created_at.isoformat(), str(organization.api_version),
        request.build_absolute_uri("/"), request.get_full_path(), request.accepted_media_type,
        timezone.get_current_timezone_name(), translation.get_language() or "",  # the API's: UTC
    ])
    return "api-page:" + hashlib.sha256(parts.encode()).hexdigest()


# A cache that is down makes pages slower, never wrong or failing.
def _get(key: str) -> tuple[str, bytes, str] | None:
    try:
        stored: tuple[str, bytes, str] | None = cache.get(key)
    except Exception:
        logger.warning("API page cache: read failed", exc_info=True)
        return None
    return stored


def _set(key: str, value: tuple[str, bytes, str], seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:
        logger.warning("API page cache: write failed", exc_info=True)
