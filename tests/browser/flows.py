"""Steps the end-to-end browser flows share: signing in, a staff member approving in the console
after their authenticator code, the simulator's control API as the README's curl lines call it,
and the periodic health check sent to the real worker as beat sends it."""

from __future__ import annotations

import json
import ssl
import time
import urllib.parse
import urllib.request
from typing import Any

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

from connectivity.models import ConnectivityRequest, User
from tests.console.conftest import give_totp
from tests.factories import PASSWORD
from tests.stack import Stack, wait_for_state

LIVE = 60_000  # ms: how long a page may take to show a state the worker reaches


def control(stack: Stack, path: str, body: dict[str, Any] | None = None,
            **query: str) -> Any:
    """``/_simulator/<path>`` over HTTPS, as the README's curl lines call it: a POST with
    ``body``, else a GET with ``query``."""
    context = ssl.create_default_context(cafile=stack.simulator.ca_path)
    url = f"{stack.simulator.base_url}/_simulator/{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    request = urllib.request.Request(
        url, data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"}, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.loads(response.read())


def sign_in(page: Any, base: str, user: User) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def staff_approves(browser: Any, base: str, approver: User, request: ConnectivityRequest,
                   plan: list[str]) -> None:
    """The approver, in a browser of their own: password, then the authenticator code the
    console requires; the review shows what approval creates (``plan``); Approve."""
    from playwright.sync_api import expect

    secret = give_totp(approver)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        staff = context.new_page()
        staff.goto(f"{base}/console/requests/{request.pk}/")
        staff.fill("input[name=login]", approver.email)
        staff.fill("input[name=password]", PASSWORD)
        staff.press("input[name=password]", "Enter")
        staff.fill("input[name=code]", totp_code(secret))
        staff.press("input[name=code]", "Enter")
        expect(staff.locator("h1")).to_contain_text(request.short_id)
        section = staff.locator("section[aria-labelledby=plan-h]")
        expect(section.get_by_role("heading")).to_have_text("Approval will create")
        for line in plan:
            expect(section).to_contain_text(line)
        staff.get_by_role("button", name="Approve").click()
        expect(staff.locator(".msg-success")).to_contain_text("Approved. Provisioning starts now")
    finally:
        context.close()


def health_check_now() -> None:
    """What beat sends every DRIFT_CHECK_EVERY: the health check, to the real worker."""
    from connectivity import dispatch

    dispatch.send_now("connectivity.tasks.drift_check")


def health_check_until(request: ConnectivityRequest, state: str, *, timeout: float = 30) -> None:
    """Send the health check, as beat does, until ``request`` is in ``state``. A check skips a
    request another task holds at that moment (the revoke check sent at activation, say), and
    the next one reads it: beat's next run, here a second later."""
    deadline = time.monotonic() + timeout
    while True:
        health_check_now()
        try:
            wait_for_state(request, state, timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            return
        except AssertionError:
            if time.monotonic() >= deadline:
                raise


def saw_state(request: ConnectivityRequest, state: str) -> bool:
    """The request passed through ``state`` (its timeline says so), even if it moved on."""
    return request.events.filter(to_state=state).exists()
