"""Customer pages: dashboard, request wizard, grant page, request page, profile.

Views read through selectors and change things through services only. Another organisation's
request or cluster is a 404. Every service error becomes a message on the page, never a 500.
"""

from __future__ import annotations

import csv
import io
import json
import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from connectivity import (
    connections,
    csvsafe,
    dependencies,
    edits,
    kinds,
    lifecycle,
    provisioning,
    ratelimit,
    selectors,
    services,
)
from connectivity.azure import grant_formats, roles
from connectivity.forms import (
    KIND_FORMS,
    CommentForm,
    ProfileForm,
    RequestStartForm,
    field_form,
)
from connectivity.lifecycle import TransitionError
from connectivity.mfa import mfa_required
from connectivity.models import (
    Cluster,
    Comment,
    ConnectivityRequest,
    RequestEvent,
    RequestState,
    User,
)
from connectivity.templatetags.portal import action_label, event_lines, render_markdown

S = RequestState
View = Callable[..., HttpResponse]

# Per-user budgets for the buttons that cost Azure calls or staff attention.
VERIFY_LIMIT = (6, 60)  # six pre-flight runs a minute
COMMENT_LIMIT = (10, 60)  # ten messages a minute
REVOKE_CHECK_LIMIT = (6, 60)

# After these, the pre-flight list is history: what was true before provisioning.
HISTORY_STATES = frozenset({S.COMPLETED, S.REMOVED})

STATE_FILTERS: dict[str, tuple[str, frozenset[str]]] = {
    "open": ("Open", frozenset({S.DRAFT, S.AWAITING_GRANT, S.PENDING_APPROVAL, S.APPROVED,
                                S.PROVISIONING, S.ACTION_NEEDED, S.REMOVING})),
    "attention": ("Needs you", frozenset({S.DRAFT, S.AWAITING_GRANT, S.ACTION_NEEDED,
                                          S.DEGRADED})),
    "live": ("Live", frozenset({S.ACTIVE, S.DEGRADED, S.COMPLETED})),
    "closed": ("Closed", frozenset({S.REJECTED, S.CANCELLED, S.FAILED, S.REMOVED})),
}


# --- plumbing ---------------------------------------------------------------------------------


def portal_view(view: View) -> View:
    """Signed in (else to sign-in), staff with MFA, and times in the user's time zone."""

    @login_required
    @mfa_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            timezone.activate(zoneinfo.ZoneInfo(getattr(request.user, "timezone", "") or "UTC"))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo("UTC"))
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    return wrapped


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _get_request(request: HttpRequest, request_id: Any) -> ConnectivityRequest:
    found = selectors.request_for(_user(request), request_id)
    if found is None:
        raise Http404("No such request.")
    return found


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _error_text(exc: Exception) -> str:
    if isinstance(exc, TransitionError):
        return exc.message
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return " ".join(m for msgs in exc.message_dict.values() for m in msgs)
        return " ".join(exc.messages)
    if isinstance(exc, PermissionDenied):
        return str(exc) or "You may not do that."
    return str(exc)


def _limited(request: HttpRequest, name: str, limit: tuple[int, int]) -> int | None:
    return ratelimit.retry_after(f"{name}:{request.user.pk}", limit=limit[0], window=limit[1])


def _too_many(request: HttpRequest, wait: int, what: str, back: str) -> HttpResponse:
    text = f"Too many {what} in a short time; try again in {wait} s."
    if _wants_json(request):
        response: HttpResponse = JsonResponse({"error": text, "retry_after": wait}, status=429)
    else:
        messages.error(request, text)
        response = redirect(back)
        response.status_code = 303
    response["Retry-After"] = str(wait)
    return response


def _revoke_pending(req: ConnectivityRequest) -> bool:
    """The customer still holds a role for the platform that they should remove."""
    return connections.grant_may_remain(req)


def grant_package(req: ConnectivityRequest) -> roles.GrantInstructions:
    return req.kind_def.grant_instructions(req)


def grant_formats_of(req: ConnectivityRequest) -> dict[str, grant_formats.GrantFormat]:
    return dict(req.kind_def.grant_formats(req))


GRANT_FILE_TYPES = {"shell": "text/x-shellscript", "powershell": "text/plain",
                    "hcl": "text/plain", "bicep": "text/plain"}


def _revoke_command(package: roles.GrantInstructions) -> str:
    return next((c for c in package.revoke_commands if "role assignment delete" in c),
                package.revoke_commands[-1])


def grant_explanations(target: roles.GrantTarget) -> tuple[str, ...]:
    """What each grant command does, in the words of the resource it grants the role on."""
    kind = target.kind
    return (
        "Sign in to your own tenant.",
        f"Select the subscription that holds the {kind.noun}.",
        "Make the platform's application known in your tenant (skipped when it already is).",
        f"Create the custom role from role.json: {kind.role_summary}.",
        f"Assign the role to the platform on this one {kind.noun} (least privilege), with this "
        "request's proof of control in the description: it shows the portal that your "
        f"organisation controls the {kind.noun}.",
    )


# --- dashboard and clusters -------------------------------------------------------------------


@portal_view
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    requests_qs = selectors.requests_for(user)
    state_filter = request.GET.get("state", "")
    kind_filter = request.GET.get("kind", "")
    cluster_filter = request.GET.get("cluster", "")
    if state_filter in STATE_FILTERS:
        requests_qs = requests_qs.filter(state__in=STATE_FILTERS[state_filter][1])
    elif state_filter in S.values:
        requests_qs = requests_qs.filter(state=state_filter)
    else:
        state_filter = ""
    if kind_filter in kinds.all_keys():
        requests_qs = requests_qs.filter(kind=kind_filter)
    else:
        kind_filter = ""
    clusters = list(selectors.clusters_for(user))
    if cluster_filter and cluster_filter in {str(c.pk) for c in clusters}:
        requests_qs = requests_qs.filter(cluster_id=cluster_filter)
    else:
        cluster_filter = ""
    # The connections follow the same filters, so a filtered page shows only what matches.
    by_cluster = connections.connections_by_cluster(clusters, requests_qs)
    connection_groups = [{"cluster": c, "connections": by_cluster.get(c.pk, [])}
                         for c in clusters if c.is_dedicated
                         and (not (state_filter or kind_filter or cluster_filter)
                              or by_cluster.get(c.pk))]
    return render(request, "connectivity/dashboard.html", {
        "organization": selectors.organization_of(user),
        "clusters": clusters,
        "connection_groups": connection_groups,
        "requests": requests_qs.select_related("connection_status")[:100],
        "live_states": connections.CONNECTION_STATES,
        "can_request": selectors.requestable_clusters_for(user).exists(),
        "state_filters": [(key, label) for key, (label, _) in STATE_FILTERS.items()],
        "states": S.choices,
        "kinds": kinds.choices(),
        "filters": {"state": state_filter, "kind": kind_filter, "cluster": cluster_filter},
        "filtered": bool(state_filter or kind_filter or cluster_filter),
        "attention_states": STATE_FILTERS["attention"][1],
        "nav": "dashboard",
    })


EXPORT_TYPES = {"txt": "text/plain", "csv": "text/csv", "json": "application/json"}


@portal_view
@require_GET
def cluster_ips_export(request: HttpRequest) -> HttpResponse:
    """External IPs for allowlisting, of one cluster (?cluster=) or all, as txt, csv or json."""
    fmt = request.GET.get("format", "txt")
    if fmt not in EXPORT_TYPES:
        return HttpResponse("format must be one of: txt, csv, json.", status=400,
                            content_type="text/plain")
    clusters: list[Cluster] = list(selectors.clusters_for(_user(request)))
    wanted = request.GET.get("cluster")
    if wanted:
        clusters = [c for c in clusters if str(c.pk) == wanted]
        if not clusters:
            raise Http404("No such cluster.")
    rows = [(c, ip) for c in clusters for ip in c.external_ips]
    if fmt == "txt":
        body = "".join(f"{ip}\n" for _, ip in rows)
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["cluster", "region", "tier", "ip"])
        for cluster, ip in rows:
            writer.writerow([csvsafe.cell(v) for v in (cluster.name, cluster.region,
                                                        cluster.tier, ip)])
        body = out.getvalue()
    else:
        body = json.dumps({"clusters": [
            {"name": c.name, "region": c.region, "tier": c.tier, "external_ips": c.external_ips}
            for c in clusters]}, indent=2) + "\n"
    name = clusters[0].name if wanted else "clusters"
    response = HttpResponse(body, content_type=f"{EXPORT_TYPES[fmt]}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-external-ips.{fmt}"'
    return response


# --- the wizard -------------------------------------------------------------------------------


def _kind_forms(data: Any = None) -> dict[str, Any]:
    return {kind: form_class(data, prefix=kind) for kind, form_class in KIND_FORMS.items()}


def _wizard(start: RequestStartForm, kind_forms: dict[str, Any]) -> dict[str, Any]:
    """The wizard's context: each kind with its form, rendered by its own template partial."""
    return {
        "start": start, "kind_forms": kind_forms,
        "kind_sections": [{"kind": kinds.get(key), "form": form} for key, form in kind_forms.items()],
        "any_errors": bool(start.errors or any(f.errors for f in kind_forms.values())),
        "kinds": kinds.choices(), "nav": "new", "step": 1,
    }


def _apply_service_errors(exc: ValidationError, start: RequestStartForm, form: Any) -> None:
    for field, errors in exc.message_dict.items():
        for message in errors:
            if field in form.fields:
                form.add_error(field, message)
            elif field in start.fields:
                start.add_error(field, message)
            else:
                start.add_error(None, message)


@portal_view
def request_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    clusters = selectors.requestable_clusters_for(user)
    organization = selectors.organization_of(user)
    if organization is None or not clusters.exists():
        return render(request, "connectivity/request_new_unavailable.html", {
            "organization": organization, "nav": "new"}, status=200)
    initial: dict[str, Any] = {"kind": kinds.all_keys()[0]}
    if clusters.count() == 1:
        initial["cluster"] = clusters.first()
    if request.GET.get("kind") in kinds.all_keys():
        initial["kind"] = request.GET["kind"]
    refiled = _refile_source(request, user)
    if refiled is not None:
        initial.update(kind=refiled.kind, cluster=refiled.cluster)
    if request.method == "POST":
        start = RequestStartForm(request.POST, clusters=clusters)
        kind_forms = _kind_forms(request.POST)
        if start.is_valid():
            kind = start.cleaned_data["kind"]
            form = kind_forms[kind]
            # Submitting a kind without a grant runs pre-flight against Azure at once: it
            # counts against the same budget as the Verify button.
            runs_preflight = not kinds.get(kind).needs_grant
            wait = (_limited(request, "verify", VERIFY_LIMIT)
                    if form.is_valid() and runs_preflight else None)
            if wait:
                start.add_error(None, f"Too many checks in a short time; try again in {wait} s.")
                response = render(request, "connectivity/request_new.html",
                                  _wizard(start, kind_forms), status=429)
                response["Retry-After"] = str(wait)
                return response
            if form.is_valid():
                try:
                    created = services.request_create(
                        actor=user, organization=organization,
                        cluster=start.cleaned_data["cluster"], kind=kind,
                        fields=form.service_fields())
                    created = services.request_submit(request=created, actor=user)
                except ValidationError as exc:
                    _apply_service_errors(exc, start, form)
                except (TransitionError, PermissionDenied) as exc:
                    start.add_error(None, _error_text(exc))
                else:
                    if created.needs_grant:
                        messages.success(request, "Request created. Next: grant the platform "
                                                  "its role on your VNet.")
                        return redirect("request_grant", created.pk)
                    if created.state == S.PENDING_APPROVAL:
                        messages.success(request, "Request created; its checks passed and it "
                                                  "waits for approval.")
                    else:
                        messages.warning(request, "Request created, but a pre-flight check "
                                                  "did not pass; see the checklist below.")
                    return redirect("request_detail", created.pk)
        status = 400
    else:
        start = RequestStartForm(initial=initial, clusters=clusters)
        kind_forms = _kind_forms()
        if refiled is not None:
            kind_forms[refiled.kind] = KIND_FORMS[refiled.kind](
                prefix=refiled.kind, initial=edits.form_initial(refiled))
        status = 200
    return render(request, "connectivity/request_new.html",
                  {**_wizard(start, kind_forms), "refiled": refiled}, status=status)


def _refile_source(request: HttpRequest, user: User) -> ConnectivityRequest | None:
    """``?from=<id>``: a closed request of the organisation whose values fill the wizard."""
    source = request.GET.get("from", "")
    if not source:
        return None
    found = selectors.request_for(user, source)
    if found is None or not edits.can_refile(found):
        return None
    return found


@portal_view
def request_edit(request: HttpRequest, request_id: Any) -> HttpResponse:
    """Correct a request's fields in place while it waits on the customer, and check again."""
    req = _get_request(request, request_id)
    if not edits.can_edit(req):
        messages.error(request, "This request can no longer be corrected here; file it again "
                                "instead." if edits.can_refile(req) else
                                "This request can no longer be corrected.")
        return redirect("request_detail", req.pk)
    form_class: Any = KIND_FORMS[req.kind]
    status = 200
    if request.method == "POST":
        form = form_class(request.POST, prefix=req.kind)
        wait = _limited(request, "verify", VERIFY_LIMIT) if form.is_valid() else None
        if wait:
            return _too_many(request, wait, "checks", reverse("request_edit", args=[req.pk]))
        if form.is_valid():
            try:
                req = edits.request_edit(request=req, actor=_user(request),
                                         fields=form.service_fields())
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
            except (TransitionError, PermissionDenied) as exc:
                form.add_error(None, _error_text(exc))
            else:
                messages.success(request, "Corrected; provisioning starts again."
                                 if req.state == S.PROVISIONING else
                                 "Corrected; the checks ran again.")
                return redirect("request_grant" if req.needs_grant
                                and req.state == S.AWAITING_GRANT else "request_detail", req.pk)
        status = 400
    else:
        form = form_class(prefix=req.kind, initial=edits.form_initial(req))
    return render(request, "connectivity/request_edit.html", {
        "req": req, "form": form, "nav": "requests"}, status=status)


@portal_view
@require_POST
def request_validate(request: HttpRequest) -> JsonResponse:
    """Inline validation of one wizard field, with the same rules as the form: names the rule."""
    name = request.POST.get("field", "")
    kind, _, field_name = name.partition("-")
    form_class = KIND_FORMS.get(kind) or field_form(field_name)
    if form_class is None or field_name not in form_class.base_fields:
        return JsonResponse({"field": name, "errors": ["Unknown field."]}, status=400)
    form = form_class(request.POST, prefix=kind)
    form.is_valid()
    errors = list(form.errors.get(field_name, []))
    return JsonResponse({"field": name, "errors": errors})


# --- grant ------------------------------------------------------------------------------------


@portal_view
@require_GET
def request_grant(request: HttpRequest, request_id: Any) -> HttpResponse:
    req = _get_request(request, request_id)
    if not req.needs_grant:
        messages.info(request, f"{connections.kind_noun(req, capital=True)} needs no role in "
                               "your subscription.")
        return redirect("request_detail", req.pk)
    package = grant_package(req)
    target = package.target
    assert target is not None, "roles.instructions always says what the role is granted on"
    formats = grant_formats_of(req)
    chosen = request.GET.get("format", "cli")
    return render(request, "connectivity/request_grant.html", {
        "req": req, "package": package,
        "formats": list(formats.values()),
        "chosen_format": chosen if chosen in formats else "cli",
        "commands": list(zip(package.grant_commands, grant_explanations(target), strict=False)),
        "target": target.kind, "checks_summary": req.kind_def.grant_checks_summary,
        "revoke_command": _revoke_command(package),
        "onboarding": _onboarding(req),
        "can_verify": req.state in (S.DRAFT, S.AWAITING_GRANT, S.PENDING_APPROVAL),
        "nav": "new", "step": 2,
    })


def _onboarding(req: Any) -> dict[str, Any]:
    """How the platform's application gets into the customer's tenant, and whether pre-flight
    last saw it there."""
    app_id = settings.AZURE_CLIENT_ID
    last = next((c for c in req.preflight or []
                 if isinstance(c, dict) and c.get("key") == "app_in_tenant"), None)
    return {"app_id": app_id, "consent_url": roles.admin_consent_url(req.tenant_id, app_id),
            "sp_command": roles.service_principal_command(app_id),
            "status": (last or {}).get("status")}


@portal_view
@require_GET
def request_grant_download(request: HttpRequest, request_id: Any, what: str) -> HttpResponse:
    req = _get_request(request, request_id)
    if not req.needs_grant:
        raise Http404("This request needs no role.")
    package = grant_package(req)
    if what == "role.json":
        response = HttpResponse(package.role_definition_json, content_type="application/json")
    elif what == "grant.sh":
        response = HttpResponse(package.grant_script, content_type="text/x-shellscript")
    elif what == "revoke.sh":
        response = HttpResponse(package.revoke_script, content_type="text/x-shellscript")
    elif found := grant_formats.find_file(grant_formats_of(req), what):
        response = HttpResponse(found.content,
                                content_type=f"{GRANT_FILE_TYPES[found.language]}; charset=utf-8")
    else:
        raise Http404("No such file.")
    response["Content-Disposition"] = f'attachment; filename="{what}"'
    return response


def _check_json(check: dict[str, Any]) -> dict[str, str]:
    return {"key": str(check.get("key", "")), "label": str(check.get("label", "")),
            "status": str(check.get("status", "")), "message": str(check.get("message", ""))}


@portal_view
@require_POST
def request_verify(request: HttpRequest, request_id: Any) -> HttpResponse:
    req = _get_request(request, request_id)
    on_grant_page = req.needs_grant and request.POST.get("from") != "detail"
    back = reverse("request_grant" if on_grant_page else "request_detail", args=[req.pk])
    wait = _limited(request, "verify", VERIFY_LIMIT)
    if wait:
        return _too_many(request, wait, "checks", back)
    try:
        req = services.request_verify(request=req, actor=_user(request))
    except (TransitionError, ValidationError, PermissionDenied) as exc:
        if _wants_json(request):
            return JsonResponse({"error": _error_text(exc)}, status=409)
        messages.error(request, _error_text(exc))
        return redirect(back)
    passed = req.preflight_passed
    if passed and req.state == S.PENDING_APPROVAL:
        outcome = "Every check passed. Your request is submitted for approval."
    elif passed:
        outcome = f"Every check passed. The request is {req.get_state_display()}."
    else:
        outcome = "Some checks did not pass yet; fix what they say, then verify again."
    if _wants_json(request):
        return JsonResponse({
            "state": req.state, "label": req.get_state_display(), "passed": passed,
            "message": outcome, "checks": [_check_json(c) for c in req.preflight],
            "detail_url": reverse("request_detail", args=[req.pk]),
        })
    (messages.success if passed else messages.warning)(request, outcome)
    return redirect(back)


# --- request page -----------------------------------------------------------------------------


def _event_json(event: RequestEvent) -> dict[str, Any]:
    local = timezone.localtime(event.created_at)
    lines = event_lines(event.message, event.action)
    return {
        "id": event.pk,
        "time": local.isoformat(),
        "time_display": local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "actor": event.actor_label,
        "action": action_label(event.action),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "to_label": lifecycle.label(event.to_state) if event.to_state else "",
        "message": "" if lines["in_thread"] else event.message,
        "lines": lines,
    }


def _comment_json(comment: Comment) -> dict[str, Any]:
    local = timezone.localtime(comment.created_at)
    return {
        "id": comment.pk,
        "author": comment.author.email if comment.author else "deleted user",
        "staff": bool(comment.author and comment.author.is_staff),
        "time": local.isoformat(),
        "time_display": local.strftime("%Y-%m-%d %H:%M %Z"),
        "html": render_markdown(comment.body),
    }


def _events(req: ConnectivityRequest, user: User) -> Any:
    """The timeline; staff-only internal notes leave an event too, which customers must not see."""
    return selectors.events_for(req, user=user)


def _actions(req: ConnectivityRequest) -> dict[str, bool]:
    return {
        "cancel": req.state in lifecycle.CANCELLABLE_STATES,
        "teardown": req.state in lifecycle.TEARDOWN_STATES,
        "verify": req.state in (S.DRAFT, S.AWAITING_GRANT, S.PENDING_APPROVAL, S.ACTION_NEEDED,
                                S.DEGRADED),
        "grant": req.needs_grant and req.state in (S.DRAFT, S.AWAITING_GRANT, S.PENDING_APPROVAL,
                                                   S.ACTION_NEEDED),
        "edit": edits.can_edit(req),
        "refile": edits.can_refile(req),
    }


def _leftover_command(req: ConnectivityRequest) -> str:
    """After removal, the command that deletes the customer's own (now useless) side."""
    if req.state == S.REMOVED:
        return str(req.kind_def.leftover_command(req))
    return ""


def _status_text(req: ConnectivityRequest, leftover: str) -> str:
    """The status message without the sentence about a command the page shows in its own
    panel, with a code block and a copy button."""
    text = req.status_message or ""
    if not leftover or leftover not in text:
        return text
    head = text[:text.index(leftover)]
    end = head.rfind(". ")
    return head[:end + 1] if end >= 0 else ""


@portal_view
@require_GET
def request_detail(request: HttpRequest, request_id: Any) -> HttpResponse:
    req = _get_request(request, request_id)
    user = _user(request)
    events = list(_events(req, user))
    comments = list(selectors.comments_for(req, user=user))
    package = grant_package(req) if req.needs_grant else None
    leftover = _leftover_command(req)
    return render(request, "connectivity/request_detail.html", {
        "req": req, "events": events, "comments": comments,
        "leftover_command": leftover,
        "status_text": _status_text(req, leftover),
        "last_event_id": events[-1].pk if events else 0,
        "last_comment_id": comments[-1].pk if comments else 0,
        "comment_form": CommentForm(),
        "actions": _actions(req),
        "revoke_pending": _revoke_pending(req),
        "revoke_reason": connections.revoke_reason(req),
        "revoke_command": _revoke_command(package) if package else "",
        "package": package,
        "kind": req.kind_def,
        "cancel_confirm": connections.cancel_confirmation(req),
        "checks_history": req.state in HISTORY_STATES and bool(req.preflight),
        "resources": connections.resources(req),
        "connection": connections.status_of(req),
        "dependents": dependencies.dependents_of(req) if req.state in lifecycle.TEARDOWN_STATES
        else [],
        "depends_on": dependencies.peerings_of(req),
        "dependency_reason": dependencies.broken_reason(req),
        "nav": "requests",
    })


@portal_view
@require_GET
def request_status(request: HttpRequest, request_id: Any) -> JsonResponse:
    """What the request page polls: state, message, new events and comments, the reminder."""
    req = _get_request(request, request_id)
    try:
        since = int(request.GET.get("since", "0"))
        comments_since = int(request.GET.get("comments_since", "0"))
    except ValueError:
        return JsonResponse({"error": "since and comments_since must be whole numbers."},
                            status=400)
    leftover = _leftover_command(req)
    events = _events(req, _user(request)).filter(pk__gt=since)
    comments = selectors.comments_for(req, user=_user(request)).filter(pk__gt=comments_since)
    return JsonResponse({
        "id": str(req.pk),
        "state": req.state,
        "label": req.get_state_display(),
        "status_message": req.status_message,
        "status_text": _status_text(req, leftover),
        "leftover_command": leftover,
        "terminal": req.state in lifecycle.TERMINAL_STATES,
        "revoke_reminder": _revoke_pending(req),
        "revoke_reason": connections.revoke_reason(req),
        "grant_revoked_at": req.grant_revoked_at.isoformat() if req.grant_revoked_at else None,
        "checks": [_check_json(c) for c in req.preflight or []],
        "checks_history": req.state in HISTORY_STATES,
        "azure_resources": {r.label: r.value for r in connections.resources(req)},
        "resources": [{"label": r.label, "ids": list(r.ids), "deleted": r.deleted,
                       "left_behind": r.left_behind} for r in connections.resources(req)],
        "actions": _actions(req),
        "events": [_event_json(e) for e in events],
        "comments": [_comment_json(c) for c in comments],
    })


@portal_view
@require_POST
def request_comment(request: HttpRequest, request_id: Any) -> HttpResponse:
    req = _get_request(request, request_id)
    back = reverse("request_detail", args=[req.pk]) + "#thread"
    wait = _limited(request, "comment", COMMENT_LIMIT)
    if wait:
        return _too_many(request, wait, "messages", back)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            services.comment_create(request=req, actor=_user(request),
                                    body=form.cleaned_data["body"])
        except (ValidationError, PermissionDenied, TransitionError) as exc:
            messages.error(request, f"Message not sent: {_error_text(exc)}")
        else:
            messages.success(request, "Message sent to support.")
    else:
        messages.error(request, "Message not sent: " + " ".join(
            str(m) for errors in form.errors.values() for m in errors))
    return HttpResponseRedirect(back)


def _state_action(request: HttpRequest, request_id: Any, service: Callable[..., Any],
                  done: str) -> HttpResponse:
    req = _get_request(request, request_id)
    reason = (request.POST.get("reason") or "").strip()[:500]
    try:
        service(request=req, actor=_user(request), reason=reason)
    except (TransitionError, ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, done)
    return redirect("request_detail", req.pk)


@portal_view
@require_POST
def request_cancel(request: HttpRequest, request_id: Any) -> HttpResponse:
    return _state_action(request, request_id, services.request_cancel, "Request cancelled.")


@portal_view
@require_POST
def request_teardown(request: HttpRequest, request_id: Any) -> HttpResponse:
    req = _get_request(request, request_id)
    reason = (request.POST.get("reason") or "").strip()[:500]
    also = request.POST.get("remove_dependents") == "on"
    try:
        services.request_teardown(request=req, actor=_user(request), reason=reason,
                                  remove_dependents=also)
    except dependencies.DependentsExist as exc:
        messages.error(request, exc.message)
    except (TransitionError, ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, "Removal requested: the platform is removing what it created"
                                  + (" and what depended on it." if also else "."))
    return redirect("request_detail", req.pk)


@portal_view
@require_POST
def request_check_revoke(request: HttpRequest, request_id: Any) -> HttpResponse:
    """The "check again" button of the revoke reminder."""
    req = _get_request(request, request_id)
    back = reverse("request_detail", args=[req.pk])
    wait = _limited(request, "revoke_check", REVOKE_CHECK_LIMIT)
    if wait:
        return _too_many(request, wait, "checks", back)
    revoked = False
    error = ""
    if not _revoke_pending(req):
        error = "There is no role to revoke on this request now."
    else:
        # The worker's own revoke check, run now so the customer gets an answer at once: it
        # locks the row, completes the request when the role is gone, and is safe to repeat.
        provisioning.request_revoke_check(request_id=str(req.pk))
        req = _get_request(request, req.pk)
        revoked = req.grant_revoked_at is not None
    if error:
        text = error
    elif revoked:
        text = ("The role is gone: thank you. The request is completed." if req.state == S.COMPLETED
                else "The role is gone: thank you.")
    else:
        text = ("The platform still holds the role on your VNet. Run the revoke command, then "
                "check again.")
    if _wants_json(request):
        return JsonResponse({"revoked": revoked, "message": text, "state": req.state,
                             "label": req.get_state_display()}, status=409 if error else 200)
    (messages.success if revoked else messages.warning)(request, text)
    return redirect(back)


# --- profile ----------------------------------------------------------------------------------


@portal_view
def profile(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        form = ProfileForm(request.POST, instance=user)
        if form.is_valid():
            form.save()
            messages.success(request, "Profile saved.")
            return redirect("profile")
        status = 400
    else:
        form = ProfileForm(instance=user)
        status = 200
    return render(request, "connectivity/profile.html", {
        "form": form, "organization": selectors.organization_of(user), "nav": "profile",
    }, status=status)
