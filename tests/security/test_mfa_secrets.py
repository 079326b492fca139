"""TOTP secrets and recovery-code seeds are Fernet tokens in allauth's table, and rows written
before encryption are migrated so their owners still sign in with a code."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import generate_totp_secret
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse

from connectivity.models import User
from tests.security.helpers import activate_totp, sign_in, totp_code

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at")]

migration = importlib.import_module("connectivity.migrations.0004_mfa_secrets_encrypted")


@pytest.fixture(autouse=True)
def fresh_counters(private_cache: None) -> None:
    """Used TOTP codes are remembered in a cache of this test's own."""


def raw_rows() -> list[str]:
    """The table as a database dump would show it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM mfa_authenticator")
        return [str(row[0]) for row in cursor.fetchall()]


def test_enrolling_stores_no_clear_secret(customer: User) -> None:
    client = Client()
    sign_in(client, customer.email)
    secret = activate_totp(client)
    rows = raw_rows()
    assert len(rows) == 2  # the app and its recovery codes
    seed = Authenticator.objects.get(user=customer, type="recovery_codes").data["seed"]
    assert all(secret not in row for row in rows)
    assert all("gAAAAA" in row for row in rows)  # Fernet tokens
    codes = RecoveryCodes(Authenticator.objects.get(user=customer, type="recovery_codes"))
    assert all(code not in "".join(rows) for code in codes.get_unused_codes())
    assert seed.startswith("gAAAAA")


def test_a_migrated_authenticator_still_signs_in(customer: User) -> None:
    secret = generate_totp_secret()
    # Rows as the portal wrote them before the MFA adapter encrypted anything.
    Authenticator.objects.bulk_create([
        Authenticator(user=customer, type="totp", data={"secret": secret}),
        Authenticator(user=customer, type="recovery_codes", data={"seed": "ab" * 20}),
    ])
    assert any(secret in row for row in raw_rows())

    class Editor:
        connection = connection

    migration.encrypt_secrets(apps, Editor())
    migration.encrypt_secrets(apps, Editor())  # twice is harmless
    rows = raw_rows()
    assert all(secret not in row and "ab" * 20 not in row for row in rows)

    client = Client()
    assert sign_in(client, customer.email)["Location"] == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200

    migration.decrypt_secrets(apps, Editor())  # the way back
    assert Authenticator.objects.get(user=customer, type="totp").data["secret"] == secret


def test_no_key_is_a_clear_error_not_a_clear_secret(customer: User, settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from portal.auth import MFAAdapter

    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        MFAAdapter().encrypt("JBSWY3DPEHPK3PXP")


def test_key_rotation_re_encrypts_mfa_secrets_so_the_old_key_can_go(customer: User,
                                                                    settings: Any) -> None:
    from io import StringIO

    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old, new = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    client = Client()
    sign_in(client, customer.email)
    secret = activate_totp(client)
    client.post("/accounts/logout/")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_credentials", stdout=out)
    assert "two-factor secrets of 2 authenticators" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone
    assert sign_in(client, customer.email)["Location"] == reverse("mfa_authenticate")
    assert client.post(reverse("mfa_authenticate"),
                       {"code": totp_code(secret)}).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
