"""A request walked through its states announces each change, in order, with the API's own
representation of the request, to a real receiver that verifies every signature."""

from __future__ import annotations

import pytest
from django.test import Client

from connectivity import lifecycle, services
from connectivity.models import Cluster, RequestState, User, WebhookDelivery
from connectivity.webhooks.events import EVENT_TYPES
from tests.webhooks.conftest import Receiver, make_endpoint, run_due

pytestmark = pytest.mark.django_db
S = RequestState


def test_event_types_come_from_the_lifecycle() -> None:
    reachable = {t for targets in lifecycle.TRANSITIONS.values() for t in targets}
    assert {f"request.{state}" for state in reachable} <= set(EVENT_TYPES)
    assert "request.created" in EVENT_TYPES and "request.draft" not in EVENT_TYPES
    for expected in ("request.awaiting_grant", "request.pending_approval", "request.approved",
                     "request.provisioning", "request.active", "request.action_needed",
                     "request.failed", "request.degraded", "request.completed", "request.rejected",
                     "request.cancelled", "request.removing", "request.removed",
                     "connection.degraded", "connection.restored", "comment.created"):
        assert expected in EVENT_TYPES


def _api_view(customer: User, request_id: str) -> dict[str, object]:
    client = Client()
    client.force_login(customer)
    response = client.get(f"/api/v1/requests/{request_id}/")
    assert response.status_code == 200
    return response.json()


def _comparable(representation: dict[str, object]) -> dict[str, object]:
    """The representation without its absolute links (the API answers on the test host, the
    webhook links to PORTAL_SITE_URL)."""
    return {k: v for k, v in representation.items() if k not in ("url", "links")}


def test_a_walk_through_the_lifecycle_is_announced_in_order(
    customer: User, approver: User, dedicated_cluster: Cluster, receiver: Receiver,
    no_enqueue: list[str], settings: object,
) -> None:
    make_endpoint(customer, receiver)
    expected: list[tuple[str, str, dict[str, object]]] = []  # (type, state, API view)

    def saw(*types: str) -> None:
        view = _api_view(customer, str(request.pk))
        for event_type in types:
            expected.append((event_type, request.state, view))

    def move(to: str, *types: str) -> None:
        lifecycle.transition(request, to=to, actor=None, action="test", message=f"to {to}")
        saw(*types)

    request = services.request_create(
        actor=customer, organization=customer.organization, cluster=dedicated_cluster,  # type: ignore[arg-type]
        kind="vnet_peering", fields={
            "tenant_id": "44444444-4444-4444-8444-444444444444",
            "subscription_id": "55555555-5555-4555-8555-555555555555",
            "resource_group": "rg-contoso-network", "vnet_name": "vnet-contoso-hub"})
    saw("request.created")
    services.request_submit(request=request, actor=customer)
    saw("request.awaiting_grant")
    move(S.PENDING_APPROVAL, "request.pending_approval")
    services.request_approve(request=request, actor=approver, override_reason="checked by hand")
    saw("request.approved")
    move(S.PROVISIONING, "request.provisioning")
    move(S.ACTIVE, "request.active")
    services.comment_create(request=request, actor=customer, body="Peering looks good")
    saw("comment.created")
    services.comment_create(request=request, actor=approver, body="secret staff note",
                            internal=True)
    move(S.DEGRADED, "request.degraded", "connection.degraded")
    move(S.ACTIVE, "request.active", "connection.restored")
    move(S.COMPLETED, "request.completed")
    services.request_teardown(request=request, actor=customer, reason="done")
    saw("request.removing")
    move(S.REMOVED, "request.removed")

    attempts = run_due()
    assert all(a.succeeded for a in attempts)
    assert [r.error for r in receiver.received] == [""] * len(receiver.received)
    payloads = receiver.verified
    assert [p["type"] for p in payloads] == [t for t, _, _ in expected]
    for payload, (event_type, state, view) in zip(payloads, expected, strict=True):
        data = payload["data"]
        assert data["request"]["state"] == state, event_type
        assert _comparable(data["request"]) == _comparable(view), event_type
        assert data["request"]["url"].startswith("http://127.0.0.1:8000/api/v1/requests/")
        assert payload["id"].startswith("msg_") and payload["timestamp"].endswith("Z")
    # Each message carries its id in webhook-id; the two messages of one transition differ.
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids == [p["id"] for p in payloads] and len(set(ids)) == len(ids)
    comment = next(p for p in payloads if p["type"] == "comment.created")
    assert comment["data"]["comment"]["body"] == "Peering looks good"
    assert all("secret staff note" not in r.body.decode() for r in receiver.received)
    transition = next(p for p in payloads if p["type"] == "request.approved")
    assert transition["data"]["timeline_event"]["from_state"] == "pending_approval"
    assert transition["data"]["timeline_event"]["message"] == "Approved despite pre-flight: checked by hand"


def test_an_endpoint_gets_only_the_events_it_chose(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver, no_enqueue: list[str],
) -> None:
    make_endpoint(customer, receiver, events=["request.awaiting_grant"])
    request = services.request_create(
        actor=customer, organization=customer.organization, cluster=dedicated_cluster,  # type: ignore[arg-type]
        kind="vnet_peering", fields={
            "tenant_id": "44444444-4444-4444-8444-444444444444",
            "subscription_id": "55555555-5555-4555-8555-555555555555",
            "resource_group": "rg-contoso-network", "vnet_name": "vnet-contoso-hub"})
    services.request_submit(request=request, actor=customer)
    services.comment_create(request=request, actor=customer, body="hello")
    run_due()
    assert [p["type"] for p in receiver.verified] == ["request.awaiting_grant"]


def test_another_organisations_events_never_reach_the_endpoint(
    customer: User, outsider: User, receiver: Receiver, no_enqueue: list[str],
) -> None:
    from tests.factories import ClusterFactory

    make_endpoint(customer, receiver)
    theirs = ClusterFactory(organization=outsider.organization, name="fabrikam-prod")
    services.request_create(
        actor=outsider, organization=outsider.organization, cluster=theirs,  # type: ignore[arg-type]
        kind="private_dns", fields={"zone_name": "corp.fabrikam.internal",
                                    "records": [{"name": "db", "ip": "10.1.2.3"}]})
    assert WebhookDelivery.objects.count() == 0
    assert run_due() == []


def test_a_rolled_back_transition_announces_nothing(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver, no_enqueue: list[str],
) -> None:
    from django.db import transaction

    make_endpoint(customer, receiver)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.request_create(
            actor=customer, organization=customer.organization, cluster=dedicated_cluster,  # type: ignore[arg-type]
            kind="private_dns", fields={"zone_name": "corp.contoso.internal",
                                        "records": [{"name": "db", "ip": "10.1.2.3"}]})
        raise RuntimeError("the writer failed after the transition")
    assert WebhookDelivery.objects.count() == 0
