"""The hub role JSON and az commands a customer copies for a Virtual WAN hub connection."""

from __future__ import annotations

import json
import shlex

from connectivity.azure import roles
from connectivity.azure.roles import CustomerHub

TENANT = "33333333-3333-4333-8333-333333333333"
SUB = "44444444-4444-4444-8444-444444444444"
APP = "55555555-5555-4555-8555-555555555555"
PROOF = "cpp-0123456789abcdef0123456789abcdef"
HUB = CustomerHub(TENANT, SUB, "rg-network", "hub-weu")
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-network"
HUB_ID = f"{RG_ID}/providers/Microsoft.Network/virtualHubs/hub-weu"
ROLE = "'Connectivity Portal Virtual Hub Connection'"

GOLDEN_ROLE = f"""\
{{
  "Name": "Connectivity Portal Virtual Hub Connection",
  "IsCustom": true,
  "Description": "Lets the Connectivity Portal read this virtual hub and its route tables, \
create, read and delete its virtual network connections, and read its own role assignment \
there (the proof of control in its description). Remove the assignment when the connection is \
in place.",
  "Actions": [
    "Microsoft.Network/virtualHubs/read",
    "Microsoft.Network/virtualHubs/hubRouteTables/read",
    "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections/read",
    "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections/write",
    "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections/delete",
    "Microsoft.Authorization/roleAssignments/read"
  ],
  "NotActions": [],
  "DataActions": [],
  "NotDataActions": [],
  "AssignableScopes": [
    "{RG_ID}"
  ]
}}
"""


def test_hub_role_json_golden() -> None:
    assert roles.role_definition_json(HUB) == GOLDEN_ROLE


def test_least_privilege_on_the_hub_only() -> None:
    actions = roles.role_definition(HUB)["Actions"]
    assert roles.hub_required_actions() == actions
    assert not any("*" in a for a in actions)
    assert not any(a.startswith("Microsoft.Network/virtualNetworks/") for a in actions)
    assert "Microsoft.Network/virtualHubs/write" not in actions


def test_grant_commands_fill_in_the_customers_ids_and_the_proof() -> None:
    commands = roles.grant_commands(HUB, app_id=APP, proof=PROOF)
    assert commands == [
        f"az login --tenant {TENANT}",
        f"az account set --subscription {SUB}",
        f"az ad sp show --id {APP} >/dev/null 2>&1 || az ad sp create --id {APP}",
        "az role definition create --role-definition @role.json",
        f"az role assignment create --assignee {APP} --role {ROLE} --scope {HUB_ID} "
        f"--description 'Connectivity Portal proof of control: {PROOF}'",
    ]
    script = roles.grant_script(HUB, app_id=APP, proof=PROOF)
    assert GOLDEN_ROLE.rstrip("\n") in script
    assert f"|| {{ az role assignment list --assignee {APP} --role {ROLE} --scope {HUB_ID}" in script


def test_revoke_commands() -> None:
    assert roles.revoke_commands(HUB, app_id=APP) == [
        f"az login --tenant {TENANT}",
        f"az account set --subscription {SUB}",
        f"az role assignment delete --assignee {APP} --role {ROLE} --scope {HUB_ID}",
        f"az role definition delete --name {ROLE} --scope {RG_ID}",
    ]


def test_instructions_bundle_everything() -> None:
    bundle = roles.instructions(HUB, app_id=APP, proof=PROOF)
    assert bundle.role_name == roles.DEFAULT_HUB_ROLE_NAME
    assert json.loads(bundle.role_definition_json) == bundle.role_definition
    assert bundle.proof == PROOF and PROOF in bundle.proof_update_command


def test_hostile_values_stay_single_arguments() -> None:
    hostile = CustomerHub(TENANT, SUB, "rg; rm -rf ~", "hub$(id)")
    assignment = roles.grant_commands(hostile, app_id="x' y", proof=PROOF)[-1]
    words = shlex.split(assignment)
    assert words[words.index("--scope") + 1] == hostile.hub_id
    assert words[words.index("--assignee") + 1] == "x' y"
