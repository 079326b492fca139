"""The Virtual WAN hub connection kind, cross-tenant through the simulator: the customer's hub
in the demo's customer tenant, the cluster VNet in the platform's; the real azure-mgmt clients;
the engine driven step by step as a worker would (tests.provisioning_helpers)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from connectivity import provisioning, services
from connectivity.azure import gateway, roles
from connectivity.azure.simulator import vwan
from connectivity.kinds import hub_connection
from connectivity.models import ConnectionStatus, ConnectivityRequest, RequestState, User
from tests.api.conftest import client_with, make_token
from tests.provisioning_helpers import WORK, Scheduler, step
from tests.stack import (
    CUSTOMER_RESOURCE_GROUP,
    CUSTOMER_SUBSCRIPTION_ID,
    CUSTOMER_TENANT_ID,
    Stack,
)

pytestmark = pytest.mark.django_db
S = RequestState
HUB = "hub-contoso-weu"
HUB_ID = (f"/subscriptions/{CUSTOMER_SUBSCRIPTION_ID}/resourceGroups/{CUSTOMER_RESOURCE_GROUP}"
          f"/providers/Microsoft.Network/virtualHubs/{HUB}")


def make_hub(stack: Stack, name: str = HUB, prefix: str = "10.250.0.0/23",
             routing_state: str = "Provisioned") -> None:
    vwan.control_create_wan(stack.control, tenant_id=CUSTOMER_TENANT_ID,
                            subscription_id=CUSTOMER_SUBSCRIPTION_ID,
                            resource_group=CUSTOMER_RESOURCE_GROUP, name="wan-contoso")
    vwan.control_create_hub(stack.control, tenant_id=CUSTOMER_TENANT_ID,
                            subscription_id=CUSTOMER_SUBSCRIPTION_ID,
                            resource_group=CUSTOMER_RESOURCE_GROUP, name=name,
                            address_prefix=prefix, virtual_wan="wan-contoso",
                            routing_state=routing_state)


def grant_hub(stack: Stack, request: ConnectivityRequest | None = None, *, name: str = HUB,
              proof: str | None = None) -> None:
    """What the grant page's commands do: the hub role on the hub, the proof in its description."""
    hub = roles.CustomerHub(CUSTOMER_TENANT_ID, CUSTOMER_SUBSCRIPTION_ID,
                            CUSTOMER_RESOURCE_GROUP, name)
    vwan.control_grant_hub(stack.control, tenant_id=CUSTOMER_TENANT_ID,
                           subscription_id=CUSTOMER_SUBSCRIPTION_ID,
                           resource_group=CUSTOMER_RESOURCE_GROUP, hub_name=name,
                           app_id=settings.AZURE_CLIENT_ID,
                           proof=proof if proof is not None else request.proof,  # type: ignore[union-attr]
                           role_definition=roles.role_definition(hub))


def revoke_hub(stack: Stack, name: str = HUB) -> None:
    stack.control.revoke(tenant_id=CUSTOMER_TENANT_ID, app_id=settings.AZURE_CLIENT_ID,
                         scope=HUB_ID.replace(HUB, name))


def payload(cluster: Any, **extra: Any) -> dict[str, Any]:
    return {"cluster": cluster.pk, "kind": "hub_connection", "tenant_id": CUSTOMER_TENANT_ID,
            "hub_id": HUB_ID, **extra}


def create(customer: User, cluster: Any, **fields: Any) -> ConnectivityRequest:
    base = {"tenant_id": CUSTOMER_TENANT_ID, "subscription_id": CUSTOMER_SUBSCRIPTION_ID,
            "resource_group": CUSTOMER_RESOURCE_GROUP, "hub_name": HUB, **fields}
    return services.request_create(actor=customer, organization=customer.organization,  # type: ignore[arg-type]
                                   cluster=cluster, kind="hub_connection", fields=base)


def checks_of(request: ConnectivityRequest) -> dict[str, dict[str, Any]]:
    request.refresh_from_db()
    return {c["key"]: c for c in request.preflight}


def run(request: ConnectivityRequest, capture: Any, scheduler: Scheduler,
        max_steps: int = 300) -> ConnectivityRequest:
    """The engine's chain until the request leaves the working states (as ``drive``), a little
    time between polls so the simulator's long-running operations can finish."""
    token = None
    for _ in range(max_steps):
        step(request, capture, token)
        if request.state not in WORK:
            return request
        token = scheduler.last[2] if scheduler.sent else None
        time.sleep(0.02)
    raise AssertionError(f"still {request.state} at {request.step}: {request.status_message}")


@pytest.fixture
def approved(sim_cluster, azure_stack, scheduler, customer, approver,
             django_capture_on_commit_callbacks):
    def make(**fields: Any) -> ConnectivityRequest:
        request = create(customer, sim_cluster, **fields)
        services.request_submit(request=request, actor=customer)
        grant_hub(azure_stack, request)
        request = services.request_verify(request=request, actor=customer)
        assert request.state == S.PENDING_APPROVAL, checks_of(request)
        return services.request_approve(request=request, actor=approver)
    make_hub(azure_stack)
    return make


@pytest.fixture
def active(approved, azure_stack, scheduler, django_capture_on_commit_callbacks):
    azure_stack.set_faults(lro_durations={"hubVirtualNetworkConnections": 0.3})
    request = run(approved(), django_capture_on_commit_callbacks, scheduler)
    assert request.state == S.ACTIVE, request.status_message
    return request


def cluster_hub_peering(stack: Stack) -> gateway.VNetPeering | None:
    return gateway.hub_peering(gateway.vnet_get(vnet_id=stack.cluster_vnet_id,
                                                tenant_id=settings.AZURE_PLATFORM_TENANT_ID))


# --- the API ----------------------------------------------------------------------------------


def test_api_creates_it_from_the_hub_id_and_an_outsider_gets_404(
        sim_cluster, customer, outsider, azure_stack):
    api = client_with(make_token(customer))
    response = api.post("/api/v1/requests/", payload(sim_cluster, propagated_route_tables=[
        "defaultRouteTable"]), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "hub_connection" and body["state"] == S.AWAITING_GRANT
    request = ConnectivityRequest.objects.get(pk=body["id"])
    assert (request.subscription_id, request.resource_group, request.hub_name) == (
        CUSTOMER_SUBSCRIPTION_ID, CUSTOMER_RESOURCE_GROUP, HUB)
    assert request.propagated_route_tables == ["defaultRouteTable"]

    grant = api.get(f"/api/v1/requests/{request.pk}/grant/").json()
    assert grant["needed"] is True and grant["scope"] == HUB_ID
    assert "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections/write" in (
        grant["role_definition"]["Actions"])
    assert request.proof in grant["grant_script"]
    assert grant["revoke_command"].startswith("az role assignment delete") and HUB_ID in (
        grant["revoke_command"])

    stranger = client_with(make_token(outsider))
    assert stranger.get(f"/api/v1/requests/{request.pk}/").status_code == 404
    assert stranger.get(f"/api/v1/requests/{request.pk}/grant/").status_code == 404
    assert stranger.post(f"/api/v1/requests/{request.pk}/verify-grant/").status_code == 404
    outsider_cluster = stranger.post("/api/v1/requests/", payload(sim_cluster), format="json")
    assert outsider_cluster.status_code == 400 and "cluster" in outsider_cluster.json()["errors"]


@pytest.mark.parametrize(("extra", "field", "words"), [
    ({"hub_id": "/subscriptions/x/hubs"}, "hub_id", "virtual hub resource id looks like"),
    ({"hub_id": HUB_ID, "hub_name": "other"}, "hub_id", "not both"),
    ({"associated_route_table": f"{HUB_ID}/hubRouteTables/defaultRouteTable"},
     "associated_route_table", "not its id"),
    ({"propagated_route_tables": ["a", "A"]}, "propagated_route_tables", "listed twice"),
    ({"propagated_route_tables": "defaultRouteTable"}, "propagated_route_tables", "list"),
    ({"tenant_id": settings.AZURE_PLATFORM_TENANT_ID}, "tenant_id", "not the platform's"),
])
def test_api_refuses_bad_input_naming_the_field(sim_cluster, customer, extra, field, words):
    response = client_with(make_token(customer)).post(
        "/api/v1/requests/", payload(sim_cluster, **extra), format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors and words in " ".join(errors[field]), errors


def test_a_hub_in_the_platform_subscription_is_refused_at_create(sim_cluster, customer):
    with pytest.raises(ValidationError) as caught:
        create(customer, sim_cluster, subscription_id=settings.AZURE_PLATFORM_SUBSCRIPTION_ID)
    assert "subscription_id" in caught.value.message_dict


# --- pre-flight -------------------------------------------------------------------------------


def test_preflight_reads_nothing_of_the_hub_until_this_request_proves_control(
        sim_cluster, azure_stack, customer):
    make_hub(azure_stack)
    request = create(customer, sim_cluster)
    services.request_submit(request=request, actor=customer)
    grant_hub(azure_stack, proof="cpp-" + "0" * 32)  # someone else's proof
    request = services.request_verify(request=request, actor=customer)
    checks = checks_of(request)
    assert request.state == S.AWAITING_GRANT
    assert checks["app_in_tenant"]["status"] == "pass"
    assert checks["control_proved"]["status"] == "fail"
    assert request.proof in checks["control_proved"]["message"]
    assert "az role assignment update" in checks["control_proved"]["message"]
    for key in ("role_granted", "hub_ready", "address_space", "one_hub", "route_tables"):
        assert checks[key]["status"] == "pending" and "10.250" not in checks[key]["message"]

    grant_hub(azure_stack, request)  # appends this request's proof
    request = services.request_verify(request=request, actor=customer)
    assert request.state == S.PENDING_APPROVAL, checks_of(request)
    assert "10.250.0.0/23" in checks_of(request)["hub_ready"]["message"]


def test_preflight_fails_on_overlap_missing_route_table_and_unprovisioned_hub(
        sim_cluster, azure_stack, customer):
    make_hub(azure_stack, prefix="10.100.4.0/23", routing_state="Provisioning")
    request = create(customer, sim_cluster, associated_route_table="rt-spokes")
    services.request_submit(request=request, actor=customer)
    grant_hub(azure_stack, request)
    request = services.request_verify(request=request, actor=customer)
    checks = checks_of(request)
    assert request.state == S.AWAITING_GRANT
    assert checks["role_granted"]["status"] == "pass"
    assert checks["hub_ready"]["status"] == "fail"
    assert "routing Provisioning" in checks["hub_ready"]["message"]
    assert checks["address_space"]["status"] == "fail"
    assert "10.100.4.0/23" in checks["address_space"]["message"]
    assert checks["route_tables"]["status"] == "fail"
    assert "rt-spokes" in checks["route_tables"]["message"]
    assert "defaultRouteTable" in checks["route_tables"]["message"]


def test_preflight_fails_when_the_cluster_vnet_is_connected_to_another_hub(
        sim_cluster, azure_stack, customer):
    make_hub(azure_stack)
    make_hub(azure_stack, name="hub-other", prefix="10.251.0.0/23")
    grant_hub(azure_stack, name="hub-other", proof="cpp-" + "1" * 32)
    gateway.hub_connection_create(
        hub_id=HUB_ID.replace(HUB, "hub-other"), name="older", remote_vnet_id=azure_stack.cluster_vnet_id,
        tenant_id=CUSTOMER_TENANT_ID, remote_tenant_id=settings.AZURE_PLATFORM_TENANT_ID)
    request = create(customer, sim_cluster)
    services.request_submit(request=request, actor=customer)
    grant_hub(azure_stack, request)
    services.request_verify(request=request, actor=customer)
    check = checks_of(request)["one_hub"]
    assert check["status"] == "fail" and "another virtual hub" in check["message"]


# --- provisioning, health, removal ------------------------------------------------------------


def test_it_goes_active_with_the_connection_succeeded_and_the_cluster_peering_connected(
        active, azure_stack, customer):
    from django.test import Client

    connection = gateway.hub_connection_get(
        hub_id=HUB_ID, name=hub_connection.connection_name(active), tenant_id=CUSTOMER_TENANT_ID)
    assert connection is not None and connection.succeeded
    assert connection.remote_vnet_id.lower() == azure_stack.cluster_vnet_id.lower()
    assert connection.associated_route_table_id.endswith("/defaultRouteTable")  # type: ignore[union-attr]
    peering = cluster_hub_peering(azure_stack)
    assert peering is not None and peering.connected
    assert active.azure_resources["hub_connection_id"] == connection.id
    assert active.events.filter(action="activated").exists()
    assert ConnectionStatus.objects.get(request=active).health == ConnectionStatus.Health.OK

    client = Client()
    client.force_login(customer)
    dashboard = client.get("/").content.decode()  # the connections view
    assert HUB in dashboard and "Succeeded, Connected" in dashboard


def test_named_route_tables_are_used(approved, azure_stack, scheduler,
                                     django_capture_on_commit_callbacks):
    request = run(approved(associated_route_table="defaultRouteTable",
                           propagated_route_tables=["noneRouteTable"]),
                  django_capture_on_commit_callbacks, scheduler)
    assert request.state == S.ACTIVE
    connection = gateway.hub_connection_get(
        hub_id=HUB_ID, name=hub_connection.connection_name(request), tenant_id=CUSTOMER_TENANT_ID)
    assert connection is not None
    assert [t.rsplit("/", 1)[-1] for t in connection.propagated_route_table_ids] == [
        "noneRouteTable"]


def test_a_provisioning_write_without_the_proof_writes_nothing(
        approved, azure_stack, scheduler, django_capture_on_commit_callbacks, settings):
    request = approved()
    revoke_hub(azure_stack)
    grant_hub(azure_stack, proof="cpp-" + "2" * 32)  # the grant now carries another proof
    settings.GRANT_PROPAGATION_WINDOW = 0
    # Minutes after pre-flight: the proof read then no longer covers the write.
    ConnectivityRequest.objects.filter(pk=request.pk).update(
        preflight_ran_at=timezone.now() - timedelta(minutes=5))
    request = run(request, django_capture_on_commit_callbacks, scheduler)
    assert request.state == S.ACTION_NEEDED
    assert "proof" in request.status_message.lower()
    assert azure_stack.resources("hubVirtualNetworkConnections") == []


def test_customer_deleting_the_connection_degrades_it_and_removal_then_finishes(
        active, azure_stack, scheduler, customer, django_capture_on_commit_callbacks):
    vwan.control_delete_hub_connection(azure_stack.control, hub_id=HUB_ID,
                                       name=hub_connection.connection_name(active))
    provisioning.request_drift_check(request_id=str(active.pk))
    active.refresh_from_db()
    assert active.state == S.DEGRADED
    assert "no longer working" in active.status_message
    status = ConnectionStatus.objects.get(request=active)
    assert status.health == ConnectionStatus.Health.DEGRADED

    request = services.request_teardown(request=active, actor=customer)
    request = run(request, django_capture_on_commit_callbacks, scheduler)
    assert request.state == S.REMOVED, request.status_message


def test_removal_deletes_the_connection_and_the_revoke_check_completes_after_revocation(
        active, azure_stack, scheduler, customer, django_capture_on_commit_callbacks):
    assert "az role assignment delete" in active.kind_def.revoke_command(active)
    request = services.request_teardown(request=active, actor=customer)
    request = run(request, django_capture_on_commit_callbacks, scheduler)
    assert request.state == S.REMOVED, request.status_message
    assert azure_stack.resources("hubVirtualNetworkConnections") == []
    assert cluster_hub_peering(azure_stack) is None

    with django_capture_on_commit_callbacks(execute=True):
        provisioning.revoke_watch()
    request.refresh_from_db()
    assert request.grant_revoked_at is None  # the role is still there: reminded
    revoke_hub(azure_stack)
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.revoke_watch()
    request.refresh_from_db()
    assert request.grant_revoked_at is not None
    assert request.events.filter(action="grant_revoked").exists()


def test_active_then_revoked_goes_completed_and_removal_without_the_grant_names_the_delete_command(
        active, azure_stack, scheduler, customer, approver,
        django_capture_on_commit_callbacks):
    revoke_hub(azure_stack)
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.request_revoke_check(request_id=str(active.pk))
    active.refresh_from_db()
    assert active.state == S.COMPLETED

    # Still healthy without the role: the cluster VNet's peering speaks for the connection.
    provisioning.request_drift_check(request_id=str(active.pk))
    active.refresh_from_db()
    assert active.state == S.COMPLETED

    request = run(services.request_teardown(request=active, actor=customer),
                  django_capture_on_commit_callbacks, scheduler)
    assert request.state == S.FAILED
    assert hub_connection.delete_command(request) in request.status_message
    assert len(azure_stack.resources("hubVirtualNetworkConnections")) == 1  # nothing written

    vwan.control_delete_hub_connection(azure_stack.control, hub_id=HUB_ID,
                                       name=hub_connection.connection_name(request))
    request = services.request_retry(request=request, actor=approver)
    request = run(request, django_capture_on_commit_callbacks, scheduler)
    assert request.state == S.REMOVED, request.status_message


def test_console_plan_names_the_connection_on_the_customer_hub(sim_cluster, customer):
    request = create(customer, sim_cluster)
    plan = request.kind_def.planned_resources(request)
    assert plan[0].resource_id == hub_connection.connection_id(request)
    assert plan[0].resource_id.startswith(HUB_ID + "/hubVirtualNetworkConnections/cp-")
    assert "customer subscription" in plan[0].where



# --- the pages --------------------------------------------------------------------------------


def test_wizard_request_page_grant_page_and_console_show_the_hub(
        sim_cluster, customer, outsider, approver):
    from django.test import Client

    from tests.console.conftest import mfa_signed_in

    client = Client()
    client.force_login(customer)
    assert 'data-kind="hub_connection"' in client.get("/requests/new/").content.decode()
    response = client.post("/requests/new/", {
        "cluster": str(sim_cluster.pk), "kind": "hub_connection",
        "hub_connection-tenant_id": CUSTOMER_TENANT_ID,
        "hub_connection-hub_resource_id": HUB_ID,
        "hub_connection-propagated_route_tables": "defaultRouteTable, noneRouteTable"})
    assert response.status_code == 302, response.content.decode()[:2000]
    request = ConnectivityRequest.objects.get(kind="hub_connection")
    assert request.hub_name == HUB
    assert request.propagated_route_tables == ["defaultRouteTable", "noneRouteTable"]

    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert HUB in page and "defaultRouteTable, noneRouteTable" in page
    grant = client.get(f"/requests/{request.pk}/grant/").content.decode()
    assert "az role assignment create" in grant and request.proof in grant
    assert "Connectivity Portal Virtual Hub Connection" in grant
    assert "The connection lives on your virtual hub" in grant and "A peering has two" not in grant
    script = client.get(f"/requests/{request.pk}/grant/grant.sh").content.decode()
    assert HUB_ID in script and request.proof in script

    stranger = Client()
    stranger.force_login(outsider)
    for path in ("", "grant/", "grant/grant.sh", "status/"):
        assert stranger.get(f"/requests/{request.pk}/{path}").status_code == 404

    console = mfa_signed_in(approver).get(f"/console/requests/{request.pk}/").content.decode()
    assert hub_connection.connection_name(request) in console


# --- pre-flight: each of the checks -----------------------------------------------------


def verified(customer: User, cluster: Any, stack: Stack, **fields: Any) -> ConnectivityRequest:
    request = create(customer, cluster, **fields)
    services.request_submit(request=request, actor=customer)
    grant_hub(stack, request)
    return services.request_verify(request=request, actor=customer)


def test_preflight_fails_when_the_hub_is_gone(sim_cluster, azure_stack, customer):
    make_hub(azure_stack)
    request = verified(customer, sim_cluster, azure_stack)
    assert request.state == S.PENDING_APPROVAL
    vwan.control_delete_hub(azure_stack.control, hub_id=HUB_ID)  # the role assignment stays
    request = services.request_verify(request=request, actor=customer)
    checks = checks_of(request)
    assert request.state == S.AWAITING_GRANT
    assert checks["hub_ready"]["status"] == "fail"
    assert HUB in checks["hub_ready"]["message"]
    for key in ("address_space", "one_hub", "route_tables"):
        assert checks[key]["status"] == "pending"
        assert "Checked once the hub can be read" in checks[key]["message"]


def test_preflight_finds_an_overlap_with_a_vnet_already_connected_to_the_hub(
        sim_cluster, azure_stack, customer):
    from connectivity import demo

    make_hub(azure_stack)
    spoke = demo.CUSTOMER_OVERLAPPING_VNET_NAME  # 10.100.128.0/20, inside the cluster's /16
    spoke_id = (f"/subscriptions/{CUSTOMER_SUBSCRIPTION_ID}/resourceGroups/"
                f"{CUSTOMER_RESOURCE_GROUP}/providers/Microsoft.Network/virtualNetworks/{spoke}")
    # The customer connected that VNet to the hub themselves (the platform acts for them here).
    grant_hub(azure_stack, proof="cpp-" + "3" * 32)
    azure_stack.grant(vnet_name=spoke, proof="cpp-" + "4" * 32)
    gateway.hub_connection_create(hub_id=HUB_ID, name="spoke", remote_vnet_id=spoke_id,
                                  tenant_id=CUSTOMER_TENANT_ID, remote_tenant_id=CUSTOMER_TENANT_ID)

    request = verified(customer, sim_cluster, azure_stack)
    check = checks_of(request)["address_space"]
    assert request.state == S.AWAITING_GRANT
    assert check["status"] == "fail"
    assert (f"with {spoke}, already connected to {HUB}: 10.100.0.0/16 overlaps 10.100.128.0/20"
            in check["message"])

    # Without a right to read that VNet the platform cannot tell, and says so: Azure refuses
    # the connection at creation if it overlaps.
    azure_stack.revoke(vnet_name=spoke)
    request = services.request_verify(request=request, actor=customer)
    check = checks_of(request)["address_space"]
    assert check["status"] == "pass"
    assert f"The platform may not read {spoke} (connected to the hub)" in check["message"]


def test_preflight_fails_when_the_cluster_vnet_is_already_on_this_hub(
        sim_cluster, azure_stack, customer):
    make_hub(azure_stack)
    grant_hub(azure_stack, proof="cpp-" + "5" * 32)
    gateway.hub_connection_create(
        hub_id=HUB_ID, name="by-hand", remote_vnet_id=azure_stack.cluster_vnet_id,
        tenant_id=CUSTOMER_TENANT_ID, remote_tenant_id=settings.AZURE_PLATFORM_TENANT_ID)
    request = verified(customer, sim_cluster, azure_stack)
    check = checks_of(request)["one_hub"]
    assert check["status"] == "fail"
    assert f"already connected to {HUB} (by-hand)" in check["message"]


def test_preflight_routing_defaults_and_names_the_tables_it_will_use(
        sim_cluster, azure_stack, customer):
    make_hub(azure_stack)
    plain = verified(customer, sim_cluster, azure_stack)
    assert checks_of(plain)["route_tables"] == {
        **checks_of(plain)["route_tables"], "status": "pass",
        "message": "The connection uses the hub's defaultRouteTable (associated and propagated)."}
    named = verified(customer, sim_cluster, azure_stack, associated_route_table="defaultRouteTable",
                     propagated_route_tables=["defaultRouteTable", "noneRouteTable"])
    route = checks_of(named)["route_tables"]
    assert route["status"] == "pass"
    assert route["message"] == f"defaultRouteTable, noneRouteTable on {HUB}."


def test_the_console_plan_is_the_connection_and_azures_peering_on_the_cluster_vnet(
        sim_cluster, customer):
    request = create(customer, sim_cluster, propagated_route_tables=["noneRouteTable"])
    connection, peering = request.kind_def.planned_resources(request)
    assert connection.resource_id == hub_connection.connection_id(request)
    assert "associated with defaultRouteTable, propagating to noneRouteTable" in connection.what
    assert peering.resource_id.startswith(
        sim_cluster.vnet_id + "/virtualNetworkPeerings/RemoteVnetToHubPeering_")
    assert peering.where == "platform subscription" and "Azure creates" in peering.what


def test_the_request_page_reminds_to_revoke_the_hub_role_in_a_hubs_words(active, customer):
    from django.test import Client

    client = Client()
    client.force_login(customer)
    page = client.get(f"/requests/{active.pk}/").content.decode()
    assert f"can still create and delete connections on <strong>{HUB}</strong>" in page
    assert "az role assignment delete" in page and HUB_ID in page
