"""A workload identity grant in Chromium against a live server, the simulator and a real Celery
worker: the wizard, the command with its copy button on the request page, the checks passing
once the customer assigned the role, staff approving in the console after their authenticator
code, the request going active and showing in the connections view, the customer revoking the
assignment and the health check marking it degraded, then removal with the revoke command."""

from __future__ import annotations

from typing import Any

import pytest

from connectivity.models import Cluster, ConnectivityRequest, RequestState, User
from tests.browser.flows import LIVE, health_check_until, saw_state, staff_approves
from tests.browser.test_pages import browser, shot, signed_in  # noqa: F401  (fixtures)
from tests.stack import WorkerProcess
from tests.test_kind_workload_identity import (
    PRINCIPAL,
    STORAGE_ID,
    assign,
    give_identity,
    revoke,
    seed_resources,
)

S = RequestState
pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.filterwarnings("ignore:No directory at")]


@pytest.mark.timeout(240)
def test_a_grant_from_the_wizard_to_degraded_and_removed(
        signed_in: Any, browser: Any, live_server: Any, stack_worker: WorkerProcess,  # noqa: F811
        sim_cluster: Cluster, azure_stack: Any, approver: User, settings: Any) -> None:
    from playwright.sync_api import expect

    settings.SITE_URL = live_server.url
    give_identity(sim_cluster)
    seed_resources(azure_stack)
    page = signed_in
    page.on("dialog", lambda dialog: dialog.accept())
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server.url}/requests/new/")
    page.get_by_role("radio", name="Workload identity grant").check()
    expect(page.get_by_role("textbox", name="Resource ID", exact=True)).to_be_visible()
    expect(page.locator("#id_vnet_peering-tenant_id")).to_be_hidden()
    page.get_by_role("textbox", name="Resource ID", exact=True).fill("/subscriptions/nope")
    page.get_by_role("combobox", name="Built-in role").focus()
    expect(page.get_by_text("Resource ID must be a resource id like")).to_be_visible()
    page.get_by_role("textbox", name="Resource ID", exact=True).fill(STORAGE_ID)
    page.get_by_role("combobox", name="Built-in role").select_option("Storage Blob Data Reader")
    page.get_by_role("button", name="Create request").click()
    page.wait_for_url(f"{live_server.url}/requests/*/")

    command = page.locator("#identity-command")
    expect(command).to_contain_text(f"az role assignment create --assignee-object-id {PRINCIPAL}")
    expect(page.locator(".check-msg").filter(has_text="may still be propagating")).to_be_visible()
    copy = page.get_by_role("button", name="Copy the az command")
    copy.click()
    expect(copy).to_have_text("Copied")
    shot(page, "60-workload-identity-pending")

    assign(azure_stack)  # the customer ran the command
    page.get_by_role("button", name="Run the checks again").click()
    expect(page.locator("[data-live-badge]")).to_contain_text("Pending approval")
    request = ConnectivityRequest.objects.get()
    assert request.state == S.PENDING_APPROVAL
    shot(page, "61-workload-identity-verified")

    # Staff approve; the worker verifies once more, signed in as the identity: active, and
    # (nothing of the platform's to revoke) completed at once.
    staff_approves(browser, live_server.url, approver, request,
                   plan=["Nothing: this kind creates no resource in Azure"])
    try:
        expect(page.locator("[data-live-badge]")).to_have_text("Completed", timeout=LIVE)
    except AssertionError:
        raise AssertionError(f"not active in the page\n{stack_worker.log()}") from None
    assert saw_state(request, S.ACTIVE)
    expect(page.locator("[data-live-timeline]")).to_contain_text("Active")

    # The connections view: the role effective, as the identity reads it.
    page.get_by_role("link", name="Dashboard").first.click()
    row = page.locator(f"[data-connection-row='{request.short_id}']")
    expect(row.locator("[data-health]")).to_have_text("Working")
    expect(row.locator("[data-azure-status]")).to_contain_text("Storage Blob Data Reader effective")

    # The customer removes the assignment; the next health check finds the role gone.
    revoke(azure_stack)
    health_check_until(request, S.DEGRADED)
    page.reload()
    expect(row.locator("[data-health]")).to_have_text("Degraded")
    expect(row.locator("[data-azure-status]")).to_contain_text("Storage Blob Data Reader missing")
    shot(page, "62-workload-identity-degraded-connections")
    row.get_by_role("link", name="Open the request").click()
    expect(page.locator("[data-live-badge]")).to_have_text("Degraded")
    expect(page.locator("[data-degraded]")).to_contain_text(
        "Assign the role to the cluster's workload identity again")
    expect(page.locator("[data-connection-reason]")).to_contain_text(
        "no longer holds Microsoft.Storage/storageAccounts/blobServices/containers/read")

    # They remove the request: nothing to delete in Azure; the page shows the revoke command.
    page.get_by_role("button", name="Remove connection").click()
    try:
        expect(page.locator("[data-live-badge]")).to_have_text("Removed", timeout=LIVE)
    except AssertionError:
        raise AssertionError(f"not removed\n{stack_worker.log()}") from None
    page.reload()
    expect(page.locator("[data-identity-command]")).to_contain_text("To take the access away, run")
    expect(command).to_contain_text(
        f"az role assignment delete --assignee {PRINCIPAL} --role 'Storage Blob Data Reader' "
        f"--scope {STORAGE_ID}")
    shot(page, "63-workload-identity-removed")
    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.locator(f"[data-connection-row='{request.short_id}']")).to_have_count(0)
