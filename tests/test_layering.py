"""The layering contracts (.importlinter) hold, and what they rely on stays true."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from connectivity import lifecycle
from connectivity.webhooks import events

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "4 kept, 0 broken" in result.stdout


def test_webhook_event_types_follow_the_lifecycle() -> None:
    reachable = {state for states in lifecycle.TRANSITIONS.values() for state in states}
    assert set(events._reachable_states()) == reachable


def test_dispatch_imports_nothing_of_connectivity() -> None:
    source = (ROOT / "connectivity" / "dispatch.py").read_text()
    assert "from connectivity" not in source and "import connectivity" not in source
