"""The custom role a customer grants the platform, and the ``az`` commands to grant and revoke it.

One implementation for every resource a customer grants the platform a role on (a VNet for a
peering, a virtual hub for a hub connection): a :class:`GrantTarget` says where the resource
is, and its :class:`TargetKind` what differs between kinds of resource (the role's actions and
name, the words the scripts use). Rendered with the customer's own ids filled in, ready to
copy and paste. Every value that reaches a shell command is quoted with :func:`shlex.quote`;
comments never contain customer values, so no value can break out of a comment line either.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any, ClassVar

from connectivity.azure import resource_ids as rid

DEFAULT_ROLE_NAME = "Connectivity Portal Peering"
DEFAULT_HUB_ROLE_NAME = "Connectivity Portal Virtual Hub Connection"
ROLE_FILE = "role.json"
ASSIGNMENT_FILE = "role-assignment.json"
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

#: Lets the platform read its own role assignment on the customer's resource, and so the proof
#: of control in that assignment's description (see :func:`proof_description`).
PROOF_READ_ACTION = "Microsoft.Authorization/roleAssignments/read"

#: Every action of the peering role: the peering actions plus reading the proof.
ROLE_ACTIONS: tuple[str, ...] = (*PEERING_ACTIONS, PROOF_READ_ACTION)
#: Every action of the hub role: the hub connection actions plus reading the proof.
HUB_ROLE_ACTIONS: tuple[str, ...] = (*HUB_CONNECTION_ACTIONS, PROOF_READ_ACTION)

PROOF_DESCRIPTION_PREFIX = "Connectivity Portal proof of control:"


def proof_description(proof: str) -> str:
    """The role assignment description that carries a request's proof of control.

    A role assignment's description can be set by whoever may write role assignments at its
    scope, which is exactly who may grant the platform its role on the resource, and (with the
    role's ``roleAssignments/read``) the platform can read it back. Several requests for the
    same resource each append their proof to the same description."""
    return f"{PROOF_DESCRIPTION_PREFIX} {proof}"


def description_carries(description: str | None, proof: str) -> bool:
    """Whether a role assignment description carries ``proof`` as a whole word."""
    return bool(proof) and proof in (description or "").replace(",", " ").split()


# --- what the role is granted on ---------------------------------------------------------------


@dataclass(frozen=True)
class TargetKind:
    """What differs between the kinds of resource the platform is granted a role on: the role
    (its actions, name and description) and the words the scripts and pages use for it."""

    resource_type: str
    #: The resource in a sentence ("VNet", "virtual hub") and in the shortest form ("hub").
    noun: str
    short: str
    #: What the role is for ("peering", "hub connection") and when it may go.
    connection: str
    ready: str
    actions: tuple[str, ...]
    default_role_name: str
    #: The setting that renames the role (the peering's predates the others), or "".
    role_name_setting: str
    role_description: str
    #: The grant script's comment on what the role allows (step 3), line by line, and the
    #: same in a clause for the grant page.
    role_comment: tuple[str, ...]
    role_summary: str
    #: The api version Bicep reads the resource with, and the symbol it names it by.
    bicep_type: str
    bicep_symbol: str
    #: What the role lets the platform do there until it is revoked, before the resource's
    #: name ("the platform can still change peerings on vnet-a").
    allows: str

    def role_name(self, given: str | None = None) -> str:
        if given:
            return given
        if self.role_name_setting:
            try:
                from django.conf import settings

                return getattr(settings, self.role_name_setting, None) or self.default_role_name
            except Exception:  # settings not configured (a script); the default is right then
                return self.default_role_name
        return self.default_role_name


VNET_TARGET = TargetKind(
    resource_type="Microsoft.Network/virtualNetworks",
    noun="VNet", short="VNet", connection="peering", ready="the peering is Connected",
    actions=ROLE_ACTIONS, default_role_name=DEFAULT_ROLE_NAME,
    role_name_setting="AZURE_CUSTOM_ROLE_NAME",
    role_description=(
        "Lets the Connectivity Portal create, read and delete VNet peerings on this "
        "virtual network, and read its own role assignment there (the proof of control in "
        "its description). Remove the assignment when the peering is in place."),
    role_comment=("# 3. Create the custom role: only the five peering actions and reading the",
                  "#    platform's own assignment, assignable only in the VNet's resource group."),
    role_summary=("only the five peering actions and reading the platform's own assignment, "
                  "assignable only in the VNet's resource group"),
    bicep_type="Microsoft.Network/virtualNetworks@2023-09-01", bicep_symbol="vnet",
    allows="change peerings on",
)

HUB_TARGET = TargetKind(
    resource_type="Microsoft.Network/virtualHubs",
    noun="virtual hub", short="hub", connection="hub connection",
    ready="the hub connection has succeeded",
    actions=HUB_ROLE_ACTIONS, default_role_name=DEFAULT_HUB_ROLE_NAME, role_name_setting="",
    role_description=(
        "Lets the Connectivity Portal read this virtual hub and its route tables, create, "
        "read and delete its virtual network connections, and read its own role assignment "
        "there (the proof of control in its description). Remove the assignment when the "
        "connection is in place."),
    role_comment=("# 3. Create the custom role: reading the hub and its route tables, its virtual",
                  "#    network connections, and the platform's own assignment; assignable only in",
                  "#    the hub's resource group."),
    role_summary=("reading the hub and its route tables, creating, reading and deleting its "
                  "virtual network connections, and reading the platform's own assignment; "
                  "assignable only in the hub's resource group"),
    bicep_type="Microsoft.Network/virtualHubs@2023-09-01", bicep_symbol="hub",
    allows="create and delete connections on",
)


@dataclass(frozen=True)
class GrantTarget:
    """Where the resource the platform is granted its role on lives. Subclasses add the
    resource's name and set :attr:`KIND`."""

    tenant_id: str
    subscription_id: str
    resource_group: str

    KIND: ClassVar[TargetKind]

    @property
    def kind(self) -> TargetKind:
        return self.KIND

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def resource_group_id(self) -> str:
        return rid.resource_group_id(self.subscription_id, self.resource_group)

    @property
    def resource_id(self) -> str:
        """The role's scope: the resource itself (least privilege)."""
        return f"{self.resource_group_id}/providers/{self.KIND.resource_type}/{self.name}"


@dataclass(frozen=True)
class CustomerVNet(GrantTarget):
    """The customer's VNet, for a peering."""

    vnet_name: str

    KIND: ClassVar[TargetKind] = VNET_TARGET

    @property
    def name(self) -> str:
        return self.vnet_name

    @property
    def vnet_id(self) -> str:
        return rid.vnet_id(self.subscription_id, self.resource_group, self.vnet_name)

    @property
    def resource_id(self) -> str:
        return self.vnet_id


@dataclass(frozen=True)
class CustomerHub(GrantTarget):
    """The customer's Virtual WAN hub, for a hub connection."""

    hub_name: str

    KIND: ClassVar[TargetKind] = HUB_TARGET

    @property
    def name(self) -> str:
        return self.hub_name

    @property
    def hub_id(self) -> str:
        return rid.virtual_hub_id(self.subscription_id, self.resource_group, self.hub_name)

    @property
    def resource_id(self) -> str:
        return self.hub_id


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
    target: GrantTarget | None = None


def required_actions(target: type[GrantTarget] | GrantTarget = CustomerVNet) -> list[str]:
    """The actions pre-flight checks with ``gateway.missing_actions`` on the customer's resource:
    every action of the custom role (the peering's unless ``target`` says otherwise)."""
    return list(target.KIND.actions)


def hub_required_actions() -> list[str]:
    """The hub role's actions (:func:`required_actions` for a :class:`CustomerHub`)."""
    return required_actions(CustomerHub)


def role_definition(target: GrantTarget, *, role_name: str | None = None) -> dict[str, Any]:
    """The custom role as ``az role definition create --role-definition`` takes it."""
    kind = target.kind
    return {
        "Name": kind.role_name(role_name),
        "IsCustom": True,
        "Description": kind.role_description,
        "Actions": list(kind.actions),
        "NotActions": [],
        "DataActions": [],
        "NotDataActions": [],
        "AssignableScopes": [target.resource_group_id],
    }


def role_definition_json(target: GrantTarget, *, role_name: str | None = None) -> str:
    """:func:`role_definition` as pretty JSON (what goes into ``role.json``)."""
    return json.dumps(role_definition(target, role_name=role_name), indent=2) + "\n"


def grant_commands(target: GrantTarget, *, app_id: str, role_name: str | None = None,
                   proof: str = "") -> list[str]:
    """The ``az`` commands, in order, that grant the platform its role on the customer's
    resource. With ``proof``, the assignment's description carries the request's proof of
    control."""
    q = shlex.quote
    name = target.kind.role_name(role_name)
    assignment = (f"az role assignment create --assignee {q(app_id)} --role {q(name)} "
                  f"--scope {q(target.resource_id)}")
    if proof:
        assignment += f" --description {q(proof_description(proof))}"
    return [
        f"az login --tenant {q(target.tenant_id)}",
        f"az account set --subscription {q(target.subscription_id)}",
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


def proof_update_command(target: GrantTarget, *, app_id: str, proof: str,
                         role_name: str | None = None) -> str:
    """For a resource where the platform already holds the role (another request for the same
    one): append this request's proof to the existing assignment's description, keeping the
    proofs already there (``az role assignment update`` takes the whole assignment as JSON)."""
    q = shlex.quote
    name = target.kind.role_name(role_name)
    edit = ('.description = ((((.description // "") | select(length > 0)) // '
            f'"{PROOF_DESCRIPTION_PREFIX}") + " " + $proof)')
    return (f"az role assignment list --assignee {q(app_id)} --role {q(name)} "
            f"--scope {q(target.resource_id)} --query '[0]' -o json "
            f"| jq --arg proof {q(proof)} {q(edit)} > {ASSIGNMENT_FILE} "
            f"&& az role assignment update --role-assignment @{ASSIGNMENT_FILE}")


def role_definition_update_command() -> str:
    """For a custom role created before it gained ``roleAssignments/read``."""
    return f"az role definition update --role-definition @{ROLE_FILE}"


def revoke_commands(target: GrantTarget, *, app_id: str,
                    role_name: str | None = None) -> list[str]:
    """The ``az`` commands that remove the platform's access again."""
    q = shlex.quote
    name = target.kind.role_name(role_name)
    return [
        f"az login --tenant {q(target.tenant_id)}",
        f"az account set --subscription {q(target.subscription_id)}",
        f"az role assignment delete --assignee {q(app_id)} --role {q(name)} "
        f"--scope {q(target.resource_id)}",
        f"az role definition delete --name {q(name)} --scope {q(target.resource_group_id)}",
    ]


def grant_script(target: GrantTarget, *, app_id: str, role_name: str | None = None,
                 proof: str = "") -> str:
    """A commented shell script: write ``role.json``, then run :func:`grant_commands`."""
    kind = target.kind
    n, short = kind.noun, kind.short
    login, account, sp, definition, assignment = grant_commands(
        target, app_id=app_id, role_name=role_name, proof=proof)
    body = role_definition_json(target, role_name=role_name)
    if proof:
        # When the platform already holds the role on this resource (another request for it),
        # ``create`` answers that the assignment exists: then add this request's proof to
        # that assignment's description instead, keeping the proofs already there.
        assignment += (" \\\n  || { " + proof_update_command(
            target, app_id=app_id, proof=proof, role_name=role_name) + "; }")
    return "\n".join(
        [
            f"# 1. Sign in to your tenant and select the subscription that holds the {n}.",
            login,
            account,
            "",
            "# 2. Add the platform's application to your tenant (skipped if it is already there).",
            sp,
            "",
            *kind.role_comment,
            f"cat > {ROLE_FILE} <<'{_HEREDOC}'",
            body.rstrip("\n"),
            _HEREDOC,
            definition,
            "",
            f"# 4. Assign it to the platform on the {n} itself, not the resource group or",
            f"#    subscription: least privilege, the platform can touch this one {short} only.",
            *([
                f"#    Its description carries this request's proof that you control the {short}. If",
                f"#    the assignment exists already (another request for this {short}), the second",
                "#    line adds this request's proof to its description instead (needs jq).",
            ] if proof else []),
            assignment,
            "",
        ]
    )


def revoke_script(target: GrantTarget, *, app_id: str, role_name: str | None = None) -> str:
    """A commented shell script that removes the assignment and then the role definition."""
    kind = target.kind
    login, account, assignment, definition = revoke_commands(
        target, app_id=app_id, role_name=role_name)
    return "\n".join(
        [
            revoke_when(target),
            login,
            account,
            "",
            f"# Remove the platform's access to the {kind.noun}.",
            assignment,
            "",
            f"# Remove the custom role (skip this if another {kind.noun} in the resource group "
            "still",
            "# uses it).",
            definition,
            "",
        ]
    )


def revoke_when(target: GrantTarget) -> str:
    """The revoke scripts' first line: when to run them."""
    kind = target.kind
    return (f"# Run once {kind.ready}; the {kind.connection} keeps working without the role.")


def instructions(target: GrantTarget, *, app_id: str, role_name: str | None = None,
                 proof: str = "") -> GrantInstructions:
    """All of the above for one customer resource (and one request's proof of control)."""
    name = target.kind.role_name(role_name)
    return GrantInstructions(
        role_name=name,
        role_definition=role_definition(target, role_name=name),
        role_definition_json=role_definition_json(target, role_name=name),
        grant_commands=tuple(grant_commands(target, app_id=app_id, role_name=name, proof=proof)),
        revoke_commands=tuple(revoke_commands(target, app_id=app_id, role_name=name)),
        grant_script=grant_script(target, app_id=app_id, role_name=name, proof=proof),
        revoke_script=revoke_script(target, app_id=app_id, role_name=name),
        proof=proof,
        proof_update_command=(proof_update_command(target, app_id=app_id, proof=proof,
                                                   role_name=name) if proof else ""),
        target=target,
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
