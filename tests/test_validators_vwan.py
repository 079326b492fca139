"""Validation of a Virtual WAN hub connection's inputs: every error names the field and rule."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from connectivity import validators

SUB = "44444444-4444-4444-8444-444444444444"
HUB_ID = f"/subscriptions/{SUB}/resourceGroups/rg-network/providers/Microsoft.Network/virtualHubs/hub-weu"


def test_a_hub_by_name() -> None:
    assert validators.parse_virtual_hub(" hub-weu ") == validators.HubReference(None, None,
                                                                                "hub-weu")


def test_a_hub_by_resource_id() -> None:
    assert validators.parse_virtual_hub(HUB_ID) == validators.HubReference(SUB, "rg-network",
                                                                           "hub-weu")
    lower = HUB_ID.replace("resourceGroups", "resourcegroups").replace("virtualHubs", "virtualhubs")
    assert validators.parse_virtual_hub(lower).hub_name == "hub-weu"


@pytest.mark.parametrize(("value", "code", "words"), [
    ("", "hub_required", "name or its resource id"),
    ("-hub", "hub_name", "1-80 characters"),
    ("hub.", "hub_name", "end with a letter, digit or underscore"),
    ("h" * 81, "hub_name", "1-80 characters"),
    ("hub\x00x", "control", "control characters"),
    (HUB_ID.replace("virtualHubs", "virtualNetworks"), "hub_id", "virtualHubs/<name>"),
    (HUB_ID + "/hubVirtualNetworkConnections/c", "hub_id", "virtualHubs/<name>"),
    (HUB_ID.replace(SUB, "not-a-guid"), "guid", "GUID"),
])
def test_bad_hubs_name_the_field_and_rule(value: str, code: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validators.parse_virtual_hub(value)
    assert caught.value.code == code
    assert "Virtual hub" in caught.value.messages[0] or code == "guid"
    assert words in caught.value.messages[0]


def test_route_table_names() -> None:
    assert validators.validate_route_table_name("defaultRouteTable") == "defaultRouteTable"
    assert validators.validate_route_table_names(["noneRouteTable", "rt_spokes"]) == [
        "noneRouteTable", "rt_spokes"]


@pytest.mark.parametrize(("value", "code"), [
    (f"{HUB_ID}/hubRouteTables/defaultRouteTable", "route_table_id"),
    ("rt spokes", "route_table_name"),
    ("", "route_table_name"),
])
def test_bad_route_table_names(value: str, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validators.validate_route_table_name(value, "Associated route table")
    assert caught.value.code == code
    assert caught.value.messages[0].startswith("Associated route table:")


@pytest.mark.parametrize(("value", "code"), [
    ("defaultRouteTable", "route_tables_list"),
    (["a"] * 21, "route_tables_max"),
    (["rt1", "RT1"], "route_tables_unique"),
])
def test_bad_route_table_lists(value: object, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validators.validate_route_table_names(value)
    assert caught.value.code == code
    assert "Propagated route tables" in caught.value.messages[0]
