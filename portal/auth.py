"""django-allauth adapters: who may sign up, which SSO providers are offered, how failed
sign-ins lock, and how MFA secrets are kept (encrypted)."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.views import LoginView as _AllauthLoginView
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Customers are invited into an organisation; open sign-up is an explicit choice.
        return bool(settings.ACCOUNT_ALLOW_REGISTRATION)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """Failed sign-ins lock one account *from one client address*, not the account.

        allauth keys its "5 failures in 5 minutes" lock by the email alone, so anyone could keep
        a staff account locked by typing wrong passwords, while the owner, from their own
        address, could not sign in with the right one. Keyed by account and address, the
        attacker locks only themselves; the per-address limit (10 failures a minute whatever the
        account) still stops one address trying many accounts, and the failed sign-in alert
        tells staff when one account is hammered from many addresses.
        """
        return f"{super()._get_login_attempts_cache_key(request, **credentials)}:" \
               f"{self.get_client_ip(request)}"


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are Fernet tokens in the database, never clear."""

    def encrypt(self, text: str) -> str:
        from connectivity import credentials

        return credentials.encrypt_text(text)

    def decrypt(self, encrypted_text: str) -> str:
        from connectivity import credentials

        return credentials.decrypt_text(encrypted_text)


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


def retry_after(request: HttpRequest, *, action: str, key: str | None = None) -> int:
    """Seconds until allauth's limits for ``action`` let one more attempt through.

    Read from allauth's own counters (a list of attempt times per rate, newest first): a full
    rate opens when the oldest attempt that still counts leaves its window.
    """
    import time

    from allauth.core.internal import ratelimit as allauth_ratelimit
    from django.core.cache import cache

    now = time.time()
    wait = 0.0
    for rate in allauth_ratelimit.get_rates(app="allauth.account", action=action):
        if rate.per == "key" and key is None:
            continue
        cache_key = allauth_ratelimit.get_cache_key(
            request, app="allauth.account", action=action, rate=rate, key=key)
        history = [at for at in cache.get(cache_key, []) if at > now - rate.duration]
        if len(history) >= rate.amount:
            wait = max(wait, history[rate.amount - 1] + rate.duration - now)
    return max(1, int(wait) + 1)


class LoginView(_AllauthLoginView):
    """allauth's sign-in, answering 429 with Retry-After whenever an attempt is refused for too
    many attempts or failures (allauth answers 200 with the form's message for a lockout, and
    429 without Retry-After for its per-address limit)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code == 429 and "Retry-After" not in response:
            response["Retry-After"] = str(retry_after(request, action="login"))
        return response

    def form_invalid(self, form: Any) -> Any:
        response = super().form_invalid(form)
        if form.has_error("__all__", "too_many_login_attempts"):
            response.status_code = 429
            key = AccountAdapter(self.request)._get_login_attempts_cache_key(
                self.request, email=str(form.data.get("login", "")))
            response["Retry-After"] = str(
                retry_after(self.request, action="login_failed", key=key))
        return response


login = LoginView.as_view()
