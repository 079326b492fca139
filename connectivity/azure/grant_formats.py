"""The platform's role and its assignment in the customer's own tools: Azure CLI, Azure
PowerShell, Terraform and Bicep, for granting and for revoking.

Every format says the same thing as :mod:`connectivity.azure.roles` says to the Azure CLI: the
custom role (from :func:`roles.role_definition`, so a role's actions are declared once, there),
assigned to the platform's application on the customer's resource (a :class:`roles.GrantTarget`:
the VNet of a peering, the virtual hub of a hub connection), with the request's proof of control
in the assignment's description (:func:`roles.proof_description`); and when the platform already
holds the role on that resource, this request's proof appended to that assignment's description,
keeping the proofs already there. What differs between a VNet and a hub (the role, the words)
comes from the target's :class:`roles.TargetKind`; the formats are written once.

Every customer value is written as a string literal of the file's own language, escaped for it
(:func:`ps_quote`, :func:`hcl_quote`, :func:`bicep_quote`, :func:`shlex.quote`); comments never
contain customer values, so no value can end a comment and start code.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from connectivity.azure import roles
from connectivity.azure.roles import GrantTarget

#: The formats in the order the grant page shows them.
FORMATS: tuple[tuple[str, str], ...] = (
    ("cli", "Azure CLI"),
    ("powershell", "Azure PowerShell"),
    ("terraform", "Terraform"),
    ("bicep", "Bicep"),
)
FORMAT_KEYS: tuple[str, ...] = tuple(key for key, _ in FORMATS)

#: The Terraform resource names; the revoke command names them with ``-target``.
TF_ROLE = "azurerm_role_definition.connectivity_portal"
TF_ASSIGNMENT = "azurerm_role_assignment.connectivity_portal"
TF_PRINCIPAL = "azuread_service_principal.connectivity_portal"


@dataclass(frozen=True)
class GrantFile:
    """One file of a format, ready to save under ``filename`` and run."""

    filename: str
    language: str  # shell, powershell, hcl or bicep
    content: str


@dataclass(frozen=True)
class GrantFormat:
    key: str
    label: str
    grant: tuple[GrantFile, ...]
    revoke: tuple[GrantFile, ...]

    def files(self) -> tuple[GrantFile, ...]:
        return (*self.grant, *self.revoke)


# --- quoting -----------------------------------------------------------------------------------

# PowerShell ends a single-quoted string at any of these, not only at the ASCII apostrophe.
_PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def ps_quote(value: str) -> str:
    """A PowerShell single-quoted string: nothing inside is expanded; every quote character
    (PowerShell also takes the typographic single quotes as quotes) is doubled."""
    return "'" + "".join(c + c if c in _PS_QUOTES else c for c in value) + "'"


_HCL_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def hcl_quote(value: str) -> str:
    """An HCL quoted string: ``"`` and ``\\`` escaped, ``${`` and ``%{`` (interpolation and
    template directives) doubled to their literal forms, control characters as ``\\uNNNN``."""
    out = []
    for c in value:
        if c in _HCL_ESCAPES:
            out.append(_HCL_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F or c in "\u2028\u2029":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


_BICEP_ESCAPES = {"'": "\\'", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "$": "\\$"}


def bicep_quote(value: str) -> str:
    """A Bicep string: ``'`` and ``\\`` escaped, every ``$`` escaped (so no ``${`` interpolates),
    control characters as ``\\u{X}``."""
    out = []
    for c in value:
        if c in _BICEP_ESCAPES:
            out.append(_BICEP_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F or c in "\u2028\u2029":
            out.append(f"\\u{{{ord(c):X}}}")
        else:
            out.append(c)
    return "'" + "".join(out) + "'"


# --- the formats -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grant:
    customer: GrantTarget
    app_id: str
    role_name: str
    definition: dict[str, Any]
    proof: str

    @property
    def scope(self) -> str:
        return self.customer.resource_id

    @property
    def n(self) -> str:
        """The resource in a sentence: "VNet", "virtual hub"."""
        return self.customer.kind.noun

    @property
    def short(self) -> str:
        return self.customer.kind.short

    @property
    def description(self) -> str:
        return roles.proof_description(self.proof) if self.proof else ""

    @property
    def role_scope(self) -> str:
        scopes = self.definition.get("AssignableScopes") or [self.customer.resource_group_id]
        return str(scopes[0])


def _cli(g: _Grant) -> GrantFormat:
    kw: dict[str, Any] = {"app_id": g.app_id, "role_name": g.role_name}
    return GrantFormat(
        key="cli", label="Azure CLI",
        grant=(GrantFile("grant.sh", "shell",
                         roles.grant_script(g.customer, proof=g.proof, **kw)),),
        revoke=(GrantFile("revoke.sh", "shell", roles.revoke_script(g.customer, **kw)),),
    )


def _ps_login(g: _Grant) -> list[str]:
    q = ps_quote
    return [
        f"Connect-AzAccount -Tenant {q(g.customer.tenant_id)}",
        f"Set-AzContext -Subscription {q(g.customer.subscription_id)}",
    ]


def _ps_revoke(g: _Grant) -> str:
    q = ps_quote
    return "\n".join([
        roles.revoke_when(g.customer),
        "# Needs the Az module (Install-Module Az); Cloud Shell has it.",
        "$ErrorActionPreference = 'Stop'",
        *_ps_login(g),
        "",
        f"# Remove the platform's access to the {g.n}.",
        f"$sp = Get-AzADServicePrincipal -ApplicationId {q(g.app_id)}",
        f"Remove-AzRoleAssignment -ObjectId $sp.Id -RoleDefinitionName {q(g.role_name)} "
        f"-Scope {q(g.scope)}",
        "",
        f"# Remove the custom role (skip this if another {g.n} in the resource group still",
        "# uses it).",
        f"Remove-AzRoleDefinition -Name {q(g.role_name)} -Scope {q(g.role_scope)} -Force",
        "",
    ])


def _powershell(g: _Grant) -> GrantFormat:
    q = ps_quote
    d = g.definition
    assign = [
        f"# 4. Assign it to the platform on the {g.n} itself, not the resource group or",
        f"#    subscription: least privilege, the platform can touch this one {g.short} only.",
    ]
    new_assignment = (f"New-AzRoleAssignment -ObjectId $sp.Id -RoleDefinitionName "
                      f"{q(g.role_name)} -Scope {q(g.scope)}")
    if g.proof:
        assign += [
            f"#    Its description carries this request's proof that you control the {g.short}. If",
            f"#    the assignment exists already (another request for this {g.short}), this request's",
            "#    proof is added to its description instead, keeping the proofs already there.",
            f"$existing = Get-AzRoleAssignment -ObjectId $sp.Id -RoleDefinitionName {q(g.role_name)} "
            f"-Scope {q(g.scope)} | Select-Object -First 1",
            "if ($existing) {",
            "  if ($existing.Description) {",
            f"    $existing.Description = $existing.Description + ' ' + {q(g.proof)}",
            "  } else {",
            f"    $existing.Description = {q(g.description)}",
            "  }",
            "  Set-AzRoleAssignment -InputObject $existing",
            "} else {",
            f"  {new_assignment} -Description {q(g.description)}",
            "}",
        ]
    else:
        assign.append(new_assignment)
    grant = "\n".join([
        "# Needs the Az module (Install-Module Az); Cloud Shell has it.",
        "$ErrorActionPreference = 'Stop'",
        "",
        f"# 1. Sign in to your tenant and select the subscription that holds the {g.n}.",
        *_ps_login(g),
        "",
        "# 2. Add the platform's application to your tenant (skipped if it is already there).",
        f"$sp = Get-AzADServicePrincipal -ApplicationId {q(g.app_id)}",
        f"if (-not $sp) {{ $sp = New-AzADServicePrincipal -ApplicationId {q(g.app_id)} }}",
        "",
        "# 3. Create the custom role: only the actions the platform needs, assignable only in",
        f"#    the {g.n}'s resource group.",
        "$role = [Microsoft.Azure.Commands.Resources.Models.Authorization.PSRoleDefinition]::new()",
        f"$role.Name = {q(g.role_name)}",
        f"$role.Description = {q(str(d.get('Description', '')))}",
        "$role.IsCustom = $true",
        f"$role.Actions = @({', '.join(q(a) for a in d.get('Actions', []))})",
        f"$role.NotActions = @({', '.join(q(a) for a in d.get('NotActions', []))})",
        f"$role.AssignableScopes = @({', '.join(q(s) for s in d.get('AssignableScopes', []))})",
        "New-AzRoleDefinition -Role $role",
        "",
        *assign,
        "",
    ])
    return GrantFormat(key="powershell", label="Azure PowerShell",
                       grant=(GrantFile("grant.ps1", "powershell", grant),),
                       revoke=(GrantFile("revoke.ps1", "powershell", _ps_revoke(g)),))


def _hcl_list(items: list[str], indent: str) -> str:
    if not items:
        return "[]"
    inner = "".join(f"{indent}  {hcl_quote(item)},\n" for item in items)
    return f"[\n{inner}{indent}]"


def _terraform(g: _Grant) -> GrantFormat:
    q = hcl_quote
    d = g.definition
    description = (["  description        = " + q(g.description)] if g.proof else [])
    main = "\n".join([
        f"# Grants the Connectivity Portal its role on your {g.n}. Save as main.tf in an empty",
        "# directory, then run: terraform init && terraform apply",
        f"# Sign in first (az login) as someone who may assign roles on the {g.n}.",
        "",
        "terraform {",
        "  required_providers {",
        "    azurerm = {",
        '      source  = "hashicorp/azurerm"',
        '      version = ">= 3.50"',
        "    }",
        "    azuread = {",
        '      source  = "hashicorp/azuread"',
        '      version = ">= 2.44"',
        "    }",
        "  }",
        "}",
        "",
        'provider "azurerm" {',
        "  features {}",
        f"  tenant_id       = {q(g.customer.tenant_id)}",
        f"  subscription_id = {q(g.customer.subscription_id)}",
        "}",
        "",
        'provider "azuread" {',
        f"  tenant_id = {q(g.customer.tenant_id)}",
        "}",
        "",
        "# The platform's application in your tenant (kept if it is already there).",
        'resource "azuread_service_principal" "connectivity_portal" {',
        f"  client_id    = {q(g.app_id)}",
        "  use_existing = true",
        "}",
        "",
        f"# The custom role: only the actions the platform needs, assignable only in the {g.n}'s",
        "# resource group.",
        'resource "azurerm_role_definition" "connectivity_portal" {',
        f"  name        = {q(g.role_name)}",
        f"  scope       = {q(g.role_scope)}",
        f"  description = {q(str(d.get('Description', '')))}",
        "",
        "  permissions {",
        # terraform fmt aligns ``=`` only across single-line attributes.
        f"    actions{'    ' if not d.get('Actions') else ''} = "
        f"{_hcl_list(list(d.get('Actions', [])), '    ')}",
        f"    not_actions = {_hcl_list(list(d.get('NotActions', [])), '    ')}",
        "  }",
        "",
        f"  assignable_scopes = {_hcl_list(list(d.get('AssignableScopes', [])), '  ')}",
        "}",
        "",
        f"# Assigned to the platform on the {g.n} itself: least privilege, this one {g.short} only.",
        *([
            f"# The description carries this request's proof that you control the {g.short}.",
            "#",
            f"# If the platform already holds this role on the {g.short} (another request for it), Azure",
            "# refuses a second assignment (RoleAssignmentExists). Then import the existing one",
            "# (and the role, if it exists too) instead of creating them:",
            f"#   terraform import {TF_ASSIGNMENT} <the assignment's id>",
            f"#   terraform import {TF_ROLE} '<role definition id>|<scope>'",
            f"# (az role assignment list --assignee <application id> --scope <{g.short} id> shows the",
            "# id and the description) and set description below to the existing description,",
            "# a space and this request's proof, so the proofs already there are kept.",
        ] if g.proof else []),
        'resource "azurerm_role_assignment" "connectivity_portal" {',
        f"  scope              = {q(g.scope)}",
        "  role_definition_id = azurerm_role_definition.connectivity_portal.role_definition_resource_id",
        "  principal_id       = azuread_service_principal.connectivity_portal.object_id",
        '  principal_type     = "ServicePrincipal"',
        *description,
        "}",
        "",
    ])
    revoke = "\n".join([
        f"# Run once {g.customer.kind.ready}, in the directory that holds main.tf and its",
        "# state: removes the assignment and the custom role, and keeps the platform's",
        f"# application in your tenant. Skip the role if another {g.n} still uses it.",
        f"terraform destroy -target={TF_ASSIGNMENT} -target={TF_ROLE}",
        "",
    ])
    return GrantFormat(key="terraform", label="Terraform",
                       grant=(GrantFile("main.tf", "hcl", main),),
                       revoke=(GrantFile("terraform-revoke.sh", "shell", revoke),))


def _bicep(g: _Grant) -> GrantFormat:
    q = bicep_quote
    d = g.definition
    sym = g.customer.kind.bicep_symbol
    main = "\n".join([
        f"// Grants the Connectivity Portal its role on your {g.n}. Deploy it into the {g.n}'s",
        "// resource group with bicep-deploy.sh, which also looks up the platform's principal id.",
        "targetScope = 'resourceGroup'",
        "",
        "@description('Object id of the platform\\'s service principal in your tenant.')",
        "param principalId string",
        "",
        f"var roleName = {q(g.role_name)}",
        *([f"var proofDescription = {q(g.description)}"] if g.proof else []),
        "",
        f"resource {sym} '{g.customer.kind.bicep_type}' existing = {{",
        f"  name: {q(g.customer.name)}",
        "}",
        "",
        f"// The custom role: only the actions the platform needs, assignable only in the {g.n}'s",
        "// resource group.",
        "resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {",
        "  name: guid(resourceGroup().id, roleName)",
        "  properties: {",
        "    roleName: roleName",
        f"    description: {q(str(d.get('Description', '')))}",
        "    type: 'CustomRole'",
        "    permissions: [",
        "      {",
        f"        actions: {_bicep_list(list(d.get('Actions', [])), '        ')}",
        f"        notActions: {_bicep_list(list(d.get('NotActions', [])), '        ')}",
        "      }",
        "    ]",
        f"    assignableScopes: {_bicep_list(list(d.get('AssignableScopes', [])), '    ')}",
        "  }",
        "}",
        "",
        f"// Assigned to the platform on the {g.n} itself: least privilege, this one {g.short} only.",
        *([
            f"// The description carries this request's proof that you control the {g.short}.",
            "//",
            f"// If the platform already holds this role on the {g.short} (another request for it), Azure",
            "// refuses a second assignment (RoleAssignmentExists). Then do not deploy this file:",
            "// add this request's proof to the existing assignment's description with the",
            "// Azure CLI tab's second assignment line, or the PowerShell tab's Set-AzRoleAssignment.",
        ] if g.proof else []),
        "resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {",
        f"  name: guid({sym}.id, principalId, role.id)",
        f"  scope: {sym}",
        "  properties: {",
        "    roleDefinitionId: role.id",
        "    principalId: principalId",
        "    principalType: 'ServicePrincipal'",
        *(["    description: proofDescription"] if g.proof else []),
        "  }",
        "}",
        "",
    ])
    s = shlex.quote
    deploy = "\n".join([
        "# Deploy grant.bicep with the Azure CLI (Bicep is built in), as someone who may assign",
        f"# roles on the {g.n}.",
        f"az login --tenant {s(g.customer.tenant_id)}",
        f"az account set --subscription {s(g.customer.subscription_id)}",
        "",
        "# Add the platform's application to your tenant (skipped if it is already there).",
        f"az ad sp show --id {s(g.app_id)} >/dev/null 2>&1 || az ad sp create --id {s(g.app_id)}",
        f"principal_id=$(az ad sp show --id {s(g.app_id)} --query id -o tsv)",
        "",
        f"az deployment group create --resource-group {s(g.customer.resource_group)} "
        '--template-file grant.bicep --parameters principalId="$principal_id"',
        "",
    ])
    cli_revoke = roles.revoke_script(g.customer, app_id=g.app_id, role_name=g.role_name)
    bicep_note = ("# Bicep has no delete: remove what grant.bicep deployed with the Azure CLI\n"
                  "# (or with revoke.ps1 in Azure PowerShell).\n")
    return GrantFormat(
        key="bicep", label="Bicep",
        grant=(GrantFile("grant.bicep", "bicep", main),
               GrantFile("bicep-deploy.sh", "shell", deploy)),
        revoke=(GrantFile("bicep-revoke.sh", "shell", bicep_note + cli_revoke),
                GrantFile("revoke.ps1", "powershell", _ps_revoke(g))),
    )


def _bicep_list(items: list[str], indent: str) -> str:
    if not items:
        return "[]"
    inner = "".join(f"{indent}  {bicep_quote(item)}\n" for item in items)
    return f"[\n{inner}{indent}]"


def formats(target: GrantTarget, *, app_id: str, proof: str = "",
            role_name: str | None = None) -> dict[str, GrantFormat]:
    """Every format of one grant, keyed as :data:`FORMAT_KEYS`: the target's role
    (:func:`roles.role_definition`) assigned on the target itself (its resource id)."""
    definition = roles.role_definition(target, role_name=role_name)
    grant = _Grant(customer=target, app_id=app_id, role_name=str(definition["Name"]),
                   definition=definition, proof=proof)
    built = (_cli(grant), _powershell(grant), _terraform(grant), _bicep(grant))
    return {f.key: f for f in built}


def find_file(found: dict[str, GrantFormat], filename: str) -> GrantFile | None:
    """The file of that name in any format (names are unique but for shared revoke files,
    which are then the same)."""
    for fmt in found.values():
        for file in fmt.files():
            if file.filename == filename:
                return file
    return None


def as_json(found: dict[str, GrantFormat]) -> dict[str, Any]:
    """The API's ``formats`` object."""
    return {
        key: {
            "label": f.label,
            "grant": [{"filename": x.filename, "language": x.language, "content": x.content}
                      for x in f.grant],
            "revoke": [{"filename": x.filename, "language": x.language, "content": x.content}
                       for x in f.revoke],
        }
        for key, f in found.items()
    }
