"""The staff console: queue, request review, actions, organisations' policy and the audit log.

Views read through `console.selectors` and act through `services`; every refusal a service
raises (a race, a missing permission, a missing reason) becomes a message on the page.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from connectivity import four_eyes, lifecycle, selectors, services, sso
from connectivity.console import selectors as console_selectors
from connectivity.console.access import console_view, forbidden
from connectivity.console.forms import (
    ApproveForm,
    AuditFilterForm,
    AutoApproveForm,
    CancelForm,
    CommentForm,
    EmptyForm,
    QueueFilterForm,
    RejectForm,
    TeardownForm,
)
from connectivity.console.labels import staff_check_label
from connectivity.console.plan import planned_resources
from connectivity.lifecycle import TransitionError
from connectivity.models import ConnectivityRequest, Organization, RequestState, User

S = RequestState
PAGE_SIZE = 50
VERIFIABLE_STATES = frozenset({S.DRAFT, S.AWAITING_GRANT, S.PENDING_APPROVAL, S.ACTION_NEEDED,
                               S.DEGRADED})


def preflight_summary(checks: list[dict[str, Any]]) -> tuple[str, str]:
    """(css status, short text) for a stored checklist, read from the row itself."""
    if not checks:
        return "none", "not run"
    failing = [c for c in checks if c.get("status") != "pass"]
    if not failing:
        return "pass", f"{len(checks)}/{len(checks)} passed"
    return "fail", f"{len(failing)} failing: {staff_check_label(failing[0])}"


# --- queue -----------------------------------------------------------------------------------

@console_view
def queue(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET)
    filters = form.filters()
    page = Paginator(console_selectors.queue(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    for item in page.object_list:
        item.preflight_status, item.preflight_text = preflight_summary(item.preflight)
    query = request.GET.copy()
    query.pop("page", None)
    state_query = request.GET.copy()
    for key in ("page", "state"):
        state_query.pop(key, None)
    return render(request, "console/queue.html", {
        "nav": "queue",
        "form": form,
        "page": page,
        "counts": console_selectors.state_counts(filters),
        "active_state": filters.state,
        "query": query.urlencode(),
        "state_query": state_query.urlencode(),
    })


# --- review and actions ---------------------------------------------------------------------

def _load(request_id: uuid.UUID | str) -> ConnectivityRequest:
    found = console_selectors.request_for_staff(request_id)
    if found is None:
        raise Http404
    return found


def _available(target: ConnectivityRequest) -> dict[str, bool]:
    state = target.state
    return {
        "approve": state == S.PENDING_APPROVAL,
        "reject": state == S.PENDING_APPROVAL,
        "retry": state == S.FAILED,
        "cancel": state in lifecycle.CANCELLABLE_STATES,
        "teardown": state in lifecycle.TEARDOWN_STATES,
        "verify": state in VERIFIABLE_STATES,
    }


def _review(request: HttpRequest, target: ConnectivityRequest, *,
            bound: dict[str, forms.Form] | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    bound = bound or {}
    preflight_status, preflight_text = preflight_summary(target.preflight)
    return render(request, "console/review.html", {
        "nav": "queue",
        "req": target,
        "preflight_status": preflight_status,
        "preflight_text": preflight_text,
        "plan": planned_resources(target),
        "events": selectors.events_for(target, user=user),
        "comments": console_selectors.comments_for_staff(target),
        "can_approve": selectors.is_approver(user),
        "four_eyes": four_eyes.conflict(user, target),  # why Approve/Reject/Retry are disabled
        "available": _available(target),
        "approve_form": bound.get("approve", ApproveForm()),
        "reject_form": bound.get("reject", RejectForm()),
        "cancel_form": bound.get("cancel", CancelForm()),
        "teardown_form": bound.get("teardown", TeardownForm()),
        "dependents": _dependents(target),
        "comment_form": bound.get("comment", CommentForm()),
    }, status=status)


def _dependents(target: ConnectivityRequest) -> list[ConnectivityRequest]:
    from connectivity import dependencies

    return dependencies.dependents_of(target)


@console_view
def review(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    return _review(request, _load(request_id))


def _verify(target: ConnectivityRequest, actor: User, data: dict[str, Any]) -> str:
    target = services.request_verify(request=target, actor=actor)
    _status, text = preflight_summary(target.preflight)
    return f"Checks re-run: {text}. The request is {target.get_state_display()}."


def _approve(target: ConnectivityRequest, actor: User, data: dict[str, Any]) -> str:
    services.request_approve(request=target, actor=actor, override_reason=data["override_reason"])
    return "Approved. Provisioning starts now; the customer has been emailed."


def _reject(target: ConnectivityRequest, actor: User, data: dict[str, Any]) -> str:
    services.request_reject(request=target, actor=actor, reason=data["reason"])
    return "Rejected. The customer has been emailed the reason."


def _retry(target: ConnectivityRequest, actor: User, data: dict[str, Any]) -> str:
    target = services.request_retry(request=target, actor=actor)
    return f"Retrying from step {target.step or 'start'}."


def _cancel(target: ConnectivityRequest, actor: User, data: dict[str, Any]) -> str:
    services.request_cancel(request=target, actor=actor, reason=data["reason"])
    return "Cancelled."


def _teardown(target: ConnectivityRequest, actor: User, data: dict[str, Any]) -> str:
    from connectivity import dependencies

    try:
        services.request_teardown(request=target, actor=actor, reason=data["reason"],
                                  remove_dependents=data.get("remove_dependents", False))
    except dependencies.DependentsExist as exc:
        raise ValidationError({"remove_dependents": [exc.message]}) from None
    if data.get("remove_dependents"):
        return "Teardown started, with the connections that depend on it."
    return "Teardown started; the worker removes the resources."


def _comment(target: ConnectivityRequest, actor: User, data: dict[str, Any]) -> str:
    services.comment_create(request=target, actor=actor, body=data["body"],
                            internal=data["internal"])
    if data["internal"]:
        return "Internal note added (staff only)."
    return "Reply sent; the customer is emailed."


@dataclass(frozen=True)
class Action:
    form: type[forms.Form]
    perform: Callable[[ConnectivityRequest, User, dict[str, Any]], str]


ACTIONS: dict[str, Action] = {
    "verify": Action(EmptyForm, _verify),
    "approve": Action(ApproveForm, _approve),
    "reject": Action(RejectForm, _reject),
    "retry": Action(EmptyForm, _retry),
    "cancel": Action(CancelForm, _cancel),
    "teardown": Action(TeardownForm, _teardown),
    "comment": Action(CommentForm, _comment),
}


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's field errors land on the form's field of that name, others at the top."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error)


@console_view
@require_POST
def request_action(request: HttpRequest, request_id: uuid.UUID, action: str) -> HttpResponse:
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    target = _load(request_id)
    actor = request.user
    assert isinstance(actor, User)
    form = spec.form(request.POST)
    if form.is_valid():
        try:
            done = spec.perform(target, actor, form.cleaned_data)
        except TransitionError as exc:
            messages.error(request, exc.message)
            return redirect("console:review", request_id=target.pk)
        except PermissionDenied as exc:
            return forbidden(request, str(exc) or "You may not do this.")
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("console:review", request_id=target.pk)
    messages.error(request, "Nothing was done: see the form below.")
    return _review(request, _load(request_id), bound={action: form}, status=400)


# --- organisations -----------------------------------------------------------------------------

@console_view
def organizations(request: HttpRequest) -> HttpResponse:
    return render(request, "console/organizations.html", {
        "nav": "organizations",
        "organizations": console_selectors.organizations(),
        "can_approve": selectors.is_approver(request.user),  # type: ignore[arg-type]
        "tenant_claims": sso.pending_tenant_claims(),
    })


@console_view
@require_POST
def organization_auto_approve(request: HttpRequest, organization_id: int) -> HttpResponse:
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        raise Http404
    form = AutoApproveForm(request.POST)
    form.is_valid()
    enabled = bool(form.cleaned_data.get("enabled"))
    try:
        services.organization_set_auto_approve(
            organization=organization, actor=request.user, enabled=enabled)  # type: ignore[arg-type]
    except PermissionDenied as exc:
        return forbidden(request, str(exc))
    messages.success(request, f"Auto-approve is now {'on' if enabled else 'off'} for "
                              f"{organization.name}.")
    return redirect("console:organizations")


# --- audit ------------------------------------------------------------------------------------

@console_view
def audit(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    filters = form.filters()
    page = Paginator(console_selectors.audit_rows(filters), PAGE_SIZE).get_page(
        request.GET.get("page"))
    page.object_list = [console_selectors.as_audit_dict(row) for row in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "console/audit.html", {
        "nav": "audit", "form": form, "page": page, "query": query.urlencode(),
    })


CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """Text a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(["time (UTC)", "source", "actor", "organisation", "action", "target",
                           "from", "to", "detail"])
    for row in rows:
        item = console_selectors.as_audit_dict(row)
        at = item["at"].astimezone(UTC).isoformat() if item["at"] else ""
        yield writer.writerow([csv_cell(v) for v in (
            at, item["source"], item["who"], item["org_name"], item["action"], item["ref"],
            item["from_state"], item["to_state"], item["detail"])])


@console_view
def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    form = AuditFilterForm(request.GET)
    rows = console_selectors.audit_rows(form.filters()).iterator(chunk_size=2000)
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
