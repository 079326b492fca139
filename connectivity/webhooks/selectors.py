"""Reads of webhook endpoints and deliveries, always scoped to the caller's organisation."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from connectivity.models import User, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from connectivity.selectors import organization_of

MAX_ID = 2**63 - 1


def _as_id(value: int | str) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


def endpoints_for(user: User) -> QuerySet[WebhookEndpoint]:
    org = organization_of(user)
    if org is None:
        return WebhookEndpoint.objects.none()
    return WebhookEndpoint.objects.filter(organization=org)


def endpoint_for(user: User, endpoint_id: int | str) -> WebhookEndpoint | None:
    """One endpoint of the user's organisation, or None (the caller answers 404)."""
    pk = _as_id(endpoint_id)
    if pk is None:
        return None
    found = endpoints_for(user).filter(pk=pk).first()
    if found is None and organization_of(user) is not None and (
            WebhookEndpoint.objects.filter(pk=pk).exists()):
        # Another organisation's endpoint: a probe, logged (and alerted on) like a request's.
        from connectivity import security

        security.note_cross_org_miss(user, "webhook endpoint", pk)
    return found


def deliveries_of(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return endpoint.deliveries.prefetch_related(
        Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number", "pk")))


def delivery_for(endpoint: WebhookEndpoint, delivery_id: int | str) -> WebhookDelivery | None:
    pk = _as_id(delivery_id)
    return None if pk is None else endpoint.deliveries.filter(pk=pk).first()
