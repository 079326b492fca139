"""Managing endpoints: the organisation's owners create, change, delete, rotate and redeliver.

Each write is audited (without the secret). A secret is returned once, by create and rotate.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from connectivity import selectors
from connectivity.models import (
    AuditEntry,
    Organization,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from connectivity.webhooks import addresses, secrets
from connectivity.webhooks.events import EVENT_TYPES

MAX_ENDPOINTS = 20
MAX_URL = 2000
MAX_DESCRIPTION = 200


def _require_owner(actor: User, organization: Organization) -> None:
    if selectors.organization_of(actor) != organization or not selectors.is_owner(actor):
        raise PermissionDenied("Only the organisation's owners manage webhooks.")


def _audit(actor: User, endpoint: WebhookEndpoint, action: str, **data: Any) -> None:
    AuditEntry.objects.create(
        actor=actor, actor_label=actor.email,  # an owner: always a person
        organization_id=endpoint.organization_id, action=action, target=endpoint.url[:300],
        data={"endpoint_id": endpoint.pk, **data})


def _clean(url: Any = None, events: Any = None, description: Any = None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    if url is not None:
        url = str(url).strip()
        if not url:
            errors["url"] = ["Enter the URL that should receive the events."]
        elif len(url) > MAX_URL:
            errors["url"] = [f"URLs are at most {MAX_URL} characters."]
        elif any(ord(ch) <= 32 or ch == "\x7f" for ch in url):
            errors["url"] = ["The URL must not contain spaces or control characters."]
        else:
            try:
                addresses.check_url(url)
                cleaned["url"] = url
            except addresses.AddressRefused as exc:
                errors["url"] = [str(exc)]
    if events is not None:
        if not isinstance(events, list | tuple) or not events:
            errors["events"] = ["Choose at least one event type."]
        else:
            unknown = [str(e) for e in events if e not in EVENT_TYPES]
            if unknown:
                errors["events"] = [f"Unknown event type {unknown[0][:60]!r}; choose from: "
                                    f"{', '.join(EVENT_TYPES)}."]
            else:
                cleaned["events"] = [e for e in EVENT_TYPES if e in events]
    if description is not None:
        description = str(description).strip()
        if len(description) > MAX_DESCRIPTION:
            errors["description"] = [f"Descriptions are at most {MAX_DESCRIPTION} characters."]
        elif any(ord(ch) < 32 or ch == "\x7f" for ch in description):
            errors["description"] = ["The description must not contain control characters."]
        else:
            cleaned["description"] = description
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def webhook_endpoint_create(
    *, actor: User, organization: Organization, url: str, events: list[str], description: str = "",
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, returned this once."""
    _require_owner(actor, organization)
    cleaned = _clean(url=url, events=events, description=description)
    if WebhookEndpoint.objects.filter(organization=organization).count() >= MAX_ENDPOINTS:
        raise ValidationError({"url": [f"An organisation has at most {MAX_ENDPOINTS} endpoints; "
                                       "delete one first."]})
    secret = secrets.generate()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, created_by=actor, secret_ciphertext=secrets.encrypt(secret),
        **cleaned)
    _audit(actor, endpoint, "webhook.created", events=endpoint.events)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, actor: User, url: str | None = None,
    events: list[str] | None = None, description: str | None = None, enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given. Enabling a disabled endpoint clears its failure record."""
    _require_owner(actor, endpoint.organization)
    changes = _clean(url=url, events=events, description=description)
    if enabled is not None and enabled != endpoint.enabled:
        changes["enabled"] = enabled
        if enabled:
            changes.update(disabled_at=None, disabled_reason="", failing_since=None)
        else:
            changes.update(disabled_at=timezone.now(), disabled_reason="Disabled by an owner.")
    for field, value in changes.items():
        setattr(endpoint, field, value)
    if changes:
        endpoint.save()
        _audit(actor, endpoint, "webhook.changed", fields=sorted(changes))
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User) -> None:
    _require_owner(actor, endpoint.organization)
    _audit(actor, endpoint, "webhook.deleted")
    endpoint.delete()


@transaction.atomic
def webhook_secret_rotate(*, endpoint: WebhookEndpoint, actor: User) -> str:
    """A new secret, returned this once. The old one keeps signing (as a second signature) for
    WEBHOOK_SECRET_OVERLAP seconds, so a receiver can switch secrets without missing a beat."""
    _require_owner(actor, endpoint.organization)
    secret = secrets.generate()
    overlap = int(getattr(settings, "WEBHOOK_SECRET_OVERLAP", 86400))
    endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext if overlap > 0 else ""
    endpoint.previous_secret_expires_at = (
        timezone.now() + timedelta(seconds=overlap) if overlap > 0 else None)
    endpoint.secret_ciphertext = secrets.encrypt(secret)
    endpoint.save(update_fields=["secret_ciphertext", "previous_secret_ciphertext",
                                 "previous_secret_expires_at", "updated_at"])
    _audit(actor, endpoint, "webhook.secret_rotated")
    return secret


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery, actor: User) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery with the same webhook-id and body (so a
    receiver that already processed it can tell), with a fresh retry schedule."""
    endpoint = delivery.endpoint
    _require_owner(actor, endpoint.organization)
    if not endpoint.enabled:
        raise ValidationError({"enabled": ["This endpoint is disabled: enable it before "
                                           "redelivering."]})
    again = WebhookDelivery.objects.create(
        endpoint=endpoint, message_id=delivery.message_id, event_type=delivery.event_type,
        body=delivery.body, redelivery_of=delivery, next_attempt_at=timezone.now())
    _audit(actor, endpoint, "webhook.redelivered", message_id=delivery.message_id)
    from connectivity.webhooks import delivery as sending

    transaction.on_commit(lambda: sending.enqueue([again.pk]))
    return again
