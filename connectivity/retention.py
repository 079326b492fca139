"""How long the portal keeps what it only needs for a while."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from connectivity.models import IdempotencyKey

logger = logging.getLogger(__name__)


def idempotency_cutoff(now: datetime | None = None) -> datetime:
    """Keys created before this are expired: no longer replayed, and purged."""
    return (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Delete idempotency keys past IDEMPOTENCY_KEY_RETENTION_HOURS; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=idempotency_cutoff(now)).delete()
    if deleted:
        logger.info("idempotency purge: %d keys older than %d hours", deleted,
                    settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    return deleted
