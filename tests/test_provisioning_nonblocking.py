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
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])
    assert approved_peering.step == "customer_peering"
    assert _peering_state(azure_stack, azure_stack.cluster_vnet_id) == "Updating"
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])
    assert approved_peering.step == "wait_connected"
    assert _peering_state(azure_stack, customer_vnet_id()) == "Updating"
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
    assert approved_peering.step == "cluster_peering"
    assert "not repeated" in approved_peering.events.order_by("-id").first().message
    assert approved_peering.preflight_ran_at == verified_at  # nothing read from Azure again


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
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])  # ours
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])  # theirs
    azure_stack.set_faults(lro_failure_rate=0.0)
    step(approved_peering, django_capture_on_commit_callbacks, scheduler.last[2])  # reads Failed
    assert approved_peering.step == "cluster_peering"
    assert "Failed; creating it again" in approved_peering.events.order_by("-id").first().message
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    assert len(azure_stack.peerings_on(azure_stack.cluster_vnet_id)) == 1
    assert vnet_peering.cluster_peering_name(request) == \
        azure_stack.peerings_on(azure_stack.cluster_vnet_id)[0]["name"]
