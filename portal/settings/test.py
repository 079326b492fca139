"""Settings for the test suite: fast hashing, eager nothing, services only when configured."""

from __future__ import annotations

from portal.settings import sso

from .base import *  # noqa: F403
from .base import DATABASES, env

SECRET_KEY = "test-only-secret-key-not-for-production-use-0123456789"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A worker process a test starts may write its emails to files the test reads instead.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default="") or None
ACCOUNT_EMAIL_VERIFICATION = "optional"
# Tests (and worker processes they start) point these at a simulator on a free port.
AZURE_SDK_RETRY_TOTAL = env.int("AZURE_SDK_RETRY_TOTAL", default=0)
AZURE_POLLING_INTERVAL = env.float("AZURE_POLLING_INTERVAL", default=0)
AZURE_CA_BUNDLE = env.str("AZURE_CA_BUNDLE", default="") or None
ACCOUNT_RATE_LIMITS = False  # type: ignore[assignment]  # allauth accepts False: none
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=["q0xqH4yQmVnA2rJt1k9m4rL3p7sXzY6wBvC8dE5fG0I="])

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so a worker process (when one runs) sees the same test database;
    # one per test run so parallel runs in one checkout do not share it.
    import os

    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / ".run" / f"test-db-{os.getpid()}.sqlite3")}  # noqa: F405

# WhiteNoise scans STATIC_ROOT at start and warns on every test client when it is missing;
# tests serve static files through the finders, so an empty folder is all it needs.
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405

# Tests receive webhooks on loopback; the SSRF tests turn this off to act as production.
WEBHOOK_ALLOW_LOOPBACK = True

# Sign in with Microsoft is installed (its URLs exist, the provider class is ours) but offered
# only where a test configures its app against a simulator (tests/sso).
SOCIALACCOUNT_PROVIDERS = {"microsoft": {
    k: v for k, v in SOCIALACCOUNT_PROVIDERS.get("microsoft", {}).items() if k != "APPS"}}  # noqa: F405
INSTALLED_APPS = sso.installed_apps(INSTALLED_APPS, SOCIALACCOUNT_PROVIDERS)  # noqa: F405
CONTENT_SECURITY_POLICY = sso.with_form_action(
    CONTENT_SECURITY_POLICY, SOCIALACCOUNT_PROVIDERS)  # noqa: F405
