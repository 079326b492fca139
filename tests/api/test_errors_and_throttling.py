"""Bad input is a 4xx problem naming what was wrong; too many calls is a 429 with Retry-After."""

from __future__ import annotations

import pytest
from django.conf import LazySettings
from rest_framework.test import APIClient

from connectivity.models import ApiToken, Cluster, ConnectivityRequest, Membership, User
from tests.api.conftest import client_with, make_token, problem_of

pytestmark = pytest.mark.django_db


def test_malformed_json_is_400(owner_api: APIClient) -> None:
    response = owner_api.post("/api/v1/requests/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in problem_of(response)["detail"]


def test_a_form_body_is_415(owner_api: APIClient) -> None:
    response = owner_api.post("/api/v1/requests/", "kind=x",
                              content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    problem_of(response)


def test_a_json_array_is_400(owner_api: APIClient) -> None:
    response = owner_api.post("/api/v1/requests/", [1, 2], format="json")
    assert response.status_code == 400
    assert "Expected a dictionary" in problem_of(response)["errors"]["non_field_errors"][0]


def test_an_unknown_endpoint_is_a_problem_404(owner_api: APIClient) -> None:
    response = owner_api.delete("/api/v1/nothing/here")
    assert response.status_code == 404
    problem_of(response)


def test_a_method_the_endpoint_lacks_is_405(owner_api: APIClient) -> None:
    response = owner_api.delete("/api/v1/requests/")
    assert response.status_code == 405
    problem_of(response)


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer nottoken", "Bearer cp_wrong"])
def test_a_bad_authorization_header_is_401(header: str) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get("/api/v1/requests/")
    assert response.status_code == 401
    problem_of(response)


def test_a_token_stops_working_when_its_creator_leaves_the_organisation(
    write_token: str, customer: User,
) -> None:
    Membership.objects.filter(user=customer).delete()
    response = client_with(write_token).get("/api/v1/requests/")
    assert response.status_code == 401
    assert "no longer belongs" in problem_of(response)["detail"]


def test_use_is_recorded(owner_api: APIClient) -> None:
    assert ApiToken.objects.get(name="pipeline").last_used_at is None
    owner_api.get("/api/v1/clusters/")
    assert ApiToken.objects.get(name="pipeline").last_used_at is not None


def _rates(settings: LazySettings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def test_each_token_has_its_own_budget(settings: LazySettings, customer: User) -> None:
    _rates(settings, api_token="2/min", api_user="100/min")
    busy, other = client_with(make_token(customer, name="a")), client_with(make_token(customer, name="b"))
    assert [busy.get("/api/v1/clusters/").status_code for _ in range(3)] == [200, 200, 429]
    assert other.get("/api/v1/clusters/").status_code == 200


def test_a_user_has_one_budget_across_tokens_and_says_when_to_retry(
    settings: LazySettings, customer: User,
) -> None:
    _rates(settings, api_token="100/min", api_user="3/min")
    first, second = client_with(make_token(customer, name="a")), client_with(make_token(customer, name="b"))
    assert [first.get("/api/v1/clusters/").status_code for _ in range(2)] == [200, 200]
    assert second.get("/api/v1/clusters/").status_code == 200
    throttled = second.get("/api/v1/clusters/")
    assert throttled.status_code == 429
    retry_after = int(throttled["Retry-After"])
    assert 1 <= retry_after <= 60
    assert problem_of(throttled)["retry_after"] == retry_after


def test_a_call_one_budget_refuses_is_not_counted_in_the_other(
    settings: LazySettings, customer: User,
) -> None:
    _rates(settings, api_token="1/min", api_user="3/min")
    busy = client_with(make_token(customer, name="a"))
    assert [busy.get("/api/v1/clusters/").status_code for _ in range(4)] == [200, 429, 429, 429]
    # The user's budget counted only busy's first call: two more tokens get one call each.
    others = [client_with(make_token(customer, name=name)) for name in "bcd"]
    assert [c.get("/api/v1/clusters/").status_code for c in others] == [200, 200, 429]


def test_sessions_are_throttled_per_user(settings: LazySettings, customer: User) -> None:
    _rates(settings, api_token="100/min", api_user="1/min")
    browser = APIClient()
    browser.force_login(customer)
    assert [browser.get("/api/v1/clusters/").status_code for _ in range(2)] == [200, 429]


def test_no_500_for_a_huge_page_size_or_odd_query(owner_api: APIClient) -> None:
    for query in ["page_size=99999999999999999999", "page_size=-1", "state=", "cluster=0",
                  "created_after=9999-99-99", "cursor=%00"]:
        response = owner_api.get(f"/api/v1/requests/?{query}")
        assert response.status_code < 500, (query, response.content)


@pytest.mark.parametrize("method", ["options", "head", "put", "patch", "delete"])
def test_other_methods_never_fail_on_the_server(
    owner_api: APIClient, peering: ConnectivityRequest, dedicated_cluster: Cluster, method: str,
) -> None:
    for path in ["/api/v1/clusters/", f"/api/v1/clusters/{dedicated_cluster.pk}/",
                 "/api/v1/requests/", f"/api/v1/requests/{peering.pk}/",
                 f"/api/v1/requests/{peering.pk}/comments/", f"/api/v1/requests/{peering.pk}/cancel/",
                 f"/api/v1/requests/{peering.pk}/events/", "/api/v1/staff/requests/"]:
        response = getattr(owner_api, method)(path)
        assert response.status_code in (200, 404, 405), (method, path, response.status_code)
    assert owner_api.head(f"/api/v1/requests/{peering.pk}/").status_code == 200
    peering.refresh_from_db()
    assert peering.state == "draft"
