from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.providers.microsoft.provider import MicrosoftGraphProvider
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import get_random_string

from portal.entra.views import EntraOAuth2Adapter


class EntraProvider(MicrosoftGraphProvider):
    """allauth's Microsoft provider, speaking OpenID Connect (see the package docstring)."""

    oauth2_adapter_class = EntraOAuth2Adapter
    pkce_enabled_default = True
    package = "portal.entra"

    def get_default_scope(self) -> list[str]:
        return ["openid", "profile", "email"]

    def redirect(self, request: HttpRequest, process: Any, next_url: str | None = None,
                 data: Any = None, **kwargs: Any) -> HttpResponse:
        # The nonce travels in the stashed state, which allauth pops at the callback: it can
        # be matched once, by the browser session that started this sign-in.
        nonce = get_random_string(43)
        auth_params = dict(kwargs.pop("auth_params", None) or self.get_auth_params())
        auth_params["nonce"] = nonce
        return super().redirect(request, process, next_url, data, auth_params=auth_params,
                                nonce=nonce, **kwargs)

    def extract_uid(self, data: dict[str, Any]) -> str:
        return str(data["oid"])

    def extract_common_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        first, _, last = str(data.get("name") or "").partition(" ")
        return {"email": self._email(data), "first_name": first, "last_name": last}

    def extract_email_addresses(self, data: dict[str, Any]) -> list[EmailAddress]:
        # Unverified here: Entra's email claim is whatever the tenant's admins typed. The
        # portal's adapter trusts it only for a tenant an organisation claimed and staff
        # confirmed (portal.auth).
        email = self._email(data)
        return [EmailAddress(email=email, verified=False, primary=True)] if email else []

    @staticmethod
    def _email(data: dict[str, Any]) -> str:
        return str(data.get("email") or data.get("preferred_username") or "").strip().lower()


provider_classes = [EntraProvider]
