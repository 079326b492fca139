"""The review page speaks to staff: each reason box says which action it is for, and the
checks are about the customer's VNet, not "your VNet"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from connectivity.kinds import vnet_peering
from connectivity.models import ConnectivityRequest

pytestmark = pytest.mark.django_db

CUSTOMER_WORDED = [
    {"key": "role_granted", "label": vnet_peering.ROLE_LABEL, "status": "fail",
     "message": "No role yet."},
    {"key": "vnet_readable", "label": vnet_peering.VNET_LABEL, "status": "pass", "message": "ok"},
]


def review(client, request: ConnectivityRequest) -> str:
    return client.get(reverse("console:review", kwargs={"request_id": request.pk})).content.decode()


def form_html(page: str, action: str) -> str:
    return re.search(rf'<form[^>]*action="[^"]*/{action}/"[^>]*>(.*?)</form>', page, re.S)[1]  # type: ignore[index]


def test_each_reason_box_names_its_action(approver_client, pending) -> None:
    ConnectivityRequest.objects.filter(pk=pending.pk).update(preflight=CUSTOMER_WORDED)
    page = review(approver_client, pending)
    approve, reject = form_html(page, "approve"), form_html(page, "reject")
    assert ">Approve</h3>" in approve and "Override reason, for approving" in approve
    assert ">Reject</h3>" in reject and "Reason for rejecting" in reject
    assert "Sent to the customer with the rejection." in reject
    assert 'class="danger solid">Reject</button>' in reject


def test_check_labels_on_the_review_and_queue_speak_of_the_customer(approver_client,
                                                                     pending) -> None:
    ConnectivityRequest.objects.filter(pk=pending.pk).update(preflight=CUSTOMER_WORDED)
    page = review(approver_client, pending)
    assert "Platform holds the role on the customer&#x27;s VNet" in page
    assert "The customer&#x27;s VNet exists and is readable" in page
    assert "your VNet" not in page and "Your VNet" not in page
    queue = approver_client.get(reverse("console:queue")).content.decode()
    assert "1 failing: Platform holds the role on the customer&#x27;s VNet" in queue


def test_the_customer_still_reads_the_customer_wording(customer_client, pending) -> None:
    ConnectivityRequest.objects.filter(pk=pending.pk).update(preflight=CUSTOMER_WORDED)
    page = customer_client.get(f"/requests/{pending.pk}/").content.decode()
    assert "Your VNet exists and is readable" in page
