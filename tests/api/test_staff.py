"""Staff actions through the API follow the console's rules: staff sessions only."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from connectivity.models import ConnectivityRequest, User
from tests.api.conftest import client_with, in_state, problem_of
from tests.console.conftest import pass_mfa
from tests.factories import PeeringRequestFactory

pytestmark = pytest.mark.django_db


def session(user: User, *, mfa: bool = True) -> APIClient:
    """A browser session; staff ones passed MFA unless `mfa=False`."""
    client = APIClient()
    client.force_login(user)
    if mfa and user.is_staff:
        pass_mfa(client, user)
    return client


@pytest.fixture
def pending(peering: ConnectivityRequest) -> ConnectivityRequest:
    return in_state(peering, "pending_approval", preflight=[
        {"key": "role_granted", "label": "Role granted", "status": "pass", "message": "ok"}])


def test_approver_lists_every_organisations_requests(approver: User, peering: ConnectivityRequest) -> None:
    theirs = PeeringRequestFactory()
    listed = session(approver).get("/api/v1/staff/requests/").json()["results"]
    assert {r["id"] for r in listed} == {str(peering.pk), str(theirs.pk)}
    assert {r["organization"] for r in listed} >= {"contoso"}


def test_approver_approves(approver: User, pending: ConnectivityRequest, no_enqueue: list[str]) -> None:
    response = session(approver).post(f"/api/v1/staff/requests/{pending.pk}/approve/")
    assert response.status_code == 200
    assert response.json()["state"] == "approved"
    assert no_enqueue == [str(pending.pk)]
    assert pending.events.get(action="approved").actor == approver


def test_approving_without_passing_preflight_needs_a_reason(
    approver: User, peering: ConnectivityRequest, no_enqueue: list[str],
) -> None:
    in_state(peering, "pending_approval")
    refused = session(approver).post(f"/api/v1/staff/requests/{peering.pk}/approve/")
    assert refused.status_code == 400
    assert "override_reason" in problem_of(refused)["errors"]
    approved = session(approver).post(f"/api/v1/staff/requests/{peering.pk}/approve/",
                                      {"override_reason": "checked by phone"}, format="json")
    assert approved.json()["state"] == "approved"


def test_reject_needs_a_reason(approver: User, pending: ConnectivityRequest) -> None:
    refused = session(approver).post(f"/api/v1/staff/requests/{pending.pk}/reject/",
                                     {"reason": " "}, format="json")
    assert refused.status_code == 400
    assert "reason" in problem_of(refused)["errors"]
    rejected = session(approver).post(f"/api/v1/staff/requests/{pending.pk}/reject/",
                                      {"reason": "Overlapping address space"}, format="json")
    assert rejected.json()["state"] == "rejected"
    assert rejected.json()["status_message"] == "Overlapping address space"


def test_retry_a_failed_request(approver: User, peering: ConnectivityRequest, no_enqueue: list[str]) -> None:
    in_state(peering, "failed", step="create_remote_peering")
    response = session(approver).post(f"/api/v1/staff/requests/{peering.pk}/retry/")
    assert response.json()["state"] == "provisioning"
    again = session(approver).post(f"/api/v1/staff/requests/{peering.pk}/retry/")
    assert again.status_code == 409
    problem_of(again)


def test_support_staff_may_read_but_not_approve(support: User, pending: ConnectivityRequest) -> None:
    assert session(support).get(f"/api/v1/staff/requests/{pending.pk}/").status_code == 200
    response = session(support).post(f"/api/v1/staff/requests/{pending.pk}/approve/")
    assert response.status_code == 403
    assert "approvers" in problem_of(response)["detail"]


@pytest.mark.parametrize("path", ["", "approve/", "reject/", "retry/"])
def test_customers_and_tokens_do_not_see_staff_endpoints(
    customer: User, write_token: str, outsider: User, pending: ConnectivityRequest, path: str,
) -> None:
    url = f"/api/v1/staff/requests/{pending.pk}/{path}"
    method = "get" if not path else "post"
    for client in (session(customer), client_with(write_token), session(outsider)):
        response = getattr(client, method)(url)
        assert response.status_code == 404
        problem_of(response)
    assert getattr(APIClient(), method)(url).status_code == 401
    pending.refresh_from_db()
    assert pending.state == "pending_approval"


def test_a_staff_token_route_is_not_a_way_in(approver: User, pending: ConnectivityRequest) -> None:
    assert session(approver).get("/api/v1/staff/requests/not-a-uuid/").status_code == 404
