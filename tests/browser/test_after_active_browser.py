"""After active, in Chromium: the connections view, removing a peering with dependents, and
correcting a request in place. The simulator runs in-process with the real azure-mgmt
clients; the engine is driven step by step as a worker would (no broker)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectivity import provisioning
from connectivity.models import ConnectivityRequest, RequestState, User
from tests.conftest import CHROMIUM
from tests.factories import PASSWORD, DnsForwardingRequestFactory, PeeringRequestFactory
from tests.provisioning_helpers import drive
from tests.stack import CUSTOMER_VNET_NAME

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
S = RequestState

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:No directory at")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Any, live_server: Any, customer: User) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.goto(f"{live_server.url}/accounts/login/")
    tab.get_by_label("Email").fill(customer.email)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.keyboard.press("Enter")
    tab.wait_for_url(f"{live_server.url}/")
    tab.base = live_server.url
    yield tab
    context.close()
    problems = [p for p in problems if "status of 400" not in p]
    assert not problems, problems


@pytest.fixture
def live_pair(sim_cluster, azure_stack, scheduler, customer, transactional_db,
              django_capture_on_commit_callbacks) -> tuple[ConnectivityRequest, ConnectivityRequest]:
    """An active peering and a forwarding rule whose DNS servers sit in the peered VNet, with
    the health check run once."""
    peering = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.APPROVED, created_by=customer)
    azure_stack.grant(peering)
    peering = drive(peering, scheduler, django_capture_on_commit_callbacks)
    rule = DnsForwardingRequestFactory(cluster=sim_cluster, state=S.APPROVED,
                                       domain_name="corp.contoso.com",
                                       dns_servers=["10.20.0.4"], created_by=customer)
    rule = drive(rule, scheduler, django_capture_on_commit_callbacks)
    assert peering.state == S.ACTIVE and rule.state == S.ACTIVE
    provisioning.drift_check()
    return peering, rule


def test_the_dashboard_shows_connections_with_azures_status(page, live_pair) -> None:
    peering, rule = live_pair
    page.goto(f"{page.base}/")
    section = page.locator("[data-connections]")
    row = section.locator(f"[data-connection-row='{peering.short_id}']")
    assert row.locator("[data-health]").inner_text() == "Working"
    assert "Connected, FullyInSync" in row.locator("[data-azure-status]").inner_text()
    rule_row = section.locator(f"[data-connection-row='{rule.short_id}']")
    assert "Enabled" in rule_row.inner_text()
    # The request history stays below the connections.
    assert section.bounding_box()["y"] < page.locator("#requests-heading").bounding_box()["y"]
    shot(page, "connections-dashboard")
    row.get_by_role("link", name="Open the request").click()
    page.wait_for_url(f"**/requests/{peering.pk}/")
    assert page.locator("[data-connection-health]").inner_text() == "Working"
    shot(page, "connections-request")


def test_removing_a_peering_asks_to_remove_its_dependents(page, live_pair, no_enqueue) -> None:
    peering, rule = live_pair
    page.goto(f"{page.base}/requests/{peering.pk}/")
    panel = page.locator("[data-dependents]")
    assert "corp.contoso.com" in panel.inner_text()
    shot(page, "removal-with-dependents")
    panel.get_by_role("button", name="Remove the peering and its dependents").click()
    # The box must be ticked: the browser refuses to submit without it.
    assert page.url.endswith(f"/requests/{peering.pk}/")
    peering.refresh_from_db()
    assert peering.state == S.ACTIVE
    panel.get_by_label("Remove it too").check()
    panel.get_by_role("button", name="Remove the peering and its dependents").click()
    page.get_by_text("and what depended on it").wait_for()
    assert "Removing" in page.locator("[data-live-badge]").inner_text()
    rule.refresh_from_db()
    assert rule.state == S.REMOVING
    shot(page, "removal-with-dependents-done")


def test_a_request_is_corrected_in_place(page, sim_cluster, azure_stack, customer,
                                         no_enqueue) -> None:
    azure_stack.create_customer_vnet("vnet-contoso-spoke", ["10.40.0.0/16"])
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name="vnet-typo",
                                    state=S.AWAITING_GRANT, created_by=customer)
    page.goto(f"{page.base}/requests/{request.pk}/")
    page.get_by_role("link", name="Correct the details").click()
    page.wait_for_url(f"**/requests/{request.pk}/edit/")
    field = page.get_by_label("VNet name")
    assert field.input_value() == "vnet-typo"
    field.fill("vnet-contoso-spoke")
    shot(page, "edit-in-place")
    page.get_by_role("button", name="Save and check again").click()
    page.wait_for_url(f"**/requests/{request.pk}/grant/")
    page.goto(f"{page.base}/requests/{request.pk}/")
    timeline = page.locator("[data-live-timeline]").inner_text()
    assert "vnet-typo → vnet-contoso-spoke" in timeline
    request.refresh_from_db()
    assert request.vnet_name == "vnet-contoso-spoke"
    shot(page, "edit-in-place-done")


def test_the_wizard_shows_only_the_steps_a_kind_has(page, sim_cluster) -> None:
    page.goto(f"{page.base}/requests/new/")
    grant_step = page.locator("[data-step-grant]")
    page.get_by_label("VNet peering").check()
    assert grant_step.is_visible()
    page.get_by_label("Private DNS zone").check()
    assert not grant_step.is_visible()
    assert page.locator("[data-step-num-verify]").inner_text() == "2"
    shot(page, "wizard-private-dns-steps")
