"""Fault injection, ARM throttling and the HTTP control API."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.network.models import SubResource, VirtualNetworkPeering

from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import (
    CLUSTER_RG,
    CLUSTER_VNET,
    CLUSTER_VNET_ID,
    CUSTOMER_RG,
    CUSTOMER_SUB,
    CUSTOMER_TENANT,
    PLATFORM_APP,
    PLATFORM_TENANT,
    Clients,
    raw_request,
)

HUB_ID = CLUSTER_VNET_ID.replace(CLUSTER_VNET, "vnet-hub")


def to_hub() -> VirtualNetworkPeering:
    return VirtualNetworkPeering(remote_virtual_network=SubResource(id=HUB_ID))


def test_injected_429_is_retried_by_the_sdk_after_retry_after(
    sim: AzureSimulator, clients: Clients
) -> None:
    sim.control.set_faults(rules=[{
        "method": "PUT", "path_contains": "virtualNetworkPeerings", "status": 429,
        "retry_after": 0.05, "count": 2,
    }])
    network = clients.network(retry_total=3)
    result = network.virtual_network_peerings.begin_create_or_update(
        CLUSTER_RG, CLUSTER_VNET, "to-hub", to_hub()).result()
    assert result.provisioning_state == "Succeeded"
    assert sim.control.faults()["rules"][0]["count"] == 0


def test_injected_429_surfaces_with_retry_after_when_retries_are_off(
    sim: AzureSimulator, clients: Clients
) -> None:
    sim.control.set_faults(throttle_rate=1.0, throttle_retry_after=2, targets="writes")
    with pytest.raises(HttpResponseError) as caught:
        clients.network().virtual_network_peerings.begin_create_or_update(
            CLUSTER_RG, CLUSTER_VNET, "to-hub", to_hub())
    assert caught.value.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "2"
    # Reads are untouched by a writes-only fault.
    assert clients.network().virtual_networks.get(CLUSTER_RG, CLUSTER_VNET).name == CLUSTER_VNET


def test_injected_500_on_reads(sim: AzureSimulator, clients: Clients) -> None:
    sim.control.set_faults(error_rate=1.0, error_statuses=[500], targets="reads")
    with pytest.raises(HttpResponseError) as caught:
        clients.network().virtual_networks.get(CLUSTER_RG, CLUSTER_VNET)
    assert caught.value.status_code == 500
    assert caught.value.error.code == "InternalServerError"


def test_failed_lro_raises_and_leaves_the_resource_failed(
    sim: AzureSimulator, clients: Clients
) -> None:
    sim.control.set_faults(lro_failure_rate=1.0)
    network = clients.network()
    poller = network.virtual_network_peerings.begin_create_or_update(
        CLUSTER_RG, CLUSTER_VNET, "to-hub", to_hub())
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    assert "InternalServerError" in str(caught.value)
    sim.control.clear_faults()
    peering = network.virtual_network_peerings.get(CLUSTER_RG, CLUSTER_VNET, "to-hub")
    assert peering.provisioning_state == "Failed"


def test_subscription_throttling_bucket(sim: AzureSimulator) -> None:
    sim.control.set_faults(limits={"reads": [3, 0.5]})
    token = sim.control.token(PLATFORM_APP, PLATFORM_TENANT)
    path = f"{CLUSTER_VNET_ID}?api-version=2024-05-01"
    remaining = [
        raw_request(sim, "GET", path, token=token).headers[
            "x-ms-ratelimit-remaining-subscription-reads"]
        for _ in range(3)
    ]
    assert remaining == ["2", "1", "0"]
    throttled = raw_request(sim, "GET", path, token=token)
    assert throttled.status == 429
    assert throttled.body["error"]["code"] == "SubscriptionRequestsThrottled"
    assert int(throttled.headers["retry-after"]) >= 1
    # Another principal has its own bucket: refused for lack of a role, not throttled.
    stranger = sim.control.token("77777777-7777-4777-8777-777777777777", PLATFORM_TENANT)
    assert raw_request(sim, "GET", path, token=stranger).status == 403
    sim.control.set_faults(limits={"reads": [3, 1000]})
    assert raw_request(sim, "GET", path, token=token).status == 200


def test_latency_is_added(sim: AzureSimulator, clients: Clients) -> None:
    sim.control.set_faults(latency_ms=150)
    started = time.monotonic()
    clients.network().virtual_networks.get(CLUSTER_RG, CLUSTER_VNET)
    assert time.monotonic() - started >= 0.15


def test_seeded_rng_replays_the_same_faults(sim: AzureSimulator) -> None:
    token = sim.control.token(PLATFORM_APP, PLATFORM_TENANT)
    path = f"{CLUSTER_VNET_ID}?api-version=2024-05-01"

    def run() -> list[int]:
        sim.control.set_faults(seed=7, error_rate=0.5, error_statuses=[503])
        return [raw_request(sim, "GET", path, token=token).status for _ in range(12)]

    first = run()
    assert set(first) == {200, 503}
    assert run() == first


def test_http_control_api_acts_as_the_customer(sim: AzureSimulator) -> None:
    created = raw_request(sim, "POST", "/_simulator/customer/vnet", body={
        "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
        "resource_group": CUSTOMER_RG, "name": "vnet-http", "address_prefixes": ["10.9.0.0/16"],
        "has_gateway": True,
    })
    assert created.status == 200 and created.body["name"] == "vnet-http"
    principal = raw_request(
        sim, "GET", f"/_simulator/principal?app_id={PLATFORM_APP}&tenant_id={CUSTOMER_TENANT}")
    assert principal.body["object_id"] == sim.control.principal_id(PLATFORM_APP, CUSTOMER_TENANT)
    granted = raw_request(sim, "POST", "/_simulator/customer/grant", body={
        "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
        "resource_group": CUSTOMER_RG, "vnet_name": "vnet-http", "app_id": PLATFORM_APP,
    })
    assert granted.status == 200
    assert granted.body["scope"].endswith("/virtualNetworks/vnet-http")
    state = raw_request(sim, "GET", "/_simulator/state").body
    assert any(a["id"] == granted.body["role_assignment_id"] for a in state["role_assignments"])
    faults = raw_request(sim, "POST", "/_simulator/faults", body={"latency_ms": 5})
    assert faults.body["latency_ms"] == 5
    assert raw_request(sim, "POST", "/_simulator/faults", body={"bogus": 1}).status == 400
    assert raw_request(sim, "DELETE", "/_simulator/faults").body["latency_ms"] == 0
    revoked = raw_request(sim, "POST", "/_simulator/customer/revoke", body={
        "tenant_id": CUSTOMER_TENANT, "app_id": PLATFORM_APP, "scope": granted.body["scope"]})
    assert revoked.body["removed"] == 1
    assert raw_request(sim, "POST", "/_simulator/reset").status == 200
    names = [r["name"] for r in raw_request(sim, "GET", "/_simulator/state").body["resources"]]
    assert "vnet-http" not in names


def test_http_control_api_deletes_the_customer_side(sim: AzureSimulator, clients: Clients) -> None:
    network = clients.network()
    network.virtual_network_peerings.begin_create_or_update(
        CLUSTER_RG, CLUSTER_VNET, "to-hub", to_hub()).result()
    network.virtual_network_peerings.begin_create_or_update(
        CLUSTER_RG, "vnet-hub", "to-cl1",
        VirtualNetworkPeering(remote_virtual_network=SubResource(id=CLUSTER_VNET_ID))).result()
    assert network.virtual_network_peerings.get(
        CLUSTER_RG, CLUSTER_VNET, "to-hub").peering_state == "Connected"
    deleted = raw_request(sim, "POST", "/_simulator/customer/delete-peering",
                          body={"vnet_id": HUB_ID, "name": "to-cl1"})
    assert deleted.body["deleted"] is True
    assert network.virtual_network_peerings.get(
        CLUSTER_RG, CLUSTER_VNET, "to-hub").peering_state == "Disconnected"
