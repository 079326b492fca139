"""The shared input rules: each bad value gets a message naming the rule."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from connectivity import validators as v


@pytest.mark.parametrize("value", ["44444444-4444-4444-8444-444444444444",
                                   "44444444-4444-4444-8444-44444444444A".lower()])
def test_guid_accepts(value: str) -> None:
    assert v.validate_guid(value) == value.lower()


@pytest.mark.parametrize("value", ["", "nope", "44444444444444448444444444444444",
                                   "{44444444-4444-4444-8444-444444444444}", "1' OR '1'='1"])
def test_guid_rejects(value: str) -> None:
    with pytest.raises(ValidationError, match="GUID"):
        v.validate_guid(value, "Tenant ID")


@pytest.mark.parametrize("value", ["rg", "rg-contoso.network", "RG_(prod)", "a" * 90])
def test_resource_group_accepts(value: str) -> None:
    assert v.validate_resource_group(value) == value


@pytest.mark.parametrize("value", ["", "rg.", "rg/x", "a" * 91, "rg\x00", "<script>"])
def test_resource_group_rejects(value: str) -> None:
    with pytest.raises(ValidationError):
        v.validate_resource_group(value)


@pytest.mark.parametrize("value", ["vnet-hub", "v1", "Hub_", "a.b-c_d"])
def test_vnet_name_accepts(value: str) -> None:
    assert v.validate_vnet_name(value) == value


@pytest.mark.parametrize("value", ["", "a", "-vnet", "vnet-", "vnet.", "a" * 65, "vnet hub"])
def test_vnet_name_rejects(value: str) -> None:
    with pytest.raises(ValidationError, match="VNet names"):
        v.validate_vnet_name(value)


def test_vnet_id_is_parsed_case_insensitively() -> None:
    ref = v.parse_vnet_id("/subscriptions/55555555-5555-4555-8555-555555555555/resourcegroups/"
                          "rg-net/providers/microsoft.network/virtualNetworks/vnet-hub")
    assert ref == v.VNetReference("55555555-5555-4555-8555-555555555555", "rg-net", "vnet-hub")
    with pytest.raises(ValidationError, match="resource id"):
        v.parse_vnet_id("/subscriptions/x/resourceGroups/rg")


@pytest.mark.parametrize("value", ["corp.contoso.com", "privatelink.database.windows.net",
                                   "Corp.Example.COM."])
def test_dns_name_accepts(value: str) -> None:
    assert v.validate_dns_name(value) == value.lower().rstrip(".")


@pytest.mark.parametrize("value", ["", "localhost", "-a.com", "a..com", "a.123", "a_b.com",
                                   "x" * 64 + ".com", "a.c\x00om"])
def test_dns_name_rejects(value: str) -> None:
    with pytest.raises(ValidationError):
        v.validate_dns_name(value)


def test_private_ipv4() -> None:
    assert v.validate_private_ipv4("10.1.2.3") == "10.1.2.3"
    for bad, rule in [("8.8.8.8", "private"), ("127.0.0.1", "private"), ("10.1.2", "IPv4"),
                      ("::1", "IPv4"), ("169.254.1.1", "private")]:
        with pytest.raises(ValidationError, match=rule):
            v.validate_private_ipv4(bad)


def test_records_and_servers() -> None:
    assert v.validate_records([{"name": "DB", "ip": "10.0.0.4"}]) == [{"name": "db", "ip": "10.0.0.4"}]
    with pytest.raises(ValidationError, match="at least one"):
        v.validate_records([])
    with pytest.raises(ValidationError, match="At most"):
        v.validate_records([{"name": f"r{i}", "ip": "10.0.0.4"} for i in range(v.MAX_RECORDS + 1)])
    with pytest.raises(ValidationError, match="repeats"):
        v.validate_records([{"name": "a", "ip": "10.0.0.4"}] * 2)
    assert v.validate_dns_servers(["10.0.0.4", "10.0.0.5"]) == ["10.0.0.4", "10.0.0.5"]
    with pytest.raises(ValidationError, match="once"):
        v.validate_dns_servers(["10.0.0.4", "10.0.0.4"])


def test_cidr_and_overlap() -> None:
    assert v.validate_cidr("10.1.0.0/16") == "10.1.0.0/16"
    with pytest.raises(ValidationError, match="host bits"):
        v.validate_cidr("10.1.0.1/16")
    assert v.prefixes_overlap(["10.100.0.0/16"], ["10.100.128.0/20", "10.20.0.0/16"]) == [
        ("10.100.0.0/16", "10.100.128.0/20")]
