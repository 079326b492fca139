"""Provisioning under faults: killed workers, a wiped and restarted broker, a misbehaving
Azure, a customer revoking the role mid-way, and database connections cut by the server.

What a user would notice is the end state: every approved request becomes `active` (both
peerings exist exactly once; a Private Link endpoint, its connection on the customer's resource,
the organisation's privatelink zone and link, a hub connection and its peering on the cluster
VNet, each once) or waits in a state that tells the customer or support what to do; none hangs
silently and none is provisioned twice. Each scenario is bounded in time and count
and adds a row to the table printed at the end of the session (see conftest.py).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.chaos.conftest import (
    RECONCILE_STALE_AFTER,
    SETTLED_ACTIONABLE,
    STILL_WORKING,
    ChaosStack,
    World,
    peerings_between,
)

S_ACTIVE, S_ACTION_NEEDED = "active", "action_needed"


def _missing_workflow() -> str | None:
    from connectivity import provisioning, tasks

    needed = {"connectivity/provisioning.py: request_advance": hasattr(provisioning, "request_advance"),
              "connectivity/provisioning.py: requests_reconcile":
                  hasattr(provisioning, "requests_reconcile"),
              "connectivity/tasks.py: reconcile": hasattr(tasks, "reconcile")}
    from tests.chaos import conftest

    needed["tests/stack.py (the shared stack fixtures)"] = conftest.shared_stack is not None
    missing = [name for name, present in needed.items() if not present]
    if missing:
        return "the provisioning workflow has not landed: missing " + ", ".join(missing)
    return None


pytestmark = [
    pytest.mark.chaos,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
    pytest.mark.skipif(_missing_workflow() is not None, reason=str(_missing_workflow())),
]


def _settled(world: World, requests: list[Any]) -> bool:
    return not (set(world.states(requests)) & STILL_WORKING)


def _with_crashes(stack: ChaosStack, faults: str) -> str:
    """The injected faults, plus any process that died of them and was restarted."""
    crashes = stack.crashes()
    return f"{faults}; {crashes} crash(es) restarted" if crashes else faults


def _explain(world: World, stack: ChaosStack) -> str:
    return "\n".join(getattr(world, "problems", [])) + "\n" + stack.logs()


def test_fifty_approvals_at_once_survive_twenty_worker_kills(world: World, stack: ChaosStack) -> None:
    requests = world.verified_peerings(50)
    # Short simulated Azure: each long-running operation takes 0.2 s. All 50 cluster-side
    # peerings are on one VNet, which Azure (and the workflow) writes one at a time.
    stack.simulator.control.set_faults(lro_duration=0.2)
    world.approve_all(requests)

    kills, next_kill = 0, time.monotonic() + 1.5

    def kill_a_worker() -> None:
        nonlocal kills, next_kill
        if kills < 20 and time.monotonic() >= next_kill:
            victim = stack.workers[kills % 2]
            victim.kill()
            victim.start()
            kills += 1
            next_kill = time.monotonic() + 2.0

    stack.wait(lambda: kills >= 20 and _settled(world, requests), timeout=150,
               during=kill_a_worker)
    result = world.judge("50 approvals, worker SIGKILLed", requests,
                         _with_crashes(stack, f"{kills} x SIGKILL"))

    assert kills == 20
    assert result.active == 50, _explain(world, stack)
    assert result.duplicated == 0, _explain(world, stack)


def test_a_flushed_and_restarted_redis_loses_no_work(world: World, stack: ChaosStack) -> None:
    requests = world.verified_peerings(20)
    stack.simulator.control.set_faults(lro_duration=0.3)
    world.approve_all(requests)
    # Mid-run: some work done, the rest queued or in flight.
    assert stack.wait(lambda: world.states(requests)[S_ACTIVE] < 20
                      and len(peerings_between(stack.simulator)) >= 4, timeout=30)
    stack.redis.flushall_and_restart()

    stack.wait(lambda: _settled(world, requests), timeout=90)
    result = world.judge("Redis FLUSHALL + restart", requests,
                         _with_crashes(stack, "1 x FLUSHALL, 1 x restart"))

    assert result.active == 20, _explain(world, stack)
    assert result.duplicated == 0, _explain(world, stack)
    # The workers reconnected by themselves: no supervisor had to restart one.
    assert stack.crashes() == 0, _explain(world, stack)


def test_a_misbehaving_azure_leaves_no_request_silently_stuck(world: World, stack: ChaosStack) -> None:
    requests = world.verified_peerings(20)
    stack.simulator.control.set_faults(
        seed=7, lro_duration=0.3, throttle_rate=0.10, throttle_retry_after=0.2, error_rate=0.20,
        error_statuses=[500, 503], lro_failure_rate=0.10)
    world.approve_all(requests)

    stack.wait(lambda: _settled(world, requests), timeout=120)
    stack.simulator.control.clear_faults()
    result = world.judge("Azure 30% 429/500/503, 10% failed LROs", requests,
                         _with_crashes(stack, stack.faults.summary()))

    assert result.lost == 0, _explain(world, stack)
    assert result.active + result.actionable == 20
    assert result.duplicated == 0, _explain(world, stack)
    assert stack.faults.counts, "the simulator injected no faults: the scenario proved nothing"


def test_a_revoked_role_waits_for_the_grant_and_resumes_after_it(
    world: World, stack: ChaosStack
) -> None:
    from connectivity import services
    from connectivity.models import ConnectivityRequest

    requests = world.verified_peerings(5)
    stack.simulator.control.set_faults(lro_duration=1.0)
    world.approve_all(requests)
    cluster_vnet = world.cluster.vnet_id.lower()
    # Mid-provisioning: the platform's side of a peering exists, the customer's not yet.
    assert stack.wait(lambda: any(vnet == cluster_vnet
                                  for vnet, _ in peerings_between(stack.simulator)), timeout=30)
    assert world.revoke() == 1

    stack.wait(lambda: _settled(world, requests), timeout=60)
    waiting = list(ConnectivityRequest.objects.filter(
        pk__in=[r.pk for r in requests], state=S_ACTION_NEEDED))
    assert waiting, f"no request noticed the revoked role: {world.states(requests)}"
    for request in waiting:
        assert "grant" in request.status_message.lower() or "role" in request.status_message.lower()
    # It waits: the reconciler does not churn a request only the customer can unblock.
    time.sleep(RECONCILE_STALE_AFTER * 2)
    assert world.states(waiting)[S_ACTION_NEEDED] == len(waiting)

    world.grant()
    for request in waiting:
        services.request_verify(request=request, actor=world.customer)  # "I granted it again"
    stack.wait(lambda: world.states(requests)[S_ACTIVE] == 5, timeout=60)
    result = world.judge("role revoked mid-provisioning, re-granted", requests,
                         _with_crashes(stack, f"1 x role revoked ({len(waiting)} waited)"))

    assert result.active == 5, _explain(world, stack)
    assert result.duplicated == 0, _explain(world, stack)


def test_database_connections_cut_mid_task_are_retried(world: World, stack: ChaosStack) -> None:
    requests = world.verified_peerings(10)
    # Steps no longer wait for operations, so a task holds its connection only while it calls
    # ARM: slow ARM calls keep connections open long enough to be cut.
    stack.simulator.control.set_faults(lro_duration=0.3, latency_ms=300)
    world.approve_all(requests)

    terminated, cuts, next_cut = 0, 0, time.monotonic() + 0.3

    def cut_connections() -> None:
        nonlocal terminated, cuts, next_cut
        if cuts < 10 and time.monotonic() >= next_cut:
            terminated += stack.terminate_worker_connections()
            cuts += 1
            next_cut = time.monotonic() + 0.7

    stack.wait(lambda: _settled(world, requests), timeout=90, during=cut_connections)
    result = world.judge("Postgres backends terminated", requests,
                         _with_crashes(stack, f"{terminated} connections cut in {cuts} rounds"))

    assert terminated > 0, "no worker connection was open to cut"
    assert result.active == 10, _explain(world, stack)
    assert result.duplicated == 0, _explain(world, stack)
    assert not (set(world.states(requests)) & SETTLED_ACTIONABLE)


def test_a_worker_killed_holding_a_vnet_lease_blocks_it_only_briefly(
        world: World, stack: ChaosStack) -> None:
    """Every request here writes to the same cluster VNet, one at a time under its lease. Both
    workers are SIGKILLed while one holds it: the lease (VNET_LOCK_TTL, 30 s, renewed only by
    a live holder) lapses by itself, so the rest go on within a minute or so; a lease that
    outlived its holder for its whole length (240 s before) would not settle in time."""
    from connectivity import leases
    from connectivity.kinds.base import vnet_lease_name

    requests = world.verified_peerings(8)
    stack.simulator.control.set_faults(latency_ms=250, lro_duration=0.3)
    world.approve_all(requests)
    key = leases.KEY_PREFIX + vnet_lease_name(world.cluster.vnet_id)
    redis = stack.redis.client()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not redis.exists(key):
        time.sleep(0.005)
    assert redis.exists(key), "no worker ever held the cluster VNet's lease"
    for worker in stack.workers:
        worker.kill()
    killed_at = time.monotonic()

    settled = stack.wait(lambda: _settled(world, requests), timeout=150)
    blocked_for = time.monotonic() - killed_at
    result = world.judge("worker killed holding a VNet lease", requests,
                         _with_crashes(stack, f"2 x SIGKILL with the lease held; settled "
                                              f"{blocked_for:.0f} s later"))

    assert settled, _explain(world, stack)
    assert result.active == 8, _explain(world, stack)
    assert result.duplicated == 0, _explain(world, stack)


def test_private_endpoints_and_hub_connections_survive_worker_kills(
        world: World, stack: ChaosStack) -> None:
    """Endpoints wait for the customer's approval (polled, never waited on by a worker) and
    hub connections run minutes-long operations: workers SIGKILLed meanwhile must leave each
    endpoint, connection and hub peering existing once, the organisation's privatelink zone
    and its link once, and every request active."""
    endpoints = world.pending_private_endpoints(6)
    hubs = world.verified_hub_connections(4)
    requests = [*endpoints, *hubs]
    stack.simulator.control.set_faults(
        lro_duration=0.3, lro_durations={"hubVirtualNetworkConnections": 1.0})
    world.approve_all(requests)

    kills, busy_kills, next_kill, approvals = 0, 0, time.monotonic() + 1.0, 0

    def kill_a_worker_and_approve() -> None:
        nonlocal kills, busy_kills, next_kill, approvals
        approvals += world.approve_endpoint_connections()  # the customer, at their own pace
        if kills < 8 and time.monotonic() >= next_kill:
            if set(world.states(requests)) & STILL_WORKING:
                busy_kills += 1
            victim = stack.workers[kills % 2]
            victim.kill()
            victim.start()
            kills += 1
            next_kill = time.monotonic() + 1.5

    stack.wait(lambda: kills >= 8 and _settled(world, requests), timeout=150,
               during=kill_a_worker_and_approve)
    result = world.judge_kinds("6 Private Link endpoints + 4 hub connections, worker SIGKILLed",
                               requests, _with_crashes(stack, f"{kills} x SIGKILL, {busy_kills} "
                                                              "while provisioning"))

    assert kills == 8
    assert busy_kills >= 2, "the workers were killed only after the work was done"
    assert approvals >= len(endpoints), "the customer approved fewer connections than filed"
    assert result.active == len(requests), _explain(world, stack)
    assert result.duplicated == 0, _explain(world, stack)


def test_canceled_and_wrapped_azure_errors_leave_new_kinds_active_or_actionable(
        world: World, stack: ChaosStack) -> None:
    """Operations that end Canceled (superseded by another on the same resource), some that
    fail, and 5xx and throttling answers with their specific codes wrapped in error.details[]
    under a generic RetryableError, as real traffic shows them."""
    endpoints = world.pending_private_endpoints(5)
    hubs = world.verified_hub_connections(3)
    requests = [*endpoints, *hubs]
    stack.simulator.control.set_faults(
        seed=11, lro_duration=0.3, lro_cancel_rate=0.3, lro_failure_rate=0.1, wrap_errors=True,
        error_rate=0.15, error_statuses=[500, 503], throttle_rate=0.05, throttle_retry_after=0.2)
    world.approve_all(requests)

    stack.wait(lambda: _settled(world, requests), timeout=150,
               during=world.approve_endpoint_connections)
    stack.simulator.control.clear_faults()
    result = world.judge_kinds("Private Link + hubs, 30% canceled, wrapped 5xx/429",
                               requests, _with_crashes(stack, stack.faults.summary()))

    assert result.lost == 0, _explain(world, stack)
    assert result.active + result.actionable == len(requests), _explain(world, stack)
    assert result.duplicated == 0, _explain(world, stack)
    assert stack.faults.counts["canceled LRO"], (
        "no operation was canceled: the scenario proved nothing")
