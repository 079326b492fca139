"""The webhooks pages: an owner adds an endpoint and sees its secret once, reads the delivery
log and redelivers; a member reads and is told who the owners are; an outsider gets 404."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from connectivity.models import Cluster, User, WebhookDelivery, WebhookEndpoint
from tests.webhooks.conftest import Receiver, make_endpoint, run_due

pytestmark = pytest.mark.django_db


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_owner_adds_an_endpoint_and_sees_the_secret_once(customer: User,
                                                            receiver: Receiver) -> None:
    client = _signed_in(customer)
    page = client.get("/webhooks/")
    assert page.status_code == 200
    assert "Add an endpoint" in page.content.decode()
    assert 'href="/webhooks/" aria-current="page"' in page.content.decode()
    response = client.post("/webhooks/", {"url": receiver.url, "description": "deploys",
                                          "events": ["request.active", "comment.created"]})
    assert response.status_code == 200
    secret = re.search(r"whsec_[A-Za-z0-9+/=]+", response.content.decode())
    assert secret is not None
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["request.active", "comment.created"]
    detail = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert receiver.url in detail and secret.group(0) not in detail
    assert secret.group(0) not in client.get("/webhooks/").content.decode()


def test_the_form_says_which_field_broke_which_rule(customer: User, settings: object) -> None:
    settings.WEBHOOK_ALLOW_LOOPBACK = False  # type: ignore[attr-defined]
    client = _signed_in(customer)
    response = client.post("/webhooks/", {"url": "http://169.254.169.254/latest/meta-data/"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Webhooks are never sent to a link-local address" in body
    assert "Choose at least one event type." in body
    assert WebhookEndpoint.objects.count() == 0


def test_the_delivery_log_shows_attempts_and_redelivers(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
) -> None:
    endpoint, _ = make_endpoint(customer, receiver, events=["request.created"])
    receiver.statuses = [503]
    from tests.webhooks.test_delivery import _one_event

    _one_event(customer, dedicated_cluster)
    run_due()
    client = _signed_in(customer)
    page = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    delivery = WebhookDelivery.objects.get()
    assert "request.created" in page and delivery.message_id in page
    assert "HTTP 503" in page and " ms" in page
    response = client.post(f"/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/",
                           follow=True)
    assert "Sending request.created" in response.content.decode()
    assert WebhookDelivery.objects.filter(redelivery_of=delivery).count() == 1


def test_an_owner_rotates_disables_and_deletes(customer: User, receiver: Receiver) -> None:
    endpoint, old = make_endpoint(customer, receiver)
    client = _signed_in(customer)
    rotated = client.post(f"/webhooks/{endpoint.pk}/rotate/").content.decode()
    new = re.search(r"whsec_[A-Za-z0-9+/=]+", rotated)
    assert new is not None and new.group(0) != old
    assert "two signatures" in rotated
    response = client.post(f"/webhooks/{endpoint.pk}/", {
        "url": endpoint.url, "description": "", "events": ["request.failed"]})  # enabled unticked
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.events == ["request.failed"]
    assert client.post(f"/webhooks/{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists()


def test_a_member_reads_and_is_told_who_the_owners_are(
    customer: User, teammate: User, receiver: Receiver,
) -> None:
    endpoint, _ = make_endpoint(customer, receiver)
    client = _signed_in(teammate)
    page = client.get("/webhooks/").content.decode()
    assert receiver.url in page and customer.email in page and "Add an endpoint" not in page
    detail = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert customer.email in detail and "Rotate secret" not in detail
    for path in ("/webhooks/", f"/webhooks/{endpoint.pk}/", f"/webhooks/{endpoint.pk}/rotate/",
                 f"/webhooks/{endpoint.pk}/delete/"):
        response = client.post(path, {"url": "https://a.example.com/", "events": ["request.active"]})
        assert response.status_code == 403, path
        assert customer.email in response.content.decode()
    assert WebhookEndpoint.objects.get().url == receiver.url


def test_an_outsider_gets_404_for_the_pages(
    customer: User, outsider: User, dedicated_cluster: Cluster, receiver: Receiver,
) -> None:
    endpoint, _ = make_endpoint(customer, receiver, events=["request.created"])
    from tests.webhooks.test_delivery import _one_event

    _one_event(customer, dedicated_cluster)
    delivery = WebhookDelivery.objects.get()
    client = _signed_in(outsider)
    assert receiver.url not in client.get("/webhooks/").content.decode()
    assert client.get(f"/webhooks/{endpoint.pk}/").status_code == 404
    for path in (f"/webhooks/{endpoint.pk}/", f"/webhooks/{endpoint.pk}/rotate/",
                 f"/webhooks/{endpoint.pk}/delete/",
                 f"/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/"):
        assert client.post(path, {"url": "https://a.example.com/"}).status_code == 404, path
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert WebhookDelivery.objects.count() == 1
