"""Pre-flight against the Azure simulator: what the customer and the approver read."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from connectivity import kinds, preflight, provisioning, services
from connectivity.kinds import private_dns
from connectivity.models import RequestState
from tests.factories import (
    DnsForwardingRequestFactory,
    PeeringRequestFactory,
    PrivateDnsRequestFactory,
)
from tests.stack import CUSTOMER_VNET_NAME, customer_vnet_id

pytestmark = pytest.mark.django_db
S = RequestState


def by_key(checks: list[dict]) -> dict[str, dict]:
    return {c["key"]: c for c in checks}


@pytest.fixture
def peering(sim_cluster, azure_stack):
    return PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                 state=S.AWAITING_GRANT)


def test_granted_peering_passes_every_check_and_keeps_azure_request_ids(peering, azure_stack):
    azure_stack.grant(peering)
    checks, ids = kinds.preflight(peering)
    assert {c["status"] for c in checks} == {"pass"}, checks
    assert {"role_granted", "vnet_readable", "address_space", "pair_not_peered"} <= set(
        by_key(checks))
    assert ids


def test_no_role_yet_is_pending_while_it_may_propagate(peering, azure_stack, settings):
    settings.GRANT_PROPAGATION_WINDOW = 1800
    checks = by_key(kinds.preflight(peering)[0])
    control = checks["control_proved"]
    assert control["status"] == "pending"
    assert "propagating" in control["message"] and peering.customer_vnet_id in control["message"]
    assert peering.proof in control["message"]  # the exact command to run, with the proof
    assert control["retry_until"]
    # The role and the checks that need to read the VNet wait for the proof instead of failing.
    assert checks["role_granted"]["status"] == "pending"
    assert checks["address_space"]["status"] == "pending"


def test_no_role_after_the_window_fails_naming_scope_and_application(peering, azure_stack,
                                                                     settings):
    settings.GRANT_PROPAGATION_WINDOW = 0
    control = by_key(kinds.preflight(peering)[0])["control_proved"]
    assert control["status"] == "fail"
    assert peering.customer_vnet_id in control["message"]
    assert settings.AZURE_CLIENT_ID in control["message"]
    assert "az role assignment create" in control["message"] and peering.proof in control["message"]


def test_a_pending_role_keeps_its_first_deadline(peering, azure_stack, settings):
    settings.GRANT_PROPAGATION_WINDOW = 1800
    peering.preflight = kinds.preflight(peering)[0]
    first = by_key(peering.preflight)["control_proved"]["retry_until"]
    again = by_key(kinds.preflight(peering)[0])["control_proved"]["retry_until"]
    assert again == first


def test_propagating_grant_is_pending_then_passes(peering, azure_stack, settings):
    settings.GRANT_PROPAGATION_WINDOW = 1800
    azure_stack.set_faults(propagation_delay=0.6)
    azure_stack.grant(peering)
    assert by_key(kinds.preflight(peering)[0])["control_proved"]["status"] == "pending"
    time.sleep(0.7)
    checks = by_key(kinds.preflight(peering)[0])
    assert checks["control_proved"]["status"] == "pass"
    assert checks["role_granted"]["status"] == "pass"


def test_a_role_missing_an_action_names_the_action_and_scope(peering, azure_stack):
    azure_stack.grant(peering, actions=["Microsoft.Network/virtualNetworks/read",
                                        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/*",
                                        "Microsoft.Authorization/roleAssignments/read"])
    role = by_key(kinds.preflight(peering)[0])["role_granted"]
    assert role["status"] == "fail"
    assert "Microsoft.Network/virtualNetworks/peer/action" in role["message"]
    assert peering.customer_vnet_id in role["message"]


def test_missing_vnet_says_what_azure_cannot_find(sim_cluster, azure_stack):
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name="vnet-typo",
                                    state=S.AWAITING_GRANT)
    azure_stack.grant(request, on_resource_group=True)  # the VNet itself cannot take a role
    checks = by_key(kinds.preflight(request)[0])
    assert checks["vnet_readable"]["status"] == "fail"
    assert "vnet-typo" in checks["vnet_readable"]["message"]


def test_overlap_with_the_cluster_vnet_fails(sim_cluster, azure_stack):
    from connectivity import demo

    name = demo.CUSTOMER_OVERLAPPING_VNET_NAME
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=name, state=S.AWAITING_GRANT)
    azure_stack.grant(request)
    overlap = by_key(kinds.preflight(request)[0])["address_space"]
    assert overlap["status"] == "fail"
    assert "10.100.128.0/20 overlaps 10.100.0.0/16" in overlap["message"]


def test_overlap_with_a_vnet_already_peered_to_the_cluster_fails(sim_cluster, azure_stack):
    azure_stack.create_customer_vnet("vnet-branch", ["10.30.0.0/16"])
    azure_stack.create_customer_vnet("vnet-new", ["10.30.128.0/20"])
    azure_stack.control.seed({"peerings": [{
        "vnet_id": azure_stack.cluster_vnet_id, "name": "to-branch",
        "remote_vnet_id": customer_vnet_id("vnet-branch")}]})
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name="vnet-new",
                                    state=S.AWAITING_GRANT)
    azure_stack.grant(request)
    overlap = by_key(kinds.preflight(request)[0])["address_space"]
    assert overlap["status"] == "fail"
    assert "vnet-branch, already peered" in overlap["message"]


def test_remote_gateways_need_a_gateway(sim_cluster, azure_stack):
    azure_stack.create_customer_vnet("vnet-gw", ["10.40.0.0/16"], has_gateway=True)
    without = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    use_remote_gateways=True, state=S.AWAITING_GRANT)
    with_gw = PeeringRequestFactory(cluster=sim_cluster, vnet_name="vnet-gw",
                                    use_remote_gateways=True, state=S.AWAITING_GRANT)
    azure_stack.grant(without)
    azure_stack.grant(with_gw)
    assert by_key(kinds.preflight(without)[0])["remote_gateway"]["status"] == "fail"
    assert by_key(kinds.preflight(with_gw)[0])["remote_gateway"]["status"] == "pass"


def test_an_existing_peering_between_the_pair_fails(peering, azure_stack):
    azure_stack.control.seed({"peerings": [{
        "vnet_id": azure_stack.cluster_vnet_id, "name": "manual-peering",
        "remote_vnet_id": peering.customer_vnet_id}]})
    azure_stack.grant(peering)
    pair = by_key(kinds.preflight(peering)[0])["pair_not_peered"]
    assert pair["status"] == "fail" and "manual-peering" in pair["message"]


def test_an_older_open_request_for_the_same_pair_blocks_a_newer_one(peering, azure_stack):
    newer = PeeringRequestFactory(cluster=peering.cluster, vnet_name=CUSTOMER_VNET_NAME,
                                  state=S.AWAITING_GRANT,
                                  created_at=peering.created_at + timedelta(seconds=1))
    assert by_key(preflight.duplicate_checks(peering))["no_duplicate"]["status"] == "pass"
    blocked = by_key(preflight.duplicate_checks(newer))["no_duplicate"]
    assert blocked["status"] == "fail" and peering.short_id in blocked["message"]


def test_verify_moves_a_granted_peering_to_approval(peering, azure_stack, customer):
    azure_stack.grant(peering)
    assert services.request_verify(request=peering, actor=customer).state == S.PENDING_APPROVAL


def test_recheck_moves_the_request_on_once_the_role_propagates(peering, azure_stack, settings,
                                                               customer):
    settings.GRANT_PROPAGATION_WINDOW = 1800
    services.request_verify(request=peering, actor=customer)
    peering.refresh_from_db()
    assert peering.state == S.AWAITING_GRANT
    assert not preflight.recheck_due(peering)  # backoff: not at once
    azure_stack.grant(peering)
    later = timezone.now() + timedelta(seconds=20)
    assert preflight.recheck_due(peering, now=later)
    assert provisioning.preflight_recheck(now=later) == [str(peering.pk)]
    peering.refresh_from_db()
    assert peering.state == S.PENDING_APPROVAL


# --- private DNS and forwarding ---------------------------------------------------------------


def test_private_dns_zone_passes(sim_cluster, azure_stack):
    request = PrivateDnsRequestFactory(cluster=sim_cluster, zone_name="db.contoso.internal")
    checks, _ = kinds.preflight(request)
    assert {c["status"] for c in checks} == {"pass"}, checks


def test_private_dns_zone_clashing_with_a_linked_zone_fails(sim_cluster, azure_stack):
    from connectivity import demo

    azure_stack.control.seed({"tenants": [{
        "id": "11111111-1111-4111-8111-111111111111",
        "subscriptions": [{"id": "22222222-2222-4222-8222-222222222222", "resource_groups": [{
            "name": "rg-other", "private_dns_zones": [{
                "name": "db.contoso.internal",
                "linked_vnets": [demo.platform_vnet_id(demo.CLUSTERS[0]["vnet_name"])]}]}]}]}]})
    request = PrivateDnsRequestFactory(cluster=sim_cluster, zone_name="db.contoso.internal")
    clash = by_key(kinds.preflight(request)[0])["zone_clash"]
    assert clash["status"] == "fail" and "already linked" in clash["message"]


def test_private_dns_records_must_be_private(sim_cluster, azure_stack):
    request = PrivateDnsRequestFactory(cluster=sim_cluster,
                                       records=[{"name": "db", "ip": "8.8.8.8"}])
    names = by_key(kinds.preflight(request)[0])["names_valid"]
    assert names["status"] == "fail" and "private" in names["message"]


def test_forwarding_needs_servers_inside_a_peered_vnet(sim_cluster, azure_stack):
    request = DnsForwardingRequestFactory(cluster=sim_cluster, dns_servers=["10.20.0.4"])
    reach = by_key(kinds.preflight(request)[0])["servers_reachable"]
    assert reach["status"] == "fail" and "10.20.0.4" in reach["message"]
    cluster_vnet, customer = azure_stack.cluster_vnet_id, customer_vnet_id()
    azure_stack.control.seed({"peerings": [
        {"vnet_id": cluster_vnet, "name": "a", "remote_vnet_id": customer},
        {"vnet_id": customer, "name": "b", "remote_vnet_id": cluster_vnet}]})
    checks, _ = kinds.preflight(request)
    assert {c["status"] for c in checks} == {"pass"}, checks


def test_standard_cluster_fails_without_calling_azure(standard_cluster, organization):
    request = PrivateDnsRequestFactory(cluster=standard_cluster, organization=organization)
    checks, ids = kinds.preflight(request)
    assert by_key(checks)["cluster_dedicated"]["status"] == "fail"
    assert ids == []


@pytest.mark.parametrize(("prefixes", "shown"), [
    (["10.30.0.0/16", "169.254.0.0/16"], "169.254.0.0/16 includes 169.254.0.0/16"),
    (["10.30.0.0/16", "168.63.129.16/32"], "168.63.129.16/32 includes 168.63.129.16/32"),
])
def test_a_vnet_holding_azure_reserved_addresses_is_refused(sim_cluster, azure_stack, prefixes,
                                                            shown):
    azure_stack.create_customer_vnet("vnet-odd", prefixes)
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name="vnet-odd",
                                    state=S.AWAITING_GRANT)
    azure_stack.grant(request)
    reserved = by_key(kinds.preflight(request)[0])["address_reserved"]
    assert reserved["status"] == "fail"
    assert shown in reserved["message"]
    assert "Azure reserves 169.254.0.0/16" in reserved["message"]
    assert reserved["label"] == preflight.RESERVED_LABEL


def test_an_ordinary_vnet_passes_the_reserved_address_check(peering, azure_stack):
    azure_stack.grant(peering)
    assert by_key(kinds.preflight(peering)[0])["address_reserved"]["status"] == "pass"


def test_another_organisations_zone_of_the_same_name_is_no_clash(sim_cluster, azure_stack):
    """Organisation B's zone lives in B's group, linked to B's cluster: A's check neither fails
    on it nor mentions it."""
    from connectivity import demo

    other_group = private_dns.organization_dns_resource_group(999999)
    azure_stack.control.seed({"tenants": [{
        "id": "11111111-1111-4111-8111-111111111111",
        "subscriptions": [{"id": "22222222-2222-4222-8222-222222222222", "resource_groups": [{
            "name": other_group, "private_dns_zones": [{
                "name": "db.contoso.internal",
                "linked_vnets": [demo.platform_vnet_id(demo.CLUSTERS[1]["vnet_name"])]}]}]}]}]})
    request = PrivateDnsRequestFactory(cluster=sim_cluster, zone_name="db.contoso.internal")
    checks = by_key(kinds.preflight(request)[0])
    assert checks["zone_clash"]["status"] == "pass", checks["zone_clash"]
    text = " ".join(c["message"] for c in checks.values())
    assert other_group not in text and "platform" not in text
    assert private_dns.planned_zone_id(request).split("/")[4] == (
        private_dns.organization_dns_resource_group(request.organization_id))
