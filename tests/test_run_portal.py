"""`make run`'s restart rule: a worker or beat child may be started again a few times a minute.
The stack-level scenario (kill the worker and beat, see them restarted) is in the chaos suite,
tests/chaos/test_make_run.py."""

from __future__ import annotations

from connectivity.management.commands.run_portal import MAX_RESTARTS, RESTART_WINDOW, Child


def test_a_child_may_restart_a_few_times_a_minute_then_not() -> None:
    child = Child("worker", ["true"], {}, restartable=True)
    now = 1000.0
    assert all(child.may_restart(now + i) for i in range(MAX_RESTARTS))
    assert not child.may_restart(now + MAX_RESTARTS)
    assert child.may_restart(now + RESTART_WINDOW + 1)  # the oldest restarts left the window
