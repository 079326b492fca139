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


def required_actions() -> list[str]:
    """The actions pre-flight checks with ``gateway.missing_actions`` on the customer's VNet."""
    return list(PEERING_ACTIONS)


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
            "virtual network. Remove the assignment when the peering is in place."
        ),
        "Actions": list(PEERING_ACTIONS),
        "NotActions": [],
        "DataActions": [],
        "NotDataActions": [],
        "AssignableScopes": [customer.resource_group_id],
    }


def role_definition_json(customer: CustomerVNet, *, role_name: str | None = None) -> str:
    """:func:`role_definition` as pretty JSON (what goes into ``role.json``)."""
    return json.dumps(role_definition(customer, role_name=role_name), indent=2) + "\n"


def grant_commands(customer: CustomerVNet, *, app_id: str, role_name: str | None = None) -> list[str]:
    """The ``az`` commands, in order, that grant the platform its role on the customer's VNet."""
    q = shlex.quote
    name = _role_name(role_name)
    return [
        f"az login --tenant {q(customer.tenant_id)}",
        f"az account set --subscription {q(customer.subscription_id)}",
        f"az ad sp show --id {q(app_id)} >/dev/null 2>&1 || az ad sp create --id {q(app_id)}",
        f"az role definition create --role-definition @{ROLE_FILE}",
        f"az role assignment create --assignee {q(app_id)} --role {q(name)} --scope {q(customer.vnet_id)}",
    ]


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


def grant_script(customer: CustomerVNet, *, app_id: str, role_name: str | None = None) -> str:
    """A commented shell script: write ``role.json``, then run :func:`grant_commands`."""
    login, account, sp, definition, assignment = grant_commands(customer, app_id=app_id, role_name=role_name)
    body = role_definition_json(customer, role_name=role_name)
    return "\n".join(
        [
            "# 1. Sign in to your tenant and select the subscription that holds the VNet.",
            login,
            account,
            "",
            "# 2. Add the platform's application to your tenant (skipped if it is already there).",
            sp,
            "",
            "# 3. Create the custom role: only the five peering actions, assignable only in",
            "#    the VNet's resource group.",
            f"cat > {ROLE_FILE} <<'{_HEREDOC}'",
            body.rstrip("\n"),
            _HEREDOC,
            definition,
            "",
            "# 4. Assign it to the platform on the VNet itself, not the resource group or",
            "#    subscription: least privilege, the platform can touch this one VNet only.",
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


def instructions(customer: CustomerVNet, *, app_id: str, role_name: str | None = None) -> GrantInstructions:
    """All of the above for one customer VNet."""
    name = _role_name(role_name)
    return GrantInstructions(
        role_name=name,
        role_definition=role_definition(customer, role_name=name),
        role_definition_json=role_definition_json(customer, role_name=name),
        grant_commands=tuple(grant_commands(customer, app_id=app_id, role_name=name)),
        revoke_commands=tuple(revoke_commands(customer, app_id=app_id, role_name=name)),
        grant_script=grant_script(customer, app_id=app_id, role_name=name),
        revoke_script=revoke_script(customer, app_id=app_id, role_name=name),
    )
