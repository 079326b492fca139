"""The whole peering from the CLI: a live server, a real Celery worker, Postgres, Redis and the
Azure simulator. File, watch (waits on the grant), grant as `az` would, verify, watch to active,
remove and wait until removed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectivity.models import Cluster, ConnectivityRequest, Organization
from tests.cli.conftest import Cportal
from tests.stack import CUSTOMER_TENANT_ID, customer_vnet_id

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.timeout(180)]


def test_a_peering_from_the_cli_to_active_and_back_to_removed(
    stack_worker: Any, azure_stack: Any, cportal: Cportal, sim_cluster: Cluster,
    organization: Organization,
) -> None:
    Organization.objects.filter(pk=organization.pk).update(auto_approve=True)
    vnet_id = customer_vnet_id()

    filed = cportal("requests", "create", "--cluster", str(sim_cluster.pk), "--kind",
                    "vnet_peering", "--tenant-id", CUSTOMER_TENANT_ID, "--vnet-id", vnet_id,
                    "-o", "json")
    assert filed.exit_code == 0, filed.output
    request_id = json.loads(filed.stdout)["id"]

    waiting = cportal("watch", request_id, "--interval", "0.2", "--timeout", "30")
    assert waiting.exit_code == 3, waiting.output
    assert "is Awaiting grant" in waiting.stdout
    assert f"cportal grant {request_id} --script" in waiting.stderr
    assert _listed_state(cportal, request_id) == "awaiting_grant"  # now in the list's page cache

    script = cportal("grant", request_id, "--script")
    assert vnet_id in script.stdout
    request = ConnectivityRequest.objects.get(pk=request_id)
    assert request.proof in script.stdout  # the script carries this request's proof of control
    azure_stack.grant(request)  # what running that script in the customer's tenant does

    verified = cportal("verify", request_id)
    assert verified.exit_code == 0, verified.output
    assert "Passed" in verified.stdout

    active = cportal("watch", request_id, "--interval", "0.3", "--timeout", "90")
    assert active.exit_code == 0, active.output
    assert f"Request {request_id} is Active." in active.stdout
    assert f"cportal grant {request_id} --script --revoke" in active.stderr
    assert ConnectivityRequest.objects.get(pk=request_id).state == "active"
    assert _listed_state(cportal, request_id) == "active"  # the worker's commits refreshed it
    assert azure_stack.peerings_on(vnet_id), "the customer-side peering exists in Azure"

    removed = cportal("remove", request_id, "--yes", "--wait", "--timeout", "90")
    assert removed.exit_code == 0, removed.output
    assert f"Request {request_id} is Removed." in removed.stdout
    assert ConnectivityRequest.objects.get(pk=request_id).state == "removed"
    assert not azure_stack.peerings_on(vnet_id)


def _listed_state(cportal: Cportal, request_id: str) -> str:
    listed = cportal("requests", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    (row,) = [r for r in json.loads(listed.stdout) if r["id"] == request_id]
    state: str = row["state"]
    return state
