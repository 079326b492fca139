"""The simulator's side of proof of control: role assignment descriptions, listing them only
with roleAssignments/read (as Azure), and ``customer/grant`` playing the generated commands."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

from connectivity.azure import roles
from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import (
    CUSTOMER_ADMIN_APP,
    CUSTOMER_RG,
    CUSTOMER_SUB,
    CUSTOMER_TENANT,
    CUSTOMER_VNET,
    CUSTOMER_VNET_ID,
    PLATFORM_APP,
    Clients,
    raw_request,
)

GRANT = {"tenant_id": CUSTOMER_TENANT, "subscription_id": CUSTOMER_SUB,
         "resource_group": CUSTOMER_RG, "vnet_name": CUSTOMER_VNET, "app_id": PLATFORM_APP}


def platform_in_customer_tenant(clients: Clients):  # type: ignore[no-untyped-def]
    return clients.authorization(CUSTOMER_SUB,
                                 credential=clients.credential(PLATFORM_APP, CUSTOMER_TENANT))


def own_assignments(clients: Clients, sim: AzureSimulator) -> list:  # type: ignore[type-arg]
    principal = sim.control.principal_id(PLATFORM_APP, CUSTOMER_TENANT)
    return list(platform_in_customer_tenant(clients).role_assignments.list_for_scope(
        CUSTOMER_VNET_ID, filter=f"principalId eq '{principal}'"))


def test_listing_even_ones_own_assignments_needs_role_assignments_read(
        sim: AzureSimulator, clients: Clients) -> None:
    with pytest.raises(HttpResponseError) as refused:
        own_assignments(clients, sim)
    assert refused.value.status_code == 403
    assert refused.value.error.code == "AuthorizationFailed"
    assert "Microsoft.Authorization/roleAssignments/read" in refused.value.message
    # A role without the read action (the portal's role before it had it) is not enough.
    sim.control.grant(**GRANT, role_definition={
        "Name": "Peering only", "Actions": list(roles.PEERING_ACTIONS),
        "AssignableScopes": [CUSTOMER_VNET_ID]})
    with pytest.raises(HttpResponseError):
        own_assignments(clients, sim)


def test_customer_grant_plays_the_generated_commands_with_the_proof(
        sim: AzureSimulator, clients: Clients) -> None:
    granted = raw_request(sim, "POST", "/_simulator/customer/grant",
                          body={**GRANT, "proof": "cpp-first"})
    assert granted.status == 200
    assert granted.body["role_definition_name"] == roles.DEFAULT_ROLE_NAME
    assert granted.body["description"] == roles.proof_description("cpp-first")
    [assignment] = own_assignments(clients, sim)
    assert assignment.description == "Connectivity Portal proof of control: cpp-first"
    admin = clients.authorization(
        CUSTOMER_SUB, credential=clients.credential(CUSTOMER_ADMIN_APP, CUSTOMER_TENANT))
    definition = admin.role_definitions.get_by_id(assignment.role_definition_id)
    assert definition.role_name == roles.DEFAULT_ROLE_NAME
    assert list(definition.permissions[0].actions) == list(roles.ROLE_ACTIONS)

    # A second request for the same VNet: its proof joins the same assignment's description.
    again = raw_request(sim, "POST", "/_simulator/customer/grant",
                        body={**GRANT, "proof": "cpp-second"})
    assert again.body["role_assignment_id"] == granted.body["role_assignment_id"]
    [assignment] = own_assignments(clients, sim)
    assert roles.description_carries(assignment.description, "cpp-first")
    assert roles.description_carries(assignment.description, "cpp-second")


def test_customer_grant_on_a_vnet_that_does_not_exist_is_a_clear_404(sim: AzureSimulator) -> None:
    missing = raw_request(sim, "POST", "/_simulator/customer/grant",
                          body={**GRANT, "vnet_name": "vnet-typo", "proof": "cpp-x"})
    assert missing.status == 404
    assert "vnet-typo" in missing.body["error"] and "not found" in missing.body["error"]
    state = raw_request(sim, "GET", "/_simulator/state").body
    assert all("vnet-typo" not in a["id"] for a in state["role_assignments"])


def test_az_role_assignment_update_replaces_the_description(
        sim: AzureSimulator, clients: Clients) -> None:
    """What ``az role assignment update --role-assignment @file`` does: a PUT of the existing
    assignment with a new description."""
    granted = sim.control.grant(**GRANT, proof="cpp-first")
    admin = clients.authorization(
        CUSTOMER_SUB, credential=clients.credential(CUSTOMER_ADMIN_APP, CUSTOMER_TENANT))
    name = granted["role_assignment_id"].rsplit("/", 1)[-1]
    updated = admin.role_assignments.create(
        CUSTOMER_VNET_ID, name, RoleAssignmentCreateParameters(
            role_definition_id=granted["role_definition_id"],
            principal_id=granted["principal_id"], principal_type="ServicePrincipal",
            description="Connectivity Portal proof of control: cpp-first cpp-third"))
    assert updated.description.endswith("cpp-third")
    [assignment] = own_assignments(clients, sim)
    assert assignment.description == "Connectivity Portal proof of control: cpp-first cpp-third"
