"""The role JSON and az commands a customer copies: exact output, and safe with hostile values."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from connectivity.azure import roles
from connectivity.azure.roles import CustomerVNet

TENANT = "33333333-3333-4333-8333-333333333333"
SUB = "44444444-4444-4444-8444-444444444444"
APP = "55555555-5555-4555-8555-555555555555"
CUSTOMER = CustomerVNet(TENANT, SUB, "rg-customer", "vnet-customer")
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg-customer"
VNET_ID = f"{RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet-customer"

GOLDEN_GRANT = f"""\
# 1. Sign in to your tenant and select the subscription that holds the VNet.
az login --tenant {TENANT}
az account set --subscription {SUB}

# 2. Add the platform's application to your tenant (skipped if it is already there).
az ad sp show --id {APP} >/dev/null 2>&1 || az ad sp create --id {APP}

# 3. Create the custom role: only the five peering actions and reading the
#    platform's own assignment, assignable only in the VNet's resource group.
cat > role.json <<'CONNECTIVITY_PORTAL_ROLE_JSON'
{{
  "Name": "Connectivity Portal Peering",
  "IsCustom": true,
  "Description": "Lets the Connectivity Portal create, read and delete VNet peerings on this \
virtual network, and read its own role assignment there (the proof of control in its \
description). Remove the assignment when the peering is in place.",
  "Actions": [
    "Microsoft.Network/virtualNetworks/read",
    "Microsoft.Network/virtualNetworks/peer/action",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/read",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete",
    "Microsoft.Authorization/roleAssignments/read"
  ],
  "NotActions": [],
  "DataActions": [],
  "NotDataActions": [],
  "AssignableScopes": [
    "{RG_ID}"
  ]
}}
CONNECTIVITY_PORTAL_ROLE_JSON
az role definition create --role-definition @role.json

# 4. Assign it to the platform on the VNet itself, not the resource group or
#    subscription: least privilege, the platform can touch this one VNet only.
az role assignment create --assignee {APP} --role 'Connectivity Portal Peering' --scope {VNET_ID}
"""

GOLDEN_REVOKE = f"""\
# Run once the peering is Connected; the peering keeps working without the role.
az login --tenant {TENANT}
az account set --subscription {SUB}

# Remove the platform's access to the VNet.
az role assignment delete --assignee {APP} --role 'Connectivity Portal Peering' --scope {VNET_ID}

# Remove the custom role (skip this if another VNet in the resource group still
# uses it).
az role definition delete --name 'Connectivity Portal Peering' --scope {RG_ID}
"""


def test_grant_script_golden() -> None:
    assert roles.grant_script(CUSTOMER, app_id=APP) == GOLDEN_GRANT


def test_the_assignment_carries_the_proof_and_falls_back_to_adding_it() -> None:
    proof = "cpp-0123456789abcdef0123456789abcdef"
    script = roles.grant_script(CUSTOMER, app_id=APP, proof=proof)
    create = (f"az role assignment create --assignee {APP} --role 'Connectivity Portal Peering' "
              f"--scope {VNET_ID} --description 'Connectivity Portal proof of control: {proof}'")
    assert roles.grant_commands(CUSTOMER, app_id=APP, proof=proof)[-1] == create
    update = roles.proof_update_command(CUSTOMER, app_id=APP, proof=proof)
    assert f"{create} \\\n  || {{ {update}; }}\n" in script
    assert update.endswith("&& az role assignment update --role-assignment @role-assignment.json")
    assert f"--arg proof {proof}" in update
    if shutil.which("bash"):
        subprocess.run(["bash", "-n"], input=script.encode(), check=True)


def test_revoke_script_golden() -> None:
    assert roles.revoke_script(CUSTOMER, app_id=APP) == GOLDEN_REVOKE


def test_role_definition_as_az_takes_it() -> None:
    definition = json.loads(roles.role_definition_json(CUSTOMER))
    assert definition == {
        "Name": "Connectivity Portal Peering",
        "IsCustom": True,
        "Description": definition["Description"],
        "Actions": [
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.Network/virtualNetworks/peer/action",
            "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/read",
            "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write",
            "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete",
            "Microsoft.Authorization/roleAssignments/read",
        ],
        "NotActions": [],
        "DataActions": [],
        "NotDataActions": [],
        "AssignableScopes": [RG_ID],
    }


def test_command_order() -> None:
    commands = roles.grant_commands(CUSTOMER, app_id=APP)
    assert [shlex.split(c)[:3] for c in commands] == [
        ["az", "login", "--tenant"],
        ["az", "account", "set"],
        ["az", "ad", "sp"],
        ["az", "role", "definition"],
        ["az", "role", "assignment"],
    ]


def test_role_name_from_settings(settings: pytest.FixtureRequest) -> None:
    settings.AZURE_CUSTOM_ROLE_NAME = "Acme Peering"  # type: ignore[attr-defined]
    info = roles.instructions(CUSTOMER, app_id=APP)
    assert info.role_name == "Acme Peering"
    assert info.role_definition["Name"] == "Acme Peering"
    assert "--role 'Acme Peering'" in info.grant_commands[-1]
    assert "--name 'Acme Peering'" in info.revoke_commands[-1]


def test_required_actions_are_the_role_actions() -> None:
    assert roles.required_actions() == roles.role_definition(CUSTOMER)["Actions"]


HOSTILE = CustomerVNet(
    tenant_id="t'; rm -rf ~ #",
    subscription_id="$(touch pwned)",
    resource_group="rg`id`\nrm -rf /",
    vnet_name='v"; echo pwned; "',
)
HOSTILE_ROLE = "Peer ' $(touch pwned) \nCONNECTIVITY_PORTAL_ROLE_JSON\ntouch pwned"


def test_hostile_values_stay_single_arguments() -> None:
    commands = roles.grant_commands(HOSTILE, app_id="a b;c", role_name=HOSTILE_ROLE)
    assert shlex.split(commands[0]) == ["az", "login", "--tenant", HOSTILE.tenant_id]
    assert shlex.split(commands[1])[-1] == HOSTILE.subscription_id
    assert shlex.split(commands[4]) == [
        "az",
        "role",
        "assignment",
        "create",
        "--assignee",
        "a b;c",
        "--role",
        HOSTILE_ROLE,
        "--scope",
        HOSTILE.vnet_id,
    ]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("which", ["grant", "revoke"])
def test_hostile_script_runs_only_az(tmp_path: Path, which: str) -> None:
    """Run the rendered script with a fake az: nothing else may execute, and az gets the
    values intact."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "az.log"
    fake_az = bin_dir / "az"
    fake_az.write_text(
        '#!/bin/bash\nfor a in "$@"; do printf "%s\\0" "$a" >> "$AZ_LOG"; done\nprintf "\\n" >> "$AZ_LOG"\n'
    )
    fake_az.chmod(0o755)
    render = roles.grant_script if which == "grant" else roles.revoke_script
    script = render(HOSTILE, app_id="app", role_name=HOSTILE_ROLE)
    subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "AZ_LOG": str(log), "HOME": str(tmp_path)},
        check=False,
        timeout=30,
    )
    assert not (tmp_path / "pwned").exists()
    calls = [line.split("\0") for line in log.read_text().split("\0\n") if line]
    assert ["login", "--tenant", HOSTILE.tenant_id] in [c[:3] for c in calls]
    if which == "grant":
        written = json.loads((tmp_path / "role.json").read_text())
        assert written["Name"] == HOSTILE_ROLE
        assert written["AssignableScopes"] == [HOSTILE.resource_group_id]
        assert calls[-1][-1] == HOSTILE.vnet_id
        assert calls[-1][calls[-1].index("--role") + 1] == HOSTILE_ROLE


# ----- a cluster's workload identity --------------------------------------------------------
def test_identity_assignment_command_golden() -> None:
    from connectivity.azure import roles

    scope = ("/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg-data/"
             "providers/Microsoft.Storage/storageAccounts/contosodata")
    assert roles.identity_assignment_command(
        principal_id="9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a",
        role_name="Storage Blob Data Reader", scope=scope,
    ) == ("az role assignment create --assignee-object-id 9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a "
          "--assignee-principal-type ServicePrincipal --role 'Storage Blob Data Reader' "
          f"--scope {scope}")
    hostile = roles.identity_assignment_command(principal_id="x; rm -rf ~",
                                                role_name="a'b", scope="$(id)")
    assert "--assignee-object-id 'x; rm -rf ~'" in hostile
    assert "--role 'a'\"'\"'b'" in hostile and "--scope '$(id)'" in hostile


def test_offered_identity_roles_are_azures_built_ins() -> None:
    from connectivity.azure import roles
    from connectivity.azure.simulator.rbac import BUILTIN_ROLES

    for offered in roles.IDENTITY_ROLES:
        builtin = BUILTIN_ROLES[offered.id]  # the simulator's copy of the real definition
        assert builtin.role_name == offered.name
        assert set(offered.actions) <= set(builtin.actions)
        assert set(offered.data_actions) <= set(builtin.data_actions)
    vault = ("/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg/providers/"
             "Microsoft.KeyVault/vaults/kv")
    assert [r.name for r in roles.identity_roles_for(vault)] == ["Key Vault Secrets User"]
    assert roles.identity_role("storage blob data reader") is roles.IDENTITY_ROLES[0]
