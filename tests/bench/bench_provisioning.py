"""Provisioning benchmark: 1,000 approved VNet peerings through N Celery worker processes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/proof REDIS_URL=redis://127.0.0.1:6379/8 \
        .venv/bin/python -m tests.bench.bench_provisioning --workers 1,2,4

The bundled simulator runs in this process with Azure's timings scaled down by `--scale`: a
long-running operation takes 2 s / scale, every ARM call `--latency-ms` / scale, and ARM's
per-subscription throttling buckets refill `scale` times faster. Each request
peers its own customer VNet with its own cluster (so no two requests contend for one VNet, as
Azure would serialise them). Requests are seeded already approved; the clock starts when their
1,000 `request_advance` messages are enqueued and stops when the last one is `active`.

With `--pacing on,off` each N runs twice, with the portal's pacing of ARM calls
(connectivity/azure/pacing.py, its buckets on the same scaled clock) on and then off, to show
what pacing saves when ARM's budget, not the workers, is what binds: e.g.
`--requests 200 --scale 2 --workers 2 --pacing on,off`.

Reported per N:
- total time against the ideal, simulated Azure time x requests / concurrency, as a ratio (1.0
  would mean the portal adds nothing and never waits on anything but Azure);
- the portal's own time per request (p50/p99): the request's task time minus the time spent
  inside the Azure gateway (measured in the workers by tests/bench/probe.py);
- the workers' CPU time per request (user + system, including start-up): unlike wall time, it
  does not grow when the machine is busy with other work;
- each worker's resident memory after the run;
- ARM calls, 429s and paced retries (a step rescheduled because the portal held a call back)
  per request, and the ARM budget: how long ARM's buckets need, at their refill rates after
  their bursts, for every call the run made in its busiest (subscription, kind of call).
The redis database named by REDIS_URL is flushed before each run: give the benchmark its own.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.bench.common import (
    VENV_BIN,
    bench_environment,
    cpu_seconds,
    machine,
    percentile,
    rss_mib,
    start,
    stop,
    table,
)

ORG_SLUG = "bench-provisioning"
CUSTOMER_RG = "rg-bench"
PLATFORM_RG = "rg-platform-bench"
# Every benchmark request shares one proof of control, so one grant on the RG proves them all.
BENCH_PROOF = "cpp-benchmark"


def cluster_prefix(n: int) -> str:
    return f"172.{16 + n // 256}.{n % 256}.0/24"


def customer_prefix(n: int) -> str:
    return f"10.{n // 256}.{n % 256}.0/24"


def simulator_seed(count: int) -> dict[str, Any]:
    from connectivity import demo

    seed = demo.simulator_seed()
    platform, customer = seed["tenants"][0], seed["tenants"][1]
    platform["subscriptions"][0]["resource_groups"].append({
        "name": PLATFORM_RG, "location": "westeurope",
        "virtual_networks": [{"name": f"vnet-cluster-{n:04d}", "address_prefixes": [cluster_prefix(n)]}
                             for n in range(count)]})
    customer["subscriptions"][0]["resource_groups"].append({
        "name": CUSTOMER_RG, "location": "westeurope",
        "virtual_networks": [{"name": f"vnet-customer-{n:04d}", "address_prefixes": [customer_prefix(n)]}
                             for n in range(count)]})
    return seed


class CountingSimulator:
    """The in-process simulator, counting the ARM calls it answers (each pays the latency)."""

    def __init__(self, count: int, workdir: Path) -> None:
        from connectivity.azure.simulator import AzureSimulator

        self.simulator = AzureSimulator(seed=simulator_seed(count), cert_dir=workdir / "simulator")
        self.calls = 0
        self.throttled = 0
        self.per_bucket: dict[tuple[str, str], int] = {}
        self.per_operation: dict[str, int] = {}
        self._lock = threading.Lock()
        handle = self.simulator.arm.handle

        def counted(request: Any) -> Any:
            response = handle(request)
            parts = request.path.split("/")
            bucket = (parts[2].lower() if len(parts) > 2 else "", kind_of(request.method))
            with self._lock:
                self.calls += 1
                self.throttled += response.status == 429
                operation = operation_of(request.method, request.path)
                self.per_operation[operation] = self.per_operation.get(operation, 0) + 1
                if response.status != 429:  # a throttled call takes no token
                    self.per_bucket[bucket] = self.per_bucket.get(bucket, 0) + 1
            return response

        self.simulator.arm.handle = counted  # type: ignore[method-assign]

    def reset(self, *, lro_duration: float, latency_ms: float, scale: float) -> None:
        from django.conf import settings

        from connectivity import demo
        from connectivity.azure.simulator.faults import DEFAULTS

        control = self.simulator.control
        control.reset()
        # ARM's per-subscription token buckets, on the same clock as everything else: time runs
        # `scale` times faster, so buckets refill `scale` times faster.
        limits = {kind: [burst, rate * scale] for kind, (burst, rate) in DEFAULTS["limits"].items()}
        control.set_faults(lro_duration=lro_duration, latency_ms=latency_ms, limits=limits)
        control.grant(tenant_id=demo.CUSTOMER_TENANT_ID, subscription_id=demo.CUSTOMER_SUBSCRIPTION_ID,
                      resource_group=CUSTOMER_RG, app_id=settings.AZURE_CLIENT_ID,
                      proof=BENCH_PROOF)
        with self._lock:
            self.calls = 0
            self.throttled = 0
            self.per_bucket = {}
            self.per_operation = {}

    def peerings_beyond_one_per_vnet(self) -> int:
        """Peerings past the first on any VNet: every request has its own pair of VNets, so
        anything above zero is a side created twice."""
        per_vnet: dict[str, int] = {}
        for resource in self.simulator.control.state()["resources"]:
            if str(resource.get("type", "")).lower().endswith("virtualnetworkpeerings"):
                vnet = resource["id"].lower().rsplit("/virtualnetworkpeerings/", 1)[0]
                per_vnet[vnet] = per_vnet.get(vnet, 0) + 1
        return sum(n - 1 for n in per_vnet.values())

    def budget_seconds(self, scale: float) -> float:
        """How long ARM's buckets (scaled) need for the calls counted, in the busiest one."""
        from connectivity.azure.simulator.faults import DEFAULTS

        seconds = 0.0
        for (_, kind), calls in self.per_bucket.items():
            burst, rate = DEFAULTS["limits"][kind]
            seconds = max(seconds, (calls - burst) / (rate * scale))
        return seconds


def operation_of(method: str, path: str) -> str:
    """``GET virtualNetworkPeerings``: the method and the type of resource (the last type in
    the path: an id alternates types and names after ``providers/<namespace>``)."""
    segments = [s for s in path.split("/") if s]
    low = [s.lower() for s in segments]
    if "providers" not in low:
        return f"{method} {segments[-1] if len(segments) % 2 else segments[-2]}"
    after = segments[len(low) - low[::-1].index("providers"):]
    types = after[1::2]
    return f"{method} {types[-1] if types else after[0]}"


def seed_requests(count: int, *, approval: str = "at-once") -> list[str]:
    """An organisation with `count` dedicated clusters and one approved peering on each."""
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from connectivity import demo
    from connectivity.models import (
        Cluster,
        ConnectivityRequest,
        Membership,
        Organization,
        RequestEvent,
        User,
    )

    ConnectivityRequest.objects.filter(organization__slug=ORG_SLUG).delete()
    Organization.objects.filter(slug=ORG_SLUG).delete()
    User.objects.filter(email__startswith=ORG_SLUG).delete()
    org = Organization.objects.create(name="Provisioning benchmark", slug=ORG_SLUG)
    owner = User.objects.create(email=f"{ORG_SLUG}@example.com", password=make_password(None))
    Membership.objects.create(user=owner, organization=org, role=Membership.Role.OWNER)
    from django.conf import settings

    clusters = Cluster.objects.bulk_create([
        Cluster(organization=org, name=f"bench-{n:04d}", region="westeurope",
                tier=Cluster.Tier.DEDICATED, address_prefixes=[cluster_prefix(n)],
                vnet_id=f"/subscriptions/{settings.AZURE_PLATFORM_SUBSCRIPTION_ID}/resourceGroups/"
                        f"{PLATFORM_RG}/providers/Microsoft.Network/virtualNetworks/vnet-cluster-{n:04d}")
        for n in range(count)])
    now = timezone.now()
    # What the customer's verify left: every check passed, seconds before an auto-approval
    # (provisioning then reuses it, as it does within PREFLIGHT_REUSE_SECONDS).
    passed = [{"key": key, "label": key, "status": "pass", "message": "Passed."}
              for key in ("cluster_dedicated", "no_duplicate", "not_platform_scope",
                          "control_proved", "role_granted", "vnet_readable", "pair_not_peered",
                          "address_space", "address_reserved")]
    requests = ConnectivityRequest.objects.bulk_create([
        ConnectivityRequest(
            organization=org, cluster=cluster, kind="vnet_peering", state="approved",
            created_by=owner, tenant_id=demo.CUSTOMER_TENANT_ID,
            subscription_id=demo.CUSTOMER_SUBSCRIPTION_ID, resource_group=CUSTOMER_RG,
            vnet_name=f"vnet-customer-{n:04d}", proof=BENCH_PROOF, preflight=passed,
            # "later": approved long after the customer verified, so pre-flight runs again.
            preflight_ran_at=now if approval == "at-once" else now - timedelta(hours=1),
            approved_at=now, state_changed_at=now)
        for n, cluster in enumerate(clusters)], batch_size=500)
    RequestEvent.objects.bulk_create([
        RequestEvent(request=r, actor_label="system", action="approved", from_state="pending_approval",
                     to_state="approved", message="Approved (benchmark seed).") for r in requests],
        batch_size=1000)
    return [str(r.pk) for r in requests]


def kind_of(method: str) -> str:
    from connectivity.azure.pacing import kind_of as pacing_kind

    return pacing_kind(method)


def pacing_env(scale: float, on: bool) -> dict[str, str]:
    """The portal's buckets on the benchmark's clock, as the simulator's are."""
    from connectivity.azure.pacing import ARM_LIMITS

    env = {f"AZURE_PACING_{kind.upper()}": f"{burst:g}/{rate * scale:g}"
           for kind, (burst, rate) in ARM_LIMITS.items()}
    return {**env, "AZURE_PACING": "true" if on else "false",
            "AZURE_PACING_MAX_WAIT": str(0.5 / scale)}


def run_once(args: argparse.Namespace, sim: CountingSimulator, workers: int, base_env: dict[str, str],
             workdir: Path, pacing: bool = True) -> list[Any]:
    import redis
    from django.db.models import Count

    from connectivity import dispatch, tasks
    from connectivity.models import ConnectivityRequest

    lro = 2.0 / args.scale
    latency = args.latency_ms / args.scale
    sim.reset(lro_duration=lro, latency_ms=latency, scale=args.scale)
    broker = redis.Redis.from_url(base_env["REDIS_URL"])
    broker.flushdb()
    ids = seed_requests(args.requests, approval=args.approval)

    env = {**base_env,
           "AZURE_ARM_ENDPOINT": sim.simulator.base_url, "AZURE_AUTHORITY_HOST": sim.simulator.base_url,
           "AZURE_CA_BUNDLE": sim.simulator.ca_path,
           # Azure's timings are scaled down; scale the portal's waits on Azure alike.
           "AZURE_POLLING_INTERVAL": str(lro / 4),
           "PROVISIONING_RETRY_BASE": str(2.0 / args.scale),
           "PROVISIONING_POLL_MAX": str(30.0 / args.scale),
           **pacing_env(args.scale, pacing)}
    logs = [workdir / f"worker-{workers}-{'paced' if pacing else 'unpaced'}-{i}.log"
            for i in range(workers)]
    processes = [start([str(VENV_BIN / "celery"), "-A", "portal", "worker", "--pool", "threads",
                        "--concurrency", str(args.threads), "--loglevel", "WARNING",
                        "--include", "tests.bench.probe", "--without-gossip", "--without-mingle",
                        "--hostname", f"bench{i}@%h"], env, log)
                 for i, log in enumerate(logs)]
    try:
        wait_for_banner(logs)
        started = time.perf_counter()
        for request_id in ids:  # as an approval sends them (services.enqueue_advance)
            tasks.request_advance.apply_async(args=[request_id], priority=dispatch.NEW_WORK)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            counts = dict(ConnectivityRequest.objects.filter(pk__in=ids).values_list("state")
                          .annotate(n=Count("pk")).values_list("state", "n"))
            if counts.get("active", 0) + counts.get("failed", 0) + counts.get("action_needed", 0) \
                    == len(ids):
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        memory = max(rss_mib(p.pid) for p in processes)
        cpu = sum(cpu_seconds(p.pid) for p in processes)
    finally:
        for process in processes:
            stop(process)
    active = ConnectivityRequest.objects.filter(pk__in=ids, state="active").count()
    print(f"    lost (not active): {len(ids) - active}; duplicated (a second peering on a VNet): "
          f"{sim.peerings_beyond_one_per_vnet()}", flush=True)
    from connectivity.azure.pacing import PACED_MESSAGE
    from connectivity.models import RequestEvent

    paced = RequestEvent.objects.filter(request_id__in=ids, action="retry_scheduled",
                                        message__contains=PACED_MESSAGE).count()

    per_request: dict[str, list[float]] = {}
    runs = 0
    for raw in broker.lrange("bench:probe", 0, -1):
        record = json.loads(raw)
        totals = per_request.setdefault(record["request"], [0.0, 0.0])
        totals[0] += record["task"]
        totals[1] += record["azure"]
        runs += 1
    overhead = [(task - azure) * 1000 for task, azure in per_request.values()]
    calls_per_request = sim.calls / len(ids)
    azure_per_request = 2 * lro + calls_per_request * latency / 1000
    concurrency = workers * args.threads
    ideal = azure_per_request * len(ids) / concurrency
    return [workers, concurrency, "on" if pacing else "off", len(ids), active, elapsed, ideal,
            elapsed / ideal, sim.budget_seconds(args.scale), azure_per_request * 1000,
            calls_per_request, percentile(overhead, 0.5), percentile(overhead, 0.99),
            cpu * 1000 / len(ids), runs / len(ids), sim.throttled / len(ids), paced / len(ids),
            memory]


def wait_for_banner(logs: list[Path], timeout: float = 90) -> None:
    """The worker prints its banner (ending with its queues) once it is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all("[queues]" in log.read_text(errors="replace") for log in logs):
            time.sleep(1.0)  # the banner comes just before the consumer connects
            return
        time.sleep(0.2)
    raise RuntimeError("workers did not start: " + " ".join(str(p) for p in logs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, comma-separated")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process")
    parser.add_argument("--scale", type=float, default=10.0,
                        help="divide Azure's timings by this (2 s LRO -> 2/scale s)")
    parser.add_argument("--latency-ms", type=float, default=150.0,
                        help="Azure's latency per ARM call before scaling")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run at most")
    parser.add_argument("--pacing", default="on",
                        help="pacing of ARM calls per run: on, off or on,off (each N runs once per value)")
    parser.add_argument("--approval", choices=["at-once", "later"], default="at-once",
                        help="at-once: approved seconds after a passing pre-flight (auto-approve),"
                             " so provisioning reuses it; later: pre-flight runs again")
    args = parser.parse_args()

    env = bench_environment(args.database_url, args.redis_url)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    workdir = Path(tempfile.mkdtemp(prefix="bench-provisioning-"))
    sim = CountingSimulator(args.requests, workdir)
    sim.simulator.start()
    rows = []
    try:
        for workers in [int(n) for n in args.workers.split(",")]:
            for pacing in [value.strip() == "on" for value in args.pacing.split(",")]:
                row = run_once(args, sim, workers, env, workdir, pacing=pacing)
                rows.append(row)
                print(f"  {workers} worker(s), pacing {row[2]}: {row[5]:.1f} s, ratio {row[7]:.2f}, "
                      f"{row[15]:.2f} 429s/request", flush=True)
                calls = ", ".join(f"{operation} {n / args.requests:.2f}" for operation, n in
                                  sorted(sim.per_operation.items(), key=lambda item: -item[1]))
                print(f"    ARM calls per request: {calls}", flush=True)
    finally:
        sim.simulator.stop()
    print()
    print(f"Provisioning: {args.requests:,} peerings, each on its own cluster; Azure scaled 1/"
          f"{args.scale:g} (LRO {2000 / args.scale:.0f} ms, {args.latency_ms / args.scale:.0f} ms "
          f"per ARM call); threads pool, {args.threads} threads per worker; production settings; "
          f"{machine()}")
    print()
    print(table(["workers", "concurrency", "pacing", "requests", "active", "total s", "ideal s",
                 "ratio", "ARM budget s", "Azure ms/request", "ARM calls/request", "portal p50 ms",
                 "portal p99 ms", "worker CPU ms/request", "tasks/request", "429s/request",
                 "paced/request", "worker RSS MiB"], rows))
    print(f"\nworker logs: {workdir}")


if __name__ == "__main__":
    main()
