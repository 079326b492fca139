"""After active: a request's connection, its grant left behind, and its resources' labels.

- The revoke reminder: a peering whose grant pre-flight once saw keeps the reminder in every
  end state (active, completed, removed, cancelled, rejected, failed) until the revoke check
  reads the platform's permissions on the customer's VNet and finds them gone
  (``grant_revoked_at``).
- The connection: what the periodic health check last read in Azure (``ConnectionStatus``),
  per kind in one small probe function, so pages show Azure's own status without calling it.
- Resource labels: one map from the keys of ``azure_resources`` to what a person reads.

Kind-specific parts are one function per kind (``PROBES``, ``RESOURCE_LABELS``) so that they
move into ``connectivity/kinds/`` as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from connectivity.models import (
    Cluster,
    ConnectionStatus,
    ConnectivityRequest,
    RequestKind,
    RequestState,
)

logger = logging.getLogger(__name__)
S = RequestState
K = RequestKind
H = ConnectionStatus.Health

# --- the grant left behind ----------------------------------------------------------------------

# End states (and active) in which the customer's grant may still exist and nobody needs it.
GRANT_LEFT_STATES = frozenset({S.ACTIVE, S.COMPLETED, S.REMOVED, S.CANCELLED, S.REJECTED,
                               S.FAILED})


def grant_may_remain(request: ConnectivityRequest) -> bool:
    """The customer still holds a role for the platform that they should remove now."""
    # An active peering was provisioned with the grant, so it was seen even on rows from
    # before grant_seen_at existed.
    seen = request.grant_seen_at is not None or request.state == S.ACTIVE
    return (request.needs_grant and request.grant_revoked_at is None and seen
            and request.state in GRANT_LEFT_STATES)


def note_grant_seen(request: ConnectivityRequest, checks: Iterable[Mapping[str, Any]]) -> None:
    """Pre-flight saw the platform's role: from now on the reminder follows the request."""
    if request.grant_seen_at is not None or not request.needs_grant:
        return
    if any(c.get("key") == "role_granted" and c.get("status") == "pass" for c in checks):
        request.grant_seen_at = timezone.now()
        ConnectivityRequest.objects.filter(pk=request.pk, grant_seen_at__isnull=True).update(
            grant_seen_at=request.grant_seen_at)


def revoke_reason(request: ConnectivityRequest) -> str:
    """Why the role is no longer needed, in the words of the request's state."""
    reasons: dict[str, str] = {
        S.ACTIVE: "The peering is in place and keeps working without the role you granted.",
        S.COMPLETED: "The peering is in place and keeps working without the role you granted.",
        S.REMOVED: "The connection is removed, but the role you granted is still assigned.",
        S.CANCELLED: "The request is cancelled, but the role you granted is still assigned.",
        S.REJECTED: "The request was rejected, but the role you granted is still assigned.",
        S.FAILED: "The request failed; until it is retried the platform needs no role.",
    }
    return reasons.get(request.state, "The platform needs the role no longer.")


def cancel_confirmation(request: ConnectivityRequest) -> str:
    if request.needs_grant and request.grant_seen_at and not request.grant_revoked_at:
        return ("Cancel this request? Nothing has been created in Azure, but the platform's role "
                "on your VNet stays until you revoke it: the request page then shows the command.")
    return "Cancel this request? Nothing has been created in Azure yet."


# --- sentences ------------------------------------------------------------------------------------

KIND_NOUNS: dict[str, str] = {
    K.VNET_PEERING: "a VNet peering",
    K.PRIVATE_DNS: "a private DNS zone",
    K.DNS_FORWARDING: "a DNS forwarding rule",
}


def kind_noun(request: ConnectivityRequest, *, capital: bool = False) -> str:
    noun = KIND_NOUNS.get(request.kind, f"a {request.get_kind_display().lower()}")
    return noun[0].upper() + noun[1:] if capital else noun


def joined(items: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- resources, with human labels -----------------------------------------------------------------

RESOURCE_LABELS: dict[str, str] = {
    "cluster_peering_id": "Peering on the cluster's VNet",
    "customer_peering_id": "Peering on your VNet",
    "zone_id": "Private DNS zone",
    "record_ids": "A record sets",
    "link_id": "Link to the cluster's VNet",
    "rule_id": "DNS forwarding rule",
}
# Keys that are notes about resources, not resources.
_NOTE_KEYS = frozenset({"customer_peering_left"})


@dataclass(frozen=True)
class Resource:
    label: str
    ids: tuple[str, ...]
    deleted: bool
    left_behind: bool = False

    @property
    def name(self) -> str:
        return ", ".join(i.rstrip("/").rsplit("/", 1)[-1] for i in self.ids)


def resources(request: ConnectivityRequest) -> list[Resource]:
    """What the request created, labelled; after removal, marked deleted (the customer's side
    of a peering the platform could no longer delete is marked left behind instead)."""
    found = dict(request.azure_resources or {})
    removed = request.state == S.REMOVED
    left = bool(found.get("customer_peering_left"))
    out = []
    for key, value in found.items():
        if key in _NOTE_KEYS or not value:
            continue
        ids = tuple(str(v) for v in value) if isinstance(value, list | tuple) else (str(value),)
        left_here = removed and left and key == "customer_peering_id"
        out.append(Resource(label=RESOURCE_LABELS.get(key, key.replace("_", " ").capitalize()),
                            ids=ids, deleted=removed and not left_here, left_behind=left_here))
    return out


# --- the connection: what Azure last said ---------------------------------------------------------

# States whose resources exist: these are the cluster's connections.
CONNECTION_STATES = frozenset({S.ACTIVE, S.COMPLETED, S.DEGRADED, S.REMOVING})


@dataclass
class Reading:
    """One probe's result."""

    health: str
    summary: str
    reason: str = ""
    parts: list[dict[str, str]] = field(default_factory=list)
    address_prefixes: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    # A peering out of sync: which side must sync ("cluster", "customer") and what changed.
    unsynced: list[str] = field(default_factory=list)
    new_prefixes: list[str] = field(default_factory=list)


def _gateway() -> Any:
    from connectivity.azure import gateway

    return gateway


def probe_vnet_peering(request: ConnectivityRequest) -> Reading | None:
    """Both sides' peeringState and peeringSyncLevel. The customer side is read only while the
    platform may (after revocation the cluster side speaks for both). None: Azure did not
    answer, try later."""
    from connectivity import preflight
    from connectivity.azure.errors import CustomerActionRequired, GatewayError

    gw = _gateway()
    cluster = request.cluster
    try:
        ours = gw.peering_get(vnet_id=cluster.vnet_id, name=preflight.cluster_peering_name(request),
                              tenant_id=settings.AZURE_PLATFORM_TENANT_ID)
    except GatewayError as exc:
        logger.info("health check for %s postponed: %s", request.pk, exc.message)
        return None
    theirs = None
    theirs_state = "unknown"
    try:
        theirs = gw.peering_get(vnet_id=request.customer_vnet_id,
                                name=preflight.customer_peering_name(request),
                                tenant_id=request.tenant_id)
        theirs_state = theirs.peering_state if theirs is not None else "missing"
    except CustomerActionRequired:
        pass
    except GatewayError as exc:
        logger.info("health check for %s postponed: %s", request.pk, exc.message)
        return None
    ours_state = ours.peering_state if ours is not None else "missing"
    ours_sync = (ours.sync_level if ours is not None else None) or ""
    theirs_sync = (theirs.sync_level if theirs is not None else None) or ""
    parts = [
        {"label": RESOURCE_LABELS["cluster_peering_id"],
         "name": preflight.cluster_peering_name(request), "state": ours_state,
         "sync_level": ours_sync},
        {"label": RESOURCE_LABELS["customer_peering_id"],
         "name": preflight.customer_peering_name(request), "state": theirs_state,
         "sync_level": theirs_sync},
    ]
    prefixes = list(ours.remote_address_prefixes) if ours is not None else []
    healthy = ours_state.lower() == "connected" and theirs_state.lower() in ("connected", "unknown")
    states = f"{cluster.name}: {ours_state}, {request.vnet_name}: {theirs_state}"
    if not healthy:
        return Reading(H.DEGRADED, f"{ours_state} / {theirs_state}", parts=parts,
                       address_prefixes=prefixes,
                       reason=f"Azure reports the peering is no longer Connected ({states}).")
    out_of_sync = [s for s in (ours_sync, theirs_sync) if s and s.lower() != "fullyinsync"]
    if out_of_sync:
        assert ours is not None
        unsynced = []
        changes = []
        # A side whose own knowledge of the remote VNet is stale reads Local(AndRemote)NotInSync.
        if "local" in ours_sync.lower():
            unsynced.append("cluster")
            changes.append(_change(request.vnet_name, ours.remote_address_prefixes,
                                   ours.remote_vnet_prefixes))
        if theirs is not None and "local" in theirs_sync.lower():
            unsynced.append("customer")
            changes.append(_change(f"{cluster.name}'s VNet", theirs.remote_address_prefixes,
                                   theirs.remote_vnet_prefixes))
        if not unsynced:  # only the customer side could tell, and it cannot be read
            unsynced.append("cluster")
        return Reading(H.NEEDS_SYNC, f"Connected, {out_of_sync[0]}", parts=parts,
                       address_prefixes=prefixes, unsynced=unsynced,
                       new_prefixes=list(ours.remote_vnet_prefixes or prefixes),
                       reason=" ".join(changes) or "An address space changed; the peering "
                                                   "must be synced.")
    return Reading(H.OK, f"Connected, {ours_sync or 'FullyInSync'}", parts=parts,
                   address_prefixes=prefixes)


def _change(what: str, known: Iterable[str], now: Iterable[str]) -> str:
    known, now = list(known), list(now)
    added = [p for p in now if p not in known]
    gone = [p for p in known if p not in now]
    bits = []
    if added:
        bits.append(f"added {', '.join(added)}")
    if gone:
        bits.append(f"removed {', '.join(gone)}")
    return (f"{what}'s address space changed ({'; '.join(bits) or 'reordered'}): now "
            f"{', '.join(now) or 'none'}; routes to the new prefixes work once the peering is "
            "synced.")


def probe_private_dns(request: ConnectivityRequest) -> Reading | None:
    from connectivity import provisioning
    from connectivity.azure.errors import GatewayError

    zone_id = str((request.azure_resources or {}).get("zone_id") or "")
    if not zone_id:
        return Reading(H.GONE, "No zone recorded", reason="The request recorded no zone.")
    try:
        zone = _gateway().private_zone_get(zone_id=zone_id)
        link = _gateway().zone_link_get(zone_id=zone_id,
                                        link_name=provisioning.zone_link_name(request))
    except GatewayError as exc:
        logger.info("health check for %s postponed: %s", request.pk, exc.message)
        return None
    link_state = (link.link_state or "") if link is not None else "missing"
    parts = [
        {"label": RESOURCE_LABELS["zone_id"], "name": request.zone_name,
         "state": (zone.provisioning_state or "") if zone is not None else "missing"},
        {"label": RESOURCE_LABELS["link_id"], "name": provisioning.zone_link_name(request),
         "state": link_state},
    ]
    if zone is None or link is None:
        return Reading(H.DEGRADED, f"Link {link_state}", parts=parts,
                       reason=f"The {'zone' if zone is None else 'link'} no longer exists in "
                              "Azure.")
    return Reading(H.OK, f"Link {link_state}", parts=parts)


def probe_dns_forwarding(request: ConnectivityRequest) -> Reading | None:
    from connectivity import preflight
    from connectivity.azure.errors import GatewayError

    try:
        rule = _gateway().forwarding_rule_get(ruleset_id=request.cluster.dns_forwarding_ruleset_id,
                                              name=preflight.forwarding_rule_name(request))
    except GatewayError as exc:
        logger.info("health check for %s postponed: %s", request.pk, exc.message)
        return None
    state = (rule.state or "") if rule is not None else "missing"
    parts = [{"label": RESOURCE_LABELS["rule_id"], "name": preflight.forwarding_rule_name(request),
              "state": state}]
    if rule is None:
        return Reading(H.DEGRADED, "Rule missing", parts=parts,
                       reason="The forwarding rule no longer exists in Azure.")
    return Reading(H.OK, f"Rule {state}", parts=parts)


PROBES: dict[str, Callable[[ConnectivityRequest], Reading | None]] = {
    K.VNET_PEERING: probe_vnet_peering,
    K.PRIVATE_DNS: probe_private_dns,
    K.DNS_FORWARDING: probe_dns_forwarding,
}


def store_reading(request: ConnectivityRequest, reading: Reading) -> ConnectionStatus:
    status, _ = ConnectionStatus.objects.update_or_create(
        request=request, defaults={
            "checked_at": timezone.now(), "health": reading.health, "summary": reading.summary[:300],
            "reason": reading.reason, "parts": reading.parts,
            "address_prefixes": reading.address_prefixes})
    return status


def status_of(request: ConnectivityRequest) -> ConnectionStatus | None:
    try:
        return request.connection_status
    except ConnectionStatus.DoesNotExist:
        return None


# --- the connections view -------------------------------------------------------------------------


# Per kind: what a connection connects, in a few words.
TARGETS: dict[str, Callable[[ConnectivityRequest], str]] = {
    K.VNET_PEERING: lambda r: r.vnet_name,
    K.PRIVATE_DNS: lambda r: r.zone_name,
    K.DNS_FORWARDING: lambda r: f"{r.domain_name} → {', '.join(r.dns_servers)}",
}


@dataclass(frozen=True)
class Connection:
    request: ConnectivityRequest
    status: ConnectionStatus | None
    dependency_reason: str = ""

    @property
    def what(self) -> str:
        return TARGETS[self.request.kind](self.request)

    @property
    def health_label(self) -> str:
        if self.request.state == S.REMOVING:
            return "Being removed"
        if self.dependency_reason:
            return "Degraded"
        if self.status is None:
            return "Not checked yet"
        return ConnectionStatus.Health(self.status.health).label

    @property
    def health(self) -> str:
        if self.request.state == S.REMOVING:
            return "removing"
        if self.dependency_reason:
            return H.DEGRADED
        return self.status.health if self.status else "unknown"

    @property
    def reason(self) -> str:
        if self.dependency_reason:
            return self.dependency_reason
        return self.status.reason if self.status else ""


def connections_of(requests: QuerySet[ConnectivityRequest]) -> list[Connection]:
    from connectivity import dependencies

    live = list(requests.filter(state__in=CONNECTION_STATES)
                .select_related("cluster", "connection_status").order_by("created_at"))
    return [Connection(request=r, status=status_of(r),
                       dependency_reason=dependencies.broken_reason(r)) for r in live]


def connections_by_cluster(clusters: Iterable[Cluster],
                           requests: QuerySet[ConnectivityRequest]) -> dict[int, list[Connection]]:
    grouped: dict[int, list[Connection]] = {c.pk: [] for c in clusters}
    for connection in connections_of(requests):
        grouped.setdefault(connection.request.cluster_id, []).append(connection)
    return grouped


# --- the periodic health check ----------------------------------------------------------------


def _degrade(request: ConnectivityRequest, reason: str, ids: list[str]) -> None:
    from connectivity import lifecycle, notifications

    if request.kind == K.VNET_PEERING:
        reason += (" If a side was deleted, grant the role again and verify: the portal "
                   "re-creates what is missing.")
    request = lifecycle.transition(
        request, to=S.DEGRADED, actor=None, action="degraded", message=reason,
        azure_request_ids=ids, status_message=reason)
    notifications.notify_customer(request, "degraded")


def _restore(request: ConnectivityRequest, message: str, ids: list[str]) -> None:
    from connectivity import lifecycle

    # Back to where it was before it degraded.
    before = (request.events.filter(to_state=S.DEGRADED).order_by("-created_at", "-id")
              .values_list("from_state", flat=True).first())
    if before not in (S.ACTIVE, S.COMPLETED):
        before = S.COMPLETED if request.grant_revoked_at else S.ACTIVE
    back_to = before
    lifecycle.transition(request, to=back_to, actor=None, action="restored", message=message,
                         azure_request_ids=ids, status_message="")


def connection_check(request: ConnectivityRequest) -> None:
    """One health check of a locked, live request: read Azure through the kind's probe, store
    what it said, mark the request degraded (with the reason) or restore it, and let its
    dependents follow."""
    from connectivity import dependencies
    from connectivity.azure.clients import capture_request_ids

    if request.state not in (S.ACTIVE, S.COMPLETED, S.DEGRADED):
        return
    with capture_request_ids() as captured:
        reading = PROBES[request.kind](request)
    if reading is None:
        return
    ids = list(captured)
    before = status_of(request)
    was = before.health if before is not None else None
    if reading.health == H.NEEDS_SYNC:
        reading = sync_peering(request, reading, first_seen=was != H.NEEDS_SYNC)
    store_reading(request, reading)
    reason = reading.reason if reading.health in (H.DEGRADED, H.GONE) else ""
    reason = reason or dependencies.broken_reason(request)
    if request.state in (S.ACTIVE, S.COMPLETED) and reason:
        _degrade(request, reason, ids)
        dependencies.servers_check_now(request, dependencies.broken_reason(request))
    elif request.state == S.DEGRADED and not reason:
        _restore(request, f"Azure reports it working again ({reading.summary}).", ids)
        dependencies.servers_check_restored(request)
    follow_dependencies(request)


def follow_dependencies(peering: ConnectivityRequest) -> None:
    """A peering's dependents show degraded while it is degraded or gone, and recover with it."""
    from connectivity import dependencies

    if peering.kind != K.VNET_PEERING:
        return
    for dependent in ConnectivityRequest.objects.filter(
            pk__in=[d.pk for d in _dependents_any_state(peering)]).select_for_update():
        reason = dependencies.broken_reason(dependent)
        if reason and dependent.state in (S.ACTIVE, S.COMPLETED):
            _degrade(dependent, reason, [])
            dependencies.servers_check_now(dependent, reason)
        elif not reason and dependent.state == S.DEGRADED and not _own_fault(dependent):
            _restore(dependent, f"The peering to {peering.vnet_name} works again.", [])
            dependencies.servers_check_restored(dependent)


def _dependents_any_state(peering: ConnectivityRequest) -> list[ConnectivityRequest]:
    from connectivity import dependencies

    prefixes = dependencies._prefixes(peering)
    rules = ConnectivityRequest.objects.filter(
        organization_id=peering.organization_id, cluster_id=peering.cluster_id,
        kind=K.DNS_FORWARDING, state__in=(S.ACTIVE, S.COMPLETED, S.DEGRADED))
    return [r for r in rules if dependencies._inside(r.dns_servers, prefixes)]


def _own_fault(request: ConnectivityRequest) -> bool:
    status = status_of(request)
    return status is not None and status.health in (H.DEGRADED, H.GONE)


def record_reading(request: ConnectivityRequest) -> None:
    """Right after activation: what Azure reports now (a peering's address space, which its
    dependents need), without changing the request's state."""
    reading = PROBES[request.kind](request)
    if reading is not None:
        store_reading(request, reading)


def after_removal(request: ConnectivityRequest) -> None:
    """The resources are gone: the connection shows so, and its dependents degrade."""
    ConnectionStatus.objects.filter(request=request).update(
        health=H.GONE, summary="Removed", reason="The platform removed it.",
        checked_at=timezone.now())
    follow_dependencies(request)


# --- peering sync ---------------------------------------------------------------------------------


def sync_command(request: ConnectivityRequest) -> str:
    """What the customer runs to sync their side themselves."""
    import shlex

    from connectivity import preflight

    q = shlex.quote
    return (f"az network vnet peering sync --subscription {q(request.subscription_id)} "
            f"--resource-group {q(request.resource_group)} --vnet-name {q(request.vnet_name)} "
            f"--name {q(preflight.customer_peering_name(request))}")


def _sync_overlaps(request: ConnectivityRequest, new_prefixes: list[str]) -> list[str]:
    """Overlap checks on the new address space, as pre-flight does for a new peering: the
    cluster VNet, and every other VNet peered to it."""
    from connectivity import preflight

    cluster_vnet = _gateway().vnet_get(vnet_id=request.cluster.vnet_id,
                                       tenant_id=settings.AZURE_PLATFORM_TENANT_ID)
    found = [f"with {request.cluster.name}'s VNet: {o}"
             for o in preflight._overlapping(new_prefixes, cluster_vnet.address_prefixes)]
    ours = preflight.cluster_peering_name(request).lower()
    for other in cluster_vnet.peerings:
        if other.name.lower() == ours:
            continue
        found += [f"with {other.remote_vnet_id.rsplit('/', 1)[-1]}: {o}"
                  for o in preflight._overlapping(new_prefixes, other.remote_address_prefixes)]
    return found


def sync_peering(request: ConnectivityRequest, reading: Reading, *, first_seen: bool) -> Reading:
    """A peering out of sync: re-run the overlap checks on the new prefixes, then sync each
    stale side (``syncRemoteAddressSpace=true``) under the VNet's lease, after checking this
    request's proof of control (the sync acts on the customer's VNet). Without the grant the
    customer is told what to run (their side) or to grant again (the platform's side). Returns
    the reading to store: fresh after a sync, else the stale one with what to do."""
    from connectivity import preflight, proof, provisioning
    from connectivity.azure.errors import CustomerActionRequired, GatewayError
    from connectivity.lifecycle import record_event

    def tell(message: str) -> Reading:
        reading.reason = f"{reading.reason} {message}".strip()
        if first_seen:
            record_event(request=request, actor=None, action="needs_sync", message=reading.reason)
        return reading

    try:
        overlaps = _sync_overlaps(request, reading.new_prefixes)
    except GatewayError as exc:
        return tell(f"Not synced yet: {exc.message}")
    if overlaps:
        return tell("Not synced: the new address space overlaps " + "; ".join(overlaps)
                    + ". Change it so that it does not overlap, and the portal syncs the peering.")
    try:
        proof.require(request)
    except CustomerActionRequired:
        if reading.unsynced == ["customer"]:
            return tell(f"Sync your side with: {sync_command(request)}")
        return tell("The platform syncs its side once it holds its role on your VNet again: "
                    "run the grant page's commands; the next health check syncs the peering."
                    + (f" Sync your side with: {sync_command(request)}"
                       if "customer" in reading.unsynced else ""))
    except GatewayError as exc:
        return tell(f"Not synced yet: {exc.message}")
    cluster = request.cluster
    gw = _gateway()
    sides = {
        "cluster": dict(vnet_id=cluster.vnet_id, name=preflight.cluster_peering_name(request),
                        remote_vnet_id=request.customer_vnet_id,
                        tenant_id=settings.AZURE_PLATFORM_TENANT_ID,
                        remote_tenant_id=request.tenant_id, allow_gateway_transit=False,
                        use_remote_gateways=request.use_remote_gateways),
        "customer": dict(vnet_id=request.customer_vnet_id,
                         name=preflight.customer_peering_name(request),
                         remote_vnet_id=cluster.vnet_id, tenant_id=request.tenant_id,
                         remote_tenant_id=settings.AZURE_PLATFORM_TENANT_ID,
                         allow_gateway_transit=request.use_remote_gateways,
                         use_remote_gateways=False),
    }
    done = []
    try:
        for side in reading.unsynced:
            args = sides[side]
            with provisioning.vnet_lock(str(args["vnet_id"]), request):
                gw.peering_create(**args, allow_forwarded_traffic=request.allow_forwarded_traffic,
                                  sync_remote_address_space=True, wait=True)
            done.append("the platform's side" if side == "cluster" else "your side")
    except (GatewayError, provisioning.VNetBusy) as exc:
        return tell(f"Not synced yet: {getattr(exc, 'message', str(exc))}")
    record_event(request=request, actor=None, action="peering_synced",
                 message=f"{reading.reason} Synced {' and '.join(done)} of the peering.")
    fresh = probe_vnet_peering(request)
    return fresh if fresh is not None else reading
