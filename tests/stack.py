"""Shared fixtures for tests that run the real stack: the Azure simulator seeded like the demo,
settings pointing the gateway at it, a real Celery worker process, and polling helpers.

Registered for the whole suite by ``pytest_plugins = ["tests.stack"]`` in tests/conftest.py.

- ``azure_stack``: the simulator (one per session, reset for each test) seeded with
  ``connectivity.demo.simulator_seed()``, with AZURE_ARM_ENDPOINT, AZURE_AUTHORITY_HOST and
  AZURE_CA_BUNDLE pointing at it and the gateway's client cache cleared. Returns a ``Stack``
  with helpers to act as the customer (grant, revoke, delete their peering) and to inspect Azure.
- ``sim_cluster``: the demo's dedicated cluster (its VNet and ruleset exist in the simulator)
  for the ``organization`` fixture.
- ``stack_worker``: a real ``celery -A portal worker`` subprocess on Redis (REDIS_URL) and the
  test database (Postgres), talking to the simulator. ``.kill()`` sends SIGKILL, ``.start()``
  brings it back. Tests using it need ``transactional_db`` and the ``worker`` marker. The
  fixture FLUSHDBs the Redis database REDIS_URL names when the worker first starts, so give
  the suite its own Redis database number.
- ``wait_for_state(request, states, timeout)``: poll the database until the request gets there.
- ``reconcile_now()``: what beat's reconciler would do, at once (stale limit from settings).
- ``scheduler``: record the engine's enqueues instead of sending them (unit tests).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings as django_settings

from connectivity import demo
from connectivity.azure.simulator import AzureSimulator
from connectivity.models import Cluster, ConnectivityRequest, Organization

ROOT = Path(__file__).resolve().parent.parent
CUSTOMER_TENANT_ID = demo.CUSTOMER_TENANT_ID
CUSTOMER_SUBSCRIPTION_ID = demo.CUSTOMER_SUBSCRIPTION_ID
CUSTOMER_RESOURCE_GROUP = demo.CUSTOMER_RESOURCE_GROUP
CUSTOMER_VNET_NAME = demo.CUSTOMER_VNET_NAME

# Fast timings for the worker process: short backoffs and a short stale limit, so fault tests
# finish in seconds. Tests may pass their own to ``stack_worker.start(env=...)``.
WORKER_ENV = {
    "PROVISIONING_RETRY_BASE": "0.2",
    "PROVISIONING_RETRY_MAX": "2",
    "PROVISIONING_POLL_MAX": "1",
    "PROVISIONING_MAX_ATTEMPTS": "40",
    "RECONCILE_STALE_AFTER": "2",
    "GRANT_PROPAGATION_WINDOW": "60",
    "VNET_LOCK_TTL": "30",
    "AZURE_SDK_RETRY_TOTAL": "0",
    "AZURE_POLLING_INTERVAL": "0",
    "PRIVATE_ENDPOINT_POLL_EVERY": "0.5",
}


def customer_vnet_id(name: str = CUSTOMER_VNET_NAME) -> str:
    return (f"/subscriptions/{CUSTOMER_SUBSCRIPTION_ID}/resourceGroups/{CUSTOMER_RESOURCE_GROUP}"
            f"/providers/Microsoft.Network/virtualNetworks/{name}")


@dataclass
class Stack:
    """The simulator plus helpers that speak in the demo's names."""

    simulator: AzureSimulator

    @property
    def control(self) -> Any:
        return self.simulator.control

    @property
    def cluster_vnet_id(self) -> str:
        return demo.platform_vnet_id(demo.CLUSTERS[0]["vnet_name"])

    @property
    def ruleset_id(self) -> str:
        return demo.ruleset_id(demo.CLUSTERS[0]["ruleset_name"])

    def grant(self, request: ConnectivityRequest | None = None, *, vnet_name: str | None = None,
              proof: str | None = None, actions: Iterable[str] | None = None,
              on_resource_group: bool = False) -> dict[str, Any]:
        """What the customer's ``az role definition create`` + ``assignment create`` from the
        grant page do: the portal's role on the VNet, with ``request``'s proof of control in
        the description (or ``proof``; neither: a grant that proves nothing). ``actions``
        grants a different custom role instead; ``on_resource_group`` assigns it one level up."""
        name = vnet_name or (request.vnet_name if request is not None else CUSTOMER_VNET_NAME)
        if proof is None and request is not None:
            proof = request.proof
        role = None
        if actions is not None:
            role = {"Name": f"Connectivity Portal Peering {uuid.uuid4().hex[:6]}",
                    "Actions": list(actions), "AssignableScopes": [customer_vnet_id(name)]}
        return dict(self.control.grant(
            tenant_id=CUSTOMER_TENANT_ID, subscription_id=CUSTOMER_SUBSCRIPTION_ID,
            resource_group=CUSTOMER_RESOURCE_GROUP,
            vnet_name=None if on_resource_group else name,
            app_id=django_settings.AZURE_CLIENT_ID, role_definition=role, proof=proof))

    def revoke(self, vnet_name: str = CUSTOMER_VNET_NAME) -> dict[str, Any]:
        return dict(self.control.revoke(
            tenant_id=CUSTOMER_TENANT_ID, app_id=django_settings.AZURE_CLIENT_ID,
            scope=customer_vnet_id(vnet_name)))

    def create_customer_vnet(self, name: str, prefixes: list[str], *,
                             has_gateway: bool = False) -> dict[str, Any]:
        return dict(self.control.create_vnet(
            tenant_id=CUSTOMER_TENANT_ID, subscription_id=CUSTOMER_SUBSCRIPTION_ID,
            resource_group=CUSTOMER_RESOURCE_GROUP, name=name, address_prefixes=prefixes,
            has_gateway=has_gateway))

    def resources(self, type_suffix: str) -> list[dict[str, Any]]:
        """Every resource whose type ends with ``type_suffix`` (e.g. ``virtualNetworkPeerings``)."""
        return [r for r in self.control.state()["resources"]
                if str(r.get("type", "")).lower().endswith(type_suffix.lower())]

    def peerings_on(self, vnet_id: str) -> list[dict[str, Any]]:
        prefix = vnet_id.lower() + "/virtualnetworkpeerings/"
        return [r for r in self.resources("virtualNetworkPeerings")
                if r["id"].lower().startswith(prefix)]

    def set_faults(self, **faults: Any) -> None:
        self.control.set_faults(**faults)

    def clear_faults(self) -> None:
        self.control.clear_faults()


def _point_settings_at(simulator: AzureSimulator, settings: Any) -> None:
    from connectivity.azure import clients

    settings.AZURE_ARM_ENDPOINT = simulator.base_url
    settings.AZURE_AUTHORITY_HOST = simulator.base_url
    settings.AZURE_CA_BUNDLE = simulator.ca_path
    clients.clear_cache()


@pytest.fixture(scope="session")
def stack_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureSimulator]:
    simulator = AzureSimulator(host="127.0.0.1", port=0, seed=demo.simulator_seed(),
                               cert_dir=tmp_path_factory.mktemp("stack-sim"))
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def azure_stack(stack_simulator: AzureSimulator, settings: Any) -> Iterator[Stack]:
    from connectivity.azure import clients, pacing

    stack_simulator.control.reset()
    pacing.reset()  # the simulator's buckets are full again; so are the portal's
    _point_settings_at(stack_simulator, settings)
    yield Stack(stack_simulator)
    stack_simulator.control.reset()
    clients.clear_cache()


@pytest.fixture
def sim_cluster(organization: Organization) -> Cluster:
    spec = demo.CLUSTERS[0]
    return Cluster.objects.create(
        organization=organization, name=spec["name"], region=spec["region"],
        tier=spec["tier"], vnet_id=demo.platform_vnet_id(spec["vnet_name"]),
        address_prefixes=spec["address_prefixes"], external_ips=spec["external_ips"],
        dns_forwarding_ruleset_id=demo.ruleset_id(spec["ruleset_name"]))


@pytest.fixture
def scheduler(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Record what the provisioning engine hands to the broker instead of sending it
    (see tests/provisioning_helpers.py for ``step`` and ``drive``)."""
    from tests.provisioning_helpers import install_scheduler

    return install_scheduler(monkeypatch)


# --- Waiting ----------------------------------------------------------------------------------


def describe(request: ConnectivityRequest) -> str:
    request.refresh_from_db()
    events = "\n".join(f"  {e.created_at:%H:%M:%S.%f} {e.action} {e.from_state}->{e.to_state} "
                       f"{e.message[:300]}" for e in request.events.order_by("created_at", "id"))
    return (f"state={request.state} step={request.step!r} attempts={request.attempts} "
            f"status={request.status_message!r}\n{events}")


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str,
             explain: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{explain()}")


def wait_for_state(request: ConnectivityRequest, states: str | Iterable[str],
                   timeout: float = 30) -> ConnectivityRequest:
    """Poll the database until ``request`` is in one of ``states``; the refreshed request."""
    wanted = {states} if isinstance(states, str) else set(states)

    def there() -> bool:
        request.refresh_from_db()
        return request.state in wanted

    wait_for(there, timeout=timeout, what=f"request {request.short_id} to reach {sorted(wanted)}",
             explain=lambda: describe(request))
    return request


@pytest.fixture
def reconcile_now(settings: Any) -> Callable[..., list[str]]:
    """Run the reconciler in this process (as beat would), with a short stale limit."""
    from connectivity import provisioning

    settings.RECONCILE_STALE_AFTER = int(WORKER_ENV["RECONCILE_STALE_AFTER"])

    def run() -> list[str]:
        return provisioning.requests_reconcile()

    return run


# --- The worker -------------------------------------------------------------------------------


@dataclass
class WorkerProcess:
    """A real Celery worker in its own process group, so SIGKILL takes all its threads."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    launching: bool = False  # launched, not yet seen ready

    def start(self, *, env: dict[str, str] | None = None, timeout: float = 40) -> None:
        """Start the worker (or take over the spare launched for this ``env``) and wait until
        it is ready."""
        wanted = dict(env or {})
        if self.alive and not self.launching:
            return
        if self.alive and self.extra_env != wanted:  # a spare launched for other settings
            self.kill()
        if not self.alive:
            self.launch(env=wanted)
        self._wait_ready(timeout)

    def launch(self, *, env: dict[str, str] | None = None) -> None:
        """Start the process without waiting for it: the next ``start`` waits for it then (a
        worker takes a second or two to import everything, time another test can use)."""
        self.extra_env = dict(env or {})
        self.starts += 1
        self.launching = True
        log = self.log_path.open("ab")
        log.write(f"\n--- worker start {self.starts} ---\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "threads",
             "--concurrency", "4", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"stack-{os.getpid()}-{self.starts}@%h"],
            cwd=ROOT, env={**self.env, **self.extra_env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        marker = f"stack-{os.getpid()}-{self.starts}@"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            tail = text.rsplit("--- worker start", 1)[-1]
            if marker in tail and " ready." in tail:
                self.launching = False
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the Celery worker did not start:\n{self.log()}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, no warning: unacked messages stay unacked, locks stay held."""
        if self.alive:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)

    def log(self, lines: int = 80) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _test_database_url() -> str:
    from django.db import connection

    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + str(connection.settings_dict["NAME"])))


@pytest.fixture(scope="session")
def _worker_process(django_db_setup: None, django_db_blocker: Any,
                    stack_simulator: AzureSimulator,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    import redis

    redis_url = os.environ["REDIS_URL"]
    redis.Redis.from_url(redis_url).flushdb()  # no messages left over from an earlier run
    with django_db_blocker.unblock():
        database_url = _test_database_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "AZURE_SIMULATOR": "true",
        "AZURE_ARM_ENDPOINT": stack_simulator.base_url,
        "AZURE_AUTHORITY_HOST": stack_simulator.base_url,
        "AZURE_CA_BUNDLE": stack_simulator.ca_path,
        "PYTHONUNBUFFERED": "1",
        **WORKER_ENV,
    }
    worker = WorkerProcess(env=env, log_path=tmp_path_factory.mktemp("worker") / "worker.log")
    yield worker
    worker.stop()


@pytest.fixture
def stack_worker(_worker_process: WorkerProcess, transactional_db: None,
                  azure_stack: Stack, settings: Any) -> Iterator[WorkerProcess]:
    """A running worker for this test, stopped at its end (a test may kill and start it)."""
    for name, value in WORKER_ENV.items():
        if name.startswith(("PROVISIONING_", "RECONCILE_", "GRANT_", "VNET_")):
            setattr(settings, name, float(value) if "." in value else int(value))
    import redis

    _worker_process.start()
    yield _worker_process
    # Gone before the database is flushed, and at once: a warm shutdown waits 1-2 s for the
    # broker's poll. A SIGKILLed worker's sockets close with it, so PostgreSQL rolls back its
    # transactions and frees its row locks before the flush needs them (the chaos suite kills
    # workers mid-task all the time). Then drop whatever it left queued.
    _worker_process.kill()
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    # When the next test wants a worker too, a spare starts importing while this test's
    # database is flushed (the broker was just emptied: there is nothing for it to take). Only
    # then: a worker idling through other tests would run whatever they send to the broker.
    following = _following_test[0]
    if (following is not None and "stack_worker" in getattr(following, "fixturenames", ())
            and following.get_closest_marker("skip") is None):
        _worker_process.launch()


#: The test pytest runs after the one tearing down (set before its fixtures are torn down).
_following_test: list[Any] = [None]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    _following_test[0] = nextitem
