"""Encrypt the TOTP secrets and recovery-code seeds already in allauth's mfa_authenticator table.

From now on portal.auth.MFAAdapter encrypts them as they are created; this turns the rows written
before it into Fernet tokens too (FIELD_ENCRYPTION_KEYS). Rows already encrypted are left alone,
so the migration is safe to run twice. Reversing it decrypts them again.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django.db import migrations


def _is_token(fernet: Any, value: str) -> bool:
    try:
        fernet.decrypt(value.encode())
    except (InvalidToken, ValueError, TypeError):
        return False
    return True


def _convert(apps: Any, schema_editor: Any, *, encrypt: bool) -> None:
    Authenticator = apps.get_model("mfa", "Authenticator")
    rows = Authenticator.objects.using(schema_editor.connection.alias).filter(
        type__in=["totp", "recovery_codes"])
    if not rows.exists():
        return
    from connectivity.credentials import _fernet  # raises a clear error when no key is set

    fernet = _fernet()

    def convert(value: Any) -> Any:
        if not isinstance(value, str) or not value:
            return value
        if encrypt:
            return value if _is_token(fernet, value) else fernet.encrypt(value.encode()).decode()
        return fernet.decrypt(value.encode()).decode() if _is_token(fernet, value) else value

    for row in rows.iterator():
        data = dict(row.data or {})
        for field in ("secret", "seed"):
            if field in data:
                data[field] = convert(data[field])
        if isinstance(data.get("migrated_codes"), list):
            data["migrated_codes"] = [convert(code) for code in data["migrated_codes"]]
        if data != row.data:
            row.data = data
            row.save(update_fields=["data"])


def encrypt_secrets(apps: Any, schema_editor: Any) -> None:
    _convert(apps, schema_editor, encrypt=True)


def decrypt_secrets(apps: Any, schema_editor: Any) -> None:
    _convert(apps, schema_editor, encrypt=False)


class Migration(migrations.Migration):
    dependencies = [
        ("connectivity", "0003_request_proof"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(encrypt_secrets, decrypt_secrets, elidable=False)]
