"""What a connection depends on: a DNS forwarding rule whose DNS servers are reachable only
through a peering depends on that peering.

Dependencies are computed from what the portal stored, never from Azure at page time: a
peering's remote address space as its health check last read it (``ConnectionStatus``), and
the forwarding request's DNS server IPs. Removing a peering lists its dependents and removes
them too when asked (``services.request_teardown(remove_dependents=True)``), or refuses with
the list; when a peering goes degraded or is removed its dependents show degraded with the
reason, and recover when it does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from connectivity import kinds
from connectivity.models import ConnectionStatus, ConnectivityRequest, RequestState

S = RequestState

# A dependent still uses its peering in these states (removing it would break the dependent).
DEPENDENT_LIVE_STATES = frozenset({S.ACTIVE, S.COMPLETED, S.DEGRADED, S.ACTION_NEEDED,
                                   S.FAILED, S.PROVISIONING, S.APPROVED, S.PENDING_APPROVAL})
# A peering that may carry a dependent's traffic (or did, until it broke).
PEERING_STATES = frozenset({S.ACTIVE, S.COMPLETED, S.DEGRADED, S.REMOVING, S.REMOVED})
SERVERS_CHECK_KEY = "servers_reachable"


class DependentsExist(Exception):
    """Removing this connection would break others; remove them too, or leave it."""

    def __init__(self, request: ConnectivityRequest, dependents: list[ConnectivityRequest]) -> None:
        self.request = request
        self.dependents = dependents
        names = "; ".join(describe(d) for d in dependents)
        self.message = (f"{len(dependents)} connection{'s' if len(dependents) != 1 else ''} "
                        f"depend{'s' if len(dependents) == 1 else ''} on this peering: {names}. "
                        "Remove them too, or keep the peering.")
        super().__init__(self.message)


def describe(request: ConnectivityRequest) -> str:
    return kinds.of(request).describe(request)


def peering_kinds() -> list[str]:
    """Kinds whose connections others may reach their targets through."""
    return [k.key for k in kinds.all_kinds() if k.has_dependents]


def dependent_kinds() -> list[str]:
    """Kinds that reach their targets through such a connection."""
    return [k.key for k in kinds.all_kinds() if k.needs_peering]


def _prefixes(peering: ConnectivityRequest) -> list[str]:
    try:
        return list(peering.connection_status.address_prefixes or [])
    except ConnectionStatus.DoesNotExist:
        return []


def _inside(ips: Iterable[str], prefixes: Iterable[str]) -> bool:
    networks = []
    for prefix in prefixes:
        try:
            networks.append(ipaddress.ip_network(prefix, strict=False))
        except ValueError:
            continue
    for ip in ips:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if any(address.version == n.version and address in n for n in networks):
            return True
    return False


def peerings_of(dependent: ConnectivityRequest) -> list[ConnectivityRequest]:
    """The peerings (same organisation and cluster) whose VNet holds one of the rule's DNS
    servers: the way its queries reach them."""
    ips = kinds.of(dependent).peering_ips(dependent)
    if not ips:
        return []
    candidates = (ConnectivityRequest.objects
                  .filter(organization_id=dependent.organization_id, cluster_id=dependent.cluster_id,
                          kind__in=peering_kinds(), state__in=PEERING_STATES)
                  .select_related("connection_status").order_by("-created_at"))
    return [p for p in candidates if _inside(ips, _prefixes(p))]


def dependents_of(peering: ConnectivityRequest) -> list[ConnectivityRequest]:
    """Forwarding rules that reach their DNS servers only through this peering."""
    if not kinds.of(peering).has_dependents:
        return []
    prefixes = _prefixes(peering)
    if not prefixes:
        return []
    rules = (ConnectivityRequest.objects
             .filter(organization_id=peering.organization_id, cluster_id=peering.cluster_id,
                     kind__in=dependent_kinds(), state__in=DEPENDENT_LIVE_STATES)
             .order_by("created_at"))
    out = []
    for rule in rules:
        if not _inside(kinds.of(rule).peering_ips(rule), prefixes):
            continue
        others = [p for p in peerings_of(rule)
                  if p.pk != peering.pk and p.state in (S.ACTIVE, S.COMPLETED)]
        if not others:
            out.append(rule)
    return out


def broken_reason(dependent: ConnectivityRequest) -> str:
    """Why a dependent does not work because of what it depends on ('' when it does)."""
    peerings = peerings_of(dependent)
    if not peerings or any(p.state in (S.ACTIVE, S.COMPLETED) and _working(p) for p in peerings):
        return ""
    peering = peerings[0]
    servers = ", ".join(dependent.dns_servers)
    if peering.state in (S.REMOVED, S.REMOVING):
        what = "was removed" if peering.state == S.REMOVED else "is being removed"
    else:
        what = "is degraded"
    return (f"The peering to {peering.vnet_name} (request {peering.short_id}) {what}: the DNS "
            f"servers {servers} are not reachable through it.")


def _working(peering: ConnectivityRequest) -> bool:
    try:
        return peering.connection_status.health != ConnectionStatus.Health.DEGRADED
    except ConnectionStatus.DoesNotExist:
        return True


def servers_check_restored(dependent: ConnectivityRequest) -> None:
    """The peering works again: so does the check that the servers are reachable through it."""
    working = [p for p in peerings_of(dependent) if p.state in (S.ACTIVE, S.COMPLETED)]
    if not working:
        return
    peering = working[0]
    checks = list(dependent.preflight or [])
    for check in checks:
        if check.get("key") == SERVERS_CHECK_KEY and check.get("status") == "fail":
            check.update(status="pass", message=(
                f"{', '.join(dependent.dns_servers)} reachable again through the peering to "
                f"{peering.vnet_name}."))
    dependent.preflight = checks
    ConnectivityRequest.objects.filter(pk=dependent.pk).update(preflight=checks)


def servers_check_now(dependent: ConnectivityRequest, reason: str) -> None:
    """Make the stored checklist stop claiming the servers are reachable once they are not."""
    checks = list(dependent.preflight or [])
    changed = False
    for check in checks:
        if check.get("key") == SERVERS_CHECK_KEY and reason and check.get("status") == "pass":
            check.update(status="fail", message=reason)
            changed = True
    if changed:
        dependent.preflight = checks
        ConnectivityRequest.objects.filter(pk=dependent.pk).update(preflight=checks)
