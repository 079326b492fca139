"""Console: approvers confirm or reject organisations' Entra tenant claims."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from connectivity import sso
from connectivity.console.access import console_view, forbidden
from connectivity.models import TenantClaim


@console_view
@require_POST
def tenant_claim_action(request: HttpRequest, claim_id: int, action: str) -> HttpResponse:
    claim = TenantClaim.objects.select_related("organization").filter(pk=claim_id).first()
    if claim is None or action not in ("confirm", "reject"):
        raise Http404
    service = sso.tenant_claim_confirm if action == "confirm" else sso.tenant_claim_reject
    try:
        service(actor=request.user, claim=claim)  # type: ignore[arg-type]
    except PermissionDenied as exc:
        return forbidden(request, str(exc))
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            for error in errors:
                messages.error(request, error)
        return redirect("console:organizations")
    messages.success(request, f"Tenant {claim.tenant_id} "
                              f"{'confirmed for' if action == 'confirm' else 'rejected for'} "
                              f"{claim.organization.name}.")
    return redirect("console:organizations")
