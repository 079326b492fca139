"""Where an API call's CPU goes: in-process calls through the full middleware, timed and profiled.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/proof REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python -m tests.bench.profile_api [--calls 300] [--profile] \
        [PATH ...]   # default: the baseline list, the list, the baseline detail, the detail

Runs after `tests.bench.bench_api` has seeded its organisations (it reuses them and makes one
more read-scoped token). Each call goes through `portal.wsgi`'s handler with a WSGI environ as
gunicorn builds it, under `tests.bench.settings`, so the middleware, authentication, throttles
and rendering are what the benchmark's workers run.

On a shared machine the CPU time of one call swings with the neighbours' load (caches, SMT
siblings), so the paths are timed in interleaved batches: each path's median batch and best
batch, and each one's median over the first path's in the same round. With `--profile`, the
first path is then run under cProfile (timing CPU, not wall time) and the top functions printed
by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.bench.bench_api import SLUG_PREFIX
from tests.bench.common import bench_environment, table

DEFAULT_PATHS = ["/bench/baseline/requests/", "/api/v1/requests/",
                 "/bench/baseline/requests/{id}/", "/api/v1/requests/{id}/"]


def _environ(path: str, token: str) -> dict[str, Any]:
    path_info, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path_info, "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT": "application/json", "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_FOR": "203.0.113.7",  # the proxy's
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", default=DEFAULT_PATHS,
                        help="paths to call; {id} stands for one of the organisation's requests")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--calls", type=int, default=300, help="timed calls per path")
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--status", default="200", help="the status every call must answer")
    parser.add_argument("--profile", action="store_true", help="profile the first path")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--sort", default="cumulative,tottime")
    parser.add_argument("--dump", help="also write the profile's stats to this file")
    args = parser.parse_args()
    os.environ.update(bench_environment(args.database_url, args.redis_url,
                                        DJANGO_SETTINGS_MODULE="tests.bench.settings",
                                        DJANGO_SECURE_SSL_REDIRECT="true"))
    import django

    django.setup()
    from connectivity import services
    from connectivity.models import ConnectivityRequest, Organization
    from portal.wsgi import application

    organization = Organization.objects.filter(slug__startswith=SLUG_PREFIX).order_by("slug").first()
    if organization is None:
        sys.exit("No benchmark organisations: run tests.bench.bench_api once first.")
    owner = organization.memberships.get().user  # type: ignore[attr-defined]
    _, token = services.api_token_create(actor=owner, organization=organization,
                                         name="profile", scope="read")
    request_id = ConnectivityRequest.objects.filter(organization=organization).values_list(
        "pk", flat=True).first()
    paths = [p.replace("{id}", str(request_id)) for p in args.paths]

    def caller(path: str) -> Callable[[], None]:
        def call() -> None:
            statuses: list[str] = []
            body = application(_environ(path, token), lambda status, headers: statuses.append(status))
            b"".join(body)
            getattr(body, "close", lambda: None)()
            if not statuses[0].startswith(args.status):
                sys.exit(f"{path}: {statuses[0]}")
        return call

    calls = [caller(p) for p in paths]
    for call in calls:  # warm caches, the connection and the token's last_used_at
        for _ in range(20):
            call()
    per_batch = max(1, args.calls // args.batches)
    batches: list[list[float]] = [[] for _ in paths]
    for _ in range(args.batches):
        for index, call in enumerate(calls):
            started = time.process_time()
            for _ in range(per_batch):
                call()
            batches[index].append((time.process_time() - started) * 1000 / per_batch)
    rows = []
    for path, timed in zip(paths, batches, strict=True):
        ratios = [t / first for t, first in zip(timed, batches[0], strict=True)]
        rows.append([path, statistics.median(timed), min(timed), statistics.median(ratios)])
    print(table(["path", "CPU ms/call (median batch)", "best batch", "× first path (median)"],
                rows))
    print(f"\n{args.batches} interleaved batches of {per_batch} calls per path; "
          f"load average {os.getloadavg()[0]:.1f}")

    if not args.profile:
        return
    call = calls[0]
    # CPU time, not wall time: waiting for PostgreSQL or Redis costs the worker nothing.
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for _ in range(args.calls):
        call()
    profile.disable()
    if args.dump:
        profile.dump_stats(args.dump)
    for key in args.sort.split(","):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(key).print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
