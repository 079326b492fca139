"""The README's step-by-step blocks for the three newer kinds, run as written.

Each block (Virtual WAN hub connection, Private Link endpoint, workload identity grant) is run
by bash with a stand-in `curl` that only records its arguments, so the block's own variables and
quoting decide every call. The calls are then made for real, in order: the simulator's control
API over HTTPS, the portal's API with a token of the demo customer's. What the blocks leave to a
person happens where their comments say: the approval in the console (the service the console
calls), the placeholders filled in from the answers so far, the health check sent to a real
worker as beat sends it. The request must go from filed to active, degraded and removed.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectivity import services
from connectivity.models import ConnectivityRequest, RequestState, User
from tests.api.conftest import client_with, make_token
from tests.browser.flows import control, health_check_until
from tests.stack import Stack, WorkerProcess, wait_for, wait_for_state
from tests.test_kind_workload_identity import give_identity

S = RequestState
README = Path(__file__).resolve().parent.parent / "README.md"
PORTAL = "http://portal.invalid"
SIMULATOR = "https://127.0.0.1:8443/_simulator"
# Customer-side writes that break a live connection (after the request was removed, a revoke
# is only the customer cleaning up).
BREAKS = ("customer/delete-hub-connection", "customer/private-endpoint-connection/delete",
          "customer/revoke")

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.timeout(180)]


@dataclass
class Call:
    method: str
    url: str
    body: str | None


def block(section: str) -> str:
    text = README.read_text().split(f"### {section}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```\n(S=https://127\.0\.0\.1:8443/_simulator.*?)```", text, re.DOTALL)
    assert found, f"the README's {section} section has no make run block"
    return found[1]


def recorded_calls(script: str) -> list[Call]:
    """Run ``script`` in bash with a `curl` that records its arguments instead of calling. The
    README's placeholders (``<id>``: what the reader fills in) are kept as they are."""
    stand_in = "curl() { for a in \"$@\"; do printf '%s\\0' \"$a\"; done; printf '\\1\\0'; }\n"
    placeholders = {f"@@{i}@@": p for i, p in enumerate(sorted(set(re.findall(r"<[a-z ]+>",
                                                                             script))))}
    for token, placeholder in placeholders.items():
        script = script.replace(placeholder, token)
    out = subprocess.run(["bash", "-c", stand_in + script],
                         env={"PORTAL": PORTAL, "TOKEN": "cp_token", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout
    calls = []
    for raw in out.split("\1\0"):
        args = [a for a in raw.split("\0") if a]
        if not args:
            continue
        method, body, url = "GET", None, ""
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "-X":
                method, i = args[i + 1], i + 2
                continue
            if arg in ("-d", "--data"):
                body, i = args[i + 1], i + 2
                method = "POST" if method == "GET" else method
                continue
            if arg == "-H":
                i += 2
                continue
            if not arg.startswith("-"):
                url = arg
            i += 1
        for token, placeholder in placeholders.items():
            url, body = url.replace(token, placeholder), body and body.replace(token, placeholder)
        calls.append(Call(method, url, body))
    return calls


def phases(section: str) -> tuple[list[Call], list[Call]]:
    """The calls before the block says to approve in the console, and those after."""
    text = block(section)
    head, _, tail = text.partition("# approve it in the console")
    assignments = "\n".join(line for line in text.splitlines() if re.match(r"^[A-Z_]+=", line))
    tail = tail.split("\n", 1)[1]
    return recorded_calls(head), recorded_calls(assignments + "\n" + tail)


class Customer:
    """Replays the recorded calls, filling the placeholders from what the answers said."""

    def __init__(self, stack: Stack, user: User, cluster: Any) -> None:
        self.stack, self.user, self.cluster = stack, user, cluster
        self.api = client_with(make_token(user))
        self.request: ConnectivityRequest | None = None
        self.connection_id = ""

    def fill(self, text: str) -> str:
        request = self.request
        if request is not None:
            text = (text.replace("<id>", str(request.pk)).replace("<request>", request.short_id)
                    .replace("<proof>", request.proof))
        return text.replace("<connection id>", self.connection_id)

    def run(self, calls: list[Call]) -> None:
        for call in calls:
            url, body = self.fill(call.url), self.fill(call.body or "") or None
            if url.startswith(SIMULATOR):
                self.simulator(url.removeprefix(SIMULATOR + "/"), body)
            else:
                assert url.startswith(PORTAL), url
                self.portal(call.method, url.removeprefix(PORTAL), body)

    def simulator(self, path: str, body: str | None) -> None:
        route = path.split("?", 1)[0]
        breaking = route in BREAKS and self.request is not None
        if breaking:
            assert self.request is not None
            self.request.refresh_from_db()
            breaking = self.request.state not in (S.REMOVING, S.REMOVED)
        if breaking:
            wait_for_state(self.request, [S.ACTIVE, S.COMPLETED], timeout=30)
        if route in ("resource", "customer/private-endpoint-connection/approve"):
            # What the person reads first: the request page's "Approval pending on your side".
            wait_for(self.approval_pending, timeout=30, what="the endpoint's connection")
        if body is None:
            query = dict(part.split("=", 1) for part in path.split("?", 1)[1].split("&"))
            answer = control(self.stack, route, **query)
            self.note_connection(answer)
        else:
            control(self.stack, route, json.loads(body))
        if breaking:  # the next health checks (beat's, every DRIFT_CHECK_EVERY) notice
            health_check_until(self.request, S.DEGRADED)  # type: ignore[arg-type]

    def portal(self, method: str, path: str, body: str | None) -> None:
        data = json.loads(body) if body else {}
        if path == "/api/v1/requests/":
            data["cluster"] = self.cluster.pk  # the demo's contoso-prod is 1
        response = self.api.generic(method, path, json.dumps(data) if body else "",
                                    content_type="application/json")
        assert response.status_code in (200, 201), (path, response.content)
        if path == "/api/v1/requests/":
            self.request = ConnectivityRequest.objects.get(pk=response.json()["id"])
        if path.endswith("/teardown/"):
            wait_for_state(self.request, S.REMOVED, timeout=30)  # type: ignore[arg-type]

    def approval_pending(self) -> bool:
        assert self.request is not None
        self.request.refresh_from_db()
        return ("Approval pending on your side" in self.request.status_message
                or self.request.state not in (S.APPROVED, S.PROVISIONING))

    def note_connection(self, resource: dict[str, Any]) -> None:
        assert self.request is not None
        mine = [c["id"] for c in resource.get("properties", {}).get(
            "privateEndpointConnections", [])
            if c["properties"]["privateEndpoint"]["id"].endswith(f"/pe-cp-{self.request.short_id}")]
        if mine:
            self.connection_id = mine[-1]


def follow(section: str, stack: Stack, customer: User, approver: User,
           cluster: Any) -> ConnectivityRequest:
    before, after = phases(section)
    player = Customer(stack, customer, cluster)
    player.run(before)
    request = player.request
    assert request is not None, f"the {section} block files no request"
    request = wait_for_state(request, S.PENDING_APPROVAL, timeout=5)
    services.request_approve(request=request, actor=approver)  # what the console's Approve does
    player.run(after)
    request.refresh_from_db()
    return request


def test_the_hub_connection_block_goes_active_degraded_removed_and_revoked(
        stack_worker: WorkerProcess, azure_stack: Stack, customer: User, approver: User,
        sim_cluster: Any) -> None:
    request = follow("Virtual WAN hub connection", azure_stack, customer, approver, sim_cluster)
    assert request.state == S.REMOVED
    assert request.events.filter(to_state=S.ACTIVE).exists()
    assert request.events.filter(to_state=S.DEGRADED).exists()
    assert azure_stack.resources("hubVirtualNetworkConnections") == []
    # The last line revoked the role: "I revoked it: check again" finds it gone.
    response = client_with(make_token(customer)).get(f"/api/v1/requests/{request.pk}/")
    assert response.json()["revoke_reminder"]["pending"] is True
    from connectivity import provisioning

    provisioning.request_revoke_check(request_id=str(request.pk))
    request.refresh_from_db()
    assert request.grant_revoked_at is not None


def test_the_private_endpoint_block_goes_active_degraded_and_removed(
        stack_worker: WorkerProcess, azure_stack: Stack, customer: User, approver: User,
        sim_cluster: Any) -> None:
    request = follow("Private Link endpoint", azure_stack, customer, approver, sim_cluster)
    assert request.state == S.REMOVED
    assert request.events.filter(to_state=S.ACTIVE).exists()
    assert request.events.filter(to_state=S.DEGRADED).exists()
    assert azure_stack.resources("privateEndpoints") == []


def test_the_workload_identity_block_goes_active_degraded_and_removed(
        stack_worker: WorkerProcess, azure_stack: Stack, customer: User, approver: User,
        sim_cluster: Any) -> None:
    give_identity(sim_cluster)  # the demo's contoso-prod has its identity
    request = follow("Workload identity grant", azure_stack, customer, approver, sim_cluster)
    assert request.state == S.REMOVED
    assert request.events.filter(to_state=S.ACTIVE).exists()
    assert request.events.filter(to_state=S.DEGRADED).exists()
