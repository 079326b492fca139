"""API benchmark: gunicorn (2 workers) on PostgreSQL with 10,000 requests across 100 organisations.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/proof REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python -m tests.bench.bench_api

Seeds the organisations (each with an owner, a dedicated cluster, its share of the requests with
two timeline events each and, for the active and completed ones, the connection status a health
check stores, and an API token made by `services.api_token_create`), starts gunicorn
with production settings, and drives the list and detail endpoints from a second process (a
small asyncio HTTP/1.1 client, one connection per concurrent caller, a random organisation's
token per call). Prints requests/s, p50/p99 latency, non-200 answers, the SQL queries one call
makes (counted in-process with the same middleware), the web workers' CPU time per call, and
the web workers' resident memory.

The same run measures a baseline (`tests/bench/baseline.py`, mounted only by the benchmark's
settings `tests.bench.settings`): plain Django views behind the same middleware returning the
same rows as JSON from the same three queries. Each API endpoint's CPU per call is reported as a
ratio to its baseline's (list to the baseline list, detail to the baseline detail).

Nothing changes while it runs, so after each organisation's first call the list is served from
its page cache (connectivity/api/pagecache.py); `list (uncached)` is the same view without the
cache (`tests/bench/urls.py`), what a call costs when its page has changed since the last;
`list, writes` is the list while random requests change, `--writes-per-second` (10) of them.
A request asked for again is served from the cache too; the detail's 10,000 paths make most of
its calls in a run first calls (misses that also store the page).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.bench.common import (
    ROOT,
    VENV_BIN,
    bench_environment,
    children_of,
    cpu_seconds,
    free_port,
    machine,
    percentile,
    rss_mib,
    start,
    stop,
    table,
    wait_for_http,
)

SLUG_PREFIX = "bench-api-"
WRITING = "list, writes"  # the list while requests change (--writes-per-second)
KINDS = ["vnet_peering"] * 6 + ["private_dns"] * 2 + ["dns_forwarding"] * 2
STATES = ["active"] * 4 + ["completed"] * 2 + ["pending_approval", "awaiting_grant", "failed",
                                                "removed"]
# As production serves it: behind a TLS-terminating proxy, which says so (SECURE_PROXY_SSL_HEADER)
# and names the client; with HTTPS redirects on and the access log written, as the image runs it.
PROXY_HEADERS = "X-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.7\r\n"
CONNECTION_READINGS: dict[str, dict[str, Any]] = {
    "vnet_peering": {"summary": "Connected, FullyInSync", "address_prefixes": ["10.20.0.0/16"],
                     "parts": [{"label": "Cluster side", "name": "peer-to-customer",
                                "state": "Connected", "sync_level": "FullyInSync"},
                               {"label": "Your side", "name": "peer-to-cluster",
                                "state": "Connected", "sync_level": "FullyInSync"}]},
    "private_dns": {"summary": "Linked", "parts": [
        {"label": "Zone link", "name": "link-cluster", "state": "Completed"}]},
    "dns_forwarding": {"summary": "Succeeded", "parts": [
        {"label": "Forwarding rule", "name": "rule-corp", "state": "Enabled"}]},
}


# --- the load generator (runs in its own process) ---------------------------------------------

async def _caller(port: int, plan: list[list[str]], deadline: float,
                  samples: list[tuple[float, int]], seed: int) -> None:
    rng = random.Random(seed)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.monotonic() < deadline:
        token, path = rng.choice(plan)
        started = time.perf_counter()
        status = 0
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            writer.write((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                          f"Authorization: Bearer {token}\r\n{PROXY_HEADERS}\r\n").encode())
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            status = int(head.split(" ", 2)[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in head.split("\r\n")[1:] if line)}
            if "content-length" in headers:
                await reader.readexactly(int(headers["content-length"]))
            else:
                await reader.read()
                headers["connection"] = "close"
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            if writer is not None:
                writer.close()
            reader = writer = None
        samples.append((time.perf_counter() - started, status))


async def _drive(port: int, plan: list[list[str]], concurrency: int, seconds: float,
                 seed: int) -> list[tuple[float, int]]:
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(_caller(port, plan, deadline, samples, seed + i)
                           for i in range(concurrency)))
    return samples


def client_main(args: argparse.Namespace) -> None:
    plan = json.loads(Path(args.client_plan).read_text())
    warmup = asyncio.run(_drive(args.port, plan, args.concurrency, args.warmup, seed=args.seed))
    started = time.perf_counter()
    samples = asyncio.run(_drive(args.port, plan, args.concurrency, args.duration,
                                 seed=args.seed + 1))
    print(json.dumps({
        "elapsed": time.perf_counter() - started,
        "latencies": [s[0] * 1000 for s in samples if s[1] == 200],
        "errors": sum(1 for s in samples if s[1] != 200),
        "warmup_requests": len(warmup),
    }))


# --- seeding and measuring (Django in this process) -------------------------------------------

def seed(organizations: int, total_requests: int) -> list[dict[str, Any]]:
    """Fresh benchmark organisations; returns each one's token and request ids."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from connectivity import services
    from connectivity.models import (
        Cluster,
        ConnectionStatus,
        ConnectivityRequest,
        Membership,
        Organization,
        RequestEvent,
        User,
    )

    ConnectivityRequest.objects.filter(organization__slug__startswith=SLUG_PREFIX).delete()
    Organization.objects.filter(slug__startswith=SLUG_PREFIX).delete()
    User.objects.filter(email__startswith=SLUG_PREFIX).delete()

    rng = random.Random(42)
    now = timezone.now()
    unusable = make_password(None)
    orgs = Organization.objects.bulk_create([
        Organization(name=f"Benchmark {i:03d}", slug=f"{SLUG_PREFIX}{i:03d}")
        for i in range(organizations)])
    users = User.objects.bulk_create([
        User(email=f"{SLUG_PREFIX}{i:03d}@example.com", password=unusable) for i in range(organizations)])
    Membership.objects.bulk_create([
        Membership(user=u, organization=o, role=Membership.Role.OWNER)
        for u, o in zip(users, orgs, strict=True)])
    clusters = Cluster.objects.bulk_create([
        Cluster(organization=o, name="prod", region="westeurope", tier=Cluster.Tier.DEDICATED,
                vnet_id=f"/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/rg/"
                        f"providers/Microsoft.Network/virtualNetworks/vnet-{o.slug}",
                address_prefixes=["10.100.0.0/16"], external_ips=["20.54.101.17"])
        for o in orgs])
    checks = [{"key": "cluster_dedicated", "label": "Cluster is dedicated", "status": "pass",
               "message": "prod is dedicated."},
              {"key": "no_duplicate", "label": "No other request for the same connection",
               "status": "pass", "message": "No other open request covers this."}]
    requests = []
    for n in range(total_requests):
        index = n % organizations
        kind = rng.choice(KINDS)
        fields: dict[str, Any] = {}
        if kind == "vnet_peering":
            fields = {"tenant_id": "44444444-4444-4444-8444-444444444444",
                      "subscription_id": "55555555-5555-4555-8555-555555555555",
                      "resource_group": "rg-network", "vnet_name": f"vnet-{n}"}
        elif kind == "private_dns":
            fields = {"zone_name": f"zone{n}.example.internal",
                      "records": [{"name": "db", "ip": "10.20.1.4"}]}
        else:
            fields = {"domain_name": f"corp{n}.example.com", "dns_servers": ["10.20.0.4"]}
        created = now - timedelta(minutes=rng.randint(0, 90 * 24 * 60))
        requests.append(ConnectivityRequest(
            organization=orgs[index], cluster=clusters[index], kind=kind, state=rng.choice(STATES),
            created_by=users[index], created_at=created, state_changed_at=created,
            preflight=checks, preflight_ran_at=created, **fields))
    ConnectivityRequest.objects.bulk_create(requests, batch_size=1000)
    RequestEvent.objects.bulk_create([
        RequestEvent(request=r, actor=r.created_by, actor_label=r.created_by.email, action=action,
                     created_at=r.created_at, to_state=to_state)
        for r in requests for action, to_state in (("created", "draft"), ("moved", r.state))
    ], batch_size=2000)
    # What the periodic health check last read for each connection that exists, as it stores it.
    ConnectionStatus.objects.bulk_create([
        ConnectionStatus(request=r, checked_at=r.created_at + timedelta(hours=1), health="ok",
                         **CONNECTION_READINGS[r.kind])
        for r in requests if r.state in ("active", "completed")], batch_size=2000)

    plan = []
    for org, user in zip(orgs, users, strict=True):
        _, plaintext = services.api_token_create(actor=user, organization=org, name="benchmark",
                                                 scope="read")
        ids = [str(r.pk) for r in requests if r.organization_id == org.pk]
        plan.append({"token": plaintext, "request_ids": ids})
    return plan


class _Writer(threading.Thread):
    """While a run lasts, writes to random requests of random organisations at a steady rate,
    as workers moving requests along do: each write makes its organisation's cached pages
    stale, so the next list call of that organisation renders the page again."""

    def __init__(self, orgs: list[dict[str, Any]], per_second: float) -> None:
        super().__init__(daemon=True)
        self.ids = [rid for o in orgs for rid in o["request_ids"]]
        self.interval = 1 / per_second
        self.stopping = threading.Event()
        self.start()

    def run(self) -> None:
        from django.db import connection

        from connectivity.models import ConnectivityRequest

        rng = random.Random(7)
        count = 0
        while not self.stopping.wait(self.interval):
            count += 1
            ConnectivityRequest.objects.filter(pk=rng.choice(self.ids)).update(
                status_message=f"Step {count}")
        connection.close()

    def finish(self) -> None:
        self.stopping.set()
        self.join()


def queries_per_call(token: str, path: str) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_FORWARDED_PROTO="https",
                    HTTP_X_FORWARDED_FOR="203.0.113.7")
    client.get(path)  # first call warms caches (content types, token last_used_at)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    return len(captured.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--organizations", type=int, default=100)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--concurrency", default="4,32",
                        help="concurrent callers, comma-separated: one run per value")
    parser.add_argument("--duration", type=float, default=20, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds discarded per run")
    parser.add_argument("--writes-per-second", type=float, default=10,
                        help="writes to random requests during the 'list, writes' runs")
    parser.add_argument("--rounds", type=int, default=10,
                        help="each run's time in this many turns, taken in turn with the others'")
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    # The load generator re-runs this script in its own process with these:
    parser.add_argument("--client-plan", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_plan:
        args.concurrency = int(args.concurrency)
        client_main(args)
        return

    env = bench_environment(args.database_url, args.redis_url,
                            DJANGO_SETTINGS_MODULE="tests.bench.settings",
                            DJANGO_SECURE_SSL_REDIRECT="true")
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    orgs = seed(args.organizations, args.requests)
    print(f"seeded {args.organizations} organisations, {args.requests:,} requests "
          f"in {time.perf_counter() - started:.1f} s", flush=True)

    endpoints = {
        "baseline list": [[o["token"], "/bench/baseline/requests/"] for o in orgs],
        "baseline detail": [[o["token"], f"/bench/baseline/requests/{rid}/"]
                            for o in orgs for rid in o["request_ids"]],
        "list": [[o["token"], "/api/v1/requests/"] for o in orgs],
        "list (uncached)": [[o["token"], "/bench/uncached/requests/"] for o in orgs],
        WRITING: [[o["token"], "/api/v1/requests/"] for o in orgs],
        "list (filtered)": [[o["token"], "/api/v1/requests/?state=active&kind=vnet_peering"]
                            for o in orgs],
        "detail": [[o["token"], f"/api/v1/requests/{rid}/"] for o in orgs for rid in o["request_ids"]],
    }
    queries = {name: queries_per_call(*plan[0]) for name, plan in endpoints.items()}

    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    log = work / "gunicorn.log"
    gunicorn = start([str(VENV_BIN / "gunicorn"), "portal.wsgi", "--bind", f"127.0.0.1:{port}",
                      "--workers", str(args.workers), "--access-logfile", "-",
                      "--log-level", "warning"], env, log)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    runs = [(name, c) for name in endpoints for c in concurrencies]
    # Each run's time is split into rounds that take turns with the other runs', so a change in
    # the neighbours' load on this shared machine falls on every endpoint alike.
    totals: dict[tuple[str, int], dict[str, Any]] = {
        run: {"elapsed": 0.0, "latencies": [], "errors": 0, "served": 0, "cpu": 0.0} for run in runs}
    for name, plan in endpoints.items():
        (work / f"plan-{list(endpoints).index(name)}.json").write_text(json.dumps(plan))
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        for round_ in range(args.rounds):
            for name, concurrency in runs:
                plan_file = work / f"plan-{list(endpoints).index(name)}.json"
                cpu_before = sum(cpu_seconds(pid) for pid in children_of(gunicorn.pid))
                writer = _Writer(orgs, args.writes_per_second) if name == WRITING else None
                result = subprocess.run(
                    [sys.executable, "-m", "tests.bench.bench_api", "--client-plan", str(plan_file),
                     "--port", str(port), "--concurrency", str(concurrency),
                     "--duration", str(args.duration / args.rounds),
                     "--warmup", str(args.warmup / args.rounds), "--seed", str(10 * round_ + 1)],
                    cwd=ROOT, capture_output=True, text=True, check=True,
                    timeout=args.duration + args.warmup + 60)
                if writer is not None:
                    writer.finish()
                measured = json.loads(result.stdout.strip().splitlines()[-1])
                total = totals[(name, concurrency)]
                total["cpu"] += sum(cpu_seconds(pid) for pid in children_of(gunicorn.pid)) - cpu_before
                total["elapsed"] += measured["elapsed"]
                total["latencies"] += measured["latencies"]
                total["errors"] += measured["errors"]
                total["served"] += (len(measured["latencies"]) + measured["errors"]
                                    + measured["warmup_requests"])
            print(f"  round {round_ + 1} of {args.rounds} done", flush=True)
        workers = children_of(gunicorn.pid)
        memory = [rss_mib(pid) for pid in workers]
    finally:
        stop(gunicorn)
    rows = []
    for (name, concurrency), total in totals.items():
        latencies = total["latencies"]
        rows.append([name, concurrency, len(latencies) + total["errors"],
                     len(latencies) / max(total["elapsed"], 1e-9), percentile(latencies, 0.50),
                     percentile(latencies, 0.99), total["errors"], queries[name],
                     total["cpu"] * 1000 / max(1, total["served"])])

    print()
    print(f"API: gunicorn {args.workers} sync workers, production settings, PostgreSQL; "
          f"{args.organizations} organisations, {args.requests:,} requests; "
          f"{args.duration:.0f} s per run after {args.warmup:.0f} s warm-up, in {args.rounds} "
          f"interleaved rounds; {machine()}")
    print()
    cpu_of = {(row[0], row[1]): row[-1] for row in rows}
    for row in rows:
        yardstick = "baseline detail" if "detail" in row[0] else "baseline list"
        row.append(row[-1] / cpu_of[(yardstick, row[1])] if cpu_of.get((yardstick, row[1])) else 0.0)
        row.append(args.workers * 1000 / row[-2] if row[-2] else 0.0)
    print(table(["endpoint", "concurrency", "calls", "req/s", "p50 ms", "p99 ms", "non-200",
                 "queries/call", "web CPU ms/call", "× baseline", "CPU-bound calls/s"], rows))
    print()
    print("× baseline: web CPU per call over the matching baseline's (list or detail) at the same "
          "concurrency.\nCPU-bound calls/s: workers × 1000 / CPU ms per call, what the workers "
          "would serve with a CPU each.")
    print()
    print(table(["process", "resident MiB"],
                [[f"gunicorn worker {i + 1}", m] for i, m in enumerate(memory)]))
    print(f"\ngunicorn log: {log}")


if __name__ == "__main__":
    main()
