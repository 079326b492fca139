"""`cportal watch`: the exit code says how the request ended, or that it waits on you."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from connectivity import services
from connectivity.models import Cluster, ConnectivityRequest, User
from tests.api.conftest import SUBSCRIPTION, TENANT
from tests.cli.conftest import Cportal, approved, walk
from tests.factories import PeeringRequestFactory

pytestmark = pytest.mark.usefixtures("no_enqueue", "preflight_passes")


@pytest.fixture
def submitted(dedicated_cluster: Cluster, customer: User) -> ConnectivityRequest:
    draft = services.request_create(
        actor=customer, organization=customer.organization,  # type: ignore[arg-type]
        cluster=dedicated_cluster, kind="vnet_peering",
        fields={"tenant_id": TENANT, "subscription_id": SUBSCRIPTION,
                "resource_group": "rg-contoso-network", "vnet_name": "vnet-contoso"})
    return services.request_submit(request=draft, actor=customer)


Drive = Callable[[ConnectivityRequest, User, User], ConnectivityRequest]
OUTCOMES: list[tuple[str, Drive, int, str]] = [
    ("awaiting grant", lambda r, c, a: r, 3, "Awaiting grant"),
    ("rejected", lambda r, c, a: services.request_reject(
        request=services.request_verify(request=r, actor=c), actor=a,
        reason="Use the hub VNet instead."), 5, "Rejected. Use the hub VNet instead."),
    ("cancelled", lambda r, c, a: services.request_cancel(request=r, actor=c), 6, "Cancelled"),
    ("active", lambda r, c, a: walk(approved(r, customer=c, approver=a), "provisioning", "active"),
     0, "Active"),
    ("completed", lambda r, c, a: walk(approved(r, customer=c, approver=a), "provisioning",
                                       "active", "completed"), 0, "Completed"),
    ("action needed", lambda r, c, a: walk(approved(r, customer=c, approver=a), "provisioning",
                                           "action_needed", message="The VNet overlaps 10.100.0.0/16."),
     3, "Action needed. The VNet overlaps 10.100.0.0/16."),
    ("failed", lambda r, c, a: walk(approved(r, customer=c, approver=a), "provisioning", "failed",
                                    message="Azure refused the peering."),
     4, "Failed. Azure refused the peering."),
    ("removed", lambda r, c, a: walk(services.request_teardown(
        request=walk(approved(r, customer=c, approver=a), "provisioning", "active"), actor=c),
        "removed"), 7, "Removed"),
]


@pytest.mark.parametrize(("name", "drive", "code", "says"), OUTCOMES, ids=[o[0] for o in OUTCOMES])
def test_watch_exits_by_outcome(
    cportal: Cportal, submitted: ConnectivityRequest, customer: User, approver: User,
    name: str, drive: Drive, code: int, says: str,
) -> None:
    request = drive(submitted, customer, approver)

    result = cportal("watch", str(request.pk), "--interval", "0.1", "--timeout", "5")

    assert result.exit_code == code, result.output
    assert f"Request {request.pk} is {says}" in result.stdout


def test_watch_follows_state_changes_live_until_rejected(
    cportal: Cportal, submitted: ConnectivityRequest, customer: User, approver: User,
) -> None:
    pending = services.request_verify(request=submitted, actor=customer)

    def staff_reject() -> None:
        time.sleep(0.6)
        try:
            services.request_reject(request=pending, actor=approver, reason="Wrong subscription.")
        finally:
            connection.close()

    approver_thread = threading.Thread(target=staff_reject)
    approver_thread.start()
    result = cportal("watch", str(pending.pk), "--interval", "0.1", "--timeout", "20")
    approver_thread.join()

    assert result.exit_code == 5, result.output
    lines = result.stderr.splitlines()
    assert any("Pending approval" in line for line in lines)
    assert any("Rejected  Wrong subscription." in line for line in lines)
    assert f"Request {pending.pk} is Rejected. Wrong subscription." in result.stdout


def test_watch_gives_up_after_the_timeout_with_its_own_code(
    cportal: Cportal, submitted: ConnectivityRequest, customer: User,
) -> None:
    pending = services.request_verify(request=submitted, actor=customer)

    started = time.monotonic()
    result = cportal("watch", str(pending.pk), "--interval", "0.2", "--timeout", "1", "-o", "json")

    assert result.exit_code == 8, result.output
    assert 1 <= time.monotonic() - started < 10
    assert '"state": "pending_approval"' in result.stdout


def test_watch_cannot_see_another_organisations_request(
    cportal: Cportal, outsider: User, customer: Any,
) -> None:
    from tests.factories import ClusterFactory

    theirs = PeeringRequestFactory(cluster=ClusterFactory(organization=outsider.organization),
                                   state="active")
    result = cportal("watch", str(theirs.pk), "--timeout", "1")
    assert result.exit_code == 1
    assert "Error 404 Not Found" in result.stderr


def test_the_readme_documents_every_exit_code() -> None:
    from pathlib import Path

    from connectivity_cli.watch import Exit

    section = (Path(__file__).resolve().parents[2] / "README.md").read_text().split(
        "## Command-line client", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}
    assert documented == {int(code) for code in Exit}
