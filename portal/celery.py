"""The Celery app. The database is the source of truth; messages only nudge (see DESIGN.md)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=300,
    task_soft_time_limit=240,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    # broker_transport_options come from settings (CELERY_BROKER_TRANSPORT_OPTIONS): the
    # embedded SQLAlchemy broker refuses Redis's visibility_timeout.
)
# Celery's Django fix-up closes every database connection before and after each task, so each
# task would open a new PostgreSQL connection (a new server process) for a few queries. Workers
# instead keep a thread's connection as Django keeps a web request's: closed around a task only
# when it outlived DATABASE_CONN_MAX_AGE or an error left it unusable (below). The fix-up
# closes connections only every CELERY_DB_REUSE_MAX tasks.
app.conf.update(CELERY_DB_REUSE_MAX=1_000_000)
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_connections(sender: Any = None, **_: Any) -> None:
    """Around every task, as Django does around every request: a connection past its maximum
    age, or broken by an error (the server restarted, the connection terminated), is closed,
    so the next query opens a fresh one; a healthy one is kept (and, with
    CONN_HEALTH_CHECKS, checked before its next use). Not for a task run eagerly, inside its
    caller's transaction (as the fix-up does not close there either)."""
    from django.db import close_old_connections as close

    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close()
