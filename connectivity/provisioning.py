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
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from connectivity import dispatch, kinds, lifecycle, notifications, preflight
from connectivity.kinds.base import (
    Active,
    Busy,
    Next,
    Outcome,
    Poll,
    Removed,
    VNetBusy,
    vnet_lease_name,
    vnet_lock,
)
from connectivity.lifecycle import TransitionError, record_event
from connectivity.models import (
    AuditEntry,
    ConnectivityRequest,
    RequestEvent,
    RequestState,
)

logger = logging.getLogger(__name__)
S = RequestState

__all__ = ["Active", "Busy", "Next", "Poll", "Removed", "VNetBusy", "vnet_lease_name", "vnet_lock"]

FIRST_STEP = "preflight"
REMOVE_START = "remove_start"
#: At most this many steps run in one task, one after another (``Next.follow``).
STEPS_PER_TASK = 3


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


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
    """Hand the request to a worker, by task name (connectivity/dispatch.py)."""
    dispatch.send_now(dispatch.ADVANCE, request_id, countdown=countdown, token=token)


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


def _fresh_preflight(request: ConnectivityRequest) -> float | None:
    """Seconds since a pre-flight that passed, when it is recent enough to reuse (an
    auto-approval right after the customer verified): its reads are still what Azure says, and
    every write still checks the proof and is refused by Azure itself if something changed."""
    ran = request.preflight_ran_at
    if ran is None or not request.preflight_passed:
        return None
    age = (timezone.now() - ran).total_seconds()
    return age if 0 <= age <= _setting("PREFLIGHT_REUSE_SECONDS", 60.0) else None


def _step_preflight(request: ConnectivityRequest) -> Outcome:
    """Pre-flight again, right before touching Azure: grants get revoked, address spaces change.
    One that passed seconds ago is reused rather than read again (``PREFLIGHT_REUSE_SECONDS``)."""
    from connectivity import connections
    from connectivity.azure.errors import CustomerActionRequired, TransientAzureError

    kind = kinds.of(request)
    age = _fresh_preflight(request)
    if age is not None:
        connections.note_grant_seen(request, request.preflight)
        return Next(kind.first_step, f"Pre-flight passed {age:.0f} s ago; not repeated.",
                    kind.before_provisioning(request), follow=True)
    checks, _ids = kinds.preflight(request)
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
    return Next(kind.first_step, "Pre-flight passed again before provisioning.",
                kind.before_provisioning(request))


#: Steps every kind shares; a kind's own steps are in its ``steps``.
ENGINE_STEPS: dict[str, Callable[[ConnectivityRequest], Outcome]] = {"preflight": _step_preflight}


def _step(request: ConnectivityRequest, step: str) -> Callable[[ConnectivityRequest], Outcome]:
    return ENGINE_STEPS.get(step) or kinds.of(request).steps[step]


def _due_step(request: ConnectivityRequest) -> str:
    step = request.step or FIRST_STEP
    if request.state == S.REMOVING:
        if not step.startswith("remove") or step == REMOVE_START:
            step = kinds.of(request).first_remove_step
    elif step.startswith("remove"):
        step = FIRST_STEP
    return step


# --- The engine -------------------------------------------------------------------------------


def _lock(request_id: str) -> ConnectivityRequest | None:
    """The request's row, locked; None when another worker holds it (it will schedule the next
    step itself) or it does not exist."""
    features = connection.features
    # The cluster comes in the same query (every kind's step reads it); only the request's row
    # is locked.
    query = ConnectivityRequest.objects.select_related("cluster").select_for_update(
        skip_locked=features.has_select_for_update_skip_locked,
        of=("self",) if features.has_select_for_update_of else ())
    try:
        return query.get(pk=request_id)  # unordered: first() would sort by created_at
    except ConnectivityRequest.DoesNotExist:
        return None


def request_advance(*, request_id: str, token: str | None = None, actor: Any = None) -> None:
    """Do the request's next due step. Safe to run twice: see the module docstring.

    Starting (approved → provisioning) commits on its own, so a step that crashes leaves the
    request where the reconciler and the attempt counter see it. A step whose outcome says
    ``follow`` (a reused pre-flight, a step that only started an operation) is followed by the
    next one in the same task, each in its own transaction, rather than through the broker: if
    the worker dies in between, the message is delivered again (late acknowledgement) or the
    reconciler finds the request."""
    if not _token_current(request_id, token):
        return
    budget = STEPS_PER_TASK
    with transaction.atomic():
        request = _lock(request_id)
        if request is None:
            return
        if request.state == S.APPROVED:
            lifecycle.transition(
                request, to=S.PROVISIONING, actor=actor, action="provisioning_started",
                message="A worker started provisioning.", step=request.step or FIRST_STEP,
                attempts=0, status_message="")
        elif request.state not in (S.PROVISIONING, S.REMOVING):
            return
        else:
            budget -= 1
            if not _run_step(request, _due_step(request), may_follow=budget > 0):
                return
    while budget > 0:
        budget -= 1
        with transaction.atomic():
            request = _lock(request_id)
            if request is None or request.state not in (S.PROVISIONING, S.REMOVING):
                return
            if not _run_step(request, _due_step(request), may_follow=budget > 0):
                return


def _run_step(request: ConnectivityRequest, step: str, *, may_follow: bool = False) -> bool:
    """Run one step and apply its outcome. True when the next step follows in this task (the
    outcome says ``follow`` and the task may run one more step; else it is scheduled)."""
    from connectivity.azure import pacing
    from connectivity.azure.clients import capture_request_ids
    from connectivity.azure.errors import (
        CustomerActionRequired,
        GatewayError,
        TransientAzureError,
    )

    with capture_request_ids() as ids:
        try:
            outcome = _step(request, step)(request)
        except VNetBusy as busy:
            outcome = Busy(busy.vnet_id)
        except TransientAzureError as exc:
            paced = pacing.is_paced(exc)  # however deep the call that waited for ARM's budget
            _retry_later(request, step, pacing.PACED_MESSAGE if paced else exc.message,
                         retry_after=exc.retry_after, ids=ids, paced=paced)
            return False
        except CustomerActionRequired as exc:
            _customer_must_act(request, step, exc.message, ids=ids)
            return False
        except GatewayError as exc:
            _fail(request, step, exc.message, ids=ids)
            if exc.reason == "platform_resource_missing":
                notifications.notify_platform_team(request, step=step, detail=exc.detail)
            return False
    follow = may_follow and isinstance(outcome, Next) and outcome.follow
    _apply(request, step, outcome, ids=list(ids), follow=follow)
    return follow


def _apply(request: ConnectivityRequest, step: str, outcome: Outcome, *, ids: list[str],
           follow: bool = False) -> None:
    """Record the outcome and schedule what comes next (``follow``: the caller runs the next
    step itself, at once)."""
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
        if not follow:
            schedule(request, countdown=min(outcome.after or 0.0,
                                            _setting("PROVISIONING_POLL_MAX", 30)))
    elif isinstance(outcome, Poll):
        patient = outcome.every is not None  # waiting on a person: the kind's step gives up
        attempts = request.attempts if patient else request.attempts + 1
        if attempts > _setting("PROVISIONING_MAX_ATTEMPTS", 20):
            _fail(request, step, f"Gave up after {request.attempts} checks. {outcome.message}",
                  ids=ids)
            return
        ConnectivityRequest.objects.filter(pk=request.pk).update(
            attempts=attempts, state_changed_at=now, updated_at=now,
            status_message=outcome.message)
        schedule(request, countdown=float(outcome.every) if outcome.every is not None else
                 min(backoff(attempts), _setting("PROVISIONING_POLL_MAX", 30)))
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

        connections.record_reading(request, outcome.reading)
        if not outcome.grant_in_use:
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
    dispatch.send_now(dispatch.REVOKE_CHECK, request_id)


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
    from connectivity.azure.errors import CustomerActionRequired, GatewayError

    now = now or timezone.now()
    request = _lock(request_id)
    if request is None:
        return
    if request.state != S.ACTIVE and not connections.grant_may_remain(request):
        return
    kind = kinds.of(request)
    if not kind.needs_grant:
        request = lifecycle.transition(
            request, to=S.COMPLETED, actor=None, action="completed",
            message=kind.completed_message(request), revoke_checked_at=now)
        notifications.notify_customer(request, "completed")
        return
    required = kind.role_actions()
    try:
        from connectivity.azure import gateway
        from connectivity.azure.clients import capture_request_ids

        with capture_request_ids() as ids:
            missing = gateway.missing_actions(scope=kind.grant_scope(request),
                                              tenant_id=kind.grant_tenant(request),
                                              required=required)
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
                     message=kind.role_gone_message(request),
                     azure_request_ids=list(ids))
        return
    if len(missing) == len(required):
        request = lifecycle.transition(
            request, to=S.COMPLETED, actor=None, action="grant_revoked",
            message=kind.grant_gone_message(request), azure_request_ids=list(ids),
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
                     message=f"Reminder {fields['revoke_reminders_sent']}: "
                             f"{kind.revoke_reminder_message(request)}",
                     azure_request_ids=list(ids))
        notifications.notify_customer(request, "revoke_reminder")
    ConnectivityRequest.objects.filter(pk=request.pk).update(**fields)


def revoke_watch(*, now: datetime | None = None) -> int:
    """Run the revoke check for every active request, and for every request whose grant may
    remain after it ended."""
    from django.db.models import Q

    from connectivity import connections

    granting = [k.key for k in kinds.all_kinds() if k.needs_grant]
    left = Q(kind__in=granting, grant_seen_at__isnull=False, grant_revoked_at__isnull=True,
             state__in=connections.GRANT_LEFT_STATES)
    ids = list(ConnectivityRequest.objects.filter(Q(state=S.ACTIVE) | left)
               .values_list("pk", flat=True))
    for request_id in ids:
        request_revoke_check(request_id=str(request_id), now=now)
    return len(ids)


@transaction.atomic
def request_drift_check(*, request_id: str) -> bool:
    """The health check of one live request (``connections.connection_check``): the kind's one
    probe (``Kind.read_status``) reads Azure; what it read is stored for the connections view;
    an unhealthy reading (a peering Disconnected or gone on either side, a missing zone link or
    rule) or a dependency that broke marks it ``degraded``; working again restores it. False
    when another task held the request (or it is gone), so nothing was checked."""
    from connectivity import connections

    request = _lock(request_id)
    if request is None:
        return False
    connections.connection_check(request)
    return True


def drift_check() -> int:
    """Check every live request once. One that another task held at its turn (a revoke check
    sent at activation, a step) is tried again after the others, when that task has usually
    ended, rather than left to the next run."""
    ids = list(ConnectivityRequest.objects.filter(
        state__in=[S.ACTIVE, S.COMPLETED, S.DEGRADED],
    ).order_by("kind", "created_at").values_list("pk", flat=True))
    held = [request_id for request_id in ids if not _drift_check_one(str(request_id))]
    for request_id in held:
        _drift_check_one(str(request_id))
    return len(ids)


def _drift_check_one(request_id: str) -> bool:
    """True when checked, or when the check failed (logged; the next run tries again)."""
    try:
        return request_drift_check(request_id=request_id)
    except Exception:  # one request's probe failing must not keep the others unchecked
        logger.exception("health check of request %s failed; the next run tries again",
                         request_id)
        return True


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
