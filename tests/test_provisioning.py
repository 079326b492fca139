"""The provisioning engine against the simulator, one task run at a time (no broker)."""

from __future__ import annotations

import pytest
from django.core import mail

from connectivity import provisioning, services
from connectivity.azure import pacing
from connectivity.kinds import vnet_peering
from connectivity.models import RequestState
from tests.factories import (
    DnsForwardingRequestFactory,
    PeeringRequestFactory,
    PrivateDnsRequestFactory,
)
from tests.provisioning_helpers import drive, step
from tests.stack import CUSTOMER_VNET_NAME, customer_vnet_id

pytestmark = pytest.mark.django_db
S = RequestState


@pytest.fixture
def approved_peering(sim_cluster, azure_stack, customer):
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.APPROVED)
    azure_stack.grant(request)
    return request


def peering_counts(stack) -> tuple[int, int]:
    return len(stack.peerings_on(stack.cluster_vnet_id)), len(stack.peerings_on(customer_vnet_id()))


# --- happy paths and idempotency --------------------------------------------------------------


def test_peering_reaches_active_with_one_connected_peering_each_side(
        approved_peering, azure_stack, scheduler, django_capture_on_commit_callbacks):
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE and request.activated_at
    assert peering_counts(azure_stack) == (1, 1)
    ours = azure_stack.peerings_on(azure_stack.cluster_vnet_id)[0]
    assert ours["properties"]["peeringState"] == "Connected"
    assert request.azure_resources["cluster_peering_id"] == ours["id"]
    assert request.azure_resources["customer_peering_id"]
    steps = request.events.filter(action="step_done")
    assert steps.count() >= 3 and all(e.azure_request_ids for e in steps)
    assert any("Active" in m.subject for m in mail.outbox)
    # The customer side was written with the grant moments ago, so a revoke check now would only
    # find the role in place: the periodic revoke watch checks it instead.
    assert scheduler.revoke_checks == []


def test_every_peering_step_run_twice_creates_nothing_twice(
        approved_peering, azure_stack, scheduler, django_capture_on_commit_callbacks):
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    first = dict(request.azure_resources)
    for name in ("cluster_peering", "customer_peering", "wait_connected"):
        type(request).objects.filter(pk=request.pk).update(state=S.PROVISIONING, step=name)
        step(request, django_capture_on_commit_callbacks)
        step(request, django_capture_on_commit_callbacks)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    assert peering_counts(azure_stack) == (1, 1)
    assert request.azure_resources == first


def test_private_dns_zone_records_and_link(sim_cluster, azure_stack, scheduler,
                                           django_capture_on_commit_callbacks):
    request = PrivateDnsRequestFactory(
        cluster=sim_cluster, state=S.APPROVED, zone_name="db.contoso.internal",
        records=[{"name": "db", "ip": "10.20.1.4"}, {"name": "db", "ip": "10.20.1.5"},
                 {"name": "cache", "ip": "10.20.1.6"}])
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    # No grant to wait for: the revoke check at activation completes it (no Azure call).
    assert scheduler.revoke_checks == [str(request.pk)]
    zones = azure_stack.resources("privateDnsZones")
    assert [z["name"] for z in zones] == ["db.contoso.internal"]
    records = {r["name"]: r for r in azure_stack.resources("privateDnsZones/A")}
    assert sorted(a["ipv4Address"] for a in records["db"]["properties"]["aRecords"]) == [
        "10.20.1.4", "10.20.1.5"]
    links = azure_stack.resources("privateDnsZones/virtualNetworkLinks")
    assert links[0]["properties"]["virtualNetwork"]["id"].lower() == sim_cluster.vnet_id.lower()
    # Twice more from the start: still one zone, one link, two record sets.
    type(request).objects.filter(pk=request.pk).update(state=S.PROVISIONING, step="zone")
    drive(request, scheduler, django_capture_on_commit_callbacks)
    assert len(azure_stack.resources("privateDnsZones")) == 1
    assert len(azure_stack.resources("privateDnsZones/virtualNetworkLinks")) == 1
    assert len(azure_stack.resources("privateDnsZones/A")) == 2


def test_forwarding_rule(sim_cluster, azure_stack, scheduler, django_capture_on_commit_callbacks):
    cluster_vnet = azure_stack.cluster_vnet_id
    azure_stack.control.seed({"peerings": [
        {"vnet_id": cluster_vnet, "name": "a", "remote_vnet_id": customer_vnet_id()},
        {"vnet_id": customer_vnet_id(), "name": "b", "remote_vnet_id": cluster_vnet}]})
    request = DnsForwardingRequestFactory(cluster=sim_cluster, state=S.APPROVED,
                                          domain_name="corp.contoso.com", dns_servers=["10.20.0.4"])
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE, request.status_message
    rules = azure_stack.resources("forwardingRules")
    assert len(rules) == 1
    assert rules[0]["properties"]["domainName"] == "corp.contoso.com."


# --- errors -----------------------------------------------------------------------------------


def test_throttling_retries_later_no_sooner_than_retry_after(
        approved_peering, azure_stack, scheduler, django_capture_on_commit_callbacks):
    type(approved_peering).objects.filter(pk=approved_peering.pk).update(
        state=S.PROVISIONING, step="cluster_peering")
    azure_stack.set_faults(rules=[{"method": "PUT", "path_contains": "virtualNetworkPeerings",
                                   "status": 429, "retry_after": 7, "count": 1}])
    step(approved_peering, django_capture_on_commit_callbacks)
    assert approved_peering.state == S.PROVISIONING
    assert approved_peering.attempts == 1
    assert scheduler.last[1] >= 7
    assert "throttling" in approved_peering.status_message
    assert approved_peering.events.filter(action="retry_scheduled").exists()
    # Run early, the step does not call Azure before its Retry-After (connectivity.azure.pacing).
    step(approved_peering, django_capture_on_commit_callbacks)
    assert approved_peering.state == S.PROVISIONING
    assert approved_peering.status_message.startswith("Azure is busy")
    pacing.reset()  # as if the 7 s had passed
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE and peering_counts(azure_stack) == (1, 1)


def test_server_error_storm_is_survived(approved_peering, azure_stack, scheduler, settings,
                                        django_capture_on_commit_callbacks):
    settings.PROVISIONING_MAX_ATTEMPTS = 60
    azure_stack.set_faults(error_rate=0.25, throttle_rate=0.15, throttle_retry_after=0.01, seed=3)
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks, max_steps=200)
    assert request.state == S.ACTIVE, request.status_message
    azure_stack.clear_faults()
    assert peering_counts(azure_stack) == (1, 1)


def test_backoff_grows_with_jitter_and_honours_retry_after(settings):
    settings.PROVISIONING_RETRY_BASE = 2
    settings.PROVISIONING_RETRY_MAX = 60
    assert 1 <= provisioning.backoff(1) <= 2
    assert 8 <= provisioning.backoff(4) <= 16
    assert 30 <= provisioning.backoff(12) <= 60
    assert provisioning.backoff(1, retry_after=20) >= 20


def test_revoked_role_waits_for_the_customer_then_resumes(
        approved_peering, azure_stack, scheduler, customer, no_enqueue,
        django_capture_on_commit_callbacks):
    type(approved_peering).objects.filter(pk=approved_peering.pk).update(
        state=S.PROVISIONING, step="cluster_peering")
    azure_stack.revoke()
    step(approved_peering, django_capture_on_commit_callbacks)
    assert approved_peering.state == S.ACTION_NEEDED
    assert approved_peering.step == "cluster_peering"
    # Checked before any write: the proof of control is no longer readable; the message says
    # what to run.
    assert "Proof of control" in approved_peering.status_message
    assert "az role assignment create" in approved_peering.status_message
    assert any("Action needed" in m.subject for m in mail.outbox)
    azure_stack.grant(approved_peering)
    resumed = services.request_verify(request=approved_peering, actor=customer)
    assert resumed.state == S.PROVISIONING and no_enqueue == [str(resumed.pk)]
    request = drive(resumed, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE and peering_counts(azure_stack) == (1, 1)


def test_failing_preflight_before_provisioning_needs_the_customer(
        sim_cluster, azure_stack, scheduler, django_capture_on_commit_callbacks, settings):
    settings.GRANT_PROPAGATION_WINDOW = 0
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.APPROVED)  # approved, but the role is gone
    step(request, django_capture_on_commit_callbacks)
    assert request.state == S.ACTION_NEEDED
    assert "Pre-flight" in request.status_message
    assert peering_counts(azure_stack) == (0, 0)


def test_permanent_error_fails_and_staff_retry_resumes(
        approved_peering, azure_stack, scheduler, approver, no_enqueue,
        django_capture_on_commit_callbacks):
    type(approved_peering).objects.filter(pk=approved_peering.pk).update(
        state=S.PROVISIONING, step="customer_peering")
    azure_stack.set_faults(rules=[{"method": "PUT", "path_contains": "virtualNetworkPeerings",
                                   "status": 400, "code": "InvalidRequestFormat",
                                   "message": "Something Azure will not do.", "count": 1}])
    step(approved_peering, django_capture_on_commit_callbacks)
    assert approved_peering.state == S.FAILED
    assert "Something Azure will not do" in approved_peering.status_message
    assert approved_peering.step == "customer_peering"
    retried = services.request_retry(request=approved_peering, actor=approver)
    request = drive(retried, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE


def test_transient_errors_fail_after_the_attempt_limit(
        approved_peering, azure_stack, scheduler, settings, django_capture_on_commit_callbacks):
    settings.PROVISIONING_MAX_ATTEMPTS = 2
    type(approved_peering).objects.filter(pk=approved_peering.pk).update(
        state=S.PROVISIONING, step="cluster_peering")
    azure_stack.set_faults(rules=[{"method": "PUT", "status": 503, "count": 10}])
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.FAILED and "kept failing" in request.status_message


def test_a_busy_vnet_waits_without_touching_azure(
        approved_peering, azure_stack, scheduler, django_capture_on_commit_callbacks):
    from connectivity import leases

    type(approved_peering).objects.filter(pk=approved_peering.pk).update(
        state=S.PROVISIONING, step="cluster_peering")
    with leases.held(provisioning.vnet_lease_name(azure_stack.cluster_vnet_id),
                     "another-request", ttl=30):
        step(approved_peering, django_capture_on_commit_callbacks)
    assert approved_peering.state == S.PROVISIONING and approved_peering.attempts == 0
    assert 1 <= scheduler.last[1] <= 3
    assert peering_counts(azure_stack) == (0, 0)


def test_a_superseded_task_does_nothing(approved_peering, azure_stack, scheduler,
                                        django_capture_on_commit_callbacks):
    step(approved_peering, django_capture_on_commit_callbacks)  # preflight → cluster_peering
    stale_token = scheduler.last[2]
    step(approved_peering, django_capture_on_commit_callbacks)  # a token-less duplicate runs
    at = approved_peering.step
    step(approved_peering, django_capture_on_commit_callbacks, token=stale_token)
    assert approved_peering.step == at


def test_a_crashing_step_is_retried_then_failed(approved_peering, azure_stack, scheduler,
                                                monkeypatch, settings,
                                                django_capture_on_commit_callbacks):
    from connectivity import tasks

    settings.PROVISIONING_MAX_ATTEMPTS = 1

    def boom(request):
        raise RuntimeError("bug")

    monkeypatch.setitem(provisioning.ENGINE_STEPS, "preflight", boom)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.request_advance(str(approved_peering.pk))
    approved_peering.refresh_from_db()
    assert approved_peering.state == S.FAILED
    assert "RuntimeError: bug" in approved_peering.status_message


# --- teardown ---------------------------------------------------------------------------------


def test_peering_teardown_removes_both_sides(approved_peering, azure_stack, scheduler, customer,
                                             no_enqueue, django_capture_on_commit_callbacks):
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    request = services.request_teardown(request=request, actor=customer)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.REMOVED
    assert peering_counts(azure_stack) == (0, 0)
    assert any("Removed" in m.subject for m in mail.outbox)


def test_teardown_tolerates_what_is_already_gone(approved_peering, azure_stack, scheduler,
                                                 customer, no_enqueue,
                                                 django_capture_on_commit_callbacks):
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)

    azure_stack.control.delete_peering(vnet_id=customer_vnet_id(),
                                       name=vnet_peering.customer_peering_name(request))
    request = services.request_teardown(request=request, actor=customer)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.REMOVED and peering_counts(azure_stack) == (0, 0)


def test_teardown_after_revocation_tells_the_customer_to_delete_their_side(
        approved_peering, azure_stack, scheduler, customer, no_enqueue,
        django_capture_on_commit_callbacks):
    request = drive(approved_peering, scheduler, django_capture_on_commit_callbacks)
    azure_stack.revoke()
    request = services.request_teardown(request=request, actor=customer)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.REMOVED
    assert peering_counts(azure_stack) == (0, 1)
    assert "az network vnet peering delete" in request.status_message


def test_dns_and_forwarding_teardown(sim_cluster, azure_stack, scheduler, customer, no_enqueue,
                                     django_capture_on_commit_callbacks):
    zone = drive(PrivateDnsRequestFactory(cluster=sim_cluster, state=S.APPROVED), scheduler,
                 django_capture_on_commit_callbacks)
    zone = drive(services.request_teardown(request=zone, actor=customer), scheduler,
                 django_capture_on_commit_callbacks)
    assert zone.state == S.REMOVED and azure_stack.resources("privateDnsZones") == []
    cluster_vnet = azure_stack.cluster_vnet_id
    azure_stack.control.seed({"peerings": [
        {"vnet_id": cluster_vnet, "name": "a", "remote_vnet_id": customer_vnet_id()},
        {"vnet_id": customer_vnet_id(), "name": "b", "remote_vnet_id": cluster_vnet}]})
    rule = drive(DnsForwardingRequestFactory(cluster=sim_cluster, state=S.APPROVED), scheduler,
                 django_capture_on_commit_callbacks)
    rule = drive(services.request_teardown(request=rule, actor=customer), scheduler,
                 django_capture_on_commit_callbacks)
    assert rule.state == S.REMOVED and azure_stack.resources("forwardingRules") == []
