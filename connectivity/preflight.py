"""Pre-flight: the checks a request must pass before approval and again before provisioning.

Each check is a dict {key, label, status, message} stored on the request, so the customer and
the approver read the same list. ``status`` is

- ``pass``;
- ``fail``: the customer (or support) must change something; ``message`` says what;
- ``pending``: not decidable yet (a role assignment Azure has not propagated, Azure busy).
  A pending check that the portal re-checks by itself carries ``retry_until`` (ISO time); the
  reconciler re-runs pre-flight with backoff until then (see ``provisioning.preflight_recheck``).

Anything but ``pass`` blocks approval. The Azure checks go through the gateway only.

The helpers shared by every kind live here; each kind's own checks live in its module under
``connectivity/kinds/`` (``Kind.checks``), and ``kinds.preflight`` runs them all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NotRequired, TypedDict

from django.conf import settings
from django.utils import timezone

from connectivity.models import ConnectivityRequest, RequestState
from connectivity.validators import reserved_overlaps

S = RequestState

PASS, FAIL, PENDING = "pass", "fail", "pending"


class Check(TypedDict):
    key: str
    label: str
    status: str
    message: str
    retry_until: NotRequired[str]
    transient: NotRequired[bool]


def make_check(key: str, label: str, ok: bool, message: str) -> Check:
    return {"key": key, "label": label, "status": PASS if ok else FAIL, "message": message}


def make_pending(key: str, label: str, message: str, *, retry_until: datetime | None = None,
             transient: bool = False) -> Check:
    from connectivity.azure.pacing import PACED_MESSAGE

    if transient and PACED_MESSAGE in message:  # the platform pacing itself: not an error
        message = "Azure is busy, checking again shortly."
    check: Check = {"key": key, "label": label, "status": PENDING, "message": message}
    if retry_until is not None:
        check["retry_until"] = retry_until.isoformat()
    if transient:
        check["transient"] = True  # Azure did not answer: nobody has anything to fix
    return check


def _previous(request: ConnectivityRequest, key: str) -> dict[str, Any] | None:
    for check in request.preflight or []:
        if isinstance(check, dict) and check.get("key") == key:
            return check
    return None


def retry_deadline(request: ConnectivityRequest, key: str, window: float) -> datetime:
    """A pending check keeps the deadline it got when it first went pending, so repeated
    re-checks do not extend the wait forever; a check that was not pending starts a new one."""
    previous = _previous(request, key)
    if previous and previous.get("status") == PENDING and previous.get("retry_until"):
        try:
            return datetime.fromisoformat(previous["retry_until"])
        except ValueError:
            pass
    return timezone.now() + timedelta(seconds=window)


TRANSIENT_RECHECK_WINDOW = 600  # seconds: Azure being busy is not the customer's fault


def transient_deadline(request: ConnectivityRequest, key: str) -> datetime:
    return retry_deadline(request, key, TRANSIENT_RECHECK_WINDOW)


def role_granted_check(request: ConnectivityRequest, *, label: str, scope: str,
                       required: list[str], role: str, on: str, update_from: str,
                       assign_hint: str, earlier_hint: str = "") -> Check:
    """Whether the platform holds every action of a kind's role at ``scope`` (the permissions
    API, which needs no role to call): pending while a new assignment may still be propagating
    (GRANT_PROPAGATION_WINDOW), a fail naming what lacks when a role is visible but wrong."""
    from connectivity.azure import errors, gateway

    key = "role_granted"
    try:
        permissions = gateway.permissions_at(scope=scope, tenant_id=request.tenant_id)
    except errors.TransientAzureError as exc:
        return make_pending(key, label, f"Azure did not answer ({exc.message}); checking again "
                            "shortly.", retry_until=transient_deadline(request, key),
                            transient=True)
    except errors.GatewayError as exc:
        return make_check(key, label, False, exc.message)
    missing = gateway.missing_from(permissions, required)
    if not missing:
        return make_check(key, label, True, f"The platform holds every action of {role} on {on}.")
    app_id = settings.AZURE_CLIENT_ID
    if permissions and any(p.actions for p in permissions):
        # Something is assigned and visible, so this is not propagation: the role is wrong.
        return make_check(
            key, label, False,
            f"The role assigned to the platform at {scope} lacks {', '.join(missing)}. Update the "
            f"custom role's Actions from {update_from}, then verify again.")
    until = retry_deadline(request, key, settings.GRANT_PROPAGATION_WINDOW)
    if timezone.now() < until:
        return make_pending(
            key, label,
            f"No role for the platform (application {app_id}) is visible at {scope} yet. A role "
            "assigned in the last minutes may still be propagating in Azure (up to 30 minutes); "
            f"the portal re-checks by itself until {until:%H:%M} UTC.{earlier_hint}",
            retry_until=until)
    return make_check(
        key, label, False,
        f"The platform (application {app_id}) holds none of {', '.join(required)} at {scope}. "
        f"{assign_hint}")


# --- every kind -------------------------------------------------------------------------------


def cluster_checks(request: ConnectivityRequest) -> list[Check]:
    cluster = request.cluster
    return [make_check(
        "cluster_dedicated", "Cluster is dedicated", cluster.is_dedicated,
        f"{cluster.name} is dedicated." if cluster.is_dedicated else
        f"{cluster.name} is a standard cluster; only dedicated clusters take this request.",
    )]


# A request that reached approval (or the live states) owns its connection; one still waiting
# for approval loses to an older one, so two drafts for the same pair never block each other.
CLAIMING_STATES = frozenset({S.APPROVED, S.PROVISIONING, S.ACTION_NEEDED, S.FAILED, S.ACTIVE,
                              S.DEGRADED, S.COMPLETED, S.REMOVING})
WAITING_STATES = frozenset({S.AWAITING_GRANT, S.PENDING_APPROVAL})


def duplicate_checks(request: ConnectivityRequest) -> list[Check]:
    same = ConnectivityRequest.objects.filter(
        cluster=request.cluster, kind=request.kind,
        state__in=CLAIMING_STATES | WAITING_STATES).exclude(pk=request.pk)
    same = request.kind_def.same_connection(same, request)
    other = None
    for candidate in same.order_by("created_at", "id"):
        older = (candidate.created_at, str(candidate.pk)) < (request.created_at, str(request.pk))
        if older or (candidate.state in CLAIMING_STATES and request.state in WAITING_STATES):
            other = candidate
            break
    return [make_check(
        "no_duplicate", "No other request for the same connection", other is None,
        "No other open request covers this." if other is None else
        f"Request {other.short_id} ({other.get_state_display()}) already covers this; "
        "cancel one of the two.",
    )]


# --- network helpers ------------------------------------------------------------------------


def parse_networks(prefixes: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for prefix in prefixes:
        try:
            networks.append(ipaddress.ip_network(prefix, strict=False))
        except ValueError:
            continue
    return networks


def overlaps_between(mine: Iterable[str], theirs: Iterable[str]) -> list[str]:
    """Each overlap between two address spaces, and each prefix that does not parse (fails
    closed: an address space the portal cannot read is never taken for a disjoint one)."""
    def parsed(prefixes: Iterable[str]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for prefix in prefixes:
            try:
                out.append((prefix, ipaddress.ip_network(prefix, strict=False)))
            except (ValueError, TypeError):
                out.append((prefix, None))
        return out

    mine_nets, theirs_nets = parsed(mine), parsed(theirs)
    found = [f"{prefix} is not a CIDR the portal can check" for prefix, net in
             mine_nets + theirs_nets if net is None]
    for prefix, net in mine_nets:
        for _other_prefix, other in theirs_nets:
            if net is not None and other is not None and net.version == other.version \
                    and net.overlaps(other):
                found.append(f"{prefix} overlaps {other}")
    return found


RESERVED_LABEL = "Address space avoids Azure's reserved addresses"


def reserved_space_check(prefixes: Iterable[str], vnet_name: str) -> Check:
    """A VNet whose space includes 169.254.0.0/16 or 168.63.129.16 is refused."""
    found = reserved_overlaps(list(prefixes))
    return make_check(
        "address_reserved", RESERVED_LABEL, not found,
        f"{vnet_name} uses none of Azure's reserved addresses." if not found else
        f"{vnet_name}'s address space {'; '.join(found)}. Azure reserves 169.254.0.0/16 "
        "(link-local, instance metadata) and 168.63.129.16 (its DNS and health probes) in every "
        "VNet; use a VNet whose address space leaves them out.")


def recheck_due(request: ConnectivityRequest, *, now: datetime | None = None) -> bool:
    """Whether a pending check asks to be re-run now: backoff doubles from 15 s up to 5 min
    since the check first went pending, and stops at its ``retry_until``."""
    now = now or timezone.now()
    ran = request.preflight_ran_at
    if ran is None:
        return False
    for check in request.preflight or []:
        until = check.get("retry_until") if isinstance(check, dict) else None
        if check.get("status") != PENDING or not until:
            continue
        try:
            deadline = datetime.fromisoformat(until)
        except ValueError:
            continue
        if now >= deadline:
            if ran < deadline:  # one last run turns it into a pass or a fail
                return True
            continue
        # The deadline was set a window after the first pending run, so the time pending so
        # far is known, and the wait between checks grows with it.
        propagating = check.get("key") in ("role_granted", "control_proved",
                                           "identity_role_effective")
        window = (settings.GRANT_PROPAGATION_WINDOW if propagating and not check.get("transient")
                  else TRANSIENT_RECHECK_WINDOW)
        pending_for = max(0.0, (ran - (deadline - timedelta(seconds=window))).total_seconds())
        wait = min(300.0, max(15.0, pending_for))
        if (now - ran).total_seconds() >= wait:
            return True
    return False
