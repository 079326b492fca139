"""django-allauth adapters: who may sign up, which SSO providers are offered, how failed
sign-ins lock, and how MFA secrets are kept (encrypted).

Sign in with Microsoft asks ``connectivity.sso.microsoft_verdict`` who the Entra identity may
be, refuses with a page saying why, and records every sign-in's method for the owners' page.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import requests
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.views import LoginView as _AllauthLoginView
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount import app_settings as socialaccount_settings
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

log = logging.getLogger("portal.auth")
SAFE_SSO_ERRORS = ("The id token", "This id token", "Microsoft answered")
PENDING_SSO_KEY = "cp_sso_sign_in"  # this sign-in's tenant and amr, until the login completes
PROVIDER_MFA_KEY = "cp_provider_mfa"  # read by connectivity.mfa.session_passed_mfa


def _last_authentication(request: HttpRequest) -> dict[str, Any]:
    """The first factor of the sign-in under way (allauth logs each one in the session)."""
    records = request.session.get("account_authentication_methods") or []
    for record in reversed(records):
        if isinstance(record, dict) and record.get("method") not in ("mfa", "reauthenticated"):
            return record
    return {}


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


    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse | None:
        from connectivity import sso

        record = _last_authentication(request)
        by_microsoft = (record.get("method") == "socialaccount"
                        and record.get("provider") == "microsoft")
        if not by_microsoft and sso.password_refused(user):
            request.session.pop(PENDING_SSO_KEY, None)
            return render(request, "account/sso_required.html", {
                "organization": user.organization}, status=403)
        response: HttpResponse | None = super().pre_login(request, user, **kwargs)
        return response

    def login(self, request: HttpRequest, user: Any) -> None:
        from connectivity import sso

        pending = request.session.pop(PENDING_SSO_KEY, None) or {}
        super().login(request, user)
        record = _last_authentication(request)
        method = str(record.get("provider") if record.get("method") == "socialaccount"
                     else "password" if str(record.get("method", "")).startswith("password")
                     else "other")
        amr = (pending.get("amr") or []) if method == "microsoft" else []
        tenant_id = str(pending.get("tid") or "") if method == "microsoft" else ""
        provider_mfa = "mfa" in amr
        # Staff from the platform's tenant may count the provider's MFA as the portal's, when
        # the setting trusts it; never a customer tenant's word, never for a password.
        request.session[PROVIDER_MFA_KEY] = bool(
            provider_mfa and settings.SSO_TRUST_PROVIDER_MFA and user.is_staff
            and tenant_id == sso.staff_tenant_id())
        sso.sign_in_record(user=user, method=method, tenant_id=tenant_id,
                           provider_mfa=provider_mfa)


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are Fernet tokens in the database, never clear."""

    def encrypt(self, text: str) -> str:
        from connectivity import credentials

        return credentials.encrypt_text(text)

    def decrypt(self, encrypted_text: str) -> str:
        from connectivity import credentials

        return credentials.decrypt_text(encrypted_text)


class _AuthorityTrustingSession(requests.Session):
    """Trusts ``ca_bundle`` for URLs under ``prefix`` only (the simulator's self-signed CA, as
    the Azure clients do); every other URL keeps the system's CAs."""

    def __init__(self, prefix: str, ca_bundle: str) -> None:
        super().__init__()
        self._prefix, self._ca_bundle = prefix, ca_bundle

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if str(url).startswith(self._prefix + "/"):
            merged["verify"] = self._ca_bundle
        return merged


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        # A first Microsoft sign-in from a confirmed tenant joins that organisation
        # (pre_social_login has refused every other one).
        if getattr(sociallogin, "_cp_join", None) is not None:
            return True
        return bool(settings.ACCOUNT_ALLOW_REGISTRATION)

    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        if sociallogin.account.provider != "microsoft":
            return
        from connectivity import sso

        claims = sociallogin.account.extra_data or {}
        user = sociallogin.user if sociallogin.is_existing else None
        connecting = sociallogin.state.get("process") == "connect"
        if connecting and request.user.is_authenticated:
            user = request.user
        email = str(claims.get("email") or claims.get("preferred_username") or "")
        verdict = sso.microsoft_verdict(tenant_id=str(claims.get("tid") or ""), email=email,
                                        user=user)
        if verdict.refusal:
            raise ImmediateHttpResponse(render(request, "account/sso_refused.html", {
                "reason": verdict.refusal, "email": email}, status=403))
        # The tenant is the organisation's (or the platform's): its directory vouches for the
        # address, so no confirmation mail.
        for address in sociallogin.email_addresses:
            address.verified = True
        request.session[PENDING_SSO_KEY] = {"tid": str(claims.get("tid") or "").lower(),
                                            "amr": list(claims.get("amr") or [])}
        if verdict.organization is not None:
            sociallogin._cp_join = verdict.organization
        elif verdict.user is not None and not sociallogin.is_existing and not connecting:
            sociallogin.connect(request, verdict.user)

    def on_authentication_error(self, request: HttpRequest, provider: Any, error: Any = None,
                                exception: Any = None, extra_context: Any = None) -> None:
        """Say which check failed when it is one of the id-token checks (portal.entra), and
        log every failure for the security log's readers."""
        message = str(exception or "")
        if extra_context is not None and message.startswith(SAFE_SSO_ERRORS):
            extra_context["sso_reason"] = message
        log.warning("SSO sign-in with %s failed: %s %s", getattr(provider, "id", provider),
                    error, message)

    def save_user(self, request: HttpRequest, sociallogin: Any, form: Any = None) -> Any:
        user = super().save_user(request, sociallogin, form)
        organization = getattr(sociallogin, "_cp_join", None)
        if organization is not None:
            from connectivity import sso

            sso.member_join(user=user, organization=organization)
        return user

    def get_app(self, request: HttpRequest, provider: str, client_id: str | None = None) -> Any:
        """The SSO app about to be used; with no secret in the environment, its client secret is
        the encrypted credential `<provider>_client_secret`, decrypted now (security issue)."""
        app = super().get_app(request, provider, client_id=client_id)
        if not app.secret:
            from connectivity import credentials

            app.secret = credentials.get(f"{app.provider}_client_secret") or ""
        return app

    def get_requests_session(self) -> requests.Session:
        ca_bundle = getattr(settings, "AZURE_CA_BUNDLE", None)
        if not ca_bundle:
            return super().get_requests_session()  # type: ignore[no-any-return]
        session = _AuthorityTrustingSession(settings.AZURE_AUTHORITY_HOST.rstrip("/"), ca_bundle)
        session.request = functools.partial(  # type: ignore[method-assign]
            session.request, timeout=socialaccount_settings.REQUESTS_TIMEOUT)
        return session


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
