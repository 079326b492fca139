"""Writes: the use-cases. The only code that changes a request's state (through lifecycle).

Every service is keyword-only, takes the acting user (None for the system), runs in one
transaction and leaves an event behind. Work for the workers is enqueued after commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from connectivity import dispatch, four_eyes, kinds, lifecycle, notifications, selectors
from connectivity.lifecycle import TransitionError, record_event
from connectivity.models import (
    ApiToken,
    AuditEntry,
    Cluster,
    Comment,
    ConnectivityRequest,
    Organization,
    RequestState,
    User,
)

S = RequestState

__all__ = [
    "TransitionError",
    "api_token_create",
    "api_token_revoke",
    "comment_create",
    "organization_set_auto_approve",
    "request_approve",
    "request_cancel",
    "request_create",
    "request_reject",
    "request_retry",
    "request_submit",
    "request_teardown",
    "request_verify",
]


def enqueue_advance(request: ConnectivityRequest, *, countdown: float = 0) -> None:
    """Nudge a worker once the transaction commits, after the work already under way
    (``dispatch.NEW_WORK``). The reconciler covers a lost nudge."""
    dispatch.send_on_commit(dispatch.ADVANCE, str(request.pk), countdown=countdown,
                            priority=dispatch.NEW_WORK)


def _require_approver(actor: User) -> None:
    if not selectors.is_approver(actor):
        raise PermissionDenied("Only approvers may do this.")


def _require_other_eyes(actor: User, request: ConnectivityRequest) -> None:
    reason = four_eyes.conflict(actor, request)
    if reason is not None:
        raise PermissionDenied(reason)


def _require_support(actor: User) -> None:
    if not selectors.is_support(actor):
        raise PermissionDenied("Only support staff may do this.")


def clean_request_fields(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the kind's spec with its rules; errors are keyed by field name."""
    try:
        implementation = kinds.get(kind)
    except kinds.UnknownKind:
        raise ValidationError(
            {"kind": [f"Kind must be one of: {', '.join(kinds.all_keys())}."]}) from None
    return implementation.clean(fields)


def refuse_create_errors(kind: str, cleaned: dict[str, Any]) -> None:
    """What the kind refuses beyond the field rules (a peering: the platform's own scopes)."""
    refused = kinds.get(kind).create_errors(cleaned)
    if refused:
        raise ValidationError(refused)


STANDARD_CLUSTER_MESSAGE = (
    "Standard clusters offer external IPs for allowlisting only; peering, private DNS "
    "and DNS forwarding need a dedicated cluster.")


@transaction.atomic
def request_create(
    *,
    actor: User,
    organization: Organization,
    cluster: Cluster,
    kind: str,
    fields: dict[str, Any],
) -> ConnectivityRequest:
    """A new draft. Only the organisation's own dedicated clusters take these requests."""
    if not cluster.is_dedicated:
        raise ValidationError({"cluster": [STANDARD_CLUSTER_MESSAGE]})
    if cluster.organization_id != organization.pk:
        raise ValidationError({"cluster": ["Choose one of your organisation's clusters."]})
    cleaned = clean_request_fields(kind, fields)
    refuse_create_errors(kind, cleaned)
    request = ConnectivityRequest.objects.create(
        organization=organization, cluster=cluster, kind=kind, created_by=actor, **cleaned
    )
    record_event(request=request, actor=actor, action="created", to_state=S.DRAFT,
                 message=f"{request.get_kind_display()} request created for {cluster.name}.")
    request.kind_def.after_create(request)
    return request


@transaction.atomic
def request_submit(*, request: ConnectivityRequest, actor: User) -> ConnectivityRequest:
    """The customer is done filling in. A peering now waits for their role grant; the other kinds
    run pre-flight at once and go to approval when it passes."""
    if request.needs_grant:
        return lifecycle.transition(
            request, to=S.AWAITING_GRANT, actor=actor, action="submitted", from_states=[S.DRAFT],
            message="Waiting for the customer to grant the platform's role and verify it.",
        )
    if request.state != S.DRAFT:
        raise TransitionError(f"This request is already {lifecycle.label(request.state)}.",
                              current_state=request.state)
    return request_verify(request=request, actor=actor)


def preflight_summary(failed: Sequence[Mapping[str, object]], what: str) -> str:
    """One short line per check that did not pass, under a heading line (the timeline shows
    them as a list)."""
    count = len(failed)
    head = f"{what}: {count} check{'s' if count != 1 else ''} did not pass."
    return "\n".join([head, *(f"- {c['label']}: {c['message']}" for c in failed)])


def _store_checks(request: ConnectivityRequest, *, actor: User | None) -> bool:
    checks, request_ids = kinds.preflight(request)
    request.preflight = checks
    request.preflight_ran_at = timezone.now()
    ConnectivityRequest.objects.filter(pk=request.pk).update(
        preflight=checks, preflight_ran_at=request.preflight_ran_at)
    failed = [c for c in checks if c["status"] != "pass"]
    summary = (
        "All pre-flight checks passed."
        if not failed
        else preflight_summary(failed, "Pre-flight")
    )
    record_event(request=request, actor=actor, action="preflight", message=summary,
                 azure_request_ids=request_ids)
    from connectivity import connections

    connections.note_grant_seen(request, checks)
    return not failed


@transaction.atomic
def request_verify(*, request: ConnectivityRequest, actor: User | None) -> ConnectivityRequest:
    """Run pre-flight and move the request on where the result allows.

    awaiting_grant/draft → pending_approval when every check passes (→ approved at once under an
    auto-approve policy); pending_approval → awaiting_grant when a check now fails; action_needed
    → provisioning when the customer fixed what blocked it.
    """
    request = ConnectivityRequest.objects.select_for_update().get(pk=request.pk)
    verifiable = {S.DRAFT, S.AWAITING_GRANT, S.PENDING_APPROVAL, S.ACTION_NEEDED, S.DEGRADED}
    if request.state not in verifiable:
        raise TransitionError(
            f"Checks run before approval or while action is needed; this request is "
            f"{lifecycle.label(request.state)}.", current_state=request.state)
    passed = _store_checks(request, actor=actor)
    if request.state in (S.DRAFT, S.AWAITING_GRANT) and passed:
        request = lifecycle.transition(
            request, to=S.PENDING_APPROVAL, actor=actor, action="ready_for_approval",
            message="Pre-flight passed; waiting for approval.", status_message="")
        if request.organization.auto_approve:
            request = lifecycle.transition(
                request, to=S.APPROVED, actor=None, action="auto_approved",
                message="Approved automatically: the organisation's policy approves requests "
                        "whose pre-flight passes.", approved_at=timezone.now())
            enqueue_advance(request)
    elif request.state == S.PENDING_APPROVAL and not passed:
        request = lifecycle.transition(
            request, to=S.AWAITING_GRANT, actor=actor, action="checks_failed",
            message="A pre-flight check no longer passes; the customer must fix it.")
    elif request.state in (S.ACTION_NEEDED, S.DEGRADED) and passed:
        request = lifecycle.transition(
            request, to=S.PROVISIONING, actor=actor, action="resumed",
            message="The customer fixed what blocked provisioning; resuming.",
            status_message="", step=request.step)
        enqueue_advance(request)
    return request


@transaction.atomic
def request_approve(
    *, request: ConnectivityRequest, actor: User, override_reason: str = ""
) -> ConnectivityRequest:
    """An approver approves. Pre-flight must pass, unless the approver records why not."""
    _require_approver(actor)
    _require_other_eyes(actor, request)
    override_reason = override_reason.strip()
    if not request.preflight_passed and not override_reason:
        raise ValidationError({"override_reason": [
            "Pre-flight has not passed; give a reason to approve anyway, or re-run the checks."
        ]})
    message = "Approved."
    if override_reason:
        message = f"Approved despite pre-flight: {override_reason}"
    request = lifecycle.transition(
        request, to=S.APPROVED, actor=actor, action="approved", message=message,
        from_states=[S.PENDING_APPROVAL], approved_by=actor, approved_at=timezone.now())
    enqueue_advance(request)
    notifications.notify_customer(request, "approved")
    return request


@transaction.atomic
def request_reject(*, request: ConnectivityRequest, actor: User, reason: str) -> ConnectivityRequest:
    _require_approver(actor)
    _require_other_eyes(actor, request)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Give the customer a reason for the rejection."]})
    request = lifecycle.transition(
        request, to=S.REJECTED, actor=actor, action="rejected", message=reason,
        from_states=[S.PENDING_APPROVAL], status_message=reason)
    notifications.notify_customer(request, "rejected")
    return request


@transaction.atomic
def request_cancel(
    *, request: ConnectivityRequest, actor: User, reason: str = ""
) -> ConnectivityRequest:
    """Withdraw a request before anything was created in Azure. Staff need the approver role."""
    if actor.is_staff and not selectors.is_approver(actor):
        raise PermissionDenied("Only approvers may cancel a customer's request.")
    return lifecycle.transition(
        request, to=S.CANCELLED, actor=actor, action="cancelled",
        message=reason.strip() or "Cancelled.",
        from_states=lifecycle.CANCELLABLE_STATES)


@transaction.atomic
def request_retry(*, request: ConnectivityRequest, actor: User) -> ConnectivityRequest:
    """Staff retry a failed request from the step that failed (provisioning or teardown)."""
    _require_approver(actor)
    _require_other_eyes(actor, request)
    tearing_down = request.step.startswith("remove")
    request = lifecycle.transition(
        request, to=S.REMOVING if tearing_down else S.PROVISIONING, actor=actor,
        action="retried", from_states=[S.FAILED], status_message="", attempts=0,
        message=f"Retrying from step {request.step or 'start'}.")
    enqueue_advance(request)
    return request


@transaction.atomic
def request_teardown(
    *, request: ConnectivityRequest, actor: User, reason: str = "",
    remove_dependents: bool = False,
) -> ConnectivityRequest:
    """Remove what the request created. Customers and approvers may ask; workers do it.

    A peering that other connections depend on (a forwarding rule whose DNS servers are
    reachable only through it) is removed only with ``remove_dependents=True``, which removes
    them too; otherwise ``dependencies.DependentsExist`` lists them and nothing changes."""
    from connectivity import dependencies

    if actor.is_staff and not selectors.is_approver(actor):
        raise PermissionDenied("Only approvers may tear down connectivity.")
    dependents = dependencies.dependents_of(request)
    if dependents and not remove_dependents:
        raise dependencies.DependentsExist(request, dependents)
    for dependent in dependents:
        if dependent.state in lifecycle.TEARDOWN_STATES:
            request_teardown(request=dependent, actor=actor,
                             reason=f"Removed with the peering {request.short_id} it depends on.")
        elif dependent.state in lifecycle.CANCELLABLE_STATES:
            request_cancel(request=dependent, actor=actor,
                           reason=f"Cancelled with the peering {request.short_id} it depends on.")
    request = lifecycle.transition(
        request, to=S.REMOVING, actor=actor, action="teardown_requested",
        message=reason.strip() or "Removal requested.",
        from_states=lifecycle.TEARDOWN_STATES, step="remove_start", status_message="",
        attempts=0)
    enqueue_advance(request)
    return request


@transaction.atomic
def organization_set_auto_approve(
    *, organization: Organization, actor: User, enabled: bool
) -> Organization:
    """Turn the organisation's auto-approve policy on or off (approvers only); audited."""
    _require_approver(actor)
    Organization.objects.filter(pk=organization.pk).update(auto_approve=enabled)
    organization.auto_approve = enabled
    AuditEntry.objects.create(
        actor=actor, actor_label=lifecycle.actor_label(actor), organization=organization,
        action="organization.auto_approve_on" if enabled else "organization.auto_approve_off",
        target=organization.name, data={"auto_approve": enabled},
    )
    return organization


@transaction.atomic
def comment_create(
    *, request: ConnectivityRequest, actor: User, body: str, internal: bool = False
) -> Comment:
    """A message in the ticket thread. Internal notes are staff-only and notify nobody."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": ["Write a message before sending."]})
    if len(body) > 10000:
        raise ValidationError({"body": ["Messages are at most 10,000 characters."]})
    if internal:
        _require_support(actor)
    comment = Comment.objects.create(request=request, author=actor, body=body, internal=internal)
    from connectivity.webhooks import events as webhook_events

    webhook_events.on_comment(comment)  # public comments only
    # An internal note's text stays in the staff-only thread, never in the timeline.
    record_event(request=request, actor=actor,
                 action=selectors.INTERNAL_NOTE_ACTION if internal else "commented",
                 message="Internal note added." if internal else body[:200])
    if not internal and actor.is_staff:
        notifications.notify_customer(request, "staff_reply", comment=comment)
    elif not internal:
        notifications.notify_staff_of_comment(request, comment)
    return comment


# --- API tokens -------------------------------------------------------------------------------

API_TOKEN_PREFIX = "cp_"
API_TOKEN_PREFIX_LENGTH = 12  # "cp_" and nine random characters: enough to tell tokens apart


def api_token_hash(plaintext: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 (no salt, no stretching) is enough."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _require_owner(actor: User, organization: Organization) -> None:
    if selectors.organization_of(actor) != organization or not selectors.is_owner(actor):
        raise PermissionDenied("Only the organisation's owners manage API tokens.")


@transaction.atomic
def api_token_create(
    *,
    actor: User,
    organization: Organization,
    name: str,
    scope: str,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for the organisation. The plaintext is returned once and never stored."""
    _require_owner(actor, organization)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the token a name, e.g. the pipeline that will use it."]
    elif len(name) > 100:
        errors["name"] = ["Token names are at most 100 characters."]
    elif any(ord(ch) < 32 or ch == "\x7f" for ch in name):
        errors["name"] = ["Token names must not contain control characters."]
    if scope not in ApiToken.Scope.values:
        errors["scope"] = [f"Scope must be one of: {', '.join(ApiToken.Scope.values)}."]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["The expiry must be in the future."]
    if errors:
        raise ValidationError(errors)
    plaintext = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        organization=organization, created_by=actor, name=name, scope=scope,
        prefix=plaintext[:API_TOKEN_PREFIX_LENGTH], token_hash=api_token_hash(plaintext),
        expires_at=expires_at,
    )
    AuditEntry.objects.create(
        actor=actor, actor_label=lifecycle.actor_label(actor), organization=organization,
        action="api_token.created", target=f"{token.name} ({token.prefix}…)",
        data={"token_id": token.pk, "scope": scope,
              "expires_at": expires_at.isoformat() if expires_at else None},
    )
    return token, plaintext


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User) -> ApiToken:
    """Revoke at once; revoking a revoked token changes nothing."""
    _require_owner(actor, token.organization)
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=token.revoked_at)
    AuditEntry.objects.create(
        actor=actor, actor_label=lifecycle.actor_label(actor), organization=token.organization,
        action="api_token.revoked", target=f"{token.name} ({token.prefix}…)",
        data={"token_id": token.pk},
    )
    return token
