"""The embedded default (`make run`, portal.settings.local) works out of the box without being
unsafe: a dev encryption key so credentials can be saved, and database connections that
threaded runserver cannot pile up. Production still insists on its own key."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from connectivity import credentials
from connectivity.models import User
from tests.console.conftest import mfa_signed_in
from tests.factories import UserFactory
from tests.security.conftest import load_production

pytestmark = pytest.mark.filterwarnings("ignore:No directory at")
ROOT = Path(__file__).resolve().parents[2]


def load_local(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    monkeypatch.delenv("FIELD_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("DATABASE_CONN_MAX_AGE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_module("portal.settings.local", run_name="portal.settings.local")


def test_local_settings_generate_a_dev_field_key_once(monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_local(monkeypatch)["FIELD_ENCRYPTION_KEYS"]
    again = load_local(monkeypatch)["FIELD_ENCRYPTION_KEYS"]
    assert first == again and len(first) == 1
    Fernet(first[0].encode())  # a real Fernet key
    chosen = load_local(monkeypatch, FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert chosen["FIELD_ENCRYPTION_KEYS"] != first  # the variable still wins


def test_production_refuses_to_start_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        load_production(monkeypatch, FIELD_ENCRYPTION_KEYS="")


@pytest.mark.django_db
def test_saving_a_credential_under_local_settings_is_no_500(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = load_local(monkeypatch)["FIELD_ENCRYPTION_KEYS"]
    root: User = UserFactory(email="root@platform.example", is_staff=True, is_superuser=True)
    client = mfa_signed_in(root)  # the admin wants a session that passed MFA
    with override_settings(FIELD_ENCRYPTION_KEYS=keys):
        response = client.post("/admin/connectivity/integrationcredential/add/",
                               {"name": "azure_client_secret", "secret": "dev-secret-value-1234"})
        assert response.status_code == 302, response.content.decode()[:500]
        assert credentials.get("azure_client_secret") == "dev-secret-value-1234"


def _conn_max_age_under_local(**env: str) -> int:
    script = ("import django; django.setup(); from django.conf import settings; "
              "print(settings.DATABASES['default']['CONN_MAX_AGE'])")
    environ = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_CONN_MAX_AGE", "DJANGO_SETTINGS_MODULE")}
    environ.update(DJANGO_SETTINGS_MODULE="portal.settings.local",
                   DATABASE_URL="postgres://u@127.0.0.1:5432/portal", **env)
    result = subprocess.run([sys.executable, "-c", script], env=environ, cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    return int(result.stdout.strip().splitlines()[-1])


def test_make_run_closes_database_connections_after_each_request() -> None:
    """Threaded runserver opens a connection per request thread; kept alive they exhausted
    PostgreSQL's 100 connections, so `make run` closes them at the end of each request."""
    assert _conn_max_age_under_local() == 0
    assert _conn_max_age_under_local(DATABASE_CONN_MAX_AGE="30") == 30
