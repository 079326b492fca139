"""Integration credentials, encrypted at rest and decrypted only where they are used.

The platform's own secrets (the Azure service principal's client secret, the SMTP password, SSO
client secrets) live in `IntegrationCredential` rows as Fernet tokens. The keys come from the
environment (`FIELD_ENCRYPTION_KEYS`, comma-separated): the first key encrypts, every key
decrypts, so a key rotates by putting a new key first, running `manage.py rotate_credentials`
(re-encrypts every row under the new key) and then dropping the old key.

Only `get()` returns plaintext, and only the code about to use the secret calls it (the Azure
gateway's `clients.client_secret()`, the SMTP backend below). Nothing here logs a secret; the
admin shows the last four characters.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend
from django.db import transaction

from connectivity.models import IntegrationCredential, User

logger = logging.getLogger(__name__)

# The names the platform reads. Others may be stored, but these are the ones wired in.
AZURE_CLIENT_SECRET = "azure_client_secret"
SMTP_PASSWORD = "smtp_password"
MICROSOFT_CLIENT_SECRET = "microsoft_client_secret"
GOOGLE_CLIENT_SECRET = "google_client_secret"
KNOWN_NAMES = {
    AZURE_CLIENT_SECRET: "Azure service principal client secret",
    SMTP_PASSWORD: "SMTP password",
    MICROSOFT_CLIENT_SECRET: "Microsoft Entra ID sign-in client secret",
    GOOGLE_CLIENT_SECRET: "Google sign-in client secret",
}
MAX_SECRET_LENGTH = 16384  # a PEM certificate with its key fits; anything longer is a mistake


class CredentialError(Exception):
    """A stored credential cannot be decrypted with the configured keys."""


def _fernet() -> MultiFernet:
    keys = [key for key in getattr(settings, "FIELD_ENCRYPTION_KEYS", []) if key]
    if not keys:
        raise ImproperlyConfigured(
            "Set the FIELD_ENCRYPTION_KEYS environment variable (one or more Fernet keys, "
            "comma-separated; create one with: python -c \"from cryptography.fernet import "
            "Fernet; print(Fernet.generate_key().decode())\").")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode() if isinstance(key, str) else key))
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes).") from None
    return MultiFernet(fernets)


def encrypt_text(text: str) -> str:
    """A Fernet token for ``text`` under the first key (allauth's MFA secrets use it too)."""
    return _fernet().encrypt(text.encode()).decode()


def decrypt_text(token: str) -> str:
    """The plaintext of a token from ``encrypt_text``, with any configured key."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise CredentialError(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS; was its key removed "
            "before `manage.py rotate_credentials`?") from None


def mask(secret: str) -> str:
    """What may be shown back: the last four characters, and only of a secret long enough that
    four characters give nothing useful away."""
    return secret[-4:] if len(secret) >= 12 else ""


def validate_secret(secret: str) -> str:
    if not secret:
        raise ValidationError({"secret": ["Enter the secret."]})
    if len(secret) > MAX_SECRET_LENGTH:
        raise ValidationError({"secret": [f"Secrets are at most {MAX_SECRET_LENGTH} characters."]})
    if "\x00" in secret:
        raise ValidationError({"secret": ["The secret must not contain NUL characters."]})
    return secret


@transaction.atomic
def store(name: str, secret: str, *, actor: User | None = None) -> IntegrationCredential:
    """Encrypt and save (create or replace) a credential; audited without the secret."""
    from connectivity import security

    validate_secret(secret)
    ciphertext = _fernet().encrypt(secret.encode()).decode()
    credential, created = IntegrationCredential.objects.update_or_create(
        name=name, defaults={"ciphertext": ciphertext, "last_four": mask(secret)})
    security.record(
        "credential.created" if created else "credential.changed",
        actor=actor, target=name, data={"last_four": credential.last_four})
    return credential


def get(name: str) -> str | None:
    """The plaintext of a stored credential, or None when there is none.

    Call it right before use and do not keep the result: the point of encryption at rest is
    that the secret exists in clear only for the moment it is needed.
    """
    ciphertext = (
        IntegrationCredential.objects.filter(name=name).values_list("ciphertext", flat=True).first()
    )
    if ciphertext is None:
        return None
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise CredentialError(
            f"The stored credential {name!r} cannot be decrypted with FIELD_ENCRYPTION_KEYS; "
            "was the key it was encrypted with removed before `manage.py rotate_credentials`?"
        ) from None


@transaction.atomic
def delete(name: str, *, actor: User | None = None) -> bool:
    from connectivity import security

    deleted, _ = IntegrationCredential.objects.filter(name=name).delete()
    if deleted:
        security.record("credential.deleted", actor=actor, target=name)
    return bool(deleted)


@transaction.atomic
def rotate(*, actor: User | None = None) -> int:
    """Re-encrypt every credential under the first key. Returns how many rows were rewritten.

    Safe to run twice: a row already under the first key is simply re-encrypted again.
    """
    from connectivity import security

    fernet = _fernet()
    rotated = 0
    for credential in IntegrationCredential.objects.select_for_update().order_by("pk"):
        try:
            ciphertext = fernet.rotate(credential.ciphertext.encode()).decode()
        except InvalidToken:
            raise CredentialError(
                f"The stored credential {credential.name!r} cannot be decrypted with any key in "
                "FIELD_ENCRYPTION_KEYS; put the key it was encrypted with back (after the new "
                "one) and run the rotation again.") from None
        IntegrationCredential.objects.filter(pk=credential.pk).update(ciphertext=ciphertext)
        rotated += 1
    security.record("credential.rotated", actor=actor, target="FIELD_ENCRYPTION_KEYS",
                    data={"credentials": rotated})
    return rotated


MFA_SECRET_FIELDS = ("secret", "seed")  # allauth's TOTP secret and recovery-code seed


@transaction.atomic
def rotate_mfa_secrets() -> int:
    """Re-encrypt every TOTP secret and recovery seed (portal.auth.MFAAdapter) under the first
    key, so removing an old key never locks staff out of their authenticator apps."""
    from allauth.mfa.models import Authenticator

    fernet = _fernet()
    rotated = 0
    for authenticator in Authenticator.objects.select_for_update().order_by("pk"):
        data = dict(authenticator.data or {})
        try:
            for field in MFA_SECRET_FIELDS:
                if isinstance(data.get(field), str):
                    data[field] = fernet.rotate(data[field].encode()).decode()
            if isinstance(data.get("migrated_codes"), list):
                data["migrated_codes"] = [fernet.rotate(code.encode()).decode()
                                          for code in data["migrated_codes"]]
        except InvalidToken:
            raise CredentialError(
                f"The two-factor secret of authenticator {authenticator.pk} cannot be decrypted "
                "with any key in FIELD_ENCRYPTION_KEYS; put the key it was encrypted with back "
                "(after the new one) and run the rotation again.") from None
        if data != authenticator.data:
            Authenticator.objects.filter(pk=authenticator.pk).update(data=data)
            rotated += 1
    return rotated


class SMTPEmailBackend(DjangoSMTPBackend):
    """Django's SMTP backend; the password comes from the encrypted credential `smtp_password`
    when EMAIL_HOST_PASSWORD is empty, decrypted when a connection is opened."""

    def open(self) -> Any:
        from_database = not self.password
        if from_database:
            self.password = get(SMTP_PASSWORD) or ""
        try:
            return super().open()
        finally:
            if from_database:
                # Keep the clear secret only for the login it was needed for.
                self.password = ""
