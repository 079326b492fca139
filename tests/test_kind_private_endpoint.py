"""Private Link endpoint requests against the simulator: created through the API, approved,
rejected and removed on the customer's side through the simulator's control API, watched by the
health check, expired when nobody approves, and torn down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectivity import provisioning, services
from connectivity.kinds import private_endpoint
from connectivity.models import ConnectivityRequest, RequestState, User
from tests.api.conftest import client_with, make_token
from tests.azure.conftest import raw_request
from tests.provisioning_helpers import step
from tests.stack import CUSTOMER_RESOURCE_GROUP, CUSTOMER_SUBSCRIPTION_ID, CUSTOMER_TENANT_ID

pytestmark = pytest.mark.django_db
S = RequestState
BLOB = "privatelink.blob.core.windows.net"


def control(stack: Any, route: str, body: dict[str, Any]) -> Any:
    response = raw_request(stack.simulator, "POST", f"/_simulator/{route}", body=body)
    assert response.status == 200, response.body
    return response.body


def storage_account(stack: Any, name: str = "stcontoso") -> str:
    return str(control(stack, "customer/paas-resource", {
        "tenant_id": CUSTOMER_TENANT_ID, "subscription_id": CUSTOMER_SUBSCRIPTION_ID,
        "resource_group": CUSTOMER_RESOURCE_GROUP, "type": "Microsoft.Storage/storageAccounts",
        "name": name})["id"])


def link_service(stack: Any, *, visible: bool = True) -> dict[str, Any]:
    from django.conf import settings

    body: dict[str, Any] = {"tenant_id": CUSTOMER_TENANT_ID,
                            "subscription_id": CUSTOMER_SUBSCRIPTION_ID,
                            "resource_group": CUSTOMER_RESOURCE_GROUP, "name": "pls-api"}
    if visible:
        body["visibility"] = [settings.AZURE_PLATFORM_SUBSCRIPTION_ID]
    return dict(control(stack, "customer/private-link-service", body))


def connection_on(stack: Any, target: str) -> str:
    """The connection the endpoint made on the customer's resource (what their `list` finds)."""
    resource = stack.control.get_resource(target)
    connections = resource["properties"]["privateEndpointConnections"]
    assert len(connections) == 1, connections
    return str(connections[0]["id"])


def create(customer: User, cluster: Any, **fields: Any) -> Any:
    return client_with(make_token(customer)).post("/api/v1/requests/", {
        "cluster": cluster.pk, "kind": "private_endpoint", **fields}, format="json")


def run(request: ConnectivityRequest, capture: Any, scheduler: Any, *, until: Any,
        max_steps: int = 20) -> ConnectivityRequest:
    """Run the engine's chain (ignoring countdowns) until ``until(request)``."""
    token = None
    for _ in range(max_steps):
        step(request, capture, token)
        if until(request):
            return request
        token = scheduler.last[2] if scheduler.sent else None
    raise AssertionError(f"{request.state} at {request.step}: {request.status_message}")


def pending(request: ConnectivityRequest) -> bool:
    return request.step == "approval" and "Approval pending" in request.status_message


@pytest.fixture
def approved_blob(sim_cluster, azure_stack, customer, approver) -> ConnectivityRequest:
    target = storage_account(azure_stack)
    response = create(customer, sim_cluster, link_target=target, group_id="BLOB")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "pending_approval", body
    assert body["group_id"] == "blob"
    request = ConnectivityRequest.objects.get(pk=body["id"])
    return services.request_approve(request=request, actor=approver)


def test_blob_endpoint_waits_for_approval_goes_active_and_resolves(
        approved_blob, azure_stack, scheduler, customer, outsider,
        django_capture_on_commit_callbacks) -> None:
    request = run(approved_blob, django_capture_on_commit_callbacks, scheduler, until=pending)
    assert request.state == S.PROVISIONING
    # The poll waits on a person: it is not counted and comes back after the setting's interval.
    assert request.attempts == 0 and scheduler.last[1] == 60.0
    # The API and the reminder emails carry the command too.
    assert "Run: az network private-endpoint-connection approve --id" in request.status_message
    endpoint = azure_stack.control.get_resource(request.azure_resources["endpoint_id"])
    message = endpoint["properties"]["manualPrivateLinkServiceConnections"][0]["properties"][
        "requestMessage"]
    assert request.organization.name in message and request.short_id in message
    assert endpoint["properties"]["subnet"]["id"].endswith(
        "/vnet-cluster-contoso-prod/subnets/endpoints")

    page = Client()
    page.force_login(customer)
    html = page.get(reverse("request_detail", args=[request.pk])).content.decode()
    assert "Approval pending on your side" in html
    assert "az network private-endpoint-connection approve --id" in html
    assert "Networking → Private endpoint connections" in html
    assert 'aria-label="Copy the approve command"' in html
    stranger = Client()
    stranger.force_login(outsider)
    assert stranger.get(reverse("request_detail", args=[request.pk])).status_code == 404
    outsider_api = client_with(make_token(outsider))
    assert outsider_api.get(f"/api/v1/requests/{request.pk}/").status_code == 404
    # The API says what to run on their side while it waits: the same approve command.
    api = client_with(make_token(customer))
    command = api.get(f"/api/v1/requests/{request.pk}/").json()["customer_command"]
    assert command == request.azure_resources["approve_command"]
    assert command.startswith("az network private-endpoint-connection approve --id")
    grant = api.get(f"/api/v1/requests/{request.pk}/grant/").json()
    assert grant["needed"] is False and grant["grant_commands"] == [command]

    control(azure_stack, "customer/private-endpoint-connection/approve",
            {"id": connection_on(azure_stack, request.link_target), "description": "ok by Contoso"})
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.ACTIVE)
    assert "stcontoso.blob.core.windows.net" in request.events.last().message
    zone_id = request.azure_resources["zone_id"]
    assert f"/resourceGroups/rg-cp-dns-org-{request.organization_id}/" in zone_id
    assert zone_id.endswith(f"/privateDnsZones/{BLOB}")
    record = azure_stack.control.get_resource(f"{zone_id}/A/stcontoso")
    assert record["properties"]["aRecords"] == [{"ipv4Address": "10.100.254.4"}]
    link = azure_stack.control.get_resource(request.azure_resources["link_id"])
    assert link["properties"]["virtualNetwork"]["id"].lower() == request.cluster.vnet_id.lower()
    html = page.get(reverse("request_detail", args=[request.pk])).content.decode()
    assert "stcontoso.blob.core.windows.net → 10.100.254.4" in html
    assert "Approval pending" not in html
    assert api.get(f"/api/v1/requests/{request.pk}/").json()["customer_command"] is None

    provisioning.request_revoke_check(request_id=str(request.pk))  # no role: completed at once
    request.refresh_from_db()
    assert request.state == S.COMPLETED


def test_connection_removed_on_their_side_is_degraded_then_removed(
        approved_blob, azure_stack, scheduler, customer,
        django_capture_on_commit_callbacks) -> None:
    request = run(approved_blob, django_capture_on_commit_callbacks, scheduler, until=pending)
    pec = connection_on(azure_stack, request.link_target)
    control(azure_stack, "customer/private-endpoint-connection/approve", {"id": pec})
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.ACTIVE)
    provisioning.request_drift_check(request_id=str(request.pk))
    request.refresh_from_db()
    assert request.state == S.ACTIVE

    control(azure_stack, "customer/private-endpoint-connection/delete", {"id": pec})
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.request_drift_check(request_id=str(request.pk))
    request.refresh_from_db()
    assert request.state == S.DEGRADED
    assert "connection was removed on your side (Disconnected)" in request.status_message
    page = Client()
    page.force_login(customer)
    dashboard = page.get(reverse("dashboard")).content.decode()
    assert "stcontoso (blob)" in dashboard and "Connection Disconnected" in dashboard

    response = client_with(make_token(customer)).post(
        f"/api/v1/requests/{request.pk}/teardown/", {"reason": "done"}, format="json")
    assert response.status_code == 200, response.content
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.REMOVED)
    assert azure_stack.control.get_resource(request.azure_resources["endpoint_id"]) is None
    assert azure_stack.control.get_resource(request.azure_resources["zone_id"]) is None
    assert azure_stack.resources("privateEndpoints") == []
    assert all(r.deleted for r in request.resources_created)


def test_rejected_shows_their_description_and_a_recheck_requests_anew(
        approved_blob, azure_stack, scheduler, customer,
        django_capture_on_commit_callbacks) -> None:
    request = run(approved_blob, django_capture_on_commit_callbacks, scheduler, until=pending)
    control(azure_stack, "customer/private-endpoint-connection/reject",
            {"id": connection_on(azure_stack, request.link_target), "description": "wrong account"})
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.ACTION_NEEDED)
    assert "rejected on your side (“wrong account”)" in request.status_message
    assert [m.subject for m in mail.outbox][-1].startswith("Action needed")

    with django_capture_on_commit_callbacks(execute=True):
        services.request_verify(request=request, actor=customer)
    request.refresh_from_db()
    assert request.state == S.PROVISIONING
    request = run(request, django_capture_on_commit_callbacks, scheduler, until=pending)
    # A new endpoint, with a new connection pending on their resource.
    resource = azure_stack.control.get_resource(request.link_target)
    states = [c["properties"]["privateLinkServiceConnectionState"]["status"]
              for c in resource["properties"]["privateEndpointConnections"]]
    assert states == ["Pending"]


def test_unapproved_endpoint_is_reminded_then_expires_and_is_cleaned_up(
        approved_blob, azure_stack, scheduler, settings,
        django_capture_on_commit_callbacks) -> None:
    settings.PRIVATE_ENDPOINT_REMINDER_EVERY = 0
    request = run(approved_blob, django_capture_on_commit_callbacks, scheduler, until=pending)
    step(request, django_capture_on_commit_callbacks, scheduler.last[2])
    assert request.events.filter(action="approval_reminder").exists()
    assert any(m.subject.startswith("Reminder: your Private Link endpoint request")
               for m in mail.outbox)

    requested = timezone.now() - timedelta(days=15)
    resources = {**request.azure_resources, "requested_at": requested.isoformat()}
    ConnectivityRequest.objects.filter(pk=request.pk).update(azure_resources=resources)
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.ACTION_NEEDED)
    assert "within 14 days" in request.status_message
    assert azure_stack.resources("privateEndpoints") == []
    assert azure_stack.control.get_resource(request.link_target)["properties"][
        "privateEndpointConnections"] == []

    with django_capture_on_commit_callbacks(execute=True):
        services.request_verify(request=request, actor=request.created_by)
    request = run(request, django_capture_on_commit_callbacks, scheduler, until=pending)
    assert len(azure_stack.resources("privateEndpoints")) == 1


def test_verify_and_repair_after_the_connection_was_removed_requests_a_new_one(
        approved_blob, azure_stack, scheduler, customer,
        django_capture_on_commit_callbacks) -> None:
    request = run(approved_blob, django_capture_on_commit_callbacks, scheduler, until=pending)
    pec = connection_on(azure_stack, request.link_target)
    control(azure_stack, "customer/private-endpoint-connection/approve", {"id": pec})
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.ACTIVE)
    control(azure_stack, "customer/private-endpoint-connection/delete", {"id": pec})
    provisioning.request_drift_check(request_id=str(request.pk))
    request.refresh_from_db()
    assert request.state == S.DEGRADED

    with django_capture_on_commit_callbacks(execute=True):
        services.request_verify(request=request, actor=customer)
    request.refresh_from_db()
    request = run(request, django_capture_on_commit_callbacks, scheduler, until=pending)
    fresh = connection_on(azure_stack, request.link_target)
    assert fresh != pec
    # The new connection removed again before it was ever approved: told, not re-created.
    control(azure_stack, "customer/private-endpoint-connection/delete", {"id": fresh})
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.ACTION_NEEDED)
    assert "removed on your side" in request.status_message
    assert len(azure_stack.resources("privateEndpoints")) == 1


def test_a_private_link_service_alias_goes_active_without_dns(
        sim_cluster, azure_stack, scheduler, customer, approver,
        django_capture_on_commit_callbacks) -> None:
    service = link_service(azure_stack)
    response = create(customer, sim_cluster, link_target=service["alias"])
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "pending_approval", response.json()
    request = services.request_approve(
        request=ConnectivityRequest.objects.get(pk=response.json()["id"]), actor=approver)
    request = run(request, django_capture_on_commit_callbacks, scheduler, until=pending)
    assert "Private Link Center" in request.azure_resources["portal_path"]
    control(azure_stack, "customer/private-endpoint-connection/approve",
            {"id": connection_on(azure_stack, service["id"])})
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.ACTIVE)
    assert request.azure_resources["private_ip"] == "10.100.254.4"
    assert "zone_id" not in request.azure_resources


def test_a_hidden_alias_fails_preflight(sim_cluster, azure_stack, customer) -> None:
    service = link_service(azure_stack, visible=False)
    response = create(customer, sim_cluster, link_target=service["alias"])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "draft"
    failed = {c["key"]: c["message"] for c in body["preflight"] if c["status"] == "fail"}
    assert "is not visible to the platform's subscription" in failed["alias_visible"]


def test_a_second_endpoint_to_the_same_target_and_group_is_a_duplicate(
        approved_blob, sim_cluster, azure_stack, customer) -> None:
    response = create(customer, sim_cluster, link_target=approved_blob.link_target, group_id="blob")
    body = response.json()
    assert body["state"] == "draft"
    assert [c["key"] for c in body["preflight"] if c["status"] == "fail"] == ["no_duplicate"]
    other = create(customer, sim_cluster, link_target=approved_blob.link_target, group_id="dfs")
    assert other.json()["state"] == "pending_approval", other.json()


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"link_target": "not an id", "group_id": ""}, "link_target",
     "Target must be a Private Link service alias"),
    ({"link_target": "/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg/providers/"
               "Microsoft.Storage/storageAccounts/stcontoso", "group_id": "sqlServer"},
     "group_id", "Sub-resource must be one of blob, dfs"),
    ({"link_target": "/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg/providers/"
               "Microsoft.Storage/storageAccounts/stcontoso", "group_id": ""},
     "group_id", "Sub-resource must be one of blob"),
    ({"link_target": "/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg/providers/"
               "Microsoft.Web/sites/app", "group_id": "sites"},
     "link_target", "not supported"),
    ({"link_target": "/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg/providers/"
               "Microsoft.Network/privateLinkServices/pls", "group_id": "blob"},
     "group_id", "must be empty for a Private Link service"),
])
def test_bad_input_names_the_field_and_the_rule(sim_cluster, customer, fields, field,
                                                words) -> None:
    response = create(customer, sim_cluster, **fields)
    assert response.status_code == 400, response.content
    body = response.json()
    messages = " ".join(e["detail"] if isinstance(e, dict) else str(e)
                        for e in body.get("errors", {}).get(field, [])) or str(body)
    assert words in messages, body


def test_a_target_in_the_platforms_subscription_is_refused(sim_cluster, customer, settings) -> None:
    target = (f"/subscriptions/{settings.AZURE_PLATFORM_SUBSCRIPTION_ID}/resourceGroups/rg/"
              "providers/Microsoft.KeyVault/vaults/kv-platform")
    response = create(customer, sim_cluster, link_target=target, group_id="vault")
    assert response.status_code == 400
    assert "platform's own subscription" in str(response.json())


def test_approve_command_finds_their_connection_by_the_endpoints_name(
        sim_cluster, organization) -> None:
    request = ConnectivityRequest(
        organization=organization, cluster=sim_cluster, kind="private_endpoint",
        spec={"link_target": "/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg/"
                        "providers/Microsoft.KeyVault/vaults/kv-contoso", "group_id": "vault"})
    command = private_endpoint.approve_command(request)
    assert command.startswith('az network private-endpoint-connection approve --id "$(az network '
                              "private-endpoint-connection list --id /subscriptions/")
    assert (f"--query \"[?ends_with(properties.privateEndpoint.id, '/pe-cp-{request.short_id}')]"
            '.id | [0]" -o tsv)"') in command
    assert command.endswith(f"--description 'Approved for {organization.name}, request "
                            f"{request.short_id}'")


def test_the_approve_command_runs_in_a_shell_as_written(sim_cluster, organization) -> None:
    """Run it with a stand-in ``az`` that prints its arguments: the quoting holds."""
    import os
    import subprocess
    import tempfile

    organization.name = "O'Brien & Sons \"Data\""
    request = ConnectivityRequest(
        organization=organization, cluster=sim_cluster, kind="private_endpoint",
        spec={"link_target": "/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/"
                             "rg/providers/Microsoft.KeyVault/vaults/kv-contoso",
              "group_id": "vault"})
    with tempfile.TemporaryDirectory() as bin_dir:
        fake = os.path.join(bin_dir, "az")
        with open(fake, "w") as f:
            f.write('#!/bin/sh\nif [ "$3" = list ]; then echo "/the/connection/id"; '
                    'else for a in "$@"; do echo "[$a]"; done; fi\n')
        os.chmod(fake, 0o755)
        out = subprocess.run(["sh", "-c", private_endpoint.approve_command(request)],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}).stdout
    assert out.splitlines() == [
        "[network]", "[private-endpoint-connection]", "[approve]", "[--id]",
        "[/the/connection/id]", "[--description]",
        f"[Approved for O'Brien & Sons \"Data\", request {request.short_id}]"]


def test_the_wizard_creates_one_and_the_console_shows_the_plan(
        sim_cluster, azure_stack, customer, approver) -> None:
    from tests.console.conftest import mfa_signed_in

    target = storage_account(azure_stack)
    page = Client()
    page.force_login(customer)
    form = page.get(reverse("request_new")).content.decode()
    assert 'data-kind="private_endpoint"' in form and "Sub-resource" in form
    response = page.post(reverse("request_new"), {
        "cluster": str(sim_cluster.pk), "kind": "private_endpoint",
        "private_endpoint-link_target": target, "private_endpoint-group_id": "dfs"})
    assert response.status_code == 302, response.content.decode()[:2000]
    request = ConnectivityRequest.objects.get(kind="private_endpoint")
    assert request.state == S.PENDING_APPROVAL and request.group_id == "dfs"

    bad = page.post(reverse("request_new"), {
        "cluster": str(sim_cluster.pk), "kind": "private_endpoint",
        "private_endpoint-link_target": target, "private_endpoint-group_id": "vault"})
    assert bad.status_code == 400
    assert "Sub-resource must be one of blob, dfs" in bad.content.decode()

    review = mfa_signed_in(approver).get(
        reverse("console:review", kwargs={"request_id": request.pk})).content.decode()
    assert "Private endpoint to stcontoso (dfs)" in review
    assert "privatelink.dfs.core.windows.net" in review


@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(120)
def test_a_real_worker_waits_for_the_approval_then_goes_active(
        stack_worker, azure_stack, customer, approver, sim_cluster) -> None:
    from tests.stack import wait_for, wait_for_state

    target = storage_account(azure_stack)
    request = services.request_create(actor=customer, organization=customer.organization,
                                      cluster=sim_cluster, kind="private_endpoint",
                                      fields={"link_target": target, "group_id": "blob"})
    request = services.request_submit(request=request, actor=customer)
    services.request_approve(request=request, actor=approver)

    def waiting() -> bool:
        request.refresh_from_db()
        return "Approval pending on your side" in request.status_message

    wait_for(waiting, timeout=30, what="the approval to be pending")
    control(azure_stack, "customer/private-endpoint-connection/approve",
            {"id": connection_on(azure_stack, target)})
    request = wait_for_state(request, [S.ACTIVE, S.COMPLETED], timeout=30)
    assert request.azure_resources["dns_names"] == ["stcontoso.blob.core.windows.net → 10.100.254.4"]
    services.request_teardown(request=request, actor=customer)
    wait_for_state(request, S.REMOVED, timeout=30)
    assert azure_stack.resources("privateEndpoints") == []


def test_a_cluster_without_its_endpoint_subnet_fails_and_tells_the_platform_team(
        approved_blob, azure_stack, scheduler, settings,
        django_capture_on_commit_callbacks) -> None:
    settings.PRIVATE_ENDPOINT_SUBNET = "no-such-subnet"
    settings.STAFF_ALERT_EMAILS = ["platform@example.com"]
    request = run(approved_blob, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.FAILED)
    assert "no-such-subnet" in request.status_message
    assert any("Platform resource missing" in m.subject for m in mail.outbox)
