"""Provisioning, teardown and the periodic jobs, run by the workers (see tasks.py).

The database is the source of truth; messages only nudge. ``request_advance`` locks the
request's row, does the one step ``request.step`` names, records what Azure returned and
schedules the next. Each step first reads what already exists (names are fixed per request and
Azure PUTs are idempotent), so a redelivered, duplicated or restarted task never creates a
second resource or skips one.

- Transient Azure errors retry with exponential backoff and jitter, never sooner than Azure's
  Retry-After; after PROVISIONING_MAX_ATTEMPTS the request fails with the last reason.
- ``CustomerActionRequired`` moves the request to ``action_needed`` with Azure's explanation;
  ``services.request_verify`` resumes it at the same step.
- Anything else from Azure fails the request; ``services.request_retry`` resumes it.
- Writes to one VNet are serialised with a short, renewed lease (connectivity/leases.py; Azure
  answers 429 RetryableErrorDueToAnotherOperation to a second writer); different VNets run in
  parallel.
- ``requests_reconcile`` re-enqueues work that has not moved for RECONCILE_STALE_AFTER
  seconds, so a lost message, a killed worker or a flushed Redis delays work but never loses it.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from connectivity import lifecycle, notifications, preflight
from connectivity.lifecycle import TransitionError, record_event
from connectivity.models import (
    AuditEntry,
    ConnectivityRequest,
    RequestEvent,
    RequestKind,
    RequestState,
)

logger = logging.getLogger(__name__)
S = RequestState
K = RequestKind

FIRST_STEP = "preflight"
REMOVE_START = "remove_start"


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


# --- Outcomes of one step ---------------------------------------------------------------------


@dataclass
class Next:
    """The step is done; go on to ``step`` now."""

    step: str
    message: str
    resources: dict[str, Any] = field(default_factory=dict)


@dataclass
class Poll:
    """Nothing wrong, but not there yet: run the same step again later (not a sleeping worker)."""

    message: str


@dataclass
class Busy:
    """Another request is writing to the same VNet; try again in a moment (not an attempt)."""

    vnet_id: str


@dataclass
class Active:
    message: str
    resources: dict[str, Any] = field(default_factory=dict)


@dataclass
class Removed:
    message: str
    resources: dict[str, Any] = field(default_factory=dict)


Outcome = Next | Poll | Busy | Active | Removed


class VNetBusy(Exception):
    def __init__(self, vnet_id: str) -> None:
        super().__init__(vnet_id)
        self.vnet_id = vnet_id


# --- Scheduling: one live chain per request ---------------------------------------------------
#
# Each follow-up a worker schedules carries a fresh token kept in the cache; a task whose token
# is no longer current belongs to a superseded chain (a duplicate) and does nothing. Tasks with
# no token (from services, the reconciler) always run and start a new chain. The cache entry
# also says when the next attempt is due, so the reconciler leaves a long backoff alone. If the
# cache is lost (Redis flushed), every task runs: safe, because every step is idempotent.


def _chain_key(request_id: object) -> str:
    return f"connectivity:advance:{request_id}"


def _token_current(request_id: str, token: str | None) -> bool:
    if token is None:
        return True
    entry = cache.get(_chain_key(request_id))
    return entry is None or entry.get("token") == token


def _send(request_id: str, countdown: float, token: str | None) -> None:
    """Hand the request to a worker (the one place that talks to the broker)."""
    from connectivity import tasks

    kwargs = {"token": token} if token else {}
    tasks.request_advance.apply_async(args=(request_id,), kwargs=kwargs, countdown=countdown)


def schedule(request: ConnectivityRequest, *, countdown: float = 0) -> None:
    """Run the request's next step after ``countdown`` seconds, once this transaction commits."""
    request_id = str(request.pk)
    token = uuid.uuid4().hex
    due = time.time() + countdown
    cache.set(_chain_key(request_id), {"token": token, "due": due},
              timeout=int(countdown + settings.RECONCILE_STALE_AFTER + 3600))
    transaction.on_commit(lambda: _send(request_id, countdown, token))


def backoff(attempt: int, *, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter (half to full of base·2^(n-1), capped), never sooner
    than Azure's Retry-After."""
    base = _setting("PROVISIONING_RETRY_BASE", 2.0)
    cap = _setting("PROVISIONING_RETRY_MAX", 300.0)
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after + random.uniform(0, min(1.0, base)))
    return round(delay, 3)


# --- Serialising writes per VNet --------------------------------------------------------------


def vnet_lease_name(vnet_id: str) -> str:
    return "vnet:" + vnet_id.strip().rstrip("/").lower()


@contextmanager
def vnet_lock(vnet_id: str, request: ConnectivityRequest) -> Iterator[None]:
    """Hold the VNet for this request while it writes: a short lease renewed while held
    (connectivity/leases.py), so a killed worker blocks the VNet for at most VNET_LOCK_TTL.
    The same request takes its own lease over, so its retry after a crash need not wait."""
    from connectivity import leases

    try:
        with leases.held(vnet_lease_name(vnet_id), str(request.pk),
                         ttl=float(_setting("VNET_LOCK_TTL", 30))):
            yield
    except leases.LeaseTaken as taken:
        raise VNetBusy(vnet_id) from taken


# --- Helpers ------------------------------------------------------------------------------


def _gateway() -> Any:
    from connectivity.azure import gateway

    return gateway


def _platform_tenant() -> str:
    return str(settings.AZURE_PLATFORM_TENANT_ID)


def _vnet_name(vnet_id: str) -> str:
    return vnet_id.rstrip("/").rsplit("/", 1)[-1]


def zone_link_name(request: ConnectivityRequest) -> str:
    return f"cp-{request.short_id}-{_vnet_name(request.cluster.vnet_id)}"[:80]


def _records_by_name(request: ConnectivityRequest) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for record in request.records or []:
        grouped.setdefault(str(record["name"]).lower(), []).append(str(record["ip"]))
    return grouped


def revoke_command(request: ConnectivityRequest) -> str:
    """The exact ``az role assignment delete`` the customer runs when the peering works."""
    from connectivity.azure import roles

    customer = roles.CustomerVNet(request.tenant_id, request.subscription_id,
                                  request.resource_group, request.vnet_name)
    commands = roles.revoke_commands(customer, app_id=settings.AZURE_CLIENT_ID)
    return next(c for c in commands if c.startswith("az role assignment delete"))


def customer_peering_delete_command(request: ConnectivityRequest) -> str:
    import shlex

    q = shlex.quote
    return (f"az network vnet peering delete --subscription {q(request.subscription_id)} "
            f"--resource-group {q(request.resource_group)} --vnet-name {q(request.vnet_name)} "
            f"--name {q(preflight.customer_peering_name(request))}")


# --- Steps: VNet peering ----------------------------------------------------------------------


def _step_preflight(request: ConnectivityRequest) -> Outcome:
    """Pre-flight again, right before touching Azure: grants get revoked, address spaces change."""
    from connectivity import connections
    from connectivity.azure.errors import CustomerActionRequired, TransientAzureError

    checks, _ids = preflight.run(request)
    ConnectivityRequest.objects.filter(pk=request.pk).update(
        preflight=checks, preflight_ran_at=timezone.now())
    connections.note_grant_seen(request, checks)
    failed = [c for c in checks if c["status"] == preflight.FAIL]
    pending = [c for c in checks if c["status"] == preflight.PENDING]
    if failed or pending:
        lines = "\n".join(f"- {c['label']}: {c['message']}" for c in failed or pending)
        # Azure not answering is nobody's to fix: retry. The role not (yet) visible is the
        # customer's (the recheck resumes the request by itself if it was only propagating).
        if failed or not any(c.get("transient") for c in pending):
            raise CustomerActionRequired(f"Pre-flight before provisioning did not pass:\n{lines}",
                                         code="PreflightFailed", reason="preflight")
        raise TransientAzureError(f"Pre-flight is waiting:\n{lines}", code="PreflightPending",
                                  reason="preflight_pending")
    resources: dict[str, Any] = {}
    if request.kind == K.PRIVATE_DNS:
        # Recorded before the zone exists, so that a later pre-flight knows the zone is ours.
        resources["zone_id"] = preflight.planned_zone_id(request)
    first: dict[str, str] = {K.VNET_PEERING: "cluster_peering", K.PRIVATE_DNS: "zone",
                             K.DNS_FORWARDING: "rule"}
    return Next(first[request.kind], "Pre-flight passed again before provisioning.", resources)


def _ensure_peering(request: ConnectivityRequest, *, vnet_id: str, name: str, remote_vnet_id: str,
                    tenant_id: str, remote_tenant_id: str, allow_gateway_transit: bool,
                    use_remote_gateways: bool) -> Any:
    gw = _gateway()
    existing = gw.peering_get(vnet_id=vnet_id, name=name, tenant_id=tenant_id)
    if (existing is not None and existing.provisioning_state.lower() == "succeeded"
            and existing.peering_state.lower() != "disconnected"):
        return existing
    with vnet_lock(vnet_id, request):
        return gw.peering_create(
            vnet_id=vnet_id, name=name, remote_vnet_id=remote_vnet_id, tenant_id=tenant_id,
            remote_tenant_id=remote_tenant_id,
            allow_forwarded_traffic=request.allow_forwarded_traffic,
            use_remote_gateways=use_remote_gateways, allow_gateway_transit=allow_gateway_transit,
            wait=True)


def _require_control(request: ConnectivityRequest) -> None:
    """Before every write that acts on the customer's VNet (the cluster side's ``peer/action``
    on it, the customer side itself): the requesting organisation's proof must still be in the
    grant. A missing proof raises ``CustomerActionRequired`` (→ action_needed with what to run),
    so nothing is written, even after an approval that overrode pre-flight."""
    from connectivity import proof

    proof.require(request)


def _step_cluster_peering(request: ConnectivityRequest) -> Outcome:
    cluster = request.cluster
    _require_control(request)
    peering = _ensure_peering(
        request, vnet_id=cluster.vnet_id, name=preflight.cluster_peering_name(request),
        remote_vnet_id=request.customer_vnet_id, tenant_id=_platform_tenant(),
        remote_tenant_id=request.tenant_id, allow_gateway_transit=False,
        use_remote_gateways=request.use_remote_gateways)
    return Next("customer_peering",
                f"Peering {peering.name} on {cluster.name}'s VNet: {peering.provisioning_state}, "
                f"{peering.peering_state}.", {"cluster_peering_id": peering.id})


def _step_customer_peering(request: ConnectivityRequest) -> Outcome:
    cluster = request.cluster
    _require_control(request)
    peering = _ensure_peering(
        request, vnet_id=request.customer_vnet_id, name=preflight.customer_peering_name(request),
        remote_vnet_id=cluster.vnet_id, tenant_id=request.tenant_id,
        remote_tenant_id=_platform_tenant(), allow_gateway_transit=request.use_remote_gateways,
        use_remote_gateways=False)
    return Next("wait_connected",
                f"Peering {peering.name} on {request.vnet_name}: {peering.provisioning_state}, "
                f"{peering.peering_state}.", {"customer_peering_id": peering.id})


def _step_wait_connected(request: ConnectivityRequest) -> Outcome:
    gw = _gateway()
    cluster = request.cluster
    ours = gw.peering_get(vnet_id=cluster.vnet_id, name=preflight.cluster_peering_name(request),
                          tenant_id=_platform_tenant())
    if ours is None or ours.peering_state.lower() == "disconnected":
        return Next("cluster_peering", f"The peering on {cluster.name}'s VNet is "
                    f"{'missing' if ours is None else 'Disconnected'}; creating it again.")
    theirs = gw.peering_get(vnet_id=request.customer_vnet_id,
                            name=preflight.customer_peering_name(request),
                            tenant_id=request.tenant_id)
    if theirs is None or theirs.peering_state.lower() == "disconnected":
        return Next("customer_peering", f"The peering on {request.vnet_name} is "
                    f"{'missing' if theirs is None else 'Disconnected'}; creating it again.")
    if ours.connected and theirs.connected:
        return Active(f"Both peerings report Connected ({ours.name}, {theirs.name}).",
                      {"cluster_peering_id": ours.id, "customer_peering_id": theirs.id})
    return Poll(f"Waiting for both sides to report Connected ({cluster.name}: "
                f"{ours.peering_state}, {request.vnet_name}: {theirs.peering_state}).")


# --- Steps: private DNS zone ------------------------------------------------------------------


def _zone_id(request: ConnectivityRequest) -> str:
    return str(request.azure_resources.get("zone_id") or preflight.planned_zone_id(request))


def _step_zone(request: ConnectivityRequest) -> Outcome:
    gw = _gateway()
    zone_id = _zone_id(request)
    zone = gw.private_zone_get(zone_id=zone_id)
    if zone is None or (zone.provisioning_state or "").lower() != "succeeded":
        from connectivity.azure import resource_ids

        parsed = resource_ids.parse(zone_id)
        # The organisation's own group (created once, idempotently): its zones never share a
        # resource with another organisation's zone of the same name.
        gw.resource_group_ensure(
            subscription_id=parsed.subscription_id, name=parsed.resource_group,
            location=request.cluster.region or "westeurope",
            tags={"connectivity-portal-organization": request.organization.slug})
        zone = gw.private_zone_create(subscription_id=parsed.subscription_id,
                                      resource_group=parsed.resource_group,
                                      zone_name=request.zone_name.lower(), wait=True)
    return Next("records", f"Private DNS zone {zone.name}: {zone.provisioning_state}.",
                {"zone_id": zone.id or zone_id})


def _step_records(request: ConnectivityRequest) -> Outcome:
    gw = _gateway()
    zone_id = _zone_id(request)
    ids = []
    for name, ips in _records_by_name(request).items():
        current = gw.a_record_set_get(zone_id=zone_id, name=name)
        if current is None or sorted(current.ips) != sorted(ips):
            current = gw.a_record_set_put(zone_id=zone_id, name=name, ips=ips)
        ids.append(current.id)
    return Next("link", f"{len(ids)} A record set(s) in {request.zone_name}.", {"record_ids": ids})


def _step_link(request: ConnectivityRequest) -> Outcome:
    gw = _gateway()
    zone_id = _zone_id(request)
    name = zone_link_name(request)
    link = gw.zone_link_get(zone_id=zone_id, link_name=name)
    if link is None or (link.provisioning_state or "").lower() != "succeeded":
        link = gw.zone_link_create(zone_id=zone_id, link_name=name,
                                   vnet_id=request.cluster.vnet_id, wait=True)
    return Active(f"{request.zone_name} is linked to {request.cluster.name}'s VNet "
                  f"({link.link_state}).", {"link_id": link.id})


# --- Steps: DNS forwarding --------------------------------------------------------------------


def _step_rule(request: ConnectivityRequest) -> Outcome:
    gw = _gateway()
    ruleset_id = request.cluster.dns_forwarding_ruleset_id
    name = preflight.forwarding_rule_name(request)
    rule = gw.forwarding_rule_get(ruleset_id=ruleset_id, name=name)
    wanted_domain = request.domain_name.lower().rstrip(".") + "."
    wanted_servers = sorted(f"{ip}:53" for ip in request.dns_servers)
    if (rule is None or rule.domain_name.lower() != wanted_domain
            or sorted(rule.target_dns_servers) != wanted_servers):
        rule = gw.forwarding_rule_create(ruleset_id=ruleset_id, name=name,
                                         domain_name=request.domain_name,
                                         target_dns_servers=list(request.dns_servers))
    return Active(f"Queries for {request.domain_name} on {request.cluster.name} go to "
                  f"{', '.join(request.dns_servers)}.", {"rule_id": rule.id})


# --- Steps: teardown --------------------------------------------------------------------------


def _step_remove_customer_peering(request: ConnectivityRequest) -> Outcome:
    """Teardown never writes in the customer's scope without this request's proof either; but
    it must still end the connectivity, so without the proof it skips the customer side
    (removing the platform's side disconnects it) and tells the customer how to delete theirs."""
    from connectivity.azure.errors import CustomerActionRequired

    name = preflight.customer_peering_name(request)
    try:
        _require_control(request)
        with vnet_lock(request.customer_vnet_id, request):
            gone = _gateway().peering_delete(vnet_id=request.customer_vnet_id, name=name,
                                             tenant_id=request.tenant_id)
    except CustomerActionRequired as exc:
        if exc.reason not in ("permission_missing", "cross_tenant_not_authorized",
                              "app_not_in_tenant", "proof_missing"):
            raise
        # The role was revoked, as it should be after activation: remove the platform's side
        # (which ends the connectivity) and tell the customer how to tidy up theirs.
        return Next("remove_cluster_peering",
                    f"The platform may no longer delete {name} on {request.vnet_name}.",
                    {"customer_peering_left": True})
    return Next("remove_cluster_peering",
                f"Deleted {name} on {request.vnet_name}." if gone else
                f"{name} on {request.vnet_name} was already gone.")


def _step_remove_cluster_peering(request: ConnectivityRequest) -> Outcome:
    cluster = request.cluster
    name = preflight.cluster_peering_name(request)
    with vnet_lock(cluster.vnet_id, request):
        gone = _gateway().peering_delete(vnet_id=cluster.vnet_id, name=name,
                                         tenant_id=_platform_tenant())
    message = (f"Deleted {name} on {cluster.name}'s VNet." if gone else
               f"{name} on {cluster.name}'s VNet was already gone.")
    if request.azure_resources.get("customer_peering_left"):
        message += (" The peering on your side is now Disconnected and does nothing; delete it "
                    f"with: {customer_peering_delete_command(request)}")
    return Removed(message)


def _step_remove_link(request: ConnectivityRequest) -> Outcome:
    if not request.azure_resources.get("zone_id"):  # never created: nothing of ours to delete
        return Removed("Nothing had been created in Azure.")
    gone = _gateway().zone_link_delete(zone_id=_zone_id(request), link_name=zone_link_name(request))
    return Next("remove_records", "Removed the zone's link to the cluster VNet." if gone else
                "The zone's link was already gone.")


def _step_remove_records(request: ConnectivityRequest) -> Outcome:
    zone_id = _zone_id(request)
    deleted = sum(bool(_gateway().a_record_set_delete(zone_id=zone_id, name=name))
                  for name in _records_by_name(request))
    return Next("remove_zone", f"Deleted {deleted} A record set(s).")


def _step_remove_zone(request: ConnectivityRequest) -> Outcome:
    gone = _gateway().private_zone_delete(zone_id=_zone_id(request))
    return Removed(f"Deleted the private DNS zone {request.zone_name}." if gone else
                   f"The zone {request.zone_name} was already gone.")


def _step_remove_rule(request: ConnectivityRequest) -> Outcome:
    ruleset_id = request.cluster.dns_forwarding_ruleset_id
    name = preflight.forwarding_rule_name(request)
    gone = bool(ruleset_id) and _gateway().forwarding_rule_delete(ruleset_id=ruleset_id, name=name)
    return Removed(f"Deleted the forwarding rule for {request.domain_name}." if gone else
                   f"The forwarding rule for {request.domain_name} was already gone.")


STEPS: dict[str, dict[str, Callable[[ConnectivityRequest], Outcome]]] = {
    K.VNET_PEERING: {
        "preflight": _step_preflight,
        "cluster_peering": _step_cluster_peering,
        "customer_peering": _step_customer_peering,
        "wait_connected": _step_wait_connected,
        "remove_customer_peering": _step_remove_customer_peering,
        "remove_cluster_peering": _step_remove_cluster_peering,
    },
    K.PRIVATE_DNS: {
        "preflight": _step_preflight,
        "zone": _step_zone,
        "records": _step_records,
        "link": _step_link,
        "remove_link": _step_remove_link,
        "remove_records": _step_remove_records,
        "remove_zone": _step_remove_zone,
    },
    K.DNS_FORWARDING: {
        "preflight": _step_preflight,
        "rule": _step_rule,
        "remove_rule": _step_remove_rule,
    },
}
FIRST_REMOVE_STEP: dict[str, str] = {K.VNET_PEERING: "remove_customer_peering", K.PRIVATE_DNS: "remove_link",
                     K.DNS_FORWARDING: "remove_rule"}


def _due_step(request: ConnectivityRequest) -> str:
    step = request.step or FIRST_STEP
    if request.state == S.REMOVING:
        if not step.startswith("remove") or step == REMOVE_START:
            step = FIRST_REMOVE_STEP[request.kind]
    elif step.startswith("remove"):
        step = FIRST_STEP
    return step


# --- The engine -------------------------------------------------------------------------------


def _lock(request_id: str) -> ConnectivityRequest | None:
    """The request's row, locked; None when another worker holds it (it will schedule the next
    step itself) or it does not exist."""
    query = ConnectivityRequest.objects.select_for_update(
        skip_locked=connection.features.has_select_for_update_skip_locked)
    return query.filter(pk=request_id).first()


def request_advance(*, request_id: str, token: str | None = None, actor: Any = None) -> None:
    """Do the request's next due step. Safe to run twice: see the module docstring.

    Starting (approved → provisioning) commits on its own, so a step that crashes leaves the
    request where the reconciler and the attempt counter see it."""
    if not _token_current(request_id, token):
        return
    with transaction.atomic():
        request = _lock(request_id)
        if request is None:
            return
        if request.state == S.APPROVED:
            lifecycle.transition(
                request, to=S.PROVISIONING, actor=actor, action="provisioning_started",
                message="A worker started provisioning.", step=request.step or FIRST_STEP,
                attempts=0, status_message="")
    with transaction.atomic():
        request = _lock(request_id)
        if request is None or request.state not in (S.PROVISIONING, S.REMOVING):
            return
        _run_step(request, _due_step(request))


def _run_step(request: ConnectivityRequest, step: str) -> None:
    from connectivity.azure import pacing
    from connectivity.azure.clients import capture_request_ids
    from connectivity.azure.errors import (
        CustomerActionRequired,
        GatewayError,
        TransientAzureError,
    )

    with capture_request_ids() as ids:
        try:
            outcome = STEPS[request.kind][step](request)
        except VNetBusy as busy:
            outcome = Busy(busy.vnet_id)
        except TransientAzureError as exc:
            paced = pacing.is_paced(exc)  # however deep the call that waited for ARM's budget
            _retry_later(request, step, pacing.PACED_MESSAGE if paced else exc.message,
                         retry_after=exc.retry_after, ids=ids, paced=paced)
            return
        except CustomerActionRequired as exc:
            _customer_must_act(request, step, exc.message, ids=ids)
            return
        except GatewayError as exc:
            _fail(request, step, exc.message, ids=ids)
            if exc.reason == "platform_resource_missing":
                notifications.notify_platform_team(request, step=step, detail=exc.detail)
            return
    _apply(request, step, outcome, ids=list(ids))


def _apply(request: ConnectivityRequest, step: str, outcome: Outcome, *, ids: list[str]) -> None:
    now = timezone.now()
    resources = dict(request.azure_resources or {})
    if isinstance(outcome, Next | Active | Removed):
        resources.update(outcome.resources)
    if isinstance(outcome, Next):
        ConnectivityRequest.objects.filter(pk=request.pk).update(
            step=outcome.step, attempts=0, azure_resources=resources, state_changed_at=now,
            updated_at=now, status_message="")
        record_event(request=request, actor=None, action="step_done", message=outcome.message,
                     azure_request_ids=ids)
        schedule(request)
    elif isinstance(outcome, Poll):
        attempts = request.attempts + 1
        if attempts > _setting("PROVISIONING_MAX_ATTEMPTS", 20):
            _fail(request, step, f"Gave up after {request.attempts} checks. {outcome.message}",
                  ids=ids)
            return
        ConnectivityRequest.objects.filter(pk=request.pk).update(
            attempts=attempts, state_changed_at=now, updated_at=now,
            status_message=outcome.message)
        schedule(request, countdown=min(backoff(attempts), _setting("PROVISIONING_POLL_MAX", 30)))
    elif isinstance(outcome, Busy):
        logger.info("request %s waits for VNet %s", request.pk, outcome.vnet_id)
        schedule(request, countdown=random.uniform(1.0, 3.0))
    elif isinstance(outcome, Active):
        request = lifecycle.transition(
            request, to=S.ACTIVE, actor=None, action="activated", message=outcome.message,
            azure_request_ids=ids, step="", attempts=0, azure_resources=resources,
            activated_at=now, status_message="")
        notifications.notify_customer(request, "active")
        from connectivity import connections

        connections.record_reading(request)
        request_id = str(request.pk)
        transaction.on_commit(lambda: _send_revoke_check(request_id))
    elif isinstance(outcome, Removed):
        left = bool(resources.get("customer_peering_left"))
        request = lifecycle.transition(
            request, to=S.REMOVED, actor=None, action="removed", message=outcome.message,
            azure_request_ids=ids, step="", attempts=0, azure_resources=resources,
            status_message=outcome.message if left else "")
        notifications.notify_customer(request, "removed")
        from connectivity import connections

        connections.after_removal(request)


def _send_revoke_check(request_id: str) -> None:
    from connectivity import tasks

    tasks.request_revoke_check.apply_async(args=(request_id,))


def _retry_later(request: ConnectivityRequest, step: str, reason: str, *,
                 retry_after: float | None, ids: list[str], paced: bool = False) -> None:
    attempts = request.attempts + 1
    # Waiting for ARM's budget (connectivity.azure.pacing) is not Azure failing: never give up.
    if attempts > _setting("PROVISIONING_MAX_ATTEMPTS", 20) and not paced:
        _fail(request, step, f"Azure kept failing ({request.attempts} attempts): {reason}", ids=ids)
        return
    countdown = backoff(attempts, retry_after=retry_after)
    now = timezone.now()
    ConnectivityRequest.objects.filter(pk=request.pk).update(
        attempts=attempts, state_changed_at=now, updated_at=now,
        status_message=f"{reason} Next attempt in {countdown:.0f} s.")
    record_event(request=request, actor=None, action="retry_scheduled",
                 message=f"Step {step}, attempt {attempts}: {reason} Retrying in {countdown:.1f} s.",
                 azure_request_ids=ids)
    schedule(request, countdown=countdown)


def _customer_must_act(request: ConnectivityRequest, step: str, reason: str, *,
                       ids: list[str]) -> None:
    if request.state == S.REMOVING:
        _fail(request, step, reason, ids=ids)
        return
    request = lifecycle.transition(
        request, to=S.ACTION_NEEDED, actor=None, action="action_needed",
        message=f"Step {step}: {reason}", azure_request_ids=ids, status_message=reason,
        attempts=0)
    notifications.notify_customer(request, "action_needed")


def _fail(request: ConnectivityRequest, step: str, reason: str, *, ids: list[str]) -> None:
    request = lifecycle.transition(
        request, to=S.FAILED, actor=None, action="failed", message=f"Step {step}: {reason}",
        azure_request_ids=ids, status_message=reason, attempts=0, step=step)
    notifications.notify_customer(request, "failed")


@transaction.atomic
def request_advance_crashed(*, request_id: str, error: BaseException) -> None:
    """A step raised something unexpected (a bug, the database going away): count it as an
    attempt and retry later, or fail once attempts run out, so a poison step cannot loop."""
    request = _lock(request_id)
    if request is None or request.state not in (S.PROVISIONING, S.REMOVING):
        return
    reason = f"Internal error: {type(error).__name__}: {error}"
    _retry_later(request, _due_step(request), reason, retry_after=None, ids=[])


# --- Periodic jobs ----------------------------------------------------------------------------


def requests_reconcile(*, now: datetime | None = None) -> list[str]:
    """Re-enqueue requests whose state says work is due but that have not moved for
    RECONCILE_STALE_AFTER seconds and have no attempt scheduled. Returns their ids."""
    now = now or timezone.now()
    stale_after = settings.RECONCILE_STALE_AFTER
    cutoff = now - timedelta(seconds=stale_after)
    nudged = []
    stale = ConnectivityRequest.objects.filter(
        state__in=lifecycle.WORK_DUE_STATES, state_changed_at__lt=cutoff).order_by("state_changed_at")
    for request in stale:
        entry = cache.get(_chain_key(request.pk)) or {}
        if entry.get("due") and entry["due"] + stale_after > now.timestamp():
            continue  # a backoff longer than the stale limit is still running
        cache.set(_chain_key(request.pk), {"token": entry.get("token"), "due": now.timestamp()},
                  timeout=int(stale_after * 2 + 3600))
        idle = int((now - request.state_changed_at).total_seconds())
        with transaction.atomic():
            record_event(request=request, actor=None, action="reconciled",
                         message=f"No progress for {idle} s at step {request.step or FIRST_STEP}; "
                                 "handed to a worker again.")
        _send(str(request.pk), 0, None)
        nudged.append(str(request.pk))
    if nudged:
        logger.warning("reconciler re-enqueued %d request(s): %s", len(nudged), nudged)
    return nudged


def preflight_recheck(*, now: datetime | None = None) -> list[str]:
    """Re-run pre-flight, with backoff, for requests waiting on something that may resolve by
    itself (a role assignment propagating, Azure busy). Moves them on when it passes."""
    from connectivity import services

    now = now or timezone.now()
    rechecked = []
    waiting = ConnectivityRequest.objects.filter(
        state__in=[S.AWAITING_GRANT, S.ACTION_NEEDED, S.DRAFT], preflight_ran_at__isnull=False)
    for request in waiting:
        if not preflight.recheck_due(request, now=now):
            continue
        try:
            services.request_verify(request=request, actor=None)
        except TransitionError:
            continue
        rechecked.append(str(request.pk))
    return rechecked


@transaction.atomic
def request_revoke_check(*, request_id: str, now: datetime | None = None) -> None:
    """For an active request: complete it once the customer's role is gone (at once for kinds
    that never needed one); while it remains, remind the customer on schedule. Any other end
    state whose grant may remain (removed, cancelled, rejected, failed, completed before the
    role was seen gone) keeps being checked and reminded about the same way, until the
    permissions API shows the role gone: then ``grant_revoked_at`` records when."""
    from connectivity import connections
    from connectivity.azure import roles
    from connectivity.azure.errors import CustomerActionRequired, GatewayError

    now = now or timezone.now()
    request = _lock(request_id)
    if request is None:
        return
    if request.state != S.ACTIVE and not connections.grant_may_remain(request):
        return
    if not request.needs_grant:
        request = lifecycle.transition(
            request, to=S.COMPLETED, actor=None, action="completed",
            message=f"{connections.kind_noun(request, capital=True)} needs no role in your "
                    "subscription, so there is nothing to revoke.", revoke_checked_at=now)
        notifications.notify_customer(request, "completed")
        return
    required = roles.required_actions()
    try:
        from connectivity.azure.clients import capture_request_ids

        with capture_request_ids() as ids:
            missing = _gateway().missing_actions(scope=request.customer_vnet_id,
                                                 tenant_id=request.tenant_id, required=required)
    except CustomerActionRequired as exc:
        if exc.reason != "app_not_in_tenant":
            logger.info("revoke check for %s: %s", request.pk, exc.message)
            return
        missing = required  # the platform's application was removed from the tenant entirely
        ids = []
    except GatewayError as exc:
        logger.info("revoke check for %s postponed: %s", request.pk, exc.message)
        return
    if len(missing) == len(required) and request.state != S.ACTIVE:
        ConnectivityRequest.objects.filter(pk=request.pk).update(
            grant_revoked_at=now, revoke_checked_at=now)
        record_event(request=request, actor=None, action="grant_revoked",
                     message=f"The platform's role on {request.vnet_name} is gone.",
                     azure_request_ids=list(ids))
        return
    if len(missing) == len(required):
        request = lifecycle.transition(
            request, to=S.COMPLETED, actor=None, action="grant_revoked",
            message=f"The platform's role on {request.vnet_name} is gone; the peering keeps "
                    "working without it.", azure_request_ids=list(ids),
            grant_revoked_at=now, revoke_checked_at=now, status_message="")
        notifications.notify_customer(request, "completed")
        return
    fields: dict[str, Any] = {"revoke_checked_at": now}
    if request.revoke_reminded_at is None:
        due = (request.activated_at if request.state == S.ACTIVE and request.activated_at
               else request.state_changed_at) + timedelta(
            seconds=settings.REVOKE_REMINDER_FIRST_AFTER)
    else:
        due = request.revoke_reminded_at + timedelta(seconds=settings.REVOKE_REMINDER_EVERY)
    if now >= due:
        fields.update(revoke_reminded_at=now, revoke_reminders_sent=request.revoke_reminders_sent + 1)
        record_event(request=request, actor=None, action="revoke_reminder",
                     message=f"Reminder {fields['revoke_reminders_sent']}: the platform still holds "
                             f"its role on {request.vnet_name}. Remove it with: "
                             f"{revoke_command(request)}", azure_request_ids=list(ids))
        notifications.notify_customer(request, "revoke_reminder")
    ConnectivityRequest.objects.filter(pk=request.pk).update(**fields)


def revoke_watch(*, now: datetime | None = None) -> int:
    """Run the revoke check for every active request, and for every request whose grant may
    remain after it ended."""
    from django.db.models import Q

    from connectivity import connections

    left = Q(kind=K.VNET_PEERING, grant_seen_at__isnull=False, grant_revoked_at__isnull=True,
             state__in=connections.GRANT_LEFT_STATES)
    ids = list(ConnectivityRequest.objects.filter(Q(state=S.ACTIVE) | left)
               .values_list("pk", flat=True))
    for request_id in ids:
        request_revoke_check(request_id=str(request_id), now=now)
    return len(ids)


@transaction.atomic
def request_drift_check(*, request_id: str) -> None:
    """The health check of one live request (``connections.connection_check``): Azure's own
    status stored for the connections view; a peering Disconnected (or gone) on either side, a
    missing zone link or rule, or a dependency that broke marks it ``degraded``; working again
    restores it. The customer side is read only while the platform may still read it (after
    revocation, the cluster side tells: it turns Disconnected when the other side is deleted)."""
    from connectivity import connections

    request = _lock(request_id)
    if request is None:
        return
    connections.connection_check(request)


def drift_check() -> int:
    ids = list(ConnectivityRequest.objects.filter(
        state__in=[S.ACTIVE, S.COMPLETED, S.DEGRADED],
    ).order_by("kind", "created_at").values_list("pk", flat=True))
    for request_id in ids:
        request_drift_check(request_id=str(request_id))
    return len(ids)


@transaction.atomic
def audit_purge(*, now: datetime | None = None) -> dict[str, int]:
    """Delete request events and audit entries older than AUDIT_RETENTION_DAYS. Requests keep
    their final state; only their history goes."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    events, _ = RequestEvent.objects.filter(created_at__lt=cutoff).delete()
    entries, _ = AuditEntry.objects.filter(created_at__lt=cutoff).delete()
    if events or entries:
        logger.info("audit purge: %d events, %d audit entries older than %s", events, entries,
                    cutoff.date())
    return {"events": events, "audit_entries": entries}
