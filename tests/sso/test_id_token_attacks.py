"""An attacker on the wire or a lying provider: every spoiled id token, state or nonce is
refused, and nobody is signed in."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from connectivity.models import Organization, User
from tests.sso.conftest import Entra, Flow, confirm_tenant, signed_in_user

pytestmark = pytest.mark.django_db
EMAIL = "customer@contoso.example"


@pytest.fixture
def ready(entra: Entra, organization: Organization, customer: User) -> Entra:
    confirm_tenant(organization)
    return entra


def assert_refused(response: Any, client: Client, reason: str = "") -> None:
    page = response.content.decode()
    assert response.status_code == 401, page[:300]
    assert "Sign-in with Microsoft failed" in page and "Nobody was signed in" in page
    assert reason in page
    assert signed_in_user(client) is None
    assert client.get("/").status_code == 302  # to the sign-in page


@pytest.mark.parametrize(("spoil", "reason"), [
    pytest.param({"tamper": True}, "The id token is invalid: Signature verification failed",
                 id="claim-changed-after-signing"),
    pytest.param({"foreign_key": True}, "The id token is invalid: Signature verification failed",
                 id="signed-by-a-key-not-in-the-jwks"),
    pytest.param({"claims": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200,
                             "nbf": int(time.time()) - 7200}}, "The id token has expired",
                 id="expired"),
    pytest.param({"claims": {"aud": "99999999-9999-4999-8999-999999999999"}},
                 "The id token is for another application", id="wrong-audience"),
    pytest.param({"claims": {"iss": "https://login.evil.example/44444444-4444-4444-8444-"
                                    "444444444444/v2.0"}},
                 "The id token comes from another issuer", id="wrong-issuer"),
    pytest.param({"claims": {"tid": "66666666-6666-4666-8666-666666666666"}},
                 "The id token comes from another issuer", id="tenant-not-matching-the-issuer"),
    pytest.param({"claims": {"nonce": "a-nonce-this-sign-in-never-sent"}},
                 "nonce is not the one this sign-in sent", id="wrong-nonce"),
])
def test_a_spoiled_id_token_signs_nobody_in(ready: Entra, spoil: dict[str, Any],
                                            reason: str) -> None:
    client = Client()
    flow = ready.start(client, EMAIL)
    ready.spoil_next_id_token(**spoil)
    assert_refused(flow.finish(), client, reason)
    # The same person signs in fine with an honest token.
    ready.sign_in(client, EMAIL)
    assert signed_in_user(client) is not None


def test_an_id_token_without_a_nonce_is_refused(ready: Entra) -> None:
    client = Client()
    flow = ready.start(client, EMAIL)
    ready.spoil_next_id_token(claims={"nonce": None})
    assert_refused(flow.finish(), client)


def test_a_replayed_callback_is_refused(ready: Entra) -> None:
    client = Client()
    flow = ready.start(client, EMAIL)
    assert flow.finish().status_code == 302 and signed_in_user(client) is not None
    client.post("/accounts/logout/")
    # The same browser, the same state and code again: the state was used up.
    assert_refused(flow.finish(), client)
    # Another browser with the stolen callback URL has no such state at all.
    thief = Client()
    assert_refused(Flow(thief, flow.callback).finish(), thief)


def test_a_state_from_another_sign_in_is_refused(ready: Entra) -> None:
    victim, attacker = Client(), Client()
    flow = ready.start(attacker, EMAIL)
    # The attacker's code with the victim's session (login CSRF): the victim has no such state.
    ready.start(victim, EMAIL)
    assert_refused(Flow(victim, flow.callback).finish(), victim)


def test_a_replayed_nonce_is_refused(ready: Entra) -> None:
    # First sign-in: remember its nonce (the simulator puts it in the id token).
    client = Client()
    first = ready.start(client, EMAIL)
    code = parse_qs(urlsplit(first.callback).query)["code"][0]
    nonce = ready.stack.simulator.state.auth_codes[code]["nonce"]
    assert nonce
    first.finish()
    client.post("/accounts/logout/")
    # Second sign-in: the provider hands back a token carrying the old nonce.
    second = ready.start(client, EMAIL)
    ready.spoil_next_id_token(claims={"nonce": nonce})
    assert_refused(second.finish(), client)

