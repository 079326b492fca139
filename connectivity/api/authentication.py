"""API token authentication.

A token authenticates as the owner who created it (`request.user` is that user, `request.auth`
the `ApiToken`), so every selector and service the browser uses applies unchanged: the token
reaches exactly what its creator's organisation reaches, and timeline events name the creator.
A token stops working when it is revoked, expires, or its creator leaves the organisation it
was made for or is deactivated.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from connectivity.models import ApiToken, User
from connectivity.services import API_TOKEN_PREFIX, api_token_hash

# Recording every use would turn each read into a write; a minute's precision is plenty.
LAST_USED_PRECISION = timedelta(minutes=1)
KEYWORD = "Bearer"


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer cp_...` with a token created on the API tokens page."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Bearer <token>' with no spaces in the token.")
        try:
            plaintext = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token has characters no token has.") from None
        if not plaintext.startswith(API_TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed(
                f"API tokens start with {API_TOKEN_PREFIX}; create one on the API tokens page.")
        return self._check(plaintext)

    def _check(self, plaintext: str) -> tuple[User, ApiToken]:
        # Authentication is infrastructure below the selectors: it finds the token by its hash,
        # with its organisation, its creator and the creator's membership in the same query,
        # and no ORDER BY (the hash is unique).
        found = list(ApiToken.objects.select_related("organization", "created_by__membership")
                     .filter(token_hash=api_token_hash(plaintext))[:1])
        if not found:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = found[0]
        now = timezone.now()
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                f"This token was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC.")
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed(
                f"This token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC.")
        user = token.created_by
        membership = getattr(user, "membership", None)
        if (user is None or not user.is_active or membership is None
                or membership.organization_id != token.organization_id):
            raise exceptions.AuthenticationFailed(
                "This token's creator no longer belongs to its organisation; create a new token.")
        # The same organisation: the selectors read it from the membership without a query.
        membership.organization = token.organization
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'


def token_of(request: Request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "connectivity.api.authentication.TokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organisation API token (cp_...), created by an owner at /api/tokens/.",
        }
