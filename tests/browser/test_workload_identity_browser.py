"""A workload identity grant in Chromium against the simulator: the wizard, the command with its
copy button on the request page, and the checks passing once the customer assigned the role."""

from __future__ import annotations

from typing import Any

import pytest

from connectivity.models import Cluster, ConnectivityRequest, RequestState
from tests.browser.test_pages import browser, shot, signed_in  # noqa: F401  (fixtures)
from tests.test_kind_workload_identity import (
    PRINCIPAL,
    STORAGE_ID,
    assign,
    give_identity,
    seed_resources,
)

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:No directory at")]


def test_a_grant_from_the_wizard_to_verified(signed_in: Any, live_server: Any,  # noqa: F811
                                             sim_cluster: Cluster, azure_stack: Any) -> None:
    from playwright.sync_api import expect

    give_identity(sim_cluster)
    seed_resources(azure_stack)
    page = signed_in
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
    assert request.state == RequestState.PENDING_APPROVAL
    shot(page, "61-workload-identity-verified")
