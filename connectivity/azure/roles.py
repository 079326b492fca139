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
