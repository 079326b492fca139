"""Sending work to the workers, by task name: the one module that talks to the broker.

Services, the engine and webhook delivery hand work over through here and never import
``connectivity.tasks`` (which imports the engine, which calls the services), so no import
circle runs through the queue. This module imports nothing of connectivity's, so importing it
from anywhere cannot close a circle.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction

ADVANCE = "connectivity.tasks.request_advance"
REVOKE_CHECK = "connectivity.tasks.request_revoke_check"
WEBHOOK_DELIVER = "connectivity.tasks.webhook_deliver"

#: The priority of a request's first nudge (an approval, a retry, a teardown asked for). On the
#: Redis broker 0, every other message's, is served first: work under way (the engine's
#: follow-ups, polls, webhook deliveries) never queues behind a burst of new requests, so a
#: thousand approvals at once finish one by one instead of all starting before any finishes.
#: The embedded broker of ``make run`` has one worker and no priorities, and ignores it.
NEW_WORK = 6


def send_now(name: str, *args: Any, countdown: float = 0, priority: int | None = None,
             **kwargs: Any) -> None:
    """Send the task ``name`` at once: through its registered task where this process has
    loaded the tasks (which honours CELERY_TASK_ALWAYS_EAGER), else to the broker by name."""
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    options: dict[str, Any] = {"priority": priority} if priority is not None else {}
    if current_app.conf.task_always_eager and name not in current_app.tasks:
        current_app.loader.import_default_modules()
    task = current_app.tasks.get(name)
    if task is not None:
        if kwargs:
            task.apply_async(args, kwargs, countdown=countdown, **options)
        else:
            task.apply_async(args, countdown=countdown, **options)
        return
    current_app.send_task(name, args=args, kwargs=kwargs, countdown=countdown or None, **options)


def send_on_commit(name: str, *args: Any, countdown: float = 0, priority: int | None = None,
                   **kwargs: Any) -> None:
    """Send the task once the current transaction commits (never for a rolled-back change)."""
    transaction.on_commit(lambda: send_now(name, *args, countdown=countdown, priority=priority,
                                           **kwargs))
