"""Peerings through the real NetworkManagementClient, across two tenants, as ARM behaves."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.mgmt.network.models import SubResource, VirtualNetworkPeering

from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import (
    CLUSTER_RG,
    CLUSTER_VNET,
    CLUSTER_VNET_ID,
    CUSTOMER_RG,
    CUSTOMER_SUB,
    CUSTOMER_TENANT,
    CUSTOMER_VNET,
    CUSTOMER_VNET_ID,
    PLATFORM_APP,
    PLATFORM_SUB,
    PLATFORM_TENANT,
    Clients,
    raw_request,
)


def peering(remote_id: str, **options: object) -> VirtualNetworkPeering:
    return VirtualNetworkPeering(remote_virtual_network=SubResource(id=remote_id), **options)


def grant_customer_vnet(sim: AzureSimulator, vnet_name: str = CUSTOMER_VNET) -> dict[str, object]:
    return sim.control.grant(
        tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUB, resource_group=CUSTOMER_RG,
        vnet_name=vnet_name, app_id=PLATFORM_APP,
    )


def platform_side(clients: Clients) -> object:
    """Cluster-side client: platform tenant, aux token for the customer's tenant."""
    return clients.network(aux=[clients.credential(PLATFORM_APP, CUSTOMER_TENANT)])


def customer_side(clients: Clients) -> object:
    """Customer-side client: the platform SP in the customer tenant, aux for the platform's."""
    return clients.network(
        CUSTOMER_SUB, credential=clients.credential(PLATFORM_APP, CUSTOMER_TENANT),
        aux=[clients.credential(PLATFORM_APP, PLATFORM_TENANT)],
    )


def test_cross_tenant_peering_connects_both_sides(sim: AzureSimulator, clients: Clients) -> None:
    grant_customer_vnet(sim)
    ours = platform_side(clients)
    theirs = customer_side(clients)

    first = ours.virtual_network_peerings.begin_create_or_update(
        CLUSTER_RG, CLUSTER_VNET, "to-customer", peering(CUSTOMER_VNET_ID)
    ).result()
    assert first.provisioning_state == "Succeeded"
    assert first.peering_state == "Initiated"
    assert first.remote_address_space.address_prefixes == ["10.1.0.0/16"]

    second = theirs.virtual_network_peerings.begin_create_or_update(
        CUSTOMER_RG, CUSTOMER_VNET, "to-cluster", peering(CLUSTER_VNET_ID)
    ).result()
    assert second.peering_state == "Connected"
    again = ours.virtual_network_peerings.get(CLUSTER_RG, CLUSTER_VNET, "to-customer")
    assert again.peering_state == "Connected"
    assert again.peering_sync_level == "FullyInSync"
    vnet = ours.virtual_networks.get(CLUSTER_RG, CLUSTER_VNET)
    assert [p.name for p in vnet.virtual_network_peerings] == ["to-customer"]
    listed = list(ours.virtual_network_peerings.list(CLUSTER_RG, CLUSTER_VNET))
    assert [p.peering_state for p in listed] == ["Connected"]


def test_peering_put_answers_201_updating_with_async_operation(
    sim: AzureSimulator, clients: Clients
) -> None:
    token = sim.control.token(PLATFORM_APP, PLATFORM_TENANT)
    path = f"{CLUSTER_VNET_ID}/virtualNetworkPeerings/to-hub?api-version=2024-05-01"
    hub = CLUSTER_VNET_ID.replace(CLUSTER_VNET, "vnet-hub")
    body = {"properties": {"remoteVirtualNetwork": {"id": hub}}}
    created = raw_request(sim, "PUT", path, token=token, body=body)
    assert created.status == 201
    assert created.body["properties"]["provisioningState"] == "Updating"
    assert created.headers["azure-asyncoperation"].startswith(sim.base_url)
    assert created.headers["x-ms-request-id"] and created.headers["x-ms-correlation-request-id"]
    assert "x-ms-ratelimit-remaining-subscription-writes" in created.headers
    status = raw_request(sim, "GET", created.headers["azure-asyncoperation"].removeprefix(
        sim.base_url), token=token)
    assert status.status == 200 and status.body["status"] == "Succeeded"
    deleted = raw_request(sim, "DELETE", path, token=token)
    assert deleted.status == 202 and deleted.body is None
    assert "azure-asyncoperation" in deleted.headers and "location" in deleted.headers


def test_cluster_side_without_aux_token_is_linked_authorization_failed(
    sim: AzureSimulator, clients: Clients
) -> None:
    grant_customer_vnet(sim)
    with pytest.raises(HttpResponseError) as caught:
        clients.network().virtual_network_peerings.begin_create_or_update(
            CLUSTER_RG, CLUSTER_VNET, "to-customer", peering(CUSTOMER_VNET_ID)
        )
    assert caught.value.status_code == 403
    assert caught.value.error.code == "LinkedAuthorizationFailed"
    assert f"linked subscription '{CUSTOMER_SUB}'" in caught.value.error.message


def test_customer_side_is_forbidden_before_the_grant_and_allowed_after(
    sim: AzureSimulator, clients: Clients
) -> None:
    theirs = customer_side(clients)
    with pytest.raises(HttpResponseError) as caught:
        theirs.virtual_network_peerings.begin_create_or_update(
            CUSTOMER_RG, CUSTOMER_VNET, "to-cluster", peering(CLUSTER_VNET_ID)
        )
    error = caught.value
    assert error.status_code == 403 and error.error.code == "AuthorizationFailed"
    principal = sim.control.principal_id(PLATFORM_APP, CUSTOMER_TENANT)
    assert error.error.message.startswith(
        f"The client '{principal}' with object id '{principal}' does not have authorization to "
        "perform action 'Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write' over "
        f"scope '{CUSTOMER_VNET_ID}/virtualNetworkPeerings/to-cluster'"
    )

    grant_customer_vnet(sim)
    result = theirs.virtual_network_peerings.begin_create_or_update(
        CUSTOMER_RG, CUSTOMER_VNET, "to-cluster", peering(CLUSTER_VNET_ID)
    ).result()
    assert result.provisioning_state == "Succeeded"


def test_grant_takes_effect_only_after_the_propagation_delay(
    sim: AzureSimulator, clients: Clients
) -> None:
    sim.control.set_faults(propagation_delay=0.4)
    grant_customer_vnet(sim)
    theirs = customer_side(clients)
    with pytest.raises(HttpResponseError) as caught:
        theirs.virtual_networks.get(CUSTOMER_RG, CUSTOMER_VNET)
    assert caught.value.error.code == "AuthorizationFailed"
    time.sleep(0.45)
    assert theirs.virtual_networks.get(CUSTOMER_RG, CUSTOMER_VNET).name == CUSTOMER_VNET


def test_wrong_tenant_token_is_invalid_authentication_token_tenant(clients: Clients) -> None:
    with pytest.raises(ClientAuthenticationError) as caught:
        clients.network(CUSTOMER_SUB).virtual_networks.get(CUSTOMER_RG, CUSTOMER_VNET)
    assert caught.value.error.code == "InvalidAuthenticationTokenTenant"


def test_overlapping_address_spaces_are_rejected(sim: AzureSimulator, clients: Clients) -> None:
    sim.control.create_vnet(
        tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUB, resource_group=CUSTOMER_RG,
        name="vnet-overlap", address_prefixes=["10.100.128.0/20"],
    )
    grant_customer_vnet(sim, "vnet-overlap")
    with pytest.raises(HttpResponseError) as caught:
        platform_side(clients).virtual_network_peerings.begin_create_or_update(
            CLUSTER_RG, CLUSTER_VNET, "to-overlap",
            peering(CUSTOMER_VNET_ID.replace(CUSTOMER_VNET, "vnet-overlap")),
        )
    assert caught.value.status_code == 400
    assert caught.value.error.code == "VnetAddressSpacesOverlap"
    assert "10.100.128.0/20" in caught.value.error.message


def test_overlap_with_an_already_peered_vnet_is_rejected(
    sim: AzureSimulator, clients: Clients
) -> None:
    grant_customer_vnet(sim)
    ours = platform_side(clients)
    ours.virtual_network_peerings.begin_create_or_update(
        CLUSTER_RG, CLUSTER_VNET, "to-customer", peering(CUSTOMER_VNET_ID)
    ).result()
    second = sim.control.create_vnet(
        tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUB, resource_group=CUSTOMER_RG,
        name="vnet-second", address_prefixes=["10.1.8.0/24"],
    )
    grant_customer_vnet(sim, "vnet-second")
    with pytest.raises(HttpResponseError) as caught:
        ours.virtual_network_peerings.begin_create_or_update(
            CLUSTER_RG, CLUSTER_VNET, "to-second", peering(second["id"])
        )
    assert caught.value.error.code == "VnetAddressSpaceOverlapsWithAlreadyPeeredVnet"


def test_use_remote_gateways_needs_a_gateway_on_the_remote(
    sim: AzureSimulator, clients: Clients
) -> None:
    grant_customer_vnet(sim)
    ours = platform_side(clients)
    with pytest.raises(HttpResponseError) as caught:
        ours.virtual_network_peerings.begin_create_or_update(
            CLUSTER_RG, CLUSTER_VNET, "to-customer",
            peering(CUSTOMER_VNET_ID, use_remote_gateways=True),
        )
    assert caught.value.error.code == "RemoteVnetHasNoGateways"
    hub_id = CLUSTER_VNET_ID.replace(CLUSTER_VNET, "vnet-hub")
    hub = ours.virtual_networks.get(CLUSTER_RG, "vnet-hub")
    assert any(s.name == "GatewaySubnet" and s.ip_configurations for s in hub.subnets)
    result = ours.virtual_network_peerings.begin_create_or_update(
        CLUSTER_RG, CLUSTER_VNET, "to-hub", peering(hub_id, use_remote_gateways=True)
    ).result()
    assert result.use_remote_gateways is True


def test_deleting_one_side_disconnects_the_other(sim: AzureSimulator, clients: Clients) -> None:
    grant_customer_vnet(sim)
    ours, theirs = platform_side(clients), customer_side(clients)
    ours.virtual_network_peerings.begin_create_or_update(
        CLUSTER_RG, CLUSTER_VNET, "to-customer", peering(CUSTOMER_VNET_ID)
    ).result()
    theirs.virtual_network_peerings.begin_create_or_update(
        CUSTOMER_RG, CUSTOMER_VNET, "to-cluster", peering(CLUSTER_VNET_ID)
    ).result()

    sim.control.delete_peering(vnet_id=CUSTOMER_VNET_ID, name="to-cluster")
    survivor = ours.virtual_network_peerings.get(CLUSTER_RG, CLUSTER_VNET, "to-customer")
    assert survivor.peering_state == "Disconnected"

    # Recreating the deleted side is refused until the survivor is updated or recreated.
    with pytest.raises(HttpResponseError) as caught:
        theirs.virtual_network_peerings.begin_create_or_update(
            CUSTOMER_RG, CUSTOMER_VNET, "to-cluster", peering(CLUSTER_VNET_ID)
        )
    assert caught.value.error.code == "RemotePeeringIsDisconnected"
    ours.virtual_network_peerings.begin_create_or_update(
        CLUSTER_RG, CLUSTER_VNET, "to-customer", peering(CUSTOMER_VNET_ID)
    ).result()
    theirs.virtual_network_peerings.begin_create_or_update(
        CUSTOMER_RG, CUSTOMER_VNET, "to-cluster", peering(CLUSTER_VNET_ID)
    ).result()
    assert ours.virtual_network_peerings.get(
        CLUSTER_RG, CLUSTER_VNET, "to-customer").peering_state == "Connected"

    # Deleting through the SDK (202 + polling) disconnects too.
    theirs.virtual_network_peerings.begin_delete(CUSTOMER_RG, CUSTOMER_VNET, "to-cluster").result()
    assert ours.virtual_network_peerings.get(
        CLUSTER_RG, CLUSTER_VNET, "to-customer").peering_state == "Disconnected"


def test_lro_stays_updating_and_blocks_other_writes_on_the_vnet(
    sim: AzureSimulator, clients: Clients
) -> None:
    # Long enough that the read and the delete land while it runs, even on a loaded machine.
    sim.control.set_faults(lro_duration=2.0, busy_retry_after=0.05)
    ours = clients.network()
    hub_id = CLUSTER_VNET_ID.replace(CLUSTER_VNET, "vnet-hub")
    started = time.monotonic()
    poller = ours.virtual_network_peerings.begin_create_or_update(
        CLUSTER_RG, CLUSTER_VNET, "to-hub", peering(hub_id)
    )
    assert ours.virtual_network_peerings.get(
        CLUSTER_RG, CLUSTER_VNET, "to-hub").provisioning_state == "Updating"
    with pytest.raises(HttpResponseError) as caught:
        ours.virtual_network_peerings.begin_delete(CLUSTER_RG, CLUSTER_VNET, "to-hub")
    assert caught.value.status_code == 429
    assert caught.value.error.code == "RetryableErrorDueToAnotherOperation"
    assert "retry-after-ms" in caught.value.response.headers
    assert poller.result().provisioning_state == "Succeeded"
    assert time.monotonic() - started >= 1.9


def test_missing_things_answer_arm_not_found_codes(clients: Clients) -> None:
    ours = clients.network()
    with pytest.raises(ResourceNotFoundError) as missing:
        ours.virtual_network_peerings.get(CLUSTER_RG, CLUSTER_VNET, "nope")
    assert missing.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as parent:
        ours.virtual_network_peerings.begin_create_or_update(
            CLUSTER_RG, "vnet-missing", "p", peering(CUSTOMER_VNET_ID)
        )
    assert parent.value.error.code == "ParentResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as group:
        ours.virtual_networks.get("rg-missing", CLUSTER_VNET)
    assert group.value.error.code == "ResourceGroupNotFound"
    assert group.value.error.message == "Resource group 'rg-missing' could not be found."


def test_vnet_put_and_list(clients: Clients) -> None:
    from azure.mgmt.network.models import AddressSpace, VirtualNetwork

    ours = clients.network()
    created = ours.virtual_networks.begin_create_or_update(
        CLUSTER_RG, "vnet-new",
        VirtualNetwork(location="westeurope",
                       address_space=AddressSpace(address_prefixes=["10.50.0.0/16"])),
    ).result()
    assert created.provisioning_state == "Succeeded"
    names = {v.name for v in ours.virtual_networks.list(CLUSTER_RG)}
    assert {CLUSTER_VNET, "vnet-hub", "vnet-new"} <= names
    assert PLATFORM_SUB in created.id
