"""Who may open the console: signed-in staff with a console role, in a session that passed MFA.

Customers get 404 for every console URL so that the console's existence is not confirmed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from connectivity import selectors
from connectivity.mfa import staff_mfa_response
from connectivity.models import User

View = Callable[..., HttpResponseBase]

NO_ROLE_MESSAGE = (
    "Your staff account has no console role. Ask an administrator to add you to the "
    "support or approver group."
)
MFA_MESSAGE = (
    "The staff console requires two-factor authentication. Set up an authenticator app, "
    "then open the console again."
)


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    """A 403 page that says why, with a way back (never Django's bare 403)."""
    return render(request, "console/forbidden.html", {"message": message}, status=403)


def console_view(view: View) -> View:
    """Staff only (404 for anyone else), a session that passed MFA when CONSOLE_REQUIRE_MFA, and
    a console role."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        assert isinstance(user, User)
        if not selectors.is_staff_member(user):
            raise Http404
        refused = staff_mfa_response(request, message=MFA_MESSAGE)  # follows CONSOLE_REQUIRE_MFA
        if refused is not None:
            return refused
        if not selectors.is_support(user):
            return forbidden(request, NO_ROLE_MESSAGE)
        return view(request, *args, **kwargs)

    return wrapped
