"""The customer's whole peering in a real browser: Debian's Chromium driven by Playwright against
a live server, the bundled Azure simulator and a real Celery worker.

Signs in, files a peering, is shown the commands, grants the role through the simulator's
control API (with the role JSON the page shows), verifies, and after a staff approval watches
the request turn active and, once the role is revoked, completed, all without reloading.
Screenshots of every page go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectivity import services
from connectivity.models import ConnectivityRequest, RequestState, User
from tests.conftest import CHROMIUM
from tests.factories import PASSWORD
from tests.stack import (
    CUSTOMER_RESOURCE_GROUP,
    CUSTOMER_SUBSCRIPTION_ID,
    CUSTOMER_TENANT_ID,
    CUSTOMER_VNET_NAME,
    Stack,
    WorkerProcess,
    customer_vnet_id,
    wait_for_state,
)

S = RequestState
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
LIVE = 60_000  # ms: how long the page may take to show a state the worker reaches

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.filterwarnings("ignore:No directory at")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # ordinary blocking calls between browser steps, so Django's async guard does not apply.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  timezone_id="Europe/Berlin")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def simulator_post(stack: Stack, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """The simulator's HTTP control API, as a customer's `az` would change their tenant."""
    context = ssl.create_default_context(cafile=stack.simulator.ca_path)
    request = urllib.request.Request(
        f"{stack.simulator.base_url}/_simulator/customer/{action}",
        data=json.dumps(body).encode(), headers={"Content-Type": "application/json"},
        method="POST")
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.timeout(240)
def test_customer_peering_from_sign_in_to_completed(
    page: Any, live_server: Any, stack_worker: WorkerProcess, azure_stack: Stack,
    sim_cluster: Any, customer: User, approver: User, settings: Any,
) -> None:
    from playwright.sync_api import expect

    settings.SITE_URL = live_server.url
    customer.timezone = "Europe/Berlin"
    customer.save()
    base = live_server.url

    # Sign in.
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/accounts/login/?next=/")
    shot(page, "01-sign-in")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Contoso Analytics")).to_be_visible()
    expect(page.get_by_text("20.54.101.17")).to_be_visible()
    shot(page, "02-dashboard-empty")

    # The wizard: a peering, with the VNet's resource id pasted instead of its three parts.
    page.get_by_role("link", name="New request").first.click()
    expect(page.get_by_role("heading", name="New connectivity request")).to_be_visible()
    page.locator("#id_vnet_peering-tenant_id").fill("not-a-guid")
    page.get_by_label("VNet resource ID").click()  # leaving the field validates it inline
    expect(page.get_by_text("Tenant ID must be a GUID")).to_be_visible()
    page.locator("#id_vnet_peering-tenant_id").fill(CUSTOMER_TENANT_ID)
    page.get_by_label("VNet resource ID").fill(customer_vnet_id())
    expect(page.get_by_label("VNet name")).to_have_value(CUSTOMER_VNET_NAME)
    expect(page.get_by_text("Tenant ID must be a GUID")).to_be_hidden()
    shot(page, "03-wizard")
    page.get_by_role("button", name="Create request").click()

    # The grant page: the role JSON and the commands with this customer's ids.
    expect(page.get_by_role("heading", name="Grant the platform its role")).to_be_visible()
    expect(page.get_by_text(f"az login --tenant {CUSTOMER_TENANT_ID}", exact=True)).to_be_visible()
    expect(page.get_by_text(f"az account set --subscription {CUSTOMER_SUBSCRIPTION_ID}",
                            exact=True)).to_be_visible()
    req = ConnectivityRequest.objects.get()
    assert req.state == S.AWAITING_GRANT
    assert (req.subscription_id, req.resource_group, req.vnet_name) == (
        CUSTOMER_SUBSCRIPTION_ID, CUSTOMER_RESOURCE_GROUP, CUSTOMER_VNET_NAME)
    shot(page, "04-grant")

    # Verifying before granting says what is missing.
    page.get_by_role("button", name="Verify grant").click()
    expect(page.locator("[data-verify-result] .check").first).to_be_visible()
    expect(page.locator("[data-verify-result]")).to_contain_text("Platform holds the role on your VNet")
    expect(page.locator("[data-verify-result]")).to_contain_text("Some checks did not pass yet")
    shot(page, "05-verify-before-grant")

    expect(page.locator("[data-verify-result]")).to_contain_text(
        "Your organisation proved control of the VNet")

    # The customer runs the commands: the simulator's control API does what `az` would, with
    # the role JSON exactly as the page shows it and the proof of control the page shows.
    role = json.loads(page.locator("#role-json").inner_text())
    proof = page.locator("[data-proof]").inner_text()
    assert proof == req.proof
    expect(page.locator("ol.commands")).to_contain_text(f"--description 'Connectivity Portal "
                                                        f"proof of control: {proof}'")
    simulator_post(azure_stack, "grant", {
        "tenant_id": CUSTOMER_TENANT_ID, "subscription_id": CUSTOMER_SUBSCRIPTION_ID,
        "resource_group": CUSTOMER_RESOURCE_GROUP, "vnet_name": CUSTOMER_VNET_NAME,
        "app_id": settings.AZURE_CLIENT_ID, "role_definition": role, "proof": proof})
    page.get_by_role("button", name="Verify again").click()
    expect(page.locator("[data-verify-result]")).to_contain_text(
        "Every check passed. Your request is submitted for approval.")
    expect(page.locator("[data-verify-result] .check-fail")).to_have_count(0)
    shot(page, "06-verify-passed")
    page.get_by_role("link", name="Follow the request").click()
    expect(page.locator("[data-live-badge]")).to_have_text("Pending approval")
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads
    shot(page, "07-request-pending")

    # Staff approve; the real worker creates both peerings; the page follows by itself.
    req.refresh_from_db()
    services.request_approve(request=req, actor=approver)
    try:
        expect(page.locator("[data-live-badge]")).to_have_text("Active", timeout=LIVE)
    except AssertionError:
        raise AssertionError(f"not active in the page\n{stack_worker.log()}") from None
    reminder = page.locator("[data-revoke-reminder]")
    expect(reminder).to_be_visible()
    expect(reminder).to_contain_text("az role assignment delete")
    expect(reminder).to_contain_text(customer_vnet_id())
    # Loaded while pending, the reason follows the state without a reload.
    expect(page.locator("[data-revoke-reason-text]")).to_have_text(
        "The connection is in place and keeps working without the role you granted.")
    expect(page.locator("[data-live-resources]")).to_contain_text("virtualNetworkPeerings")
    expect(page.locator("[data-live-timeline]")).to_contain_text("Approved.")
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "08-request-active-reminder")

    # "Check again" while the role is still there, then after revoking it.
    page.get_by_role("button", name="I revoked it: check again").click()
    expect(page.locator("[data-check-revoke-result]")).to_contain_text("still holds the role")
    simulator_post(azure_stack, "revoke", {
        "tenant_id": CUSTOMER_TENANT_ID, "app_id": settings.AZURE_CLIENT_ID,
        "scope": customer_vnet_id()})
    page.get_by_role("button", name="I revoked it: check again").click()
    expect(page.locator("[data-live-badge]")).to_have_text("Completed", timeout=LIVE)
    expect(reminder).to_be_hidden()
    expect(page.locator("[data-revoked-note]")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True
    wait_for_state(req, S.COMPLETED, timeout=5)

    # A message to support, shown escaped and rendered.
    page.get_by_label("Message").fill("Thanks! **All good** <b>here</b>")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".comment-body strong")).to_have_text("All good")
    expect(page.locator(".comment-body")).to_contain_text("<b>here</b>")
    shot(page, "09-request-completed")

    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.locator("table.requests")).to_contain_text("Completed")
    shot(page, "10-dashboard")
    page.get_by_role("link", name=customer.email).click()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    shot(page, "11-profile")
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
