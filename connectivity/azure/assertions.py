"""The platform's own signed assertions, exchanged for tokens as a cluster's workload identity.

Each cluster's user-assigned managed identity lives in the platform's subscription and carries a
federated identity credential that trusts ``WORKLOAD_IDENTITY_ISSUER`` and
``WORKLOAD_IDENTITY_SUBJECT`` for the audience ``api://AzureADTokenExchange``. Entra ID gives a
token as the identity to whoever presents a fresh assertion from that issuer and subject, signed
by a key in the issuer's published JWKS (``{issuer}/.well-known/openid-configuration`` and its
``jwks_uri``, served from :func:`openid_configuration` and :func:`jwks`). Only the platform holds
the private key, so only the platform can act as its clusters' identities; customers never
hand over a secret.
"""

from __future__ import annotations

import json
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
ASSERTION_LIFETIME = 300  # seconds; Entra ID refuses assertions older than their exp


def issuer() -> str:
    return str(settings.WORKLOAD_IDENTITY_ISSUER).rstrip("/")


def subject() -> str:
    return str(settings.WORKLOAD_IDENTITY_SUBJECT)


@lru_cache(maxsize=4)
def _private_key(path: str) -> RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"WORKLOAD_IDENTITY_SIGNING_KEY_PATH: cannot read an RSA private key ({exc})") from exc
    if not isinstance(key, RSAPrivateKey):
        raise ImproperlyConfigured("WORKLOAD_IDENTITY_SIGNING_KEY_PATH must hold an RSA key")
    return key


def _key_id(key: RSAPrivateKey) -> str:
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return str(uuid.uuid5(uuid.NAMESPACE_OID, public.hex()))


def platform_assertion(*, audience: str = TOKEN_EXCHANGE_AUDIENCE) -> str:
    """A fresh assertion from the platform's issuer (RS256 with the configured key).

    Without a key, and only against the simulator, the assertion is unsigned: the simulator's
    Entra ID checks issuer, subject, audience and lifetime but no signature, as for its own
    tokens. Real Entra ID refuses unsigned assertions, so production requires the key."""
    now = int(time.time())
    claims = {"iss": issuer(), "sub": subject(), "aud": audience, "iat": now, "nbf": now,
              "exp": now + ASSERTION_LIFETIME, "jti": uuid.uuid4().hex}
    path = settings.WORKLOAD_IDENTITY_SIGNING_KEY_PATH
    if path:
        key = _private_key(path)
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": _key_id(key)})
    if not settings.AZURE_SIMULATOR:
        raise ImproperlyConfigured(
            "WORKLOAD_IDENTITY_SIGNING_KEY_PATH must be set to verify as a cluster's workload "
            "identity on Azure")
    return jwt.encode(claims, key="", algorithm="none")


def jwks() -> dict[str, Any]:
    """The public key set the issuer publishes (empty without a signing key)."""
    path = settings.WORKLOAD_IDENTITY_SIGNING_KEY_PATH
    if not path:
        return {"keys": []}
    key = _private_key(path)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": _key_id(key), "use": "sig", "alg": "RS256"}]}


def openid_configuration(jwks_uri: str) -> dict[str, Any]:
    """The discovery document Entra ID reads at ``{issuer}/.well-known/openid-configuration``."""
    return {"issuer": issuer(), "jwks_uri": jwks_uri, "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"]}
