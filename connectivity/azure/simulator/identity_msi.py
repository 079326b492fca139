"""Managed identities for workloads, and the PaaS resources customers authorize them on.

- ``Microsoft.ManagedIdentity/userAssignedIdentities`` (``clientId``, ``principalId``,
  ``tenantId``, as the REST spec's examples show) and their
  ``federatedIdentityCredentials`` (``issuer``, ``subject``, ``audiences``).
- The token endpoint's client-assertion grant for such an identity: an assertion whose ``iss``,
  ``sub`` and ``aud`` match one of the identity's federated credentials buys an ARM token whose
  ``oid`` is the identity's principal id (Entra ID's workload identity federation).
- ``Microsoft.Storage/storageAccounts`` and ``Microsoft.KeyVault/vaults``, just enough to exist
  as role assignment scopes (the customer creates them with the control API).
- The built-in data roles (Storage Blob Data Reader/Contributor, Key Vault Secrets User) with
  their real ids, actions and dataActions.

Registered by one import each in ``arm.py``, ``server.py``, ``control.py`` and
``control_api.py``; nothing else here changes how the other resource types behave.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .rbac import BUILTIN_BY_NAME, BUILTIN_ROLES, RoleDefinition, normalize_scope
from .state import NAMESPACES, TYPE_SEGMENTS, Resource, State, parse_resource_id
from .tokens import mint_token, parse_token

if TYPE_CHECKING:
    from .arm import Arm, PutContext, Response

IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
FEDERATED_CREDENTIAL = f"{IDENTITY}/federatedIdentityCredentials"
STORAGE_ACCOUNT = "Microsoft.Storage/storageAccounts"
KEY_VAULT = "Microsoft.KeyVault/vaults"
PAAS_TYPES = {"storage_account": STORAGE_ACCOUNT, "key_vault": KEY_VAULT}

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_FEDERATED_CREDENTIALS = 20  # per identity, as Azure limits them

IDENTITY_NAMESPACE = uuid.UUID("0b8e6f7e-3c1d-4f51-9a0c-6e2d8c4b7a21")

NAMESPACES.update({
    "microsoft.managedidentity": "Microsoft.ManagedIdentity",
    "microsoft.storage": "Microsoft.Storage",
    "microsoft.keyvault": "Microsoft.KeyVault",
})
TYPE_SEGMENTS.update({
    s.lower(): s for s in ["userAssignedIdentities", "federatedIdentityCredentials",
                           "storageAccounts", "vaults"]
})

STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

DATA_ROLES = [
    RoleDefinition(
        STORAGE_BLOB_DATA_READER, "Storage Blob Data Reader",
        "Allows for read access to Azure Storage blob containers and data",
        ["Microsoft.Storage/storageAccounts/blobServices/containers/read",
         "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
        data_actions=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
    ),
    RoleDefinition(
        STORAGE_BLOB_DATA_CONTRIBUTOR, "Storage Blob Data Contributor",
        "Allows for read, write and delete access to Azure Storage blob containers and data",
        ["Microsoft.Storage/storageAccounts/blobServices/containers/delete",
         "Microsoft.Storage/storageAccounts/blobServices/containers/read",
         "Microsoft.Storage/storageAccounts/blobServices/containers/write",
         "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"],
        data_actions=[
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
        ],
    ),
    RoleDefinition(
        KEY_VAULT_SECRETS_USER, "Key Vault Secrets User",
        "Read secret contents. Only works for key vaults that use the 'Azure role-based access "
        "control' permission model.",
        [],
        data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action",
                      "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
    ),
]
for _role in DATA_ROLES:
    BUILTIN_ROLES.setdefault(_role.guid, _role)
    BUILTIN_BY_NAME.setdefault(_role.role_name.lower(), _role)


# ----- identities ---------------------------------------------------------------------------
def identity_ids(resource_id: str, tenant_id: str) -> tuple[str, str]:
    """A stable (client id, principal id) for an identity: the same after every reset."""
    key = f"{tenant_id.lower()}:{normalize_scope(resource_id).lower()}"
    return (str(uuid.uuid5(IDENTITY_NAMESPACE, f"client:{key}")),
            str(uuid.uuid5(IDENTITY_NAMESPACE, f"principal:{key}")))


def build_identity(resource_id: str, *, tenant_id: str, location: str,
                   tags: dict[str, Any] | None = None, client_id: str | None = None,
                   principal_id: str | None = None) -> Resource:
    info = parse_resource_id(resource_id) or {}
    generated_client, generated_principal = identity_ids(resource_id, tenant_id)
    return Resource(
        id=resource_id, type=IDENTITY,
        subscription=info.get("subscription", ""), resource_group=info.get("resource_group", ""),
        body={
            "id": resource_id, "name": resource_id.rsplit("/", 1)[-1], "type": IDENTITY,
            "location": location, "tags": dict(tags or {}),
            "properties": {"clientId": client_id or generated_client,
                           "principalId": principal_id or generated_principal,
                           "tenantId": tenant_id},
        },
    )


def build_federated_credential(parent: Resource, name: str, *, issuer: str, subject: str,
                               audiences: list[str]) -> Resource:
    rid = f"{parent.id}/federatedIdentityCredentials/{name}"
    return Resource(
        id=rid, type=FEDERATED_CREDENTIAL, subscription=parent.subscription,
        resource_group=parent.resource_group, parent=parent.key,
        body={"id": rid, "name": name, "type": FEDERATED_CREDENTIAL,
              "properties": {"issuer": issuer, "subject": subject, "audiences": audiences}},
    )


def _put_identity(arm: Arm, ctx: PutContext) -> Response:
    from .arm import Response

    tenant = arm.state.tenant_of_subscription(ctx.target.subscription) or ""
    body = ctx.req.body
    keep = ctx.existing.props if ctx.existing else {}
    identity = build_identity(
        ctx.rid if ctx.existing is None else ctx.existing.id, tenant_id=tenant,
        location=str(body.get("location") or ctx.group.body["location"]), tags=body.get("tags"),
        client_id=keep.get("clientId"), principal_id=keep.get("principalId"))
    arm.state.put_resource(identity)
    return Response(200 if ctx.existing else 201, arm.state.render(identity))


def _put_federated_credential(arm: Arm, ctx: PutContext) -> Response:
    from .arm import ArmError, Response

    props = ctx.req.body.get("properties")
    props = props if isinstance(props, dict) else {}
    issuer, subject, audiences = props.get("issuer"), props.get("subject"), props.get("audiences")
    if not isinstance(issuer, str) or urlsplit(issuer).scheme != "https":
        raise ArmError(400, "BadRequest", "The issuer must be an https URL.")
    if not isinstance(subject, str) or not subject.strip():
        raise ArmError(400, "BadRequest", "The subject must not be empty.")
    if (not isinstance(audiences, list) or len(audiences) != 1
            or not all(isinstance(a, str) and a for a in audiences)):
        raise ArmError(400, "BadRequest", "Exactly one audience is allowed, e.g. "
                       f"'{TOKEN_EXCHANGE_AUDIENCE}'.")
    assert ctx.parent is not None
    siblings = [c for c in arm.state.children(ctx.parent.key, FEDERATED_CREDENTIAL)
                if c.key != ctx.rid.lower()]
    if ctx.existing is None and len(siblings) >= MAX_FEDERATED_CREDENTIALS:
        raise ArmError(400, "BadRequest", f"An identity has at most {MAX_FEDERATED_CREDENTIALS} "
                       "federated identity credentials.")
    for other in siblings:
        if (other.props["issuer"], other.props["subject"]) == (issuer, subject):
            raise ArmError(409, "Conflict", "A federated identity credential with the same "
                           f"issuer and subject already exists: '{other.body['name']}'.")
    credential = build_federated_credential(ctx.parent, ctx.rid.rsplit("/", 1)[-1],
                                            issuer=issuer, subject=subject, audiences=audiences)
    arm.state.put_resource(credential)
    return Response(200 if ctx.existing else 201, arm.state.render(credential))


def _put_paas(arm: Arm, ctx: PutContext) -> Response:
    from .arm import ArmError

    raise ArmError(400, "InvalidResourceType",
                   f"This simulator does not create '{ctx.target.rtype}' through ARM; the "
                   "customer creates one with POST /_simulator/customer/paas-resource.")


PUT_HANDLERS = {
    IDENTITY: _put_identity,
    FEDERATED_CREDENTIAL: _put_federated_credential,
    STORAGE_ACCOUNT: _put_paas,
    KEY_VAULT: _put_paas,
}


def find_identity(state: State, client_id: str, tenant_id: str) -> Resource | None:
    for resource in state.resources.values():
        if (resource.type == IDENTITY
                and resource.props.get("clientId", "").lower() == client_id.lower()
                and resource.props.get("tenantId", "").lower() == tenant_id.lower()):
            return resource
    return None


# ----- the token endpoint -------------------------------------------------------------------
def exchange(state: State, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
    """The client-assertion grant for a managed identity: None when ``client_id`` is no
    identity of ``tenant`` (the caller then treats it as an application), else Entra's answer.

    Like the rest of the simulator's Entra ID, the assertion's signature is not checked; its
    issuer, subject, audience and lifetime are, against the identity's federated credentials.
    """
    identity = find_identity(state, form.get("client_id", ""), tenant)
    if identity is None:
        return None
    assertion = form.get("client_assertion", "")
    claims = parse_token(assertion) if assertion else None
    if form.get("client_assertion_type") != JWT_BEARER or claims is None:
        return 400, _aad("invalid_client", 7000216,
                         "'client_assertion', 'client_secret' or 'request' is required for the "
                         "'client_credentials' grant type.")
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int | float) or exp < now or (isinstance(nbf, int | float) and nbf > now + 300):
        return 400, _aad("invalid_client", 700024,
                         "Client assertion is not within its valid time range.")
    iss, sub = str(claims.get("iss", "")), str(claims.get("sub", ""))
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    for credential in state.children(identity.key, FEDERATED_CREDENTIAL):
        props = credential.props
        if props["issuer"] == iss and props["subject"] == sub and any(
                a in props["audiences"] for a in audiences):
            scope = form.get("scope", "https://management.azure.com/.default").split()[0]
            token = mint_token(tenant_id=tenant, object_id=identity.props["principalId"],
                               app_id=identity.props["clientId"],
                               audience=scope.removesuffix("/.default"))
            return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                         "access_token": token}
    return 400, _aad("invalid_client", 70021,
                     "No matching federated identity record found for presented assertion. "
                     f"Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion "
                     f"Audience: '{','.join(str(a) for a in audiences)}'.")


def _aad(error: str, code: int, text: str) -> dict[str, Any]:
    return {"error": error, "error_description": f"AADSTS{code}: {text}",
            "error_codes": [code], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())}


# ----- seed and control ---------------------------------------------------------------------
def apply_seed(state: State, doc: dict[str, Any]) -> None:
    """``"managed_identities": [{"id": "<identity resource id>", "client_id"…, "principal_id"…,
    "federated_credentials": [{"name", "issuer", "subject", "audiences"…}]}]`` (the tenant is
    the subscription's; the resource group is created if missing)."""
    for spec in doc.get("managed_identities", []):
        info = parse_resource_id(spec["id"])
        tenant = state.tenant_of_subscription(info["subscription"]) if info else None
        if info is None or tenant is None:
            raise ValueError(f"managed identity {spec['id']} is not in a seeded subscription")
        group = state.ensure_resource_group(info["subscription"], info["resource_group"])
        identity = state.put_resource(build_identity(
            spec["id"], tenant_id=tenant, location=spec.get("location", group.body["location"]),
            client_id=spec.get("client_id"), principal_id=spec.get("principal_id")))
        for fic in spec.get("federated_credentials", []):
            state.put_resource(build_federated_credential(
                identity, fic["name"], issuer=fic["issuer"], subject=fic["subject"],
                audiences=list(fic.get("audiences") or [TOKEN_EXCHANGE_AUDIENCE])))


def assign_role_to_identity(state: State, *, scope: str, role: str, assignee_object_id: str,
                            assignee_principal_type: str = "ServicePrincipal") -> dict[str, Any]:
    """What ``az role assignment create --assignee-object-id <id> --assignee-principal-type
    ServicePrincipal --role <role> --scope <resource>`` does: subject to ``propagation_delay``;
    the scope must exist (ARM answers 404 otherwise) and the role must be known."""
    from .control import SimulatorError, SimulatorNotFound

    info = parse_resource_id(scope)
    tenant = state.tenant_of_subscription(info["subscription"]) if info else None
    if tenant is None:
        raise SimulatorNotFound(f"the scope's subscription does not exist: {scope}")
    if "/providers/" in scope.lower() and state.get(scope) is None:
        raise SimulatorNotFound(f"the scope does not exist: {scope}")
    role_def = state.role(role) or state.role_by_name(role, info["subscription"] if info else None)
    if role_def is None:
        raise SimulatorError(f"unknown role {role!r}")
    for existing in state.role_assignments.values():
        if (existing.principal_id.lower() == assignee_object_id.lower()
                and existing.role_guid == role_def.guid
                and normalize_scope(existing.scope).lower() == normalize_scope(scope).lower()):
            return existing.to_arm()  # az answers the existing assignment (RoleAssignmentExists)
    assignment = state.add_role_assignment(
        scope=scope, principal_id=assignee_object_id, role=role_def, tenant_id=tenant,
        principal_type=assignee_principal_type)
    return assignment.to_arm()


def _locked(control: Any, call: Any, **body: Any) -> Any:
    state: State = control._state  # the Control handle's state, under its lock
    with state.lock:
        state.advance()
        return call(state, **body)


def control_routes(route: Any) -> list[Any]:
    """The control API's routes for this module (``route`` is control_api.Route)."""
    return [
        route("POST", "/customer/assign-identity-role", "what az role assignment create "
              "--assignee-object-id <principal> --assignee-principal-type ServicePrincipal "
              "--role <role> --scope <resource> does (subject to propagation_delay)",
              lambda c, b, q: _locked(c, assign_role_to_identity, **b),
              body={"scope": ("string", True, "the resource id (a storage account, a key "
                              "vault, ...)"),
                    "role": ("string", True, "role name or id, e.g. Storage Blob Data Reader"),
                    "assignee_object_id": ("string", True, "the identity's principal id"),
                    "assignee_principal_type": ("string", False, "default ServicePrincipal")}),
    ]
