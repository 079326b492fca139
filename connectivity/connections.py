"""After active: a request's connection, its grant left behind, and its resources' labels.

- The revoke reminder: a peering whose grant pre-flight once saw keeps the reminder in every
  end state (active, completed, removed, cancelled, rejected, failed) until the revoke check
  reads the platform's permissions on the customer's VNet and finds them gone
  (``grant_revoked_at``).
- The connection: what the periodic health check last read in Azure (``ConnectionStatus``),
  per kind in one small probe function, so pages show Azure's own status without calling it.
- Resource labels: each kind's ``resource_labels`` (``Kind.resources``).

What differs per kind is asked of the kind (``connectivity/kinds/``): its one health probe
(``Kind.read_status``), what it connects (``target``), its noun, its resources' labels,
whether others depend on it, and a peering's sync. This module is the logic around them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from connectivity import kinds
from connectivity.kinds.base import Reading, Resource
from connectivity.models import (
    Cluster,
    ConnectionStatus,
    ConnectivityRequest,
    RequestState,
)

__all__ = ["Reading", "Resource"]

logger = logging.getLogger(__name__)
S = RequestState
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
        S.ACTIVE: "The connection is in place and keeps working without the role you granted.",
        S.COMPLETED: "The connection is in place and keeps working without the role you granted.",
        S.REMOVED: "The connection is removed, but the role you granted is still assigned.",
        S.CANCELLED: "The request is cancelled, but the role you granted is still assigned.",
        S.REJECTED: "The request was rejected, but the role you granted is still assigned.",
        S.FAILED: "The request failed; until it is retried the platform needs no role.",
    }
    return reasons.get(request.state, "The platform needs the role no longer.")


def cancel_confirmation(request: ConnectivityRequest) -> str:
    if request.needs_grant and request.grant_seen_at and not request.grant_revoked_at:
        return ("Cancel this request? Nothing has been created in Azure, but the platform's role "
                f"on {kinds.of(request).grant_target_noun} stays until you revoke it: the request "
                "page then shows the command.")
    return "Cancel this request? Nothing has been created in Azure yet."


# --- sentences ------------------------------------------------------------------------------------

def kind_noun(request: ConnectivityRequest, *, capital: bool = False) -> str:
    return kinds.of(request).noun_phrase(capital=capital)


def joined(items: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- resources, with human labels -----------------------------------------------------------------

def resources(request: ConnectivityRequest) -> list[Resource]:
    """What the request created, labelled by its kind; after removal, marked deleted (the
    customer's side of a peering the platform could no longer delete is marked left behind
    instead)."""
    return kinds.of(request).resources(request)


# --- the connection: what Azure last said ---------------------------------------------------------

# States whose resources exist: these are the cluster's connections.
CONNECTION_STATES = frozenset({S.ACTIVE, S.COMPLETED, S.DEGRADED, S.REMOVING})


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


@dataclass(frozen=True)
class Connection:
    request: ConnectivityRequest
    status: ConnectionStatus | None
    dependency_reason: str = ""

    @property
    def what(self) -> str:
        return kinds.of(self.request).target(self.request)

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

    advice = kinds.of(request).degraded_advice
    if advice:
        reason += " " + advice
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
    kind = kinds.of(request)
    with capture_request_ids() as captured:
        reading = kind.read_status(request)
    if reading is None:
        return
    ids = list(captured)
    before = status_of(request)
    was = before.health if before is not None else None
    if reading.health == H.NEEDS_SYNC:
        reading = kind.sync(request, reading, first_seen=was != H.NEEDS_SYNC)
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

    if not kinds.of(peering).has_dependents:
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
        kind__in=dependencies.dependent_kinds(), state__in=(S.ACTIVE, S.COMPLETED, S.DEGRADED))
    return [r for r in rules if dependencies._inside(kinds.of(r).peering_ips(r), prefixes)]


def _own_fault(request: ConnectivityRequest) -> bool:
    status = status_of(request)
    return status is not None and status.health in (H.DEGRADED, H.GONE)


def record_reading(request: ConnectivityRequest, reading: Reading | None = None) -> None:
    """Right after activation: what Azure reports now (a peering's address space, which its
    dependents need), without changing the request's state. ``reading`` is what the step that
    saw it active just read; without one the kind's probe reads Azure again."""
    if reading is None:
        reading = kinds.of(request).read_status(request)
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
    """What the customer runs to sync their side of the connection themselves."""
    return kinds.of(request).sync_command(request)
