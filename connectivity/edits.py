"""Fix instead of refile: correct a request in place while it waits on the customer, or file a
closed one again with its values filled in.

A request may be corrected while the customer must act (awaiting grant, action needed), as a
draft, or after failing before anything was created in Azure. The corrected fields are validated
with the same rules as a new request, an event records what changed, and pre-flight runs again
(``services.request_verify``). The proof of control stays: it belongs to the request. Filing
again makes a new request (with a new proof) from a cancelled, rejected or removed one.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from connectivity import kinds, lifecycle
from connectivity.lifecycle import TransitionError, record_event
from connectivity.models import ConnectivityRequest, RequestState, User

S = RequestState

EDITABLE_STATES = frozenset({S.DRAFT, S.AWAITING_GRANT, S.ACTION_NEEDED, S.FAILED})
REFILE_STATES = frozenset({S.CANCELLED, S.REJECTED, S.REMOVED})

def can_edit(request: ConnectivityRequest) -> bool:
    if request.state not in EDITABLE_STATES:
        return False
    if request.state in (S.FAILED, S.ACTION_NEEDED):
        return not _created_something(request)
    return True


def can_refile(request: ConnectivityRequest) -> bool:
    return request.state in REFILE_STATES


def _created_something(request: ConnectivityRequest) -> bool:
    found = {k: v for k, v in (request.azure_resources or {}).items() if v}
    if request.step in ("", "preflight"):
        # What the kind records before its first step writes (a zone's id, to know it is ours).
        for key in kinds.of(request).before_provisioning(request):
            found.pop(key, None)
    return bool(found)


def form_initial(request: ConnectivityRequest) -> dict[str, Any]:
    """The request's values as its kind's form shows them."""
    return kinds.of(request).form_initial(request)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(f"{v['name']} {v['ip']}" if isinstance(v, dict) else str(v)
                         for v in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) or "empty"


@transaction.atomic
def request_edit(*, request: ConnectivityRequest, actor: User,
                 fields: dict[str, Any]) -> ConnectivityRequest:
    """Correct the request's fields and check again. Raises ValidationError keyed by field."""
    from connectivity import services

    request = ConnectivityRequest.objects.select_for_update().get(pk=request.pk)
    if not can_edit(request):
        raise TransitionError(
            f"A request can be corrected while it waits on you, or after failing before "
            f"anything was created; this one is {lifecycle.label(request.state)}.",
            current_state=request.state)
    cleaned = services.clean_request_fields(request.kind, fields)
    services.refuse_create_errors(request.kind, cleaned)
    changes = [(name, getattr(request, name), value) for name, value in cleaned.items()
               if getattr(request, name) != value]
    if not changes:
        raise ValidationError({"__all__": ["Nothing changed: correct a field first."]})
    for name, _old, value in changes:
        setattr(request, name, value)
    ConnectivityRequest.objects.filter(pk=request.pk).update(spec=request.spec)
    record_event(request=request, actor=actor, action="edited", message="\n".join(
        ["Corrected by the customer:"]
        + [f"- {name.replace('_', ' ')}: {_shown(old)} → {_shown(new)}" for name, old, new in changes]))
    if request.state == S.FAILED:
        # Nothing was created: back to the start, as if filed with the right values.
        request = lifecycle.transition(
            request, to=S.PROVISIONING, actor=actor, action="resumed", step="preflight",
            attempts=0, status_message="",
            message="Corrected after failing before anything was created; checking again.")
        services.enqueue_advance(request)
        return request
    if request.state == S.DRAFT:
        return services.request_submit(request=request, actor=actor)
    return services.request_verify(request=request, actor=actor)
