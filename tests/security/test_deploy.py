"""`manage.py check --deploy` is clean in production settings; production refuses to start
without its secrets and names the missing variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.security.conftest import DUMMY_ENV, load_production

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_in_production_settings() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AZURE_"))}
    env.update(DUMMY_ENV, DJANGO_SETTINGS_MODULE="portal.settings.production")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("variable", [
    "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "FIELD_ENCRYPTION_KEYS",
    "AZURE_PLATFORM_TENANT_ID", "AZURE_CLIENT_ID",
])
def test_production_names_a_missing_secret(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=variable):
        load_production(monkeypatch, **{variable: ""})


def test_production_is_strict_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    values = load_production(monkeypatch)
    assert values["DEBUG"] is False
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_HSTS_PRELOAD"] and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["AZURE_SIMULATOR"] is False
    assert values["AZURE_ARM_ENDPOINT"] == "https://management.azure.com"
    assert values["EMAIL_USE_TLS"] is True


def test_proxy_header_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    values = load_production(monkeypatch, DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_SCHEME")
    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_SCHEME", "https")
    values = load_production(monkeypatch, DJANGO_SECURE_PROXY_SSL_HEADER="")
    assert values["SECURE_PROXY_SSL_HEADER"] is None
