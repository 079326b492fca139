"""Celery tasks: take ids, load the row, call one service. Each is safe to run twice.

Periodic ones are scheduled by ``CELERY_BEAT_SCHEDULE`` (settings/base.py); a missed or doubled
beat only delays or repeats an idempotent scan.
"""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def request_advance(request_id: str, token: str | None = None) -> None:
    """Do the next due step of a request. Safe twice: the row is locked, a superseded token
    makes a duplicate do nothing, and every step reads what exists before it writes."""
    from connectivity import provisioning

    try:
        provisioning.request_advance(request_id=request_id, token=token)
    except Exception as exc:
        logger.exception("step of request %s crashed", request_id)
        provisioning.request_advance_crashed(request_id=request_id, error=exc)


@shared_task(acks_late=True)
def request_revoke_check(request_id: str) -> None:
    """Complete an active request whose grant is gone, or remind its customer. Safe twice:
    the reminder schedule is kept on the row, which is locked while checking."""
    from connectivity import provisioning

    provisioning.request_revoke_check(request_id=request_id)


@shared_task(acks_late=True)
def reconcile() -> None:
    """Re-enqueue stalled work and re-run pre-flight checks that wait on propagation. Safe
    twice: it only nudges, and nudges are deduplicated by the steps."""
    from connectivity import provisioning

    provisioning.requests_reconcile()
    provisioning.preflight_recheck()


@shared_task(acks_late=True)
def revoke_watch() -> None:
    """Check every active request's grant (completes it when revoked, sends due reminders)."""
    from connectivity import provisioning

    provisioning.revoke_watch()


@shared_task(acks_late=True)
def drift_check() -> None:
    """Mark peerings Azure reports Disconnected as degraded, and restore recovered ones."""
    from connectivity import provisioning

    provisioning.drift_check()


@shared_task(acks_late=True)
def audit_purge() -> None:
    """Delete events, audit entries and sign-in records past AUDIT_RETENTION_DAYS. Safe twice: a
    second run finds nothing older."""
    from connectivity import provisioning, sso

    provisioning.audit_purge()
    sso.sign_in_purge()


@shared_task(acks_late=True)
def idempotency_keys_purge() -> None:
    """Delete API idempotency keys older than IDEMPOTENCY_KEY_RETENTION_HOURS. Safe twice: a
    second run finds nothing older."""
    from connectivity import retention

    retention.idempotency_keys_purge()


@shared_task(acks_late=True)
def webhook_deliver(delivery_id: int) -> None:
    """Make a webhook delivery's due attempt. Safe twice: the attempt is claimed by a
    conditional UPDATE, so a duplicate or early nudge finds nothing due and does nothing."""
    from connectivity.webhooks import delivery

    delivery.deliver(delivery_id)


@shared_task(acks_late=True)
def webhook_sweep() -> None:
    """Nudge every webhook delivery that is due (lost messages, long retry waits). Safe twice:
    it only nudges."""
    from connectivity.webhooks import delivery

    delivery.sweep()


@shared_task(acks_late=True)
def webhook_purge() -> None:
    """Delete delivery logs past WEBHOOK_LOG_RETENTION_DAYS. Safe twice: a second run finds
    nothing older."""
    from connectivity.webhooks import delivery

    delivery.purge()
