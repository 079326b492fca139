"""`cportal watch`: follow a request until it is done or waits on you; the exit code says which."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class Exit(IntEnum):
    """Exit codes of every command; `watch` uses all of them (README: Command-line client)."""

    OK = 0  # active or completed (watch); the command did what it said (others)
    ERROR = 1  # the API refused (problem details printed), the portal unreachable, bad input
    USAGE = 2  # a wrong option or argument (typer's own)
    ACTION_NEEDED = 3  # waiting on you: draft, awaiting_grant, action_needed, degraded
    FAILED = 4
    REJECTED = 5
    CANCELLED = 6
    REMOVED = 7
    TIMEOUT = 8  # --timeout passed before any of the above
    INTERRUPTED = 130  # Ctrl-C


OUTCOMES: dict[str, Exit] = {
    "active": Exit.OK,
    "completed": Exit.OK,
    "draft": Exit.ACTION_NEEDED,
    "awaiting_grant": Exit.ACTION_NEEDED,
    "action_needed": Exit.ACTION_NEEDED,
    "degraded": Exit.ACTION_NEEDED,
    "failed": Exit.FAILED,
    "rejected": Exit.REJECTED,
    "cancelled": Exit.CANCELLED,
    "removed": Exit.REMOVED,
}
# pending_approval, approved, provisioning and removing: the platform is working; keep watching.

PATH = ["draft", "awaiting_grant", "pending_approval", "approved", "provisioning", "active"]
TEARDOWN_PATH = ["removing", "removed"]

NEXT_STEP = {
    "draft": "Submit it (`cportal requests show` has the fields), or file it without --draft.",
    "awaiting_grant": "Grant the platform's role (`cportal grant {id} --script | bash`), "
                      "then `cportal verify {id}`.",
    "action_needed": "Fix what the status message says, then `cportal verify {id}`.",
    "degraded": "The connection is degraded: fix what the status message says, then "
                "`cportal verify {id}`.",
    "active": "Revoke the platform's role now: the connection keeps working without it "
              "(`cportal grant {id} --script --revoke`).",
}


def outcome(state: str) -> Exit | None:
    return OUTCOMES.get(state)


def _progress_of(state: str) -> tuple[int, int]:
    path = TEARDOWN_PATH if state in TEARDOWN_PATH else PATH
    if state in path:
        return path.index(state), len(path) - 1
    return 0, len(path) - 1


def watch(fetch: Callable[[], dict[str, Any]], *, console: Console, interval: float,
          timeout: float, sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> tuple[Exit, dict[str, Any]]:
    """Poll `fetch` until an outcome; print each state change as a line above the live bar."""
    started = clock()
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    task = progress.add_task("starting", total=len(PATH) - 1)
    seen: str | None = None
    request: dict[str, Any] = fetch()
    with Live(Group(progress), console=console, refresh_per_second=8, transient=True) as live:
        while True:
            state = request["state"]
            if state != seen:
                seen = state
                message = request.get("status_message") or ""
                stamp = time.strftime("%H:%M:%S")
                live.console.print(
                    f"{stamp}  [bold]{escape(request.get('state_label') or state)}[/]"
                    + (f"  {escape(message)}" if message else ""))
            done, total = _progress_of(state)
            progress.update(task, completed=done, total=total,
                            description=escape(request.get("state_label") or state))
            result = outcome(state)
            if result is not None:
                return result, request
            if clock() - started >= timeout:
                return Exit.TIMEOUT, request
            sleep(min(interval, max(0.0, timeout - (clock() - started))))
            request = fetch()
