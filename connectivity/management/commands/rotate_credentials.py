"""manage.py rotate_credentials: re-encrypt every integration credential, and every two-factor
secret, under the first key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from connectivity import credentials
from connectivity.webhooks import secrets as webhook_secrets


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored integration credential under the first key of "
        "FIELD_ENCRYPTION_KEYS. Rotate a key by putting the new key first (keep the old one "
        "after it), running this command, then removing the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rotated = credentials.rotate()
            authenticators = credentials.rotate_mfa_secrets()
            rotated += webhook_secrets.reencrypt_all()
        except credentials.CredentialError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            f"Re-encrypted {rotated} credential{'s' if rotated != 1 else ''} and the two-factor "
            f"secrets of {authenticators} authenticator{'s' if authenticators != 1 else ''} under "
            "the first key of FIELD_ENCRYPTION_KEYS. Older keys may now be removed."))
