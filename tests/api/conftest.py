"""API fixtures: tokens of every kind and clients that send them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from connectivity import kinds, services
from connectivity.models import ApiToken, Cluster, ConnectivityRequest, Organization, User
from tests.factories import PeeringRequestFactory

TENANT = "44444444-4444-4444-8444-444444444444"
SUBSCRIPTION = "55555555-5555-4555-8555-555555555555"


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    """Throttle counters live in the cache, which outlives each test's database."""
    cache.clear()
    yield
    cache.clear()


def make_token(user: User, *, scope: str = ApiToken.Scope.WRITE, name: str = "ci") -> str:
    _, plaintext = services.api_token_create(
        actor=user, organization=user.organization, name=name, scope=scope)  # type: ignore[arg-type]
    return plaintext


def client_with(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def write_token(customer: User) -> str:
    return make_token(customer, name="pipeline")


@pytest.fixture
def read_token(customer: User) -> str:
    return make_token(customer, scope=ApiToken.Scope.READ, name="dashboards")


@pytest.fixture
def expired_token(customer: User) -> str:
    plaintext = make_token(customer, name="old")
    ApiToken.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(minutes=1))
    return plaintext


@pytest.fixture
def revoked_token(customer: User) -> str:
    plaintext = make_token(customer, name="leaked")
    services.api_token_revoke(token=ApiToken.objects.get(name="leaked"), actor=customer)
    return plaintext


@pytest.fixture
def outsider_token(outsider: User) -> str:
    return make_token(outsider, name="fabrikam-ci")


@pytest.fixture
def owner_api(write_token: str) -> APIClient:
    return client_with(write_token)


@pytest.fixture
def reader_api(read_token: str) -> APIClient:
    return client_with(read_token)


@pytest.fixture
def outsider_api(outsider_token: str) -> APIClient:
    return client_with(outsider_token)


@pytest.fixture
def anonymous_api() -> APIClient:
    return APIClient()


@pytest.fixture
def peering(dedicated_cluster: Cluster) -> ConnectivityRequest:
    return PeeringRequestFactory(  # type: ignore[return-value]
        cluster=dedicated_cluster, tenant_id=TENANT, subscription_id=SUBSCRIPTION,
        vnet_name="vnet-contoso")


@pytest.fixture
def peering_payload(dedicated_cluster: Cluster) -> Callable[..., dict]:
    def payload(**overrides: object) -> dict:
        return {"cluster": dedicated_cluster.pk, "kind": "vnet_peering", "tenant_id": TENANT,
                "subscription_id": SUBSCRIPTION, "resource_group": "rg-contoso-network",
                "vnet_name": "vnet-contoso", **overrides}
    return payload


@pytest.fixture
def organization_of_customer(customer: User) -> Organization:
    return customer.organization  # type: ignore[return-value]


def passing_checks(request: ConnectivityRequest) -> tuple[list[dict], list[str]]:
    return [{"key": "role_granted", "label": "Role granted", "status": "pass",
             "message": "The platform holds the role on your VNet."}], []


def failing_checks(request: ConnectivityRequest) -> tuple[list[dict], list[str]]:
    return [{"key": "role_granted", "label": "Role granted", "status": "fail",
             "message": "The platform's role is not assigned on your VNet yet."}], []


@pytest.fixture
def preflight_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pre-flight as if the customer had granted the role (no Azure needed)."""

    monkeypatch.setattr(kinds, "preflight", passing_checks)


@pytest.fixture
def preflight_fails(monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setattr(kinds, "preflight", failing_checks)


def in_state(request: ConnectivityRequest, state: str, **fields: object) -> ConnectivityRequest:
    """Put a request in a state directly: arranging a test, not exercising the workflow."""
    ConnectivityRequest.objects.filter(pk=request.pk).update(state=state, **fields)
    request.refresh_from_db()
    return request


def problem_of(response: Any) -> dict:
    assert response["Content-Type"] == "application/problem+json", response.content
    body = response.json()
    assert body["status"] == response.status_code
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body
