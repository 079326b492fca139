"""The simulator's Entra ID for people, as any OpenID Connect client sees it over HTTPS:
discovery, the sign-in page, the authorization-code grant with PKCE, and RS256 id tokens that
verify against its JWKS."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

from connectivity.azure.simulator import AzureSimulator

TENANT = "44444444-4444-4444-8444-444444444444"
OTHER_TENANT = "66666666-6666-4666-8666-666666666666"
CLIENT_ID = "77777777-7777-4777-8777-777777777777"
SECRET = "sso-secret"
REDIRECT = "https://portal.example/accounts/microsoft/login/callback/"
SEED = {
    "tenants": [{"id": TENANT, "name": "contoso"}, {"id": OTHER_TENANT, "name": "fabrikam"}],
    "apps": [{"app_id": CLIENT_ID, "home_tenant": TENANT, "secret": SECRET,
              "redirect_uris": [REDIRECT, "http://localhost:8000/cb/"]}],
    "people": [{"tenant_id": TENANT, "email": "ada@contoso.example", "name": "Ada Lovelace",
                "mfa": True},
               {"tenant_id": OTHER_TENANT, "email": "bob@fabrikam.example", "name": "Bob"}],
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureSimulator]:
    simulator = AzureSimulator(seed=SEED, cert_dir=Path(tmp_path_factory.mktemp("idp")))
    simulator.start()
    yield simulator
    simulator.stop()


def get(sim: AzureSimulator, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(sim.base_url + path, verify=sim.ca_path, allow_redirects=False,
                        timeout=10, **kwargs)


def post(sim: AzureSimulator, path: str, **kwargs: Any) -> requests.Response:
    return requests.post(sim.base_url + path, verify=sim.ca_path, allow_redirects=False,
                         timeout=10, **kwargs)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(sim: AzureSimulator, tenant: str = "organizations", **overrides: str) -> str:
    """Pick Ada on the sign-in page; the code the simulator redirects back with."""
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code",
              "scope": "openid profile email", "state": "st-1", "nonce": "n-1", **overrides}
    oid = next(p["oid"] for p in sim.control.state()["people"] if p["email"].startswith("ada"))
    picked = post(sim, f"/{tenant}/oauth2/v2.0/authorize?{urlencode(params)}",
                  data={"account": oid})
    assert picked.status_code == 302, picked.text
    location = urlsplit(picked.headers["Location"])
    assert location.geturl().startswith(REDIRECT)
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def redeem(sim: AzureSimulator, code: str, verifier: str | None = None,
           **overrides: str) -> requests.Response:
    form = {"grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": SECRET,
            "code": code, "redirect_uri": REDIRECT, **overrides}
    if verifier:
        form["code_verifier"] = verifier
    return post(sim, "/organizations/oauth2/v2.0/token", data=form)


def test_discovery_for_organizations_names_each_tenant_as_its_own_issuer(
        sim: AzureSimulator) -> None:
    doc = get(sim, "/organizations/v2.0/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"{sim.base_url}/{{tenantid}}/v2.0"
    assert doc["authorization_endpoint"] == f"{sim.base_url}/organizations/oauth2/v2.0/authorize"
    assert doc["jwks_uri"] == f"{sim.base_url}/organizations/discovery/v2.0/keys"
    tenant_doc = get(sim, f"/{TENANT}/v2.0/.well-known/openid-configuration").json()
    assert tenant_doc["issuer"] == f"{sim.base_url}/{TENANT}/v2.0"


def test_sign_in_page_lists_the_directory_people(sim: AzureSimulator) -> None:
    query = urlencode({"client_id": CLIENT_ID, "redirect_uri": REDIRECT,
                       "response_type": "code", "scope": "openid"})
    everyone = get(sim, f"/organizations/oauth2/v2.0/authorize?{query}")
    assert everyone.status_code == 200 and everyone.headers["Content-Type"].startswith("text/html")
    assert "Ada Lovelace" in everyone.text and "bob@fabrikam.example" in everyone.text
    contoso = get(sim, f"/{TENANT}/oauth2/v2.0/authorize?{query}")
    assert "Ada Lovelace" in contoso.text and "bob@fabrikam.example" not in contoso.text


@pytest.mark.parametrize(("params", "code"), [
    ({"client_id": "00000000-0000-4000-8000-000000000000"}, "AADSTS700016"),
    ({"redirect_uri": "https://evil.example/cb"}, "AADSTS50011"),
    ({"redirect_uri": ""}, "AADSTS50011"),
])
def test_authorize_refuses_unknown_clients_and_redirect_uris(
        sim: AzureSimulator, params: dict[str, str], code: str) -> None:
    query = urlencode({"client_id": CLIENT_ID, "redirect_uri": REDIRECT,
                       "response_type": "code", "scope": "openid", **params})
    answer = get(sim, f"/organizations/oauth2/v2.0/authorize?{query}")
    assert answer.status_code == 400 and code in answer.text


def test_loopback_redirect_uris_match_on_any_port(sim: AzureSimulator) -> None:
    query = urlencode({"client_id": CLIENT_ID, "redirect_uri": "http://localhost:51234/cb/",
                       "response_type": "code", "scope": "openid"})
    assert get(sim, f"/organizations/oauth2/v2.0/authorize?{query}").status_code == 200


def test_code_flow_with_pkce_returns_an_rs256_id_token_that_verifies(sim: AzureSimulator) -> None:
    verifier, challenge = pkce()
    code = authorize(sim, code_challenge=challenge, code_challenge_method="S256")
    answer = redeem(sim, code, verifier)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["access_token"]
    keys = get(sim, "/organizations/discovery/v2.0/keys").json()
    header = jwt.get_unverified_header(body["id_token"])
    assert header["alg"] == "RS256"
    key = next(k for k in keys["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(body["id_token"], key=jwt.PyJWK(key).key, algorithms=["RS256"],
                        audience=CLIENT_ID, issuer=f"{sim.base_url}/{TENANT}/v2.0")
    assert claims["tid"] == TENANT and claims["nonce"] == "n-1"
    assert claims["email"] == claims["preferred_username"] == "ada@contoso.example"
    assert claims["name"] == "Ada Lovelace" and claims["amr"] == ["pwd", "mfa"]
    assert claims["oid"] and claims["sub"] != claims["oid"]


def test_a_wrong_or_missing_code_verifier_is_refused(sim: AzureSimulator) -> None:
    _, challenge = pkce()
    code = authorize(sim, code_challenge=challenge, code_challenge_method="S256")
    wrong = redeem(sim, code, "not-the-verifier-" + "x" * 40)
    assert wrong.status_code == 400 and "AADSTS50148" in wrong.json()["error_description"]
    code = authorize(sim, code_challenge=challenge, code_challenge_method="S256")
    assert "AADSTS50148" in redeem(sim, code).json()["error_description"]


def test_a_code_is_redeemed_once(sim: AzureSimulator) -> None:
    code = authorize(sim)
    assert redeem(sim, code).status_code == 200
    again = redeem(sim, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert "AADSTS54005" in again.json()["error_description"]


def test_the_token_endpoint_checks_the_client_secret_and_redirect_uri(
        sim: AzureSimulator) -> None:
    bad_secret = redeem(sim, authorize(sim), client_secret="guess")
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    other_uri = redeem(sim, authorize(sim), redirect_uri="http://localhost:8000/cb/")
    assert other_uri.status_code == 400 and "AADSTS50011" in other_uri.json()["error_description"]
