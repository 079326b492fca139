"""End to end: a private DNS zone provisioned by a real Celery worker against the Azure
simulator, every state change delivered by that worker to a receiver on loopback that verifies
the signatures with the standardwebhooks library."""

from __future__ import annotations

import pytest

from connectivity import services
from connectivity.models import Cluster, RequestKind, RequestState, User, WebhookDelivery
from tests.stack import Stack, WorkerProcess, wait_for
from tests.webhooks.conftest import Receiver, make_endpoint

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.timeout(120)]
S = RequestState


def test_a_real_worker_delivers_every_state_change(
    stack_worker: WorkerProcess, azure_stack: Stack, customer: User, approver: User,
    sim_cluster: Cluster, receiver: Receiver,
) -> None:
    make_endpoint(customer, receiver)
    request = services.request_create(
        actor=customer, organization=customer.organization, cluster=sim_cluster,  # type: ignore[arg-type]
        kind=RequestKind.PRIVATE_DNS, fields={"zone_name": "hooks.contoso.internal",
                                              "records": [{"name": "db", "ip": "10.20.1.4"}]})
    request = services.request_submit(request=request, actor=customer)
    assert request.state == S.PENDING_APPROVAL, request.preflight
    services.request_approve(request=request, actor=approver)

    def types() -> list[str]:
        return [p["type"] for p in receiver.verified]

    wait_for(lambda: "request.completed" in types(), timeout=60,
             what=f"request.completed delivered (got {types()}; worker log:\n{stack_worker.log()})")
    assert set(types()) >= {"request.created", "request.pending_approval", "request.approved",
                            "request.provisioning", "request.active", "request.completed"}
    assert all(r.error == "" for r in receiver.received)
    completed = next(p for p in receiver.verified if p["type"] == "request.completed")
    assert completed["data"]["request"]["state"] == "completed"
    assert completed["data"]["request"]["id"] == str(request.pk)
    # The receiver answers before the worker records the outcome: wait for the record.
    wait_for(lambda: not WebhookDelivery.objects.exclude(
        state=WebhookDelivery.State.SUCCEEDED).exists(), timeout=30,
        what="every delivery recorded as succeeded")
