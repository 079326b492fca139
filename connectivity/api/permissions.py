"""Who may call what: read-only tokens read, staff endpoints are for staff sessions."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from connectivity import selectors
from connectivity.api.authentication import token_of
from connectivity.models import ApiToken


class TokenScope(BasePermission):
    """A read-only token may only read; sessions and read-write tokens may write."""

    message = "This token is read-only; create a read-write token to change anything."

    def has_permission(self, request: Request, view: Any) -> bool:
        token = token_of(request)
        return (token is None or token.scope == ApiToken.Scope.WRITE
                or request.method in SAFE_METHODS)


class StaffSession(BasePermission):
    """The console's rules through the API: a signed-in staff member, never a token.

    Tokens belong to organisations, so a customer (or a token) gets a 404: to them the staff
    endpoints do not exist. Which staff may approve is left to the services (403).
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if token_of(request) is not None or not selectors.is_staff_member(request.user):  # type: ignore[arg-type]
            raise exceptions.NotFound("Not found.")
        return True
