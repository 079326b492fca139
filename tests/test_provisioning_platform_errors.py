"""A resource missing in the platform's own subscription is the platform's problem: the request
fails for staff to retry, staff are emailed, and the customer is never told to check names."""

from __future__ import annotations

import pytest
from django.core import mail

from connectivity.models import RequestState
from tests.factories import DnsForwardingRequestFactory
from tests.provisioning_helpers import step

pytestmark = pytest.mark.django_db
S = RequestState


def test_a_missing_platform_ruleset_fails_for_staff_and_alerts_them(
        sim_cluster, azure_stack, scheduler, settings, django_capture_on_commit_callbacks):
    settings.STAFF_ALERT_EMAILS = ["platform-team@example.com"]
    sim_cluster.dns_forwarding_ruleset_id = (
        sim_cluster.vnet_id.split("/providers/")[0]
        + "/providers/Microsoft.Network/dnsForwardingRulesets/rs-deleted-by-someone")
    sim_cluster.save()
    request = DnsForwardingRequestFactory(cluster=sim_cluster, state=S.PROVISIONING, step="rule")

    step(request, django_capture_on_commit_callbacks)

    assert request.state == S.FAILED
    assert "platform team" in request.status_message and "not you" in request.status_message
    assert "check" not in request.status_message.lower()
    alerts = [m for m in mail.outbox if m.to == ["platform-team@example.com"]]
    assert len(alerts) == 1
    assert "Platform resource missing" in alerts[0].subject
    assert str(request.pk) in alerts[0].body
