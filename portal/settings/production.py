"""Production: every secret from the environment, TLS everywhere, nothing insecure by default.

`make check-deploy` runs `manage.py check --deploy --fail-level WARNING` against this module with
dummy secrets; CI fails on any warning. tests/security/test_headers.py asserts the headers a page
gets under these settings.
"""

from __future__ import annotations

from typing import Any

from portal.settings import sso

from .base import *  # noqa: F403
from .base import (
    CONTENT_SECURITY_POLICY,
    INSTALLED_APPS,
    REST_FRAMEWORK,
    env,
    required,
)

DEBUG = False
# Webhooks never reach this machine or its networks in production, whatever the environment says.
WEBHOOK_ALLOW_LOOPBACK = False
SECRET_KEY = required("DJANGO_SECRET_KEY")
# Old keys keep existing sessions and reset links valid while the secret rotates.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("Set the DJANGO_ALLOWED_HOSTS environment variable.")

# --- TLS everywhere -----------------------------------------------------------------------------
# Behind a TLS-terminating proxy: which header says the original request was HTTPS. Set
# DJANGO_SECURE_PROXY_SSL_HEADER to the empty string when Django terminates TLS itself (never
# trust the header then: a client could forge it).
_proxy_header = env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default="HTTP_X_FORWARDED_PROTO")
SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
# Behind that proxy every client has the proxy's address: take the client's from
# X-Forwarded-For, counting TRUSTED_PROXY_COUNT proxies from the right (one by default when the
# proxy header is trusted, none when Django faces clients itself).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1 if _proxy_header else 0)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancers probe health over plain HTTP inside the network; a redirect would fail them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=63072000)  # two years
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

# --- Cookies: HTTPS only, out of reach of scripts, not sent on cross-site requests -----------
# The __Host- prefix makes the browser refuse these cookies unless Secure, Path=/ and host-only,
# so a sibling subdomain cannot plant a session or CSRF cookie.
SESSION_COOKIE_NAME = "__Host-sessionid"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "__Host-csrftoken"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = True
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Headers --------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# The base policy (no inline script or style, no eval) plus: never load anything over HTTP.
_directives: dict[str, Any] = {**CONTENT_SECURITY_POLICY["DIRECTIVES"]}
_directives["upgrade-insecure-requests"] = True  # a flag, not a source list
CONTENT_SECURITY_POLICY = {**CONTENT_SECURITY_POLICY, "DIRECTIVES": _directives}
# CORS stays closed: no Access-Control-* header is ever sent, so browsers refuse cross-origin
# reads of the API. Automation calls the API with a token from servers, which CORS never limits.

# --- Accounts ---------------------------------------------------------------------------------
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"

# --- Email over TLS; the password may live encrypted in the database (credential smtp_password)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="connectivity.credentials.SMTPEmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)

# --- Azure: real Azure unless explicitly pointed elsewhere; the platform's identity has no default.
AZURE_SIMULATOR = env.bool("AZURE_SIMULATOR", default=False)
if not AZURE_SIMULATOR:
    AZURE_ARM_ENDPOINT = env.str("AZURE_ARM_ENDPOINT", default="https://management.azure.com")
    AZURE_AUTHORITY_HOST = env.str(
        "AZURE_AUTHORITY_HOST", default="https://login.microsoftonline.com")
    AZURE_CA_BUNDLE = env.str("AZURE_CA_BUNDLE", default="") or None
    AZURE_PLATFORM_TENANT_ID = required("AZURE_PLATFORM_TENANT_ID")
    AZURE_PLATFORM_SUBSCRIPTION_ID = required("AZURE_PLATFORM_SUBSCRIPTION_ID")
    AZURE_CLIENT_ID = required("AZURE_CLIENT_ID")
    # A secret, a certificate or workload identity; the secret may also live encrypted in the
    # database (credential azure_client_secret), which wins over this variable.
    AZURE_CLIENT_SECRET = env.str("AZURE_CLIENT_SECRET", default="") or None
# Sign in with Microsoft only with a configured app (MICROSOFT_CLIENT_ID), at the real authority
# unless MICROSOFT_LOGIN_URL says otherwise: the simulator's demo app is for `make run`, where the
# browser and the portal reach the simulator at the same address.
SOCIALACCOUNT_PROVIDERS = sso.providers(env, simulator_url=None)
INSTALLED_APPS = sso.installed_apps(INSTALLED_APPS, SOCIALACCOUNT_PROVIDERS)
CONTENT_SECURITY_POLICY = sso.with_form_action(CONTENT_SECURITY_POLICY, SOCIALACCOUNT_PROVIDERS)

# Integration credentials are encrypted at rest with these keys; production has no default.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [
    required("FIELD_ENCRYPTION_KEYS")
]
REST_FRAMEWORK = {**REST_FRAMEWORK}
