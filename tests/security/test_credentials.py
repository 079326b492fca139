"""Integration credentials: encrypted at rest, keys rotate, decrypted only where used, never
logged, never shown back in full."""

from __future__ import annotations

import logging
from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from connectivity import credentials
from connectivity.azure import clients
from connectivity.models import AuditEntry, IntegrationCredential, User
from tests.console.conftest import give_totp, pass_mfa
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at")]

SECRET = "pX8~Q.super-secret-client-value-9a7Z"
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture
def old_key() -> Any:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        yield


@pytest.fixture
def superuser(db: None) -> User:
    user = UserFactory(email="root@platform.example", is_staff=True, is_superuser=True)
    give_totp(user)  # staff reach the admin only with MFA
    return user


def test_admin_sends_staff_without_mfa_to_set_it_up(db: None) -> None:
    user = UserFactory(email="nomfa@platform.example", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    response = client.get("/admin/connectivity/integrationcredential/")
    assert response.status_code == 302
    assert "/accounts/2fa/" in response.headers["Location"]


def test_stored_encrypted_and_read_back(old_key: None) -> None:
    credentials.store("azure_client_secret", SECRET)
    row = IntegrationCredential.objects.get(name="azure_client_secret")
    assert SECRET not in row.ciphertext
    assert Fernet(OLD_KEY.encode()).decrypt(row.ciphertext.encode()).decode() == SECRET
    assert row.last_four == "9a7Z"
    assert credentials.get("azure_client_secret") == SECRET
    assert credentials.get("nothing_stored") is None


def test_short_secret_shows_no_characters(old_key: None) -> None:
    credentials.store("smtp_password", "short-pw")
    assert IntegrationCredential.objects.get(name="smtp_password").last_four == ""


def test_rotation_re_encrypts_under_the_new_key(old_key: None) -> None:
    credentials.store("azure_client_secret", SECRET)
    credentials.store("smtp_password", "smtp-password-1234")
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        # Before rotating, the old key still decrypts.
        assert credentials.get("azure_client_secret") == SECRET
        out = StringIO()
        call_command("rotate_credentials", stdout=out)
        assert "Re-encrypted 2 credentials" in out.getvalue()
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert credentials.get("azure_client_secret") == SECRET
        assert credentials.get("smtp_password") == "smtp-password-1234"
    assert AuditEntry.objects.filter(action="credential.rotated").exists()


def test_removing_the_key_before_rotating_is_a_clear_error(old_key: None) -> None:
    credentials.store("azure_client_secret", SECRET)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        with pytest.raises(credentials.CredentialError, match="azure_client_secret"):
            credentials.get("azure_client_secret")
        with pytest.raises(CommandError, match="cannot be decrypted"):
            call_command("rotate_credentials", stdout=StringIO())


@pytest.mark.parametrize("keys, message", [
    ([], "Set the FIELD_ENCRYPTION_KEYS"),
    (["not-a-key"], "key 1 is not a Fernet key"),
])
def test_bad_keys_name_the_variable(keys: list[str], message: str) -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=keys), pytest.raises(
            ImproperlyConfigured, match=message):
        credentials.store("smtp_password", SECRET)


@pytest.mark.parametrize("secret, message", [
    ("", "Enter the secret"),
    ("a\x00b-long-enough", "NUL"),
    ("x" * 20000, "at most"),
])
def test_bad_secrets_are_refused(secret: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        credentials.store("smtp_password", secret)
    assert not IntegrationCredential.objects.exists()


def test_gateway_decrypts_the_stored_secret_when_the_setting_is_empty(old_key: None) -> None:
    credentials.store("azure_client_secret", SECRET)
    with override_settings(AZURE_CLIENT_SECRET=None):
        assert clients.client_secret() == SECRET
    with override_settings(AZURE_CLIENT_SECRET="from-the-environment"):
        assert clients.client_secret() == "from-the-environment"


def test_secret_never_reaches_a_log_line(old_key: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    credentials.store("azure_client_secret", SECRET)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        call_command("rotate_credentials", stdout=StringIO())
    assert "credential.created" in caplog.text
    assert SECRET not in caplog.text
    entry = AuditEntry.objects.get(action="credential.created")
    assert entry.target == "azure_client_secret"
    assert SECRET not in str(entry.data)


def test_smtp_backend_reads_the_encrypted_password(old_key: None, monkeypatch: Any) -> None:
    credentials.store("smtp_password", "smtp-password-1234")
    seen: list[str] = []

    def fake_open(self: Any) -> bool:
        seen.append(self.password)
        return True

    monkeypatch.setattr("django.core.mail.backends.smtp.EmailBackend.open", fake_open)
    with override_settings(EMAIL_HOST_PASSWORD=""):
        backend = credentials.SMTPEmailBackend()
        backend.open()
    assert seen == ["smtp-password-1234"]
    assert backend.password == ""  # not kept in clear after the login


# --- the admin ----------------------------------------------------------------------------------


def test_admin_adds_a_secret_write_only(old_key: None, superuser: User) -> None:
    client = Client()
    client.force_login(superuser)
    pass_mfa(client, superuser)
    response = client.post("/admin/connectivity/integrationcredential/add/",
                           {"name": "azure_client_secret", "secret": SECRET})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert credentials.get("azure_client_secret") == SECRET
    row = IntegrationCredential.objects.get()
    for url in ["/admin/connectivity/integrationcredential/",
                f"/admin/connectivity/integrationcredential/{row.pk}/change/"]:
        page = client.get(url).content.decode()
        assert SECRET not in page
        assert row.ciphertext not in page
        assert "9a7Z" in page
    audit = AuditEntry.objects.get(action="credential.created")
    assert audit.actor == superuser


def test_admin_change_keeps_the_secret_when_left_empty(old_key: None, superuser: User) -> None:
    row = credentials.store("smtp_password", "smtp-password-1234")
    client = Client()
    client.force_login(superuser)
    pass_mfa(client, superuser)
    url = f"/admin/connectivity/integrationcredential/{row.pk}/change/"
    assert client.post(url, {"secret": ""}).status_code == 302
    assert credentials.get("smtp_password") == "smtp-password-1234"
    assert client.post(url, {"secret": "another-password-5678"}).status_code == 302
    assert credentials.get("smtp_password") == "another-password-5678"
    assert AuditEntry.objects.filter(action="credential.changed").count() == 1


def test_admin_add_requires_a_secret_and_a_clean_name(old_key: None, superuser: User) -> None:
    client = Client()
    client.force_login(superuser)
    pass_mfa(client, superuser)
    response = client.post("/admin/connectivity/integrationcredential/add/",
                           {"name": "<script>", "secret": ""})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter the secret." in page
    assert "lowercase letters, digits and underscores" in page
    assert "<script>" not in page.split("<body", 1)[1].replace("&lt;script&gt;", "")
    assert not IntegrationCredential.objects.exists()


def test_admin_delete_is_audited(old_key: None, superuser: User) -> None:
    row = credentials.store("smtp_password", "smtp-password-1234")
    client = Client()
    client.force_login(superuser)
    pass_mfa(client, superuser)
    response = client.post(f"/admin/connectivity/integrationcredential/{row.pk}/delete/",
                           {"post": "yes"})
    assert response.status_code == 302
    assert not IntegrationCredential.objects.exists()
    assert AuditEntry.objects.filter(action="credential.deleted", target="smtp_password").exists()


def test_sso_client_secret_is_decrypted_when_the_app_is_used(old_key: None) -> None:
    from allauth.socialaccount.models import SocialApp

    from portal.auth import SocialAccountAdapter

    SocialApp.objects.create(provider="microsoft", name="Entra ID", client_id="app-id", secret="")
    credentials.store("microsoft_client_secret", "entra-client-secret-0042")
    app = SocialAccountAdapter().get_app(None, "microsoft")
    assert app.secret == "entra-client-secret-0042"
    assert SocialApp.objects.get().secret == ""  # never written back in clear
