"""A staff member's first sign-in in a real browser: password once, the enrolment page says why it
is shown, the authenticator app and recovery codes pages sit in the portal's layout, and the
console opens. Later sign-ins ask for a code. Screenshots go to tests/browser/screenshots/."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.urls import reverse

from tests.conftest import CHROMIUM, staff_group
from tests.factories import PASSWORD, UserFactory

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WIDTHS = (1280, 390)


def code_at(secret: str, offset_periods: int = 0) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset_periods))


def fresh_code(secret: str, used: str) -> str:
    """A code other than ``used``: a code is accepted once (allauth refuses it replayed), so
    a sign-in within the same 30-second step as the last one waits for the next step."""
    code = code_at(secret)
    if code == used:
        time.sleep(30 - time.time() % 30 + 0.2)
        code = code_at(secret)
    return code


def fits(page: Any) -> None:
    """Nothing runs off the right edge: the page is no wider than its viewport."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{page.url} is {width}px wide at {viewport}px"


def shoot(page: Any, name: str) -> None:
    """One screenshot per width, each checked for overflow; back to the first width after."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        fits(page)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_first_sign_in_enrols_once_in_the_portal_layout(live_server, monkeypatch) -> None:
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    approver = UserFactory(email="approver@platform.example", is_staff=True)
    approver.groups.add(staff_group("approver"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
        page.set_default_timeout(15_000)

        page.goto(live_server.url + reverse("console:queue"))
        page.fill("input[name=login]", approver.email)
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")

        # Straight to enrolment: no "Confirm access" asking for the password again, and the
        # page says why it is shown.
        expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("Confirm access")
        expect(page.locator(".messages")).to_contain_text("requires two-factor authentication")
        expect(page.locator(".notice")).to_contain_text("a password alone is not enough")
        expect(page.locator("img.totp-qr")).to_be_visible()
        shoot(page, "staff-totp-activate")
        secret = page.locator("#authenticator_secret").input_value()
        activation_code = code_at(secret)
        page.fill("input[name=code]", activation_code)
        page.get_by_role("button", name="Activate").click()

        # Recovery codes: the codes in a block, the two actions as separate buttons.
        expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
        actions = page.locator(".mfa-actions a")
        expect(actions).to_have_count(3)
        expect(page.get_by_role("link", name="Download codes")).to_be_visible()
        expect(page.get_by_role("link", name="Generate new codes")).to_be_visible()
        boxes = [actions.nth(i).bounding_box() for i in range(2)]
        assert boxes[0]["x"] + boxes[0]["width"] < boxes[1]["x"], "buttons run together"
        shoot(page, "staff-recovery-codes")
        page.get_by_role("link", name="Continue to the console").click()
        expect(page.get_by_role("heading", name="Queue")).to_be_visible()
        page.goto(live_server.url + reverse("mfa_index"))
        shoot(page, "staff-mfa-index")

        # The next sign-in asks for a code, on a page of the portal's layout.
        page.goto(live_server.url + "/accounts/logout/")
        page.get_by_role("button", name="Sign out", exact=True).click()
        page.goto(live_server.url + reverse("console:queue"))
        page.fill("input[name=login]", approver.email)
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
        cancel = page.get_by_role("link", name="Cancel").or_(page.get_by_role("button",
                                                                             name="Cancel"))
        expect(cancel).to_have_class(re.compile(r"\bbtn-secondary\b"))  # not a blue button
        shoot(page, "staff-mfa-authenticate")
        page.fill("input[name=code]", fresh_code(secret, activation_code))
        page.press("input[name=code]", "Enter")
        expect(page.get_by_role("heading", name="Queue")).to_be_visible()
        browser.close()
