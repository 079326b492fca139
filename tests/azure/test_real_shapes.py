"""Shapes real Azure answers with, reproduced by the simulator and classified by the gateway.

Each simulator mode here is one that recorded real traffic or the REST specs show (AZURE.md):
specific codes wrapped in a generic one with ``error.details[]``, operations Canceled because
another superseded them, help text and links after the useful part of a message, busy VNets
answering in three different ways, polls without ``Retry-After``, ``RemoteNotInSync`` while a
peering is only Initiated, and per-type operation durations. The real azure-mgmt clients talk
to the simulator over HTTPS; nothing about Azure is mocked.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from connectivity.azure import gateway
from connectivity.azure.errors import (
    CustomerActionRequired,
    PermanentAzureError,
    TransientAzureError,
    clean_text,
)
from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import (
    CLUSTER_RG,
    CLUSTER_VNET_ID,
    CUSTOMER_SUB,
    PLATFORM_APP,
    PLATFORM_SUB,
    PLATFORM_TENANT,
    raw_request,
)
from tests.azure.gateway_fixtures import gateway_sim  # noqa: F401

pytestmark = pytest.mark.usefixtures("gateway_sim")

HUB_VNET_ID = CLUSTER_VNET_ID.replace("vnet-cl1", "vnet-hub")


def peer_cluster_to_hub(**options: Any) -> gateway.VNetPeering:
    """A peering inside the platform's own subscription: no customer grant involved."""
    return gateway.peering_create(
        vnet_id=CLUSTER_VNET_ID, name="cl1-to-hub", remote_vnet_id=HUB_VNET_ID,
        tenant_id=PLATFORM_TENANT, remote_tenant_id=PLATFORM_TENANT,
        allow_forwarded_traffic=False, use_remote_gateways=False, **options)


def platform_token(sim: AzureSimulator) -> str:
    return sim.control.token(PLATFORM_APP, PLATFORM_TENANT)


# ---- wrapped codes -------------------------------------------------------------------------


def test_a_wrapped_busy_code_is_classified_by_the_code_inside(sim: AzureSimulator) -> None:
    sim.control.set_faults(rules=[{
        "status": 429, "code": "RetryableErrorDueToAnotherOperation", "wrap": "RetryableError",
        "message": "Operation on the virtual network cannot be performed because another "
                   "operation is in progress. Retry in 7 seconds.",
        "count": 1, "path_contains": "vnet-cl1",
    }])
    with pytest.raises(TransientAzureError) as info:
        gateway.vnet_get(vnet_id=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT)
    assert info.value.code == "RetryableErrorDueToAnotherOperation"
    assert info.value.reason == "busy"
    assert info.value.retry_after == 7.0  # the hint inside details[], no Retry-After header


def test_a_wrapped_overlap_is_a_customer_action_with_its_prefixes(sim: AzureSimulator) -> None:
    sim.control.set_faults(rules=[{
        "status": 400, "code": "VnetAddressSpacesOverlap", "wrap": "InternalServerError",
        "message": "Virtual networks a and b cannot be peered because their address spaces "
                   "overlap. Overlapping address prefixes: 10.100.0.0/16, 10.100.4.0/24. For more "
                   "information please refer to https://aka.ms/vnetpeering.",
        "count": 1, "method": "PUT",
    }])
    with pytest.raises(CustomerActionRequired) as info:
        peer_cluster_to_hub()
    assert info.value.reason == "address_space_overlap"
    assert info.value.prefixes == ("10.100.0.0/16", "10.100.4.0/24")
    assert "aka.ms" not in info.value.message and "For more" not in info.value.message


def test_wrap_errors_wraps_every_injected_fault(sim: AzureSimulator) -> None:
    sim.control.set_faults(wrap_errors=True, rules=[{"status": 503, "count": 1}])
    answer = raw_request(sim, "GET", f"{CLUSTER_VNET_ID}?api-version=2024-05-01",
                         token=platform_token(sim))
    assert answer.status == 503
    assert answer.body["error"]["code"] == "RetryableError"
    assert answer.body["error"]["details"][0]["code"] == "ServiceUnavailable"


# ---- network errors carry details: [] -----------------------------------------------------


def test_network_errors_carry_an_empty_details_list(sim: AzureSimulator) -> None:
    answer = raw_request(sim, "GET", f"{CLUSTER_VNET_ID[:-3]}-nope?api-version=2024-05-01",
                         token=platform_token(sim))
    assert answer.status == 404
    assert answer.body["error"]["details"] == []


# ---- cancelled, superseded operations ------------------------------------------------------


def test_a_superseded_operation_is_transient_and_the_resource_reads_back(
        sim: AzureSimulator) -> None:
    sim.control.set_faults(lro_cancel_rate=1.0)
    with pytest.raises(TransientAzureError) as info:
        peer_cluster_to_hub()
    assert info.value.reason == "superseded"
    assert info.value.code == "CanceledAndSupersededDueToAnotherOperation"
    # Re-reading the resource shows what the superseding operation left: carry on from there.
    ours = gateway.peering_get(vnet_id=CLUSTER_VNET_ID, name="cl1-to-hub", tenant_id=PLATFORM_TENANT)
    assert ours is not None and ours.provisioning_state == "Succeeded"


def test_a_canceled_poll_body_has_the_superseded_detail(sim: AzureSimulator) -> None:
    sim.control.set_faults(lro_cancel_rate=1.0)
    token = platform_token(sim)
    answer = raw_request(
        sim, "PUT", f"{CLUSTER_VNET_ID}/virtualNetworkPeerings/p1?api-version=2024-05-01",
        token=token, body={"properties": {"remoteVirtualNetwork": {"id": HUB_VNET_ID}}})
    poll_url = answer.headers["azure-asyncoperation"].split(str(sim.port), 1)[1]
    poll = raw_request(sim, "GET", poll_url, token=token)
    assert poll.status == 200
    assert poll.body["status"] == "Canceled"
    assert poll.body["error"]["code"] == "Canceled"
    assert poll.body["error"]["details"][0]["code"] == "CanceledAndSupersededDueToAnotherOperation"
    assert "superseded by operation PutVirtualNetworkPeeringOperation" in (
        poll.body["error"]["details"][0]["message"])


# ---- busy VNets: three shapes --------------------------------------------------------------


@pytest.mark.parametrize(("style", "status", "code"), [
    ("retryable", 429, "RetryableErrorDueToAnotherOperation"),
    ("another_operation", 409, "AnotherOperationInProgress"),
    ("not_provisioned", 400, "ReferencedResourceNotProvisioned"),
])
def test_a_busy_vnet_is_transient_in_each_of_its_shapes(
        sim: AzureSimulator, style: str, status: int, code: str) -> None:
    sim.control.set_faults(busy_style=style, lro_duration=30)
    peer_cluster_to_hub(wait=False)  # keeps vnet-cl1 busy for 30 s
    with pytest.raises(TransientAzureError) as info:
        gateway.peering_create(
            vnet_id=CLUSTER_VNET_ID, name="cl1-to-other", remote_vnet_id=HUB_VNET_ID,
            tenant_id=PLATFORM_TENANT, remote_tenant_id=PLATFORM_TENANT,
            allow_forwarded_traffic=False, use_remote_gateways=False)
    assert info.value.status == status
    assert info.value.code == code
    assert info.value.reason == "busy"


# ---- polls without Retry-After -------------------------------------------------------------


def test_polls_without_retry_after_still_finish(sim: AzureSimulator, settings: Any) -> None:
    sim.control.set_faults(poll_retry_after=False, lro_duration=0.3)
    settings.AZURE_POLLING_INTERVAL = 0.1
    from connectivity.azure import clients

    clients.clear_cache()
    peering = peer_cluster_to_hub()
    assert peering.provisioning_state == "Succeeded"


def test_a_poll_answers_without_retry_after_as_azure_does(sim: AzureSimulator) -> None:
    sim.control.set_faults(poll_retry_after=False, lro_duration=30)
    token = platform_token(sim)
    answer = raw_request(
        sim, "PUT", f"{CLUSTER_VNET_ID}/virtualNetworkPeerings/p1?api-version=2024-05-01",
        token=token, body={"properties": {"remoteVirtualNetwork": {"id": HUB_VNET_ID}}})
    assert answer.status == 201
    poll_url = answer.headers["azure-asyncoperation"].split(str(sim.port), 1)[1]
    poll = raw_request(sim, "GET", poll_url, token=token)
    assert poll.body["status"] == "InProgress"
    assert "retry-after" not in poll.headers


# ---- RemoteNotInSync while Initiated -------------------------------------------------------


def test_an_initiated_peering_reads_remote_not_in_sync(sim: AzureSimulator) -> None:
    peering = peer_cluster_to_hub()
    assert peering.peering_state == "Initiated"
    token = platform_token(sim)
    answer = raw_request(
        sim, "GET", f"{CLUSTER_VNET_ID}/virtualNetworkPeerings/cl1-to-hub?api-version=2024-05-01",
        token=token)
    assert answer.body["properties"]["peeringSyncLevel"] == "RemoteNotInSync"


# ---- per-type durations --------------------------------------------------------------------


def test_operation_durations_differ_per_resource_type(sim: AzureSimulator) -> None:
    sim.control.set_faults(lro_durations={"virtualNetworkPeerings": 0.4, "privateDnsZones": 0.05})
    started = time.monotonic()
    gateway.private_zone_create(subscription_id=PLATFORM_SUB, resource_group=CLUSTER_RG,
                                zone_name="fast.example")
    zone_took = time.monotonic() - started
    started = time.monotonic()
    peer_cluster_to_hub()
    peering_took = time.monotonic() - started
    assert peering_took >= 0.4 > zone_took


def test_unknown_duration_settings_are_refused(sim: AzureSimulator) -> None:
    with pytest.raises(ValueError, match="lro_durations"):
        sim.control.set_faults(lro_durations={"virtualNetworkPeerings": "slow"})
    with pytest.raises(ValueError, match="busy_style"):
        sim.control.set_faults(busy_style="sometimes")


# ---- a missing parent in the platform's own subscription -----------------------------------


def test_a_missing_platform_parent_is_the_platforms_problem() -> None:
    zone_id = (f"/subscriptions/{PLATFORM_SUB}/resourceGroups/{CLUSTER_RG}/providers/"
               "Microsoft.Network/privateDnsZones/never-created.example")
    with pytest.raises(PermanentAzureError) as info:
        gateway.a_record_set_put(zone_id=zone_id, name="db", ips=["10.1.2.3"])
    assert info.value.reason == "platform_resource_missing"
    assert "not you" in info.value.message
    assert "check" not in info.value.message.lower()  # never "check your names"


def test_a_missing_parent_in_a_customer_subscription_stays_the_customers(
        settings: Any) -> None:
    settings.AZURE_PLATFORM_SUBSCRIPTION_ID = CUSTOMER_SUB  # seen from a platform elsewhere
    zone_id = (f"/subscriptions/{PLATFORM_SUB}/resourceGroups/{CLUSTER_RG}/providers/"
               "Microsoft.Network/privateDnsZones/never-created.example")
    with pytest.raises(CustomerActionRequired) as info:
        gateway.a_record_set_put(zone_id=zone_id, name="db", ips=["10.1.2.3"])
    assert info.value.reason == "not_found"


# ---- help text -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("The Resource 'x' was not found. For more details please go to "
     "https://aka.ms/ARMResourceNotFoundFix", "The Resource 'x' was not found."),
    ("Request was throttled. Refer to https://aka.ms/arm-throttling for details.",
     "Request was throttled."),
    ("Policy denied the request. For more information please refer to "
     "https://aka.ms/policy (RequestDisallowedByPolicy).", "Policy denied the request."),
    ("Nothing to strip here.", "Nothing to strip here."),
])
def test_help_text_and_links_are_cut_from_messages(text: str, expected: str) -> None:
    assert clean_text(text) == expected
