"""Identity and authorization: the real ClientSecretCredential, roles, assignments, permissions."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization.models import (
    Permission,
    RoleAssignmentCreateParameters,
    RoleDefinition,
)

from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import (
    ARM_SCOPE,
    CLUSTER_RG,
    CLUSTER_VNET,
    CUSTOMER_ADMIN_APP,
    CUSTOMER_RG,
    CUSTOMER_SUB,
    CUSTOMER_TENANT,
    CUSTOMER_VNET,
    CUSTOMER_VNET_ID,
    PLATFORM_APP,
    PLATFORM_SECRET,
    PLATFORM_TENANT,
    Clients,
    raw_request,
)

NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
PEER_ACTION = "Microsoft.Network/virtualNetworks/peer/action"


def secret_credential(sim: AzureSimulator, tenant: str, secret: str) -> ClientSecretCredential:
    return ClientSecretCredential(
        tenant, PLATFORM_APP, secret, authority=sim.base_url,
        disable_instance_discovery=True, connection_verify=sim.ca_path,
    )


def test_client_secret_credential_gets_tokens_from_the_simulator(
    sim: AzureSimulator, clients: Clients
) -> None:
    credential = secret_credential(sim, PLATFORM_TENANT, PLATFORM_SECRET)
    vnet = clients.network(credential=credential).virtual_networks.get(CLUSTER_RG, CLUSTER_VNET)
    assert vnet.name == CLUSTER_VNET
    from connectivity.azure.simulator.tokens import parse_token

    claims = parse_token(credential.get_token(ARM_SCOPE).token)
    assert claims is not None
    assert claims["tid"] == PLATFORM_TENANT
    assert claims["oid"] == sim.control.principal_id(PLATFORM_APP, PLATFORM_TENANT)
    assert claims["appid"] == PLATFORM_APP
    assert claims["aud"] == "https://management.azure.com"

    # The same multi-tenant app gets a token for the customer's tenant.
    other = secret_credential(sim, CUSTOMER_TENANT, PLATFORM_SECRET).get_token(ARM_SCOPE)
    assert parse_token(other.token)["tid"] == CUSTOMER_TENANT


def test_wrong_secret_is_refused(sim: AzureSimulator) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        secret_credential(sim, PLATFORM_TENANT, "wrong").get_token(ARM_SCOPE)


def test_request_without_token_is_401(sim: AzureSimulator) -> None:
    response = raw_request(sim, "GET", f"{CUSTOMER_VNET_ID}?api-version=2024-05-01")
    assert response.status == 401
    assert response.body["error"]["code"] == "AuthenticationFailed"


def test_built_in_roles_are_listed_with_their_real_ids(clients: Clients) -> None:
    auth = clients.authorization()
    scope = "/subscriptions/" + clients.simulator.control.state()["subscriptions"][0]["id"]
    found = list(auth.role_definitions.list(scope, filter="roleName eq 'Network Contributor'"))
    assert [r.name for r in found] == [NETWORK_CONTRIBUTOR]
    assert "Microsoft.Network/*" in found[0].permissions[0].actions
    assert found[0].id == f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{NETWORK_CONTRIBUTOR}"


def test_customer_creates_custom_role_and_assignment_with_the_sdk(
    sim: AzureSimulator, clients: Clients
) -> None:
    admin = clients.authorization(
        CUSTOMER_SUB, credential=clients.credential(CUSTOMER_ADMIN_APP, CUSTOMER_TENANT)
    )
    role_id = "7d0c3d43-2f0b-4b4b-9b1a-111111111111"
    role = admin.role_definitions.create_or_update(
        CUSTOMER_VNET_ID, role_id,
        RoleDefinition(
            role_name="Portal peering", description="peer with the platform",
            role_type="CustomRole",
            permissions=[Permission(actions=[
                "Microsoft.Network/virtualNetworks/read", PEER_ACTION,
                "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/*",
            ])],
            assignable_scopes=[CUSTOMER_VNET_ID],
        ),
    )
    assert role.role_type == "CustomRole" and role.name == role_id
    platform_sp = sim.control.principal_id(PLATFORM_APP, CUSTOMER_TENANT)
    assignment_name = "0d7b2c1e-6c47-4c0a-8f39-222222222222"
    created = admin.role_assignments.create(
        CUSTOMER_VNET_ID, assignment_name,
        RoleAssignmentCreateParameters(role_definition_id=role.id, principal_id=platform_sp,
                                       principal_type="ServicePrincipal"),
    )
    assert created.scope == CUSTOMER_VNET_ID and created.principal_id == platform_sp

    at_vnet = list(admin.role_assignments.list_for_scope(
        CUSTOMER_VNET_ID, filter=f"principalId eq '{platform_sp}'"))
    assert [a.name for a in at_vnet] == [assignment_name]
    at_rg_only = list(admin.role_assignments.list_for_scope(
        f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/{CUSTOMER_RG}", filter="atScope()"))
    assert assignment_name not in {a.name for a in at_rg_only}
    in_subscription = list(admin.role_assignments.list_for_subscription(
        filter=f"assignedTo('{platform_sp}')"))
    assert [a.name for a in in_subscription] == [assignment_name]

    deleted = admin.role_assignments.delete(CUSTOMER_VNET_ID, assignment_name)
    assert deleted is not None and deleted.name == assignment_name
    assert list(admin.role_assignments.list_for_scope(
        CUSTOMER_VNET_ID, filter=f"principalId eq '{platform_sp}'")) == []


def test_role_assignment_write_needs_owner(clients: Clients) -> None:
    platform = clients.authorization()
    with pytest.raises(HttpResponseError) as caught:
        platform.role_assignments.create(
            f"/subscriptions/{clients.simulator.control.state()['subscriptions'][0]['id']}",
            "0d7b2c1e-6c47-4c0a-8f39-333333333333",
            RoleAssignmentCreateParameters(
                role_definition_id=f"/providers/Microsoft.Authorization/roleDefinitions/{NETWORK_CONTRIBUTOR}",
                principal_id="0d7b2c1e-6c47-4c0a-8f39-444444444444"),
        )
    assert caught.value.error.code == "AuthorizationFailed"


def test_permissions_api_reports_the_callers_effective_actions(
    sim: AzureSimulator, clients: Clients
) -> None:
    auth = clients.authorization(
        CUSTOMER_SUB, credential=clients.credential(PLATFORM_APP, CUSTOMER_TENANT)
    )

    def vnet_actions() -> list[str]:
        return [a for p in auth.permissions.list_for_resource(
            CUSTOMER_RG, "Microsoft.Network", "", "virtualNetworks", CUSTOMER_VNET) for a in p.actions]

    assert vnet_actions() == []
    sim.control.grant(
        tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUB, resource_group=CUSTOMER_RG,
        vnet_name=CUSTOMER_VNET, app_id=PLATFORM_APP,
    )
    assert PEER_ACTION in vnet_actions()
    # A grant on the VNet says nothing about the resource group.
    assert list(auth.permissions.list_for_resource_group(CUSTOMER_RG)) == []

    revoked = sim.control.revoke(
        tenant_id=CUSTOMER_TENANT, app_id=PLATFORM_APP,
        scope=f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/{CUSTOMER_RG}",
    )
    assert revoked["removed"] == 1
    assert vnet_actions() == []


def test_grant_accepts_the_az_cli_role_json(sim: AzureSimulator, clients: Clients) -> None:
    role_json = {
        "Name": "Contoso peering for the portal",
        "IsCustom": True,
        "Description": "peering only",
        "Actions": ["Microsoft.Network/virtualNetworks/*"],
        "NotActions": ["Microsoft.Network/virtualNetworks/delete"],
        "AssignableScopes": [f"/subscriptions/{CUSTOMER_SUB}"],
    }
    result = sim.control.grant(
        tenant_id=CUSTOMER_TENANT, subscription_id=CUSTOMER_SUB, resource_group=CUSTOMER_RG,
        app_id=PLATFORM_APP, role_definition=role_json,
    )
    assert result["scope"] == f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/{CUSTOMER_RG}"
    auth = clients.authorization(
        CUSTOMER_SUB, credential=clients.credential(PLATFORM_APP, CUSTOMER_TENANT))
    [permission] = list(auth.permissions.list_for_resource_group(CUSTOMER_RG))
    assert permission.not_actions == ["Microsoft.Network/virtualNetworks/delete"]
    network = clients.network(
        CUSTOMER_SUB, credential=clients.credential(PLATFORM_APP, CUSTOMER_TENANT))
    with pytest.raises(HttpResponseError) as caught:
        network.virtual_networks.begin_delete(CUSTOMER_RG, CUSTOMER_VNET)
    assert caught.value.error.code == "AuthorizationFailed"
