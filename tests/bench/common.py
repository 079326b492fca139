"""Helpers the benchmark scripts share: the environment they run the portal under, child
processes, resident memory, percentiles and the printed table.

The benchmarks are scripts that print numbers (`python -m tests.bench.bench_api`), not tests:
pytest collects `test_*.py` only, so nothing here runs in the suite.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
VENV_BIN = Path(sys.executable).parent

# As deployed (production settings), but on loopback over plain HTTP and with throttles out of
# the way: the benchmarks measure the server, not the rate limiter.
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "portal.settings.production",
    "DJANGO_SECRET_KEY": "benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "FIELD_ENCRYPTION_KEYS": "q0xqH4yQmVnA2rJt1k9m4rL3p7sXzY6wBvC8dE5fG0I=",
    "AZURE_SIMULATOR": "true",
    "API_THROTTLE_TOKEN_RATE": "1000000/min",
    "API_THROTTLE_USER_RATE": "1000000/min",
    "LOG_LEVEL": "WARNING",
    "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
}


def bench_environment(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("The benchmarks run on PostgreSQL: pass --database-url postgres://... "
                 "(or set DATABASE_URL).")
    if not redis_url.startswith("redis://"):
        sys.exit("The benchmarks need Redis: pass --redis-url redis://... (or set REDIS_URL).")
    env = {**os.environ, **PRODUCTION_ENV, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
           "PYTHONUNBUFFERED": "1", **extra}
    env.pop("CELERY_BROKER_URL", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(argv: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A child in its own process group (so stopping it stops its children), logging to a file."""
    handle = log.open("ab")
    return subprocess.Popen(list(argv), env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def wait_for_http(url: str, timeout: float = 30, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                        timeout=2) as response:
                if response.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s: {last}")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_mib(pid: int) -> float:
    """Resident set size of one process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time one process has used so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, so the output pastes straight into docs/benchmarks.md."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> str:
    cpus = os.cpu_count() or 0
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0]
    return (f"{cpus} CPU ({model or 'unknown'}), Python {sys.version.split()[0]}, "
            f"load average {load:.1f} at the end (the machine is shared)")
