"""The webhooks API as its users meet it: owners manage, members read, outsiders get 404, and
the secret is shown once and never stored in clear."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from connectivity.models import Cluster, User, WebhookDelivery, WebhookEndpoint
from tests.webhooks.conftest import Receiver, api_client, make_endpoint, run_due

pytestmark = pytest.mark.django_db


def _create(client: APIClient, url: str, **extra: object) -> object:
    return client.post("/api/v1/webhooks/", {"url": url, "events": ["request.active",
                                                                      "comment.created"], **extra},
                       format="json")


def test_an_owner_creates_lists_changes_and_deletes_an_endpoint(
    customer: User, receiver: Receiver,
) -> None:
    client = api_client(customer)
    response = _create(client, receiver.url, description="deploys")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert response["Location"].endswith(f"/api/v1/webhooks/{created['id']}/")
    assert created["events"] == ["request.active", "comment.created"]
    listed = client.get("/api/v1/webhooks/").json()
    assert [e["id"] for e in listed] == [created["id"]]
    assert "secret" not in listed[0]
    detail = client.get(f"/api/v1/webhooks/{created['id']}/").json()
    assert "secret" not in detail and detail["links"]["deliveries"].endswith("/deliveries/")
    changed = client.patch(f"/api/v1/webhooks/{created['id']}/",
                           {"events": ["request.failed"], "description": "pager"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["events"] == ["request.failed"]
    assert changed.json()["description"] == "pager"
    assert client.delete(f"/api/v1/webhooks/{created['id']}/").status_code == 204
    assert client.get(f"/api/v1/webhooks/{created['id']}/").status_code == 404


@pytest.mark.parametrize("body, field, rule", [
    ({"url": "https://hooks.example.com/", "events": []}, "events", "at least"),
    ({"url": "https://hooks.example.com/", "events": ["request.exploded"]}, "events.0",
     "not a valid choice"),
    ({"url": "https://hooks.example.com/"}, "events", "required"),
    ({"events": ["request.active"]}, "url", "required"),
    ({"url": "https://hooks.example.com/" + "a" * 2000, "events": ["request.active"]}, "url",
     "2000"),
    ({"url": "https://hooks.example.com/", "events": ["request.active"],
      "description": "x" * 201}, "description", "200"),
])
def test_bad_input_names_the_field_and_the_rule(
    customer: User, body: dict[str, object], field: str, rule: str,
) -> None:
    response = api_client(customer).post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert field in errors, errors
    assert rule in " ".join(errors[field])


def test_members_read_but_only_owners_write(customer: User, teammate: User,
                                            receiver: Receiver) -> None:
    endpoint, _ = make_endpoint(customer, receiver)
    member = APIClient()
    member.force_login(teammate)
    assert member.get("/api/v1/webhooks/").json()[0]["id"] == endpoint.pk
    assert member.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").status_code == 200
    for method, path in [("post", "/api/v1/webhooks/"),
                         ("patch", f"/api/v1/webhooks/{endpoint.pk}/"),
                         ("delete", f"/api/v1/webhooks/{endpoint.pk}/"),
                         ("post", f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")]:
        response = getattr(member, method)(path, {"url": "https://a.example.com/",
                                                  "events": ["request.active"]}, format="json")
        assert response.status_code == 403, (method, path, response.content)
        assert "owners" in response.json()["detail"]


def test_a_read_only_token_cannot_change_webhooks(customer: User, receiver: Receiver) -> None:
    endpoint, _ = make_endpoint(customer, receiver)
    reader = api_client(customer, scope="read")
    assert reader.get("/api/v1/webhooks/").status_code == 200
    assert reader.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/").status_code == 403


def test_another_organisation_gets_404_for_endpoints_and_deliveries(
    customer: User, outsider: User, dedicated_cluster: Cluster, receiver: Receiver,
) -> None:
    endpoint, _ = make_endpoint(customer, receiver, events=["request.created"])
    from tests.webhooks.test_delivery import _one_event

    _one_event(customer, dedicated_cluster)
    run_due()
    delivery = WebhookDelivery.objects.get()
    theirs = api_client(outsider)
    assert theirs.get("/api/v1/webhooks/").json() == []
    for method, path in [
        ("get", f"/api/v1/webhooks/{endpoint.pk}/"),
        ("patch", f"/api/v1/webhooks/{endpoint.pk}/"),
        ("delete", f"/api/v1/webhooks/{endpoint.pk}/"),
        ("post", f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/"),
        ("get", f"/api/v1/webhooks/{endpoint.pk}/deliveries/"),
        ("post", f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/"),
    ]:
        response = getattr(theirs, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
        assert receiver.url not in response.content.decode()
    from connectivity.models import AuditEntry

    probes = AuditEntry.objects.filter(action="cross_org.not_found", actor=outsider)
    assert probes.filter(target=f"webhook endpoint {endpoint.pk}").count() == 6
    # A delivery id of one endpoint is no delivery of another, even in the same organisation.
    other, _ = make_endpoint(customer, receiver)
    mine = api_client(customer)
    assert mine.post(f"/api/v1/webhooks/{other.pk}/deliveries/{delivery.pk}/redeliver/"
                     ).status_code == 404
    assert WebhookDelivery.objects.count() == 1
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "99999999999999999999", "1.5"])
def test_malformed_ids_are_404(customer: User, bad: str) -> None:
    assert api_client(customer).get(f"/api/v1/webhooks/{bad}/").status_code == 404


def test_the_secret_is_not_stored_in_clear(customer: User, receiver: Receiver) -> None:
    response = _create(api_client(customer), receiver.url)
    secret = response.json()["secret"]
    rotated = api_client(customer).post(
        f"/api/v1/webhooks/{response.json()['id']}/rotate-secret/").json()["secret"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM connectivity_webhookendpoint")
        rows = cursor.fetchall()
        cursor.execute("SELECT action, target, data::text FROM connectivity_auditentry"
                       if connection.vendor == "postgresql" else
                       "SELECT action, target, data FROM connectivity_auditentry")
        audit = cursor.fetchall()
    stored = repr(rows) + repr(audit)
    for value in (secret, rotated, secret.removeprefix("whsec_"), rotated.removeprefix("whsec_")):
        assert value not in stored
    assert "webhook.secret_rotated" in stored


def test_the_schema_documents_the_webhook_operations(client: object) -> None:
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)  # type: ignore[attr-defined]
    paths = schema["paths"]
    assert set(paths["/api/v1/webhooks/"]) >= {"get", "post"}
    assert set(paths["/api/v1/webhooks/{endpoint_id}/"]) >= {"get", "patch", "delete"}
    assert "post" in paths["/api/v1/webhooks/{endpoint_id}/rotate-secret/"]
    assert "get" in paths["/api/v1/webhooks/{endpoint_id}/deliveries/"]
    assert "post" in paths["/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver/"]
    events = schema["components"]["schemas"]["WebhookEndpointWriteRequest"]["properties"]["events"]
    assert events["minItems"] == 1
    assert "request.created" in schema["components"]["schemas"]["WebhookEventTypeEnum"]["enum"]
