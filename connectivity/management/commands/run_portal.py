"""`make run`: the web server, a Celery worker and beat, and the bundled Azure simulator.

One command for a newcomer's laptop. Each part is a child process. A worker or beat that
dies is started again (and the output says so), as compose's `restart: unless-stopped` would;
the web server or the simulator exiting, or Ctrl-C, stops them all.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from connectivity import demo


class Command(BaseCommand):
    help = "Run the portal with its worker, beat and (by default) the Azure simulator."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000",
                            help="ADDR:PORT (or just PORT) the web server listens on.")
        parser.add_argument("--simulator-port", type=int, default=None,
                            help="Port of the bundled Azure simulator (AZURE_SIMULATOR_PORT).")
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        run_dir = Path(settings.RUN_DIR)
        run_dir.mkdir(exist_ok=True)
        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        addr = normalize_addr(options["addr"])
        simulator_port = options["simulator_port"] or settings.AZURE_SIMULATOR_PORT
        env = child_env(os.environ, addr=addr, simulator_port=simulator_port)
        site_url = env["PORTAL_SITE_URL"]
        commands: list[tuple[str, list[str]]] = []
        if settings.AZURE_SIMULATOR:
            seed_file = run_dir / "simulator-seed.json"
            seed = demo.simulator_seed(
                site_url=site_url, workload_identity_issuer=env["WORKLOAD_IDENTITY_ISSUER"])
            seed_file.write_text(json.dumps(seed, indent=2))
            commands.append(("azure-simulator", [
                python, manage, "azure_simulator", "--port", str(simulator_port),
                "--seed", str(seed_file), "--cert-dir", str(run_dir)]))
        if not options["no_worker"]:
            celery = [python, "-m", "celery", "-A", "portal"]
            # Pool and threads: CELERY_WORKER_POOL and CELERY_WORKER_CONCURRENCY.
            commands.append(("worker", [*celery, "worker", "--loglevel", "INFO"]))
            commands.append(("beat", [*celery, "beat", "--loglevel", "INFO",
                                      "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]))
        commands.append(("web", [python, manage, "runserver", addr, "--noreload"]))

        if not options["no_worker"]:
            self._prepare_broker()
        children: list[Child] = []
        worker_ready = threading.Event()
        for name, cmd in commands:
            child = Child(name, cmd, env, restartable=name in RESTARTABLE,
                          on_output=worker_ready.set if name == "worker" else None)
            child.start()
            self.stdout.write(f"starting {name} (pid {child.pid}): {' '.join(cmd[1:4])} ...")
            children.append(child)
            if name == "azure-simulator":
                # The worker's first Azure call must find the simulator listening (and its CA
                # written): wait for the port, not for a CA file left by an earlier run.
                self._wait_for_port(simulator_port, child.process)
        if options["no_worker"]:
            worker_ready.set()
        web_host, _, web_port = addr.rpartition(":")
        self._wait_for_port(int(web_port), children[-1].process, host=_connect_host(web_host),
                            what="web server", hint="Choose another with PORT=.")
        worker_ready.wait(timeout=60)
        self.stdout.write(self._summary(site_url))
        self.stdout.write(self.style.SUCCESS(
            f"Portal on {site_url}/  (Ctrl-C stops everything)"))

        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for child in children:
                    if child.process.poll() is None:
                        continue
                    code = child.process.returncode
                    if child.restartable and child.may_restart(time.monotonic()):
                        child.start()
                        self.stderr.write(
                            f"{child.name} exited with {code}; restarting it (pid {child.pid}, "
                            f"restart {len(child.restarts)} of at most {MAX_RESTARTS} a minute).")
                        continue
                    why = (f"it exited {MAX_RESTARTS} times within a minute"
                           if child.restartable else "the portal cannot run without it")
                    self.stderr.write(f"{child.name} exited with {code}; {why}: stopping.")
                    stopping = True
                time.sleep(0.5)
        finally:
            for child in children:
                if child.process.poll() is None:
                    os.killpg(child.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
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

    def _summary(self, site_url: str) -> str:
        from connectivity.management.commands.seed_demo import summary

        try:
            return summary(site_url)
        except Exception as exc:  # a missing table must not stop a running portal
            return f"(demo users unknown: {exc}; run manage.py seed_demo)"

    def _wait_for_port(self, port: int, child: subprocess.Popen[bytes], timeout: float = 30,
                       host: str = "127.0.0.1", what: str = "Azure simulator",
                       hint: str = "Choose another with SIMULATOR_PORT=.") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and child.poll() is None:
            try:
                with socket.create_connection((host, port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stderr.write(f"The {what} is not listening on port {port}; is the port taken? "
                          f"{hint}")


#: Children that may die and be started again; the web server and the simulator may not (the
#: simulator's world would be lost, a web server that exits usually found its port taken).
RESTARTABLE = frozenset({"worker", "beat"})
MAX_RESTARTS = 5  # within RESTART_WINDOW seconds; past that something is broken: stop
RESTART_WINDOW = 60.0


@dataclass
class Child:
    """One part of the stack: a process in its own session, restartable for worker and beat."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    restartable: bool = False
    on_output: Callable[[], None] | None = None  # relay output; called when it says "ready."
    process: subprocess.Popen[bytes] = field(init=False)
    restarts: list[float] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self) -> None:
        if self.on_output is None:
            self.process = subprocess.Popen(self.cmd, env=self.env, start_new_session=True)
            return
        # Relay the worker's output, to print the demo's summary after its banner.
        self.process = subprocess.Popen(self.cmd, env=self.env, start_new_session=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=_relay, args=(self.process, self.on_output), daemon=True).start()

    def may_restart(self, now: float) -> bool:
        """Whether one more restart fits the budget; counts it when it does."""
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW]
        if len(self.restarts) >= MAX_RESTARTS:
            return False
        self.restarts.append(now)
        return True


def normalize_addr(addr: str) -> str:
    """``8001`` → ``127.0.0.1:8001``; ``0.0.0.0:8001`` and ``[::1]:8001`` stay as they are."""
    if ":" not in addr or (addr.startswith("[") and not addr.rsplit("]", 1)[-1]):
        return f"127.0.0.1:{addr}" if addr.isdigit() else f"{addr}:8000"
    return addr


# Listening on every interface: links and checks use the loopback address.
_ANY = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


def _connect_host(host: str) -> str:
    host = host.strip("[]")
    return _ANY.get(host, host)


def child_env(base: dict[str, str] | os._Environ[str], *, addr: str,
              simulator_port: int) -> dict[str, str]:
    """The children's environment: the simulator's port, and the portal's own address for the
    links in emails (``PORTAL_SITE_URL``), the workload identity issuer derived from it (the
    simulator's seed trusts the same one) and ``DJANGO_ALLOWED_HOSTS``, unless set already."""
    env = {**base, "PYTHONUNBUFFERED": "1", "AZURE_SIMULATOR_PORT": str(simulator_port)}
    host, _, port = addr.rpartition(":")
    shown = _connect_host(host)
    if ":" in shown:
        shown = f"[{shown}]"
    env.setdefault("PORTAL_SITE_URL", f"http://{shown}:{port}")
    env.setdefault("WORKLOAD_IDENTITY_ISSUER",
                   f"{env['PORTAL_SITE_URL'].rstrip('/')}/workload-identity")
    hosts = [h for h in env.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
    bare = host.strip("[]")
    if "DJANGO_ALLOWED_HOSTS" not in base and bare not in hosts and bare not in _ANY:
        hosts.append(bare)
    env["DJANGO_ALLOWED_HOSTS"] = ",".join(hosts)
    return env


def _relay(child: subprocess.Popen[bytes], ready: Callable[[], None]) -> None:
    """Copy the worker's output to ours; call ``ready`` when Celery says it is ready."""
    assert child.stdout is not None
    for raw in iter(child.stdout.readline, b""):
        line = raw.decode(errors="replace")
        sys.stdout.write(line)
        sys.stdout.flush()
        if " ready." in line:
            ready()
    ready()
