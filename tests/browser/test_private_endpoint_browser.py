"""A Private Link endpoint from the wizard to removed, in Chromium against a live server, the
bundled simulator and a real Celery worker.

The customer files it for their storage account, staff approve it in the console after their
authenticator code, the customer approves the endpoint's connection on their resource (the
simulator's control API, as the README shows), the request goes active and shows in the
connections view; the customer removes the connection on their side, the health check marks it
degraded, and the customer removes the request. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectivity.models import ConnectivityRequest, RequestState, User
from tests.browser.flows import LIVE, control, health_check_until, saw_state, sign_in, staff_approves
from tests.browser.test_portal_flow import browser, page, shot  # noqa: F401  (fixtures)
from tests.stack import (
    CUSTOMER_SUBSCRIPTION_ID,
    CUSTOMER_TENANT_ID,
    Stack,
    WorkerProcess,
)

S = RequestState
GROUP = "rg-contoso-data"
STORAGE_ID = (f"/subscriptions/{CUSTOMER_SUBSCRIPTION_ID}/resourceGroups/{GROUP}/providers/"
              "Microsoft.Storage/storageAccounts/stcontoso")

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.filterwarnings("ignore:No directory at")]


def their_connection(stack: Stack, request: ConnectivityRequest) -> str:
    """What the approve command's `az network private-endpoint-connection list` finds: the
    connection on their storage account made by this request's endpoint."""
    resource = control(stack, "resource", id=STORAGE_ID)
    ours = [c["id"] for c in resource["properties"]["privateEndpointConnections"]
            if c["properties"]["privateEndpoint"]["id"].endswith(f"/pe-cp-{request.short_id}")]
    assert len(ours) == 1, resource["properties"]["privateEndpointConnections"]
    return str(ours[0])


@pytest.mark.timeout(240)
def test_a_private_endpoint_from_the_wizard_to_degraded_and_removed(
    page: Any, browser: Any, live_server: Any, stack_worker: WorkerProcess,  # noqa: F811
    azure_stack: Stack, sim_cluster: Any, customer: User, approver: User, settings: Any,
) -> None:
    from playwright.sync_api import expect

    settings.SITE_URL = base = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())
    control(azure_stack, "customer/paas-resource", {
        "tenant_id": CUSTOMER_TENANT_ID, "subscription_id": CUSTOMER_SUBSCRIPTION_ID,
        "resource_group": GROUP, "type": "storage_account", "name": "stcontoso"})

    # The wizard: the kind's two fields, checked as the customer leaves them.
    sign_in(page, base, customer)
    page.get_by_role("link", name="New request").first.click()
    page.get_by_role("radio", name="Private Link endpoint").check()
    expect(page.locator("#id_vnet_peering-tenant_id")).to_be_hidden()
    target = page.get_by_role("textbox", name="Target")
    target.fill("stcontoso")
    page.get_by_role("textbox", name="Sub-resource").click()
    expect(page.get_by_text("Target must be a Private Link service alias")).to_be_visible()
    target.fill(STORAGE_ID)
    page.get_by_role("textbox", name="Sub-resource").fill("blob")
    shot(page, "70-private-endpoint-wizard")
    page.get_by_role("button", name="Create request").click()

    # No role to grant: the checks ran at once and it waits for the platform's approval.
    expect(page.locator("[data-live-badge]")).to_have_text("Pending approval")
    request = ConnectivityRequest.objects.get()
    assert (request.kind, request.link_target, request.group_id) == (
        "private_endpoint", STORAGE_ID, "blob")
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads

    staff_approves(browser, base, approver, request, plan=[
        "Private endpoint to stcontoso (blob)", "privatelink.blob.core.windows.net"])

    # The worker creates the endpoint; the page then asks the customer to approve it.
    try:
        expect(page.locator("[data-status-message]")).to_contain_text(
            "Approval pending on your side", timeout=LIVE)
    except AssertionError:
        raise AssertionError(f"no approval asked for\n{stack_worker.log()}") from None
    assert page.evaluate("window.__sameDocument") is True
    page.reload()
    pending = page.locator("[data-approval-pending]")
    expect(pending).to_contain_text("az network private-endpoint-connection approve --id")
    expect(pending).to_contain_text(f"/pe-cp-{request.short_id}")
    expect(pending.get_by_role("button", name="Copy the approve command")).to_be_visible()
    shot(page, "71-private-endpoint-approval-pending")

    # They approve it on their resource: active (and, nothing of theirs to revoke, completed).
    control(azure_stack, "customer/private-endpoint-connection/approve",
            {"id": their_connection(azure_stack, request), "description": "ok by Contoso"})
    try:
        expect(page.locator("[data-live-badge]")).to_have_text("Completed", timeout=LIVE)
    except AssertionError:
        raise AssertionError(f"not active in the page\n{stack_worker.log()}") from None
    assert saw_state(request, S.ACTIVE)
    expect(page.locator("[data-live-timeline]")).to_contain_text("Active")
    page.reload()
    expect(page.locator("[data-endpoint-dns]")).to_contain_text(
        "stcontoso.blob.core.windows.net → 10.100.254.4")
    expect(page.locator("[data-approval-pending]")).to_have_count(0)
    shot(page, "72-private-endpoint-active")

    # The connections view shows it working, as Azure reports it.
    page.get_by_role("link", name="Dashboard").first.click()
    row = page.locator(f"[data-connection-row='{request.short_id}']")
    expect(row).to_contain_text("stcontoso (blob)")
    expect(row.locator("[data-health]")).to_have_text("Working")
    expect(row.locator("[data-azure-status]")).to_contain_text(
        "Private endpoint in the cluster's VNet: Approved")

    # They remove the connection on their side; the next health check finds it Disconnected.
    control(azure_stack, "customer/private-endpoint-connection/delete",
            {"id": their_connection(azure_stack, request)})
    health_check_until(request, S.DEGRADED)
    page.reload()
    expect(row.locator("[data-health]")).to_have_text("Degraded")
    expect(row.locator("[data-azure-status]")).to_contain_text("Disconnected")
    expect(row).to_contain_text("removed on your side (Disconnected)")
    shot(page, "73-private-endpoint-degraded-connections")
    row.get_by_role("link", name="Open the request").click()
    expect(page.locator("[data-live-badge]")).to_have_text("Degraded")
    expect(page.locator("[data-connection-health]")).to_have_text("Degraded")
    expect(page.locator("[data-degraded]")).to_contain_text("Approve the connection again")

    # They remove it: the platform deletes its endpoint and the organisation's zone.
    page.get_by_role("button", name="Remove connection").click()
    try:
        expect(page.locator("[data-live-badge]")).to_have_text("Removed", timeout=LIVE)
    except AssertionError:
        raise AssertionError(f"not removed\n{stack_worker.log()}") from None
    page.reload()
    expect(page.locator("[data-live-resources] .is-deleted").first).to_be_visible()
    shot(page, "74-private-endpoint-removed")
    assert azure_stack.resources("privateEndpoints") == []
    assert azure_stack.resources("privateDnsZones") == []
    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.locator(f"[data-connection-row='{request.short_id}']")).to_have_count(0)
    assert not [e for e in page.console_errors if "Content Security Policy" in e], (
        page.console_errors)
