"""The Celery app. The database is the source of truth; messages only nudge (see DESIGN.md)."""

from __future__ import annotations

import os

from celery import Celery

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
app.autodiscover_tasks()
