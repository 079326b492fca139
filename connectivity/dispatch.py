"""Sending work to the workers, by task name: the one module that talks to the broker.

Services and the engine hand work over through here and never import ``connectivity.tasks``
(which imports the engine, which calls the services), so no import circle runs through the
queue. Nothing in connectivity is imported by this module.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction

ADVANCE = "connectivity.tasks.request_advance"
REVOKE_CHECK = "connectivity.tasks.request_revoke_check"


def send_now(name: str, *args: Any, countdown: float = 0, **kwargs: Any) -> None:
    """Send the task ``name`` at once (eagerly, in this process, under CELERY_TASK_ALWAYS_EAGER)."""
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    if current_app.conf.task_always_eager:
        current_app.loader.import_default_modules()
        current_app.tasks[name].apply(args=args, kwargs=kwargs)
        return
    current_app.send_task(name, args=args, kwargs=kwargs, countdown=countdown or None)


def send_on_commit(name: str, *args: Any, countdown: float = 0, **kwargs: Any) -> None:
    """Send the task once the current transaction commits (never for a rolled-back change)."""
    transaction.on_commit(lambda: send_now(name, *args, countdown=countdown, **kwargs))
