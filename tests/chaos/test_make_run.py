"""Chaos under `make run`: its worker and beat are killed and must come back by themselves,
saying so, while the web server and the simulator keep serving; a child that keeps dying, the
web server or the simulator stops the stack (see run_portal's MAX_RESTARTS)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(240)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_make_run_restarts_a_killed_worker_and_beat_and_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.local",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}", "REDIS_URL": "",
           "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
           "PYTHONUNBUFFERED": "1"}
    env.pop("PORTAL_SITE_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT,
                   timeout=120)
    web, simulator = _free_port(), _free_port()
    stack = subprocess.Popen(
        [*manage, "run_portal", "--addr", f"127.0.0.1:{web}", "--simulator-port", str(simulator)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(stack.stdout.readline, "")),
                              daemon=True)
    reader.start()

    def wait_for(pattern: str, timeout: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(lines):
                if (found := re.search(pattern, line)):
                    return found
            if stack.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} in:\n{''.join(lines)}")

    try:
        worker_pid = int(wait_for(r"starting worker \(pid (\d+)\)").group(1))
        wait_for(r"Portal on http://127\.0\.0\.1:\d+/")
        beat_pid = int(wait_for(r"starting beat \(pid (\d+)\)").group(1))
        os.killpg(worker_pid, signal.SIGKILL)
        restarted = wait_for(r"worker exited with -9; restarting it \(pid (\d+), restart 1 of")
        assert int(restarted.group(1)) != worker_pid
        os.killpg(beat_pid, signal.SIGKILL)
        restarted = wait_for(r"beat exited with -9; restarting it \(pid (\d+), restart 1 of")
        assert int(restarted.group(1)) != beat_pid
        assert stack.poll() is None  # the rest of the stack kept running
        with socket.create_connection(("127.0.0.1", web), timeout=5):
            pass
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGINT)
            try:
                stack.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(stack.pid, signal.SIGKILL)
    assert "stopped." in "".join(lines)
