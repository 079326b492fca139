"""Which events exist, and how a lifecycle event or a public comment becomes deliveries.

Event types are derived from the lifecycle: `request.created`, then `request.<state>` for every
state a transition can reach; `connection.degraded` and `connection.restored` when a live
connection's health changes; `comment.created` for a public comment (internal notes never leave
the console). Each body is the request's API representation plus the event:

    {"type": "request.active", "id": "msg_…", "timestamp": "2026-…Z",
     "data": {"request": {…as GET /api/v1/requests/{id}/…}, "timeline_event": {…}}}

Delivery rows are written in the same transaction as the event they announce (so an event is
never lost once committed, nor announced when rolled back); workers are nudged after commit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from connectivity.models import (
    Comment,
    ConnectivityRequest,
    RequestEvent,
    RequestState,
    WebhookDelivery,
    WebhookEndpoint,
)

S = RequestState
REQUEST_CREATED = "request.created"
CONNECTION_DEGRADED = "connection.degraded"
CONNECTION_RESTORED = "connection.restored"
COMMENT_CREATED = "comment.created"


def _reachable_states() -> list[str]:
    """Every state a transition can reach: all but draft, which only creation enters (the
    lifecycle calls this module, so it does not import the lifecycle's table; a test holds
    the two together)."""
    return [state for state in S.values if state != S.DRAFT]


REQUEST_EVENT_TYPES = (REQUEST_CREATED, *(f"request.{state}" for state in _reachable_states()))
EVENT_TYPES: tuple[str, ...] = (*REQUEST_EVENT_TYPES, CONNECTION_DEGRADED, CONNECTION_RESTORED,
                                COMMENT_CREATED)


def describe(event_type: str) -> str:
    if event_type == REQUEST_CREATED:
        return "A request was filed (as a draft)."
    if event_type == CONNECTION_DEGRADED:
        return "A live connection stopped working (Azure reports it disconnected)."
    if event_type == CONNECTION_RESTORED:
        return "A degraded connection works again."
    if event_type == COMMENT_CREATED:
        return "Someone wrote in a request's conversation (never internal notes)."
    state = event_type.removeprefix("request.")
    return f"A request became {S(state).label}."


def types_for_transition(from_state: str, to_state: str) -> list[str]:
    if not to_state:
        return []
    if not from_state and to_state == S.DRAFT:
        return [REQUEST_CREATED]
    types = [f"request.{to_state}"]
    if to_state == S.DEGRADED:
        types.append(CONNECTION_DEGRADED)
    elif from_state == S.DEGRADED and to_state in (S.ACTIVE, S.COMPLETED):
        types.append(CONNECTION_RESTORED)
    return types


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class _SiteRequest:
    """Stands in for an HTTP request so the API serializer builds absolute links on SITE_URL."""

    def build_absolute_uri(self, path: str) -> str:
        return settings.SITE_URL.rstrip("/") + path


#: How the API shows a request, a timeline event and a comment (its serializers, not copies of
#: them). connectivity.api sits above the lifecycle that calls this module, so the app installs
#: them when it is ready (connectivity/apps.py) instead of this module importing the API.
_RENDERERS: dict[str, Callable[..., Any]] = {}


def install_renderers(*, request: Callable[..., Any], event: Callable[..., Any],
                      comment: Callable[..., Any]) -> None:
    _RENDERERS.update(request=request, event=event, comment=comment)


def _render(what: str, obj: Any, **context: Any) -> dict[str, Any]:
    return dict(_RENDERERS[what](obj, context=context).data)


def request_representation(request: ConnectivityRequest) -> dict[str, Any]:
    """The request exactly as the API shows it."""
    return _render("request", request, request=_SiteRequest())


def render_body(event_type: str, message_id: str, data: dict[str, Any], *, at: datetime) -> str:
    timestamp = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    payload = {"type": event_type, "id": message_id, "timestamp": timestamp, "data": data}
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def _subscribers(organization_id: int) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.filter(organization_id=organization_id, enabled=True)
                .only("pk", "events"))


def _emit(endpoints: list[WebhookEndpoint], event_type: str, data: dict[str, Any], *,
          at: datetime) -> list[int]:
    targets = [endpoint for endpoint in endpoints if event_type in endpoint.events]
    if not targets:
        return []
    message_id = new_message_id()
    body = render_body(event_type, message_id, data, at=at)
    now = timezone.now()
    created = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(endpoint=endpoint, message_id=message_id, event_type=event_type,
                        body=body, next_attempt_at=now)
        for endpoint in targets])
    return [delivery.pk for delivery in created]


def _nudge_after_commit(ids: list[int]) -> None:
    if ids:
        from connectivity.webhooks import delivery

        transaction.on_commit(lambda: delivery.enqueue(ids))


def on_request_event(event: RequestEvent) -> None:
    """Called for every event row the lifecycle writes; only state changes are announced."""
    types = types_for_transition(event.from_state, event.to_state)
    if not types:
        return
    request = event.request
    endpoints = _subscribers(request.organization_id)
    if not any(t in endpoint.events for endpoint in endpoints for t in types):
        return
    data = {"request": request_representation(request),
            "timeline_event": _render("event", event)}
    ids: list[int] = []
    for event_type in types:
        ids += _emit(endpoints, event_type, data, at=event.created_at)
    _nudge_after_commit(ids)


def on_comment(comment: Comment) -> None:
    """Called when a comment is written; internal notes are never announced."""
    if comment.internal:
        return
    endpoints = _subscribers(comment.request.organization_id)
    if not any(COMMENT_CREATED in endpoint.events for endpoint in endpoints):
        return
    data = {"request": request_representation(comment.request),
            "comment": _render("comment", comment)}
    _nudge_after_commit(_emit(endpoints, COMMENT_CREATED, data, at=comment.created_at))
