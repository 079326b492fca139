"""The simulator's bodies have the shape of the REST specs' example responses.

Every key of a spec example must be present with a value of the same JSON type; the
simulator may add keys (real responses carry more than the examples do).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import (
    CLUSTER_RG,
    CLUSTER_VNET_ID,
    PLATFORM_APP,
    PLATFORM_SUB,
    PLATFORM_TENANT,
    raw_request,
)
from tests.azure.test_simulator_privatelink import PRIVATE_LINK_SHAPES, build_private_link

FREE_FORM = {"tags", "metadata"}
EXAMPLES = Path(__file__).parent / "fixtures" / "spec_examples"
RG_ID = f"/subscriptions/{PLATFORM_SUB}/resourceGroups/{CLUSTER_RG}"
ZONE_ID = f"{RG_ID}/providers/Microsoft.Network/privateDnsZones/corp.example"
RULESET_ID = f"{RG_ID}/providers/Microsoft.Network/dnsForwardingRulesets/rs-cl1"


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape_differences(example: Any, actual: Any, path: str = "$") -> list[str]:
    if example is None:
        return []
    if json_type(example) != json_type(actual):
        return [f"{path}: expected {json_type(example)}, got {json_type(actual)}"]
    problems: list[str] = []
    if path.rsplit(".", 1)[-1] in FREE_FORM:
        return []  # user-chosen keys: only the type matters
    if isinstance(example, dict):
        for key, value in example.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += shape_differences(value, actual[key], f"{path}.{key}")
    elif isinstance(example, list) and example and actual:
        problems += shape_differences(example[0], actual[0], f"{path}[0]")
    return problems


def make(sim: AzureSimulator, method: str, path: str, body: Any = None) -> Any:
    token = sim.control.token(PLATFORM_APP, PLATFORM_TENANT)
    response = raw_request(sim, method, f"{path}?api-version=2024-06-01", token=token, body=body)
    assert response.status in (200, 201, 202), response.body
    return response.body


def build(sim: AzureSimulator, kind: str) -> Any:
    hub = CLUSTER_VNET_ID.replace("vnet-cl1", "vnet-hub")
    if kind == "peering_get":
        path = f"{CLUSTER_VNET_ID}/virtualNetworkPeerings/to-hub"
        make(sim, "PUT", path, {"properties": {"remoteVirtualNetwork": {"id": hub}}})
        return make(sim, "GET", path)
    if kind in ("private_zone_get", "record_set_a_get", "private_zone_link_get"):
        make(sim, "PUT", ZONE_ID, {"location": "global", "tags": {"k": "v"}})
        if kind == "private_zone_get":
            return make(sim, "GET", ZONE_ID)
        if kind == "record_set_a_get":
            path = f"{ZONE_ID}/A/db"
            make(sim, "PUT", path, {"properties": {"ttl": 300, "metadata": {"k": "v"},
                                                   "aRecords": [{"ipv4Address": "10.1.0.4"}]}})
            return make(sim, "GET", path)
        path = f"{ZONE_ID}/virtualNetworkLinks/link"
        make(sim, "PUT", path, {"location": "global", "tags": {"k": "v"},
                                "properties": {"virtualNetwork": {"id": CLUSTER_VNET_ID}}})
        return make(sim, "GET", path)
    if kind == "role_assignment_get":
        result = sim.control.assign_role(
            scope=f"/subscriptions/{PLATFORM_SUB}", role="Reader", tenant_id=PLATFORM_TENANT,
            principal_id="ce2ce14e-85d7-4629-bdbc-454d0519d987")
        return make(sim, "GET", result["id"])
    if kind == "forwarding_rule_get":
        path = f"{RULESET_ID}/forwardingRules/corp"
        make(sim, "PUT", path, {"properties": {
            "domainName": "corp.example.", "metadata": {"k": "v"},
            "targetDnsServers": [{"ipAddress": "10.1.0.4", "port": 53}]}})
        return make(sim, "GET", path)
    if kind in PRIVATE_LINK_SHAPES:
        return build_private_link(sim, kind)
    if kind in ("virtual_wan_get", "virtual_hub_get", "hub_route_table_get",
                "hub_connection_put", "hub_connection_get"):
        return build_vwan(sim, kind)
    raise AssertionError(kind)


def build_vwan(sim: AzureSimulator, kind: str) -> Any:
    wan = make(sim, "PUT", f"{RG_ID}/providers/Microsoft.Network/virtualWans/wan1",
               {"location": "westeurope", "tags": {"key1": "value1"}})
    hub_id = f"{RG_ID}/providers/Microsoft.Network/virtualHubs/hub1"
    make(sim, "PUT", hub_id, {"location": "westeurope", "properties": {
        "virtualWan": {"id": wan["id"]}, "addressPrefix": "10.250.0.0/23"}})
    if kind == "virtual_wan_get":
        return make(sim, "GET", wan["id"])
    if kind == "virtual_hub_get":
        return make(sim, "GET", hub_id)
    path = f"{hub_id}/hubVirtualNetworkConnections/connection1"
    spoke = CLUSTER_VNET_ID.replace("vnet-cl1", "vnet-hub")
    put = make(sim, "PUT", path, {"properties": {"remoteVirtualNetwork": {"id": spoke}}})
    if kind == "hub_connection_put":
        return put
    if kind == "hub_route_table_get":
        return make(sim, "GET", f"{hub_id}/hubRouteTables/defaultRouteTable")
    return make(sim, "GET", path)


@pytest.mark.parametrize("example", sorted(p.stem for p in EXAMPLES.glob("*.json")))
def test_response_matches_spec_example_shape(sim: AzureSimulator, example: str) -> None:
    spec = json.loads((EXAMPLES / f"{example}.json").read_text())
    actual = build(sim, example)
    assert shape_differences(spec["body"], actual) == []
