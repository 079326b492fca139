"""Virtual WAN hub connection: a ``hubVirtualNetworkConnection`` on the customer's virtual hub
whose remote VNet is the cluster's, created with a temporary role the customer grants on their
hub (and proves control of with this request's proof, as for a peering).

On Azure a hub connection is a peering under the hood: the cluster VNet shows a peering
``RemoteVnetToHubPeering_<guid>`` towards the hub's Microsoft-managed VNet, ``Connected`` once
the connection has succeeded. The platform owns nothing of the connection: it lives on the
customer's hub, so every write (create, delete) needs the grant and this request's proof."""

from __future__ import annotations

import logging
import re
import shlex
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from connectivity import validators
from connectivity.azure import roles
from connectivity.kinds.base import (
    PLATFORM,
    Active,
    Kind,
    Next,
    Outcome,
    PlannedResource,
    Poll,
    Reading,
    Removed,
    SpecField,
    SpecForm,
    api_text,
    form_text,
    gateway,
    numbered,
    platform_tenant,
    progress,
    vnet_lock,
)
from connectivity.kinds.vnet_peering import APP_LABEL, SCOPE_LABEL, _app_check
from connectivity.models import ConnectionStatus, ConnectivityRequest, RequestKind
from connectivity.preflight import (
    PASS,
    Check,
    make_check,
    make_pending,
    overlaps_between,
    retry_deadline,
    role_granted_check,
    transient_deadline,
)

logger = logging.getLogger(__name__)
H = ConnectionStatus.Health

PROOF_LABEL = "Your organisation proved control of the virtual hub"
ROLE_LABEL = "Platform holds the role on your virtual hub"
HUB_LABEL = "Your virtual hub exists and is provisioned"
OVERLAP_LABEL = "Address spaces do not overlap"
ONE_HUB_LABEL = "The cluster VNet has no other hub connection"
ROUTES_LABEL = "The route tables exist on the hub"

#: Azure refuses these when the platform may not act on the hub: the grant is gone (revoked,
#: as it should be after activation), or the proof is missing.
_NO_GRANT_REASONS = frozenset({"permission_missing", "cross_tenant_not_authorized",
                               "app_not_in_tenant", "proof_missing"})


# --- names and ids ----------------------------------------------------------------------------


def hub_id(request: ConnectivityRequest) -> str:
    from connectivity.azure import resource_ids

    if not (request.subscription_id and request.resource_group and request.hub_name):
        return ""
    return resource_ids.virtual_hub_id(request.subscription_id, request.resource_group,
                                       request.hub_name)


def connection_name(request: ConnectivityRequest) -> str:
    """The connection's name on the hub: fixed per request, so a repeated PUT finds it."""
    cluster_vnet = request.cluster.vnet_id.rstrip("/").rsplit("/", 1)[-1]
    return f"cp-{request.short_id}-to-{cluster_vnet}"[:80]


def connection_id(request: ConnectivityRequest) -> str:
    return f"{hub_id(request)}/hubVirtualNetworkConnections/{connection_name(request)}"


def _customer_hub(request: ConnectivityRequest) -> Any:
    from connectivity.azure import roles

    return roles.CustomerHub(tenant_id=request.tenant_id, subscription_id=request.subscription_id,
                             resource_group=request.resource_group, hub_name=request.hub_name)


def delete_command(request: ConnectivityRequest) -> str:
    """What the customer runs to delete the connection on their hub themselves."""
    q = shlex.quote
    return (f"az network vhub connection delete --subscription {q(request.subscription_id)} "
            f"--resource-group {q(request.resource_group)} --vhub-name {q(request.hub_name)} "
            f"--name {q(connection_name(request))} --yes")


def revoke_command(request: ConnectivityRequest) -> str:
    """The exact ``az role assignment delete`` the customer runs once the connection works."""
    from connectivity.azure import roles

    commands = roles.revoke_commands(_customer_hub(request), app_id=settings.AZURE_CLIENT_ID)
    return next(c for c in commands if c.startswith("az role assignment delete"))


# --- proof of control on the hub (connectivity/proof.py, at the hub instead of a VNet) ---------


def _proof_commands(request: ConnectivityRequest) -> tuple[str, str]:
    from connectivity.azure import roles

    hub = _customer_hub(request)
    app_id = settings.AZURE_CLIENT_ID
    create = roles.grant_commands(hub, app_id=app_id, proof=request.proof)[-1]
    update = roles.proof_update_command(hub, app_id=app_id, proof=request.proof)
    return create, update


def proof_inspect(request: ConnectivityRequest) -> tuple[str, str]:
    """``(outcome, message)`` as ``proof.inspect`` answers for a VNet: whether a role assignment
    of the platform at the hub (or above it) carries this request's proof. Reads only role
    assignments, never the hub, so it reveals nothing about the hub before control is proved."""
    from connectivity import proof
    from connectivity.azure import errors, roles

    scope = hub_id(request)
    create, update = _proof_commands(request)
    try:
        assignments = gateway().role_assignments_for_platform(scope=scope,
                                                              tenant_id=request.tenant_id)
    except errors.TransientAzureError as exc:
        return "transient", f"Azure did not answer ({exc.message}); checking again shortly."
    except errors.CustomerActionRequired as exc:
        if exc.reason not in proof._NOT_VISIBLE_REASONS:
            return "missing", exc.message
        return "not_visible", (
            f"The platform (application {settings.AZURE_CLIENT_ID}) cannot read its role "
            f"assignments at {scope}. Assign the hub role from this request's role.json (it "
            f"includes {roles.PROOF_READ_ACTION}) at exactly this hub, with this request's "
            f"proof in the description: {create}.")
    except errors.GatewayError as exc:
        return "missing", exc.message
    if any(roles.description_carries(a.description, request.proof) for a in assignments):
        return "proved", (f"The platform's role assignment at {request.hub_name} carries this "
                          f"request's proof ({request.proof}).")
    return "missing", (
        f"No role assignment of the platform at {scope} carries this request's proof of control "
        f"({request.proof}). Add it to the description of the platform's assignment on the hub: "
        f"{update} (or, if you have not assigned the role yet: {create}), then verify again.")


def _require_control(request: ConnectivityRequest) -> None:
    """Before every write on the customer's hub: this request's proof must still be in the
    grant (a pre-flight that proved it seconds ago covers the provisioning writes right after
    it, as for a peering). Missing raises ``CustomerActionRequired``, so nothing is written."""
    from connectivity import proof
    from connectivity.azure.errors import CustomerActionRequired, TransientAzureError

    if proof._just_proved(request):
        return
    outcome, message = proof_inspect(request)
    if outcome == "proved":
        return
    if outcome == "transient":
        raise TransientAzureError(message, code="ProofCheckPending", reason="proof_pending")
    raise CustomerActionRequired(f"Proof of control: {message}", code="ProofOfControlMissing",
                                 reason="proof_missing")


# --- pre-flight -------------------------------------------------------------------------------


def _scope_check(request: ConnectivityRequest) -> Check:
    """Also refused at create; checked again because clusters are added after requests."""
    from connectivity import scopes

    problems = scopes.platform_scope_errors(tenant_id=request.tenant_id,
                                            subscription_id=request.subscription_id, vnet_id="")
    return make_check("not_platform_scope", SCOPE_LABEL, not problems,
                      "The hub is outside the platform's tenant and subscriptions." if not problems
                      else " ".join(m for messages in problems.values() for m in messages))


def _control_check(request: ConnectivityRequest) -> Check:
    outcome, message = proof_inspect(request)
    if outcome == "proved":
        return make_check("control_proved", PROOF_LABEL, True, message)
    if outcome == "transient":
        return make_pending("control_proved", PROOF_LABEL, message,
                            retry_until=transient_deadline(request, "control_proved"),
                            transient=True)
    if outcome == "not_visible":
        until = retry_deadline(request, "control_proved", settings.GRANT_PROPAGATION_WINDOW)
        if timezone.now() < until:
            return make_pending(
                "control_proved", PROOF_LABEL,
                f"{message} A role assigned in the last minutes may still be propagating in "
                f"Azure (up to 30 minutes); the portal re-checks by itself until {until:%H:%M} "
                "UTC.", retry_until=until)
    return make_check("control_proved", PROOF_LABEL, False, message)


def _role_check(request: ConnectivityRequest) -> Check:
    from connectivity.azure import roles

    return role_granted_check(
        request, label=ROLE_LABEL, scope=hub_id(request), required=roles.hub_required_actions(),
        role="the hub role", on=request.hub_name, update_from="this request's role.json",
        assign_hint="Assign the hub role to the application at exactly this hub, then verify "
                    "again.")


def _connected_vnet_overlaps(request: ConnectivityRequest, hub: Any,
                             cluster_prefixes: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Overlaps of the cluster VNet with the VNets already connected to the hub, and the
    connected VNets the platform may not read (Azure checks those itself when the connection is
    created: ``VnetAddressSpaceOverlapsWithAlreadyPeeredVnet``)."""
    from connectivity.azure.errors import CustomerActionRequired

    gw = gateway()
    cluster_id = request.cluster.vnet_id.lower()
    found: list[str] = []
    unread: list[str] = []
    for connection in hub.connections:
        remote = connection.remote_vnet_id
        if not remote or remote.lower() == cluster_id:
            continue
        name = remote.rstrip("/").rsplit("/", 1)[-1]
        try:
            vnet = gw.vnet_get(vnet_id=remote, tenant_id=request.tenant_id)
        except CustomerActionRequired:
            unread.append(name)
            continue
        found += [f"{request.cluster.name}'s VNet with {name}, already connected to "
                  f"{request.hub_name}: {o}"
                  for o in overlaps_between(cluster_prefixes, vnet.address_prefixes)]
    return found, unread


def hub_checks(request: ConnectivityRequest) -> list[Check]:
    """Scope, application, proof, role first (nothing reads the hub before control is proved),
    then the hub itself: provisioned, no overlap, one hub per cluster VNet, the route tables."""
    from connectivity.azure import errors

    dependent = [("hub_ready", HUB_LABEL), ("address_space", OVERLAP_LABEL),
                 ("one_hub", ONE_HUB_LABEL), ("route_tables", ROUTES_LABEL)]
    scope = _scope_check(request)
    if scope["status"] != PASS:
        return [scope] + [make_pending(key, label, "Checked once the request targets your own "
                                       f"hub (see: {SCOPE_LABEL}).")
                          for key, label in [("control_proved", PROOF_LABEL),
                                             ("role_granted", ROLE_LABEL), *dependent]]
    app = _app_check(request)
    if app["status"] != PASS:
        return [scope, app] + [make_pending(key, label, "Checked once the platform's "
                                            f"application is in your tenant (see: {APP_LABEL}).")
                               for key, label in [("control_proved", PROOF_LABEL),
                                                  ("role_granted", ROLE_LABEL), *dependent]]
    control = _control_check(request)
    if control["status"] != PASS:
        return [scope, app, control] + [
            make_pending(key, label, f"Checked once your organisation proved control of "
                                     f"{request.hub_name} (see: {PROOF_LABEL}).")
            for key, label in [("role_granted", ROLE_LABEL), *dependent]]
    role = _role_check(request)
    checks = [scope, app, control, role]
    if role["status"] != PASS:
        return checks + [make_pending(key, label, f"Checked once the platform can read "
                                      f"{request.hub_name} (see: {ROLE_LABEL}).")
                         for key, label in dependent]
    gw = gateway()
    cluster = request.cluster
    try:
        hub = gw.virtual_hub_get(hub_id=hub_id(request), tenant_id=request.tenant_id)
        cluster_vnet = gw.vnet_get(vnet_id=cluster.vnet_id, tenant_id=platform_tenant())
        overlaps, unread = _connected_vnet_overlaps(request, hub, cluster_vnet.address_prefixes)
    except errors.TransientAzureError as exc:
        until = transient_deadline(request, "hub_ready")
        return checks + [make_pending(key, label, f"Azure did not answer ({exc.message}); "
                                      "checking again shortly.", retry_until=until,
                                      transient=True)
                         for key, label in dependent]
    except errors.GatewayError as exc:
        return checks + [make_check("hub_ready", HUB_LABEL, False, exc.message)] + [
            make_pending(key, label, "Checked once the hub can be read.")
            for key, label in dependent[1:]]
    checks.append(make_check(
        "hub_ready", HUB_LABEL, hub.provisioned,
        f"{hub.name} ({hub.address_prefix}) in {hub.location or 'its region'} is provisioned."
        if hub.provisioned else
        f"{hub.name} is not ready for connections yet (provisioning {hub.provisioning_state}, "
        f"routing {hub.routing_state or 'unknown'}). Wait until its routing state is "
        "Provisioned, then verify again."))

    problems = [f"{hub.name}'s address prefix with {cluster.name}'s VNet: {o}"
                for o in overlaps_between([hub.address_prefix], cluster_vnet.address_prefixes)]
    problems += overlaps
    message = (f"{', '.join(cluster_vnet.address_prefixes)} overlaps neither {hub.name} "
               f"({hub.address_prefix}) nor the VNets connected to it.")
    if unread:
        message += (f" The platform may not read {', '.join(unread)} (connected to the hub); "
                    "Azure refuses the connection if one of them overlaps.")
    checks.append(make_check(
        "address_space", OVERLAP_LABEL, not problems, message if not problems else
        "Azure cannot connect overlapping networks. Overlaps " + "; ".join(problems) + "."))

    ours = connection_name(request).lower()
    cluster_id = cluster.vnet_id.lower()
    on_this_hub = [c for c in hub.connections if c.remote_vnet_id.lower() == cluster_id]
    others = [c.name for c in on_this_hub if c.name.lower() != ours]
    hub_peering = gw.hub_peering(cluster_vnet)
    if others:
        conflict = (f"{cluster.name}'s VNet is already connected to {hub.name} "
                    f"({', '.join(others)}). Use that connection, or delete it first.")
    elif hub_peering is not None and not on_this_hub:
        conflict = (f"{cluster.name}'s VNet is already connected to another virtual hub "
                    f"({hub_peering.name}); a VNet can be connected to one hub only.")
    else:
        conflict = ""
    checks.append(make_check("one_hub", ONE_HUB_LABEL, not conflict,
                             conflict or f"{cluster.name}'s VNet has no other hub connection."))

    wanted = [t for t in [request.associated_route_table, *request.propagated_route_tables] if t]
    absent = [t for t in dict.fromkeys(wanted) if hub.route_table(t) is None]
    have = ", ".join(t.name for t in hub.route_tables) or "none"
    checks.append(make_check(
        "route_tables", ROUTES_LABEL, not absent,
        (f"{', '.join(dict.fromkeys(wanted))} on {hub.name}." if wanted else
         "The connection uses the hub's defaultRouteTable (associated and propagated).")
        if not absent else
        f"{hub.name} has no route table {', '.join(absent)} (it has {have}). Name one of the "
        "hub's route tables, or leave the field empty for defaultRouteTable."))
    return checks


# --- steps ------------------------------------------------------------------------------------


def _step_connection(request: ConnectivityRequest) -> Outcome:
    """Start creating the connection and return at once; ``wait_connected`` reads it later. A
    re-run reads first and leaves a connection that is there or still being created alone."""
    gw = gateway()
    cluster = request.cluster
    _require_control(request)
    name = connection_name(request)
    if request.azure_resources.get("hub_connection_id"):
        existing = gw.hub_connection_get(hub_id=hub_id(request), name=name,
                                         tenant_id=request.tenant_id)
        if existing is not None and progress(existing.provisioning_state) != "failed":
            return Next("wait_connected", f"Connection {name} on {request.hub_name}: "
                        f"{existing.provisioning_state}.", {"hub_connection_id": existing.id})
    with vnet_lock(cluster.vnet_id, request):
        connection = gw.hub_connection_create(
            hub_id=hub_id(request), name=name, remote_vnet_id=cluster.vnet_id,
            tenant_id=request.tenant_id, remote_tenant_id=platform_tenant(),
            associated_route_table=request.associated_route_table or None,
            propagated_route_tables=list(request.propagated_route_tables) or None,
            wait=False)
    again = bool(request.azure_resources.get("hub_connection_id"))
    return Next("wait_connected", numbered(
                request, f"Started connection {name} on {request.hub_name} to "
                f"{cluster.name}'s VNet: {connection.provisioning_state}.", again=again),
                {"hub_connection_id": connection.id})


def _step_wait_connected(request: ConnectivityRequest) -> Outcome:
    """Active once the connection reports Succeeded and the cluster VNet's peering towards the
    hub reads Connected; a connection gone or failed is started again; else polled later."""
    gw = gateway()
    cluster = request.cluster
    name = connection_name(request)
    connection = gw.hub_connection_get(hub_id=hub_id(request), name=name,
                                       tenant_id=request.tenant_id)
    if connection is None:
        return Next("hub_connection", numbered(
            request, f"The connection {name} on {request.hub_name} is missing; creating it again."))
    state = progress(connection.provisioning_state)
    if state == "failed":
        return Next("hub_connection", numbered(request, f"Azure reports the connection {name} "
                    f"{connection.provisioning_state}; creating it again."))
    if state == "running":
        return Poll(f"Azure is creating the connection {name} on {request.hub_name} "
                    f"({connection.provisioning_state}); this takes minutes.")
    peering = gw.hub_peering(gw.vnet_get(vnet_id=cluster.vnet_id, tenant_id=platform_tenant()))
    if peering is not None and peering.connected:
        return Active(f"The connection {name} on {request.hub_name} reports Succeeded and "
                      f"{cluster.name}'s VNet reports {peering.name} Connected.",
                      {"hub_connection_id": connection.id, "cluster_hub_peering_id": peering.id})
    return Poll(f"The connection {name} reports Succeeded; waiting for {cluster.name}'s VNet to "
                f"report its peering to the hub Connected "
                f"({peering.peering_state if peering is not None else 'not there yet'}).")


def _step_remove_connection(request: ConnectivityRequest) -> Outcome:
    """Delete the connection on the customer's hub (with this request's proof), and return at
    once. Without the grant the platform cannot: the connection is the customer's, so the
    removal stops with the command that deletes it (a retry then sees it gone)."""
    from connectivity.azure.errors import CustomerActionRequired

    gw = gateway()
    cluster = request.cluster
    name = connection_name(request)
    try:
        _require_control(request)
        with vnet_lock(cluster.vnet_id, request):
            gone = gw.hub_connection_delete(hub_id=hub_id(request), name=name,
                                            tenant_id=request.tenant_id, wait=False)
    except CustomerActionRequired as exc:
        if exc.reason not in _NO_GRANT_REASONS:
            raise
        vnet = gw.vnet_get(vnet_id=cluster.vnet_id, tenant_id=platform_tenant())
        if gw.hub_peering(vnet) is None:
            return Removed(f"The connection {name} on {request.hub_name} is gone; "
                           f"{cluster.name}'s VNet is no longer connected to the hub.")
        raise CustomerActionRequired(
            f"The platform no longer holds its role on {request.hub_name}, so it cannot delete "
            f"the connection {name} there. Delete it yourself with: {delete_command(request)} "
            "(or grant the role again from the grant page), then retry the removal.",
            code="HubConnectionLeft", reason="permission_missing") from exc
    return Next("remove_wait", f"Deleting {name} on {request.hub_name}." if gone else
                f"{name} on {request.hub_name} was already gone.")


def _step_remove_wait(request: ConnectivityRequest) -> Outcome:
    """Removed once the connection no longer reads back and the cluster VNet's peering towards
    the hub is gone with it (read on the cluster VNet when the grant went meanwhile)."""
    from connectivity.azure.errors import CustomerActionRequired

    gw = gateway()
    cluster = request.cluster
    name = connection_name(request)
    try:
        still = gw.hub_connection_get(hub_id=hub_id(request), name=name,
                                      tenant_id=request.tenant_id)
    except CustomerActionRequired:
        still = None  # the role went meanwhile, as it should: the cluster VNet tells
    if still is not None:
        return Poll(f"Waiting for Azure to delete {name} on {request.hub_name} "
                    f"({still.provisioning_state}).")
    vnet = gw.vnet_get(vnet_id=cluster.vnet_id, tenant_id=platform_tenant())
    if gw.hub_peering(vnet) is not None:
        return Poll(f"Waiting for {cluster.name}'s VNet to drop its peering to the hub.")
    return Removed(f"Deleted {name} on {request.hub_name}; {cluster.name}'s VNet is no longer "
                   "connected to the hub.")


# --- health -----------------------------------------------------------------------------------


def read_status(request: ConnectivityRequest) -> Reading | None:
    """The connection's provisioningState on the hub (while the platform may read it; after
    revocation the cluster VNet speaks for both) and the cluster VNet's peering to the hub."""
    from connectivity.azure.errors import CustomerActionRequired, GatewayError

    gw = gateway()
    cluster = request.cluster
    name = connection_name(request)
    try:
        vnet = gw.vnet_get(vnet_id=cluster.vnet_id, tenant_id=platform_tenant())
    except GatewayError as exc:
        logger.info("health check for %s postponed: %s", request.pk, exc.message)
        return None
    peering = gw.hub_peering(vnet)
    connection_state = "unknown"
    try:
        connection = gw.hub_connection_get(hub_id=hub_id(request), name=name,
                                           tenant_id=request.tenant_id)
        connection_state = connection.provisioning_state if connection is not None else "missing"
    except CustomerActionRequired:
        pass  # no role any more: the cluster VNet's peering speaks for the connection
    except GatewayError as exc:
        logger.info("health check for %s postponed: %s", request.pk, exc.message)
        return None
    peering_state = peering.peering_state if peering is not None else "missing"
    labels = HubConnection.resource_labels
    parts = [
        {"label": labels["hub_connection_id"], "name": name, "state": connection_state},
        {"label": labels["cluster_hub_peering_id"],
         "name": peering.name if peering is not None else "", "state": peering_state},
    ]
    prefixes = list(peering.remote_address_prefixes) if peering is not None else []
    states = f"connection {connection_state}, {cluster.name}'s peering to the hub {peering_state}"
    connection_ok = connection_state.lower() in ("succeeded", "unknown")
    if not connection_ok or peering is None or not peering.connected:
        return Reading(H.DEGRADED, f"{connection_state} / {peering_state}", parts=parts,
                       address_prefixes=prefixes,
                       reason=f"Azure reports the hub connection is no longer working ({states}).")
    return Reading(H.OK, f"Succeeded, {peering_state}", parts=parts, address_prefixes=prefixes)


# --- the spec ---------------------------------------------------------------------------------


def _api_tables(s: SpecField) -> Any:
    from rest_framework import serializers

    return serializers.ListField(
        child=serializers.CharField(max_length=400), required=False,
        max_length=validators.MAX_ROUTE_TABLES,
        help_text="Hub connection: names of the hub's route tables to propagate to (default: "
                  "defaultRouteTable).")


def _split_tables(value: Any) -> list[str]:
    return [part for part in re.split(r"[\s,]+", str(value or "")) if part]


def _associated(value: Any) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise ValidationError("Associated route table must be a route table name.")
    return validators.validate_route_table_name(value, "Associated route table")


def _propagated(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    return validators.validate_route_table_names(value, "Propagated route tables")


SPEC = (
    SpecField("tenant_id", "Tenant ID", "Your Microsoft Entra tenant (Directory) ID, a GUID.",
              validate=lambda v: validators.validate_guid(v, "Tenant ID"), form=form_text(60),
              api=api_text(64, "Your Entra tenant id (GUID).")),
    SpecField("hub_resource_id", "Virtual hub resource ID",
              "Optional: paste the full ID from the hub's JSON view in the Azure portal and the "
              "three fields below are filled from it.", form=form_text(400, required=False),
              form_only=True),
    SpecField("subscription_id", "Subscription ID", "The subscription that holds your hub, a GUID.",
              validate=lambda v: validators.validate_guid(v, "Subscription ID"),
              form=form_text(60, required=False),
              api=api_text(64, "The subscription id (GUID).")),
    SpecField("resource_group", "Resource group", validate=validators.validate_resource_group,
              form=form_text(120, required=False), api=api_text(90)),
    SpecField("hub_name", "Virtual hub name", validate=validators.validate_hub_name,
              form=form_text(80, required=False), api=api_text(80, "Hub connection: the hub's name.")),
    SpecField("hub_id", "Virtual hub resource ID", api_only=True,
              api=api_text(400, "Hub connection: the hub's full resource id, instead of "
                                 "subscription_id, resource_group and hub_name.")),
    SpecField("associated_route_table", "Associated route table",
              "Optional: the hub route table the connection is associated with (default: "
              "defaultRouteTable).", validate=_associated, default="",
              form=form_text(400, required=False),
              api=api_text(400, "Hub connection: route table name to associate (default: "
                                "defaultRouteTable).")),
    SpecField("propagated_route_tables", "Propagated route tables",
              "Optional: hub route tables the connection propagates its routes to, separated by "
              "commas (default: defaultRouteTable).", validate=_propagated, default=list,
              form=form_text(400, required=False), parse_form=_split_tables, api=_api_tables),
)


class HubFormBase(SpecForm):
    """The hub may be given as its full resource id instead of its three parts."""

    PARTS = ("subscription_id", "resource_group", "hub_name")

    def clean_hub_resource_id(self) -> str:
        value = (self.cleaned_data.get("hub_resource_id") or "").strip()
        if value:
            ref = validators.parse_virtual_hub(value, "Virtual hub resource ID")
            if ref.subscription_id is None:
                raise ValidationError("Virtual hub resource ID: paste the full id, starting "
                                      "with /subscriptions/ (or fill in the fields below).")
            self._parsed = ref
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        parsed = getattr(self, "_parsed", None)
        if parsed is not None:
            data.update(subscription_id=parsed.subscription_id,
                        resource_group=parsed.resource_group, hub_name=parsed.hub_name)
            for name in self.PARTS:
                self.errors.pop(name, None)
        elif not self.errors.get("hub_resource_id"):
            for name in self.PARTS:
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, f"{self.fields[name].label} is required "
                                         "(or paste the virtual hub resource ID).")
        return data


# --- the kind ---------------------------------------------------------------------------------


class HubConnection(Kind):
    key = RequestKind.HUB_CONNECTION.value
    label = RequestKind.HUB_CONNECTION.label
    noun = "a Virtual WAN hub connection"
    description = ("Connect the cluster's VNet to your Virtual WAN hub. You grant the platform a "
                   "temporary role on the hub.")
    spec = SPEC
    form_base = HubFormBase
    needs_grant = True
    identity_fields = ("subscription_id", "resource_group", "hub_name")
    first_step = "hub_connection"
    first_remove_step = "remove_hub_connection"
    steps = {
        "hub_connection": _step_connection,
        "wait_connected": _step_wait_connected,
        "remove_hub_connection": _step_remove_connection,
        "remove_wait": _step_remove_wait,
    }
    resource_labels = {
        "hub_connection_id": "Connection on your virtual hub",
        "cluster_hub_peering_id": "The cluster VNet's peering to the hub",
    }
    grant_why_template = "connectivity/kinds/hub_connection/grant_why.html"
    grant_checks_summary = ("the proof and the role, your virtual hub (provisioned), overlapping "
                            "address spaces (the hub's and its connected VNets'), other hub "
                            "connections of the cluster's VNet and the route tables you named")
    grant_target_kind = roles.HUB_TARGET
    degraded_advice = ("If the connection was deleted, grant the hub role again and verify: the "
                       "portal re-creates it.")

    def target(self, request: ConnectivityRequest) -> str:
        return request.hub_name

    def api_input(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """``hub_id`` instead of its three parts."""
        if attrs.get("hub_id"):
            given = [n for n in ("subscription_id", "resource_group", "hub_name") if attrs.get(n)]
            if given:
                raise ValidationError({"hub_id": [
                    "Give either hub_id or subscription_id, resource_group and hub_name, "
                    "not both."]})
            try:
                ref = validators.parse_virtual_hub(attrs["hub_id"], "hub_id")
            except ValidationError as exc:
                raise ValidationError({"hub_id": exc.messages}) from None
            if ref.subscription_id is None:
                raise ValidationError({"hub_id": [
                    "hub_id: give the hub's full resource id (/subscriptions/<id>/"
                    "resourceGroups/<group>/providers/Microsoft.Network/virtualHubs/<name>), or "
                    "its name as hub_name."]})
            attrs.update(subscription_id=ref.subscription_id, resource_group=ref.resource_group,
                         hub_name=ref.hub_name)
        attrs.pop("hub_id", None)
        return attrs

    def create_errors(self, cleaned: dict[str, Any]) -> dict[str, list[str]]:
        from connectivity import scopes

        return scopes.platform_scope_errors(tenant_id=cleaned["tenant_id"],
                                            subscription_id=cleaned["subscription_id"], vnet_id="")

    def form_initial(self, request: ConnectivityRequest) -> dict[str, Any]:
        initial = super().form_initial(request)
        initial["propagated_route_tables"] = ", ".join(request.propagated_route_tables or [])
        return initial

    def describe(self, request: ConnectivityRequest) -> str:
        return f"Hub connection to {request.hub_name} ({request.short_id})"

    # --- grant ---
    def role_actions(self) -> list[str]:
        from connectivity.azure import roles

        return roles.hub_required_actions()

    def grant_scope(self, request: ConnectivityRequest) -> str:
        return hub_id(request)

    def grant_tenant(self, request: ConnectivityRequest) -> str:
        return request.tenant_id

    def grant_instructions(self, request: ConnectivityRequest) -> Any:
        from connectivity.azure import roles

        return roles.instructions(_customer_hub(request), app_id=settings.AZURE_CLIENT_ID,
                                      proof=request.proof)

    def grant_formats(self, request: ConnectivityRequest, *, role_name: str | None = None) -> Any:
        from connectivity.azure import grant_formats

        return grant_formats.formats(_customer_hub(request), app_id=settings.AZURE_CLIENT_ID,
                                     proof=request.proof, role_name=role_name)

    def revoke_command(self, request: ConnectivityRequest) -> str:
        return revoke_command(request)

    def role_gone_message(self, request: ConnectivityRequest) -> str:
        return f"The platform's role on {request.hub_name} is gone."

    def grant_gone_message(self, request: ConnectivityRequest) -> str:
        return (f"The platform's role on {request.hub_name} is gone; the hub connection keeps "
                "working without it.")

    def revoke_reminder_message(self, request: ConnectivityRequest) -> str:
        return (f"the platform still holds its role on {request.hub_name}. Remove it with: "
                f"{revoke_command(request)}")

    # --- pre-flight, health, resources ---
    def checks(self, request: ConnectivityRequest) -> list[Check]:
        return hub_checks(request)

    def read_status(self, request: ConnectivityRequest) -> Reading | None:
        return read_status(request)

    def planned_resources(self, request: ConnectivityRequest) -> list[PlannedResource]:
        """The connection on the customer's hub, and the peering Azure shows for it on the
        cluster's VNet (Azure's, created and deleted with the connection)."""
        from connectivity.azure import gateway as gw

        associated = request.associated_route_table or gw.DEFAULT_ROUTE_TABLE
        propagated = ", ".join(request.propagated_route_tables or [gw.DEFAULT_ROUTE_TABLE])
        cluster = request.cluster
        return [
            PlannedResource(
                f"Hub connection {connection_name(request)} on {request.hub_name} → "
                f"{cluster.name}'s VNet (associated with {associated}, propagating to "
                f"{propagated})", connection_id(request),
                f"customer subscription {request.subscription_id}, with the role they granted"),
            PlannedResource(
                f"{cluster.name}'s VNet's peering to the hub (Azure creates and deletes it with "
                "the connection)",
                f"{cluster.vnet_id}/virtualNetworkPeerings/{gw.HUB_PEERING_PREFIX}…", PLATFORM),
        ]
