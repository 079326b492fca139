"""Entra ID for people: the authorization-code flow with PKCE, a sign-in page and signed id tokens.

What a web app's OpenID Connect client sees of ``login.microsoftonline.com``:

- ``GET  /{tenant}/oauth2/v2.0/authorize``: validates ``client_id`` and ``redirect_uri``
  (AADSTS700016, AADSTS50011) and answers a small sign-in page listing the simulator's people
  (the tenant's own, or everyone's for ``organizations``/``common``);
- ``POST /{tenant}/oauth2/v2.0/authorize`` with ``account=<oid>``: the person picked; redirects
  to ``redirect_uri`` with a one-time ``code`` and the caller's ``state``;
- ``POST /{tenant}/oauth2/v2.0/token`` with ``grant_type=authorization_code``: checks the
  client secret, the code (once, ten minutes, same client and ``redirect_uri``) and the PKCE
  ``code_verifier``; returns an access token and an RS256 id token (``tid``, ``oid``, ``email``,
  ``preferred_username``, ``name``, ``amr``, ``nonce``);
- ``GET  /{tenant}/discovery/v2.0/keys``: the JWKS with the signing key's public half.

The signing key is generated when the simulator starts, like its TLS certificate; relying
parties fetch the JWKS at sign-in, so a restart needs nothing from them. For tests that play an
attacker, ``next_id_token`` (control API ``POST /_simulator/identity/next-id-token``) changes
the next id token: other claims, a broken signature, or a signature by a key not in the JWKS.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .arm import Response
from .state import State

MULTI_TENANT = ("organizations", "common")
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
CODE_LIFETIME = 600
TOKEN_LIFETIME = 3600
PEOPLE_NAMESPACE = uuid.UUID("5d1b0a4e-7f6c-4d3a-9a51-3c1f0e3b2a10")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def person_object_id(tenant_id: str, email: str) -> str:
    """A stable object id for a seeded person who was given none."""
    return str(uuid.uuid5(PEOPLE_NAMESPACE, f"{tenant_id.lower()}:{email.lower()}"))


def aad_error(status: int, error: str, code: int, description: str) -> Response:
    return Response(status, {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    })


def redirect_uri_matches(registered: str, given: str) -> bool:
    """Entra ignores the port of an ``http://localhost`` or ``http://127.0.0.1`` redirect URI."""
    if registered == given:
        return True
    a, b = urlsplit(registered), urlsplit(given)
    loopback = ("localhost", "127.0.0.1")
    return (a.scheme == b.scheme == "http" and a.hostname in loopback
            and a.hostname == b.hostname and a.path == b.path and a.query == b.query)


class Signer:
    """The RS256 key pair of this simulator run."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self._key.public_key().public_numbers()
        self.jwk: dict[str, Any] = {"kty": "RSA", "use": "sig", "n": _int_b64url(numbers.n),
                                    "e": _int_b64url(numbers.e)}
        thumbprint = json.dumps({k: self.jwk[k] for k in ("e", "kty", "n")},
                                separators=(",", ":"), sort_keys=True)
        self.kid = _b64url(hashlib.sha256(thumbprint.encode()).digest())[:27]
        self.jwk["kid"] = self.kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self.jwk)]}

    def sign(self, claims: dict[str, Any], *, key: rsa.RSAPrivateKey | None = None) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = (_b64url(json.dumps(header).encode()) + "."
                         + _b64url(json.dumps(claims).encode()))
        signature = (key or self._key).sign(signing_input.encode(), padding.PKCS1v15(),
                                            hashes.SHA256())
        return signing_input + "." + _b64url(signature)


class Identity:
    """The people half of the simulated Entra ID. Callers pass the simulator's base URL."""

    def __init__(self, state: State) -> None:
        self._state = state
        self.signer = Signer()

    # ----- routing ------------------------------------------------------------------------
    def handle(self, method: str, tenant: str, endpoint: str, query: dict[str, str],
               form: dict[str, str], headers: dict[str, str], base_url: str) -> Response | None:
        if endpoint == "keys" and method == "GET":
            return Response(200, self.signer.jwks())
        if endpoint == "authorize" and method in ("GET", "POST"):
            params = {**query, **form} if method == "POST" else query
            return self._authorize(method, tenant, params, base_url)
        if endpoint == "token" and form.get("grant_type") == "authorization_code":
            return self._redeem(tenant, form, headers, base_url)
        return None

    # ----- authorize ----------------------------------------------------------------------
    def _tenant_ok(self, tenant: str) -> bool:
        return tenant.lower() in MULTI_TENANT or tenant.lower() in self._state.tenants

    def _people_for(self, tenant: str) -> list[dict[str, Any]]:
        people = list(self._state.people.values())
        if tenant.lower() in MULTI_TENANT:
            return people
        return [p for p in people if p["tenant_id"].lower() == tenant.lower()]

    def _authorize(self, method: str, tenant: str, params: dict[str, str],
                   base_url: str) -> Response:
        with self._state.lock:
            if not self._tenant_ok(tenant):
                return _page(400, "Sign in", _error_html(
                    90002, f"Tenant '{html.escape(tenant)}' not found. Check to make sure you "
                    "have the correct tenant ID and are signing into the correct cloud."))
            client_id = params.get("client_id", "")
            app = self._state.apps.get(client_id.lower())
            if app is None:
                return _page(400, "Sign in", _error_html(
                    700016, f"Application with identifier '{html.escape(client_id)}' was not "
                    f"found in the directory '{html.escape(tenant)}'."))
            redirect_uri = params.get("redirect_uri", "")
            if not any(redirect_uri_matches(r, redirect_uri)
                       for r in app.get("redirect_uris") or []):
                return _page(400, "Sign in", _error_html(
                    50011, f"The redirect URI '{html.escape(redirect_uri)}' specified in the "
                    f"request does not match the redirect URIs configured for the application "
                    f"'{html.escape(client_id)}'."))
            state = params.get("state")
            if params.get("response_type") != "code":
                return _redirect(redirect_uri, {
                    "error": "unsupported_response_type",
                    "error_description": "AADSTS700054: response_type 'id_token' is not enabled "
                                         "for the application.", "state": state})
            method_name = params.get("code_challenge_method") or "plain"
            if params.get("code_challenge") and method_name not in ("S256", "plain"):
                return _redirect(redirect_uri, {
                    "error": "invalid_request",
                    "error_description": "AADSTS501491: Invalid code_challenge_method.",
                    "state": state})
            people = self._people_for(tenant)
            if method == "GET":
                return _page(200, "Sign in to your account", _picker_html(params, people))
            person = next((p for p in people if p["oid"] == params.get("account")), None)
            if person is None:
                return _page(400, "Sign in", _error_html(
                    50034, "The user account does not exist in this directory."))
            code = secrets.token_urlsafe(48)
            self._state.auth_codes[code] = {
                "client_id": client_id.lower(), "redirect_uri": redirect_uri,
                "scope": params.get("scope", ""), "nonce": params.get("nonce"),
                "code_challenge": params.get("code_challenge"),
                "code_challenge_method": method_name, "person": dict(person),
                "expires": time.time() + CODE_LIFETIME, "redeemed": False,
            }
        return _redirect(redirect_uri, {"code": code, "state": state,
                                        "session_state": str(uuid.uuid4())})

    # ----- token --------------------------------------------------------------------------
    def _redeem(self, tenant: str, form: dict[str, str], headers: dict[str, str],
                base_url: str) -> Response:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        basic = headers.get("authorization", "")
        if basic[:6].lower() == "basic ":
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        with self._state.lock:
            app = self._state.apps.get(client_id.lower())
            if app is None:
                return aad_error(400, "unauthorized_client", 700016,
                                 f"Application with identifier '{client_id}' was not found in "
                                 f"the directory '{tenant}'.")
            if secret != app.get("secret"):
                return aad_error(401, "invalid_client", 7000215,
                                 "Invalid client secret provided. Ensure the secret being sent "
                                 "in the request is the client secret value, not the client "
                                 f"secret ID, for a secret added to app '{client_id}'.")
            grant = self._state.auth_codes.get(form.get("code", ""))
            if grant is None or grant["client_id"] != client_id.lower():
                return aad_error(400, "invalid_grant", 70000,
                                 "The provided value for the 'code' parameter is not valid.")
            if grant["redeemed"]:
                return aad_error(400, "invalid_grant", 54005,
                                 "OAuth2 Authorization code was already redeemed, please retry "
                                 "with a new valid code or use an existing refresh token.")
            grant["redeemed"] = True
            if grant["expires"] < time.time():
                return aad_error(400, "invalid_grant", 70008,
                                 "The provided authorization code or refresh token has expired "
                                 "due to inactivity. Send a new interactive authorization "
                                 "request for this user and resource.")
            if form.get("redirect_uri") != grant["redirect_uri"]:
                return aad_error(400, "invalid_grant", 50011,
                                 "The redirect URI specified in the request does not match the "
                                 "redirect URI used to obtain the authorization code.")
            if grant["code_challenge"] and not _pkce_ok(
                    grant["code_challenge"], grant["code_challenge_method"],
                    form.get("code_verifier", "")):
                return aad_error(400, "invalid_grant", 50148,
                                 "The code_verifier provided does not match the code_challenge "
                                 "supplied in the authorization request for PKCE.")
            override = self._state.id_token_override
            self._state.id_token_override = None
        person = grant["person"]
        scopes = grant["scope"].split()
        body: dict[str, Any] = {
            "token_type": "Bearer", "scope": " ".join(s for s in scopes if s != "openid")
            or "User.Read", "expires_in": TOKEN_LIFETIME, "ext_expires_in": TOKEN_LIFETIME,
            "access_token": self._access_token(person, base_url),
        }
        if "openid" in scopes:
            body["id_token"] = self._id_token(person, app["app_id"], grant["nonce"], base_url,
                                              override)
        if "offline_access" in scopes:
            body["refresh_token"] = secrets.token_urlsafe(64)
        return Response(200, body)

    def _access_token(self, person: dict[str, Any], base_url: str) -> str:
        now = int(time.time())
        return self.signer.sign({
            "aud": GRAPH_APP_ID, "iss": f"https://sts.windows.net/{person['tenant_id']}/",
            "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME, "oid": person["oid"],
            "tid": person["tenant_id"], "upn": person["email"], "scp": "openid profile email",
            "ver": "1.0",
        })

    def _id_token(self, person: dict[str, Any], client_id: str, nonce: str | None,
                  base_url: str, override: dict[str, Any] | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": client_id,
            "iss": f"{base_url}/{person['tenant_id']}/v2.0",
            "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME,
            "amr": ["pwd", "mfa"] if person.get("mfa") else ["pwd"],
            "email": person["email"],
            "name": person["name"],
            "oid": person["oid"],
            "preferred_username": person["email"],
            "rh": _b64url(secrets.token_bytes(24)),
            "sid": str(uuid.uuid4()),
            "sub": _b64url(hashlib.sha256(f"{person['oid']}:{client_id}".encode()).digest())[:43],
            "tid": person["tenant_id"],
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        override = override or {}
        claims.update(override.get("claims") or {})
        if override.get("foreign_key"):
            return self.signer.sign(claims, key=rsa.generate_private_key(65537, 2048))
        token = self.signer.sign(claims)
        if override.get("tamper"):
            # Change a claim after signing, as someone on the wire would.
            head, _, rest = token.partition(".")
            _, _, signature = rest.partition(".")
            changed = {**claims, "email": override.get("tamper_email", "admin@" + "evil.example")}
            token = f"{head}.{_b64url(json.dumps(changed).encode())}.{signature}"
        return token


def _pkce_ok(challenge: str, method: str, verifier: str) -> bool:
    if not verifier:
        return False
    if method == "S256":
        expected = _b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        return secrets.compare_digest(expected, challenge)
    return secrets.compare_digest(verifier, challenge)


def _redirect(uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if "?" in uri else "?"
    return Response(302, None, {"Location": f"{uri}{separator}{query}"})


_STYLE = (
    "body{font-family:Segoe UI,system-ui,sans-serif;background:#f2f2f2;margin:0}"
    "main{max-width:440px;margin:8vh auto;background:#fff;padding:44px;box-shadow:0 2px 6px"
    " rgba(0,0,0,.2)}h1{font-size:24px;font-weight:600;margin:0 0 16px}"
    ".brand{color:#737373;font-size:15px;margin-bottom:24px}"
    "ul{list-style:none;padding:0;margin:0}li{margin:0 0 8px}"
    "button{width:100%;text-align:left;border:1px solid #ddd;background:#fff;padding:12px;"
    "font:inherit;cursor:pointer}button:hover,button:focus{background:#f2f2f2;outline:2px solid"
    " #0067b8}.name{display:block;font-weight:600}.meta{color:#605e5c;font-size:13px}"
    ".error{color:#a80000}"
)


def _page(status: int, title: str, body: str) -> Response:
    document = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(title)}</title><link rel=\"icon\" href=\"data:,\">"
                f"<style>{_STYLE}</style></head>"
                f"<body><main><div class=\"brand\">Microsoft Entra ID (simulator)</div>"
                f"{body}</main></body></html>")
    return Response(status, document.encode(), {"Content-Type": "text/html; charset=utf-8"})


def _error_html(code: int, message: str) -> str:
    return (f"<h1>Sorry, but we're having trouble signing you in.</h1>"
            f"<p class=\"error\">AADSTS{code}: {message}</p>")


def _picker_html(params: dict[str, str], people: list[dict[str, Any]]) -> str:
    hidden = "".join(
        f"<input type=\"hidden\" name=\"{html.escape(k)}\" value=\"{html.escape(v)}\">"
        for k, v in params.items() if k != "account")
    if not people:
        return "<h1>Pick an account</h1><p>No demo identities in this directory.</p>"
    items = "".join(
        f"<li><button type=\"submit\" name=\"account\" value=\"{html.escape(p['oid'])}\">"
        f"<span class=\"name\">{html.escape(p['name'])}</span>"
        f"<span class=\"meta\">{html.escape(p['email'])} · tenant "
        f"{html.escape(p.get('tenant_name') or p['tenant_id'])}"
        f"{' · MFA' if p.get('mfa') else ''}</span></button></li>"
        for p in people)
    return (f"<h1>Pick an account</h1><form method=\"post\">{hidden}<ul>{items}</ul></form>")
