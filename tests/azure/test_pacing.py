"""Pacing ARM calls: the buckets (local and in Redis, shared by processes), ARM's feedback
(remaining-budget headers, 429 Retry-After), and bursts through the real azure-mgmt clients
against the simulator that are paced here instead of throttled there."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from connectivity.azure import gateway, pacing
from connectivity.azure.errors import TransientAzureError
from connectivity.azure.pacing import Limit, LocalBuckets, RedisBuckets
from connectivity.azure.simulator import AzureSimulator
from tests.azure import gateway_fixtures
from tests.azure.conftest import (
    CLUSTER_VNET_ID,
    PLATFORM_APP,
    PLATFORM_SUB,
    PLATFORM_TENANT,
    raw_request,
)

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL=redis://...")
gateway_sim = gateway_fixtures.gateway_sim  # the fixture, for this module
OTHER_SUB = "77777777-7777-4777-8777-777777777777"


# --- the buckets ------------------------------------------------------------------------------


def buckets_under_test() -> list[Any]:
    params = [pytest.param("local", id="local")]
    params.append(pytest.param("redis", id="redis", marks=needs_redis))
    return params


@pytest.fixture(params=buckets_under_test())
def buckets(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "local":
        yield LocalBuckets()
        return
    shared = RedisBuckets(REDIS_URL)
    yield shared
    shared.clear()


def key() -> str:
    return pacing.bucket_key(PLATFORM_APP, str(uuid.uuid4()), "writes")


def test_a_burst_is_served_then_calls_wait_for_the_refill(buckets: Any) -> None:
    limit, k = Limit(burst=5, rate=10.0), key()
    assert [buckets.take(k, limit, 0.0) for _ in range(5)] == [0.0] * 5
    due = buckets.take(k, limit, 0.0)
    assert due < 0 and 0.05 <= -due <= 0.1  # one token in 1/10 s, none reserved
    wait = buckets.take(k, limit, 0.5)
    assert 0.05 <= wait <= 0.1  # reserved: the caller sleeps this long, then goes
    # The reservation is owed: the next caller waits behind it.
    assert 0.15 <= buckets.take(k, limit, 0.5) <= 0.2


def test_tokens_come_back_at_the_rate(buckets: Any) -> None:
    limit, k = Limit(burst=3, rate=20.0), key()
    for _ in range(3):
        buckets.take(k, limit, 0.0)
    time.sleep(0.11)  # 2.2 tokens
    assert buckets.take(k, limit, 0.0) == 0.0
    assert buckets.take(k, limit, 0.0) == 0.0
    assert buckets.take(k, limit, 0.0) < 0


def test_lower_takes_arms_word_when_fewer_remain(buckets: Any) -> None:
    limit, k = Limit(burst=100, rate=0.001), key()
    buckets.lower(k, limit, 2)
    assert [buckets.take(k, limit, 0.0) >= 0 for _ in range(3)] == [True, True, False]
    buckets.lower(k, limit, 50)  # never raised by a header: ARM may lag our own takes
    assert buckets.take(k, limit, 0.0) < 0


def test_block_empties_the_bucket_until_retry_after(buckets: Any) -> None:
    limit, k = Limit(burst=100, rate=1000.0), key()
    buckets.block(k, limit, 0.3)
    due = -buckets.take(k, limit, 0.0)
    assert 0.25 <= due <= 0.31
    time.sleep(0.32)
    assert buckets.take(k, limit, 0.0) == 0.0


_TAKER = """
import sys
from connectivity.azure.pacing import Limit, RedisBuckets
buckets = RedisBuckets(sys.argv[1])
sys.stdin.readline()  # start together
taken = sum(buckets.take(sys.argv[2], Limit(40, 0.001), 0.0) >= 0 for _ in range(30))
print(taken)
"""


@needs_redis
def test_two_processes_share_one_redis_bucket() -> None:
    k = key()
    procs = [subprocess.Popen([sys.executable, "-c", _TAKER, REDIS_URL, k], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(0.5)
    outputs = [p.communicate("go\n", timeout=30)[0] for p in procs]
    taken = [int(out.strip()) for out in outputs]
    # 60 takes against one burst of 40: exactly 40 granted between the two processes.
    assert sum(taken) == 40 and all(t >= 10 for t in taken), taken
    RedisBuckets(REDIS_URL).clear()


def test_redis_away_falls_back_to_this_process(settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    limit, k = Limit(burst=1, rate=0.001), key()
    assert pacing.pacer().take(k, limit, 0.0) == 0.0
    started = time.perf_counter()
    assert pacing.pacer().take(k, limit, 0.0) < 0
    assert time.perf_counter() - started < 0.1  # Redis is not asked again at once


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("AZURE_PACING_WRITES", "lots", "AZURE_PACING_WRITES must be burst/per_second"),
    ("AZURE_PACING_READS", "0/25", "AZURE_PACING_READS needs a burst of at least 1"),
    ("AZURE_PACING_RESERVE", "1.5", "AZURE_PACING_RESERVE must be a share"),
])
def test_bad_pacing_settings_name_the_variable_and_the_rule(variable: str, value: str,
                                                            says: str) -> None:
    env = {**os.environ, variable: value}
    result = subprocess.run([sys.executable, "-c", "import portal.settings.base"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr
    assert says in result.stderr


# --- feedback from ARM, through the real clients against the simulator -----------------------


def vnet_get() -> Any:
    return gateway.vnet_get(vnet_id=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT)


def reads_bucket() -> float:
    return pacing.pacer().tokens(pacing.bucket_key(PLATFORM_APP, PLATFORM_SUB, "reads"),
                                 pacing.limits()["reads"])


class Counted:
    """Counts the simulator's ARM answers by status (injected faults included)."""

    def __init__(self, sim: AzureSimulator) -> None:
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        self._sim = sim
        self._respond = sim._respond

        def counted(method: str, path: str, *args: Any) -> Any:
            response = self._respond(method, path, *args)
            if path.lower().startswith("/subscriptions/"):
                with self._lock:
                    self.statuses.append(response.status)
            return response

        sim._respond = counted  # type: ignore[method-assign]

    def restore(self) -> None:
        self._sim._respond = self._respond  # type: ignore[method-assign]

    @property
    def throttled(self) -> int:
        return self.statuses.count(429)


@pytest.fixture
def counted(gateway_sim: AzureSimulator) -> Iterator[Counted]:
    counter = Counted(gateway_sim)
    yield counter
    counter.restore()


@pytest.mark.django_db
def test_fewer_remaining_in_arms_header_lowers_the_bucket(
        gateway_sim: AzureSimulator, counted: Counted, settings: Any) -> None:
    settings.AZURE_PACING_READS = (20, 0.001)
    settings.AZURE_PACING_MAX_WAIT = 0.0
    gateway_sim.control.set_faults(limits={"reads": [20, 0.001]})
    # Someone else signed in as the platform (a script, another deployment) reads 15 times.
    token = gateway_sim.control.token(PLATFORM_APP, PLATFORM_TENANT)
    for _ in range(15):
        raw_request(gateway_sim, "GET", f"{CLUSTER_VNET_ID}?api-version=2024-05-01", token=token)
    vnet_get()
    # ARM said 4 remain (20 - 15 - 1); the portal's bucket, which had counted 1 of its 18 (two
    # are ARM's reserve), keeps the reserve back from ARM's 4.
    assert 1.5 <= reads_bucket() <= 2.01
    for _ in range(2):
        vnet_get()
    with pytest.raises(TransientAzureError) as paced:
        vnet_get()
    assert paced.value.reason == "paced" and paced.value.retry_after
    assert counted.throttled == 0


@pytest.mark.django_db
def test_a_429_empties_the_bucket_until_retry_after(
        gateway_sim: AzureSimulator, counted: Counted, settings: Any) -> None:
    settings.AZURE_PACING_MAX_WAIT = 0.0
    gateway_sim.control.set_faults(rules=[{"method": "GET", "path_contains": "virtualNetworks",
                                           "status": 429, "retry_after": 3, "count": 1}])
    with pytest.raises(TransientAzureError) as throttled:
        vnet_get()
    assert throttled.value.reason != "paced"
    with pytest.raises(TransientAzureError) as paced:
        vnet_get()
    assert paced.value.reason == "paced" and 2.5 <= (paced.value.retry_after or 0) <= 3.1
    assert counted.statuses == [429]  # the second call never reached Azure


@pytest.mark.django_db
def test_a_busy_vnet_429_is_not_a_throttle(gateway_sim: AzureSimulator, counted: Counted,
                                           settings: Any) -> None:
    settings.AZURE_PACING_MAX_WAIT = 0.0
    gateway_sim.control.set_faults(rules=[{
        "method": "GET", "path_contains": "virtualNetworks", "status": 429, "retry_after": 3,
        "code": "RetryableErrorDueToAnotherOperation", "count": 1}])
    with pytest.raises(TransientAzureError):
        vnet_get()
    assert vnet_get().name  # the subscription's budget is untouched


# --- bursts -----------------------------------------------------------------------------------


def ensure_groups(subscription: str, names: list[str]) -> tuple[int, list[float]]:
    """Create each resource group, retrying a paced call after its retry_after, as the engine
    does; returns (paced calls, seconds each group took)."""
    paced, took = 0, []
    lock = threading.Lock()

    def one(name: str) -> float:
        nonlocal paced
        started = time.perf_counter()
        while True:
            try:
                gateway.resource_group_ensure(subscription_id=subscription, name=name,
                                              location="westeurope", tenant_id=PLATFORM_TENANT)
                return time.perf_counter() - started
            except TransientAzureError as exc:
                assert exc.reason == "paced", exc
                with lock:
                    paced += 1
                time.sleep(exc.retry_after or 0.1)

    with ThreadPoolExecutor(8) as pool:
        took = list(pool.map(one, names))
    return paced, took


@pytest.fixture
def two_subscriptions(gateway_sim: AzureSimulator, settings: Any) -> AzureSimulator:
    """The platform may create resource groups in its subscription and in a second one;
    ARM's write budget is 20 burst and 20 per second in both (ARM's, scaled down)."""
    state = gateway_sim.state
    with state.lock:
        state.add_subscription(OTHER_SUB, PLATFORM_TENANT)
    for sub in (PLATFORM_SUB, OTHER_SUB):
        gateway_sim.control.assign_role(scope=f"/subscriptions/{sub}", role="Contributor",
                                        tenant_id=PLATFORM_TENANT, app_id=PLATFORM_APP)
    gateway_sim.control.set_faults(limits={"writes": [20, 20.0]})
    settings.AZURE_PACING_WRITES = (20, 20.0)
    settings.AZURE_PACING_MAX_WAIT = 0.05
    return gateway_sim


@pytest.mark.django_db
def test_a_burst_over_the_write_budget_is_paced_not_throttled(
        two_subscriptions: AzureSimulator, counted: Counted) -> None:
    paced, _ = ensure_groups(PLATFORM_SUB, [f"rg-burst-{n}" for n in range(60)])
    assert counted.throttled == 0, counted.statuses
    assert paced > 0  # 60 writes against a burst of 20: many waited here, none at Azure
    assert counted.statuses.count(201) == 60


@pytest.mark.django_db
def test_another_subscription_is_not_slowed_by_a_busy_one(
        two_subscriptions: AzureSimulator, counted: Counted, settings: Any) -> None:
    two_subscriptions.control.set_faults(limits={"writes": [20, 2.0]})
    settings.AZURE_PACING_WRITES = (20, 2.0)
    ensure_groups(PLATFORM_SUB, [f"rg-fill-{n}" for n in range(18)])  # its write budget spent
    with pytest.raises(TransientAzureError):
        gateway.resource_group_ensure(subscription_id=PLATFORM_SUB, name="rg-one-more",
                                      location="westeurope", tenant_id=PLATFORM_TENANT)
    paced, took = ensure_groups(OTHER_SUB, [f"rg-other-{n}" for n in range(6)])
    assert paced == 0 and max(took) < 1.0
    assert counted.throttled == 0


@pytest.mark.django_db
def test_without_pacing_the_same_burst_is_throttled_by_azure(
        two_subscriptions: AzureSimulator, counted: Counted, settings: Any) -> None:
    settings.AZURE_PACING = False
    two_subscriptions.control.set_faults(limits={"writes": [20, 0.5]})
    failures = 0
    for n in range(30):
        try:
            gateway.resource_group_ensure(subscription_id=PLATFORM_SUB, name=f"rg-unpaced-{n}",
                                          location="westeurope", tenant_id=PLATFORM_TENANT)
        except TransientAzureError as exc:
            assert exc.reason != "paced"
            failures += 1
    assert counted.throttled > 0 and failures == counted.throttled


# --- the simulator reports the budget as ARM does ---------------------------------------------


def test_the_simulator_reports_the_remaining_budget_on_every_answer(sim: AzureSimulator) -> None:
    token = sim.control.token(PLATFORM_APP, PLATFORM_TENANT)
    missing = raw_request(sim, "GET", CLUSTER_VNET_ID.replace("vnet-cl1", "vnet-none")
                          + "?api-version=2024-05-01", token=token)
    assert missing.status == 404
    assert missing.headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
    assignments = raw_request(
        sim, "GET", f"/subscriptions/{PLATFORM_SUB}/providers/Microsoft.Authorization/"
        "roleAssignments?api-version=2022-04-01", token=token)
    assert assignments.status == 200
    assert assignments.headers["x-ms-ratelimit-remaining-subscription-reads"] == "248"
    deleted = raw_request(sim, "DELETE", f"/subscriptions/{PLATFORM_SUB}/resourcegroups/rg-none"
                          "?api-version=2021-04-01", token=token)
    assert deleted.headers["x-ms-ratelimit-remaining-subscription-deletes"] == "199"
