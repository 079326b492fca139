"""Work under way goes first: a request's first nudge is sent at a lower priority than the
engine's follow-ups, and on the Redis broker a worker takes a follow-up sent after a burst of
new requests before any of them."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from kombu import Connection

from connectivity import dispatch, provisioning, services
from tests.factories import PeeringRequestFactory


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def record(name: str, *args: Any, countdown: float = 0, priority: int | None = None,
               **kwargs: Any) -> None:
        calls.append({"name": name, "args": args, "priority": priority, **kwargs})

    monkeypatch.setattr(dispatch, "send_now", record)
    return calls


@pytest.mark.django_db
def test_a_first_nudge_is_new_work_and_a_follow_up_is_not(
        sent: list[dict[str, Any]], django_capture_on_commit_callbacks: Any) -> None:
    request = PeeringRequestFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.enqueue_advance(request)
        provisioning.schedule(request, countdown=2)
    first, follow_up = sent
    assert first["priority"] == dispatch.NEW_WORK
    assert follow_up["priority"] is None and follow_up["token"]


@pytest.mark.redis
def test_on_redis_a_follow_up_overtakes_a_burst_of_new_requests() -> None:
    queue = f"priority-test-{uuid.uuid4().hex[:8]}"
    with Connection(os.environ["REDIS_URL"]) as connection:
        simple = connection.SimpleQueue(queue)
        try:
            for n in range(50):
                simple.put({"new": n}, priority=dispatch.NEW_WORK)
            simple.put({"follow_up": True})
            first = simple.get(timeout=5)
            assert first.payload == {"follow_up": True}
            first.ack()
            second = simple.get(timeout=5)
            assert second.payload == {"new": 0}  # then new work, oldest first
            second.ack()
        finally:
            simple.clear()
            simple.close()
