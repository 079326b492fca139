"""A retried create with the same Idempotency-Key files one request, not two."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from connectivity.models import ConnectivityRequest, IdempotencyKey, User
from tests.api.conftest import client_with, make_token, problem_of
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db
Payload = Callable[..., dict]


def test_same_key_and_body_twice_creates_one_request(
    owner_api: APIClient, peering_payload: Payload,
) -> None:
    first = owner_api.post("/api/v1/requests/", peering_payload(), format="json",
                           HTTP_IDEMPOTENCY_KEY="deploy-42")
    second = owner_api.post("/api/v1/requests/", peering_payload(), format="json",
                            HTTP_IDEMPOTENCY_KEY="deploy-42")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert ConnectivityRequest.objects.count() == 1


def test_same_key_from_another_token_of_the_organisation_replays(
    owner_api: APIClient, peering_payload: Payload, customer: User,
) -> None:
    first = owner_api.post("/api/v1/requests/", peering_payload(), format="json",
                           HTTP_IDEMPOTENCY_KEY="k1")
    other = client_with(make_token(customer, name="second runner"))
    again = other.post("/api/v1/requests/", peering_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.json()["id"] == first.json()["id"]
    assert ConnectivityRequest.objects.count() == 1


def test_same_key_with_a_different_body_is_409(owner_api: APIClient, peering_payload: Payload) -> None:
    owner_api.post("/api/v1/requests/", peering_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k2")
    response = owner_api.post("/api/v1/requests/", peering_payload(vnet_name="vnet-other"),
                              format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert response.status_code == 409
    assert "different request body" in problem_of(response)["detail"]
    assert ConnectivityRequest.objects.count() == 1


def test_without_a_key_each_post_creates(owner_api: APIClient, peering_payload: Payload) -> None:
    owner_api.post("/api/v1/requests/", peering_payload(), format="json")
    owner_api.post("/api/v1/requests/", peering_payload(vnet_name="vnet-two"), format="json")
    assert ConnectivityRequest.objects.count() == 2


def test_the_same_key_in_another_organisation_is_independent(
    owner_api: APIClient, peering_payload: Payload, outsider: User,
) -> None:
    owner_api.post("/api/v1/requests/", peering_payload(), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    theirs = ClusterFactory(organization=outsider.organization, name="fabrikam-prod")
    response = client_with(make_token(outsider)).post(
        "/api/v1/requests/", peering_payload(cluster=theirs.pk), format="json",
        HTTP_IDEMPOTENCY_KEY="shared")
    assert response.status_code == 201
    assert ConnectivityRequest.objects.filter(organization=outsider.organization).count() == 1
    assert IdempotencyKey.objects.filter(key="shared").count() == 2


def test_a_refused_create_is_not_remembered(owner_api: APIClient, peering_payload: Payload) -> None:
    bad = owner_api.post("/api/v1/requests/", peering_payload(tenant_id="x"), format="json",
                         HTTP_IDEMPOTENCY_KEY="k3")
    assert bad.status_code == 400
    good = owner_api.post("/api/v1/requests/", peering_payload(), format="json",
                          HTTP_IDEMPOTENCY_KEY="k3")
    assert good.status_code == 201


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\there"])
def test_a_malformed_key_is_400_naming_the_header(
    owner_api: APIClient, peering_payload: Payload, key: str,
) -> None:
    response = owner_api.post("/api/v1/requests/", peering_payload(), format="json",
                              HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in problem_of(response)["errors"]
    assert ConnectivityRequest.objects.count() == 0


def test_comments_are_idempotent_too(owner_api: APIClient, peering: ConnectivityRequest) -> None:
    for _ in range(2):
        response = owner_api.post(f"/api/v1/requests/{peering.pk}/comments/", {"body": "hi"},
                                  format="json", HTTP_IDEMPOTENCY_KEY="c1")
        assert response.status_code == 201
    assert peering.comments.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_posts_with_one_key_create_one_request(
    write_token: str, peering_payload: Payload,
) -> None:
    """Both pass the lookup before either commits; the unique key makes the loser replay."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    start = Barrier(4)

    def post(_: int) -> tuple[int, str]:
        try:
            start.wait()
            response = client_with(write_token).post(
                "/api/v1/requests/", peering_payload(), format="json", HTTP_IDEMPOTENCY_KEY="race")
            return response.status_code, response.json()["id"]
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(post, range(4)))
    assert {status for status, _ in results} == {201}
    assert len({request_id for _, request_id in results}) == 1
    assert ConnectivityRequest.objects.count() == 1


def test_keys_expire_after_the_retention_and_the_periodic_task_purges_them(
    owner_api: APIClient, peering_payload: Payload, settings: object,
) -> None:
    from datetime import timedelta

    from django.conf import settings as live
    from django.utils import timezone

    from connectivity import tasks

    assert live.CELERY_BEAT_SCHEDULE["idempotency-purge"]["task"] == (
        "connectivity.tasks.idempotency_keys_purge")
    first = owner_api.post("/api/v1/requests/", peering_payload(), format="json",
                           HTTP_IDEMPOTENCY_KEY="deploy-1")
    assert first.status_code == 201
    fresh = owner_api.post("/api/v1/requests/", peering_payload(vnet_name="vnet-2"), format="json",
                           HTTP_IDEMPOTENCY_KEY="deploy-2")
    hours = live.IDEMPOTENCY_KEY_RETENTION_HOURS
    IdempotencyKey.objects.filter(key="deploy-1").update(
        created_at=timezone.now() - timedelta(hours=hours, minutes=1))
    tasks.idempotency_keys_purge.apply()  # what beat runs, in this process
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["deploy-2"]
    # An expired key is a new create, not a replay; a fresh one still replays.
    again = owner_api.post("/api/v1/requests/", peering_payload(), format="json",
                           HTTP_IDEMPOTENCY_KEY="deploy-1")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    replay = owner_api.post("/api/v1/requests/", peering_payload(vnet_name="vnet-2"),
                            format="json", HTTP_IDEMPOTENCY_KEY="deploy-2")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == fresh.json()


def test_an_expired_key_not_yet_purged_is_not_replayed(
    owner_api: APIClient, peering_payload: Payload,
) -> None:
    from datetime import timedelta

    from django.conf import settings as live
    from django.utils import timezone

    owner_api.post("/api/v1/requests/", peering_payload(), format="json",
                   HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(
        hours=live.IDEMPOTENCY_KEY_RETENTION_HOURS + 1))
    again = owner_api.post("/api/v1/requests/", peering_payload(), format="json",
                           HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert IdempotencyKey.objects.count() == 1
