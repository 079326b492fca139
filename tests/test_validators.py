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


@pytest.mark.parametrize("value", ["10.0.0.1", "10.255.255.254", "172.16.0.1", "172.31.255.254",
                                   "192.168.0.1", "192.168.255.254"])
def test_private_ipv4_accepts_rfc_1918(value: str) -> None:
    assert v.validate_private_ipv4(value) == value


@pytest.mark.parametrize("value", [
    "0.1.2.3", "0.0.0.0", "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1",
    "198.51.100.7", "203.0.113.9", "192.0.0.8", "100.64.0.1", "100.127.255.254", "172.32.0.1",
    "172.15.255.255", "224.0.0.1", "127.0.0.1", "169.254.169.254", "168.63.129.16", "8.8.8.8",
])
def test_private_ipv4_refuses_all_but_rfc_1918(value: str) -> None:
    """The message promises 10/8, 172.16/12 and 192.168/16; nothing else passes (100.64/10,
    shared address space, included: it is not a customer's private network)."""
    with pytest.raises(ValidationError, match=r"private address \(10\.0\.0\.0/8, 172\.16\.0\.0/12"):
        v.validate_private_ipv4(value, "DNS server IP")


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "garbage", "", "10.1.0.0/16x"])
def test_overlap_fails_closed_on_an_unparsable_prefix(bad: str) -> None:
    with pytest.raises(ValidationError, match="is not a CIDR"):
        v.prefixes_overlap(["10.1.0.0/16", bad], ["10.2.0.0/16"])
    with pytest.raises(ValidationError, match="is not a CIDR"):
        v.prefixes_overlap(["10.1.0.0/16"], [bad])


def test_preflight_overlap_helper_fails_closed() -> None:
    from connectivity.preflight import overlaps_between as _overlapping

    found = _overlapping(["10.1.0.0/16", "not-a-prefix"], ["10.2.0.0/16", "10.1.5.0/24"])
    assert "not-a-prefix is not a CIDR the portal can check" in found
    assert "10.1.0.0/16 overlaps 10.1.5.0/24" in found
    assert _overlapping(["10.1.0.0/16"], ["bogus"]) == ["bogus is not a CIDR the portal can check"]


@pytest.mark.parametrize(("prefixes", "found"), [
    (["10.1.0.0/16", "169.254.0.0/16"], "169.254.0.0/16 includes 169.254.0.0/16"),
    (["169.254.10.0/24"], "169.254.10.0/24 includes 169.254.0.0/16"),
    (["168.63.0.0/16"], "168.63.0.0/16 includes 168.63.129.16/32"),
    (["168.63.129.16/32"], "168.63.129.16/32 includes 168.63.129.16/32"),
    (["0.0.0.0/0"], "0.0.0.0/0 includes 169.254.0.0/16"),
    (["nonsense"], "nonsense (not a CIDR)"),
])
def test_reserved_azure_addresses_are_found(prefixes: list[str], found: str) -> None:
    assert found in v.reserved_overlaps(prefixes)


def test_ordinary_address_spaces_hold_no_reserved_addresses() -> None:
    assert v.reserved_overlaps(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                "168.63.128.0/24"]) == []


@pytest.mark.parametrize("name", [
    "login.microsoftonline.com", "microsoftonline.com", "management.azure.com", "azure.com",
    "blob.core.windows.net", "core.windows.net", "windows.net", "net", "com", "azurecr.io",
    "contoso.azurecr.io", "azure.net", "vault.azure.net", "microsoft.com", "azurewebsites.net",
    "cloudapp.net", "azure-api.net", "privatelink.azure.com", "evil.privatelink.blob.core.windows.net",
    "management.usgovcloudapi.net",
])
def test_zone_names_capturing_microsoft_traffic_are_refused(name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        v.validate_zone_name(name)
    assert refused.value.code in ("reserved_dns_name", "dns_name")
    assert "Zone name" in refused.value.messages[0]


@pytest.mark.parametrize("name", ["privatelink.blob.core.windows.net",
                                  "privatelink.database.windows.net",
                                  "privatelink.vaultcore.azure.net", "privatelink.azurecr.io",
                                  "privatelink.westeurope.azmk8s.io", "corp.contoso.internal",
                                  "contoso.com", "azure.contoso.com", "windows.contoso.net"])
def test_zone_names_allowed(name: str) -> None:
    assert v.validate_zone_name(name) == name


@pytest.mark.parametrize("name", ["privatelink.blob.core.windows.net", "windows.net",
                                  "login.microsoftonline.com", "azure.com", "io"])
def test_forwarding_domains_capturing_microsoft_traffic_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        v.validate_forwarding_domain(name)


def test_forwarding_domain_of_the_customer_is_allowed() -> None:
    assert v.validate_forwarding_domain("corp.contoso.com") == "corp.contoso.com"


def test_the_configured_arm_endpoint_is_reserved(settings: object) -> None:
    settings.AZURE_ARM_ENDPOINT = "https://management.sovereign.example"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match=r"management\.sovereign\.example"):
        v.validate_zone_name("sovereign.example")
    with pytest.raises(ValidationError, match=r"management\.sovereign\.example"):
        v.validate_forwarding_domain("api.management.sovereign.example")
