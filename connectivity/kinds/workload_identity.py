"""Workload identity grant: the customer assigns a built-in role on one of their own resources (a
storage account, a blob container, a key vault) to the cluster's workload identity, and the
portal verifies, signed in as that identity, that the permissions are effective.

Nothing is created in Azure by the platform, and the platform needs no role of the customer's:
the customer runs ``az role assignment create`` themselves (the request shows it), pre-flight
reads the permissions API as the identity (with the same patience as the peering grant while a
new assignment propagates), the one provisioning step only records that it was verified, the
health probe reads the permissions again (degraded when the assignment is gone), and removal
deletes nothing and tells the customer the ``az role assignment delete`` that takes it away.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from connectivity import validators
from connectivity.kinds.base import (
    Active,
    Kind,
    Outcome,
    PlannedResource,
    Reading,
    Removed,
    SpecField,
    SpecForm,
    api_text,
    form_text,
    gateway,
)
from connectivity.models import Cluster, ConnectionStatus, ConnectivityRequest, RequestKind
from connectivity.preflight import (
    PASS,
    Check,
    make_check,
    make_pending,
    retry_deadline,
    transient_deadline,
)

logger = logging.getLogger(__name__)
H = ConnectionStatus.Health

RESOURCE_LABEL = "Resource and role"
IDENTITY_LABEL = "Cluster has a workload identity"
EFFECTIVE_LABEL = "The role works for the cluster's identity"
#: The pre-flight check a new role assignment's propagation keeps pending (preflight.recheck_due
#: re-checks it with the same backoff and window as the peering grant).
EFFECTIVE_KEY = "identity_role_effective"

_STORAGE = "Microsoft.Storage/storageAccounts"
_CONTAINER = "Microsoft.Storage/storageAccounts/blobServices/containers"
_VAULT = "Microsoft.KeyVault/vaults"
_RESOURCE_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<resource_group>[^/]+)"
    r"/providers/(?P<namespace>[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)"
    r"(?:/(?P<service_type>[^/]+)/(?P<service>[^/]+)/(?P<child_type>[^/]+)/(?P<child>[^/]+))?/?$",
    re.IGNORECASE,
)
_STORAGE_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_VAULT_NAME = re.compile(r"^(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
_CONTAINER_NAME = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
RESOURCE_SHAPE = ("a resource id like /subscriptions/<subscription id>/resourceGroups/<group>/"
                  "providers/Microsoft.Storage/storageAccounts/<name>")


def _offered_types() -> str:
    return "a storage account, a blob container (…/blobServices/default/containers/<name>) or a key vault"


def parse_resource(value: Any, field: str = "Resource ID") -> str:
    """The resource a role is assigned on, in canonical casing: a storage account, one of its
    blob containers, or a key vault (the types the offered roles apply to)."""
    value = (value if isinstance(value, str) else "").strip()
    if not value:
        raise ValidationError(f"{field} is required: {RESOURCE_SHAPE}.", code="required")
    validators._reject_control_chars(value, field)
    if len(value) > 400:
        raise ValidationError(f"{field} must be at most 400 characters.", code="max_length")
    match = _RESOURCE_ID.match(value)
    if not match:
        raise ValidationError(f"{field} must be {RESOURCE_SHAPE}.", code="resource_id")
    subscription = validators.validate_guid(match["subscription"],
                                            f"The subscription in the {field}")
    try:
        group = validators.validate_resource_group(match["resource_group"])
    except ValidationError as exc:
        raise ValidationError(f"The resource group in the {field}: {' '.join(exc.messages)}",
                              code="resource_group") from None
    top = f"{match['namespace']}/{match['type']}".lower()
    child = (f"{match['service_type']}/{match['child_type']}".lower()
             if match["child_type"] else "")
    name = match["name"]
    if top == _STORAGE.lower() and not child:
        full, names = _STORAGE, None
    elif top == _STORAGE.lower() and child == "blobservices/containers":
        full, names = _CONTAINER, (match["service"], match["child"])
    elif top == _VAULT.lower() and not child:
        full, names = _VAULT, None
    else:
        shown = "/".join(p for p in (match["namespace"], match["type"], match["service_type"],
                                     match["child_type"]) if p)
        raise ValidationError(
            f"{field} must name {_offered_types()}, the resources the offered roles apply to; "
            f"{shown} is not one of them.", code="resource_type")
    if full == _VAULT:
        if not _VAULT_NAME.match(name):
            raise ValidationError(
                f"{field}: key vault names are 3-24 letters, digits and hyphens, starting with a "
                "letter, ending with a letter or digit, without two hyphens in a row.",
                code="resource_name")
        return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{_VAULT}/{name}"
    if not _STORAGE_NAME.match(name):
        raise ValidationError(
            f"{field}: storage account names are 3-24 lower-case letters and digits.",
            code="resource_name")
    account = (f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{_STORAGE}/"
               f"{name}")
    if names is None:
        return account
    service, container = names
    if service.lower() != "default":
        raise ValidationError(f"{field}: a storage account's blob service is always called "
                              f"default, not {service}.", code="resource_name")
    if not _CONTAINER_NAME.match(container):
        raise ValidationError(
            f"{field}: blob container names are 3-63 lower-case letters, digits and hyphens, "
            "starting and ending with a letter or digit, without two hyphens in a row.",
            code="resource_name")
    return f"{account}/blobServices/default/containers/{container}"


def _role_names() -> list[str]:
    from connectivity.azure import roles

    return [r.name for r in roles.IDENTITY_ROLES]


def validate_role(value: Any, field: str = "Role") -> str:
    """One of the offered built-in roles, by name (any case), in its canonical spelling."""
    from connectivity.azure import roles

    text = (value if isinstance(value, str) else "").strip()
    role = roles.identity_role(text) if text and len(text) <= 120 else None
    if role is None:
        raise ValidationError(f"{field} must be one of: {', '.join(_role_names())}.",
                              code="role")
    return role.name


def role_fit_errors(resource_id: str, role_name: str) -> dict[str, list[str]]:
    """The role must be one that applies to the resource's type."""
    from connectivity.azure import resource_ids, roles

    fitting = [r.name for r in roles.identity_roles_for(resource_id)]
    if role_name in fitting:
        return {}
    kind = resource_ids.parse(resource_id).type
    return {"role": [f"Role {role_name} does not apply to a {kind}; for it choose "
                     f"{' or '.join(fitting)}."]}


def _platform_scope_errors(resource_id: str) -> dict[str, list[str]]:
    from connectivity import scopes
    from connectivity.azure import resource_ids

    subscription = resource_ids.parse(resource_id).subscription_id.lower()
    if scopes.is_platform_subscription(subscription):
        return {"resource_id": ["Resource ID must name a resource of yours: this subscription "
                                "holds the platform's own resources."]}
    return {}


def _tenant_errors(resource_id: str) -> dict[str, list[str]]:
    """A managed identity is a service principal of the platform's tenant only: a resource in a
    subscription of another tenant cannot be granted to it (that tenant's role assignments
    cannot name it). ARM names a subscription's tenant to anyone who asks; when it cannot be
    asked now, or does not know the subscription, pre-flight tells later."""
    from connectivity.azure import errors, resource_ids

    subscription = resource_ids.parse(resource_id).subscription_id
    try:
        tenant = gateway().subscription_tenant(subscription_id=subscription)
    except errors.GatewayError:
        return {}
    platform = str(settings.AZURE_PLATFORM_TENANT_ID).lower()
    if not tenant or tenant.lower() == platform:
        return {}
    return {"resource_id": [
        f"Resource ID names a resource in subscription {subscription}, of tenant {tenant}; the "
        f"cluster's workload identity is a managed identity of the platform's tenant {platform}, "
        "and Azure lets a managed identity be granted roles only on resources in its own tenant. "
        f"This grant cannot work: choose a resource in a subscription of tenant {platform}, or "
        "reach this one through a Private Link endpoint."]}


# --- what the customer runs -------------------------------------------------------------------


def _role(request: ConnectivityRequest) -> Any:
    from connectivity.azure import roles

    return roles.identity_role(request.role)


def assignment_command(request: ConnectivityRequest) -> str:
    """The exact ``az role assignment create`` that authorizes the cluster's identity."""
    from connectivity.azure import roles

    cluster = request.cluster
    if not cluster.has_workload_identity:
        return ""
    return roles.identity_assignment_command(principal_id=cluster.workload_identity_principal_id,
                                             role_name=request.role, scope=request.resource_id)


def revoke_assignment_command(request: ConnectivityRequest) -> str:
    from connectivity.azure import roles

    cluster = request.cluster
    if not cluster.has_workload_identity:
        return ""
    return roles.identity_revoke_command(principal_id=cluster.workload_identity_principal_id,
                                         role_name=request.role, scope=request.resource_id)


def workload_identity(cluster: Cluster) -> Any:
    from connectivity.azure import gateway as gw

    return gw.WorkloadIdentity(
        resource_id=cluster.workload_identity_resource_id,
        client_id=cluster.workload_identity_client_id,
        principal_id=cluster.workload_identity_principal_id,
        tenant_id=cluster.workload_identity_tenant_id or settings.AZURE_PLATFORM_TENANT_ID)


def _missing(request: ConnectivityRequest) -> list[str]:
    """What the role should let the identity do at the resource and it may not (empty: works).
    Raises the gateway's errors."""
    role = _role(request)
    return list(gateway().missing_as_identity(
        scope=request.resource_id, identity=workload_identity(request.cluster),
        actions=role.actions, data_actions=role.data_actions))


# --- pre-flight -------------------------------------------------------------------------------


def _resource_check(request: ConnectivityRequest) -> Check:
    try:
        resource = parse_resource(request.resource_id)
        role = validate_role(request.role)
    except ValidationError as exc:
        return make_check("resource_valid", RESOURCE_LABEL, False, " ".join(exc.messages))
    problems = {**role_fit_errors(resource, role), **_platform_scope_errors(resource)}
    if problems:
        return make_check("resource_valid", RESOURCE_LABEL, False,
                          " ".join(m for messages in problems.values() for m in messages))
    return make_check("resource_valid", RESOURCE_LABEL, True,
                      f"{role} applies to {resource.rsplit('/', 1)[-1]}.")


def _identity_check(request: ConnectivityRequest) -> Check:
    cluster = request.cluster
    if cluster.has_workload_identity and cluster.workload_identity_client_id:
        return make_check("cluster_identity", IDENTITY_LABEL, True,
                          f"{cluster.name}'s workloads sign in as principal "
                          f"{cluster.workload_identity_principal_id}.")
    return make_check(
        "cluster_identity", IDENTITY_LABEL, False,
        f"{cluster.name} has no workload identity yet, so there is nothing to authorize; ask "
        "support to give it one, then run the checks again.")


def _effective_check(request: ConnectivityRequest) -> Check:
    """As the identity, read the permissions API at the resource. A new assignment may take a
    while to show (propagation): pending, re-checked by the portal, until the grant window ends."""
    from connectivity.azure import errors

    command = assignment_command(request)
    where = request.resource_id
    try:
        missing = _missing(request)
    except errors.TransientAzureError as exc:
        return make_pending(EFFECTIVE_KEY, EFFECTIVE_LABEL,
                            f"Azure did not answer ({exc.message}); checking again shortly.",
                            retry_until=transient_deadline(request, EFFECTIVE_KEY), transient=True)
    except errors.CustomerActionRequired as exc:
        if exc.reason == "identity_other_tenant":
            return make_check(
                EFFECTIVE_KEY, EFFECTIVE_LABEL, False,
                f"{exc.message} The cluster's identity cannot use a resource in your tenant: "
                "choose a resource in a subscription of that tenant, or talk to support.")
        return make_check(EFFECTIVE_KEY, EFFECTIVE_LABEL, False, exc.message)
    except errors.GatewayError as exc:
        return make_check(EFFECTIVE_KEY, EFFECTIVE_LABEL, False, exc.message)
    if not missing:
        return make_check(EFFECTIVE_KEY, EFFECTIVE_LABEL, True,
                          f"Signed in as {request.cluster.name}'s workload identity, the portal "
                          f"sees every permission of {request.role} on "
                          f"{where.rsplit('/', 1)[-1]}.")
    until = retry_deadline(request, EFFECTIVE_KEY, settings.GRANT_PROPAGATION_WINDOW)
    if timezone.now() < until:
        return make_pending(
            EFFECTIVE_KEY, EFFECTIVE_LABEL,
            f"The cluster's identity does not hold {', '.join(missing)} at {where} yet. Assign the "
            f"role with: {command} . A role assigned in the last minutes may still be propagating in "
            f"Azure (up to 30 minutes); the portal re-checks by itself until {until:%H:%M} UTC.",
            retry_until=until)
    return make_check(
        EFFECTIVE_KEY, EFFECTIVE_LABEL, False,
        f"The cluster's identity still does not hold {', '.join(missing)} at {where}. Assign "
        f"{request.role} to it at exactly this scope with: {command} , then run the checks "
        "again.")


def identity_checks(request: ConnectivityRequest) -> list[Check]:
    resource = _resource_check(request)
    identity = _identity_check(request)
    checks = [resource, identity]
    if resource["status"] != PASS or identity["status"] != PASS:
        blocker = RESOURCE_LABEL if resource["status"] != PASS else IDENTITY_LABEL
        return [*checks, make_pending(EFFECTIVE_KEY, EFFECTIVE_LABEL,
                                      f"Checked once the request can be verified (see: {blocker}).")]
    return [*checks, _effective_check(request)]


# --- steps ------------------------------------------------------------------------------------


def _step_verify(request: ConnectivityRequest) -> Outcome:
    """Nothing to create: read the permissions as the identity once more (the engine may have
    reused a pre-flight that passed seconds ago) and go active. Gone meanwhile: the customer
    must assign it again (action needed; the re-check resumes the request by itself)."""
    from connectivity import kinds
    from connectivity.azure.errors import CustomerActionRequired

    missing = _missing(request)
    if missing:
        # Stored as the request's pre-flight, so that the re-check follows the pending check
        # and resumes the request by itself once the assignment is back.
        checks, _ids = kinds.preflight(request)
        ConnectivityRequest.objects.filter(pk=request.pk).update(
            preflight=checks, preflight_ran_at=timezone.now())
        raise CustomerActionRequired(
            f"The cluster's workload identity no longer holds {', '.join(missing)} on "
            f"{request.resource_id}. Assign the role again with: {assignment_command(request)}",
            code="IdentityRoleMissing", reason="identity_role_missing")
    return Active(f"{request.cluster.name}'s workload identity holds {request.role} on "
                  f"{request.resource_id}, verified as the identity. Nothing was created in Azure.")


def _step_remove(request: ConnectivityRequest) -> Outcome:
    command = revoke_assignment_command(request)
    return Removed("Nothing to delete in Azure: the platform created nothing for this grant. "
                   "The role you assigned stays until you remove it"
                   + (f"; take it away with: {command}" if command else "."))


# --- the spec ---------------------------------------------------------------------------------


def _role_form(s: SpecField) -> Any:
    from django import forms

    choices = [("", "Choose a role"), *((n, n) for n in _role_names())]
    return forms.CharField(label=s.label, help_text=s.help_text, max_length=120,
                           widget=forms.Select(choices=choices))


SPEC = (
    SpecField("resource_id", "Resource ID",
              "Your storage account, blob container or key vault: the id from its JSON view in "
              "the Azure portal, e.g. /subscriptions/<id>/resourceGroups/<group>/providers/"
              "Microsoft.Storage/storageAccounts/<name>.",
              validate=parse_resource, form=form_text(400),
              api=api_text(400, "Workload identity: the resource id of your storage account, "
                                 "blob container or key vault.")),
    SpecField("role", "Built-in role",
              "What the cluster's workloads may do there: Storage Blob Data Reader or "
              "Contributor on storage, Key Vault Secrets User on a key vault.",
              validate=validate_role, form=_role_form,
              api=api_text(120, "Workload identity: the built-in role, one of Storage Blob "
                                 "Data Reader, Storage Blob Data Contributor, Key Vault "
                                 "Secrets User.")),
)


class IdentityFormBase(SpecForm):
    """The role must fit the resource's type (both fields valid on their own first)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        resource, role = data.get("resource_id"), data.get("role")
        if resource and role and not self.errors:
            for name, messages in role_fit_errors(resource, role).items():
                for message in messages:
                    self.add_error(name, message)
        return data


class WorkloadIdentityGrant(Kind):
    key = RequestKind.WORKLOAD_IDENTITY.value
    label = RequestKind.WORKLOAD_IDENTITY.label
    noun = "a workload identity grant"
    description = ("Let the cluster's workloads use one of your storage accounts or key vaults: "
                   "you assign a built-in role to the cluster's workload identity, the portal "
                   "verifies it works. No secret, and no role for the platform.")
    spec = SPEC
    form_base = IdentityFormBase
    needs_grant = False
    identity_fields = ("resource_id", "role")
    first_step = "verify"
    first_remove_step = "remove"
    steps = {"verify": _step_verify, "remove": _step_remove}
    resource_labels = {}  # nothing is created
    degraded_advice = ("Assign the role to the cluster's workload identity again (the command is "
                       "on the request page), then run the checks again.")

    def target(self, request: ConnectivityRequest) -> str:
        return f"{request.role} on {str(request.resource_id).rsplit('/', 1)[-1]}"

    def describe(self, request: ConnectivityRequest) -> str:
        return f"{self.label} {request.short_id} ({self.target(request)})"

    def clean(self, fields: dict[str, Any]) -> dict[str, Any]:
        cleaned = super().clean(fields)
        problems = role_fit_errors(cleaned["resource_id"], cleaned["role"])
        if problems:
            raise ValidationError(problems)
        return cleaned

    def create_errors(self, cleaned: dict[str, Any]) -> dict[str, list[str]]:
        return (_platform_scope_errors(cleaned["resource_id"])
                or _tenant_errors(cleaned["resource_id"]))

    def customer_command(self, request: ConnectivityRequest) -> str:
        """The ``az role assignment create`` to run; once removed, the delete that undoes it."""
        from connectivity.models import RequestState

        if request.state == RequestState.REMOVED:
            return revoke_assignment_command(request)
        return assignment_command(request)

    def checks(self, request: ConnectivityRequest) -> list[Check]:
        return identity_checks(request)

    def read_status(self, request: ConnectivityRequest) -> Reading | None:
        """As the identity, the permissions the role gives at the resource: all there is
        working; some missing means the assignment was removed (or changed)."""
        from connectivity.azure import errors

        name = str(request.resource_id).rsplit("/", 1)[-1]
        try:
            missing = _missing(request)
        except errors.CustomerActionRequired as exc:
            return Reading(H.DEGRADED, "Not verifiable", reason=exc.message,
                           parts=[{"label": "Role for the workload identity", "name": name,
                                   "state": "not verifiable"}])
        except errors.GatewayError as exc:
            logger.info("health check for %s postponed: %s", request.pk, exc.message)
            return None
        part = {"label": "Role for the workload identity", "name": name,
                "state": f"{request.role} {'missing' if missing else 'effective'}"}
        if missing:
            return Reading(
                H.DEGRADED, "Role missing", parts=[part],
                reason=(f"The cluster's workload identity no longer holds {', '.join(missing)} "
                        f"on {name}: the role assignment is gone. Assign it again with: "
                        f"{assignment_command(request)}"))
        return Reading(H.OK, f"{request.role} effective", parts=[part])

    def planned_resources(self, request: ConnectivityRequest) -> list[PlannedResource]:
        return []  # nothing: the customer assigns the role, the platform only verifies it

    def completed_message(self, request: ConnectivityRequest) -> str:
        return ("The platform needs no role of yours, so there is nothing to revoke for it. The "
                "role you assigned to the cluster's workload identity stays until you remove it"
                f" ({revoke_assignment_command(request)}).")
