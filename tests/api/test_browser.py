"""The API docs page and the tokens page in Chromium, under the real CSP: no violation, no error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from connectivity.models import ApiToken, User
from tests.conftest import CHROMIUM
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:No directory at")]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the live server's ORM calls
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    yield tab
    context.close()
    assert not problems, problems  # a CSP violation is logged as a console error


def test_docs_page_renders_every_operation_offline_under_the_csp(page: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Connectivity Portal API")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/requests/{request_id}/verify-grant/")
           ).to_be_visible()


def test_owner_creates_copies_and_revokes_a_token(page: Any, live_server: Any, customer: User) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("terraform")
    page.get_by_role("radio", name="Read and write").check()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("it is shown only once")).to_be_visible()
    expect(page.locator("#new-token")).to_contain_text(ApiToken.objects.get().prefix)

    page.get_by_role("link", name="Back to API tokens").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke terraform").click()
    expect(page.get_by_text("Revoked “terraform”")).to_be_visible()
    assert ApiToken.objects.get().revoked_at is not None
