"""Retries with backoff on the computed schedule, disabling after persistent failure with the
owners emailed, manual redelivery, secret rotation, and the queue only nudging."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from connectivity import tasks
from connectivity.models import Cluster, User, WebhookDelivery, WebhookEndpoint
from connectivity.webhooks import delivery as sending
from connectivity.webhooks import services as webhook_services
from tests.factories import PrivateDnsRequestFactory
from tests.webhooks.conftest import Receiver, api_client, make_endpoint, run_due

pytestmark = pytest.mark.django_db
D = WebhookDelivery.State


def _one_event(customer: User, cluster: Cluster) -> None:
    from connectivity import services

    services.request_create(
        actor=customer, organization=customer.organization, cluster=cluster,  # type: ignore[arg-type]
        kind="private_dns", fields={"zone_name": "corp.contoso.internal",
                                    "records": [{"name": "db", "ip": "10.1.2.3"}]})


def test_the_schedule_backs_off_exponentially_over_about_a_day() -> None:
    delays = sending.schedule()
    assert delays[:3] == [30, 90, 270]
    assert all(later == earlier * 3 for earlier, later in pairwise(delays))
    assert len(delays) == sending.max_attempts() - 1 == 8
    assert 20 * 3600 < sum(delays) < 30 * 3600
    assert [sending.human_delay(d) for d in delays] == [
        "30 s", "1.5 min", "4.5 min", "13.5 min", "40.5 min", "2 h", "6.1 h", "18.2 h"]


def test_failures_retry_on_the_schedule_then_disable_the_endpoint_and_email_the_owners(
    customer: User, teammate: User, dedicated_cluster: Cluster, receiver: Receiver,
    django_capture_on_commit_callbacks: object,
) -> None:
    endpoint, _ = make_endpoint(customer, receiver, events=["request.created"])
    _one_event(customer, dedicated_cluster)
    delivery = WebhookDelivery.objects.get()
    receiver.statuses = [500] * 20
    at = delivery.next_attempt_at
    assert at is not None
    for number, delay in enumerate(sending.schedule(), start=1):
        assert sending.deliver(delivery.pk, now=at) is not None
        delivery.refresh_from_db()
        assert delivery.attempts == number and delivery.state == D.PENDING
        assert delivery.next_attempt_at == at + timedelta(seconds=delay)
        # Not due a second earlier: a duplicate or early nudge does nothing.
        assert sending.deliver(delivery.pk, now=at + timedelta(seconds=delay - 1)) is None
        at = at + timedelta(seconds=delay)
    assert len(receiver.received) == 8
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        last = sending.deliver(delivery.pk, now=at)
    assert last is not None and last.status_code == 500 and "HTTP 500" in last.error
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.state == D.FAILED and delivery.attempts == 9
    assert list(delivery.attempt_log.values_list("number", flat=True)) == list(range(1, 10))
    assert not endpoint.enabled and "failed" in endpoint.disabled_reason
    assert [m.to for m in mail.outbox] == [[customer.email]]  # owners only, not the member
    assert endpoint.url in mail.outbox[0].subject
    assert f"/webhooks/{endpoint.pk}/" in mail.outbox[0].body
    # Disabled: new events are not even queued.
    _one_event(customer, dedicated_cluster)
    assert WebhookDelivery.objects.count() == 1


def test_an_owner_re_enables_and_redelivers_with_the_same_webhook_id(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
) -> None:
    endpoint, _ = make_endpoint(customer, receiver, events=["request.created"])
    _one_event(customer, dedicated_cluster)
    first = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=first.pk).update(state=D.FAILED, next_attempt_at=None)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason="x")
    client = api_client(customer)
    refused = client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{first.pk}/redeliver/")
    assert refused.status_code == 400 and "enabled" in refused.json()["errors"]
    assert client.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"enabled": True},
                        format="json").json()["enabled"] is True
    response = client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{first.pk}/redeliver/")
    assert response.status_code == 202, response.content
    assert response.json()["redelivery_of"] == first.pk
    [attempt] = run_due()
    assert attempt.succeeded and attempt.status_code == 200 and attempt.response_ms is not None
    assert '"verified": true' in attempt.response_excerpt
    [received] = receiver.received
    assert received.headers["webhook-id"] == first.message_id
    assert received.payload["type"] == "request.created"
    log = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()["results"]
    assert [d["state"] for d in log] == ["succeeded", "failed"]
    assert log[0]["attempt_log"][0]["status_code"] == 200


def test_redirects_are_not_followed_and_slow_receivers_time_out(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver, settings: object,
) -> None:
    make_endpoint(customer, receiver, events=["request.created"])
    receiver.statuses = [302]
    _one_event(customer, dedicated_cluster)
    [attempt] = run_due()
    assert not attempt.succeeded and attempt.status_code == 302
    assert "redirects are not followed" in attempt.error
    assert len(receiver.received) == 1  # the Location was never visited


def test_a_receiver_that_never_answers_times_out(customer: User, dedicated_cluster: Cluster,
                                                 settings: object) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    settings.WEBHOOK_TIMEOUT = 0.5  # type: ignore[attr-defined]
    try:
        webhook_services.webhook_endpoint_create(
            actor=customer, organization=customer.organization,  # type: ignore[arg-type]
            url=f"http://127.0.0.1:{listener.getsockname()[1]}/", events=["request.created"])
        _one_event(customer, dedicated_cluster)
        [attempt] = run_due()
    finally:
        listener.close()
    assert not attempt.succeeded and attempt.status_code is None
    assert "No answer within 0.5 seconds" in attempt.error


def test_a_rotated_secret_signs_alongside_the_old_one_until_the_overlap_ends(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
) -> None:
    endpoint, old = make_endpoint(customer, receiver, events=["request.created"])
    response = api_client(customer).post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert response.json()["previous_secret_expires_at"]
    _one_event(customer, dedicated_cluster)
    run_due()
    [received] = receiver.received
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):  # a receiver on either secret verifies
        assert Webhook(secret).verify(received.body, received.headers)["type"] == "request.created"
    endpoint.refresh_from_db()
    later = endpoint.previous_secret_expires_at + timedelta(seconds=1)  # type: ignore[operator]
    signature = sending.sign(endpoint, message_id="msg_x", at=later, body="{}")
    # After the overlap only the new secret signs.
    assert signature == Webhook(new).sign("msg_x", later, "{}")
    assert Webhook(old).sign("msg_x", later, "{}") not in signature


def test_a_lost_message_is_sent_by_the_sweep(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
    django_capture_on_commit_callbacks: object, monkeypatch: pytest.MonkeyPatch,
) -> None:
    nudged: list[int] = []
    monkeypatch.setattr(tasks.webhook_deliver, "apply_async",
                        lambda args, countdown=0: nudged.append(args[0]))
    make_endpoint(customer, receiver, events=["request.created"])
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        _one_event(customer, dedicated_cluster)
    delivery = WebhookDelivery.objects.get()
    assert nudged == [delivery.pk]  # enqueued after commit
    nudged.clear()  # ...and the message is lost
    assert sending.sweep() == 1 and nudged == [delivery.pk]
    tasks.webhook_deliver.run(delivery.pk)  # the task body, as a worker runs it
    tasks.webhook_deliver.run(delivery.pk)  # a duplicate does nothing
    delivery.refresh_from_db()
    assert delivery.state == D.SUCCEEDED and delivery.attempts == 1
    assert len(receiver.received) == 1
    assert sending.sweep() == 0


def test_a_worker_that_died_mid_attempt_is_retried_after_the_lease(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
) -> None:
    make_endpoint(customer, receiver, events=["request.created"])
    _one_event(customer, dedicated_cluster)
    delivery = WebhookDelivery.objects.get()
    now = timezone.now()
    # The claim a worker makes before posting; it then dies.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=now + timedelta(seconds=120), attempts=1)
    assert sending.sweep(now=now) == 0
    assert sending.deliver(delivery.pk, now=now + timedelta(seconds=121)) is not None
    delivery.refresh_from_db()
    assert delivery.state == D.SUCCEEDED and delivery.attempts == 2


def test_a_receiver_with_the_wrong_secret_rejects_the_delivery(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
) -> None:
    """A receiver with the wrong secret rejects the delivery: the signature means something."""
    make_endpoint(customer, receiver, events=["request.pending_approval"])
    receiver.secrets[:] = ["whsec_" + "A" * 43 + "="]
    from connectivity import lifecycle

    request = PrivateDnsRequestFactory(cluster=dedicated_cluster, created_by=customer)
    lifecycle.transition(request, to="pending_approval", actor=None, action="test")
    run_due()
    [received] = receiver.received
    assert received.payload is None and "No matching signature" in received.error


def test_a_receiver_dripping_its_answer_cannot_hold_the_worker(
    customer: User, dedicated_cluster: Cluster, settings: object,
) -> None:
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def drip() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        try:
            for _ in range(100):
                conn.sendall(b"x")
                time.sleep(0.1)
        except OSError:
            pass
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    settings.WEBHOOK_TIMEOUT = 1  # type: ignore[attr-defined]
    try:
        webhook_services.webhook_endpoint_create(
            actor=customer, organization=customer.organization,  # type: ignore[arg-type]
            url=f"http://127.0.0.1:{listener.getsockname()[1]}/", events=["request.created"])
        _one_event(customer, dedicated_cluster)
        started = time.monotonic()
        [attempt] = run_due()
        assert time.monotonic() - started < 3
    finally:
        listener.close()
    assert attempt.succeeded and attempt.status_code == 200


def test_old_delivery_logs_are_purged(customer: User, dedicated_cluster: Cluster,
                                      receiver: Receiver) -> None:
    make_endpoint(customer, receiver, events=["request.created"])
    _one_event(customer, dedicated_cluster)
    run_due()
    _one_event(customer, dedicated_cluster)  # still pending: kept whatever its age
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(days=31))
    sending.purge()
    assert list(WebhookDelivery.objects.values_list("state", flat=True)) == [D.PENDING]


def test_https_checks_the_certificate_against_the_urls_host(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
) -> None:
    """An https URL speaks TLS to the pinned address and refuses what it cannot verify (here a
    plain-HTTP listener): nothing is sent in clear."""
    make_endpoint(customer, receiver, events=["request.created"])
    WebhookEndpoint.objects.update(url=receiver.url.replace("http://", "https://"))
    _one_event(customer, dedicated_cluster)
    [attempt] = run_due()
    assert not attempt.succeeded and "SSL" in attempt.error
    assert receiver.received == []


def test_a_delivery_first_tried_late_still_disables_after_its_schedule(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
) -> None:
    """The worker was down for hours before the first attempt: persistence is judged from the
    first attempt, not from when the event happened."""
    endpoint, _ = make_endpoint(customer, receiver, events=["request.created"])
    _one_event(customer, dedicated_cluster)
    delivery = WebhookDelivery.objects.get()
    receiver.statuses = [500] * 20
    at = timezone.now() + timedelta(hours=5)
    for delay in [*sending.schedule(), 0]:
        assert sending.deliver(delivery.pk, now=at) is not None
        at += timedelta(seconds=delay)
    endpoint.refresh_from_db()
    assert not endpoint.enabled


def test_an_endpoint_that_answered_meanwhile_is_not_disabled(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
) -> None:
    endpoint, _ = make_endpoint(customer, receiver, events=["request.created"])
    _one_event(customer, dedicated_cluster)
    failing = WebhookDelivery.objects.get()
    receiver.statuses = [500] * 4
    at = timezone.now()
    for delay in sending.schedule()[:4]:
        sending.deliver(failing.pk, now=at)
        at += timedelta(seconds=delay)
    _one_event(customer, dedicated_cluster)  # this one gets through
    other = WebhookDelivery.objects.exclude(pk=failing.pk).get()
    assert sending.deliver(other.pk, now=at) is not None and other.attempt_log.get().succeeded
    receiver.statuses = [500] * 20
    for delay in [*sending.schedule()[4:], 0]:
        sending.deliver(failing.pk, now=at)
        at += timedelta(seconds=delay)
    failing.refresh_from_db()
    endpoint.refresh_from_db()
    assert failing.state == D.FAILED and failing.attempts == 9
    assert endpoint.enabled and endpoint.failing_since is not None
