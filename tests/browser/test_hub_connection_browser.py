"""A Virtual WAN hub connection from the wizard to removed, in Chromium against a live server,
the bundled simulator and a real Celery worker.

The customer's hub exists (the simulator's control API, as the README's curl lines make it);
they file the request, grant the hub role with the role JSON and proof the grant page shows,
verify, staff approve in the console after their authenticator code, the worker connects the
cluster's VNet, the request goes active and shows in the connections view; the customer
deletes the connection on their hub, the health check marks it degraded, they remove the
request, revoke the role and the portal confirms it is gone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectivity.kinds import hub_connection
from connectivity.models import ConnectivityRequest, RequestState, User
from tests.browser.flows import LIVE, control, health_check_until, sign_in, staff_approves
from tests.browser.test_portal_flow import browser, page, shot  # noqa: F401  (fixtures)
from tests.stack import (
    CUSTOMER_RESOURCE_GROUP,
    CUSTOMER_SUBSCRIPTION_ID,
    CUSTOMER_TENANT_ID,
    Stack,
    WorkerProcess,
    wait_for_state,
)

S = RequestState
HUB = "hub-contoso-weu"
HUB_ID = (f"/subscriptions/{CUSTOMER_SUBSCRIPTION_ID}/resourceGroups/{CUSTOMER_RESOURCE_GROUP}"
          f"/providers/Microsoft.Network/virtualHubs/{HUB}")
CUSTOMER = {"tenant_id": CUSTOMER_TENANT_ID, "subscription_id": CUSTOMER_SUBSCRIPTION_ID,
            "resource_group": CUSTOMER_RESOURCE_GROUP}

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.filterwarnings("ignore:No directory at")]


@pytest.mark.timeout(240)
def test_a_hub_connection_from_the_wizard_to_degraded_and_removed(
    page: Any, browser: Any, live_server: Any, stack_worker: WorkerProcess,  # noqa: F811
    azure_stack: Stack, sim_cluster: Any, customer: User, approver: User, settings: Any,
) -> None:
    from playwright.sync_api import expect

    settings.SITE_URL = base = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())
    control(azure_stack, "customer/virtual-wan", {**CUSTOMER, "name": "wan-contoso"})
    control(azure_stack, "customer/virtual-hub", {
        **CUSTOMER, "name": HUB, "address_prefix": "10.250.0.0/23", "virtual_wan": "wan-contoso"})

    # The wizard: the tenant and the hub's resource id pasted instead of its three parts.
    sign_in(page, base, customer)
    page.get_by_role("link", name="New request").first.click()
    page.get_by_role("radio", name="Virtual WAN hub connection").check()
    expect(page.locator("#id_vnet_peering-tenant_id")).to_be_hidden()
    page.locator("#id_hub_connection-tenant_id").fill(CUSTOMER_TENANT_ID)
    hub_field = page.locator("#id_hub_connection-hub_resource_id")
    hub_field.fill("/subscriptions/not-a-hub")
    page.locator("#id_hub_connection-tenant_id").click()
    expect(page.locator("[data-field='hub_connection-hub_resource_id'] .error")).to_be_visible()
    hub_field.fill(HUB_ID)
    shot(page, "80-hub-wizard")
    page.get_by_role("button", name="Create request").click()

    # The grant page: the hub role and the commands, scoped to this hub, with the proof.
    expect(page.get_by_role("heading", name="Grant the platform its role")).to_be_visible()
    request = ConnectivityRequest.objects.get()
    assert (request.subscription_id, request.resource_group, request.hub_name) == (
        CUSTOMER_SUBSCRIPTION_ID, CUSTOMER_RESOURCE_GROUP, HUB)
    expect(page.locator("ol.commands")).to_contain_text(f"--scope {HUB_ID}")
    expect(page.locator("#proof")).to_contain_text("assign roles on your virtual hub")
    role = json.loads(page.locator("#role-json").inner_text())
    assert role["Name"] == "Connectivity Portal Virtual Hub Connection"
    proof = page.locator("[data-proof]").inner_text()
    assert proof == request.proof
    shot(page, "81-hub-grant")

    # The customer runs them: the simulator grants as they would, with that role and proof.
    control(azure_stack, "customer/grant-hub", {
        **CUSTOMER, "hub_name": HUB, "app_id": settings.AZURE_CLIENT_ID,
        "role_definition": role, "proof": proof})
    page.get_by_role("button", name="Verify grant").click()
    expect(page.locator("[data-verify-result]")).to_contain_text(
        "Every check passed. Your request is submitted for approval.")
    expect(page.locator("[data-verify-result]")).to_contain_text("10.250.0.0/23")
    page.get_by_role("link", name="Follow the request").click()
    expect(page.locator("[data-live-badge]")).to_have_text("Pending approval")
    page.evaluate("window.__sameDocument = true")

    staff_approves(browser, base, approver, request,
                   plan=[f"on {HUB} → {sim_cluster.name}'s VNet", "RemoteVnetToHubPeering_"])

    # The worker connects the cluster's VNet to the hub; the page follows by itself.
    try:
        expect(page.locator("[data-live-badge]")).to_have_text("Active", timeout=LIVE)
    except AssertionError:
        raise AssertionError(f"not active in the page\n{stack_worker.log()}") from None
    assert page.evaluate("window.__sameDocument") is True
    reminder = page.locator("[data-revoke-reminder]")
    expect(reminder).to_be_visible()
    expect(reminder).to_contain_text(
        f"the platform can still create and delete connections on {HUB}")
    expect(reminder).to_contain_text("az role assignment delete")
    expect(reminder).to_contain_text(HUB_ID)
    expect(page.locator("[data-live-resources]")).to_contain_text("hubVirtualNetworkConnections")
    shot(page, "82-hub-active")

    # The connections view: the connection on their hub and the cluster side's peering.
    name = hub_connection.connection_name(request)
    page.get_by_role("link", name="Dashboard").first.click()
    row = page.locator(f"[data-connection-row='{request.short_id}']")
    expect(row).to_contain_text(HUB)
    expect(row.locator("[data-health]")).to_have_text("Working")
    expect(row.locator("[data-azure-status]")).to_contain_text(
        "Connection on your virtual hub: Succeeded")
    expect(row.locator("[data-azure-status]")).to_contain_text("Connected")
    row.get_by_role("link", name="Open the request").click()
    expect(page.locator("[data-connection]")).to_contain_text(name)

    # They delete the connection on their hub; the next health check finds it gone.
    control(azure_stack, "customer/delete-hub-connection", {"hub_id": HUB_ID, "name": name})
    health_check_until(request, S.DEGRADED)
    try:
        expect(page.locator("[data-live-badge]")).to_have_text("Degraded", timeout=LIVE)
    except AssertionError:
        raise AssertionError(f"not degraded\n{stack_worker.log()}") from None
    expect(page.locator("[data-status-message]")).to_contain_text("connection missing")
    page.reload()
    expect(page.locator("[data-degraded]")).to_contain_text(
        "Grant the platform's role on your virtual hub again")
    expect(page.locator("[data-connection-health]")).to_have_text("Degraded")
    shot(page, "83-hub-degraded")
    page.get_by_role("link", name="Dashboard").first.click()
    expect(row.locator("[data-health]")).to_have_text("Degraded")
    expect(row.locator("[data-azure-status]")).to_contain_text(
        "Connection on your virtual hub: missing")
    row.get_by_role("link", name="Open the request").click()

    # They remove it; with the role still there, the page then asks them to revoke it.
    page.get_by_role("button", name="Remove connection").click()
    try:
        expect(page.locator("[data-live-badge]")).to_have_text("Removed", timeout=LIVE)
    except AssertionError:
        raise AssertionError(f"not removed\n{stack_worker.log()}") from None
    wait_for_state(request, S.REMOVED, timeout=5)
    assert azure_stack.resources("hubVirtualNetworkConnections") == []
    assert not [p for p in azure_stack.peerings_on(azure_stack.cluster_vnet_id)
                if p["name"].startswith("RemoteVnetToHubPeering_")]
    expect(reminder).to_be_visible()
    page.reload()
    expect(reminder).to_contain_text("The connection is removed, but the role you granted is "
                                     "still assigned.")
    control(azure_stack, "customer/revoke", {
        "tenant_id": CUSTOMER_TENANT_ID, "app_id": settings.AZURE_CLIENT_ID, "scope": HUB_ID})
    page.get_by_role("button", name="I revoked it: check again").click()
    expect(page.locator("[data-revoked-note]")).to_be_visible(timeout=LIVE)
    expect(page.locator("[data-revoked-note]")).to_contain_text(
        "the platform's role on your virtual hub is gone")
    expect(reminder).to_be_hidden()
    shot(page, "84-hub-removed-revoked")
    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.locator(f"[data-connection-row='{request.short_id}']")).to_have_count(0)
    assert not [e for e in page.console_errors if "Content Security Policy" in e], (
        page.console_errors)
