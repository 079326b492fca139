"""Private Link in the simulator, driven by the real azure-mgmt-network client.

The platform creates endpoints in its own subscription; the customer (through the control API,
as ``az network private-endpoint-connection`` would) approves, rejects or removes them.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.network import models as m

from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import (
    CLUSTER_RG,
    CLUSTER_VNET,
    CLUSTER_VNET_ID,
    CUSTOMER_ADMIN_APP,
    CUSTOMER_RG,
    CUSTOMER_SUB,
    CUSTOMER_TENANT,
    PLATFORM_APP,
    PLATFORM_SUB,
    PLATFORM_TENANT,
    Clients,
    raw_request,
)

SUBNET_ID = f"{CLUSTER_VNET_ID}/subnets/endpoints"
BLOB_ZONE = "privatelink.blob.core.windows.net"
ZONE_ID = (f"/subscriptions/{PLATFORM_SUB}/resourceGroups/{CLUSTER_RG}/providers/"
           f"Microsoft.Network/privateDnsZones/{BLOB_ZONE}")


def prepare(sim: AzureSimulator, subnet_prefix: str = "10.100.8.0/28") -> None:
    """An endpoint subnet on the cluster VNet and the platform's blob zone."""
    sim.control.create_vnet(
        tenant_id=PLATFORM_TENANT, subscription_id=PLATFORM_SUB, resource_group=CLUSTER_RG,
        name=CLUSTER_VNET, address_prefixes=["10.100.0.0/16"],
        subnets=[{"name": "endpoints", "address_prefix": subnet_prefix}])
    sim.control.seed({"tenants": [{"id": PLATFORM_TENANT, "subscriptions": [{
        "id": PLATFORM_SUB, "resource_groups": [{
            "name": CLUSTER_RG, "private_dns_zones": [{"name": BLOB_ZONE}]}]}]}]})


def control(sim: AzureSimulator, route: str, body: dict[str, Any]) -> Any:
    response = raw_request(sim, "POST", f"/_simulator/{route}", body=body)
    assert response.status == 200, response.body
    return response.body


def storage_account(sim: AzureSimulator, name: str = "stcontoso") -> str:
    created = control(sim, "customer/paas-resource", {
        "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
        "resource_group": CUSTOMER_RG, "type": "Microsoft.Storage/storageAccounts", "name": name})
    assert created["group_ids"] == ["blob", "dfs", "file", "queue", "table", "web"]
    return str(created["id"])


def endpoint_body(target: str, group_ids: list[str], *, manual: bool = True) -> m.PrivateEndpoint:
    connection = m.PrivateLinkServiceConnection(
        name="conn", private_link_service_id=target, group_ids=group_ids,
        request_message="Contoso request 42")
    return m.PrivateEndpoint(
        location="westeurope", subnet=m.Subnet(id=SUBNET_ID),
        manual_private_link_service_connections=[connection] if manual else None,
        private_link_service_connections=None if manual else [connection])


def state_of(endpoint: m.PrivateEndpoint) -> m.PrivateLinkServiceConnectionState:
    connection = (endpoint.manual_private_link_service_connections
                  or endpoint.private_link_service_connections)[0]
    return connection.private_link_service_connection_state


def connection_id(sim: AzureSimulator, target: str) -> str:
    resource = sim.control.get_resource(target)
    assert resource is not None
    connections = resource["properties"]["privateEndpointConnections"]
    assert len(connections) == 1
    return str(connections[0]["id"])


def test_blob_endpoint_pending_approved_rejected_removed(sim: AzureSimulator,
                                                         clients: Clients) -> None:
    prepare(sim)
    target = storage_account(sim)
    network = clients.network()
    endpoint = network.private_endpoints.begin_create_or_update(
        CLUSTER_RG, "pe-blob", endpoint_body(target, ["blob"])).result()
    assert endpoint.provisioning_state == "Succeeded"
    assert state_of(endpoint).status == "Pending"
    assert endpoint.custom_dns_configs[0].fqdn == "stcontoso.blob.core.windows.net"
    address = endpoint.custom_dns_configs[0].ip_addresses[0]
    assert address == "10.100.8.4"  # Azure keeps a subnet's first four addresses
    nic = network.network_interfaces.get(CLUSTER_RG, endpoint.network_interfaces[0].id.rsplit(
        "/", 1)[-1])
    assert nic.ip_configurations[0].private_ip_address == address

    # The customer sees the connection, with the request message's endpoint, on their account.
    pec = connection_id(sim, target)
    assert pec.startswith(f"{target}/privateEndpointConnections/pe-blob.")

    control(sim, "customer/private-endpoint-connection/approve",
            {"id": pec, "description": "ok by Contoso"})
    endpoint = network.private_endpoints.get(CLUSTER_RG, "pe-blob")
    assert (state_of(endpoint).status, state_of(endpoint).description) == ("Approved",
                                                                           "ok by Contoso")

    control(sim, "customer/private-endpoint-connection/reject",
            {"id": pec, "description": "not this one"})
    endpoint = network.private_endpoints.get(CLUSTER_RG, "pe-blob")
    assert (state_of(endpoint).status, state_of(endpoint).description) == ("Rejected",
                                                                           "not this one")

    control(sim, "customer/private-endpoint-connection/delete", {"id": pec})
    assert state_of(network.private_endpoints.get(CLUSTER_RG, "pe-blob")).status == "Disconnected"
    assert sim.control.get_resource(target)["properties"]["privateEndpointConnections"] == []


def test_a_repeated_put_keeps_the_approval(sim: AzureSimulator, clients: Clients) -> None:
    prepare(sim)
    target = storage_account(sim)
    network = clients.network()
    network.private_endpoints.begin_create_or_update(
        CLUSTER_RG, "pe-blob", endpoint_body(target, ["blob"])).result()
    control(sim, "customer/private-endpoint-connection/approve", {"id": connection_id(sim, target)})
    again = network.private_endpoints.begin_create_or_update(
        CLUSTER_RG, "pe-blob", endpoint_body(target, ["blob"])).result()
    assert state_of(again).status == "Approved"
    assert again.custom_dns_configs[0].ip_addresses == ["10.100.8.4"]


def test_zone_group_writes_the_a_record_and_delete_takes_it_away(
        sim: AzureSimulator, clients: Clients) -> None:
    prepare(sim)
    target = storage_account(sim)
    network = clients.network()
    network.private_endpoints.begin_create_or_update(
        CLUSTER_RG, "pe-blob", endpoint_body(target, ["blob"])).result()
    group = network.private_dns_zone_groups.begin_create_or_update(
        CLUSTER_RG, "pe-blob", "default", m.PrivateDnsZoneGroup(private_dns_zone_configs=[
            m.PrivateDnsZoneConfig(name="blob", private_dns_zone_id=ZONE_ID)])).result()
    assert group.provisioning_state == "Succeeded"
    record_sets = group.private_dns_zone_configs[0].record_sets
    assert [(r.record_set_name, r.ip_addresses) for r in record_sets] == [
        ("stcontoso", ["10.100.8.4"])]
    dns = clients.privatedns()
    record = dns.record_sets.get(CLUSTER_RG, BLOB_ZONE, "A", "stcontoso")
    assert [a.ipv4_address for a in record.a_records] == ["10.100.8.4"]

    network.private_endpoints.begin_delete(CLUSTER_RG, "pe-blob").result()
    with pytest.raises(HttpResponseError) as missing:
        network.private_endpoints.get(CLUSTER_RG, "pe-blob")
    assert missing.value.status_code == 404
    assert sim.control.get_resource(f"{ZONE_ID}/A/stcontoso") is None
    assert sim.control.get_resource(target)["properties"]["privateEndpointConnections"] == []


def test_alias_target_visibility_and_auto_approval(sim: AzureSimulator,
                                                   clients: Clients) -> None:
    prepare(sim)
    hidden = control(sim, "customer/private-link-service", {
        "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
        "resource_group": CUSTOMER_RG, "name": "pls-hidden"})
    shared = control(sim, "customer/private-link-service", {
        "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
        "resource_group": CUSTOMER_RG, "name": "pls-api", "visibility": [PLATFORM_SUB]})
    assert shared["alias"].startswith("pls-api.") and shared["alias"].endswith(
        ".westeurope.azure.privatelinkservice")
    network = clients.network()
    check = network.private_link_services.begin_check_private_link_service_visibility
    assert check("westeurope", m.CheckPrivateLinkServiceVisibilityRequest(
        private_link_service_alias=shared["alias"])).result().visible is True
    assert check("westeurope", m.CheckPrivateLinkServiceVisibilityRequest(
        private_link_service_alias=hidden["alias"])).result().visible is False

    endpoint = network.private_endpoints.begin_create_or_update(
        CLUSTER_RG, "pe-api", endpoint_body(shared["alias"], [])).result()
    assert state_of(endpoint).status == "Pending"
    service = sim.control.get_resource(shared["id"])
    assert service["properties"]["privateEndpointConnections"][0]["properties"][
        "privateEndpoint"]["id"].endswith("/privateEndpoints/pe-api")

    with pytest.raises(HttpResponseError) as refused:
        network.private_endpoints.begin_create_or_update(
            CLUSTER_RG, "pe-hidden", endpoint_body(hidden["alias"], [])).result()
    assert refused.value.error.code.startswith("ThirdPartyPrivateLinkService")

    auto = control(sim, "customer/private-link-service", {
        "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
        "resource_group": CUSTOMER_RG, "name": "pls-auto", "visibility": ["*"],
        "auto_approval": [PLATFORM_SUB]})
    endpoint = network.private_endpoints.begin_create_or_update(
        CLUSTER_RG, "pe-auto", endpoint_body(auto["id"], [])).result()
    assert state_of(endpoint).status == "Approved"


@pytest.mark.parametrize(("group_ids", "code"), [
    (["sqlServer"], "InvalidValuesForRequestParameters"),
    (["blob", "file"], "OnlyOneGroupIdPermitted"),
])
def test_a_wrong_group_id_is_refused(sim: AzureSimulator, clients: Clients,
                                     group_ids: list[str], code: str) -> None:
    prepare(sim)
    target = storage_account(sim)
    with pytest.raises(HttpResponseError) as refused:
        clients.network().private_endpoints.begin_create_or_update(
            CLUSTER_RG, "pe-x", endpoint_body(target, group_ids)).result()
    assert refused.value.error.code == code


def test_a_full_subnet_is_refused(sim: AzureSimulator, clients: Clients) -> None:
    prepare(sim, subnet_prefix="10.100.8.0/29")  # 8 addresses: 5 reserved, 3 usable
    target = storage_account(sim)
    network = clients.network()
    for i in range(3):
        network.private_endpoints.begin_create_or_update(
            CLUSTER_RG, f"pe-{i}", endpoint_body(target, ["blob"])).result()
    with pytest.raises(HttpResponseError) as full:
        network.private_endpoints.begin_create_or_update(
            CLUSTER_RG, "pe-3", endpoint_body(target, ["blob"])).result()
    assert full.value.error.code == "SubnetIsFull"


def test_the_platform_writes_only_in_its_own_subscription(sim: AzureSimulator,
                                                          clients: Clients) -> None:
    prepare(sim)
    target = storage_account(sim)
    # An endpoint in the customer's subscription: the platform's token is for another tenant.
    with pytest.raises(HttpResponseError) as foreign:
        clients.network(subscription=CUSTOMER_SUB).private_endpoints.begin_create_or_update(
            CUSTOMER_RG, "pe-x", endpoint_body(target, ["blob"])).result()
    assert foreign.value.status_code == 401
    # It cannot read or approve the customer's connection either.
    clients.network().private_endpoints.begin_create_or_update(
        CLUSTER_RG, "pe-blob", endpoint_body(target, ["blob"])).result()
    pec = connection_id(sim, target)
    token = sim.control.token(clients.credential().app_id, PLATFORM_TENANT)
    approve = raw_request(sim, "PUT", f"{pec}?api-version=2023-05-01", token=token, body={
        "properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}})
    assert approve.status == 401
    # Auto-approval would be the platform approving on the customer's resource: refused.
    with pytest.raises(HttpResponseError) as auto:
        clients.network().private_endpoints.begin_create_or_update(
            CLUSTER_RG, "pe-auto", endpoint_body(target, ["blob"], manual=False)).result()
    assert auto.value.error.code == "LinkedAuthorizationFailed"


def test_the_customer_can_approve_through_arm(sim: AzureSimulator, clients: Clients) -> None:
    prepare(sim)
    target = storage_account(sim)
    clients.network().private_endpoints.begin_create_or_update(
        CLUSTER_RG, "pe-blob", endpoint_body(target, ["blob"])).result()
    pec = connection_id(sim, target)
    token = sim.control.token(CUSTOMER_ADMIN_APP, CUSTOMER_TENANT)
    approve = raw_request(sim, "PUT", f"{pec}?api-version=2023-05-01", token=token, body={
        "properties": {"privateLinkServiceConnectionState": {"status": "Approved",
                                                             "description": "via ARM"}}})
    assert approve.status == 200, approve.body
    assert approve.body["properties"]["privateLinkServiceConnectionState"]["actionRequired"] == \
        "None"
    endpoint = clients.network().private_endpoints.get(CLUSTER_RG, "pe-blob")
    assert state_of(endpoint).status == "Approved"


def test_approving_a_connection_that_does_not_exist_is_a_404(sim: AzureSimulator) -> None:
    missing = (f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/{CUSTOMER_RG}/providers/"
               "Microsoft.Storage/storageAccounts/nope/privateEndpointConnections/x")
    response = raw_request(sim, "POST", "/_simulator/customer/private-endpoint-connection/approve",
                           body={"id": missing})
    assert response.status == 404
    assert "no private endpoint connection" in response.body["error"]


PRIVATE_LINK_SHAPES = {"private_endpoint_get", "private_dns_zone_group_put",
                       "private_link_service_get", "storage_private_endpoint_connection_get",
                       "private_link_service_visibility"}


def build_private_link(sim: AzureSimulator, kind: str) -> Any:
    """What the simulator answers for one of the spec examples test_simulator_shapes checks."""
    prepare(sim)
    platform = sim.control.token(PLATFORM_APP, PLATFORM_TENANT)
    customer = sim.control.token(CUSTOMER_ADMIN_APP, CUSTOMER_TENANT)
    endpoint = f"/subscriptions/{PLATFORM_SUB}/resourceGroups/{CLUSTER_RG}/providers/" \
               "Microsoft.Network/privateEndpoints/pe"

    def call(method: str, path: str, token: str, body: Any = None) -> Any:
        response = raw_request(sim, method, f"{path}?api-version=2024-05-01", token=token,
                               body=body)
        assert response.status in (200, 201), response.body
        return response.body

    if kind == "private_link_service_visibility":
        service = control(sim, "customer/private-link-service", {
            "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
            "resource_group": CUSTOMER_RG, "name": "pls", "visibility": ["*"]})
        return call("POST", f"/subscriptions/{PLATFORM_SUB}/providers/Microsoft.Network/"
                    "locations/westeurope/checkPrivateLinkServiceVisibility", platform,
                    {"privateLinkServiceAlias": service["alias"]})
    if kind == "private_link_service_get":
        service = control(sim, "customer/private-link-service", {
            "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
            "resource_group": CUSTOMER_RG, "name": "pls", "visibility": [PLATFORM_SUB],
            "auto_approval": [PLATFORM_SUB], "fqdns": ["api.contoso.example"]})
        target = str(service["id"])
    else:
        target = storage_account(sim)
    call("PUT", endpoint, platform, {
        "location": "westeurope", "properties": {
            "subnet": {"id": SUBNET_ID},
            "manualPrivateLinkServiceConnections": [{"name": "conn", "properties": {
                "privateLinkServiceId": target,
                "groupIds": [] if kind == "private_link_service_get" else ["blob"],
                "requestMessage": "please"}}]}})
    if kind == "private_endpoint_get":
        return call("GET", endpoint, platform)
    if kind == "private_link_service_get":
        return call("GET", target, customer)
    if kind == "storage_private_endpoint_connection_get":
        return call("GET", connection_id(sim, target), customer)
    call("PUT", f"{endpoint}/privateDnsZoneGroups/default", platform, {"properties": {
        "privateDnsZoneConfigs": [{"name": "blob", "properties": {"privateDnsZoneId": ZONE_ID}}]}})
    return call("GET", f"{endpoint}/privateDnsZoneGroups/default", platform)
