"""Fixtures for the security tests: the production settings, loaded with dummy secrets."""

from __future__ import annotations

import runpy
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

DUMMY_ENV = {
    "DJANGO_SECRET_KEY": "dummy-production-secret-key-for-tests-only-0123456789abcdef",
    "DJANGO_ALLOWED_HOSTS": "portal.example.com,testserver",
    "FIELD_ENCRYPTION_KEYS": "q0xqH4yQmVnA2rJt1k9m4rL3p7sXzY6wBvC8dE5fG0I=",
    "AZURE_PLATFORM_TENANT_ID": "11111111-1111-4111-8111-111111111111",
    "AZURE_PLATFORM_SUBSCRIPTION_ID": "22222222-2222-4222-8222-222222222222",
    "AZURE_CLIENT_ID": "33333333-3333-4333-8333-333333333333",
}
# What a page response depends on; the rest (database, apps, hashers) stays the test suite's.
SECURITY_PREFIXES = ("SECURE_", "SESSION_", "CSRF_", "LANGUAGE_COOKIE_", "CONTENT_SECURITY_POLICY",
                     "X_FRAME_OPTIONS", "ALLOWED_HOSTS", "DEBUG", "ACCOUNT_DEFAULT_HTTP_PROTOCOL")


def load_production(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """The settings `portal.settings.production` defines under the given environment."""
    for name, value in {**DUMMY_ENV, **env}.items():
        monkeypatch.setenv(name, value)
    return runpy.run_module("portal.settings.production", run_name="portal.settings.production")


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Run the test under production's security settings (TLS, cookies, headers, CSP)."""
    values = load_production(monkeypatch)
    chosen = {k: v for k, v in values.items() if k.isupper() and k.startswith(SECURITY_PREFIXES)}
    with override_settings(**chosen):
        yield chosen


LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                           "LOCATION": "security-tests"}}


@pytest.fixture
def private_cache() -> Iterator[None]:
    """Rate-limit counters in a cache of this process, so clearing them never touches the shared
    Redis (CI's broker lives there too)."""
    from django.core.cache import cache, caches
    from django.core.cache.backends.locmem import LocMemCache

    with override_settings(CACHES=LOCAL_CACHE):
        assert isinstance(caches["default"], LocMemCache)
        cache.clear()
        yield
        cache.clear()
