"""`make run`: the web server, a Celery worker and beat, and the bundled Azure simulator.

One command for a newcomer's laptop. Each part is a child process; Ctrl-C (or any child
exiting) stops them all.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from connectivity import demo


class Command(BaseCommand):
    help = "Run the portal with its worker, beat and (by default) the Azure simulator."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        run_dir = Path(settings.RUN_DIR)
        run_dir.mkdir(exist_ok=True)
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        commands: list[tuple[str, list[str]]] = []
        if settings.AZURE_SIMULATOR:
            seed_file = run_dir / "simulator-seed.json"
            seed_file.write_text(json.dumps(demo.simulator_seed(), indent=2))
            commands.append(("azure-simulator", [
                python, manage, "azure_simulator", "--port", str(settings.AZURE_SIMULATOR_PORT),
                "--seed", str(seed_file), "--cert-dir", str(run_dir)]))
        if not options["no_worker"]:
            celery = [python, "-m", "celery", "-A", "portal"]
            commands.append(("worker", [*celery, "worker", "--loglevel", "INFO",
                                        "--concurrency", "2", "--pool", "threads"]))
            commands.append(("beat", [*celery, "beat", "--loglevel", "INFO",
                                      "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]))
        commands.append(("web", [python, manage, "runserver", options["addr"], "--noreload"]))

        if not options["no_worker"]:
            self._prepare_broker()
        children: list[tuple[str, subprocess.Popen[bytes]]] = []
        for name, cmd in commands:
            self.stdout.write(f"starting {name}: {' '.join(cmd[1:4])} ...")
            children.append((name, subprocess.Popen(cmd, env=env, start_new_session=True)))
            if name == "azure-simulator":
                # The worker's first Azure call must find the simulator listening (and its CA
                # written): wait for the port, not for a CA file left by an earlier run.
                self._wait_for_port(settings.AZURE_SIMULATOR_PORT, children[-1][1])
        self.stdout.write(self.style.SUCCESS(
            f"Portal on http://{options['addr']}/  (Ctrl-C stops everything)"))

        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, child in children:
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with {child.returncode}; stopping.")
                        stopping = True
                time.sleep(0.5)
        finally:
            for _, child in children:
                if child.poll() is None:
                    os.killpg(child.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for _, child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
            self.stdout.write("stopped.")

    def _prepare_broker(self) -> None:
        """Declare the task queue once, here: on a fresh embedded (SQLAlchemy) broker the worker
        and beat would otherwise both create it at the same moment and one would crash on the
        unique name."""
        from kombu import Queue

        from portal.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=5)
            Queue(app.conf.task_default_queue)(conn.default_channel).declare()

    def _wait_for_port(self, port: int, child: subprocess.Popen[bytes],
                       timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and child.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stderr.write(f"The Azure simulator is not listening on port {port}; is the port "
                          "taken? Set AZURE_SIMULATOR_PORT to another one.")
