"""Celery tasks: take ids, load the row, call one service. Each is safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def request_advance(request_id: str) -> None:
    """Do the next due step of a request. Safe twice: every step is guarded by the row's state."""
    from connectivity import provisioning

    provisioning.advance(request_id=request_id)
