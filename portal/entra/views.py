from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

import jwt
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp, SocialToken
from allauth.socialaccount.providers.microsoft.views import MicrosoftGraphOAuth2Adapter
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse

MULTI_TENANT = ("organizations", "common")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CLOCK_SKEW = 60  # seconds of leeway on exp/nbf/iat, as Microsoft's own libraries allow
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "aud", "iss", "tid", "oid", "nonce"]


class EntraOAuth2Adapter(MicrosoftGraphOAuth2Adapter):
    """Token endpoint as allauth's Microsoft adapter; the profile is the verified id token."""

    state: dict[str, Any] | None = None  # set by the callback view before complete_login

    def complete_login(self, request: HttpRequest, app: SocialApp, token: SocialToken,
                       **kwargs: Any) -> Any:
        id_token = (kwargs.get("response") or {}).get("id_token")
        if not id_token:
            raise OAuth2Error("Microsoft answered without an id token.")
        claims = self.verify_id_token(app, id_token)
        return self.get_provider().sociallogin_from_response(request, claims)

    def verify_id_token(self, app: SocialApp, id_token: str) -> dict[str, Any]:
        """The id token's claims, or OAuth2Error saying which check failed."""
        login_url = str(app.settings.get("login_url", "https://login.microsoftonline.com"))
        tenant = str(app.settings.get("tenant", "organizations"))
        try:
            header = jwt.get_unverified_header(id_token)
            unverified = jwt.decode(id_token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise OAuth2Error("The id token is not a JWT.") from exc
        if header.get("alg") != "RS256":
            raise OAuth2Error("The id token is not signed with RS256.")
        tid = str(unverified.get("tid") or "").lower()
        if not GUID.match(tid):
            raise OAuth2Error("The id token names no tenant.")
        if tenant.lower() not in MULTI_TENANT and tid != tenant.lower():
            raise OAuth2Error("The id token comes from another tenant than the one configured.")
        with get_adapter().get_requests_session() as session:
            response = session.get(f"{login_url}/{tenant}/discovery/v2.0/keys")
            response.raise_for_status()
            keys = response.json()
        key = jwtkit.lookup_kid_jwk(keys, header.get("kid"))
        if key is None:
            raise OAuth2Error("The id token is signed by a key the authority does not publish.")
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token, key=key, algorithms=["RS256"], audience=app.client_id,
                issuer=f"{login_url}/{tid}/v2.0", leeway=CLOCK_SKEW,
                options={"require": REQUIRED_CLAIMS})
        except jwt.ExpiredSignatureError as exc:
            raise OAuth2Error("The id token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise OAuth2Error("The id token is for another application.") from exc
        except jwt.InvalidIssuerError as exc:
            raise OAuth2Error("The id token comes from another issuer.") from exc
        except jwt.PyJWTError as exc:
            raise OAuth2Error(f"The id token is invalid: {exc}.") from exc
        expected = (self.state or {}).get("nonce") or ""
        if not expected or not secrets.compare_digest(str(claims["nonce"]), expected):
            raise OAuth2Error("The id token's nonce is not the one this sign-in sent.")
        # One id token signs in once, even within its nonce's lifetime.
        if not cache.add(f"entra:id-token:{tid}:{claims.get('uti') or claims['nonce']}", True,
                         timeout=int(claims["exp"]) - int(claims["iat"]) + CLOCK_SKEW):
            raise OAuth2Error("This id token was used before.")
        return claims


class EntraCallbackView(OAuth2CallbackView):
    def _get_state(self, request: HttpRequest, provider: Any) -> Any:
        state, response = super()._get_state(request, provider)
        self.adapter.state = state  # type: ignore[attr-defined]
        return state, response


def _404_without_app(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """No Microsoft app configured (the provider is installed, its app is not): 404, not 500."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except SocialApp.DoesNotExist:
            raise Http404("Sign in with Microsoft is not configured.") from None

    return wrapped


oauth2_login = _404_without_app(OAuth2LoginView.adapter_view(EntraOAuth2Adapter))
oauth2_callback = _404_without_app(EntraCallbackView.adapter_view(EntraOAuth2Adapter))
