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
    raw_request,
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


# --- the endpoint subnet's room, and where a subscription lives ---------------------------------


def test_a_subnet_reads_its_size_and_what_uses_its_addresses(sim: AzureSimulator) -> None:
    prepare(sim)  # the endpoints subnet is a /28: 16 addresses, 11 Azure can hand out
    subnet = gateway.subnet_get(subnet_id=SUBNET_ID)
    assert subnet is not None
    assert (subnet.address_prefixes, subnet.capacity, subnet.used, subnet.free) == (
        ("10.100.8.0/28",), 11, 0, 11)

    target = storage_account(sim)
    endpoint = create(target)
    nic = control(sim, "platform/network-interface",
                  {"subnet_id": SUBNET_ID, "name": "vm-nic", "ip_count": 3})
    assert nic["addresses"] == ["10.100.8.5", "10.100.8.6", "10.100.8.7"]
    subnet = gateway.subnet_get(subnet_id=SUBNET_ID)
    assert subnet is not None and (subnet.used, subnet.free) == (4, 7)
    assert subnet.holds_endpoint(endpoint.id) and not subnet.holds_endpoint(
        ENDPOINT_ID.replace("pe-req-42", "pe-other"))
    assert any(i.startswith(endpoint.network_interface_ids[0]) for i in
               subnet.ip_configuration_ids)

    # The VNet's own GET shows the same (as Azure's does).
    shown = sim.control.get_resource(SUBNET_ID.rsplit("/subnets/", 1)[0])
    endpoints_subnet = next(s for s in shown["properties"]["subnets"] if s["name"] == "endpoints")
    assert len(endpoints_subnet["properties"]["ipConfigurations"]) == 4
    assert endpoints_subnet["properties"]["privateEndpoints"] == [{"id": endpoint.id}]

    assert gateway.subnet_get(subnet_id=SUBNET_ID.replace("endpoints", "nope")) is None
    assert gateway.subnet_get(subnet_id=SUBNET_ID.replace("vnet-cl1", "vnet-gone")) is None


def test_a_full_subnet_refuses_the_next_endpoint(sim: AzureSimulator) -> None:
    prepare(sim, subnet_prefix="10.100.8.0/29")  # 8 addresses, 3 usable
    control(sim, "platform/network-interface",
            {"subnet_id": SUBNET_ID, "name": "vm-nic", "ip_count": 3})
    subnet = gateway.subnet_get(subnet_id=SUBNET_ID)
    assert subnet is not None and (subnet.capacity, subnet.free) == (3, 0)
    with pytest.raises(PermanentAzureError) as full:
        create(storage_account(sim))
    assert full.value.code == "SubnetIsFull"


def test_arm_names_a_subscriptions_tenant_to_anyone_and_knows_no_other_clouds(
        sim: AzureSimulator) -> None:
    prepare(sim)
    storage_account(sim)  # the customer's subscription exists
    assert gateway.subscription_tenant(subscription_id=CUSTOMER_SUB) == CUSTOMER_TENANT
    assert gateway.subscription_tenant(subscription_id=PLATFORM_SUB) == (
        "11111111-1111-4111-8111-111111111111")
    unknown = "99999999-9999-4999-8999-999999999999"
    assert gateway.subscription_tenant(subscription_id=unknown) == ""
    # What it read is ARM's challenge to a request without a token.
    answer = raw_request(sim, "GET", f"/subscriptions/{CUSTOMER_SUB}?api-version=2022-12-01",
                         token=None)
    assert answer.status == 401
    assert (f'authorization_uri="https://login.windows.net/{CUSTOMER_TENANT}"'
            in answer.headers["www-authenticate"])


def test_arm_out_of_reach_is_transient(settings: object) -> None:
    from connectivity.azure import clients
    from connectivity.azure.errors import TransientAzureError

    settings.AZURE_ARM_ENDPOINT = "https://127.0.0.1:9"  # type: ignore[attr-defined]
    clients.clear_cache()
    with pytest.raises(TransientAzureError):
        gateway.subscription_tenant(subscription_id=CUSTOMER_SUB)


@pytest.mark.parametrize("answer", [(503, {}), (429, {"Retry-After": "60"})])
def test_a_busy_arm_is_asked_once_while_the_form_waits(
        settings: object, answer: tuple[int, dict[str, str]]) -> None:
    """The tenant is asked in the web request that creates a workload identity grant: ARM busy
    is "not now" at once (pre-flight asks again later), with no retry and no Retry-After wait."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from connectivity.azure import clients
    from connectivity.azure.errors import TransientAzureError

    status, headers = answer
    seen: list[str] = []

    class Busy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(status)
            for name, value in {"Content-Length": "0", **headers}.items():
                self.send_header(name, value)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.AZURE_ARM_ENDPOINT = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
        settings.AZURE_SDK_RETRY_TOTAL = 3  # type: ignore[attr-defined]  # production's, which others use
        clients.clear_cache()
        with pytest.raises(TransientAzureError, match=f"answered {status}"):
            gateway.subscription_tenant(subscription_id=CUSTOMER_SUB)
    finally:
        server.shutdown()
        server.server_close()
        clients.clear_cache()
    assert len(seen) == 1 and seen[0].startswith(f"/subscriptions/{CUSTOMER_SUB}?")
