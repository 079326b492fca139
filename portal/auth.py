"""django-allauth adapters: who may sign up, and which SSO providers are offered."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Customers are invited into an organisation; open sign-up is an explicit choice.
        return bool(settings.ACCOUNT_ALLOW_REGISTRATION)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: object) -> bool:
        return bool(settings.ACCOUNT_ALLOW_REGISTRATION)

    def get_app(self, request: HttpRequest, provider: str, client_id: str | None = None) -> Any:
        """The SSO app about to be used; with no secret in the environment, its client secret is
        the encrypted credential `<provider>_client_secret`, decrypted now (security issue)."""
        app = super().get_app(request, provider, client_id=client_id)
        if not app.secret:
            from connectivity import credentials

            app.secret = credentials.get(f"{app.provider}_client_secret") or ""
        return app
