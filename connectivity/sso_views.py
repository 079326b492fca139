"""The owners' "Single sign-on" page: claim Entra tenants, require SSO, see who signed in how."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from connectivity import selectors, sso
from connectivity.forms import PortalForm
from connectivity.models import TenantClaim
from connectivity.views import _user, portal_view


class TenantClaimForm(PortalForm):
    tenant_id = forms.CharField(
        label="Tenant ID", max_length=100,
        help_text="Your Microsoft Entra tenant's ID (Entra admin center, Overview).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                      "placeholder": "00000000-0000-0000-0000-000000000000"}))


def _page(request: HttpRequest, form: TenantClaimForm, status: int = 200) -> HttpResponse:
    user = _user(request)
    return render(request, "connectivity/sso.html", {
        "nav": "sso", "form": form, "organization": selectors.organization_of(user),
        "claims": sso.tenant_claims_for(user), "sign_ins": sso.sign_ins_for(user),
    }, status=status)


def _owner_or_403(request: HttpRequest) -> HttpResponse | None:
    if not selectors.is_owner(_user(request)):
        return render(request, "connectivity/sso_forbidden.html", {"nav": "sso"}, status=403)
    return None


@portal_view
def sso_settings(request: HttpRequest) -> HttpResponse:
    refused = _owner_or_403(request)
    if refused:
        return refused
    if request.method == "POST":
        form = TenantClaimForm(request.POST)
        if form.is_valid():
            try:
                claim = sso.tenant_claim_create(actor=_user(request),
                                                tenant_id=form.cleaned_data["tenant_id"])
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, f"Tenant {claim.tenant_id} claimed. It counts once "
                                          "the platform's staff have confirmed it.")
                return redirect("sso_settings")
        return _page(request, form, status=400)
    return _page(request, TenantClaimForm())


@portal_view
@require_POST
def sso_claim_remove(request: HttpRequest, claim_id: int) -> HttpResponse:
    refused = _owner_or_403(request)
    if refused:
        return refused
    try:
        sso.tenant_claim_remove(actor=_user(request), claim_id=claim_id)
    except TenantClaim.DoesNotExist:
        raise Http404 from None
    messages.success(request, "Tenant claim removed; sign-ins from it stop working.")
    return redirect("sso_settings")


@portal_view
@require_POST
def sso_required(request: HttpRequest) -> HttpResponse:
    refused = _owner_or_403(request)
    if refused:
        return refused
    required = request.POST.get("sso_required") == "on"
    try:
        sso.organization_set_sso_required(actor=_user(request), required=required)
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            for error in errors:
                messages.error(request, error)
    except PermissionDenied:
        raise Http404 from None
    else:
        messages.success(request, "Members must now sign in with Microsoft." if required
                         else "Members may sign in with a password again.")
    return redirect("sso_settings")
