"""What an owner's read-write token does with requests, as an automation script would see it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from connectivity.models import Cluster, ConnectivityRequest, User
from tests.api.conftest import SUBSCRIPTION, in_state, problem_of
from tests.factories import CommentFactory, PeeringRequestFactory, PrivateDnsRequestFactory

pytestmark = pytest.mark.django_db
Payload = Callable[..., dict]


def test_create_peering_submits_it_and_waits_for_the_grant(
    owner_api: APIClient, peering_payload: Payload, customer: User, no_enqueue: list[str],
) -> None:
    response = owner_api.post("/api/v1/requests/", peering_payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "awaiting_grant"
    assert body["created_by"] == customer.email
    assert response["Location"] == body["url"]
    assert body["vnet_id"].endswith("/virtualNetworks/vnet-contoso")
    created = ConnectivityRequest.objects.get(pk=body["id"])
    assert created.organization == customer.organization
    assert [e.action for e in created.events.all()] == ["created", "submitted"]
    assert created.events.first().actor == customer


def test_create_with_submit_false_keeps_a_draft(owner_api: APIClient, peering_payload: Payload) -> None:
    response = owner_api.post("/api/v1/requests/", peering_payload(submit=False), format="json")
    assert response.json()["state"] == "draft"
    submitted = owner_api.post(f"/api/v1/requests/{response.json()['id']}/submit/")
    assert submitted.json()["state"] == "awaiting_grant"


def test_create_accepts_a_full_vnet_id(owner_api: APIClient, dedicated_cluster: Cluster) -> None:
    vnet_id = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-net/providers/"
               "Microsoft.Network/virtualNetworks/vnet-hub")
    response = owner_api.post("/api/v1/requests/", {
        "cluster": dedicated_cluster.pk, "kind": "vnet_peering",
        "tenant_id": "44444444-4444-4444-8444-444444444444", "vnet_id": vnet_id}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["resource_group"] == "rg-net"
    assert response.json()["vnet_name"] == "vnet-hub"


def test_create_private_dns_runs_preflight_at_once(
    owner_api: APIClient, dedicated_cluster: Cluster, preflight_passes: None, no_enqueue: list[str],
) -> None:
    response = owner_api.post("/api/v1/requests/", {
        "cluster": dedicated_cluster.pk, "kind": "private_dns", "zone_name": "corp.contoso.internal",
        "records": [{"name": "db", "ip": "10.20.1.4"}]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "pending_approval"
    assert response.json()["preflight_passed"] is True


@pytest.mark.parametrize(("overrides", "field", "rule"), [
    ({"tenant_id": "not-a-guid"}, "tenant_id", "GUID"),
    ({"subscription_id": ""}, "subscription_id", "GUID"),
    ({"resource_group": "rg."}, "resource_group", "not ending in a period"),
    ({"vnet_name": "-bad"}, "vnet_name", "start with a letter or digit"),
    ({"kind": "vpn"}, "kind", "not a valid choice"),
    ({"cluster": "abc"}, "cluster", "valid integer"),
    ({"cluster": 10**30}, "cluster", "less than or equal"),
    ({"zone_name": "corp.example"}, "zone_name", "does not apply"),
    ({"vnet_id": "/subscriptions/x"}, "vnet_id", "Give either vnet_id"),
    ({"vnet_id": "/subscriptions/x", "subscription_id": None, "resource_group": None, "vnet_name": None},
     "vnet_id", "A VNet resource id looks like"),
    ({"tenant_id": "a\x00b"}, "tenant_id", "Null characters"),
])
def test_create_names_the_field_and_the_rule(
    owner_api: APIClient, peering_payload: Payload, overrides: dict, field: str, rule: str,
) -> None:
    payload = {k: v for k, v in peering_payload(**overrides).items() if v is not None}
    response = owner_api.post("/api/v1/requests/", payload, format="json")
    assert response.status_code == 400
    problem = problem_of(response)
    assert problem["type"].endswith(":validation")
    assert field in problem["detail"]
    assert any(rule in message for message in problem["errors"][field]), problem
    assert ConnectivityRequest.objects.count() == 0


def test_create_on_a_standard_cluster_is_refused(
    owner_api: APIClient, standard_cluster: Cluster, peering_payload: Payload,
) -> None:
    response = owner_api.post("/api/v1/requests/", peering_payload(cluster=standard_cluster.pk),
                              format="json")
    assert response.status_code == 400
    assert "dedicated cluster" in problem_of(response)["errors"]["cluster"][0]


def test_private_dns_record_errors_name_the_rule(owner_api: APIClient, dedicated_cluster: Cluster) -> None:
    response = owner_api.post("/api/v1/requests/", {
        "cluster": dedicated_cluster.pk, "kind": "private_dns", "zone_name": "corp.contoso.internal",
        "records": [{"name": "db", "ip": "8.8.8.8"}]}, format="json")
    assert response.status_code == 400
    assert "private address" in problem_of(response)["errors"]["records"][0]


def test_list_filters_and_cursor_pages(
    owner_api: APIClient, dedicated_cluster: Cluster, outsider: User,
) -> None:
    peerings = PeeringRequestFactory.create_batch(12, cluster=dedicated_cluster)
    PrivateDnsRequestFactory.create_batch(3, cluster=dedicated_cluster, state="active")
    PeeringRequestFactory()  # another organisation's

    first = owner_api.get("/api/v1/requests/", {"page_size": 10}).json()
    assert len(first["results"]) == 10
    second = owner_api.get(first["next"]).json()
    assert len(second["results"]) == 5 and second["next"] is None
    seen = {r["id"] for r in first["results"] + second["results"]}
    assert len(seen) == 15 and {str(p.pk) for p in peerings} <= seen

    dns = owner_api.get("/api/v1/requests/", {"kind": "private_dns"}).json()["results"]
    assert len(dns) == 3
    active = owner_api.get("/api/v1/requests/?state=active,cancelled").json()["results"]
    assert {r["state"] for r in active} == {"active"}
    assert len(owner_api.get("/api/v1/requests/", {"cluster": dedicated_cluster.pk}).json()["results"]) == 15
    future = {"created_after": "2999-01-01T00:00:00Z"}
    assert owner_api.get("/api/v1/requests/", future).json()["results"] == []


@pytest.mark.parametrize(("query", "field"), [
    ({"state": "sleeping"}, "state"), ({"kind": "vpn"}, "kind"), ({"cluster": "x"}, "cluster"),
    ({"created_after": "yesterday"}, "created_after"), ({"cursor": "garbage"}, "cursor"),
])
def test_bad_filters_are_400_naming_the_parameter(owner_api: APIClient, query: dict, field: str) -> None:
    response = owner_api.get("/api/v1/requests/", query)
    assert response.status_code == 400
    assert field in problem_of(response)["errors"]


def test_retrieve(owner_api: APIClient, peering: ConnectivityRequest) -> None:
    body = owner_api.get(f"/api/v1/requests/{peering.pk}/").json()
    assert body["id"] == str(peering.pk)
    assert body["links"]["grant"].endswith(f"/api/v1/requests/{peering.pk}/grant/")


@pytest.mark.parametrize("bad_id", ["nope", "12345", "00000000-0000-0000-0000-000000000000", "%00"])
def test_malformed_or_unknown_request_id_is_404(owner_api: APIClient, bad_id: str) -> None:
    response = owner_api.get(f"/api/v1/requests/{bad_id}/")
    assert response.status_code == 404
    problem_of(response)


def test_cancel_records_the_token_and_a_second_cancel_is_409(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    response = owner_api.post(f"/api/v1/requests/{peering.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert "pipeline" in peering.events.get(action="cancelled").message

    again = owner_api.post(f"/api/v1/requests/{peering.pk}/cancel/", {"reason": "dup"}, format="json")
    assert again.status_code == 409
    problem = problem_of(again)
    assert problem["current_state"] == "cancelled"
    assert "Cancelled" in problem["detail"]


def test_teardown_of_an_active_request(
    owner_api: APIClient, peering: ConnectivityRequest, no_enqueue: list[str],
) -> None:
    in_state(peering, "active")
    response = owner_api.post(f"/api/v1/requests/{peering.pk}/teardown/",
                              {"reason": "project over"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "removing"
    assert no_enqueue == [str(peering.pk)]
    assert peering.events.get(action="teardown_requested").message == "project over"


def test_teardown_of_a_draft_is_409(owner_api: APIClient, peering: ConnectivityRequest) -> None:
    response = owner_api.post(f"/api/v1/requests/{peering.pk}/teardown/")
    assert response.status_code == 409
    assert "Draft" in problem_of(response)["detail"]


def test_grant_package_has_role_json_commands_and_revoke(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    grant = owner_api.get(f"/api/v1/requests/{peering.pk}/grant/").json()
    assert grant["needed"] is True
    assert "Microsoft.Network/virtualNetworks/peer/action" in grant["role_definition"]["Actions"]
    assert grant["scope"] == peering.customer_vnet_id
    assert any("az role assignment create" in c for c in grant["grant_commands"])
    assert grant["revoke_command"].startswith("az role assignment delete")
    assert peering.customer_vnet_id in grant["revoke_command"]
    assert "role.json" in grant["grant_script"]


def test_grant_package_of_a_dns_request_says_none_is_needed(
    owner_api: APIClient, dedicated_cluster: Cluster,
) -> None:
    dns = PrivateDnsRequestFactory(cluster=dedicated_cluster)
    grant = owner_api.get(f"/api/v1/requests/{dns.pk}/grant/").json()
    assert grant["needed"] is False and grant["grant_commands"] == []


def test_verify_grant_returns_the_checklist_and_moves_on(
    owner_api: APIClient, peering: ConnectivityRequest, preflight_passes: None,
) -> None:
    in_state(peering, "awaiting_grant")
    result = owner_api.post(f"/api/v1/requests/{peering.pk}/verify-grant/").json()
    assert result["passed"] is True
    assert result["state"] == "pending_approval"
    assert result["checks"][0]["key"] == "role_granted"


def test_verify_grant_that_fails_says_what_to_fix(
    owner_api: APIClient, peering: ConnectivityRequest, preflight_fails: None,
) -> None:
    in_state(peering, "awaiting_grant")
    result = owner_api.post(f"/api/v1/requests/{peering.pk}/verify-grant/").json()
    assert result["passed"] is False
    assert result["state"] == "awaiting_grant"
    assert "not assigned" in result["checks"][0]["message"]


def test_verify_grant_after_approval_is_409(owner_api: APIClient, peering: ConnectivityRequest) -> None:
    in_state(peering, "approved")
    response = owner_api.post(f"/api/v1/requests/{peering.pk}/verify-grant/")
    assert response.status_code == 409
    problem_of(response)


def test_events_read_oldest_first(
    owner_api: APIClient, peering_payload: Payload, no_enqueue: list[str],
) -> None:
    created = owner_api.post("/api/v1/requests/", peering_payload(), format="json").json()
    events = owner_api.get(f"/api/v1/requests/{created['id']}/events/").json()["results"]
    assert [(e["action"], e["to_state"]) for e in events] == [
        ("created", "draft"), ("submitted", "awaiting_grant")]
    assert events[0]["actor"] == "customer@contoso.example"


def test_comments_hide_internal_notes_and_create_names_the_author(
    owner_api: APIClient, peering: ConnectivityRequest, support: User, customer: User,
) -> None:
    CommentFactory(request=peering, author=support, body="We are on it.")
    CommentFactory(request=peering, author=support, body="internal: check quota", internal=True)
    created = owner_api.post(f"/api/v1/requests/{peering.pk}/comments/",
                             {"body": "Thanks!"}, format="json")
    assert created.status_code == 201
    assert created.json()["author"] == customer.email
    thread = owner_api.get(f"/api/v1/requests/{peering.pk}/comments/").json()["results"]
    assert [(c["body"], c["from_staff"]) for c in thread] == [("We are on it.", True), ("Thanks!", False)]


@pytest.mark.parametrize(("body", "rule"), [
    ({"body": "   "}, "Write a message"), ({}, "required"), ({"body": "x" * 10001}, "10000"),
])
def test_comment_errors_name_the_field(
    owner_api: APIClient, peering: ConnectivityRequest, body: dict, rule: str,
) -> None:
    response = owner_api.post(f"/api/v1/requests/{peering.pk}/comments/", body, format="json")
    assert response.status_code == 400
    assert rule in problem_of(response)["errors"]["body"][0]


def test_clusters_list_external_ips_and_which_take_requests(
    owner_api: APIClient, dedicated_cluster: Cluster, standard_cluster: Cluster,
) -> None:
    clusters = {c["name"]: c for c in owner_api.get("/api/v1/clusters/").json()}
    assert clusters["contoso-prod"]["external_ips"] == ["20.54.101.17", "20.54.101.18"]
    assert clusters["contoso-prod"]["accepts_requests"] is True
    assert clusters["shared-westeurope"]["shared"] is True
    assert clusters["shared-westeurope"]["accepts_requests"] is False
    one = owner_api.get(f"/api/v1/clusters/{dedicated_cluster.pk}/").json()
    assert one["vnet_id"] == dedicated_cluster.vnet_id


def test_browser_session_works_and_needs_csrf_for_writes(
    customer: User, peering: ConnectivityRequest,
) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(customer)
    assert browser.get(f"/api/v1/requests/{peering.pk}/").status_code == 200
    refused = browser.post(f"/api/v1/requests/{peering.pk}/cancel/")
    assert refused.status_code == 403
    assert "CSRF" in problem_of(refused)["detail"]
