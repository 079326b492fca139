"""Two approvers press Approve on the same request at the same moment, on real PostgreSQL."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.db import close_old_connections
from django.urls import reverse

from connectivity import services
from connectivity.models import RequestEvent, RequestState
from tests.conftest import staff_group
from tests.console.conftest import PASSING, mfa_signed_in
from tests.factories import PeeringRequestFactory, UserFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_console_approvals_one_wins_the_other_is_told() -> None:
    approvers = []
    for email in ("first@platform.example", "second@platform.example"):
        user = UserFactory(email=email, is_staff=True)
        user.groups.add(staff_group("approver"))
        approvers.append(user)
    request = PeeringRequestFactory(state=RequestState.PENDING_APPROVAL, preflight=PASSING)
    url = reverse("console:action", kwargs={"request_id": request.pk, "action": "approve"})
    clients = [mfa_signed_in(user) for user in approvers]
    barrier = threading.Barrier(2)
    pages: dict[str, str] = {}
    lock = threading.Lock()

    def approve(client, email: str) -> None:
        try:
            barrier.wait()
            text = client.post(url, follow=True).content.decode()
        finally:
            close_old_connections()
        with lock:
            pages[email] = text

    with mock.patch.object(services, "enqueue_advance"):
        threads = [threading.Thread(target=approve, args=(c, u.email))
                   for c, u in zip(clients, approvers, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)

    winners = [e for e, text in pages.items() if "Approved. Provisioning starts now" in text]
    losers = [e for e, text in pages.items()
              if "This request is now Approved; it cannot go to Approved." in text]
    assert len(winners) == 1 and len(losers) == 1 and winners != losers
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert request.approved_by.email == winners[0]
    approved = RequestEvent.objects.filter(request=request, action="approved")
    assert [e.actor_label for e in approved] == winners
