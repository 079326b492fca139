"""The exact security headers and cookie flags a page gets in production settings."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from connectivity.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at")]

HOST = "portal.example.com"
EXPECTED_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains; preload",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
EXPECTED_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "upgrade-insecure-requests": [],
}


def parse_csp(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        # A nonce is per response; a page that truly needs inline code gets one, nothing looser.
        directives[name] = [v for v in values if not v.startswith("'nonce-")]
    return directives


def https_get(client: Client, path: str, **extra: Any) -> Any:
    return client.get(path, secure=True, HTTP_HOST=HOST, **extra)


def test_page_headers_are_exact(production: dict[str, Any], customer: User) -> None:
    client = Client()
    client.force_login(customer)
    response = https_get(client, "/")
    assert response.status_code == 200
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers[name] == value, name
    csp = response.headers["Content-Security-Policy"]
    assert parse_csp(csp) == EXPECTED_CSP
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "Access-Control-Allow-Origin" not in response.headers


def test_session_cookie_is_secure_httponly_samesite_host_only(
    production: dict[str, Any], customer: User
) -> None:
    client = Client()
    client.force_login(customer)
    response = https_get(client, "/")
    cookie = response.cookies["__Host-sessionid"]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["domain"] == ""


def test_csrf_cookie_is_secure_httponly_samesite(production: dict[str, Any], db: None) -> None:
    response = https_get(Client(), "/accounts/login/")
    assert response.status_code == 200
    cookie = response.cookies["__Host-csrftoken"]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"


def test_sign_in_page_has_the_same_headers(production: dict[str, Any], db: None) -> None:
    response = https_get(Client(), "/accounts/login/")
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers[name] == value, name
    assert parse_csp(response.headers["Content-Security-Policy"]) == EXPECTED_CSP


def test_plain_http_is_redirected_to_https(production: dict[str, Any], db: None) -> None:
    response = Client().get("/accounts/login/", HTTP_HOST=HOST)
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://{HOST}/accounts/login/"


def test_the_proxy_header_marks_a_request_https(production: dict[str, Any], db: None) -> None:
    response = Client().get("/accounts/login/", HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert "Strict-Transport-Security" in response.headers


def test_health_check_is_not_redirected(production: dict[str, Any], db: None) -> None:
    response = Client().get("/healthz", HTTP_HOST=HOST)
    assert response.status_code == 200


def test_unknown_host_is_refused(production: dict[str, Any], db: None) -> None:
    response = Client().get("/accounts/login/", secure=True, HTTP_HOST="evil.example")
    assert response.status_code == 400


def test_cors_is_closed_for_the_api(production: dict[str, Any], customer: User) -> None:
    """No Access-Control-* header, not even to a preflight: browsers on other origins cannot read
    the API with a user's cookies."""
    client = Client()
    client.force_login(customer)
    response = https_get(client, "/api/v1/clusters/", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 200
    preflight = client.options(
        "/api/v1/clusters/", secure=True, HTTP_HOST=HOST, HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    for r in (response, preflight):
        assert not [h for h in r.headers if h.lower().startswith("access-control-")]


def test_csrf_is_enforced_on_forms(production: dict[str, Any], customer: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    response = client.post("/accounts/logout/", secure=True, HTTP_HOST=HOST,
                           HTTP_REFERER=f"https://{HOST}/")
    assert response.status_code == 403
