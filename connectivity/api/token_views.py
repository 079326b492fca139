"""The owners' page for API tokens: list, create (the token is shown once), revoke.

Only the organisation's owners manage tokens; a member is told so (403), and a token id of
another organisation is a 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from connectivity import selectors, services
from connectivity.mfa import mfa_required
from connectivity.models import ApiToken, Membership, User

EXPIRY_CHOICES = [("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year"),
                  ("never", "Never")]


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “terraform-prod”.")
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ,
                              widget=forms.RadioSelect)
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, initial="90", label="Expires")

    def expires_at(self) -> datetime | None:
        choice = self.cleaned_data["expires"]
        return None if choice == "never" else timezone.now() + timedelta(days=int(choice))


def _owner_or_refuse(request: HttpRequest) -> HttpResponse | None:
    user: User = request.user  # type: ignore[assignment]
    if selectors.organization_of(user) is None:
        raise Http404("You do not belong to an organisation.")
    if not selectors.is_owner(user):
        organization = selectors.organization_of(user)
        owners = sorted(organization.memberships.filter(  # type: ignore[union-attr]
            role=Membership.Role.OWNER, user__is_active=True).values_list("user__email", flat=True))
        return render(request, "api/tokens_forbidden.html", {"nav": "tokens", "owners": owners},
                      status=403)
    return None


def _list_page(request: HttpRequest, form: ApiTokenForm, *, status: int = 200) -> HttpResponse:
    tokens = selectors.api_tokens_for(request.user).select_related("created_by")  # type: ignore[arg-type]
    return render(request, "api/tokens.html", {
        "form": form, "tokens": tokens, "now": timezone.now(), "nav": "tokens",
        "organization": selectors.organization_of(request.user),  # type: ignore[arg-type]
    }, status=status)


@never_cache
@login_required
@mfa_required  # a staff owner mints tokens only in a session that passed MFA
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    refused = _owner_or_refuse(request)
    if refused is not None:
        return refused
    if request.method != "POST":
        return _list_page(request, ApiTokenForm())
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    try:
        token, plaintext = services.api_token_create(
            actor=request.user, organization=selectors.organization_of(request.user),  # type: ignore[arg-type]
            name=form.cleaned_data["name"], scope=form.cleaned_data["scope"],
            expires_at=form.expires_at())
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            for message in messages:
                form.add_error(field if field in form.fields else None, message)
        return _list_page(request, form, status=400)
    # Rendered, not redirected: the plaintext must not sit in a session or a URL.
    return render(request, "api/token_created.html",
                  {"token": token, "plaintext": plaintext, "nav": "tokens"})


@login_required
@mfa_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    refused = _owner_or_refuse(request)
    if refused is not None:
        return refused
    token = selectors.api_tokens_for(request.user).filter(pk=token_id).first()  # type: ignore[arg-type]
    if token is None:
        raise Http404("No such token in your organisation.")
    services.api_token_revoke(token=token, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, f"Revoked “{token.name}”: anything still using it now gets 401.")
    return redirect("api:tokens")
