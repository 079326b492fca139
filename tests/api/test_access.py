"""Every endpoint, asked by every kind of caller: who gets in, who is refused, and how."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from connectivity.models import Cluster, ConnectivityRequest
from tests.api.conftest import client_with, problem_of

pytestmark = pytest.mark.django_db

READS = [
    "/api/v1/clusters/{cluster}/",
    "/api/v1/requests/{request}/",
    "/api/v1/requests/{request}/grant/",
    "/api/v1/requests/{request}/events/",
    "/api/v1/requests/{request}/comments/",
]
LISTS = ["/api/v1/clusters/", "/api/v1/requests/"]
WRITES = [
    ("/api/v1/requests/", {"kind": "private_dns"}),
    ("/api/v1/requests/{request}/submit/", {}),
    ("/api/v1/requests/{request}/cancel/", {}),
    ("/api/v1/requests/{request}/teardown/", {}),
    ("/api/v1/requests/{request}/verify-grant/", {}),
    ("/api/v1/requests/{request}/comments/", {"body": "Hello"}),
]
ALL = [("get", p, None) for p in READS + LISTS] + [("post", p, b) for p, b in WRITES]


def fill(path: str, cluster: Cluster, request: ConnectivityRequest) -> str:
    return path.format(cluster=cluster.pk, request=request.pk)


@pytest.mark.parametrize(("method", "path", "body"), ALL)
def test_anonymous_gets_401_with_bearer_challenge(
    anonymous_api: APIClient, dedicated_cluster: Cluster, peering: ConnectivityRequest,
    method: str, path: str, body: dict | None,
) -> None:
    response = getattr(anonymous_api, method)(fill(path, dedicated_cluster, peering), body,
                                              format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert "credentials were not provided" in problem_of(response)["detail"]


@pytest.mark.parametrize(("method", "path", "body"), ALL)
@pytest.mark.parametrize(("token_fixture", "says"), [
    ("expired_token", "expired"), ("revoked_token", "revoked")])
def test_expired_and_revoked_tokens_get_401(
    request: pytest.FixtureRequest, dedicated_cluster: Cluster, peering: ConnectivityRequest,
    token_fixture: str, says: str, method: str, path: str, body: dict | None,
) -> None:
    api = client_with(request.getfixturevalue(token_fixture))
    response = getattr(api, method)(fill(path, dedicated_cluster, peering), body, format="json")
    assert response.status_code == 401
    assert says in problem_of(response)["detail"]


@pytest.mark.parametrize("path", READS + LISTS)
def test_read_only_token_reads(reader_api: APIClient, dedicated_cluster: Cluster,
                               peering: ConnectivityRequest, path: str) -> None:
    assert reader_api.get(fill(path, dedicated_cluster, peering)).status_code == 200


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_read_only_token_cannot_write(reader_api: APIClient, dedicated_cluster: Cluster,
                                      peering: ConnectivityRequest, path: str, body: dict) -> None:
    response = reader_api.post(fill(path, dedicated_cluster, peering), body, format="json")
    assert response.status_code == 403
    assert "read-only" in problem_of(response)["detail"]
    peering.refresh_from_db()
    assert peering.state == "draft"
    assert ConnectivityRequest.objects.count() == 1


@pytest.mark.parametrize("path", READS)
def test_another_organisations_token_gets_404_on_our_objects(
    outsider_api: APIClient, dedicated_cluster: Cluster, peering: ConnectivityRequest, path: str,
) -> None:
    response = outsider_api.get(fill(path, dedicated_cluster, peering))
    assert response.status_code == 404
    problem_of(response)


@pytest.mark.parametrize(("path", "body"), WRITES[1:])
def test_another_organisations_token_cannot_act_on_our_request(
    outsider_api: APIClient, dedicated_cluster: Cluster, peering: ConnectivityRequest,
    path: str, body: dict,
) -> None:
    response = outsider_api.post(fill(path, dedicated_cluster, peering), body, format="json")
    assert response.status_code == 404
    peering.refresh_from_db()
    assert peering.state == "draft"
    assert not peering.comments.exists()


def test_another_organisations_token_lists_only_its_own(
    outsider_api: APIClient, dedicated_cluster: Cluster, peering: ConnectivityRequest,
) -> None:
    assert outsider_api.get("/api/v1/requests/").json()["results"] == []
    names = [c["name"] for c in outsider_api.get("/api/v1/clusters/").json()]
    assert dedicated_cluster.name not in names


def test_another_organisations_token_cannot_file_on_our_cluster(
    outsider_api: APIClient, peering_payload: object,
) -> None:
    response = outsider_api.post("/api/v1/requests/", peering_payload(), format="json")  # type: ignore[operator]
    assert response.status_code == 400
    assert "No cluster with id" in problem_of(response)["errors"]["cluster"][0]
    assert ConnectivityRequest.objects.count() == 0


@pytest.mark.parametrize("path", READS + LISTS)
def test_owner_token_reads(owner_api: APIClient, dedicated_cluster: Cluster,
                           peering: ConnectivityRequest, path: str) -> None:
    assert owner_api.get(fill(path, dedicated_cluster, peering)).status_code == 200
