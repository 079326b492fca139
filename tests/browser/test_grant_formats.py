"""The grant page's format switch in Chromium, under the strict CSP: each tool's files shown,
copied to the clipboard and downloaded exactly; the switch works in place and by link."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectivity.models import ConnectivityRequest, User
from connectivity.views import grant_formats_of
from tests.conftest import CHROMIUM
from tests.factories import PASSWORD, PeeringRequestFactory

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
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


@pytest.fixture
def page(browser: Any, live_server: Any, customer: User) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    yield page
    context.close()
    assert not problems, problems  # no CSP violation, no script error


@pytest.fixture
def peering(dedicated_cluster: Any, customer: User) -> ConnectivityRequest:
    return PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer,  # type: ignore[return-value]
                                 state="awaiting_grant", resource_group="rg-contoso-network",
                                 vnet_name="vnet-contoso-hub")


def test_each_format_is_shown_copied_and_downloaded(page: Any, live_server: Any,
                                                    peering: ConnectivityRequest) -> None:
    from playwright.sync_api import expect

    formats = grant_formats_of(peering)
    page.goto(f"{live_server.url}/requests/{peering.pk}/grant/")
    switch = page.get_by_role("navigation", name="Grant format")
    expect(page.locator("#role-json")).to_be_visible()  # the Azure CLI first, as before
    expect(page.get_by_role("heading", name="1. Grant with Terraform")).to_be_hidden()

    for key, label in (("powershell", "Azure PowerShell"), ("terraform", "Terraform"),
                       ("bicep", "Bicep")):
        switch.get_by_role("link", name=label).click()
        expect(page.get_by_role("heading", name=f"1. Grant with {label}")).to_be_visible()
        expect(page.locator("#role-json")).to_be_hidden()
        expect(switch.get_by_role("link", name=label)).to_have_attribute("aria-current", "true")
        assert page.url.endswith(f"?format={key}#formats")
        for direction, files in (("grant", formats[key].grant), ("revoke", formats[key].revoke)):
            for number, file in enumerate(files, start=1):
                shown = page.locator(f"#{direction}-{key}-{number}")
                expect(shown).to_be_visible()
                assert shown.text_content() == file.content
                button = page.locator(f"button[data-copy-from='#{direction}-{key}-{number}']")
                button.click()
                expect(button).to_have_text("Copied")
                copied = page.evaluate("navigator.clipboard.readText()")
                assert copied == file.content.rstrip() + "\n"
                with page.expect_download() as download_info:
                    page.locator(f"[data-format-panel={key}]").get_by_role(
                        "link", name=f"Download {file.filename}").click()
                download = download_info.value
                assert download.suggested_filename == file.filename
                assert Path(download.path()).read_text() == file.content
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"grant-format-{key}.png"), full_page=True)

    # The chosen format survives a reload: the link itself carries it, no script needed.
    page.reload()
    expect(page.get_by_role("heading", name="1. Grant with Bicep")).to_be_visible()
    expect(page.locator("#role-json")).to_be_hidden()
    switch.get_by_role("link", name="Azure CLI").click()
    expect(page.locator("#role-json")).to_be_visible()
    expect(page.get_by_role("button", name="Copy the revoke command")).to_be_visible()
