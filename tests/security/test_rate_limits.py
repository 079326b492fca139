"""Rate limits: sign-in, password reset, MFA codes, API token use, verify-grant and comments each
stop a flood with a clear message (429 where the client can read a status)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.settings import api_settings

from connectivity import kinds, services
from connectivity.models import Cluster, RequestState, User
from portal.settings import base
from tests.factories import PASSWORD, PeeringRequestFactory
from tests.security.helpers import activate_totp, sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at")]


@pytest.fixture(autouse=True)
def fresh_counters(private_cache: None) -> None:
    """Every test starts with no attempts counted (in a cache of its own)."""


@pytest.fixture
def account_limits() -> Iterator[None]:
    """The test settings switch allauth's limits off; these tests run with the real ones."""
    with override_settings(ACCOUNT_RATE_LIMITS=base.ACCOUNT_RATE_LIMITS):
        yield


def test_sign_in_flood_from_one_address_gets_429(customer: User, account_limits: None) -> None:
    client = Client()
    statuses = [sign_in(client, f"nobody{i}@example.com", "wrong-password-1").status_code
                for i in range(31)]
    # Ten failures a minute per address, whatever the account; then 429 until the minute ends.
    assert statuses[:10] == [200] * 10
    assert statuses[10:] == [429] * 21
    response = sign_in(client, customer.email)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Too many attempts" in response.content.decode()


def test_failed_sign_ins_lock_the_account_for_a_while(customer: User, account_limits: None) -> None:
    for _ in range(5):
        assert sign_in(Client(), customer.email, "wrong-password-1").status_code == 200
    response = sign_in(Client(), customer.email)  # even the right password, from this address
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many failed login attempts. Try again later." in response.content.decode()


def test_password_reset_flood_gets_429(customer: User, account_limits: None) -> None:
    client = Client()
    for _ in range(3):
        assert client.post("/accounts/password/reset/", {"email": customer.email}).status_code == 302
    response = client.post("/accounts/password/reset/", {"email": customer.email})
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()


def test_mfa_code_guessing_is_stopped(customer: User, account_limits: None) -> None:
    client = Client()
    sign_in(client, customer.email)
    activate_totp(client)
    client.post("/accounts/logout/")
    cache.clear()
    sign_in(client, customer.email)
    for _ in range(5):
        client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    response = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert "Too many failed login attempts. Try again later." in response.content.decode()


def test_api_token_use_is_throttled(customer: User) -> None:
    _, plaintext = services.api_token_create(
        actor=customer, organization=customer.organization, name="ci", scope="read")
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_token": "3/min"}
    with override_settings(REST_FRAMEWORK={**base.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        statuses = [client.get("/api/v1/clusters/").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = client.get("/api/v1/clusters/")
    assert int(response.headers["Retry-After"]) > 0
    assert "throttled" in response.content.decode().lower() or "too many" in (
        response.content.decode().lower())


def _awaiting_grant(cluster: Cluster) -> Any:
    return PeeringRequestFactory(cluster=cluster, state=RequestState.AWAITING_GRANT)


def test_verify_grant_in_the_portal_is_limited(
    customer: User, dedicated_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(services, "request_verify",
                        lambda *, request, actor: calls.append(str(request.pk)) or request)
    req = _awaiting_grant(dedicated_cluster)
    client = Client(HTTP_ACCEPT="application/json")
    client.force_login(customer)
    statuses = [client.post(f"/requests/{req.pk}/verify/").status_code for _ in range(7)]
    assert statuses[:6] == [200] * 6 and statuses[6] == 429
    response = client.post(f"/requests/{req.pk}/verify/")
    assert "Too many checks" in response.json()["error"]
    assert int(response.headers["Retry-After"]) > 0
    assert len(calls) == 6  # Azure was asked six times, not eight


def test_comment_posting_in_the_portal_is_limited(
    customer: User, dedicated_cluster: Cluster
) -> None:
    req = PeeringRequestFactory(cluster=dedicated_cluster)
    client = Client(HTTP_ACCEPT="application/json")
    client.force_login(customer)
    for i in range(10):
        client.post(f"/requests/{req.pk}/comments/", {"body": f"message {i}"})
    response = client.post(f"/requests/{req.pk}/comments/", {"body": "one too many"})
    assert response.status_code == 429
    assert "Too many messages" in response.json()["error"]
    assert req.comments.count() == 10


def test_verify_grant_in_the_api_shares_the_portal_budget(
    customer: User, dedicated_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(services, "request_verify",
                        lambda *, request, actor: calls.append(str(request.pk)) or request)
    req = _awaiting_grant(dedicated_cluster)
    browser = Client(HTTP_ACCEPT="application/json")
    browser.force_login(customer)
    for _ in range(3):
        assert browser.post(f"/requests/{req.pk}/verify/").status_code == 200
    _, plaintext = services.api_token_create(
        actor=customer, organization=customer.organization, name="ci", scope="write")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    statuses = [api.post(f"/api/v1/requests/{req.pk}/verify-grant/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api.post(f"/api/v1/requests/{req.pk}/verify-grant/")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"].lower()
    assert len(calls) == 6


def test_comment_posting_in_the_api_is_limited(customer: User, dedicated_cluster: Cluster) -> None:
    req = PeeringRequestFactory(cluster=dedicated_cluster)
    client = Client()
    client.force_login(customer)
    url = f"/api/v1/requests/{req.pk}/comments/"
    for i in range(10):
        assert client.post(url, {"body": f"message {i}"}, content_type="application/json"
                           ).status_code == 201
    response = client.post(url, {"body": "one too many"}, content_type="application/json")
    assert response.status_code == 429
    assert client.get(url).status_code == 200  # reading the thread is not limited
    assert req.comments.count() == 10


def test_password_is_still_accepted_below_the_limits(customer: User, account_limits: None) -> None:
    sign_in(Client(), customer.email, "wrong-password-1")
    assert sign_in(Client(), customer.email, PASSWORD).status_code == 302


def _dns_post(cluster: Cluster, n: int) -> dict[str, Any]:
    return {"cluster": cluster.pk, "kind": "private_dns",
            "private_dns-zone_name": f"zone{n}.contoso.internal",
            "private_dns-records": "db 10.20.1.4"}


@pytest.fixture
def preflight_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count pre-flight runs (each one is Azure calls) instead of making them."""

    runs: list[str] = []
    monkeypatch.setattr(kinds, "preflight",
                        lambda request: runs.append(str(request.pk)) or ([], []))
    return runs


def test_creating_and_submitting_shares_the_verify_budget(
    customer: User, dedicated_cluster: Cluster, preflight_runs: list[str],
) -> None:
    from connectivity.models import ConnectivityRequest

    browser = Client()
    browser.force_login(customer)
    for n in range(4):
        assert browser.post("/requests/new/", _dns_post(dedicated_cluster, n)).status_code == 302
    _, plaintext = services.api_token_create(
        actor=customer, organization=customer.organization, name="ci", scope="write")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    body = {"cluster": dedicated_cluster.pk, "kind": "private_dns", "submit": True,
            "zone_name": "api.contoso.internal", "records": [{"name": "db", "ip": "10.20.1.4"}]}
    assert api.post("/api/v1/requests/", body, content_type="application/json").status_code == 201
    draft = api.post("/api/v1/requests/", {**body, "submit": False, "zone_name": "d.contoso.internal"},
                     content_type="application/json")
    assert draft.status_code == 201  # a draft runs nothing and costs nothing
    assert api.post(f"/api/v1/requests/{draft.json()['id']}/submit/").status_code == 200
    assert len(preflight_runs) == 6

    refused = browser.post("/requests/new/", _dns_post(dedicated_cluster, 9))
    assert refused.status_code == 429
    assert "Too many checks in a short time" in refused.content.decode()
    assert int(refused.headers["Retry-After"]) > 0
    over = api.post("/api/v1/requests/", {**body, "zone_name": "more.contoso.internal"},
                    content_type="application/json")
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert "pre-flight" in over.json()["detail"]
    draft2 = api.post("/api/v1/requests/", {**body, "submit": False, "zone_name": "e.contoso.internal"},
                      content_type="application/json").json()
    assert api.post(f"/api/v1/requests/{draft2['id']}/submit/").status_code == 429
    assert len(preflight_runs) == 6  # Azure was asked six times, no more
    assert not ConnectivityRequest.objects.filter(spec__zone_name__in=[
        "zone9.contoso.internal", "more.contoso.internal"]).exists()


def test_a_peering_create_runs_no_preflight_and_costs_nothing(
    customer: User, dedicated_cluster: Cluster, preflight_runs: list[str],
) -> None:
    _, plaintext = services.api_token_create(
        actor=customer, organization=customer.organization, name="ci", scope="write")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    for n in range(8):
        response = api.post("/api/v1/requests/", {
            "cluster": dedicated_cluster.pk, "kind": "vnet_peering", "submit": True,
            "tenant_id": "44444444-4444-4444-8444-444444444444",
            "subscription_id": "55555555-5555-4555-8555-555555555555",
            "resource_group": "rg-net", "vnet_name": f"vnet-{n}"}, content_type="application/json")
        assert response.status_code == 201, response.content
    assert preflight_runs == []
