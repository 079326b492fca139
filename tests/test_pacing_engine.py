"""What pacing ARM calls means for a request: a paced step is rescheduled (never failed for it),
and pre-flight says Azure is busy rather than showing an error."""

from __future__ import annotations

import pytest

from connectivity import kinds
from connectivity.azure import pacing
from connectivity.models import RequestState
from tests.factories import PeeringRequestFactory
from tests.provisioning_helpers import drive, step
from tests.stack import CUSTOMER_VNET_NAME

pytestmark = pytest.mark.django_db
S = RequestState
BUSY = "Azure is busy, checking again shortly."


@pytest.fixture
def granted_peering(sim_cluster, azure_stack):
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.APPROVED)
    azure_stack.grant(request)
    return request


@pytest.fixture
def one_read_left(settings):
    """ARM's read budget as if nearly spent: one read, then none for a long while."""
    settings.AZURE_PACING_READS = (1, 0.001)
    settings.AZURE_PACING_MAX_WAIT = 0.0
    pacing.reset()
    yield
    pacing.reset()


def test_preflight_says_azure_is_busy_when_calls_are_paced(granted_peering, one_read_left):
    checks = kinds.preflight(granted_peering)[0]
    busy = [c for c in checks if c["message"] == BUSY]
    assert busy and all(c["status"] == "pending" and c.get("transient") for c in busy), checks
    assert not any(c["status"] == "fail" for c in checks), checks


def test_a_paced_step_is_rescheduled_and_never_counts_towards_failing(
        granted_peering, azure_stack, scheduler, settings, one_read_left,
        django_capture_on_commit_callbacks):
    settings.PROVISIONING_MAX_ATTEMPTS = 1
    type(granted_peering).objects.filter(pk=granted_peering.pk).update(
        state=S.PROVISIONING, step="cluster_peering")
    kinds.preflight(granted_peering)  # spends the last read: the step's proof read is paced
    for _ in range(4):
        step(granted_peering, django_capture_on_commit_callbacks)
        assert granted_peering.state == S.PROVISIONING, granted_peering.status_message
        assert granted_peering.status_message.startswith("Azure is busy")
        assert scheduler.last[1] > 0  # later, not in a loop
    assert granted_peering.attempts >= 4
    settings.AZURE_PACING_READS = (250, 25.0)
    pacing.reset()
    request = drive(granted_peering, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
