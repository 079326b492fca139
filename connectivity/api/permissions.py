"""Who may call what: read-only tokens read, staff endpoints are for staff sessions."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from connectivity import selectors
from connectivity.api.authentication import token_of
from connectivity.mfa import mfa_redirect_url, staff_needs_mfa
from connectivity.models import ApiToken


class TokenScope(BasePermission):
    """A read-only token may only read; sessions and read-write tokens may write."""

    message = "This token is read-only; create a read-write token to change anything."

    def has_permission(self, request: Request, view: Any) -> bool:
        token = token_of(request)
        return (token is None or token.scope == ApiToken.Scope.WRITE
                or request.method in SAFE_METHODS)


class StaffSession(BasePermission):
    """The console's rules through the API: a signed-in staff member, never a token, in a session
    that passed MFA, with a console role.

    Tokens belong to organisations, so a customer (or a token) gets a 404: to them the staff
    endpoints do not exist. Staff without MFA in this session, or in no console group, get a 403
    that says which; the services decide who may approve (approvers, four eyes: 403 too).
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if token_of(request) is not None or not selectors.is_staff_member(user):  # type: ignore[arg-type]
            raise exceptions.NotFound("Not found.")
        if staff_needs_mfa(request._request):
            where = mfa_redirect_url(request._request).split("?")[0]
            raise exceptions.PermissionDenied(
                "Staff endpoints need a session that passed two-factor authentication; this one "
                f"did not. Complete it at {where} and try again.")
        if not selectors.is_support(user):  # type: ignore[arg-type]
            raise exceptions.PermissionDenied(
                "Your staff account has no console role: the staff API needs the support group "
                "to read and the approver group to decide. Ask an administrator to add you.")
        return True
