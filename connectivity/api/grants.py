"""The grant package of a request: the custom role and the `az` commands, from `azure.roles`."""

from __future__ import annotations

from typing import Any

from connectivity.azure import grant_formats
from connectivity.models import ConnectivityRequest


def grant_package(request: ConnectivityRequest) -> dict[str, Any]:
    """What the customer runs to grant the platform its role on their VNet or virtual hub, and to
    revoke it."""
    if not request.needs_grant:
        own = request.kind_def.customer_command(request)
        return {
            "needed": False,
            "detail": (f"A {request.get_kind_display()} request gives the platform no role in "
                       f"your subscription. On your side, run: {own}" if own else
                       f"A {request.get_kind_display()} request acts only in the platform's "
                       "subscription; it needs no role in yours."),
            "role_name": None, "scope": None, "role_definition": None,
            "role_definition_json": None, "grant_commands": [own] if own else [],
            "grant_script": None,
            "revoke_command": None, "revoke_commands": [], "revoke_script": None,
            "proof": None, "proof_update_command": None, "formats": None,
        }
    kind = request.kind_def
    package = kind.grant_instructions(request)
    target = package.target.kind if package.target is not None else None
    noun = target.noun if target is not None else "resource"
    connection = target.connection if target is not None else "connection"
    revoke_assignment = next(
        (command for command in package.revoke_commands if "role assignment delete" in command),
        package.revoke_commands[-1])
    return {
        "needed": True,
        "detail": "Run the grant commands, then call verify-grant. The role assignment's "
                  "description must carry this request's proof of control; if the platform "
                  f"already holds the role on the {noun}, run proof_update_command instead of "
                  "the last grant command. Once the request is active, run the revoke command: "
                  f"the {connection} keeps working without the role.",
        "role_name": package.role_name,
        "scope": kind.grant_scope(request),
        "role_definition": package.role_definition,
        "role_definition_json": package.role_definition_json,
        "grant_commands": list(package.grant_commands),
        "grant_script": package.grant_script,
        "revoke_command": revoke_assignment,
        "revoke_commands": list(package.revoke_commands),
        "revoke_script": package.revoke_script,
        "proof": package.proof,
        "proof_update_command": package.proof_update_command,
        "formats": grant_formats.as_json(kind.grant_formats(request, role_name=package.role_name)),
    }
