"""The gateway's functions with the real azure-mgmt clients against the bundled simulator.

Nothing about Azure is mocked: requests go over HTTPS to the simulator, which enforces RBAC,
cross-tenant auxiliary tokens, long-running operations and injected faults.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from connectivity.azure import gateway, roles
from connectivity.azure.errors import (
    CustomerActionRequired,
    PermanentAzureError,
    TransientAzureError,
)
from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import (
    CLUSTER_RG,
    CLUSTER_VNET_ID,
    CUSTOMER_RG,
    CUSTOMER_SUB,
    CUSTOMER_TENANT,
    CUSTOMER_VNET,
    CUSTOMER_VNET_ID,
    PLATFORM_APP,
    PLATFORM_SUB,
    PLATFORM_TENANT,
)
from tests.azure.gateway_fixtures import gateway_sim  # noqa: F401

pytestmark = pytest.mark.usefixtures("gateway_sim")

HUB_VNET_ID = CLUSTER_VNET_ID.replace("vnet-cl1", "vnet-hub")
RULESET_ID = (
    f"/subscriptions/{PLATFORM_SUB}/resourceGroups/{CLUSTER_RG}"
    "/providers/Microsoft.Network/dnsForwardingRulesets/rs-cl1"
)
CUSTOMER = roles.CustomerVNet(CUSTOMER_TENANT, CUSTOMER_SUB, CUSTOMER_RG, CUSTOMER_VNET)


def grant(sim: AzureSimulator, vnet_name: str = CUSTOMER_VNET,
          proof: str | None = None) -> dict[str, Any]:
    """The customer runs the rendered commands: our role JSON, assigned on their VNet."""
    return sim.control.grant(
        tenant_id=CUSTOMER_TENANT,
        subscription_id=CUSTOMER_SUB,
        resource_group=CUSTOMER_RG,
        vnet_name=vnet_name,
        app_id=PLATFORM_APP,
        role_definition=roles.role_definition(CUSTOMER),
        proof=proof,
    )


def create_platform_side(**options: Any) -> gateway.VNetPeering:
    return gateway.peering_create(
        vnet_id=CLUSTER_VNET_ID,
        name="cl1-to-customer",
        remote_vnet_id=CUSTOMER_VNET_ID,
        tenant_id=PLATFORM_TENANT,
        remote_tenant_id=CUSTOMER_TENANT,
        allow_forwarded_traffic=True,
        use_remote_gateways=False,
        **options,
    )


def create_customer_side(**options: Any) -> gateway.VNetPeering:
    return gateway.peering_create(
        vnet_id=CUSTOMER_VNET_ID,
        name="customer-to-cl1",
        remote_vnet_id=CLUSTER_VNET_ID,
        tenant_id=CUSTOMER_TENANT,
        remote_tenant_id=PLATFORM_TENANT,
        allow_forwarded_traffic=True,
        use_remote_gateways=False,
        **options,
    )


# ---- reading VNets -------------------------------------------------------------------------


def test_vnet_get_platform_vnet_and_request_ids() -> None:
    with gateway.capture_request_ids() as ids:
        vnet = gateway.vnet_get(vnet_id=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT)
    assert vnet.name == "vnet-cl1"
    assert vnet.location == "westeurope"
    assert vnet.address_prefixes == ("10.100.0.0/16",)
    assert vnet.has_gateway is False
    assert vnet.peerings == ()
    assert len(ids) == 1 and ids[0]


def test_vnet_get_sees_a_gateway() -> None:
    assert gateway.vnet_get(vnet_id=HUB_VNET_ID, tenant_id=PLATFORM_TENANT).has_gateway


def test_vnet_get_missing_vnet_names_it() -> None:
    """In the platform's own subscription a missing VNet is the platform's problem (a customer
    subscription's missing VNet is the customer's: tests/azure/test_real_shapes.py)."""
    missing = CLUSTER_VNET_ID.replace("vnet-cl1", "vnet-nope")
    with pytest.raises(PermanentAzureError) as info:
        gateway.vnet_get(vnet_id=missing, tenant_id=PLATFORM_TENANT)
    assert info.value.reason == "platform_resource_missing"
    assert "vnet-nope" in info.value.message
    assert info.value.request_id


def test_customer_vnet_unreadable_before_the_grant_then_readable(
    sim: AzureSimulator,
) -> None:
    with pytest.raises(CustomerActionRequired) as info:
        gateway.vnet_get(vnet_id=CUSTOMER_VNET_ID, tenant_id=CUSTOMER_TENANT)
    assert info.value.reason == "permission_missing"
    assert info.value.action == "Microsoft.Network/virtualNetworks/read"
    assert "Microsoft.Network/virtualNetworks/read" in info.value.message
    assert info.value.scope is not None and CUSTOMER_VNET in info.value.scope

    grant(sim)
    vnet = gateway.vnet_get(vnet_id=CUSTOMER_VNET_ID, tenant_id=CUSTOMER_TENANT)
    assert vnet.address_prefixes == ("10.1.0.0/16",)


# ---- permissions and role assignments ------------------------------------------------------


def test_missing_actions_before_and_after_the_grant(sim: AzureSimulator) -> None:
    required = roles.required_actions()
    assert (
        gateway.missing_actions(scope=CUSTOMER_VNET_ID, tenant_id=CUSTOMER_TENANT, required=required)
        == required
    )
    grant(sim)
    assert gateway.missing_actions(scope=CUSTOMER_VNET_ID, tenant_id=CUSTOMER_TENANT, required=required) == []
    # granted on the VNet only: the resource group as a whole is not ours
    assert (
        gateway.permissions_at(
            scope=f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/{CUSTOMER_RG}",
            tenant_id=CUSTOMER_TENANT,
        )
        == []
    )


def test_missing_actions_sees_the_revoke(sim: AzureSimulator) -> None:
    grant(sim)
    sim.control.revoke(tenant_id=CUSTOMER_TENANT, app_id=PLATFORM_APP, scope=CUSTOMER_VNET_ID)
    assert len(
        gateway.missing_actions(
            scope=CUSTOMER_VNET_ID, tenant_id=CUSTOMER_TENANT, required=roles.required_actions()
        )
    ) == len(roles.ROLE_ACTIONS)


def test_permissions_at_resource_group_with_builtin_role() -> None:
    perms = gateway.permissions_at(
        scope=f"/subscriptions/{PLATFORM_SUB}/resourceGroups/{CLUSTER_RG}",
        tenant_id=PLATFORM_TENANT,
    )
    assert any("Microsoft.Network/*" in p.actions for p in perms)
    assert gateway.missing_from(perms, roles.required_actions()) == []


def test_role_propagation_delay_is_not_yet_then_ok(sim: AzureSimulator) -> None:
    sim.control.set_faults(propagation_delay=0.6)
    grant(sim)
    with pytest.raises(CustomerActionRequired) as info:
        gateway.vnet_get(vnet_id=CUSTOMER_VNET_ID, tenant_id=CUSTOMER_TENANT)
    assert info.value.reason == "permission_missing"
    assert "few minutes" in info.value.message
    deadline = time.monotonic() + 5
    while True:
        try:
            gateway.vnet_get(vnet_id=CUSTOMER_VNET_ID, tenant_id=CUSTOMER_TENANT)
            break
        except CustomerActionRequired:
            assert time.monotonic() < deadline, "the grant never took effect"
            time.sleep(0.1)


def test_platform_principal_id_is_the_object_id_in_that_tenant(
    sim: AzureSimulator,
) -> None:
    assert gateway.platform_principal_id(tenant_id=CUSTOMER_TENANT) == (
        sim.control.principal_id(PLATFORM_APP, CUSTOMER_TENANT)
    )
    assert gateway.platform_principal_id(tenant_id=PLATFORM_TENANT) != (
        gateway.platform_principal_id(tenant_id=CUSTOMER_TENANT)
    )


def test_role_assignments_for_platform_and_find(sim: AzureSimulator) -> None:
    # As Azure: listing needs roleAssignments/read at the scope, which only the grant brings.
    with pytest.raises(CustomerActionRequired) as refused:
        gateway.role_assignments_for_platform(scope=CUSTOMER_VNET_ID, tenant_id=CUSTOMER_TENANT)
    assert refused.value.reason == "permission_missing"
    granted = grant(sim, proof="cpp-integration")
    found = gateway.role_assignments_for_platform(scope=CUSTOMER_VNET_ID, tenant_id=CUSTOMER_TENANT)
    assert [a.id for a in found] == [granted["role_assignment_id"]]
    assert found[0].principal_id == granted["principal_id"]
    assert found[0].description == "Connectivity Portal proof of control: cpp-integration"
    match = gateway.role_assignment_find(
        scope=CUSTOMER_VNET_ID,
        tenant_id=CUSTOMER_TENANT,
        role_definition_id=granted["role_definition_id"],
    )
    assert match is not None and match.id == granted["role_assignment_id"]


def test_role_assignment_find_by_name() -> None:
    found = gateway.role_assignment_find(
        scope=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT, role_name="Network Contributor"
    )
    assert found is not None
    assert found.scope == f"/subscriptions/{PLATFORM_SUB}"
    assert (
        gateway.role_assignment_find(scope=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT, role_name="Owner")
        is None
    )


# ---- peerings ------------------------------------------------------------------------------


def test_cross_tenant_peering_both_sides_connect(sim: AzureSimulator) -> None:
    grant(sim)
    sim.control.set_faults(lro_duration=0.2)
    with gateway.capture_request_ids() as ids:
        ours = create_platform_side()
    assert ours.provisioning_state == "Succeeded"  # followed the LRO to its end
    assert ours.peering_state == "Initiated"
    assert ours.remote_address_prefixes == ("10.1.0.0/16",)
    assert len(ids) >= 2  # the PUT and at least one poll (made from the SDK's own thread)

    theirs = create_customer_side()
    assert theirs.peering_state == "Connected"
    ours_now = gateway.peering_get(vnet_id=CLUSTER_VNET_ID, name="cl1-to-customer", tenant_id=PLATFORM_TENANT)
    assert ours_now is not None and ours_now.connected
    assert ours_now.allow_forwarded_traffic is True
    vnet = gateway.vnet_get(vnet_id=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT)
    assert [p.name for p in vnet.peerings] == ["cl1-to-customer"]


def test_create_is_idempotent(sim: AzureSimulator) -> None:
    grant(sim)
    first = create_platform_side()
    again = create_platform_side()
    assert again.id == first.id
    assert again.provisioning_state == "Succeeded"


def test_peering_create_without_wait_returns_at_once(sim: AzureSimulator) -> None:
    grant(sim)
    sim.control.set_faults(lro_duration=0.5)
    started = time.monotonic()
    first = create_platform_side(wait=False)
    assert time.monotonic() - started < 0.5
    assert first.provisioning_state in ("Updating", "Creating")
    # Azure's Retry-After for the operation comes back with it, so the engine reads it then.
    assert first.retry_after is not None and 0 < first.retry_after <= 0.5
    deadline = time.monotonic() + 5
    while True:
        now = gateway.peering_get(vnet_id=CLUSTER_VNET_ID, name="cl1-to-customer", tenant_id=PLATFORM_TENANT)
        assert now is not None
        assert now.retry_after is None  # a read carries no hint
        if now.provisioning_state == "Succeeded":
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_customer_deleting_their_side_shows_disconnected(sim: AzureSimulator) -> None:
    grant(sim)
    create_platform_side()
    create_customer_side()
    sim.control.delete_peering(vnet_id=CUSTOMER_VNET_ID, name="customer-to-cl1")
    ours = gateway.peering_get(vnet_id=CLUSTER_VNET_ID, name="cl1-to-customer", tenant_id=PLATFORM_TENANT)
    assert ours is not None and ours.peering_state == "Disconnected"


def test_recreating_against_a_disconnected_peering_says_what_to_do(
    sim: AzureSimulator,
) -> None:
    grant(sim)
    create_platform_side()
    create_customer_side()
    sim.control.delete_peering(vnet_id=CUSTOMER_VNET_ID, name="customer-to-cl1")
    with pytest.raises(CustomerActionRequired) as info:
        create_customer_side()
    assert info.value.reason == "remote_peering_disconnected"
    assert "Delete" in info.value.message


def test_peering_get_and_delete_tolerate_missing(sim: AzureSimulator) -> None:
    assert gateway.peering_get(vnet_id=CLUSTER_VNET_ID, name="nothing", tenant_id=PLATFORM_TENANT) is None
    grant(sim)
    create_platform_side()
    with gateway.capture_request_ids() as ids:
        assert (
            gateway.peering_delete(vnet_id=CLUSTER_VNET_ID, name="cl1-to-customer", tenant_id=PLATFORM_TENANT)
            is True
        )
    assert ids
    assert (
        gateway.peering_get(vnet_id=CLUSTER_VNET_ID, name="cl1-to-customer", tenant_id=PLATFORM_TENANT)
        is None
    )
    assert (
        gateway.peering_delete(vnet_id=CLUSTER_VNET_ID, name="cl1-to-customer", tenant_id=PLATFORM_TENANT)
        is False
    )


def test_peering_without_the_grant_names_peer_action() -> None:
    with pytest.raises(CustomerActionRequired) as info:
        create_platform_side()
    assert info.value.reason in ("permission_missing", "cross_tenant_not_authorized")
    assert info.value.action == "Microsoft.Network/virtualNetworks/peer/action"


def test_cross_tenant_without_auxiliary_token_is_linked_authorization_failed(
    sim: AzureSimulator,
) -> None:
    grant(sim)
    with pytest.raises(CustomerActionRequired) as info:
        gateway.peering_create(
            vnet_id=CLUSTER_VNET_ID,
            name="cl1-to-customer",
            remote_vnet_id=CUSTOMER_VNET_ID,
            tenant_id=PLATFORM_TENANT,
            remote_tenant_id=PLATFORM_TENANT,  # wrong: no auxiliary token is sent
            allow_forwarded_traffic=False,
            use_remote_gateways=False,
        )
    assert info.value.code == "LinkedAuthorizationFailed"
    assert info.value.reason == "cross_tenant_not_authorized"


def test_overlapping_address_space_is_rejected_with_prefixes(sim: AzureSimulator) -> None:
    sim.control.create_vnet(
        tenant_id=CUSTOMER_TENANT,
        subscription_id=CUSTOMER_SUB,
        resource_group=CUSTOMER_RG,
        name="vnet-overlap",
        address_prefixes=["10.100.4.0/24"],
    )
    grant(sim, vnet_name="vnet-overlap")
    with pytest.raises(CustomerActionRequired) as info:
        gateway.peering_create(
            vnet_id=CLUSTER_VNET_ID,
            name="cl1-to-overlap",
            remote_vnet_id=CUSTOMER_VNET_ID.replace(CUSTOMER_VNET, "vnet-overlap"),
            tenant_id=PLATFORM_TENANT,
            remote_tenant_id=CUSTOMER_TENANT,
            allow_forwarded_traffic=False,
            use_remote_gateways=False,
        )
    assert info.value.reason == "address_space_overlap"
    assert info.value.prefixes
    assert all(p in info.value.message for p in info.value.prefixes)


def test_use_remote_gateways_without_gateway(sim: AzureSimulator) -> None:
    grant(sim)
    with pytest.raises(CustomerActionRequired) as info:
        gateway.peering_create(
            vnet_id=CLUSTER_VNET_ID,
            name="cl1-to-customer",
            remote_vnet_id=CUSTOMER_VNET_ID,
            tenant_id=PLATFORM_TENANT,
            remote_tenant_id=CUSTOMER_TENANT,
            allow_forwarded_traffic=False,
            use_remote_gateways=True,
        )
    assert info.value.reason == "remote_gateway_missing"


# ---- faults --------------------------------------------------------------------------------


def test_throttling_surfaces_retry_after_when_sdk_retry_is_off(
    sim: AzureSimulator,
) -> None:
    sim.control.set_faults(
        rules=[{"status": 429, "retry_after": 0.3, "count": 1, "path_contains": "vnet-cl1"}]
    )
    with pytest.raises(TransientAzureError) as info:
        gateway.vnet_get(vnet_id=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT)
    assert info.value.status == 429
    assert info.value.retry_after == pytest.approx(0.3)
    assert info.value.reason == "throttled"


def test_throttling_honoured_by_sdk_retry(sim: AzureSimulator, settings: Any) -> None:
    settings.AZURE_SDK_RETRY_TOTAL = 2
    sim.control.set_faults(
        rules=[{"status": 429, "retry_after": 0.4, "count": 1, "path_contains": "vnet-cl1"}]
    )
    started = time.monotonic()
    vnet = gateway.vnet_get(vnet_id=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT)
    assert vnet.name == "vnet-cl1"
    assert time.monotonic() - started >= 0.4


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(sim: AzureSimulator, status: int) -> None:
    sim.control.set_faults(rules=[{"status": status, "count": 1, "path_contains": "vnet-cl1"}])
    with pytest.raises(TransientAzureError) as info:
        gateway.vnet_get(vnet_id=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT)
    assert info.value.status == status


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("InternalServerError", TransientAzureError),
        ("VnetAddressSpaceOverlapsWithAlreadyPeeredVnet", CustomerActionRequired),
        ("PeeringProvisioningFailed", PermanentAzureError),
    ],
)
def test_failed_long_running_operation(sim: AzureSimulator, code: str, cls: type[Exception]) -> None:
    grant(sim)
    sim.control.set_faults(
        lro_failure_rate=1.0,
        lro_failure_code=code,
        lro_failure_message="Overlapping address prefixes: 10.1.0.0/16."
        if code.startswith("Vnet")
        else "The operation failed.",
    )
    with pytest.raises(cls) as info:
        create_platform_side()
    assert info.value.message  # type: ignore[attr-defined]
    assert info.value.code == code  # type: ignore[attr-defined]
    ours = gateway.peering_get(vnet_id=CLUSTER_VNET_ID, name="cl1-to-customer", tenant_id=PLATFORM_TENANT)
    assert ours is not None and ours.provisioning_state == "Failed"


def test_unknown_tenant_is_a_customer_error() -> None:
    with pytest.raises(CustomerActionRequired) as info:
        gateway.vnet_get(vnet_id=CUSTOMER_VNET_ID, tenant_id="99999999-9999-4999-8999-999999999999")
    assert info.value.reason == "wrong_tenant"


def test_wrong_platform_secret_is_permanent(settings: Any) -> None:
    settings.AZURE_CLIENT_SECRET = "not-the-secret"
    with pytest.raises(PermanentAzureError) as info:
        gateway.vnet_get(vnet_id=CLUSTER_VNET_ID, tenant_id=PLATFORM_TENANT)
    assert info.value.reason == "platform_sign_in"


# ---- private DNS ---------------------------------------------------------------------------


def test_private_zone_records_and_link_lifecycle() -> None:
    zone = gateway.private_zone_create(
        subscription_id=PLATFORM_SUB, resource_group=CLUSTER_RG, zone_name="corp.example"
    )
    assert zone.name == "corp.example"
    assert zone.provisioning_state == "Succeeded"
    again = gateway.private_zone_get(zone_id=zone.id)
    assert again is not None and again.id.lower() == zone.id.lower()

    records = gateway.a_record_set_put(zone_id=zone.id, name="db", ips=["10.1.0.4", "10.1.0.5"])
    assert records.ips == ("10.1.0.4", "10.1.0.5")
    assert records.ttl == 300
    replaced = gateway.a_record_set_put(zone_id=zone.id, name="db", ips=["10.1.0.6"], ttl=60)
    assert replaced.ips == ("10.1.0.6",) and replaced.ttl == 60
    fetched = gateway.a_record_set_get(zone_id=zone.id, name="db")
    assert fetched is not None and fetched.ips == ("10.1.0.6",)

    link = gateway.zone_link_create(zone_id=zone.id, link_name="cl1", vnet_id=CLUSTER_VNET_ID)
    assert link.link_state == "Completed"
    assert link.registration_enabled is False
    assert link.vnet_id.lower() == CLUSTER_VNET_ID.lower()
    fetched_link = gateway.zone_link_get(zone_id=zone.id, link_name="cl1")
    assert fetched_link is not None and fetched_link.link_state == "Completed"
    assert gateway.private_zones_linked_to(vnet_id=CLUSTER_VNET_ID, subscription_id=PLATFORM_SUB) == [
        "corp.example"
    ]
    assert gateway.private_zones_linked_to(vnet_id=HUB_VNET_ID, subscription_id=PLATFORM_SUB) == []

    assert gateway.a_record_set_delete(zone_id=zone.id, name="db") is True
    assert gateway.a_record_set_delete(zone_id=zone.id, name="db") is False
    assert gateway.zone_link_delete(zone_id=zone.id, link_name="cl1") is True
    assert gateway.zone_link_delete(zone_id=zone.id, link_name="cl1") is False
    assert gateway.zone_link_get(zone_id=zone.id, link_name="cl1") is None
    assert gateway.private_zone_delete(zone_id=zone.id) is True
    assert gateway.private_zone_get(zone_id=zone.id) is None
    assert gateway.private_zone_delete(zone_id=zone.id) is False


def test_private_zone_delete_removes_links_first() -> None:
    zone = gateway.private_zone_create(
        subscription_id=PLATFORM_SUB, resource_group=CLUSTER_RG, zone_name="linked.example"
    )
    gateway.zone_link_create(zone_id=zone.id, link_name="cl1", vnet_id=CLUSTER_VNET_ID)
    assert gateway.private_zone_delete(zone_id=zone.id) is True
    assert gateway.private_zone_get(zone_id=zone.id) is None


def test_private_zone_create_without_wait(sim: AzureSimulator) -> None:
    sim.control.set_faults(lro_duration=0.3)
    zone = gateway.private_zone_create(
        subscription_id=PLATFORM_SUB,
        resource_group=CLUSTER_RG,
        zone_name="later.example",
        wait=False,
    )
    assert zone.name == "later.example"
    assert zone.provisioning_state != "Succeeded"


# ---- DNS forwarding ------------------------------------------------------------------------


def test_forwarding_rule_lifecycle() -> None:
    rule = gateway.forwarding_rule_create(
        ruleset_id=RULESET_ID,
        name="corp",
        domain_name="Corp.Example",
        target_dns_servers=["10.1.0.4", "10.1.0.5"],
    )
    assert rule.domain_name == "corp.example."
    assert rule.target_dns_servers == ("10.1.0.4:53", "10.1.0.5:53")
    assert rule.state == "Enabled"
    got = gateway.forwarding_rule_get(ruleset_id=RULESET_ID, name="corp")
    assert got == rule
    assert [r.name for r in gateway.forwarding_rules_list(ruleset_id=RULESET_ID)] == ["corp"]
    assert gateway.forwarding_rule_delete(ruleset_id=RULESET_ID, name="corp") is True
    assert gateway.forwarding_rule_get(ruleset_id=RULESET_ID, name="corp") is None
    assert gateway.forwarding_rule_delete(ruleset_id=RULESET_ID, name="corp") is False
    assert gateway.forwarding_rules_list(ruleset_id=RULESET_ID, tenant_id=PLATFORM_TENANT) == []
