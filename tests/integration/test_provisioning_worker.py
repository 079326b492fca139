"""The whole workflow with a real Celery worker, Redis, Postgres and the Azure simulator.

Each test files requests through the services, as the portal and the API do, and watches the
database while the worker (a separate process) does the Azure work.
"""

from __future__ import annotations

import time

import pytest
import redis

from connectivity import services, tasks
from connectivity.kinds import vnet_peering
from connectivity.models import RequestKind, RequestState
from tests import test_kind_workload_identity as identity_grant
from tests.stack import (
    CUSTOMER_RESOURCE_GROUP,
    CUSTOMER_SUBSCRIPTION_ID,
    CUSTOMER_TENANT_ID,
    CUSTOMER_VNET_NAME,
    customer_vnet_id,
    wait_for,
    wait_for_state,
)

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.timeout(120)]
S = RequestState


def peering_fields(vnet_name: str = CUSTOMER_VNET_NAME) -> dict:
    return {"tenant_id": CUSTOMER_TENANT_ID, "subscription_id": CUSTOMER_SUBSCRIPTION_ID,
            "resource_group": CUSTOMER_RESOURCE_GROUP, "vnet_name": vnet_name}


FIELDS = {
    RequestKind.VNET_PEERING: peering_fields(),
    RequestKind.PRIVATE_DNS: {"zone_name": "db.contoso.internal",
                              "records": [{"name": "db", "ip": "10.20.1.4"}]},
    RequestKind.DNS_FORWARDING: {"domain_name": "corp.contoso.com", "dns_servers": ["10.20.0.4"]},
    RequestKind.HUB_CONNECTION: {"tenant_id": CUSTOMER_TENANT_ID,
                                 "subscription_id": CUSTOMER_SUBSCRIPTION_ID,
                                 "resource_group": CUSTOMER_RESOURCE_GROUP, "hub_name": "hub-contoso-weu"},
    RequestKind.WORKLOAD_IDENTITY: {"resource_id": identity_grant.STORAGE_ID,
                                    "role": identity_grant.READER},
}


def file_request(customer, cluster, kind, stack, *, grant=True, fields=None):
    """Create, submit and verify as the customer; returns the request (pending approval when
    every check passed)."""
    if kind == RequestKind.DNS_FORWARDING:  # forwarding needs a peered VNet to forward to
        stack.control.seed({"peerings": [
            {"vnet_id": stack.cluster_vnet_id, "name": "existing-a",
             "remote_vnet_id": customer_vnet_id()},
            {"vnet_id": customer_vnet_id(), "name": "existing-b",
             "remote_vnet_id": stack.cluster_vnet_id}]})
    if kind == RequestKind.PRIVATE_ENDPOINT and fields is None:  # a service that auto-approves
        from django.conf import settings

        from connectivity.azure.simulator import privatelink

        platform = settings.AZURE_PLATFORM_SUBSCRIPTION_ID
        service = privatelink.create_service(
            stack.control, tenant_id=CUSTOMER_TENANT_ID, subscription_id=CUSTOMER_SUBSCRIPTION_ID,
            resource_group=CUSTOMER_RESOURCE_GROUP, name="pls-contoso", visibility=[platform],
            auto_approval=[platform])
        fields = {"link_target": service["id"]}
    if kind == RequestKind.HUB_CONNECTION:  # the customer's virtual WAN hub
        from tests.test_kind_hub_connection import make_hub

        make_hub(stack)
    if kind == RequestKind.WORKLOAD_IDENTITY:  # the customer assigns the role to its identity
        identity_grant.prepare(stack, cluster)
    request = services.request_create(actor=customer, organization=customer.organization,
                                      cluster=cluster, kind=kind, fields=fields or FIELDS[kind])
    request = services.request_submit(request=request, actor=customer)
    if kind == RequestKind.VNET_PEERING:
        if grant:
            stack.grant(request)
        request = services.request_verify(request=request, actor=customer)
    if kind == RequestKind.HUB_CONNECTION:
        from tests.test_kind_hub_connection import grant_hub

        if grant:
            grant_hub(stack, request)
        request = services.request_verify(request=request, actor=customer)
    return request


def one_peering_each_side(stack) -> bool:
    return (len(stack.peerings_on(stack.cluster_vnet_id)) == 1
            and len(stack.peerings_on(customer_vnet_id())) == 1)


# A hub connection lives on the customer's hub: once they revoked the role, removing it is
# theirs to finish (tests/test_kind_hub_connection.py walks that path), so its life differs here.
@pytest.mark.parametrize("kind", [k for k in RequestKind if k != RequestKind.HUB_CONNECTION])
def test_happy_path_active_completed_removed(kind, stack_worker, azure_stack, customer,
                                             approver, sim_cluster):
    request = file_request(customer, sim_cluster, kind, azure_stack)
    assert request.state == S.PENDING_APPROVAL, request.preflight
    services.request_approve(request=request, actor=approver)
    wait_for_state(request, [S.ACTIVE, S.COMPLETED])  # nothing to revoke: DNS completes at once
    if kind == RequestKind.VNET_PEERING:
        assert one_peering_each_side(azure_stack)
        tasks.revoke_watch.delay()
        time.sleep(1)
        request.refresh_from_db()
        assert request.state == S.ACTIVE  # the role is still there
        azure_stack.revoke()
    tasks.revoke_watch.delay()
    wait_for_state(request, S.COMPLETED)
    services.request_teardown(request=request, actor=customer)
    wait_for_state(request, S.REMOVED)
    left = {RequestKind.VNET_PEERING: "virtualNetworkPeerings",
            RequestKind.PRIVATE_DNS: "privateDnsZones",
            RequestKind.DNS_FORWARDING: "forwardingRules",
            RequestKind.PRIVATE_ENDPOINT: "privateEndpoints",
            RequestKind.HUB_CONNECTION: "hubVirtualNetworkConnections",
            RequestKind.WORKLOAD_IDENTITY: "nothing-created"}[kind]
    ours = [r for r in azure_stack.resources(left) if "existing" not in r["name"]]
    if kind == RequestKind.VNET_PEERING:  # the role was revoked: their side is theirs to delete
        assert azure_stack.peerings_on(azure_stack.cluster_vnet_id) == []
        assert "az network vnet peering delete" in request.status_message
    else:
        assert ours == []


def test_authorization_failed_before_the_grant_then_success(stack_worker, azure_stack, customer,
                                                            approver, sim_cluster, settings):
    settings.GRANT_PROPAGATION_WINDOW = 1800
    request = file_request(customer, sim_cluster, RequestKind.VNET_PEERING, azure_stack,
                           grant=False)
    assert request.state == S.AWAITING_GRANT
    role = next(c for c in request.preflight if c["key"] == "role_granted")
    assert role["status"] == "pending"
    azure_stack.grant(request)
    request = services.request_verify(request=request, actor=customer)
    assert request.state == S.PENDING_APPROVAL
    # Azure refuses once more (a grant not yet everywhere): the customer is told, then resumes.
    azure_stack.set_faults(rules=[{
        "method": "PUT", "path_contains": "virtualNetworkPeerings", "status": 403,
        "code": "AuthorizationFailed", "count": 1,
        "message": "The client 'x' with object id 'x' does not have authorization to perform "
                   "action 'Microsoft.Network/virtualNetworks/peer/action' over scope "
                   f"'{customer_vnet_id()}' or the scope is invalid."}])
    services.request_approve(request=request, actor=approver)
    wait_for_state(request, S.ACTION_NEEDED)
    assert "peer/action" in request.status_message
    services.request_verify(request=request, actor=customer)
    wait_for_state(request, S.ACTIVE)
    assert one_peering_each_side(azure_stack)


def test_overlap_is_caught_in_preflight(stack_worker, azure_stack, customer, sim_cluster):
    from connectivity import demo

    request = file_request(customer, sim_cluster, RequestKind.VNET_PEERING, azure_stack,
                           fields=peering_fields(demo.CUSTOMER_OVERLAPPING_VNET_NAME))
    assert request.state == S.AWAITING_GRANT
    overlap = next(c for c in request.preflight if c["key"] == "address_space")
    assert overlap["status"] == "fail" and "overlaps 10.100.0.0/16" in overlap["message"]
    assert azure_stack.resources("virtualNetworkPeerings") == []


@pytest.mark.parametrize("kind", list(RequestKind))
def test_throttling_and_server_error_storm(kind, stack_worker, azure_stack, customer, approver,
                                           sim_cluster):
    request = file_request(customer, sim_cluster, kind, azure_stack)
    azure_stack.set_faults(error_rate=0.2, throttle_rate=0.2, throttle_retry_after=0.3,
                           busy_retry_after=0.3, seed=11, targets="non-polls",
                           rules=[{"status": 503, "count": 1},
                                  {"status": 429, "retry_after": 0.3, "count": 2}])
    services.request_approve(request=request, actor=approver)
    wait_for_state(request, [S.ACTIVE, S.COMPLETED], timeout=90)
    azure_stack.clear_faults()
    assert request.events.filter(action="retry_scheduled").exists()
    if kind == RequestKind.VNET_PEERING:
        assert one_peering_each_side(azure_stack)


def test_worker_killed_mid_step_then_restarted(stack_worker, azure_stack, customer, approver,
                                               sim_cluster, reconcile_now):
    request = file_request(customer, sim_cluster, RequestKind.VNET_PEERING, azure_stack)
    azure_stack.set_faults(latency_ms=700)
    services.request_approve(request=request, actor=approver)

    def creating() -> bool:
        request.refresh_from_db()
        return request.step in ("cluster_peering", "customer_peering")

    wait_for(creating, timeout=30, what="a peering step to start")
    time.sleep(1.0)  # inside the PUT or its long-running operation
    stack_worker.kill()
    azure_stack.clear_faults()
    stack_worker.start()
    wait_for(lambda: bool(reconcile_now()) or request.refresh_from_db() or request.state == S.ACTIVE,
             timeout=30, what="the reconciler to pick the request up")
    wait_for_state(request, S.ACTIVE, timeout=40)
    assert one_peering_each_side(azure_stack)
    assert request.events.filter(action="reconciled").exists()


def test_redis_flushed_mid_flow_the_reconciler_finishes(stack_worker, azure_stack, customer,
                                                        approver, sim_cluster, reconcile_now):
    import os

    request = file_request(customer, sim_cluster, RequestKind.VNET_PEERING, azure_stack)
    azure_stack.set_faults(rules=[{"method": "PUT", "path_contains": "virtualNetworkPeerings",
                                   "status": 429, "retry_after": 4, "count": 1}])
    services.request_approve(request=request, actor=approver)
    wait_for(lambda: request.events.filter(action="retry_scheduled").exists(), timeout=30,
             what="a retry to be scheduled")
    stack_worker.stop()  # a warm shutdown puts the waiting retry back into Redis ...
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # ... which loses it
    stack_worker.start()
    time.sleep(5)
    request.refresh_from_db()
    assert request.state == S.PROVISIONING  # nothing left to nudge it
    assert reconcile_now() == [str(request.pk)]
    wait_for_state(request, S.ACTIVE)
    assert one_peering_each_side(azure_stack)


def test_drift_to_degraded_and_back(stack_worker, azure_stack, customer, approver, sim_cluster):
    request = file_request(customer, sim_cluster, RequestKind.VNET_PEERING, azure_stack)
    services.request_approve(request=request, actor=approver)
    wait_for_state(request, S.ACTIVE)
    azure_stack.control.delete_peering(vnet_id=customer_vnet_id(),
                                       name=vnet_peering.customer_peering_name(request))
    last_sent = [0.0]

    def degraded() -> bool:
        # As beat does every DRIFT_CHECK_EVERY: a check Azure did not answer is tried again.
        if time.monotonic() - last_sent[0] > 5:
            tasks.drift_check.delay()
            last_sent[0] = time.monotonic()
        request.refresh_from_db()
        return request.state == S.DEGRADED

    wait_for(degraded, timeout=60, what="the health check to mark the peering degraded")
    services.request_verify(request=request, actor=customer)  # the role is still granted
    wait_for_state(request, S.ACTIVE, timeout=60)
    assert one_peering_each_side(azure_stack)
    states = {p["properties"]["peeringState"] for p in azure_stack.resources("virtualNetworkPeerings")}
    assert states == {"Connected"}
