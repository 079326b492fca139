"""Virtual WAN hub connections through the gateway, with the real azure-mgmt-network client
against the bundled simulator: the customer's hub in their tenant, the cluster VNet in the
platform's, the platform writing the connection with the hub role the customer granted."""

from __future__ import annotations

import time
from typing import Any

import pytest

from connectivity.azure import gateway, roles
from connectivity.azure.errors import CustomerActionRequired
from connectivity.azure.simulator import AzureSimulator, vwan
from tests.azure.conftest import (
    CLUSTER_VNET,
    CLUSTER_VNET_ID,
    CUSTOMER_RG,
    CUSTOMER_SUB,
    CUSTOMER_TENANT,
    PLATFORM_APP,
    PLATFORM_TENANT,
    raw_request,
)
from tests.azure.gateway_fixtures import gateway_sim  # noqa: F401

pytestmark = pytest.mark.usefixtures("gateway_sim")

HUB = roles.CustomerHub(CUSTOMER_TENANT, CUSTOMER_SUB, CUSTOMER_RG, "hub-weu")
HUB_ID = HUB.hub_id
PROOF = "cpp-0123456789abcdef0123456789abcdef"


def customer_hub(sim: AzureSimulator, name: str = "hub-weu",
                 prefix: str = "10.250.0.0/23") -> dict[str, Any]:
    if sim.control.get_resource(
            f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/{CUSTOMER_RG}"
            "/providers/Microsoft.Network/virtualWans/wan-contoso") is None:
        vwan.control_create_wan(sim.control, tenant_id=CUSTOMER_TENANT,
                                subscription_id=CUSTOMER_SUB, resource_group=CUSTOMER_RG,
                                name="wan-contoso")
    return vwan.control_create_hub(
        sim.control, tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUB,
        resource_group=CUSTOMER_RG, name=name, address_prefix=prefix, virtual_wan="wan-contoso")


def grant_hub(sim: AzureSimulator, hub_name: str = "hub-weu") -> dict[str, Any]:
    hub = roles.CustomerHub(CUSTOMER_TENANT, CUSTOMER_SUB, CUSTOMER_RG, hub_name)
    return vwan.control_grant_hub(
        sim.control, tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUB,
        resource_group=CUSTOMER_RG, hub_name=hub_name, app_id=PLATFORM_APP, proof=PROOF,
        role_definition=roles.role_definition(hub))


def connect(hub_id: str = HUB_ID, name: str = "conn-cl1", **options: Any) -> gateway.HubConnection:
    return gateway.hub_connection_create(
        hub_id=hub_id, name=name, remote_vnet_id=CLUSTER_VNET_ID, tenant_id=CUSTOMER_TENANT,
        remote_tenant_id=PLATFORM_TENANT, **options)


def cluster_hub_peering() -> gateway.VNetPeering | None:
    return gateway.hub_peering(gateway.vnet_get(vnet_id=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT))


def test_cross_tenant_connection_with_the_grant_succeeds_and_the_cluster_vnet_shows_connected(
    sim: AzureSimulator,
) -> None:
    customer_hub(sim)
    grant_hub(sim)
    sim.control.set_faults(lro_durations={"hubVirtualNetworkConnections": 0.6})

    hub = gateway.virtual_hub_get(hub_id=HUB_ID, tenant_id=CUSTOMER_TENANT)
    assert hub.provisioned and hub.address_prefix == "10.250.0.0/23"
    assert [t.name for t in hub.route_tables] == ["defaultRouteTable", "noneRouteTable"]
    assert hub.route_table("noneRouteTable").labels == ("none",)  # type: ignore[union-attr]
    assert hub.connections == ()

    started = connect(wait=False)
    assert started.provisioning_state == "Updating"
    assert started.associated_route_table_id.endswith("/hubRouteTables/defaultRouteTable")
    assert started.propagated_labels == ("default",)
    peering = cluster_hub_peering()
    assert peering is not None and peering.peering_state == "Initiated"
    assert peering.name.startswith("RemoteVnetToHubPeering_")

    time.sleep(0.7)
    done = gateway.hub_connection_get(hub_id=HUB_ID, name="conn-cl1", tenant_id=CUSTOMER_TENANT)
    assert done is not None and done.succeeded
    assert done.remote_vnet_id.lower() == CLUSTER_VNET_ID.lower()
    peering = cluster_hub_peering()
    assert peering is not None and peering.connected
    assert peering.remote_address_prefixes == ("10.250.0.0/23",)
    listed = gateway.virtual_hub_get(hub_id=HUB_ID, tenant_id=CUSTOMER_TENANT).connections
    assert [c.name for c in listed] == ["conn-cl1"]
    # The grant carries the request's proof, readable with the hub role.
    assignments = gateway.role_assignments_for_platform(scope=HUB_ID, tenant_id=CUSTOMER_TENANT)
    assert any(roles.description_carries(a.description, PROOF) for a in assignments)


def test_waiting_follows_the_long_running_operation(sim: AzureSimulator) -> None:
    customer_hub(sim)
    grant_hub(sim)
    sim.control.set_faults(lro_durations={"hubVirtualNetworkConnections": 0.3})
    connection = connect(associated_route_table="defaultRouteTable",
                         propagated_route_tables=["noneRouteTable"], propagated_labels=["none"])
    assert connection.succeeded
    assert connection.propagated_route_table_ids[0].endswith("/hubRouteTables/noneRouteTable")
    assert connection.propagated_labels == ("none",)


def test_without_the_auxiliary_token_azure_answers_linked_authorization_failed(
    sim: AzureSimulator,
) -> None:
    customer_hub(sim)
    grant_hub(sim)
    with pytest.raises(CustomerActionRequired) as caught:
        gateway.hub_connection_create(
            hub_id=HUB_ID, name="conn-cl1", remote_vnet_id=CLUSTER_VNET_ID,
            tenant_id=CUSTOMER_TENANT, remote_tenant_id=CUSTOMER_TENANT)  # no aux header
    assert caught.value.code == "LinkedAuthorizationFailed"
    assert caught.value.reason == "cross_tenant_not_authorized"
    assert gateway.hub_connection_get(hub_id=HUB_ID, name="conn-cl1",
                                      tenant_id=CUSTOMER_TENANT) is None


def test_without_the_grant_azure_names_the_missing_action(sim: AzureSimulator) -> None:
    customer_hub(sim)
    with pytest.raises(CustomerActionRequired) as caught:
        connect()
    assert caught.value.code == "AuthorizationFailed"
    assert caught.value.reason == "permission_missing"
    assert caught.value.action == "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections/write"
    assert "hubVirtualNetworkConnections/write" in caught.value.message
    missing = gateway.missing_actions(scope=HUB_ID, tenant_id=CUSTOMER_TENANT,
                                      required=roles.hub_required_actions())
    assert missing == roles.hub_required_actions()


def test_a_hub_prefix_overlapping_the_cluster_vnet_is_refused(sim: AzureSimulator) -> None:
    customer_hub(sim, prefix="10.100.4.0/23")  # inside the cluster's 10.100.0.0/16
    grant_hub(sim)
    with pytest.raises(CustomerActionRequired) as caught:
        connect()
    assert caught.value.code == "VnetAddressSpacesOverlap"
    assert caught.value.reason == "address_space_overlap"
    assert set(caught.value.prefixes) == {"10.100.0.0/16", "10.100.4.0/23"}
    assert cluster_hub_peering() is None


def test_a_vnet_already_connected_to_the_hub_that_overlaps_is_refused(
    sim: AzureSimulator,
) -> None:
    customer_hub(sim)
    grant_hub(sim)
    spoke = sim.control.create_vnet(
        tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUB, resource_group=CUSTOMER_RG,
        name="vnet-spoke", address_prefixes=["10.100.128.0/17"])
    state = sim.control._state
    with state.lock:  # the customer connected their own spoke earlier
        hub_resource = state.get(HUB_ID)
        spoke_resource = state.get(spoke["id"])
        assert hub_resource is not None and spoke_resource is not None
        vwan.connect(state, hub_resource, "conn-spoke", spoke_resource, settled=True)
    with pytest.raises(CustomerActionRequired) as caught:
        connect()
    assert caught.value.code == "VnetAddressSpaceOverlapsWithAlreadyPeeredVnet"
    assert caught.value.reason == "address_space_overlap"
    assert "10.100.128.0/17" in caught.value.prefixes


def test_one_hub_per_vnet(sim: AzureSimulator) -> None:
    for name, prefix in (("hub-weu", "10.250.0.0/23"), ("hub-neu", "10.251.0.0/23")):
        customer_hub(sim, name, prefix)
        grant_hub(sim, name)
    assert connect().succeeded
    with pytest.raises(CustomerActionRequired) as caught:
        connect(hub_id=HUB_ID.replace("hub-weu", "hub-neu"))
    assert caught.value.reason == "hub_connection_conflict"
    assert caught.value.resource and caught.value.resource.endswith("/conn-cl1")


def test_the_customer_deleting_the_connection_is_visible_as_drift(
    sim: AzureSimulator,
) -> None:
    customer_hub(sim)
    grant_hub(sim)
    assert connect().succeeded
    answer = raw_request(sim, "POST", "/_simulator/customer/delete-hub-connection",
                         body={"hub_id": HUB_ID, "name": "conn-cl1"})
    assert answer.status == 200 and answer.body["deleted"] is True
    assert gateway.hub_connection_get(hub_id=HUB_ID, name="conn-cl1",
                                      tenant_id=CUSTOMER_TENANT) is None
    assert cluster_hub_peering() is None
    vnet = gateway.vnet_get(vnet_id=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT)
    assert vnet.name == CLUSTER_VNET and vnet.peerings == ()


def test_delete_is_a_long_running_operation_and_tolerates_a_missing_connection(
    sim: AzureSimulator,
) -> None:
    customer_hub(sim)
    grant_hub(sim)
    assert connect().succeeded
    sim.control.set_faults(lro_durations={"hubVirtualNetworkConnections": 0.3})
    assert gateway.hub_connection_delete(hub_id=HUB_ID, name="conn-cl1", tenant_id=CUSTOMER_TENANT,
                                         wait=False) is True
    deleting = gateway.hub_connection_get(hub_id=HUB_ID, name="conn-cl1",
                                          tenant_id=CUSTOMER_TENANT)
    assert deleting is not None and deleting.provisioning_state == "Deleting"
    time.sleep(0.4)
    assert gateway.hub_connection_get(hub_id=HUB_ID, name="conn-cl1",
                                      tenant_id=CUSTOMER_TENANT) is None
    assert cluster_hub_peering() is None
    assert gateway.hub_connection_delete(hub_id=HUB_ID, name="conn-cl1",
                                         tenant_id=CUSTOMER_TENANT) is False


def test_a_failed_operation_leaves_the_connection_failed(sim: AzureSimulator) -> None:
    customer_hub(sim)
    grant_hub(sim)
    sim.control.set_faults(lro_failure_rate=1.0)
    with pytest.raises(Exception) as caught:
        connect()
    assert type(caught.value).__module__ == "connectivity.azure.errors"
    failed = gateway.hub_connection_get(hub_id=HUB_ID, name="conn-cl1", tenant_id=CUSTOMER_TENANT)
    assert failed is not None and failed.provisioning_state == "Failed"
    peering = cluster_hub_peering()
    assert peering is not None and not peering.connected


def test_a_missing_hub_needs_the_customer(sim: AzureSimulator) -> None:
    grant = raw_request(sim, "POST", "/_simulator/customer/grant-hub", body={
        "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
        "resource_group": CUSTOMER_RG, "hub_name": "hub-nowhere", "app_id": PLATFORM_APP})
    assert grant.status == 404 and "hub-nowhere" in grant.body["error"]
    sim.control.assign_role(scope=f"/subscriptions/{CUSTOMER_SUB}", role="Reader",
                                    tenant_id=CUSTOMER_TENANT, app_id=PLATFORM_APP)
    with pytest.raises(CustomerActionRequired) as caught:
        gateway.virtual_hub_get(hub_id=HUB_ID, tenant_id=CUSTOMER_TENANT)
    assert caught.value.reason == "not_found"


def test_the_control_routes_create_a_wan_and_a_hub(sim: AzureSimulator) -> None:
    base = {"tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
            "resource_group": CUSTOMER_RG}
    no_wan = raw_request(sim, "POST", "/_simulator/customer/virtual-hub", body={
        **base, "name": "hub-weu", "address_prefix": "10.250.0.0/23", "virtual_wan": "wan-x"})
    assert no_wan.status == 404 and "virtual-wan" in no_wan.body["error"]
    bad = raw_request(sim, "POST", "/_simulator/customer/virtual-hub", body={
        **base, "name": "hub-weu", "address_prefix": "10.250.0.1/23", "virtual_wan": "wan-x"})
    assert bad.status == 400 and "address_prefix" in bad.body["error"]
    wan = raw_request(sim, "POST", "/_simulator/customer/virtual-wan",
                      body={**base, "name": "wan-x"})
    assert wan.status == 200 and wan.body["type"] == "Microsoft.Network/virtualWans"
    hub = raw_request(sim, "POST", "/_simulator/customer/virtual-hub", body={
        **base, "name": "hub-weu", "address_prefix": "10.250.0.0/23", "virtual_wan": "wan-x"})
    assert hub.status == 200 and hub.body["id"] == HUB_ID
    assert hub.body["properties"]["routingState"] == "Provisioned"
    grant = raw_request(sim, "POST", "/_simulator/customer/grant-hub", body={
        **base, "hub_name": "hub-weu", "app_id": PLATFORM_APP, "proof": PROOF})
    assert grant.status == 200 and grant.body["scope"] == HUB_ID
    assert grant.body["role_definition_name"] == roles.DEFAULT_HUB_ROLE_NAME
    assert PROOF in grant.body["description"]
