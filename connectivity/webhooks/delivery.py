"""Sending deliveries: sign, POST to the checked address, log the attempt, schedule the retry.

Retries back off exponentially: after attempt n (1-based) the next waits
`WEBHOOK_RETRY_BASE * WEBHOOK_RETRY_FACTOR ** (n - 1)` seconds, up to `WEBHOOK_MAX_ATTEMPTS`
attempts. With the defaults (30 s, factor 3, 9 attempts) that is 30 s, 1.5 min, 4.5 min, 13.5 min,
40.5 min, 2 h, 6.1 h and 18.2 h: the last attempt about 27 hours after the first.

A delivery whose last attempt fails is given up; if nothing reached the endpoint since its
failures began (`failing_since`), the endpoint is disabled, its other pending deliveries are
given up with it, and the organisation's owners are emailed. An owner re-enables it and
redelivers what they need.

The database holds the schedule; Celery only nudges. A worker claims a due delivery with a
conditional UPDATE that moves `next_attempt_at` a lease ahead, so a duplicate or late task finds
nothing to do, and a worker that dies mid-attempt leaves a delivery that the sweep sends again
once the lease runs out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from connectivity.models import (
    AuditEntry,
    Membership,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from connectivity.webhooks import addresses, secrets

logger = logging.getLogger(__name__)

D = WebhookDelivery.State
EXCERPT_CHARS = 1000
USER_AGENT = "ConnectivityPortal-Webhooks/1"


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def max_attempts() -> int:
    return int(_setting("WEBHOOK_MAX_ATTEMPTS", 9))


def retry_delay(attempt: int) -> float | None:
    """Seconds to wait after failed attempt `attempt` (1-based), or None after the last one."""
    if attempt >= max_attempts():
        return None
    return _setting("WEBHOOK_RETRY_BASE", 30) * _setting("WEBHOOK_RETRY_FACTOR", 3) ** (attempt - 1)


def schedule() -> list[float]:
    """The whole retry schedule: the wait after each failed attempt but the last."""
    return [d for n in range(1, max_attempts()) if (d := retry_delay(n)) is not None]


def human_delay(seconds: float) -> str:
    """30 s, 1.5 min, 2 h: how the schedule is shown."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{seconds:g} s"


def enqueue(ids: Iterable[int], *, countdown: float = 0) -> None:
    from connectivity import dispatch

    for delivery_id in ids:
        try:
            dispatch.send_now(dispatch.WEBHOOK_DELIVER, delivery_id, countdown=countdown)
        except Exception:  # a broker outage delays the delivery; the sweep sends it
            logger.warning("webhook delivery %s not enqueued; the sweep will send it", delivery_id)


@dataclass
class Outcome:
    succeeded: bool
    status_code: int | None = None
    response_ms: int | None = None
    response_excerpt: str = ""
    error: str = ""


def sign(endpoint: WebhookEndpoint, *, message_id: str, at: datetime, body: str) -> str:
    """The webhook-signature header: one `v1,…` per valid secret (two during a rotation)."""
    return " ".join(Webhook(secret).sign(message_id, at, body)
                    for secret in secrets.signing_secrets(endpoint, at=at))


def post(endpoint: WebhookEndpoint, delivery: WebhookDelivery, *, at: datetime) -> Outcome:
    """One POST of the delivery's body. Never raises: every failure is an Outcome."""
    timeout = _setting("WEBHOOK_TIMEOUT", 5)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": sign(endpoint, message_id=delivery.message_id, at=at,
                                  body=delivery.body),
    }
    try:
        target = addresses.resolve(endpoint.url)
    except addresses.AddressRefused as exc:
        return Outcome(succeeded=False, error=str(exc))
    started = time.monotonic()
    connection = addresses.connection(target, timeout=timeout)
    try:
        connection.request("POST", target.path, body=delivery.body.encode(), headers=headers)
        response = connection.getresponse()
        raw = _read_excerpt(response, deadline=time.monotonic() + timeout)
        elapsed = int((time.monotonic() - started) * 1000)
    except TimeoutError:
        return Outcome(succeeded=False, response_ms=int((time.monotonic() - started) * 1000),
                       error=f"No answer within {timeout:g} seconds.")
    except (OSError, ValueError) as exc:  # refused, reset, TLS, malformed response
        return Outcome(succeeded=False, response_ms=int((time.monotonic() - started) * 1000),
                       error=f"{type(exc).__name__}: {exc}"[:500])
    finally:
        connection.close()
    excerpt = raw.decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    status = response.status
    if 200 <= status < 300:
        return Outcome(succeeded=True, status_code=status, response_ms=elapsed,
                       response_excerpt=excerpt)
    error = f"HTTP {status}: only a 2xx answer counts as delivered."
    if 300 <= status < 400:
        error = f"HTTP {status}: redirects are not followed; give the final URL."
    return Outcome(succeeded=False, status_code=status, response_ms=elapsed,
                   response_excerpt=excerpt, error=error)


def _read_excerpt(response: Any, *, deadline: float) -> bytes:
    """The start of the answer, read for at most the timeout in all, so a receiver dripping
    its body a byte at a time cannot hold a worker."""
    raw = b""
    while len(raw) < EXCERPT_CHARS * 4 and time.monotonic() < deadline:
        chunk = response.read1(1024)
        if not chunk:
            break
        raw += chunk
    return raw


def deliver(delivery_id: int, *, now: datetime | None = None) -> WebhookAttempt | None:
    """Make the due attempt of a delivery, if it is due and nobody else is making it."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=_setting("WEBHOOK_LEASE", 120))
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, state=D.PENDING, next_attempt_at__lte=now, endpoint__enabled=True,
    ).update(next_attempt_at=lease, attempts=F("attempts") + 1, last_attempt_at=now)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    # Outside any transaction (it may take 10 s); signed at the wall-clock time the receiver
    # checks, which differs from `now` only when a test replays the schedule.
    outcome = post(delivery.endpoint, delivery, at=timezone.now())
    return _record(delivery, number=delivery.attempts, at=now, outcome=outcome)


@transaction.atomic
def _record(delivery: WebhookDelivery, *, number: int, at: datetime,
            outcome: Outcome) -> WebhookAttempt:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    attempt = WebhookAttempt.objects.create(
        delivery=delivery, number=number, started_at=at, succeeded=outcome.succeeded,
        status_code=outcome.status_code, response_ms=outcome.response_ms,
        response_excerpt=outcome.response_excerpt, error=outcome.error)
    if outcome.succeeded:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(state=D.SUCCEEDED, next_attempt_at=None)
        if endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return attempt
    if endpoint.failing_since is None:
        endpoint.failing_since = at
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=at)
    delay = retry_delay(number)
    if delay is not None:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=at + timedelta(seconds=delay))
        if delay <= _setting("WEBHOOK_NUDGE_MAX", 300):
            transaction.on_commit(lambda: enqueue([delivery.pk], countdown=delay))
        return attempt
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=D.FAILED, next_attempt_at=None)
    first_attempt = (WebhookAttempt.objects.filter(delivery=delivery).order_by("number")
                     .values_list("started_at", flat=True).first()) or at
    # Persistent: nothing reached the endpoint during this delivery's whole schedule.
    if endpoint.enabled and endpoint.failing_since <= first_attempt:
        _disable(endpoint, delivery=delivery, outcome=outcome, at=at)
    return attempt


def _disable(endpoint: WebhookEndpoint, *, delivery: WebhookDelivery, outcome: Outcome,
             at: datetime) -> None:
    hours = (at - (endpoint.failing_since or at)).total_seconds() / 3600
    reason = (f"Disabled after {hours:.0f} hours of failed deliveries: every attempt to send "
              f"{delivery.event_type} ({delivery.message_id}) failed; the last said: "
              f"{outcome.error or 'no answer'}")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=False, disabled_at=at, disabled_reason=reason)
    WebhookDelivery.objects.filter(endpoint=endpoint, state=D.PENDING).update(
        state=D.FAILED, next_attempt_at=None)
    AuditEntry.objects.create(
        actor=None, actor_label="system", organization_id=endpoint.organization_id,
        action="webhook.disabled", target=endpoint.url, data={"endpoint_id": endpoint.pk})
    owners = list(Membership.objects.filter(
        organization_id=endpoint.organization_id, role=Membership.Role.OWNER,
        user__is_active=True).values_list("user__email", flat=True))
    if not owners:
        return
    page = settings.SITE_URL.rstrip("/") + f"/webhooks/{endpoint.pk}/"
    subject = f"Webhook endpoint disabled: {endpoint.url}"[:200]
    body = (f"The webhook endpoint {endpoint.url} stopped answering, so the Connectivity Portal "
            f"disabled it.\n\n{reason}\n\nFix the receiver, then enable the endpoint again and "
            f"redeliver the events you missed from its delivery log:\n{page}\n")

    def send() -> None:
        try:
            send_mail(subject, body, None, owners)
        except Exception:  # a mail outage must not undo the disabling
            logger.exception("webhook-disabled email for endpoint %s not sent", endpoint.pk)

    transaction.on_commit(send)


def sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Nudge every delivery that is due (a lost message, a dead worker, a long retry wait).
    Safe twice: a nudge for a delivery someone else claimed does nothing."""
    now = now or timezone.now()
    ids = list(WebhookDelivery.objects.filter(
        state=D.PENDING, next_attempt_at__lte=now, endpoint__enabled=True,
    ).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    enqueue(ids)
    return len(ids)


def purge(*, now: datetime | None = None) -> int:
    """Delete deliveries (and their attempts) older than WEBHOOK_LOG_RETENTION_DAYS, except
    pending ones. Safe twice: a second run finds nothing older."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=_setting("WEBHOOK_LOG_RETENTION_DAYS", 30))
    deleted, _ = WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(
        state=D.PENDING).delete()
    return deleted
