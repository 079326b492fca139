"""The webhooks pages (`/webhooks/`): owners manage endpoints, everyone reads the delivery logs.

A member sees the endpoints and logs read-only and is told who the owners are; their writes are
a 403. Another organisation's endpoint or delivery is a 404.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from connectivity import selectors
from connectivity.models import Membership, User, WebhookEndpoint
from connectivity.views import portal_view
from connectivity.webhooks import addresses
from connectivity.webhooks import delivery as sending
from connectivity.webhooks import events as webhook_events
from connectivity.webhooks import selectors as webhook_selectors
from connectivity.webhooks import services as webhook_services

DELIVERIES_SHOWN = 50


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(label="URL", max_length=webhook_services.MAX_URL,
                          help_text="Where to POST the events, e.g. https://ci.example.com/hooks/portal.")
    description = forms.CharField(max_length=webhook_services.MAX_DESCRIPTION, required=False,
                                  help_text="What receives them, e.g. “deploy pipeline”.")
    events = forms.MultipleChoiceField(
        choices=[(t, t) for t in webhook_events.EVENT_TYPES],
        initial=list(webhook_events.EVENT_TYPES), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event type."})

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"].strip()
        try:
            addresses.check_url(url)
        except addresses.AddressRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url


class WebhookEndpointEditForm(WebhookEndpointForm):
    enabled = forms.BooleanField(required=False, label="Enabled",
                                 help_text="Disabled endpoints receive nothing.")


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    user = _user(request)
    organization = selectors.organization_of(user)
    if organization is None:
        raise Http404("You do not belong to an organisation.")
    owners = Membership.objects.filter(organization=organization, role=Membership.Role.OWNER,
                                       user__is_active=True).values_list("user__email", flat=True)
    return {"nav": "webhooks", "organization": organization, "is_owner": selectors.is_owner(user),
            "owners": list(owners), "event_types": [
                (t, webhook_events.describe(t)) for t in webhook_events.EVENT_TYPES],
            "schedule": [sending.human_delay(d) for d in sending.schedule()], **extra}


def _refuse(request: HttpRequest) -> HttpResponse:
    return render(request, "webhooks/forbidden.html", _context(request), status=403)


def _endpoint(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    found = webhook_selectors.endpoint_for(_user(request), endpoint_id)
    if found is None:
        raise Http404("No such webhook endpoint.")
    return found


def _copy_errors(form: forms.Form, exc: ValidationError) -> None:
    for field, problems in exc.message_dict.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


@never_cache
@portal_view
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    context = _context(request)
    endpoints = webhook_selectors.endpoints_for(_user(request)).order_by("created_at", "pk")
    form = WebhookEndpointForm()
    status = 200
    if request.method == "POST":
        if not context["is_owner"]:
            return _refuse(request)
        form = WebhookEndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint, secret = webhook_services.webhook_endpoint_create(
                    actor=_user(request), organization=context["organization"],
                    url=form.cleaned_data["url"], events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"])
            except ValidationError as exc:
                _copy_errors(form, exc)
            else:
                # Rendered, not redirected: the secret must not sit in a session or a URL.
                return render(request, "webhooks/secret.html", {
                    **context, "endpoint": endpoint, "secret": secret, "created": True})
        status = 400
    return render(request, "webhooks/list.html", {**context, "endpoints": endpoints, "form": form},
                  status=status)


@never_cache
@portal_view
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    context = _context(request, endpoint=endpoint, now=timezone.now())
    form = WebhookEndpointEditForm(initial={
        "url": endpoint.url, "description": endpoint.description, "events": endpoint.events,
        "enabled": endpoint.enabled})
    status = 200
    if request.method == "POST":
        if not context["is_owner"]:
            return _refuse(request)
        form = WebhookEndpointEditForm(request.POST)
        if form.is_valid():
            try:
                webhook_services.webhook_endpoint_update(
                    endpoint=endpoint, actor=_user(request), **form.cleaned_data)
            except ValidationError as exc:
                _copy_errors(form, exc)
            else:
                messages.success(request, "Saved.")
                return redirect("webhook_detail", endpoint.pk)
        status = 400
    deliveries = list(webhook_selectors.deliveries_of(endpoint)[:DELIVERIES_SHOWN])
    for shown in deliveries:
        log = list(shown.attempt_log.all())
        shown.last = log[-1] if log else None  # type: ignore[attr-defined]
    return render(request, "webhooks/detail.html",
                  {**context, "form": form, "deliveries": deliveries}, status=status)


@never_cache
@portal_view
@require_POST
def webhook_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    try:
        secret = webhook_services.webhook_secret_rotate(endpoint=endpoint, actor=_user(request))
    except PermissionDenied:
        return _refuse(request)
    return render(request, "webhooks/secret.html",
                  {**_context(request), "endpoint": endpoint, "secret": secret, "created": False})


@portal_view
@require_POST
def webhook_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    try:
        webhook_services.webhook_endpoint_delete(endpoint=endpoint, actor=_user(request))
    except PermissionDenied:
        return _refuse(request)
    messages.success(request, f"Deleted the endpoint {endpoint.url}.")
    return redirect("webhook_list")


@portal_view
@require_POST
def webhook_redeliver(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    delivery = webhook_selectors.delivery_for(endpoint, delivery_id)
    if delivery is None:
        raise Http404("No such delivery.")
    try:
        webhook_services.webhook_redeliver(delivery=delivery, actor=_user(request))
    except PermissionDenied:
        return _refuse(request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Sending {delivery.event_type} ({delivery.message_id}) again.")
    return redirect("webhook_detail", endpoint.pk)
