"""Single sign-on providers from the environment; base.py and production.py both use it.

Microsoft is allauth's Microsoft provider with ``provider_class`` set to
``portal.entra.provider.EntraProvider`` (OpenID Connect: a verified id token instead of a Graph
call; README, "Single sign-on"). With the bundled simulator it points at the simulator's
Entra ID and its demo app registration unless MICROSOFT_CLIENT_ID names a real one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import environ

PROVIDER_APPS = {
    "microsoft": "allauth.socialaccount.providers.microsoft",
    "google": "allauth.socialaccount.providers.google",
}
REAL_LOGIN_URL = "https://login.microsoftonline.com"
# The simulator's demo app registration for people's sign-in (connectivity.demo seeds it).
SIMULATOR_CLIENT_ID = "77777777-7777-4777-8777-777777777777"
SIMULATOR_CLIENT_SECRET = "simulator-sso-secret"


def providers(env: environ.Env, *, simulator_url: str | None) -> dict[str, dict[str, Any]]:
    """SOCIALACCOUNT_PROVIDERS: each provider whose client id is configured (or defaulted)."""
    result: dict[str, dict[str, Any]] = {}
    client_id = env.str("MICROSOFT_CLIENT_ID", default="")
    if client_id or simulator_url:
        login_url = env.str("MICROSOFT_LOGIN_URL", default="") or (
            REAL_LOGIN_URL if client_id or not simulator_url else simulator_url)
        result["microsoft"] = {
            "provider_class": "portal.entra.provider.EntraProvider",
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [{
                "client_id": client_id or SIMULATOR_CLIENT_ID,
                "secret": (env.str("MICROSOFT_CLIENT_SECRET", default="") if client_id
                           else SIMULATOR_CLIENT_SECRET),
                "settings": {
                    "tenant": env.str("MICROSOFT_TENANT", default="organizations"),
                    "login_url": login_url.rstrip("/"),
                },
            }],
        }
    if env.str("GOOGLE_CLIENT_ID", default=""):
        result["google"] = {
            "APPS": [{
                "client_id": env.str("GOOGLE_CLIENT_ID"),
                "secret": env.str("GOOGLE_CLIENT_SECRET", default=""),
            }],
            "SCOPE": ["openid", "email", "profile"],
            "OAUTH_PKCE_ENABLED": True,
        }
    return result


def installed_apps(apps: list[str], configured: dict[str, Any]) -> list[str]:
    """INSTALLED_APPS with exactly the configured providers' apps: an unconfigured provider's
    URLs (/accounts/google/login/) would answer 500."""
    others = [app for app in apps if app not in PROVIDER_APPS.values()]
    at = others.index("allauth.socialaccount") + 1
    return others[:at] + [PROVIDER_APPS[p] for p in PROVIDER_APPS if p in configured] + others[at:]


def with_form_action(csp: dict[str, Any], configured: dict[str, Any]) -> dict[str, Any]:
    """CSP whose ``form-action`` also allows the providers' authorize endpoints: the sign-in
    button posts to the portal, which redirects there, and browsers apply ``form-action`` to
    that redirect."""
    origins: list[str] = []
    for app in configured.get("microsoft", {}).get("APPS", []):
        origins.append(_origin(app.get("settings", {}).get("login_url") or REAL_LOGIN_URL))
    if "google" in configured:
        origins.append("https://accounts.google.com")
    directives = dict(csp.get("DIRECTIVES", {}))
    directives["form-action"] = ["'self'", *dict.fromkeys(origins)]
    return {**csp, "DIRECTIVES": directives}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
