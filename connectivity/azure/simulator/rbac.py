"""Azure RBAC semantics: built-in roles, wildcard action matching and scope inheritance.

An assignment grants its role's ``actions`` minus that same role's ``notActions`` at its scope
and every scope below it; the grants of several assignments add up. Matching ignores case and
treats ``*`` as "any characters, slashes included", as Azure does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
PRIVATE_DNS_ZONE_CONTRIBUTOR = "b12aa53e-6015-4669-85d0-8515ebb3ae7f"


@dataclass
class RoleDefinition:
    """A role; built-ins have no ``assignable_scopes`` restriction (``/``)."""

    guid: str
    role_name: str
    description: str
    actions: list[str]
    not_actions: list[str] = field(default_factory=list)
    data_actions: list[str] = field(default_factory=list)
    not_data_actions: list[str] = field(default_factory=list)
    assignable_scopes: list[str] = field(default_factory=lambda: ["/"])
    role_type: str = "BuiltInRole"
    created_on: str = "2015-02-02T21:55:09.8806423Z"
    updated_on: str = "2024-01-01T00:00:00.0000000Z"
    created_by: str | None = None
    tenant_id: str | None = None  # custom roles live in one directory

    def allows(self, action: str) -> bool:
        return any(action_matches(p, action) for p in self.actions) and not any(
            action_matches(p, action) for p in self.not_actions
        )

    def effective_actions(self) -> dict[str, list[str]]:
        return {
            "actions": list(self.actions),
            "notActions": list(self.not_actions),
            "dataActions": list(self.data_actions),
            "notDataActions": list(self.not_data_actions),
        }

    def to_arm(self, scope: str) -> dict[str, object]:
        """The role definition as ARM shows it when read at ``scope``."""
        prefix = "" if scope in ("", "/") else scope.rstrip("/")
        if self.role_type == "CustomRole" and self.assignable_scopes:
            prefix = subscription_scope(self.assignable_scopes[0]) or prefix
        return {
            "id": f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{self.guid}",
            "name": self.guid,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {
                "roleName": self.role_name,
                "type": self.role_type,
                "description": self.description,
                "assignableScopes": list(self.assignable_scopes),
                "permissions": [self.effective_actions()],
                "createdOn": self.created_on,
                "updatedOn": self.updated_on,
                "createdBy": self.created_by,
                "updatedBy": self.created_by,
            },
        }


def subscription_scope(scope: str) -> str | None:
    parts = [p for p in scope.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return f"/subscriptions/{parts[1]}"
    return None


BUILTIN_ROLES: dict[str, RoleDefinition] = {
    r.guid: r
    for r in [
        RoleDefinition(
            OWNER, "Owner",
            "Grants full access to manage all resources, including the ability to assign "
            "roles in Azure RBAC.",
            ["*"],
        ),
        RoleDefinition(
            CONTRIBUTOR, "Contributor",
            "Grants full access to manage all resources, but does not allow you to assign "
            "roles in Azure RBAC.",
            ["*"],
            [
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
                "Microsoft.Blueprint/blueprintAssignments/write",
                "Microsoft.Blueprint/blueprintAssignments/delete",
                "Microsoft.Compute/galleries/share/action",
                "Microsoft.Purview/consents/write",
                "Microsoft.Purview/consents/delete",
                "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
                "Microsoft.Subscription/cancel/action",
                "Microsoft.Subscription/enable/action",
            ],
        ),
        RoleDefinition(READER, "Reader", "View all resources, but does not allow you to make "
                       "any changes.", ["*/read"]),
        RoleDefinition(
            NETWORK_CONTRIBUTOR, "Network Contributor",
            "Lets you manage networks, but not access to them.",
            [
                "Microsoft.Authorization/*/read",
                "Microsoft.Insights/alertRules/*",
                "Microsoft.Network/*",
                "Microsoft.ResourceHealth/availabilityStatuses/read",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Support/*",
            ],
        ),
        RoleDefinition(
            USER_ACCESS_ADMINISTRATOR, "User Access Administrator",
            "Lets you manage user access to Azure resources.",
            ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        ),
        RoleDefinition(
            PRIVATE_DNS_ZONE_CONTRIBUTOR, "Private DNS Zone Contributor",
            "Lets you manage private DNS zone resources, but not the virtual networks they "
            "are linked to.",
            [
                "Microsoft.Authorization/*/read",
                "Microsoft.Insights/alertRules/*",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Support/*",
                "Microsoft.Network/privateDnsZones/*",
                "Microsoft.Network/privateDnsOperationResults/*",
                "Microsoft.Network/privateDnsOperationStatuses/*",
                "Microsoft.Network/virtualNetworks/read",
                "Microsoft.Network/virtualNetworks/join/action",
            ],
        ),
    ]
}
BUILTIN_BY_NAME = {r.role_name.lower(): r for r in BUILTIN_ROLES.values()}


@lru_cache(maxsize=1024)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.IGNORECASE
    )


def action_matches(pattern: str, action: str) -> bool:
    return bool(_pattern(pattern).match(action))


def normalize_scope(scope: str) -> str:
    parts = [p for p in scope.split("/") if p]
    return "/" + "/".join(parts) if parts else "/"


def scope_covers(assignment_scope: str, target: str) -> bool:
    """True when an assignment at ``assignment_scope`` applies to ``target``."""
    outer = normalize_scope(assignment_scope).lower()
    inner = normalize_scope(target).lower()
    return outer == "/" or inner == outer or inner.startswith(outer + "/")


def role_guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
