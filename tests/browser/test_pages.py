"""Every customer page in Chromium without the worker: they load under the CSP with no errors,
work from the keyboard, validate inline, and look finished (screenshots to look at)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectivity.models import User
from tests.conftest import CHROMIUM
from tests.factories import PASSWORD, PeeringRequestFactory

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:No directory at")]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see test_portal_flow.py
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def signed_in(browser: Any, live_server: Any, customer: User) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    page.problems = problems
    yield page
    context.close()
    # No CSP violation, no script error, no missing file; a form re-shown with its errors is a
    # 400 on purpose, which Chromium logs too.
    problems = [p for p in problems if "status of 400" not in p]
    assert not problems, problems


def test_wizard_shows_the_chosen_kind_and_server_errors(signed_in: Any, live_server: Any,
                                                       dedicated_cluster: Any) -> None:
    from playwright.sync_api import expect

    page = signed_in
    page.goto(f"{live_server.url}/requests/new/")
    expect(page.locator("#id_vnet_peering-tenant_id")).to_be_visible()
    expect(page.get_by_label("Zone name")).to_be_hidden()
    page.get_by_role("radio", name="Private DNS zone").check()
    expect(page.get_by_label("Zone name")).to_be_visible()
    expect(page.locator("#id_vnet_peering-tenant_id")).to_be_hidden()
    page.get_by_label("Zone name").fill("nodots")
    page.get_by_role("textbox", name="A records").fill("db 8.8.8.8")
    page.get_by_label("Zone name").focus()
    expect(page.get_by_text("A records: Record 1's IP must be a private address")).to_be_visible()
    page.get_by_role("button", name="Create request").click()
    expect(page.locator("#form-errors")).to_be_focused()
    expect(page.get_by_text("Zone name must be a DNS name like corp.example.com")).to_be_visible()
    expect(page.get_by_label("Zone name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Zone name")).to_be_visible()  # the chosen kind stays shown
    shot(page, "20-wizard-errors")


def test_keyboard_users_can_skip_to_content_and_copy(signed_in: Any, live_server: Any,
                                                     dedicated_cluster: Any) -> None:
    from playwright.sync_api import expect

    page = signed_in
    page.goto(f"{live_server.url}/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    copy = page.get_by_role("button", name="Copy 20.54.101.17")
    copy.focus()
    page.keyboard.press("Enter")
    expect(copy).to_have_text("Copied")


def test_secondary_pages_look_finished(signed_in: Any, live_server: Any, customer: User,
                                       dedicated_cluster: Any) -> None:
    from playwright.sync_api import expect

    page = signed_in
    PeeringRequestFactory(cluster=dedicated_cluster, state="active", created_by=customer)
    pages = {
        "21-mfa": "/accounts/2fa/",
        "22-mfa-activate": "/accounts/2fa/totp/activate/",
        "23-password": "/accounts/password/change/",
        "24-api-tokens": "/api/tokens/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        if page.get_by_role("heading", name="Confirm Access").is_visible():
            page.get_by_label("Password").fill(PASSWORD)  # allauth asks again before MFA changes
            page.get_by_role("button", name="Confirm").click()
            page.wait_for_load_state()
        expect(page.locator("link[rel=stylesheet]").first).to_have_attribute(
            "href", "/static/css/portal.css")
        expect(page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Dashboard")).to_be_visible()
        shot(page, name)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/")
    shot(page, "25-dashboard-phone")
    page.get_by_role("link", name=page.locator("table.requests a").first.inner_text()).click()
    expect(page.locator("[data-revoke-reminder]")).to_be_visible()
    shot(page, "26-request-phone")
