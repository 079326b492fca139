"""Workers never wait on Azure: a step starts a long-running operation and returns; a later run
reads the resource. Pre-flight that just passed is reused, and one read tells a Connected pair."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connectivity.kinds import vnet_peering
from connectivity.models import ConnectivityRequest, RequestState
from tests.factories import PeeringRequestFactory, PrivateDnsRequestFactory
from tests.provisioning_helpers import drive, step
from tests.stack import CUSTOMER_VNET_NAME, customer_vnet_id

pytestmark = pytest.mark.django_db
S = RequestState


@pytest.fixture
def approved_peering(sim_cluster, azure_stack, customer) -> ConnectivityRequest:
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.APPROVED)
    azure_stack.grant(request)
    return request


def _peering_state(stack, vnet_id: str) -> str:
    return stack.peerings_on(vnet_id)[0]["properties"]["provisioningState"]


def test_a_peering_step_starts_the_operation_and_moves_on_at_once(
        approved_peering, azure_stack, scheduler, django_capture_on_commit_callbacks):
    azure_stack.set_faults(lro_duration=30)  # each side takes 30 s in Azure
    step(approved_peering, django_capture_on_commit_callbacks)  # pre-flight
    sent = len(scheduler.sent)
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])
    # The cluster side was only started, so the same task started the customer side too.
    assert approved_peering.step == "wait_connected"
    assert _peering_state(azure_stack, azure_stack.cluster_vnet_id) == "Updating"
    assert _peering_state(azure_stack, customer_vnet_id()) == "Updating"
    assert len(scheduler.sent) == sent + 1  # one message: for wait_connected
    # ... sent for when Azure's Retry-After says a read can tell more (capped by POLL_MAX).
    assert 20 < scheduler.last[1] <= 30
    done = approved_peering.events.filter(action="step_done").order_by("id")
    cluster_side, customer_side = done[len(done) - 2], done[len(done) - 1]
    assert cluster_side.message.startswith(
        f"Peering {vnet_peering.cluster_peering_name(approved_peering)} ")
    assert customer_side.message.startswith(
        f"Peering {vnet_peering.customer_peering_name(approved_peering)} ")
    # Both sides were started at once; each entry holds the Azure request id of its own PUT.
    assert len(cluster_side.azure_request_ids) == 1
    assert len(customer_side.azure_request_ids) == 1
    assert cluster_side.azure_request_ids != customer_side.azure_request_ids
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])
    # Still being created: the request polls later instead of a worker waiting 30 s.
    assert approved_peering.state == S.PROVISIONING and approved_peering.step == "wait_connected"
    assert "Waiting for both sides" in approved_peering.status_message
    assert scheduler.last[1] > 0  # scheduled again after a while


def test_a_zone_and_its_link_are_started_then_read_on_later_runs(
        sim_cluster, azure_stack, scheduler, django_capture_on_commit_callbacks):
    azure_stack.set_faults(lro_duration=30)
    request = PrivateDnsRequestFactory(cluster=sim_cluster, state=S.PROVISIONING, step="zone",
                                       zone_name="nb.contoso.internal",
                                       records=[{"name": "db", "ip": "10.20.1.4"}])
    step(request, django_capture_on_commit_callbacks)
    assert request.step == "zone" and "Started creating" in request.status_message
    step(request, django_capture_on_commit_callbacks)
    assert request.step == "zone" and "is creating" in request.status_message
    azure_stack.set_faults(lro_duration=0)
    _finish_operations(azure_stack)  # Azure is done with the zone meanwhile
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE


def _finish_operations(stack) -> None:
    state = stack.simulator.state
    with state.lock:
        for operation in state.operations.values():
            operation.done_at = 0.0


def test_a_pre_flight_that_just_passed_is_reused(
        approved_peering, azure_stack, scheduler, django_capture_on_commit_callbacks):
    from connectivity import kinds

    checks, _ = kinds.preflight(approved_peering)
    assert all(c["status"] == "pass" for c in checks)
    verified_at = timezone.now()
    ConnectivityRequest.objects.filter(pk=approved_peering.pk).update(
        preflight=checks, preflight_ran_at=verified_at)
    step(approved_peering, django_capture_on_commit_callbacks)
    assert approved_peering.preflight_ran_at == verified_at  # nothing read from Azure again
    done = list(approved_peering.events.filter(action="step_done").order_by("id")
                .values_list("message", flat=True))
    assert "not repeated" in done[0]
    # The reuse called no Azure, so the same task went on to start both sides; one message
    # went to the broker, for the step after that.
    assert approved_peering.step == "wait_connected" and "Peering cp-" in done[1]
    assert len(done) == 3 and len(scheduler.sent) == 1


def test_a_stale_pre_flight_runs_again(
        approved_peering, azure_stack, scheduler, django_capture_on_commit_callbacks):
    ConnectivityRequest.objects.filter(pk=approved_peering.pk).update(
        preflight=[{"key": "role_granted", "label": "x", "status": "pass", "message": ""}],
        preflight_ran_at=timezone.now() - timedelta(hours=1))
    step(approved_peering, django_capture_on_commit_callbacks)
    assert approved_peering.step == "cluster_peering"
    keys = {c["key"] for c in approved_peering.preflight}
    assert {"control_proved", "address_space"} <= keys  # read from Azure again


def test_a_side_whose_provisioning_failed_is_created_again(
        approved_peering, azure_stack, scheduler, django_capture_on_commit_callbacks):
    azure_stack.set_faults(lro_failure_rate=1.0)
    step(approved_peering, django_capture_on_commit_callbacks)  # pre-flight
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])  # both sides
    azure_stack.set_faults(lro_failure_rate=0.0)
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])  # reads Failed
    assert approved_peering.step == "cluster_peering"
    assert "Failed; creating it again" in approved_peering.events.order_by("-id").first().message
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    assert len(azure_stack.peerings_on(azure_stack.cluster_vnet_id)) == 1
    assert vnet_peering.cluster_peering_name(request) == \
        azure_stack.peerings_on(azure_stack.cluster_vnet_id)[0]["name"]


# --- ARM calls per peering --------------------------------------------------------------------


@pytest.fixture
def arm_calls(azure_stack, monkeypatch) -> list[str]:
    """``METHOD path`` of every ARM call the simulator answers from now on."""
    calls: list[str] = []
    arm = azure_stack.simulator.arm
    handle = arm.handle

    def counted(request):
        calls.append(f"{request.method} {request.path}".lower())
        return handle(request)

    monkeypatch.setattr(arm, "handle", counted)
    return calls


def _verified(request: ConnectivityRequest) -> None:
    """What the customer's verify leaves seconds before an auto-approval."""
    from connectivity import kinds

    checks, _ = kinds.preflight(request)
    assert all(c["status"] == "pass" for c in checks), checks
    ConnectivityRequest.objects.filter(pk=request.pk).update(
        preflight=checks, preflight_ran_at=timezone.now())


def _peering_reads(calls: list[str], vnet_id: str) -> list[str]:
    prefix = f"get {vnet_id.lower()}/virtualnetworkpeerings/"
    return [c for c in calls if c.startswith(prefix)]


def test_an_auto_approved_peering_takes_two_writes_and_one_read(
        approved_peering, azure_stack, arm_calls, scheduler,
        django_capture_on_commit_callbacks):
    _verified(approved_peering)
    arm_calls.clear()
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    puts = [c for c in arm_calls if c.startswith("put ")]
    assert len(puts) == 2 and len(arm_calls) == 3, arm_calls
    assert _peering_reads(arm_calls, azure_stack.cluster_vnet_id) == [arm_calls[-1]]
    # What the connections view shows comes from that read: the cluster side's state and sync
    # level, the customer side Connected as the cluster side reports it, and the customer
    # VNet's address space (which forwarding rules depend on).
    status = request.connection_status
    assert status.health == "ok"
    ours, theirs = status.parts
    assert (ours["state"], ours["sync_level"]) == ("Connected", "FullyInSync")
    assert theirs["name"] == vnet_peering.customer_peering_name(request)
    assert theirs["state"] == "Connected"
    customer_vnet = next(v for v in azure_stack.resources("virtualNetworks")
                         if v["id"].lower() == customer_vnet_id().lower())
    assert status.address_prefixes == customer_vnet["properties"]["addressSpace"]["addressPrefixes"]
    # The customer side was written with the grant seconds ago: no revoke check at activation
    # (the periodic revoke watch checks it), and none of the proof or role reads again.
    assert scheduler.revoke_checks == []
    assert not [c for c in arm_calls if "microsoft.authorization" in c]


def test_while_the_cluster_side_is_being_created_only_it_is_read(
        approved_peering, azure_stack, arm_calls, scheduler,
        django_capture_on_commit_callbacks):
    azure_stack.set_faults(lro_duration=30)
    _verified(approved_peering)
    step(approved_peering, django_capture_on_commit_callbacks)  # pre-flight reused, both sides
    assert approved_peering.step == "wait_connected"
    arm_calls.clear()
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])
    assert approved_peering.step == "wait_connected"
    assert "Waiting for both sides" in approved_peering.status_message
    assert "Updating" in approved_peering.status_message
    assert arm_calls == _peering_reads(arm_calls, azure_stack.cluster_vnet_id)
    assert len(arm_calls) == 1


def _resumed_long_after(request: ConnectivityRequest) -> None:
    """As if an approver retried it at wait_connected long after its sides were written."""
    from datetime import timedelta as td

    request.events.update(created_at=timezone.now() - td(hours=2))
    ConnectivityRequest.objects.filter(pk=request.pk).update(
        state=S.PROVISIONING, step="wait_connected", preflight_ran_at=timezone.now() - td(hours=2))


def test_a_peering_resumed_long_after_reads_the_customer_side_instead_of_a_revoke_check(
        approved_peering, azure_stack, arm_calls, scheduler,
        django_capture_on_commit_callbacks):
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    _resumed_long_after(request)
    arm_calls.clear()
    step(request, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    assert len(_peering_reads(arm_calls, customer_vnet_id())) == 1 and len(arm_calls) == 2
    theirs = request.connection_status.parts[1]
    assert (theirs["state"], theirs["sync_level"]) == ("Connected", "FullyInSync")
    assert scheduler.revoke_checks == []  # the read with the grant answered that


def test_a_peering_resumed_after_the_grant_went_is_active_and_its_revoke_check_completes_it(
        approved_peering, azure_stack, scheduler, django_capture_on_commit_callbacks):
    from connectivity import provisioning

    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    _resumed_long_after(request)
    azure_stack.revoke()
    step(request, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    assert request.connection_status.parts[1]["state"] == "Connected"  # as the cluster side says
    assert scheduler.revoke_checks == [str(request.pk)]
    provisioning.request_revoke_check(request_id=str(request.pk))
    request.refresh_from_db()
    assert request.state == S.COMPLETED and request.grant_revoked_at


def test_a_customer_side_failing_alone_is_the_customer_steps_to_retry(
        approved_peering, azure_stack, scheduler, django_capture_on_commit_callbacks):
    """Both sides are PUT at once; when only the customer's fails, the cluster side is recorded
    and the customer step retries (and says so), as if it had made the call itself."""
    azure_stack.set_faults(rules=[{"method": "PUT", "path_contains": CUSTOMER_VNET_NAME + "/",
                                   "status": 500, "count": 1}])
    step(approved_peering, django_capture_on_commit_callbacks)  # pre-flight
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])
    assert approved_peering.step == "customer_peering"
    assert approved_peering.azure_resources.get("cluster_peering_id")
    retry = approved_peering.events.get(action="retry_scheduled")
    assert retry.message.startswith("Step customer_peering, attempt 1:")
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE, request.status_message
    assert len(azure_stack.peerings_on(customer_vnet_id())) == 1
    assert len(azure_stack.peerings_on(azure_stack.cluster_vnet_id)) == 1
