"""The grant in the customer's own tools: exact output of every format (golden files) for both
roles (the peering's on a VNet, the hub connection's on a virtual hub), the proof of control
carried as the Azure CLI carries it, and no customer value escaping its string.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1`` and read the diff.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from connectivity.azure import grant_formats as gf
from connectivity.azure import roles
from connectivity.azure.roles import CustomerHub, CustomerVNet, GrantTarget

TENANT = "33333333-3333-4333-8333-333333333333"
SUB = "44444444-4444-4444-8444-444444444444"
APP = "55555555-5555-4555-8555-555555555555"
PROOF = "cpp-0123456789abcdef0123456789abcdef"
CUSTOMER = CustomerVNet(TENANT, SUB, "rg-customer", "vnet-customer")
VNET_ID = CUSTOMER.vnet_id
HUB = CustomerHub(TENANT, SUB, "rg-network", "hub-weu")
HUB_ID = HUB.hub_id
GOLDEN = Path(__file__).parent / "fixtures" / "grant_formats"
#: Each role's golden files: the peering's at the top, the hub's in hub/.
TARGETS: dict[str, tuple[GrantTarget, Path]] = {"vnet": (CUSTOMER, GOLDEN),
                                                "hub": (HUB, GOLDEN / "hub")}


def render(customer: GrantTarget = CUSTOMER, *, app_id: str = APP, proof: str = PROOF,
           role_name: str | None = None) -> dict[str, gf.GrantFormat]:
    return gf.formats(customer, app_id=app_id, proof=proof,
                      role_name=role_name or customer.kind.default_role_name)


def all_files(found: dict[str, gf.GrantFormat]) -> dict[str, gf.GrantFile]:
    return {f.filename: f for fmt in found.values() for f in fmt.files()}


# --- golden files -------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "filename"), [
    (target, filename) for target, (customer, _) in TARGETS.items()
    for filename in sorted(all_files(render(customer)))])
def test_golden(target: str, filename: str) -> None:
    customer, folder = TARGETS[target]
    content = all_files(render(customer))[filename].content
    golden = folder / filename
    if os.environ.get("UPDATE_GOLDEN"):
        folder.mkdir(parents=True, exist_ok=True)
        golden.write_text(content)
    assert content == golden.read_text()


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_format_is_offered_in_order_with_a_grant_and_a_revoke(target: str) -> None:
    found = render(TARGETS[target][0])
    assert list(found) == ["cli", "powershell", "terraform", "bicep"]
    assert [f.label for f in found.values()] == [
        "Azure CLI", "Azure PowerShell", "Terraform", "Bicep"]
    for fmt in found.values():
        assert fmt.grant and fmt.revoke


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_cli_format_is_the_roles_script(target: str) -> None:
    customer = TARGETS[target][0]
    cli = render(customer)["cli"]
    kw = {"app_id": APP, "role_name": customer.kind.default_role_name}
    assert cli.grant[0].content == roles.grant_script(customer, proof=PROOF, **kw)
    assert cli.revoke[0].content == roles.revoke_script(customer, **kw)


def test_each_format_carries_the_proof_in_the_assignment_description() -> None:
    description = roles.proof_description(PROOF)
    files = all_files(render())
    ps = files["grant.ps1"].content
    assert (f"New-AzRoleAssignment -ObjectId $sp.Id -RoleDefinitionName "
            f"'Connectivity Portal Peering' -Scope '{VNET_ID}' -Description '{description}'") in ps
    # An existing assignment: the proof appended, the proofs already there kept.
    assert f"$existing.Description = $existing.Description + ' ' + '{PROOF}'" in ps
    assert "Set-AzRoleAssignment -InputObject $existing" in ps
    tf = files["main.tf"].content
    assert f'  description        = "{description}"\n}}' in tf
    assert "terraform import azurerm_role_assignment.connectivity_portal" in tf
    bicep = files["grant.bicep"].content
    assert f"var proofDescription = '{description}'" in bicep
    assert "    description: proofDescription\n" in bicep
    assert "RoleAssignmentExists" in bicep


def test_each_format_grants_every_role_action_on_the_vnet_only() -> None:
    files = all_files(render())
    for name in ("grant.ps1", "main.tf", "grant.bicep"):
        for action in roles.ROLE_ACTIONS:
            assert action in files[name].content, (name, action)
        assert VNET_ID in files[name].content or CUSTOMER.vnet_name in files[name].content


def test_without_a_proof_no_description_is_set() -> None:
    files = all_files(render(proof=""))
    assert "-Description" not in files["grant.ps1"].content
    assert "Set-AzRoleAssignment" not in files["grant.ps1"].content
    assert "description        =" not in files["main.tf"].content
    assert "proofDescription" not in files["grant.bicep"].content


def test_revoke_counterparts() -> None:
    files = all_files(render())
    assert "Remove-AzRoleAssignment -ObjectId $sp.Id" in files["revoke.ps1"].content
    assert "Remove-AzRoleDefinition -Name 'Connectivity Portal Peering'" in files["revoke.ps1"].content
    assert ("terraform destroy -target=azurerm_role_assignment.connectivity_portal "
            "-target=azurerm_role_definition.connectivity_portal") in files["terraform-revoke.sh"].content
    bicep = render()["bicep"]
    assert [f.filename for f in bicep.revoke] == ["bicep-revoke.sh", "revoke.ps1"]
    assert "az role assignment delete" in bicep.revoke[0].content
    assert "Bicep has no delete" in bicep.revoke[0].content


def test_the_hub_role_in_every_format_is_on_the_hub_with_the_proof() -> None:
    description = roles.proof_description(PROOF)
    name = roles.DEFAULT_HUB_ROLE_NAME
    files = all_files(render(HUB))
    for filename in ("grant.ps1", "main.tf", "grant.bicep"):
        content = files[filename].content
        for action in roles.HUB_ROLE_ACTIONS:
            assert action in content, (filename, action)
        assert not any(a in content for a in roles.PEERING_ACTIONS), filename
        assert name in content and roles.DEFAULT_ROLE_NAME not in content
    ps = files["grant.ps1"].content
    assert (f"New-AzRoleAssignment -ObjectId $sp.Id -RoleDefinitionName '{name}' "
            f"-Scope '{HUB_ID}' -Description '{description}'") in ps
    assert f"$existing.Description = $existing.Description + ' ' + '{PROOF}'" in ps
    assert f"$role.AssignableScopes = @('{HUB.resource_group_id}')" in ps
    tf = files["main.tf"].content
    assert f'  scope              = "{HUB_ID}"' in tf
    assert f'  description        = "{description}"\n}}' in tf
    bicep = files["grant.bicep"].content
    assert "resource hub 'Microsoft.Network/virtualHubs@2023-09-01' existing = {\n" \
           "  name: 'hub-weu'\n}" in bicep
    assert "  scope: hub\n" in bicep and "guid(hub.id, principalId, role.id)" in bicep
    assert "    description: proofDescription\n" in bicep
    assert "--resource-group rg-network " in files["bicep-deploy.sh"].content


def test_the_hub_revoke_counterparts_remove_the_hub_assignment_and_role() -> None:
    name = roles.DEFAULT_HUB_ROLE_NAME
    files = all_files(render(HUB))
    assert (f"Remove-AzRoleAssignment -ObjectId $sp.Id -RoleDefinitionName '{name}' "
            f"-Scope '{HUB_ID}'") in files["revoke.ps1"].content
    assert (f"Remove-AzRoleDefinition -Name '{name}' -Scope '{HUB.resource_group_id}' -Force"
            in files["revoke.ps1"].content)
    assert "terraform destroy -target=azurerm_role_assignment.connectivity_portal" in (
        files["terraform-revoke.sh"].content)
    assert f"--scope {HUB_ID}" in files["bicep-revoke.sh"].content
    for file in files.values():
        if file.filename.startswith(("revoke", "terraform-revoke", "bicep-revoke")):
            assert "Run once the hub connection has succeeded" in file.content


@pytest.mark.parametrize("filename", sorted(all_files(render(HUB))))
def test_the_hub_files_speak_of_a_virtual_hub_not_a_vnet(filename: str) -> None:
    content = all_files(render(HUB))[filename].content
    for word in ("VNet", "peering", "virtualNetworks"):
        assert word not in content, (filename, word)


def test_find_file() -> None:
    found = render()
    assert gf.find_file(found, "main.tf") is found["terraform"].grant[0]
    assert gf.find_file(found, "grant.sh") is found["cli"].grant[0]
    assert gf.find_file(found, "../etc/passwd") is None


@pytest.mark.skipif(not shutil.which("terraform"),
                    reason="no terraform binary on PATH: terraform fmt -check cannot run here")
@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("hostile", [False, True])
def test_terraform_fmt_check(tmp_path: Path, hostile: bool, target: str) -> None:
    customer = (HOSTILE_HUB if target == "hub" else HOSTILE_CUSTOMER) if hostile else (
        TARGETS[target][0])
    found = render(customer, app_id=HOSTILE, role_name=HOSTILE) if hostile else render(customer)
    (tmp_path / "main.tf").write_text(found["terraform"].grant[0].content)
    result = subprocess.run(["terraform", "fmt", "-check", "-diff", "main.tf"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --- hostile values -----------------------------------------------------------------------------

HOSTILE = ("x'; Remove-Item -Recurse ~ # ’ ‘ ‚ ‛ \" ${var.x} %{if true} $(whoami) `n \\ \\' "
           "\n}\nresource \"null\" \"x\" {}\n// end ''' \r\t \u2028 é 🙂 \x00\x1b[31m")
HOSTILE_CUSTOMER = CustomerVNet(HOSTILE + "t", HOSTILE + "s", HOSTILE + "rg", HOSTILE + "vnet")
BENIGN_CUSTOMER = CustomerVNet("t", "s", "rg", "vnet")
HOSTILE_HUB = CustomerHub(HOSTILE + "t", HOSTILE + "s", HOSTILE + "rg", HOSTILE + "vnet")
BENIGN_HUB = CustomerHub("t", "s", "rg", "vnet")
HOSTILE_TARGETS = {"vnet": (HOSTILE_CUSTOMER, BENIGN_CUSTOMER), "hub": (HOSTILE_HUB, BENIGN_HUB)}


class Breakout(AssertionError):
    pass


def split_powershell(text: str) -> tuple[str, list[str]]:
    """(code with every single-quoted string as '', the strings' values), comments kept."""
    code, values, i = [], [], 0
    quotes = "'\u2018\u2019\u201a\u201b"
    while i < len(text):
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            code.append(text[i:end])
            i = end
        elif c in quotes:
            value, i = [], i + 1
            while True:
                if i >= len(text):
                    raise Breakout("unterminated string")
                if text[i] in quotes:
                    if i + 1 < len(text) and text[i + 1] in quotes:
                        value.append(text[i])
                        i += 2
                        continue
                    i += 1
                    break
                value.append(text[i])
                i += 1
            values.append("".join(value))
            code.append("''")
        elif c in '"`' or text.startswith(("@'", '@"'), i):
            raise Breakout(f"{c!r} in code")  # expanding strings, escapes, here-strings
        else:
            code.append(c)
            i += 1
    return "".join(code), values


def _split_escaped(text: str, *, quote: str, comment: str,
                   escapes: dict[str, str]) -> tuple[str, list[str]]:
    code, values, i = [], [], 0
    while i < len(text):
        if text.startswith(comment, i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            code.append(text[i:end])
            i = end
        elif text[i] == quote:
            value, i = [], i + 1
            while True:
                if i >= len(text) or text[i] == "\n":
                    raise Breakout("unterminated string")
                c = text[i]
                if c == quote:
                    i += 1
                    break
                if c == "\\":
                    nxt = text[i + 1]
                    if nxt in escapes:
                        value.append(escapes[nxt])
                        i += 2
                    elif nxt == "u" and quote == '"':
                        value.append(chr(int(text[i + 2:i + 6], 16)))
                        i += 6
                    elif nxt == "u":
                        end = text.index("}", i)
                        value.append(chr(int(text[i + 3:end], 16)))
                        i = end + 1
                    else:
                        raise Breakout(f"unknown escape \\{nxt}")
                    continue
                if quote == '"' and text.startswith(("$${", "%%{"), i):
                    value.append(text[i + 1:i + 3])
                    i += 3
                    continue
                if text.startswith(("${", "%{") if quote == '"' else ("${",), i):
                    raise Breakout("interpolation inside a string")
                value.append(c)
                i += 1
            values.append("".join(value))
            code.append(quote * 2)
        else:
            code.append(text[i])
            i += 1
    return "".join(code), values


def split_hcl(text: str) -> tuple[str, list[str]]:
    return _split_escaped(text, quote='"', comment="#",
                          escapes={'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"})


def split_bicep(text: str) -> tuple[str, list[str]]:
    return _split_escaped(text, quote="'", comment="//",
                          escapes={"'": "'", "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "$": "$"})


SPLITTERS = {"powershell": split_powershell, "hcl": split_hcl, "bicep": split_bicep}


@pytest.mark.parametrize("target", sorted(HOSTILE_TARGETS))
@pytest.mark.parametrize("filename", ["grant.ps1", "revoke.ps1", "main.tf", "grant.bicep"])
def test_hostile_values_stay_inside_their_strings(filename: str, target: str) -> None:
    hostile_target, benign_target = HOSTILE_TARGETS[target]
    hostile = all_files(render(hostile_target, app_id=HOSTILE + "app", proof=HOSTILE + "proof",
                               role_name=HOSTILE + "role"))[filename]
    benign = all_files(render(benign_target, app_id="app", proof="proof",
                              role_name="role"))[filename]
    split = SPLITTERS[hostile.language]

    hostile_code, hostile_values = split(hostile.content)
    benign_code, _ = split(benign.content)

    # The code around the strings is the same: no value added a statement, comment or token.
    assert hostile_code == benign_code
    # And each value arrives whole.
    for suffix in ("role", "rg", "t", "s"):
        if filename != "grant.bicep" or suffix in ("role",):
            assert any(HOSTILE + suffix in v for v in hostile_values), (filename, suffix)
    if filename in ("grant.ps1", "revoke.ps1"):
        assert any(v == HOSTILE + "app" for v in hostile_values)
    if filename == "grant.bicep":
        assert HOSTILE + "vnet" in hostile_values
    if filename != "revoke.ps1":
        assert any(v.endswith(HOSTILE + "proof") for v in hostile_values)


def test_hostile_values_stay_single_shell_words_in_the_deploy_script() -> None:
    hostile = all_files(render(HOSTILE_CUSTOMER, app_id=HOSTILE))["bicep-deploy.sh"].content
    benign = all_files(render(BENIGN_CUSTOMER, app_id="app"))["bicep-deploy.sh"].content

    def words(text: str) -> list[str]:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        return list(lexer)

    hostile_words, benign_words = words(hostile), words(benign)
    assert len(hostile_words) == len(benign_words)
    assert HOSTILE + "rg" in hostile_words and HOSTILE in hostile_words


def test_typographic_quotes_are_doubled_for_powershell() -> None:
    assert gf.ps_quote("a’b'c") == "'a’’b''c'"


def test_hcl_and_bicep_escapes() -> None:
    assert gf.hcl_quote('a"b\\c${d}%{e}\n') == '"a\\"b\\\\c$${d}%%{e}\\n"'
    assert gf.bicep_quote("a'b\\c${d}\n\x00") == "'a\\'b\\\\c\\${d}\\n\\u{0}'"
