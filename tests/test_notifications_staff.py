"""Staff hear of a customer's message by email: those who worked on the request, else the
configured address, else everyone with a console role."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from connectivity import services
from connectivity.models import User
from tests.factories import PeeringRequestFactory

pytestmark = pytest.mark.django_db


def post_comment(customer: User, request: Any, body: str, capture: Any) -> None:
    client = Client()
    client.force_login(customer)
    with capture(execute=True):
        response = client.post(f"/requests/{request.pk}/comments/", {"body": body})
    assert response.status_code == 302


def test_the_support_person_on_the_thread_gets_the_customers_message(
    customer: User, support: User, approver: User, dedicated_cluster: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    request = PeeringRequestFactory(organization=customer.organization, cluster=dedicated_cluster,
                                    created_by=customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_create(request=request, actor=support, body="Which VNet is it?")
    mail.outbox.clear()
    post_comment(customer, request, "It is **vnet-contoso-hub**.", django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [support.email]  # the approver never touched this request
    assert request.short_id in sent.subject and "Customer message" in sent.subject
    assert "It is **vnet-contoso-hub**." in sent.body
    assert customer.email in sent.body
    assert f"/console/requests/{request.pk}/" in sent.body


def test_without_staff_on_the_request_the_configured_address_is_told(
    customer: User, support: User, dedicated_cluster: Any, settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.STAFF_COMMENT_EMAILS = ["support-desk@platform.example"]
    request = PeeringRequestFactory(organization=customer.organization, cluster=dedicated_cluster,
                                    created_by=customer)
    post_comment(customer, request, "Hello?", django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [["support-desk@platform.example"]]


def test_without_anyone_configured_every_console_role_is_told(
    customer: User, support: User, approver: User, dedicated_cluster: Any, settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.STAFF_COMMENT_EMAILS = []
    request = PeeringRequestFactory(organization=customer.organization, cluster=dedicated_cluster,
                                    created_by=customer)
    post_comment(customer, request, "Hello?", django_capture_on_commit_callbacks)
    assert sorted(mail.outbox[0].to) == sorted([support.email, approver.email])
    assert customer.email not in mail.outbox[0].to


def test_an_internal_note_and_a_staff_reply_email_no_staff(
    customer: User, support: User, dedicated_cluster: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    request = PeeringRequestFactory(organization=customer.organization, cluster=dedicated_cluster,
                                    created_by=customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_create(request=request, actor=support, body="note", internal=True)
        services.comment_create(request=request, actor=support, body="reply")
    assert all(support.email not in m.to for m in mail.outbox)
