"""The gateway's Private Link functions against the simulator, with the real SDK underneath."""

from __future__ import annotations

import pytest

from connectivity.azure import gateway
from connectivity.azure.errors import CustomerActionRequired, PermanentAzureError
from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import (
    CLUSTER_RG,
    CUSTOMER_RG,
    CUSTOMER_SUB,
    CUSTOMER_TENANT,
    PLATFORM_SUB,
)
from tests.azure.gateway_fixtures import gateway_sim  # noqa: F401
from tests.azure.test_simulator_privatelink import (
    SUBNET_ID,
    ZONE_ID,
    connection_id,
    control,
    prepare,
    storage_account,
)

pytestmark = pytest.mark.usefixtures("gateway_sim")

ENDPOINT_ID = (f"/subscriptions/{PLATFORM_SUB}/resourceGroups/{CLUSTER_RG}/providers/"
               "Microsoft.Network/privateEndpoints/pe-req-42")


def create(target: str, group_ids: tuple[str, ...] = ("blob",), *, wait: bool = True,
           endpoint_id: str = ENDPOINT_ID) -> gateway.PrivateEndpoint:
    return gateway.private_endpoint_create(
        endpoint_id=endpoint_id, subnet_id=SUBNET_ID, target=target, group_ids=group_ids,
        request_message="Contoso Ltd, request 42", location="westeurope", wait=wait)


def test_endpoint_lifecycle_through_the_gateway(sim: AzureSimulator) -> None:
    prepare(sim)
    target = storage_account(sim)
    started = create(target, wait=False)
    assert started.provisioning_state == "Updating"
    assert started.connection_status == "Pending" and started.manual

    endpoint = gateway.private_endpoint_get(endpoint_id=ENDPOINT_ID)
    assert endpoint is not None
    assert endpoint.provisioning_state == "Succeeded"
    assert endpoint.private_ips == ("10.100.8.4",)
    assert endpoint.fqdns == ("stcontoso.blob.core.windows.net",)
    assert endpoint.request_message == "Contoso Ltd, request 42"

    pec = connection_id(sim, target)
    control(sim, "customer/private-endpoint-connection/approve", {"id": pec})
    endpoint = gateway.private_endpoint_get(endpoint_id=ENDPOINT_ID)
    assert endpoint is not None and endpoint.approved

    control(sim, "customer/private-endpoint-connection/reject",
            {"id": pec, "description": "wrong account"})
    endpoint = gateway.private_endpoint_get(endpoint_id=ENDPOINT_ID)
    assert endpoint is not None
    assert (endpoint.connection_status, endpoint.connection_description) == (
        "Rejected", "wrong account")

    control(sim, "customer/private-endpoint-connection/delete", {"id": pec})
    endpoint = gateway.private_endpoint_get(endpoint_id=ENDPOINT_ID)
    assert endpoint is not None and endpoint.connection_status == "Disconnected"

    group = gateway.private_dns_zone_group_put(endpoint_id=ENDPOINT_ID, name="default",
                                               zone_ids=[ZONE_ID])
    assert [(r.name, r.ips) for r in group.records] == [("stcontoso", ("10.100.8.4",))]
    record = gateway.a_record_set_get(zone_id=ZONE_ID, name="stcontoso")
    assert record is not None and record.ips == ("10.100.8.4",)

    assert gateway.private_endpoint_delete(endpoint_id=ENDPOINT_ID) is True
    assert gateway.private_endpoint_get(endpoint_id=ENDPOINT_ID) is None
    assert gateway.a_record_set_get(zone_id=ZONE_ID, name="stcontoso") is None
    assert gateway.private_endpoint_delete(endpoint_id=ENDPOINT_ID) is False


def test_an_alias_target(sim: AzureSimulator) -> None:
    prepare(sim)
    shared = control(sim, "customer/private-link-service", {
        "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
        "resource_group": CUSTOMER_RG, "name": "pls-api", "visibility": [PLATFORM_SUB]})
    hidden = control(sim, "customer/private-link-service", {
        "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
        "resource_group": CUSTOMER_RG, "name": "pls-hidden"})
    found = gateway.private_link_target_get(target=shared["alias"], location="westeurope")
    assert (found.kind, found.visible, found.group_ids) == ("private_link_service", True, ())
    assert gateway.private_link_target_get(target=hidden["alias"],
                                           location="westeurope").visible is False

    endpoint = create(shared["alias"], ())
    assert endpoint.connection_status == "Pending"
    assert endpoint.private_ips == ("10.100.8.4",)  # no FQDNs: read from the NIC

    with pytest.raises(CustomerActionRequired) as refused:
        create(hidden["alias"], (), endpoint_id=ENDPOINT_ID.replace("pe-req-42", "pe-2"))
    assert refused.value.reason == "private_link_not_visible"


def test_resource_ids_resolve_from_their_shape(sim: AzureSimulator) -> None:
    vault = (f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/{CUSTOMER_RG}/providers/"
             "microsoft.keyvault/VAULTS/kv-contoso")
    found = gateway.private_link_target_get(target=vault, location="westeurope")
    assert (found.kind, found.resource_type, found.group_ids) == (
        "paas", "Microsoft.KeyVault/vaults", ("vault",))
    assert found.resource_id is not None and found.resource_id.endswith(
        "/providers/Microsoft.KeyVault/vaults/kv-contoso")
    with pytest.raises(CustomerActionRequired) as bad:
        gateway.private_link_target_get(target="not-an-alias", location="westeurope")
    assert bad.value.reason == "invalid_target" and "Target" in bad.value.message


def test_errors_are_classified(sim: AzureSimulator) -> None:
    prepare(sim)
    target = storage_account(sim)
    with pytest.raises(CustomerActionRequired) as wrong_group:
        create(target, ("sqlServer",))
    assert wrong_group.value.reason == "group_id_invalid"
    missing = target.replace("stcontoso", "stgone")
    with pytest.raises(CustomerActionRequired) as not_found:
        create(missing)
    assert not_found.value.reason == "not_found" and not_found.value.resource == missing
    with pytest.raises(PermanentAzureError) as no_subnet:
        gateway.private_endpoint_create(
            endpoint_id=ENDPOINT_ID, subnet_id=SUBNET_ID.replace("endpoints", "gone"),
            target=target, group_ids=("blob",), request_message="x", location="westeurope")
    assert no_subnet.value.reason == "platform_resource_missing"


def test_the_platform_cannot_put_an_endpoint_in_the_customers_subscription(
        sim: AzureSimulator) -> None:
    prepare(sim)
    target = storage_account(sim)
    foreign = (f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/{CUSTOMER_RG}/providers/"
               "Microsoft.Network/privateEndpoints/pe-x")
    with pytest.raises(CustomerActionRequired) as refused:
        create(target, endpoint_id=foreign)
    assert refused.value.reason == "wrong_tenant"
