"""Staff must use an authenticator app: a decorator for views and a middleware for the admin.

The console has its own guard (``console.access.console_view``); this module covers the rest of
the site where a staff account can act: the customer pages and Django's admin. Both follow
``CONSOLE_REQUIRE_MFA`` so one setting decides whether staff need TOTP.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

View = Callable[..., HttpResponse]

STAFF_MFA_MESSAGE = (
    "Staff accounts must use two-factor authentication. Set up an authenticator app to continue."
)


def staff_mfa_missing(user: Any) -> bool:
    """True for a signed-in staff user without TOTP, when the policy asks for it."""
    if not (getattr(user, "is_authenticated", False) and user.is_staff):
        return False
    if not getattr(settings, "CONSOLE_REQUIRE_MFA", True):
        return False
    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def _to_mfa_setup(request: HttpRequest) -> HttpResponse:
    messages.warning(request, STAFF_MFA_MESSAGE)
    return redirect("mfa_activate_totp")


def mfa_required(view: View) -> View:
    """Wrap a view so that staff without an authenticator app are sent to set one up first.

    Customers pass through: MFA is offered to them, not forced.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if staff_mfa_missing(request.user):
            return _to_mfa_setup(request)
        return view(request, *args, **kwargs)

    return wrapped


class StaffAdminMFAMiddleware:
    """Django's admin is staff-only, so it gets the same rule as the console."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/admin/") and staff_mfa_missing(request.user):
            return _to_mfa_setup(request)
        return self.get_response(request)
