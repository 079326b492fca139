"""The custom role a customer grants the platform, and the ``az`` commands to grant and revoke it.

Rendered with the customer's own ids filled in, ready to copy and paste. Every value that
reaches a shell command is quoted with :func:`shlex.quote`; comments never contain customer
values, so no value can break out of a comment line either.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from connectivity.azure import resource_ids as rid

DEFAULT_ROLE_NAME = "Connectivity Portal Peering"
ROLE_FILE = "role.json"
_HEREDOC = "CONNECTIVITY_PORTAL_ROLE_JSON"

#: What the platform needs on the customer's VNet to create, read and remove both sides of a
#: peering (``peer/action`` lets the platform's own side point at the customer's VNet).
PEERING_ACTIONS: tuple[str, ...] = (
    "Microsoft.Network/virtualNetworks/read",
    "Microsoft.Network/virtualNetworks/peer/action",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/read",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete",
)


#: Lets the platform read its own role assignment on the customer's VNet, and so the proof of
#: control in that assignment's description (see :func:`proof_description`).
PROOF_READ_ACTION = "Microsoft.Authorization/roleAssignments/read"

#: Every action of the custom role: the peering actions plus reading the proof.
ROLE_ACTIONS: tuple[str, ...] = (*PEERING_ACTIONS, PROOF_READ_ACTION)

PROOF_DESCRIPTION_PREFIX = "Connectivity Portal proof of control:"


def required_actions() -> list[str]:
    """The actions pre-flight checks with ``gateway.missing_actions`` on the customer's VNet:
    every action of the custom role."""
    return list(ROLE_ACTIONS)


def proof_description(proof: str) -> str:
    """The role assignment description that carries a request's proof of control.

    A role assignment's description can be set by whoever may write role assignments at its
    scope, which is exactly who may grant the platform its role on the VNet, and (with the
    role's ``roleAssignments/read``) the platform can read it back. Several requests for the
    same VNet each append their proof to the same description."""
    return f"{PROOF_DESCRIPTION_PREFIX} {proof}"


def description_carries(description: str | None, proof: str) -> bool:
    """Whether a role assignment description carries ``proof`` as a whole word."""
    return bool(proof) and proof in (description or "").replace(",", " ").split()


@dataclass(frozen=True)
class CustomerVNet:
    """Where the customer's VNet lives."""

    tenant_id: str
    subscription_id: str
    resource_group: str
    vnet_name: str

    @property
    def resource_group_id(self) -> str:
        return rid.resource_group_id(self.subscription_id, self.resource_group)

    @property
    def vnet_id(self) -> str:
        return rid.vnet_id(self.subscription_id, self.resource_group, self.vnet_name)


@dataclass(frozen=True)
class GrantInstructions:
    """Everything shown to a customer to grant (and later revoke) the platform's role."""

    role_name: str
    role_definition: dict[str, Any]
    role_definition_json: str
    grant_commands: tuple[str, ...]
    revoke_commands: tuple[str, ...]
    grant_script: str
    revoke_script: str
    proof: str = ""
    proof_update_command: str = ""


def _role_name(role_name: str | None) -> str:
    if role_name:
        return role_name
    try:
        from django.conf import settings

        return getattr(settings, "AZURE_CUSTOM_ROLE_NAME", None) or DEFAULT_ROLE_NAME
    except Exception:  # settings not configured (a script); the default is right then
        return DEFAULT_ROLE_NAME


def role_definition(customer: CustomerVNet, *, role_name: str | None = None) -> dict[str, Any]:
    """The custom role as ``az role definition create --role-definition`` takes it."""
    return {
        "Name": _role_name(role_name),
        "IsCustom": True,
        "Description": (
            "Lets the Connectivity Portal create, read and delete VNet peerings on this "
            "virtual network, and read its own role assignment there (the proof of control in "
            "its description). Remove the assignment when the peering is in place."
        ),
        "Actions": list(ROLE_ACTIONS),
        "NotActions": [],
        "DataActions": [],
        "NotDataActions": [],
        "AssignableScopes": [customer.resource_group_id],
    }


def role_definition_json(customer: CustomerVNet, *, role_name: str | None = None) -> str:
    """:func:`role_definition` as pretty JSON (what goes into ``role.json``)."""
    return json.dumps(role_definition(customer, role_name=role_name), indent=2) + "\n"


def grant_commands(customer: CustomerVNet, *, app_id: str, role_name: str | None = None,
                   proof: str = "") -> list[str]:
    """The ``az`` commands, in order, that grant the platform its role on the customer's VNet.

    With ``proof``, the assignment's description carries the request's proof of control."""
    q = shlex.quote
    name = _role_name(role_name)
    assignment = (f"az role assignment create --assignee {q(app_id)} --role {q(name)} "
                  f"--scope {q(customer.vnet_id)}")
    if proof:
        assignment += f" --description {q(proof_description(proof))}"
    return [
        f"az login --tenant {q(customer.tenant_id)}",
        f"az account set --subscription {q(customer.subscription_id)}",
        f"az ad sp show --id {q(app_id)} >/dev/null 2>&1 || az ad sp create --id {q(app_id)}",
        f"az role definition create --role-definition @{ROLE_FILE}",
        assignment,
    ]


def admin_consent_url(tenant_id: str, app_id: str, *, authority: str | None = None) -> str:
    """Entra ID's admin-consent link: a tenant administrator opens it once and the platform's
    application (its service principal) is added to the tenant. The other way in is the
    ``az ad sp create --id <app>`` command, for someone allowed to create service principals."""
    from urllib.parse import quote

    if authority is None:
        try:
            from django.conf import settings

            authority = str(getattr(settings, "AZURE_AUTHORITY_HOST", "") or "")
        except Exception:  # settings not configured (a script): the public cloud
            authority = ""
    host = (authority or "https://login.microsoftonline.com").rstrip("/")
    return f"{host}/{quote(tenant_id, safe='')}/adminconsent?client_id={quote(app_id, safe='')}"


def service_principal_command(app_id: str) -> str:
    return f"az ad sp create --id {shlex.quote(app_id)}"


ASSIGNMENT_FILE = "role-assignment.json"


def proof_update_command(customer: CustomerVNet, *, app_id: str, proof: str,
                         role_name: str | None = None) -> str:
    """For a VNet where the platform already holds the role (another request for the same VNet):
    append this request's proof to the existing assignment's description, keeping the proofs
    already there (``az role assignment update`` takes the whole assignment as JSON)."""
    q = shlex.quote
    name = _role_name(role_name)
    edit = ('.description = ((((.description // "") | select(length > 0)) // '
            f'"{PROOF_DESCRIPTION_PREFIX}") + " " + $proof)')
    return (f"az role assignment list --assignee {q(app_id)} --role {q(name)} "
            f"--scope {q(customer.vnet_id)} --query '[0]' -o json "
            f"| jq --arg proof {q(proof)} {q(edit)} > {ASSIGNMENT_FILE} "
            f"&& az role assignment update --role-assignment @{ASSIGNMENT_FILE}")


def role_definition_update_command() -> str:
    """For a custom role created before it gained ``roleAssignments/read``."""
    return f"az role definition update --role-definition @{ROLE_FILE}"


def revoke_commands(customer: CustomerVNet, *, app_id: str, role_name: str | None = None) -> list[str]:
    """The ``az`` commands that remove the platform's access again."""
    q = shlex.quote
    name = _role_name(role_name)
    return [
        f"az login --tenant {q(customer.tenant_id)}",
        f"az account set --subscription {q(customer.subscription_id)}",
        f"az role assignment delete --assignee {q(app_id)} --role {q(name)} --scope {q(customer.vnet_id)}",
        f"az role definition delete --name {q(name)} --scope {q(customer.resource_group_id)}",
    ]


def grant_script(customer: CustomerVNet, *, app_id: str, role_name: str | None = None,
                 proof: str = "") -> str:
    """A commented shell script: write ``role.json``, then run :func:`grant_commands`."""
    login, account, sp, definition, assignment = grant_commands(
        customer, app_id=app_id, role_name=role_name, proof=proof)
    body = role_definition_json(customer, role_name=role_name)
    if proof:
        # When the platform already holds the role on this VNet (another request for it),
        # ``create`` answers that the assignment exists: then add this request's proof to
        # that assignment's description instead, keeping the proofs already there.
        assignment += (" \\\n  || { " + proof_update_command(
            customer, app_id=app_id, proof=proof, role_name=role_name) + "; }")
    return "\n".join(
        [
            "# 1. Sign in to your tenant and select the subscription that holds the VNet.",
            login,
            account,
            "",
            "# 2. Add the platform's application to your tenant (skipped if it is already there).",
            sp,
            "",
            "# 3. Create the custom role: only the five peering actions and reading the",
            "#    platform's own assignment, assignable only in the VNet's resource group.",
            f"cat > {ROLE_FILE} <<'{_HEREDOC}'",
            body.rstrip("\n"),
            _HEREDOC,
            definition,
            "",
            "# 4. Assign it to the platform on the VNet itself, not the resource group or",
            "#    subscription: least privilege, the platform can touch this one VNet only.",
            *([
                "#    Its description carries this request's proof that you control the VNet. If",
                "#    the assignment exists already (another request for this VNet), the second",
                "#    line adds this request's proof to its description instead (needs jq).",
            ] if proof else []),
            assignment,
            "",
        ]
    )


def revoke_script(customer: CustomerVNet, *, app_id: str, role_name: str | None = None) -> str:
    """A commented shell script that removes the assignment and then the role definition."""
    login, account, assignment, definition = revoke_commands(customer, app_id=app_id, role_name=role_name)
    return "\n".join(
        [
            "# Run once the peering is Connected; the peering keeps working without the role.",
            login,
            account,
            "",
            "# Remove the platform's access to the VNet.",
            assignment,
            "",
            "# Remove the custom role (skip this if another VNet in the resource group still",
            "# uses it).",
            definition,
            "",
        ]
    )


def instructions(customer: CustomerVNet, *, app_id: str, role_name: str | None = None,
                 proof: str = "") -> GrantInstructions:
    """All of the above for one customer VNet (and one request's proof of control)."""
    name = _role_name(role_name)
    return GrantInstructions(
        role_name=name,
        role_definition=role_definition(customer, role_name=name),
        role_definition_json=role_definition_json(customer, role_name=name),
        grant_commands=tuple(grant_commands(customer, app_id=app_id, role_name=name, proof=proof)),
        revoke_commands=tuple(revoke_commands(customer, app_id=app_id, role_name=name)),
        grant_script=grant_script(customer, app_id=app_id, role_name=name, proof=proof),
        revoke_script=revoke_script(customer, app_id=app_id, role_name=name),
        proof=proof,
        proof_update_command=(proof_update_command(customer, app_id=app_id, proof=proof,
                                                   role_name=name) if proof else ""),
    )


# --------------------------------------------------------------------------------------------
# Virtual WAN: the custom role on the customer's virtual hub

DEFAULT_HUB_ROLE_NAME = "Connectivity Portal Virtual Hub Connection"

#: What the platform needs on the customer's virtual hub to check it (address prefix, route
#: tables, the VNets already connected), create, read and remove the hub connection to a
#: cluster VNet. ``peer/action`` is checked on the cluster VNet, which is the platform's own.
HUB_CONNECTION_ACTIONS: tuple[str, ...] = (
    "Microsoft.Network/virtualHubs/read",
    "Microsoft.Network/virtualHubs/hubRouteTables/read",
    "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections/read",
    "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections/write",
    "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections/delete",
)

#: Every action of the hub role: the hub connection actions plus reading the proof.
HUB_ROLE_ACTIONS: tuple[str, ...] = (*HUB_CONNECTION_ACTIONS, PROOF_READ_ACTION)


def hub_required_actions() -> list[str]:
    """The actions pre-flight checks with ``gateway.missing_actions`` on the customer's hub."""
    return list(HUB_ROLE_ACTIONS)


@dataclass(frozen=True)
class CustomerHub:
    """Where the customer's virtual hub lives."""

    tenant_id: str
    subscription_id: str
    resource_group: str
    hub_name: str

    @property
    def resource_group_id(self) -> str:
        return rid.resource_group_id(self.subscription_id, self.resource_group)

    @property
    def hub_id(self) -> str:
        return rid.virtual_hub_id(self.subscription_id, self.resource_group, self.hub_name)


def _hub_role_name(role_name: str | None) -> str:
    return role_name or DEFAULT_HUB_ROLE_NAME


def hub_role_definition(hub: CustomerHub, *, role_name: str | None = None) -> dict[str, Any]:
    """The hub custom role as ``az role definition create --role-definition`` takes it."""
    return {
        "Name": _hub_role_name(role_name),
        "IsCustom": True,
        "Description": (
            "Lets the Connectivity Portal read this virtual hub and its route tables, create, "
            "read and delete its virtual network connections, and read its own role assignment "
            "there (the proof of control in its description). Remove the assignment when the "
            "connection is in place."
        ),
        "Actions": list(HUB_ROLE_ACTIONS),
        "NotActions": [],
        "DataActions": [],
        "NotDataActions": [],
        "AssignableScopes": [hub.resource_group_id],
    }


def hub_role_definition_json(hub: CustomerHub, *, role_name: str | None = None) -> str:
    """:func:`hub_role_definition` as pretty JSON (what goes into ``role.json``)."""
    return json.dumps(hub_role_definition(hub, role_name=role_name), indent=2) + "\n"


def hub_grant_commands(hub: CustomerHub, *, app_id: str, role_name: str | None = None,
                       proof: str = "") -> list[str]:
    """The ``az`` commands, in order, that grant the platform its role on the customer's hub;
    with ``proof``, the assignment's description carries the request's proof of control."""
    q = shlex.quote
    name = _hub_role_name(role_name)
    assignment = (f"az role assignment create --assignee {q(app_id)} --role {q(name)} "
                  f"--scope {q(hub.hub_id)}")
    if proof:
        assignment += f" --description {q(proof_description(proof))}"
    return [
        f"az login --tenant {q(hub.tenant_id)}",
        f"az account set --subscription {q(hub.subscription_id)}",
        f"az ad sp show --id {q(app_id)} >/dev/null 2>&1 || az ad sp create --id {q(app_id)}",
        f"az role definition create --role-definition @{ROLE_FILE}",
        assignment,
    ]


def hub_proof_update_command(hub: CustomerHub, *, app_id: str, proof: str,
                             role_name: str | None = None) -> str:
    """For a hub where the platform already holds the role (another request for the same hub):
    append this request's proof to the existing assignment's description."""
    q = shlex.quote
    name = _hub_role_name(role_name)
    edit = ('.description = ((((.description // "") | select(length > 0)) // '
            f'"{PROOF_DESCRIPTION_PREFIX}") + " " + $proof)')
    return (f"az role assignment list --assignee {q(app_id)} --role {q(name)} "
            f"--scope {q(hub.hub_id)} --query '[0]' -o json "
            f"| jq --arg proof {q(proof)} {q(edit)} > {ASSIGNMENT_FILE} "
            f"&& az role assignment update --role-assignment @{ASSIGNMENT_FILE}")


def hub_revoke_commands(hub: CustomerHub, *, app_id: str,
                        role_name: str | None = None) -> list[str]:
    """The ``az`` commands that remove the platform's access to the hub again."""
    q = shlex.quote
    name = _hub_role_name(role_name)
    return [
        f"az login --tenant {q(hub.tenant_id)}",
        f"az account set --subscription {q(hub.subscription_id)}",
        f"az role assignment delete --assignee {q(app_id)} --role {q(name)} --scope {q(hub.hub_id)}",
        f"az role definition delete --name {q(name)} --scope {q(hub.resource_group_id)}",
    ]


def hub_grant_script(hub: CustomerHub, *, app_id: str, role_name: str | None = None,
                     proof: str = "") -> str:
    """A commented shell script: write ``role.json``, then run :func:`hub_grant_commands`."""
    login, account, sp, definition, assignment = hub_grant_commands(
        hub, app_id=app_id, role_name=role_name, proof=proof)
    body = hub_role_definition_json(hub, role_name=role_name)
    if proof:
        assignment += (" \\\n  || { " + hub_proof_update_command(
            hub, app_id=app_id, proof=proof, role_name=role_name) + "; }")
    return "\n".join(
        [
            "# 1. Sign in to your tenant and select the subscription that holds the virtual hub.",
            login,
            account,
            "",
            "# 2. Add the platform's application to your tenant (skipped if it is already there).",
            sp,
            "",
            "# 3. Create the custom role: reading the hub and its route tables, its virtual",
            "#    network connections, and the platform's own assignment; assignable only in",
            "#    the hub's resource group.",
            f"cat > {ROLE_FILE} <<'{_HEREDOC}'",
            body.rstrip("\n"),
            _HEREDOC,
            definition,
            "",
            "# 4. Assign it to the platform on the virtual hub itself: least privilege, the",
            "#    platform can touch this one hub only.",
            *([
                "#    Its description carries this request's proof that you control the hub. If",
                "#    the assignment exists already (another request for this hub), the second",
                "#    line adds this request's proof to its description instead (needs jq).",
            ] if proof else []),
            assignment,
            "",
        ]
    )


def hub_revoke_script(hub: CustomerHub, *, app_id: str, role_name: str | None = None) -> str:
    """A commented shell script that removes the hub assignment and then the role definition."""
    login, account, assignment, definition = hub_revoke_commands(
        hub, app_id=app_id, role_name=role_name)
    return "\n".join(
        [
            "# Run once the hub connection has succeeded; it keeps working without the role.",
            login,
            account,
            "",
            "# Remove the platform's access to the virtual hub.",
            assignment,
            "",
            "# Remove the custom role (skip this if another hub in the resource group still",
            "# uses it).",
            definition,
            "",
        ]
    )


def hub_instructions(hub: CustomerHub, *, app_id: str, role_name: str | None = None,
                     proof: str = "") -> GrantInstructions:
    """All of the above for one customer hub (and one request's proof of control)."""
    name = _hub_role_name(role_name)
    return GrantInstructions(
        role_name=name,
        role_definition=hub_role_definition(hub, role_name=name),
        role_definition_json=hub_role_definition_json(hub, role_name=name),
        grant_commands=tuple(hub_grant_commands(hub, app_id=app_id, role_name=name, proof=proof)),
        revoke_commands=tuple(hub_revoke_commands(hub, app_id=app_id, role_name=name)),
        grant_script=hub_grant_script(hub, app_id=app_id, role_name=name, proof=proof),
        revoke_script=hub_revoke_script(hub, app_id=app_id, role_name=name),
        proof=proof,
        proof_update_command=(hub_proof_update_command(hub, app_id=app_id, proof=proof,
                                                       role_name=name) if proof else ""),
    )


# --------------------------------------------------------------------------------------------
# Built-in roles a customer assigns to a cluster's workload identity on their own resources


@dataclass(frozen=True)
class IdentityRole:
    """A built-in role offered for a cluster's workload identity: its real id, what the portal
    verifies with the permissions API, and the resource types it applies to."""

    name: str
    id: str
    actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    resource_types: tuple[str, ...]


_STORAGE = "Microsoft.Storage/storageAccounts"
_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers"

IDENTITY_ROLES: tuple[IdentityRole, ...] = (
    IdentityRole(
        name="Storage Blob Data Reader",
        id="2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
        actions=(f"{_BLOB}/read",),
        data_actions=(f"{_BLOB}/blobs/read",),
        resource_types=(_STORAGE, _BLOB),
    ),
    IdentityRole(
        name="Storage Blob Data Contributor",
        id="ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        actions=(f"{_BLOB}/read", f"{_BLOB}/write"),
        data_actions=(f"{_BLOB}/blobs/read", f"{_BLOB}/blobs/write", f"{_BLOB}/blobs/delete"),
        resource_types=(_STORAGE, _BLOB),
    ),
    IdentityRole(
        name="Key Vault Secrets User",
        id="4633458b-17de-408a-b874-0445c86b69e6",
        actions=(),
        data_actions=("Microsoft.KeyVault/vaults/secrets/getSecret/action",
                      "Microsoft.KeyVault/vaults/secrets/readMetadata/action"),
        resource_types=("Microsoft.KeyVault/vaults",),
    ),
)
IDENTITY_ROLES_BY_NAME = {role.name.lower(): role for role in IDENTITY_ROLES}


def identity_role(name: str) -> IdentityRole | None:
    """The offered built-in role called ``name`` (any case), or None."""
    return IDENTITY_ROLES_BY_NAME.get(name.strip().lower())


def identity_roles_for(resource_id: str) -> list[IdentityRole]:
    """The offered roles that apply to the resource ``resource_id`` names."""
    parsed = rid.parse(resource_id)
    return [r for r in IDENTITY_ROLES if any(parsed.is_type(t) for t in r.resource_types)]


def identity_assignment_command(*, principal_id: str, role_name: str, scope: str) -> str:
    """The ``az`` command the customer runs to authorize a cluster's workload identity on one of
    their resources (every value quoted for the shell, as the grant commands are)."""
    q = shlex.quote
    return (f"az role assignment create --assignee-object-id {q(principal_id)} "
            f"--assignee-principal-type ServicePrincipal --role {q(role_name)} "
            f"--scope {q(scope)}")


def identity_revoke_command(*, principal_id: str, role_name: str, scope: str) -> str:
    """The ``az`` command that takes that authorization away again."""
    q = shlex.quote
    return (f"az role assignment delete --assignee {q(principal_id)} --role {q(role_name)} "
            f"--scope {q(scope)}")
