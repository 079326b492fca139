"""Ids and bodies no client should send still get a 4xx problem, never a 500; a method a
route lacks is a 405 naming the methods it has."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from connectivity.api.parsers import MAX_DEPTH
from connectivity.models import Cluster, ConnectivityRequest, User
from tests.api.conftest import problem_of
from tests.console.conftest import give_totp, pass_mfa

pytestmark = pytest.mark.django_db

NOT_IDS = [
    "%C2%B2",  # ², a digit to str.isdigit() that int() refuses
    "%D9%A3",  # ٣ Arabic-Indic three
    "%EF%BC%91",  # fullwidth digit one
    "1" * 5000,  # beyond int()'s 4,300-digit limit
    "9223372036854775808",  # one past bigint
    "0",
    "-1",
]


@pytest.mark.parametrize("cluster_id", NOT_IDS)
def test_a_cluster_id_that_is_no_id_is_a_problem_404(owner_api: APIClient, cluster_id: str) -> None:
    response = owner_api.get(f"/api/v1/clusters/{cluster_id}/")
    assert response.status_code == 404
    problem_of(response)


@pytest.mark.parametrize("request_id", [*NOT_IDS, "%C2%B2" * 36,
                                         "0000000０-0000-0000-0000-000000000000"])
@pytest.mark.parametrize("suffix", ["", "grant/", "events/", "comments/"])
def test_a_request_id_that_is_no_uuid_is_a_problem_404(
    owner_api: APIClient, request_id: str, suffix: str,
) -> None:
    response = owner_api.get(f"/api/v1/requests/{request_id}/{suffix}")
    assert response.status_code == 404
    problem_of(response)


def test_a_request_id_in_capitals_still_finds_the_request(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    response = owner_api.get(f"/api/v1/requests/{str(peering.pk).upper()}/")
    assert response.status_code == 200
    assert response.json()["id"] == str(peering.pk)


@pytest.mark.parametrize("path", ["/api/v1/requests/", "/api/v1/requests/{id}/comments/",
                                  "/api/v1/requests/{id}/cancel/"])
def test_a_body_of_100000_nested_brackets_is_a_400(
    owner_api: APIClient, peering: ConnectivityRequest, path: str,
) -> None:
    response = owner_api.post(path.format(id=peering.pk), "[" * 100_000,
                              content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper than" in problem_of(response)["detail"]


def test_a_body_nested_just_past_the_limit_is_a_400_and_within_it_is_read(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    path = f"/api/v1/requests/{peering.pk}/comments/"
    deep = {"body": "x", "extra": [[]]}
    for _ in range(MAX_DEPTH):
        deep = {"body": "x", "extra": deep}
    response = owner_api.post(path, deep, format="json")
    assert response.status_code == 400
    assert "nested deeper than" in problem_of(response)["detail"]
    assert owner_api.post(path, {"body": "fine", "extra": [[{}]]}, format="json").status_code == 201


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "PUT", "PATCH"])
def test_a_method_a_customer_route_lacks_is_405_with_allow(
    owner_api: APIClient, peering: ConnectivityRequest, dedicated_cluster: Cluster, method: str,
) -> None:
    for path in ["/api/v1/clusters/", f"/api/v1/clusters/{dedicated_cluster.pk}/",
                 "/api/v1/requests/", f"/api/v1/requests/{peering.pk}/",
                 f"/api/v1/requests/{peering.pk}/grant/", f"/api/v1/requests/{peering.pk}/submit/"]:
        response = owner_api.generic(method, path)
        assert response.status_code == 405, (method, path, response.status_code)
        assert "GET" in response["Allow"] or "POST" in response["Allow"]
        assert method not in response["Allow"]
        problem_of(response)


def test_trace_on_a_staff_route_is_405_for_staff_and_404_for_customers(
    owner_api: APIClient, approver: User, peering: ConnectivityRequest,
) -> None:
    staff = APIClient()
    staff.force_login(approver)
    give_totp(approver)
    pass_mfa(staff, approver)  # staff act only in a session that passed MFA
    for path in ["/api/v1/staff/requests/", f"/api/v1/staff/requests/{peering.pk}/approve/"]:
        assert staff.generic("TRACE", path).status_code == 405
        # To a customer (or any token) the staff API does not exist: 405 would say it does.
        response = owner_api.generic("TRACE", path)
        assert response.status_code == 404
        problem_of(response)


@pytest.mark.parametrize("value", ["null", "0", "101", "-1", "", "1.5", "%C2%B2", "1" * 5000])
@pytest.mark.parametrize("path", ["/api/v1/requests/", "/api/v1/requests/{id}/events/"])
def test_page_size_outside_1_to_100_is_a_400_naming_it(
    owner_api: APIClient, peering: ConnectivityRequest, value: str, path: str,
) -> None:
    response = owner_api.get(f"{path.format(id=peering.pk)}?page_size={value}")
    assert response.status_code == 400
    assert "1 to 100" in problem_of(response)["errors"]["page_size"][0]


@pytest.mark.parametrize("query", ["state=", "state=&state=", "state=active,", "state=active&state="])
def test_an_empty_state_is_a_400_naming_it(owner_api: APIClient, query: str) -> None:
    response = owner_api.get(f"/api/v1/requests/?{query}")
    assert response.status_code == 400
    assert "not be empty" in problem_of(response)["errors"]["state"][0]


@pytest.mark.parametrize("cursor", ["", "x" * 201, "cD1ub3QtYS10aW1l"])
def test_a_cursor_not_given_by_a_page_is_a_400_naming_it(owner_api: APIClient, cursor: str) -> None:
    response = owner_api.get(f"/api/v1/requests/?cursor={cursor}")
    assert response.status_code == 400
    assert "cursor" in problem_of(response)["errors"]


def test_page_size_and_state_within_the_rules_still_work(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    for query in ["page_size=1", "page_size=100", "state=draft", "state=draft,active&state=failed"]:
        response = owner_api.get(f"/api/v1/requests/?{query}")
        assert response.status_code == 200, (query, response.content)


def test_an_id_with_an_encoded_newline_is_a_problem_404(owner_api: APIClient) -> None:
    response = owner_api.post("/api/v1/requests/%F0%98%A5%8B%0A%2A/comments/", {}, format="json")
    assert response.status_code == 404
    problem_of(response)
