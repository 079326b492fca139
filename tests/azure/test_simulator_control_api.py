"""The simulator's HTTP control API: an index of its routes, and clear 4xx for wrong calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectivity.azure.simulator import AzureSimulator
from connectivity.azure.simulator.control_api import ROUTES
from tests.azure.conftest import CUSTOMER_RG, CUSTOMER_SUB, CUSTOMER_TENANT, raw_request

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_index_lists_every_route_with_its_body(sim: AzureSimulator) -> None:
    index = raw_request(sim, "GET", "/_simulator/")
    assert index.status == 200 and index.body["ok"] is True
    listed = {(r["method"], r["path"]): r for r in index.body["routes"]}
    for needed in ["/state", "/faults", "/customer/grant", "/customer/revoke", "/customer/vnet",
                   "/customer/delete-peering", "/customer/address-space", "/reset"]:
        assert any(path == f"/_simulator{needed}" for _m, path in listed), needed
    vnet = listed[("POST", "/_simulator/customer/vnet")]
    assert set(vnet["body"]) >= {"tenant_id", "subscription_id", "resource_group", "name",
                                 "address_prefixes"}
    assert "optional" in vnet["body"]["has_gateway"]
    delete = listed[("POST", "/_simulator/customer/delete-peering")]
    assert set(delete["body"]) == {"vnet_id", "name"}
    assert "throttle_rate" in listed[("POST", "/_simulator/faults")]["body"]


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), [
    ("POST", "/_simulator/customer/vnet", {"tenant_id": CUSTOMER_TENANT}, 400,
     "missing body field subscription_id"),
    ("POST", "/_simulator/customer/delete-peering", {"vnet": "x", "name": "p"}, 400,
     "unknown body field(s) vnet"),
    ("POST", "/_simulator/customer/vnet", {
        "tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
        "resource_group": CUSTOMER_RG, "name": "v", "address_prefixes": "10.9.0.0/16"}, 400,
     "address_prefixes must be a list of strings"),
    ("POST", "/_simulator/faults", {"throttle_rate": "lots"}, 400,
     "throttle_rate must be a number"),
    ("POST", "/_simulator/customer/grant", ["not", "an", "object"], 400,
     "the body must be a JSON object"),
    ("GET", "/_simulator/customer/grant", None, 405, "GET is not allowed"),
    ("POST", "/_simulator/customer/nothing", {}, 404, "no control route"),
    ("GET", "/_simulator/resource", None, 400, "missing query field id"),
    ("POST", "/_simulator/customer/address-space", {
        "vnet_id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/"
                   "virtualNetworks/none", "address_prefixes": ["10.1.0.0/16"]}, 400,
     "no VNet"),
])
def test_a_wrong_call_gets_a_clear_json_4xx(sim: AzureSimulator, method: str, path: str,
                                           body: object, status: int, says: str) -> None:
    response = raw_request(sim, method, path, body=body)
    assert response.status == status, response.body
    assert says in response.body["error"]
    assert "TypeError" not in str(response.body) and "KeyError" not in str(response.body)
    if status != 404:
        assert response.body["expected"]["path"].startswith("/_simulator/")
    else:
        assert "GET /_simulator/" in response.body["see"]


def test_malformed_json_is_a_400_naming_it(sim: AzureSimulator) -> None:
    import http.client
    import json
    import ssl

    context = ssl.create_default_context(cafile=sim.ca_path)
    connection = http.client.HTTPSConnection("127.0.0.1", sim.port, context=context, timeout=10)
    connection.request("POST", "/_simulator/faults", body=b"{latency_ms: 5",
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 400 and "not JSON" in body["error"]


def test_the_readme_table_lists_every_route() -> None:
    text = README.read_text()
    section = text[text.index("| control route |"):]
    section = section[:section.index("\n\n")]
    for route in ROUTES:
        if route.path == "/":
            continue
        row = re.search(rf"`{route.method} /_simulator{re.escape(route.path)}`", section)
        assert row, f"README's control API table lacks {route.method} {route.path}"
