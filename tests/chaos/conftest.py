"""The chaos stack: real PostgreSQL, a Redis of its own, two Celery worker processes, beat and
the bundled Azure simulator, with the means to hurt them.

Everything listens on loopback. The suite starts its own `redis-server` on a free port so that
FLUSHALL and a restart hit nobody else's data, even on a shared development machine. The
simulator runs in this process (so faults can be counted as they are injected); the workers
and beat are child processes in their own process groups, killed with SIGKILL and restarted.

Each scenario records one row; the table is printed at the end of the session, with or
without `-s`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from connectivity import demo
from connectivity.azure.simulator import AzureSimulator
from connectivity.models import ConnectivityRequest, RequestState

try:
    from tests import stack as shared_stack
except ImportError:  # the shared stack fixtures have not landed; test_chaos.py skips then
    shared_stack = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent.parent
S = RequestState
PEERING_TYPE = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
# The shared stack's fast worker timings (short backoffs, 2 s stale limit), and beat's
# reconciler every second, so lost work is found in seconds, not minutes.
WORKER_ENV: dict[str, str] = dict(shared_stack.WORKER_ENV) if shared_stack else {}
RECONCILE_STALE_AFTER = int(WORKER_ENV.get("RECONCILE_STALE_AFTER", 2))
RECONCILE_EVERY = 1
WORKER_CONCURRENCY = 4
DB_APPLICATION_NAME = "chaos-worker"


# --- the table ----------------------------------------------------------------------------

@dataclass
class ScenarioResult:
    scenario: str
    requests: int
    faults: str
    active: int
    actionable: int
    lost: int
    duplicated: int


RESULTS: list[ScenarioResult] = []
COLUMNS = ["scenario", "requests", "faults injected", "ended active", "ended actionable", "lost",
           "duplicated"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    rows = [COLUMNS] + [[r.scenario, str(r.requests), r.faults, str(r.active), str(r.actionable),
                         str(r.lost), str(r.duplicated)] for r in RESULTS]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    terminalreporter.section("chaos")
    for index, row in enumerate(rows):
        terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if index == 0:
            terminalreporter.write_line("  ".join("-" * w for w in widths))


# --- processes ----------------------------------------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    """A child process in its own process group, logging to a file; restartable."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    crashes: int = 0  # exits nobody asked for, restarted by `ChaosStack.supervise`

    def start(self) -> None:
        handle = self.log.open("ab")
        handle.write(f"\n--- start {self.starts + 1} ---\n".encode())
        handle.flush()
        self.process = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=handle,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL to the whole group: no warm shutdown, nothing acked, nothing returned."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class RedisServer:
    """A throwaway redis-server on a free loopback port; restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("The chaos suite starts its own redis-server: apt-get install redis-server")
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.child = Child("redis", [binary, "--bind", "127.0.0.1", "--port", str(self.port),
                                     "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                           dict(os.environ), workdir / "redis.log")
        self.restarts = 0

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> None:
        self.child.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except Exception:  # not up yet
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start:\n{self.child.tail()}")

    def flushall_and_restart(self) -> None:
        """Every queued and unacked message gone, then the server itself gone and back."""
        self.client().flushall()
        self.child.kill()
        self.start()
        self.restarts += 1


@dataclass
class FaultCounter:
    """Counts what the in-process simulator actually injected."""

    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, simulator: AzureSimulator) -> None:
        faults = simulator.faults
        pick, lro_fails = faults.pick, faults.lro_fails

        def counted_pick(method: str, path: str, is_poll: bool) -> Any:
            injected = pick(method, path, is_poll)
            if injected is not None:
                with self.lock:
                    self.counts[str(injected.status)] += 1
            return injected

        def counted_lro_fails() -> bool:
            failed = lro_fails()
            if failed:
                with self.lock:
                    self.counts["failed LRO"] += 1
            return failed

        canceled = faults.lro_canceled

        def counted_lro_canceled() -> bool:
            superseded = canceled()
            if superseded:
                with self.lock:
                    self.counts["canceled LRO"] += 1
            return superseded

        faults.pick = counted_pick  # type: ignore[method-assign]
        faults.lro_fails = counted_lro_fails  # type: ignore[method-assign]
        faults.lro_canceled = counted_lro_canceled  # type: ignore[method-assign]

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()

    def summary(self) -> str:
        with self.lock:
            return ", ".join(f"{n} x {kind}" for kind, n in sorted(self.counts.items())) or "none"


class ChaosStack:
    def __init__(self, workdir: Path, database_url: str) -> None:
        self.workdir = workdir
        self.redis = RedisServer(workdir)
        self.simulator = AzureSimulator(cert_dir=workdir / "simulator")
        self.faults = FaultCounter()
        self.database_url = database_url
        self.workers: list[Child] = []
        self.beat: Child | None = None

    # -- environment of the children ----------------------------------------------------
    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST"))}
        env.pop("DATABASE_CONN_MAX_AGE", None)  # persistent connections, as in production
        env.update(WORKER_ENV)
        env.update({
            "DJANGO_SETTINGS_MODULE": "portal.settings.test",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "AZURE_SIMULATOR": "true",
            "AZURE_ARM_ENDPOINT": self.simulator.base_url,
            "AZURE_AUTHORITY_HOST": self.simulator.base_url,
            "AZURE_CA_BUNDLE": self.simulator.ca_path,
            "AZURE_PLATFORM_TENANT_ID": settings.AZURE_PLATFORM_TENANT_ID,
            "AZURE_PLATFORM_SUBSCRIPTION_ID": settings.AZURE_PLATFORM_SUBSCRIPTION_ID,
            "AZURE_CLIENT_ID": settings.AZURE_CLIENT_ID,
            "AZURE_CLIENT_SECRET": settings.AZURE_CLIENT_SECRET or "simulator-secret",
            "RECONCILE_STALE_AFTER": str(RECONCILE_STALE_AFTER),
            "RECONCILE_EVERY": str(RECONCILE_EVERY),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def start(self) -> None:
        self.redis.start()
        self.simulator.start()
        self.faults.install(self.simulator)
        celery = [sys.executable, "-m", "celery", "-A", "portal"]
        env = self.child_env()
        for index in range(2):
            self.workers.append(Child(
                f"worker{index}",
                [*celery, "worker", "--loglevel", "INFO", "--pool", "threads",
                 "--concurrency", str(WORKER_CONCURRENCY), "--hostname", f"chaos{index}@%h",
                 "--without-gossip", "--without-mingle"],
                env, self.workdir / f"worker{index}.log"))
        self.beat = Child("beat", [*celery, "beat", "--loglevel", "INFO", "--schedule",
                                   str(self.workdir / "beat-schedule")],
                          env, self.workdir / "beat.log")
        for child in [*self.workers, self.beat]:
            child.start()

    def stop(self) -> None:
        for child in [*self.workers, *([self.beat] if self.beat else [])]:
            child.stop()
        self.redis.child.stop()
        self.simulator.stop()

    def ensure_running(self) -> None:
        """A scenario starts with both workers and beat up (a previous one may have killed one)."""
        for child in [*self.workers, *([self.beat] if self.beat else [])]:
            if not child.alive:
                child.start()

    def supervise(self) -> None:
        """What compose's `restart: unless-stopped` (or systemd, or Kubernetes) does: a worker or
        beat that exited on its own is started again, and the crash is counted."""
        for child in [*self.workers, *([self.beat] if self.beat else [])]:
            if child.process is not None and not child.alive:
                child.crashes += 1
                child.start()

    def crashes(self) -> int:
        return sum(c.crashes for c in [*self.workers, *([self.beat] if self.beat else [])])

    def wait(self, predicate: Callable[[], bool], *, timeout: float,
             during: Callable[[], None] | None = None) -> bool:
        """Poll until true or the deadline, supervising the children and running `during`
        (the fault injector) between polls."""
        def tick() -> None:
            if during is not None:
                during()
            self.supervise()

        return wait_until(predicate, timeout=timeout, during=tick)

    def logs(self) -> str:
        parts = [f"--- {c.name} ---\n{c.tail()}" for c in [*self.workers, self.beat] if c]
        return "\n".join([*parts, f"(full logs in {self.workdir} with CHAOS_KEEP_LOGS=1)"])

    # -- faults -------------------------------------------------------------------------
    def terminate_worker_connections(self) -> int:
        """Drop the workers' database connections from the server side, as a failover would."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                [DB_APPLICATION_NAME])
            return int(cursor.fetchone()[0])


def _database_url() -> str:
    """The test database as a URL the worker processes can use, tagged so faults find them."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return (f"postgres://{quote(db['USER'] or '', safe='')}{password}@{db['HOST'] or '127.0.0.1'}"
            f":{db['PORT'] or 5432}/{db['NAME']}?application_name={DB_APPLICATION_NAME}")


@pytest.fixture(scope="module")
def chaos_stack(django_db_setup: None, django_db_blocker: Any) -> Iterator[ChaosStack]:
    """Module-scoped: the workers and beat work on the test database, so they must be gone
    before any other test module's requests appear there."""
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("the chaos suite needs PostgreSQL (DATABASE_URL)")
    workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
    with django_db_blocker.unblock():
        stack = ChaosStack(workdir, _database_url())
    stack.start()
    from portal.celery import app

    previous_broker = app.conf.broker_url
    _point_celery_at(app, stack.redis.url)
    try:
        yield stack
    finally:
        _point_celery_at(app, previous_broker)
        stack.stop()
        if not os.environ.get("CHAOS_KEEP_LOGS"):
            shutil.rmtree(workdir, ignore_errors=True)


def _point_celery_at(app: Any, url: str | None) -> None:
    """Enqueue from this process to the given broker (services enqueue on commit). The app's
    cached pools are dropped, not closed: kombu keeps them in a registry by URL and would hand
    a closed one back to the next user of the same URL."""
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def stack(chaos_stack: ChaosStack, settings: Any, transactional_db: None) -> Iterator[ChaosStack]:
    """The running stack, with a clean simulator, an empty queue and this process pointed at
    the simulator (pre-flight runs here when the customer verifies)."""
    chaos_stack.ensure_running()
    chaos_stack.redis.client().flushall()
    sim = chaos_stack.simulator
    sim.control.reset()
    sim.control.seed(demo.simulator_seed())
    chaos_stack.faults.reset()
    for child in [*chaos_stack.workers, *([chaos_stack.beat] if chaos_stack.beat else [])]:
        child.crashes = 0
    settings.AZURE_SIMULATOR = True
    settings.AZURE_ARM_ENDPOINT = sim.base_url
    settings.AZURE_AUTHORITY_HOST = sim.base_url
    settings.AZURE_CA_BUNDLE = sim.ca_path
    settings.RECONCILE_STALE_AFTER = RECONCILE_STALE_AFTER
    # The workflow's chain tokens and VNet leases live in the cache: share the workers' Redis.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": chaos_stack.redis.url}}
    yield chaos_stack
    sim.control.clear_faults()


# --- waiting and judging ------------------------------------------------------------------

def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.25,
               during: Callable[[], None] | None = None) -> bool:
    """Poll until true or the deadline; `during` runs between polls (to inject faults)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if during is not None:
            during()
        time.sleep(interval)
    return predicate()


def peerings_between(simulator: AzureSimulator) -> Counter[tuple[str, str]]:
    """(VNet, remote VNet) -> number of peerings, from the simulator's own state."""
    counts: Counter[tuple[str, str]] = Counter()
    for resource in simulator.control.state()["resources"]:
        if resource.get("type") != PEERING_TYPE:
            continue
        vnet = resource["id"].lower().split("/virtualnetworkpeerings/")[0]
        remote = resource["properties"]["remoteVirtualNetwork"]["id"].lower()
        counts[(vnet, remote)] += 1
    return counts


def describe(request: ConnectivityRequest) -> str:
    return shared_stack.describe(request) if shared_stack else f"{request.short_id} {request.state}"


def duplicated_steps(request: ConnectivityRequest) -> list[str]:
    """Timeline events written twice for one piece of work: a step's completion recorded twice
    (two runs of one task both did the step), or one transition recorded twice in a row."""
    duplicates = []
    done: Counter[str] = Counter()
    previous: tuple[str, str, str] | None = None
    for event in request.events.order_by("created_at", "id"):
        if event.action == "step_done":
            done[event.message] += 1
            if done[event.message] == 2:
                duplicates.append(f"step done twice: {event.message}")
        if not event.to_state:
            continue
        key = (event.action, event.from_state, event.to_state)
        if key == previous:
            duplicates.append(f"{event.action} {event.from_state}->{event.to_state} twice")
        previous = key
    return duplicates


SETTLED_ACTIONABLE = frozenset({S.ACTION_NEEDED, S.FAILED})
STILL_WORKING = frozenset({S.APPROVED, S.PROVISIONING})


# --- the customer's world -----------------------------------------------------------------

CUSTOMER_TENANT = demo.CUSTOMER_TENANT_ID
CUSTOMER_SUBSCRIPTION = demo.CUSTOMER_SUBSCRIPTION_ID
CUSTOMER_RG = "rg-chaos"
CLUSTER_SPEC = demo.CLUSTERS[0]


@dataclass
class World:
    """The demo's organisation and dedicated cluster, an approver, and helpers to file peerings."""

    stack: ChaosStack
    customer: Any
    approver: Any
    cluster: Any

    def grant(self) -> None:
        """What the customer does with the portal's `az` commands: the role on their RG, its
        description carrying the proof of control of every request filed for it."""
        control = self.stack.simulator.control
        proofs = ConnectivityRequest.objects.filter(
            spec__resource_group=CUSTOMER_RG).values_list("proof", flat=True)
        for proof in proofs or [None]:
            control.grant(tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUBSCRIPTION,
                          resource_group=CUSTOMER_RG, app_id=settings.AZURE_CLIENT_ID,
                          proof=proof)

    def revoke(self) -> int:
        return int(self.stack.simulator.control.revoke(
            tenant_id=CUSTOMER_TENANT, app_id=settings.AZURE_CLIENT_ID,
            subscription_id=CUSTOMER_SUBSCRIPTION, resource_group=CUSTOMER_RG)["removed"])

    def vnet_id(self, index: int) -> str:
        return (f"/subscriptions/{CUSTOMER_SUBSCRIPTION}/resourceGroups/{CUSTOMER_RG}"
                f"/providers/Microsoft.Network/virtualNetworks/vnet-chaos-{index}")

    def verified_peerings(self, count: int) -> list[ConnectivityRequest]:
        """`count` peerings, each to its own customer VNet, granted and verified: pending
        approval, exactly as a customer leaves them in the portal."""
        from connectivity import services

        control = self.stack.simulator.control
        requests = []
        for index in range(count):
            # 10.30.0.0/16 upwards: clear of the cluster (10.100/16) and of each other.
            control.create_vnet(tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUBSCRIPTION,
                                resource_group=CUSTOMER_RG, name=f"vnet-chaos-{index}",
                                address_prefixes=[f"10.{30 + index}.0.0/16"])
        organization = self.customer.membership.organization
        filed = []
        for index in range(count):
            request = services.request_create(
                actor=self.customer, organization=organization, cluster=self.cluster,
                kind="vnet_peering", fields={
                    "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUBSCRIPTION,
                    "resource_group": CUSTOMER_RG, "vnet_name": f"vnet-chaos-{index}"})
            filed.append(services.request_submit(request=request, actor=self.customer))
        self.grant()
        for request in filed:
            request = services.request_verify(request=request, actor=self.customer)
            assert request.state == S.PENDING_APPROVAL, request.preflight
            requests.append(request)
        return requests

    def approve_all(self, requests: list[ConnectivityRequest]) -> None:
        """All at once: each approval enqueues its work as it commits."""
        from connectivity import services

        for request in requests:
            services.request_approve(request=request, actor=self.approver)

    def states(self, requests: list[ConnectivityRequest]) -> Counter[str]:
        ids = [r.pk for r in requests]
        return Counter(ConnectivityRequest.objects.filter(pk__in=ids).values_list("state", flat=True))

    def judge(self, scenario: str, requests: list[ConnectivityRequest], faults: str) -> ScenarioResult:
        """Count the outcome from the database and the simulator, record the table row."""
        peerings = peerings_between(self.stack.simulator)
        cluster_vnet = self.cluster.vnet_id.lower()
        active = actionable = lost = duplicated = 0
        self.problems: list[str] = []
        for request in ConnectivityRequest.objects.filter(pk__in=[r.pk for r in requests]):
            customer_vnet = request.customer_vnet_id.lower()
            sides = (peerings[(cluster_vnet, customer_vnet)], peerings[(customer_vnet, cluster_vnet)])
            repeated = duplicated_steps(request)
            if sides[0] > 1 or sides[1] > 1 or repeated:
                duplicated += 1
                self.problems.append(f"{request.short_id}: peerings {sides}, {repeated}\n"
                                     f"{describe(request)}")
            if request.state == S.ACTIVE:
                active += 1
                if sides != (1, 1):
                    self.problems.append(f"{request.short_id} is active with peerings {sides}")
            elif request.state in SETTLED_ACTIONABLE and request.status_message.strip():
                actionable += 1
            else:
                lost += 1
                self.problems.append(f"{request.short_id} did not settle: {describe(request)}")
        result = ScenarioResult(scenario, len(requests), faults, active, actionable, lost, duplicated)
        RESULTS.append(result)
        return result


    # -- Private Link endpoints and Virtual WAN hub connections ----------------------------
    def pending_private_endpoints(self, count: int) -> list[ConnectivityRequest]:
        """`count` Private Link endpoints to blob on storage accounts of the customer's,
        pending approval (no role to grant: their checks ran when filed)."""
        from connectivity import services
        from connectivity.azure.simulator import privatelink

        control = self.stack.simulator.control
        organization = self.customer.membership.organization
        requests = []
        for index in range(count):
            target = privatelink.create_paas(
                control, tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUBSCRIPTION,
                resource_group=CUSTOMER_RG, type="storage_account", name=f"stchaos{index}")["id"]
            request = services.request_create(
                actor=self.customer, organization=organization, cluster=self.cluster,
                kind="private_endpoint", fields={"link_target": target, "group_id": "blob"})
            request = services.request_submit(request=request, actor=self.customer)
            assert request.state == S.PENDING_APPROVAL, request.preflight
            requests.append(request)
        return requests

    def approve_endpoint_connections(self) -> int:
        """The customer approves every pending connection on their resources (what the request
        page's `az network private-endpoint-connection approve` does)."""
        from connectivity.azure.simulator import privatelink

        control = self.stack.simulator.control
        pending = [r["id"] for r in control.state()["resources"]
                   if str(r.get("type", "")).endswith("/privateEndpointConnections")
                   and r["properties"]["privateLinkServiceConnectionState"]["status"] == "Pending"]
        for connection_id in pending:
            privatelink.set_connection_state(control, id=connection_id, status="Approved",
                                             description="approved by chaos")
        return len(pending)

    def verified_hub_connections(self, count: int) -> list[ConnectivityRequest]:
        """`count` hub connections, granted and verified. A VNet connects to one hub only, so
        each is for a cluster of its own (its VNet in the platform's subscription) and a hub of
        the customer's own."""
        from connectivity import services
        from connectivity.azure import roles
        from connectivity.azure.simulator import vwan
        from tests.factories import ClusterFactory

        control = self.stack.simulator.control
        organization = self.customer.membership.organization
        vwan.control_create_wan(control, tenant_id=CUSTOMER_TENANT,
                                subscription_id=CUSTOMER_SUBSCRIPTION,
                                resource_group=CUSTOMER_RG, name="wan-chaos")
        requests = []
        for index in range(count):
            vnet = f"vnet-cluster-chaos-hub-{index}"
            control.create_vnet(tenant_id=settings.AZURE_PLATFORM_TENANT_ID,
                                subscription_id=settings.AZURE_PLATFORM_SUBSCRIPTION_ID,
                                resource_group=demo.PLATFORM_RESOURCE_GROUP, name=vnet,
                                address_prefixes=[f"10.{110 + index}.0.0/16"])
            cluster = ClusterFactory(organization=organization, name=f"chaos-hub-{index}",
                                     vnet_id=demo.platform_vnet_id(vnet),
                                     address_prefixes=[f"10.{110 + index}.0.0/16"])
            hub = f"hub-chaos-{index}"
            vwan.control_create_hub(control, tenant_id=CUSTOMER_TENANT,
                                    subscription_id=CUSTOMER_SUBSCRIPTION,
                                    resource_group=CUSTOMER_RG, name=hub,
                                    address_prefix=f"10.{240 + index}.0.0/23",
                                    virtual_wan="wan-chaos")
            request = services.request_create(
                actor=self.customer, organization=organization, cluster=cluster,
                kind="hub_connection", fields={
                    "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUBSCRIPTION,
                    "resource_group": CUSTOMER_RG, "hub_name": hub})
            request = services.request_submit(request=request, actor=self.customer)
            vwan.control_grant_hub(
                control, tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUBSCRIPTION,
                resource_group=CUSTOMER_RG, hub_name=hub, app_id=settings.AZURE_CLIENT_ID,
                proof=request.proof, role_definition=roles.role_definition(roles.CustomerHub(
                    CUSTOMER_TENANT, CUSTOMER_SUBSCRIPTION, CUSTOMER_RG, hub)))
            request = services.request_verify(request=request, actor=self.customer)
            assert request.state == S.PENDING_APPROVAL, request.preflight
            requests.append(request)
        return requests

    def judge_kinds(self, scenario: str, requests: list[ConnectivityRequest],
                    faults: str) -> ScenarioResult:
        """As `judge`, for Private Link endpoints and hub connections: active (a Private Link
        endpoint to PaaS completes at once, having nothing to revoke) with each resource once
        in the simulator, or waiting in a state that says what to do."""
        from connectivity.kinds import hub_connection

        resources = self.stack.simulator.control.state()["resources"]

        def of_type(suffix: str) -> list[dict[str, Any]]:
            return [r for r in resources if str(r.get("type", "")).endswith(suffix)]

        endpoints = Counter(r["name"] for r in of_type("/privateEndpoints"))
        connections = Counter(r["properties"]["privateEndpoint"]["id"].rsplit("/", 1)[-1]
                              for r in of_type("/privateEndpointConnections"))
        zones = Counter(r["name"] for r in of_type("/privateDnsZones"))
        links = Counter(r["id"].lower().split("/virtualnetworklinks/")[0]
                        for r in of_type("/virtualNetworkLinks"))
        hub_connections = Counter(r["id"].lower().split("/hubvirtualnetworkconnections/")[0]
                                  for r in of_type("/hubVirtualNetworkConnections"))
        hub_peerings = Counter(r["id"].lower().split("/virtualnetworkpeerings/")[0]
                               for r in of_type("/virtualNetworkPeerings")
                               if r["name"].startswith("RemoteVnetToHubPeering_"))
        active = actionable = lost = duplicated = 0
        self.problems = []
        for zone, count in zones.items():
            if count > 1:
                duplicated += 1
                self.problems.append(f"private DNS zone {zone} {count} times")
        for zone_id, count in links.items():
            if count > 1:
                duplicated += 1
                self.problems.append(f"{zone_id} linked {count} times")
        for request in ConnectivityRequest.objects.filter(pk__in=[r.pk for r in requests]):
            if request.kind == "private_endpoint":
                name = f"pe-cp-{request.short_id}"
                found = (endpoints[name], connections[name])
            else:
                hub_id = hub_connection.hub_id(request).lower()
                found = (hub_connections[hub_id], hub_peerings[request.cluster.vnet_id.lower()])
            repeated = duplicated_steps(request)
            if max(found) > 1 or repeated:
                duplicated += 1
                self.problems.append(f"{request.short_id} {request.kind}: {found}, {repeated}\n"
                                     f"{describe(request)}")
            went_active = request.events.filter(to_state=S.ACTIVE).exists()
            if request.state in (S.ACTIVE, S.COMPLETED) and went_active:
                active += 1
                if found != (1, 1):
                    self.problems.append(f"{request.short_id} is active with {found}")
            elif request.state in SETTLED_ACTIONABLE and request.status_message.strip():
                actionable += 1
            else:
                lost += 1
                self.problems.append(f"{request.short_id} did not settle: {describe(request)}")
        result = ScenarioResult(scenario, len(requests), faults, active, actionable, lost,
                                duplicated)
        RESULTS.append(result)
        return result


@pytest.fixture
def world(stack: ChaosStack, customer: Any, approver: Any) -> World:
    from tests.factories import ClusterFactory

    cluster = ClusterFactory(
        organization=customer.membership.organization, name=CLUSTER_SPEC["name"],
        vnet_id=demo.platform_vnet_id(CLUSTER_SPEC["vnet_name"]),
        address_prefixes=CLUSTER_SPEC["address_prefixes"],
        dns_forwarding_ruleset_id=demo.ruleset_id(CLUSTER_SPEC["ruleset_name"]))
    return World(stack, customer, approver, cluster)
