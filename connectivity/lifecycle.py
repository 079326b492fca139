"""The one place that knows a request's states and which transitions are allowed.

Every state change goes through `transition()`: a conditional UPDATE (zero rows changed means
someone else got there first) and an event row, in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from connectivity.models import ConnectivityRequest, RequestEvent, RequestState, User

S = RequestState

# from-state -> the states it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.AWAITING_GRANT, S.PENDING_APPROVAL, S.CANCELLED}),
    S.AWAITING_GRANT: frozenset({S.PENDING_APPROVAL, S.CANCELLED}),
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED, S.AWAITING_GRANT}),
    S.APPROVED: frozenset({S.PROVISIONING, S.ACTION_NEEDED, S.CANCELLED}),
    S.PROVISIONING: frozenset({S.ACTIVE, S.FAILED, S.ACTION_NEEDED}),
    S.ACTION_NEEDED: frozenset({S.PROVISIONING, S.REMOVING, S.CANCELLED}),
    S.ACTIVE: frozenset({S.COMPLETED, S.DEGRADED, S.REMOVING}),
    S.COMPLETED: frozenset({S.DEGRADED, S.REMOVING}),
    S.DEGRADED: frozenset({S.ACTIVE, S.COMPLETED, S.PROVISIONING, S.REMOVING}),
    S.FAILED: frozenset({S.PROVISIONING, S.REMOVING}),
    S.REMOVING: frozenset({S.REMOVED, S.FAILED}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REMOVED: frozenset(),
}

TERMINAL_STATES = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
# States in which a worker owes the request some work; the reconciler watches these.
WORK_DUE_STATES = frozenset({S.APPROVED, S.PROVISIONING, S.REMOVING})
# States whose Azure resources exist and are watched (revoke watch, drift).
LIVE_STATES = frozenset({S.ACTIVE, S.DEGRADED, S.COMPLETED})
# States the customer may cancel from (nothing created in Azure yet).
CANCELLABLE_STATES = frozenset({S.DRAFT, S.AWAITING_GRANT, S.PENDING_APPROVAL, S.APPROVED})
# States from which the created resources may be torn down.
TEARDOWN_STATES = frozenset({S.ACTIVE, S.COMPLETED, S.DEGRADED, S.FAILED, S.ACTION_NEEDED})


class TransitionError(Exception):
    """A transition the lifecycle forbids, or one someone else already made."""

    def __init__(self, message: str, *, current_state: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.current_state = current_state


def is_allowed(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, frozenset())


def label(state: str) -> str:
    return RequestState(state).label


def actor_label(actor: User | None) -> str:
    return actor.email if actor is not None else "system"


def record_event(
    *,
    request: ConnectivityRequest,
    actor: User | None,
    action: str,
    message: str = "",
    from_state: str = "",
    to_state: str = "",
    azure_request_ids: Sequence[str] = (),
) -> RequestEvent:
    """Write one timeline/audit row. Events are append-only. A state change is also announced
    to the organisation's webhooks, in this transaction."""
    event = RequestEvent.objects.create(
        request=request,
        actor=actor,
        actor_label=actor_label(actor),
        action=action,
        message=message,
        from_state=from_state,
        to_state=to_state,
        azure_request_ids=list(azure_request_ids),
    )
    if to_state:
        from connectivity.webhooks import events as webhook_events

        webhook_events.on_request_event(event)
    return event


@transaction.atomic
def transition(
    request: ConnectivityRequest,
    *,
    to: str,
    actor: User | None,
    action: str,
    message: str = "",
    from_states: Iterable[str] | None = None,
    azure_request_ids: Sequence[str] = (),
    **fields: Any,
) -> ConnectivityRequest:
    """Move `request` to `to` if it is still in one of `from_states` (default: its current state).

    Raises TransitionError when the lifecycle forbids the move or when the row has already moved
    on (another approver, a duplicate task). `fields` are saved in the same UPDATE. The passed
    instance is refreshed so callers see what was written.
    """
    sources = set(from_states) if from_states is not None else {request.state}
    allowed_sources = {s for s in sources if is_allowed(s, to)}
    if not allowed_sources:
        raise TransitionError(
            f"A request cannot go from {', '.join(sorted(label(s) for s in sources))} "
            f"to {label(to)}.",
            current_state=request.state,
        )
    # The row lock makes the recorded from-state exact; the conditional UPDATE keeps the rule
    # true even where locks are no-ops (SQLite serialises writers instead).
    current = (
        ConnectivityRequest.objects.select_for_update()
        .filter(pk=request.pk)
        .values_list("state", flat=True)
        .first()
    )
    if current is None:
        raise TransitionError("This request no longer exists.")
    if current not in allowed_sources:
        request.state = current
        raise TransitionError(
            f"This request is now {label(current)}; it cannot go to {label(to)}.",
            current_state=current,
        )
    now = timezone.now()
    updated = ConnectivityRequest.objects.filter(pk=request.pk, state=current).update(
        state=to, state_changed_at=now, updated_at=now, **fields
    )
    if updated == 0:  # pragma: no cover - only without row locks
        raise TransitionError("Someone else changed this request at the same moment; try again.")
    from_state = current
    # What was written, without reading the whole row back; an expression (``F("n") + 1``) is
    # the one thing only the database knows after the UPDATE.
    request.state, request.state_changed_at, request.updated_at = to, now, now
    computed = [name for name, value in fields.items() if hasattr(value, "resolve_expression")]
    for name, value in fields.items():
        if name not in computed:
            setattr(request, name, value)
    if computed:
        request.refresh_from_db(fields=computed)
    record_event(
        request=request,
        actor=actor,
        action=action,
        message=message,
        from_state=from_state,
        to_state=to,
        azure_request_ids=azure_request_ids,
    )
    return request
