"""Staff act only in sessions that passed the second factor.

Having an authenticator app is not enough: the question is whether *this session* proved it.
`session_passed_mfa` answers it from allauth's authentication records (allauth writes one record
per factor used in the session: the password, then ``{"method": "mfa", ...}`` after a TOTP or
recovery code, at sign-in or at re-authentication), from an identity provider that said it did
MFA (``session["cp_provider_mfa"]``, set by the SSO sign-in when a setting trusts the provider),
or from an authenticator enrolled in this very session (the user just scanned the code and typed
one).

`staff_mfa_response` is the one guard used by the console, the staff API, Django's admin, the
token page and every portal page: a staff user without TOTP is sent to enrol; one with TOTP whose
session did not pass it is sent to allauth's MFA re-authentication (`/accounts/2fa/reauthenticate/`,
one code, then back to the page asked for). Re-authentication rather than sign-out-and-in: it
keeps the session and the page the user asked for, uses allauth's own code form with its rate
limit, and asks for exactly the factor that is missing. ``CONSOLE_REQUIRE_MFA=false`` switches
the rule off (a local demo only).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

View = Callable[..., HttpResponse]

PROVIDER_MFA_SESSION_KEY = "cp_provider_mfa"
ENROLLED_SESSION_KEY = "cp_mfa_enrolled_user"

STAFF_MFA_MESSAGE = (
    "Staff accounts must use two-factor authentication. Set up an authenticator app to continue."
)
STAFF_REAUTH_MESSAGE = (
    "Staff pages need a session that passed two-factor authentication. Enter a code from your "
    "authenticator app to continue."
)


def mfa_required_for_staff() -> bool:
    return bool(getattr(settings, "CONSOLE_REQUIRE_MFA", True))


def has_totp(user: Any) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def session_passed_mfa(request: HttpRequest) -> bool:
    """True only when this session completed a second factor for the signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    records = get_authentication_records(request, user)
    if any(record.get("method") == "mfa" for record in records):
        return True
    session = request.session
    if session.get(PROVIDER_MFA_SESSION_KEY) is True:
        return True
    return bool(session.get(ENROLLED_SESSION_KEY) == str(user.pk))


def staff_mfa_missing(user: Any) -> bool:
    """True for a signed-in staff user without TOTP, when the policy asks for it."""
    if not (getattr(user, "is_authenticated", False) and user.is_staff):
        return False
    if not mfa_required_for_staff():
        return False
    return not has_totp(user)


def staff_needs_mfa(request: HttpRequest) -> bool:
    """A signed-in staff user whose session has not passed MFA, when the policy asks for it."""
    user = getattr(request, "user", None)
    if user is None or not (user.is_authenticated and user.is_staff):
        return False
    if not mfa_required_for_staff():
        return False
    return not session_passed_mfa(request)


def _come_back_to(request: HttpRequest) -> str:
    """The page to return to after the code: this one, or for a form post (an action URL that
    only takes POST) the page the form was on."""
    from django.utils.http import url_has_allowed_host_and_scheme

    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return referer
    return "/"


def mfa_redirect_url(request: HttpRequest) -> str:
    """Where a staff session without MFA goes: enrolment, or the one-code re-authentication."""
    query = urlencode({"next": _come_back_to(request)})
    if has_totp(request.user):
        return f"{reverse('mfa_reauthenticate')}?{query}"
    return f"{reverse('mfa_activate_totp')}?{query}"


def staff_mfa_response(request: HttpRequest, *, message: str = "") -> HttpResponse | None:
    """None when the request may go on; else the redirect, with a message saying why."""
    if not staff_needs_mfa(request):
        return None
    if has_totp(request.user):
        messages.info(request, STAFF_REAUTH_MESSAGE)
    else:
        messages.warning(request, message or STAFF_MFA_MESSAGE)
    return redirect(mfa_redirect_url(request))


def mfa_required(view: View) -> View:
    """Wrap a view so that staff act only in a session that passed MFA.

    Customers pass through: MFA is offered to them, not forced.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = staff_mfa_response(request)
        if refused is not None:
            return refused
        return view(request, *args, **kwargs)

    return wrapped


class StaffAdminMFAMiddleware:
    """Django's admin is staff-only, so it gets the same rule as the console."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/admin/") and request.path != "/admin/login/":
            refused = staff_mfa_response(request)
            if refused is not None:
                return refused
        return self.get_response(request)


def admin_login(request: HttpRequest) -> HttpResponse:
    """``/admin/login/`` is allauth's sign-in (its rate limits and MFA), never Django's form."""
    from django.http import Http404
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("admin:index")
    if request.user.is_authenticated:
        if not request.user.is_staff:
            raise Http404  # Django's admin does not exist for customers
        return redirect(target)
    return redirect(f"{reverse('account_login')}?{urlencode({'next': target})}")


# --- signal receivers (connected in ConnectivityConfig.ready) ---------------------------------


def _on_authenticator_added(sender: Any, request: HttpRequest | None = None, user: Any = None,
                            authenticator: Any = None, **_: Any) -> None:
    """Typing a code to enrol an authenticator app proves the second factor for this session."""
    if request is None or user is None or getattr(authenticator, "type", "") != "totp":
        return
    request.session[ENROLLED_SESSION_KEY] = str(user.pk)


def _on_signed_in(sender: Any, request: HttpRequest | None = None, user: Any = None,
                  **_: Any) -> None:
    """A password typed at sign-in a moment ago counts as allauth's "Confirm access".

    allauth only accepts records marked ``reauthenticated`` for its sensitive pages, so the
    enrolment page right after the first sign-in asked for the password a second time. The
    sign-in's own password record is marked instead: it is just as fresh, and it still expires
    after ACCOUNT_REAUTHENTICATION_TIMEOUT like any re-authentication.
    """
    if request is None or user is None or not hasattr(request, "session"):
        return
    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY

    records = get_authentication_records(request, user)
    if not records:
        return
    marked = [dict(record) for record in records]
    for record in marked:
        if record.get("method") in {"password", "mfa"}:
            record["reauthenticated"] = True
    request.session[AUTHENTICATION_METHODS_SESSION_KEY] = marked


def connect_signals() -> None:
    from allauth.mfa import signals as mfa_signals
    from django.contrib.auth import user_logged_in

    mfa_signals.authenticator_added.connect(_on_authenticator_added,
                                            dispatch_uid="mfa.enrolled_in_session")
    user_logged_in.connect(_on_signed_in, dispatch_uid="mfa.sign_in_is_fresh")
