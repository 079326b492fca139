"""Private DNS zones, records and links, and DNS Private Resolver forwarding rules."""

from __future__ import annotations

import time

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.dnsresolver.models import ForwardingRule, TargetDnsServer
from azure.mgmt.privatedns.models import (
    ARecord,
    PrivateZone,
    RecordSet,
    VirtualNetworkLink,
)

from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import (
    CLUSTER_RG,
    CLUSTER_VNET_ID,
    CUSTOMER_VNET_ID,
    PLATFORM_APP,
    PLATFORM_TENANT,
    Clients,
    raw_request,
)

ZONE = "corp.contoso.example"


def test_private_zone_records_and_link(sim: AzureSimulator, clients: Clients) -> None:
    dns = clients.privatedns()
    zone = dns.private_zones.begin_create_or_update(
        CLUSTER_RG, ZONE, PrivateZone(location="global")).result()
    assert zone.location == "global"
    assert zone.properties.provisioning_state == "Succeeded"

    record = dns.record_sets.create_or_update(CLUSTER_RG, ZONE, "A", "db", _a_record("10.1.0.4"))
    assert record.properties.fqdn == f"db.{ZONE}."
    assert [a.ipv4_address for a in record.properties.a_records] == ["10.1.0.4"]
    with pytest.raises(ResourceExistsError):
        dns.record_sets.create_or_update(
            CLUSTER_RG, ZONE, "A", "db", _a_record("10.1.0.5"),
            match_condition=MatchConditions.IfMissing,
        )
    names = {r.name for r in dns.record_sets.list(CLUSTER_RG, ZONE)}
    assert names == {"@", "db"}

    link = dns.virtual_network_links.begin_create_or_update(
        CLUSTER_RG, ZONE, "link-cl1",
        VirtualNetworkLink(location="global", properties={
            "virtualNetwork": {"id": CLUSTER_VNET_ID}, "registrationEnabled": False}),
    ).result()
    assert link.properties.virtual_network_link_state == "Completed"
    assert link.properties.virtual_network.id == CLUSTER_VNET_ID
    refreshed = dns.private_zones.get(CLUSTER_RG, ZONE)
    assert refreshed.properties.number_of_virtual_network_links == 1
    assert refreshed.properties.number_of_record_sets == 2

    dns.record_sets.delete(CLUSTER_RG, ZONE, "A", "db")
    with pytest.raises(ResourceNotFoundError):
        dns.record_sets.get(CLUSTER_RG, ZONE, "A", "db")
    dns.virtual_network_links.begin_delete(CLUSTER_RG, ZONE, "link-cl1").result()
    dns.private_zones.begin_delete(CLUSTER_RG, ZONE).result()
    assert [z.name for z in dns.private_zones.list_by_resource_group(CLUSTER_RG)] == []


def _a_record(address: str) -> RecordSet:
    from azure.mgmt.privatedns.models import RecordSetProperties

    return RecordSet(properties=RecordSetProperties(ttl=300, a_records=[ARecord(ipv4_address=address)]))


def test_zone_put_is_202_then_polls_inprogress_then_succeeded(sim: AzureSimulator) -> None:
    sim.control.set_faults(lro_duration=0.2)
    token = sim.control.token(PLATFORM_APP, PLATFORM_TENANT)
    path = (f"/subscriptions/{CLUSTER_VNET_ID.split('/')[2]}/resourceGroups/{CLUSTER_RG}"
            f"/providers/Microsoft.Network/privateDnsZones/{ZONE}?api-version=2024-06-01")
    created = raw_request(sim, "PUT", path, token=token, body={"location": "global"})
    assert created.status == 202 and created.body == {}
    assert "location" in created.headers
    status_path = created.headers["azure-asyncoperation"].removeprefix(sim.base_url)
    first = raw_request(sim, "GET", status_path, token=token)
    assert (first.status, first.body["status"]) == (202, "InProgress")
    time.sleep(0.25)
    done = raw_request(sim, "GET", status_path, token=token)
    assert (done.status, done.body["status"]) == (200, "Succeeded")


def test_linking_a_vnet_in_another_tenant_needs_join_there(clients: Clients) -> None:
    dns = clients.privatedns()
    dns.private_zones.begin_create_or_update(CLUSTER_RG, ZONE, PrivateZone(location="global")).result()
    with pytest.raises(HttpResponseError) as caught:
        dns.virtual_network_links.begin_create_or_update(
            CLUSTER_RG, ZONE, "link-customer",
            VirtualNetworkLink(location="global", properties={
                "virtualNetwork": {"id": CUSTOMER_VNET_ID}}),
        )
    assert caught.value.error.code == "LinkedAuthorizationFailed"


def test_forwarding_rule_lifecycle(clients: Clients) -> None:
    resolver = clients.dnsresolver()
    ruleset = resolver.dns_forwarding_rulesets.get(CLUSTER_RG, "rs-cl1")
    assert ruleset.provisioning_state == "Succeeded"
    links = list(resolver.virtual_network_links.list(CLUSTER_RG, "rs-cl1"))
    assert [lk.virtual_network.id for lk in links] == [CLUSTER_VNET_ID]

    rule = resolver.forwarding_rules.create_or_update(
        CLUSTER_RG, "rs-cl1", "contoso",
        ForwardingRule(domain_name="contoso.example.",
                       target_dns_servers=[TargetDnsServer(ip_address="10.1.0.10", port=53)]),
    )
    assert rule.forwarding_rule_state == "Enabled"
    assert rule.provisioning_state == "Succeeded"
    fetched = resolver.forwarding_rules.get(CLUSTER_RG, "rs-cl1", "contoso")
    assert [s.ip_address for s in fetched.target_dns_servers] == ["10.1.0.10"]
    assert [r.name for r in resolver.forwarding_rules.list(CLUSTER_RG, "rs-cl1")] == ["contoso"]
    resolver.forwarding_rules.delete(CLUSTER_RG, "rs-cl1", "contoso")
    assert list(resolver.forwarding_rules.list(CLUSTER_RG, "rs-cl1")) == []


def test_ruleset_virtual_network_link(clients: Clients) -> None:
    from azure.mgmt.dnsresolver.models import SubResource as ResolverSubResource
    from azure.mgmt.dnsresolver.models import VirtualNetworkLink as RulesetLink

    resolver = clients.dnsresolver()
    hub_id = CLUSTER_VNET_ID.replace("vnet-cl1", "vnet-hub")
    link = resolver.virtual_network_links.begin_create_or_update(
        CLUSTER_RG, "rs-cl1", "link-hub",
        RulesetLink(virtual_network=ResolverSubResource(id=hub_id)),
    ).result()
    assert link.provisioning_state == "Succeeded"
    assert link.virtual_network.id == hub_id
    assert resolver.virtual_network_links.get(CLUSTER_RG, "rs-cl1", "link-hub").name == "link-hub"
    assert len(list(resolver.virtual_network_links.list(CLUSTER_RG, "rs-cl1"))) == 2


# --- resource groups (one per organisation holds its private DNS zones) ---------------------


def test_resource_group_put_get_delete_with_the_real_client(sim: AzureSimulator,
                                                           clients: Clients) -> None:
    from azure.mgmt.resource.resources.models import ResourceGroup

    from tests.azure.conftest import CUSTOMER_ADMIN_APP, CUSTOMER_SUB, CUSTOMER_TENANT

    owner = clients.credential(CUSTOMER_ADMIN_APP, CUSTOMER_TENANT)
    rm = clients.resources(CUSTOMER_SUB, credential=owner)
    created = rm.resource_groups.create_or_update(
        "rg-dns-org-1", ResourceGroup(location="westeurope", tags={"org": "1"}))
    assert created.id == f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/rg-dns-org-1"
    assert created.type == "Microsoft.Resources/resourceGroups"
    assert created.properties.provisioning_state == "Succeeded"
    again = rm.resource_groups.create_or_update(
        "rg-dns-org-1", ResourceGroup(location="westeurope", tags={"org": "1"}))
    assert again.id == created.id  # PUT is idempotent
    assert rm.resource_groups.get("rg-dns-org-1").tags == {"org": "1"}
    with pytest.raises(HttpResponseError) as moved:
        rm.resource_groups.create_or_update("rg-dns-org-1", ResourceGroup(location="eastus"))
    assert moved.value.error.code == "InvalidResourceGroupLocation"

    dns = clients.privatedns(CUSTOMER_SUB, credential=owner)
    dns.private_zones.begin_create_or_update(
        "rg-dns-org-1", ZONE, PrivateZone(location="global")).result()
    rm.resource_groups.begin_delete("rg-dns-org-1").result()
    with pytest.raises(ResourceNotFoundError) as gone:
        rm.resource_groups.get("rg-dns-org-1")
    assert gone.value.error.code == "ResourceGroupNotFound"
    assert not [r for r in sim.control.state()["resources"] if "rg-dns-org-1" in r["id"]]
    with pytest.raises(ResourceNotFoundError):
        rm.resource_groups.begin_delete("rg-dns-org-1").result()


def test_resource_group_delete_answers_202_with_a_location_only(sim: AzureSimulator) -> None:
    from tests.azure.conftest import CUSTOMER_ADMIN_APP, CUSTOMER_SUB, CUSTOMER_TENANT

    token = sim.control.token(CUSTOMER_ADMIN_APP, CUSTOMER_TENANT)
    path = f"/subscriptions/{CUSTOMER_SUB}/resourcegroups/rg-x?api-version=2025-04-01"
    assert raw_request(sim, "PUT", path, token=token, body={"location": "westeurope"}).status == 201
    assert raw_request(sim, "PUT", path, token=token, body={"location": "westeurope"}).status == 200
    deleted = raw_request(sim, "DELETE", path, token=token)
    assert deleted.status == 202
    headers = {k.lower(): v for k, v in deleted.headers.items()}
    assert "azure-asyncoperation" not in headers
    assert "/operationresults/" in headers["location"]


def test_platform_with_network_contributor_alone_cannot_create_a_group(
        sim: AzureSimulator, clients: Clients) -> None:
    from azure.mgmt.resource.resources.models import ResourceGroup

    with pytest.raises(HttpResponseError) as denied:
        clients.resources().resource_groups.create_or_update(
            "rg-dns-org-1", ResourceGroup(location="westeurope"))
    assert denied.value.error.code == "AuthorizationFailed"
