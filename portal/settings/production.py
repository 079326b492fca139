"""Production: every secret from the environment, TLS everywhere, nothing insecure by default."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, env, required

DEBUG = False
SECRET_KEY = required("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("Set the DJANGO_ALLOWED_HOSTS environment variable.")

# Behind a TLS-terminating proxy: which header says the original request was HTTPS.
_proxy_header = env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default="HTTP_X_FORWARDED_PROTO")
SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=63072000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"

# Real Azure unless explicitly pointed elsewhere; the platform's identity has no default.
AZURE_SIMULATOR = env.bool("AZURE_SIMULATOR", default=False)
if not AZURE_SIMULATOR:
    AZURE_ARM_ENDPOINT = env.str("AZURE_ARM_ENDPOINT", default="https://management.azure.com")
    AZURE_AUTHORITY_HOST = env.str(
        "AZURE_AUTHORITY_HOST", default="https://login.microsoftonline.com")
    AZURE_CA_BUNDLE = env.str("AZURE_CA_BUNDLE", default="") or None
    AZURE_PLATFORM_TENANT_ID = required("AZURE_PLATFORM_TENANT_ID")
    AZURE_PLATFORM_SUBSCRIPTION_ID = required("AZURE_PLATFORM_SUBSCRIPTION_ID")
    AZURE_CLIENT_ID = required("AZURE_CLIENT_ID")
    # A secret, a certificate or workload identity; the secret may also live encrypted in the DB.
    AZURE_CLIENT_SECRET = env.str("AZURE_CLIENT_SECRET", default="") or None
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [
    required("FIELD_ENCRYPTION_KEYS")
]
REST_FRAMEWORK = {**REST_FRAMEWORK}
