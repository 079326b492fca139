"""Entra ID (AAD) look-alike: OpenID discovery, client-credentials tokens and JWT parsing.

Tokens are unsigned JWTs (``alg: none``): the simulator only needs the claims ARM reads
(``tid``, ``oid``, ``appid``, ``aud``, ``exp``), and tests may craft their own.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

ARM_AUDIENCE = "https://management.azure.com"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint_token(
    *,
    tenant_id: str,
    object_id: str,
    app_id: str,
    audience: str = ARM_AUDIENCE,
    lifetime: int = 3600,
) -> str:
    """Return an unsigned JWT carrying the claims ARM authorises on."""
    now = int(time.time())
    header = {"typ": "JWT", "alg": "none"}
    claims = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": app_id,
        "appidacr": "1",
        "idtyp": "app",
        "oid": object_id,
        "sub": object_id,
        "tid": tenant_id,
        "uti": uuid.uuid4().hex,
        "ver": "1.0",
    }
    return (
        _b64url(json.dumps(header).encode())
        + "."
        + _b64url(json.dumps(claims).encode())
        + "."
    )


def parse_token(token: str) -> dict[str, Any] | None:
    """Claims of a JWT, without verifying any signature; None when it is not a JWT."""
    parts = token.strip().split(".")
    if len(parts) < 2:
        return None
    try:
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def bearer_tokens(header_value: str | None) -> list[str]:
    """Tokens of an ``Authorization`` or ``x-ms-authorization-auxiliary`` header value."""
    if not header_value:
        return []
    tokens = []
    for part in header_value.split(","):
        part = part.strip()
        if part[:7].lower() == "bearer ":
            tokens.append(part[7:].strip())
    return tokens


def openid_configuration(base_url: str, tenant: str) -> dict[str, Any]:
    """What MSAL reads from ``{authority}/{tenant}/v2.0/.well-known/openid-configuration``."""
    root = f"{base_url}/{tenant}"
    # A multi-tenant authority names no issuer: each token's is its own tenant's.
    issuer_tenant = "{tenantid}" if tenant.lower() in ("organizations", "common") else tenant
    return {
        "token_endpoint": f"{root}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post", "private_key_jwt", "client_secret_basic",
        ],
        "jwks_uri": f"{root}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base_url}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base_url}/oidc/userinfo",
        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                             "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                             "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
                             "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }
