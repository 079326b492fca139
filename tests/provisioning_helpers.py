"""Drive the provisioning engine in-process (no broker): what a worker would do, step by step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from connectivity import provisioning
from connectivity.models import ConnectivityRequest, RequestState

WORK = {RequestState.APPROVED, RequestState.PROVISIONING, RequestState.REMOVING}


@dataclass
class Scheduler:
    """Records what the engine hands to the broker."""

    sent: list[tuple[str, float, str | None]] = field(default_factory=list)
    revoke_checks: list[str] = field(default_factory=list)

    @property
    def last(self) -> tuple[str, float, str | None]:
        return self.sent[-1]


def install_scheduler(monkeypatch: pytest.MonkeyPatch) -> Scheduler:
    recorded = Scheduler()
    monkeypatch.setattr(provisioning, "_send",
                        lambda rid, countdown, token: recorded.sent.append((rid, countdown, token)))
    monkeypatch.setattr(provisioning, "_send_revoke_check", recorded.revoke_checks.append)
    return recorded


def step(request: ConnectivityRequest, capture: Any, token: str | None = None) -> None:
    """One task run, with its on-commit callbacks (enqueues, emails) executed."""
    with capture(execute=True):
        provisioning.request_advance(request_id=str(request.pk), token=token)
    request.refresh_from_db()


def drive(request: ConnectivityRequest, scheduler: Scheduler, capture: Any,
          max_steps: int = 30) -> ConnectivityRequest:
    """Run the chain the engine schedules until the request leaves the working states,
    ignoring countdowns (a due-early task is as safe as any duplicate)."""
    token = None
    for _ in range(max_steps):
        before = len(scheduler.sent)
        step(request, capture, token)
        if request.state not in WORK:
            return request
        if len(scheduler.sent) == before:
            raise AssertionError(f"nothing scheduled at step {request.step}: {request.status_message}")
        token = scheduler.last[2]
    raise AssertionError(f"still {request.state} at {request.step} after {max_steps} steps")
