"""Signing secrets: `whsec_` and 32 random bytes in base64 (the Standard Webhooks format),
Fernet-encrypted at rest with FIELD_ENCRYPTION_KEYS like every other credential, decrypted only
to sign a delivery. `manage.py rotate_credentials` re-encrypts them with the other credentials.
"""

from __future__ import annotations

import base64
import secrets as random
from datetime import datetime

from cryptography.fernet import InvalidToken
from django.db import transaction

from connectivity.credentials import CredentialError, _fernet
from connectivity.models import WebhookEndpoint

PREFIX = "whsec_"


def generate() -> str:
    return PREFIX + base64.b64encode(random.token_bytes(32)).decode()


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise CredentialError(
            "A webhook signing secret cannot be decrypted with FIELD_ENCRYPTION_KEYS; was its key "
            "removed before `manage.py rotate_credentials`?") from None


def signing_secrets(endpoint: WebhookEndpoint, *, at: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap after a rotation lasts."""
    found = [decrypt(endpoint.secret_ciphertext)]
    if (endpoint.previous_secret_ciphertext and endpoint.previous_secret_expires_at
            and at < endpoint.previous_secret_expires_at):
        found.append(decrypt(endpoint.previous_secret_ciphertext))
    return found


@transaction.atomic
def reencrypt_all() -> int:
    """Re-encrypt every endpoint's secrets under the first key (key rotation). Safe twice."""
    fernet = _fernet()
    rotated = 0
    for endpoint in WebhookEndpoint.objects.select_for_update().order_by("pk"):
        fields = {"secret_ciphertext": fernet.rotate(endpoint.secret_ciphertext.encode()).decode()}
        if endpoint.previous_secret_ciphertext:
            fields["previous_secret_ciphertext"] = fernet.rotate(
                endpoint.previous_secret_ciphertext.encode()).decode()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
        rotated += 1
    return rotated
