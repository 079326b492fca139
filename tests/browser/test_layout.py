"""The pages a newcomer walks through, at a laptop's 1,280 px and a phone's 390 px: each is
screenshotted under tests/browser/screenshots/ and none is wider than its viewport.

Chromium is Debian's (/usr/bin/chromium); Playwright never downloads a browser. The data is
shaped like the demo's, with the long ids, commands, failed checks and comments that made the
pages overflow before.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

from connectivity import services, views
from connectivity.kinds import vnet_peering
from connectivity.lifecycle import record_event
from connectivity.models import AuditEntry, ConnectivityRequest, RequestState, User
from tests.conftest import CHROMIUM, staff_group
from tests.console.conftest import give_totp
from tests.factories import PASSWORD, PeeringRequestFactory, UserFactory

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WIDTHS = {"laptop": 1280, "phone": 390}
WIDER_THAN_VIEWPORT = """() => { const w = document.documentElement.clientWidth; const out = [];
  for (const e of document.querySelectorAll('body *')) { const r = e.getBoundingClientRect();
    if (r.right > w + 0.5) out.push(`${e.tagName}.${e.className} ${Math.round(r.right)}`); }
  return out.slice(0, 6); }"""
S = RequestState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.filterwarnings("ignore:No directory at")]

FAILING = [
    {"key": "role_granted", "label": "Platform holds the role on your VNet", "status": "pass",
     "message": "The platform holds every action of the custom role on vnet-contoso-hub."},
    {"key": "vnet_readable", "label": "Your VNet exists and is readable", "status": "pass",
     "message": "vnet-contoso-hub, address space 10.20.0.0/16."},
    {"key": "address_space", "label": "Address spaces do not overlap", "status": "fail",
     "message": "10.100.0.0/16 of vnet-contoso-hub overlaps contoso-prod's VNet "
                "(10.100.0.0/16). Azure cannot peer overlapping networks."},
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # ORM calls between steps
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def check_fits(page: Any, name: str, width: int) -> None:
    """Screenshot the page and assert it is no wider than the viewport."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    if os.environ.get("SCREENSHOT_PARTS"):  # tall phone pages in readable slices
        height = page.evaluate("document.documentElement.scrollHeight")
        for part, top in enumerate(range(0, height, 1000)):
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-part{part}.png"),
                            full_page=True, clip={"x": 0, "y": top, "width": width,
                                                  "height": min(1000, height - top)})
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    wider = page.evaluate(WIDER_THAN_VIEWPORT) if scroll_width > width else []
    assert scroll_width <= width, f"{name} is {scroll_width} px wide at a {width} px viewport: {wider}"


def sign_in(browser: Any, live_server: Any, user: User, width: int,
            secret: str | None = None) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    if secret:
        import time

        page.fill("input[name=code]", format_hotp_value(hotp_value(secret, int(time.time()) // 30)))
        page.press("input[name=code]", "Enter")
    page.wait_for_load_state()
    return page


@pytest.fixture
def world(customer: User, dedicated_cluster: Any, standard_cluster: Any) -> dict[str, Any]:
    """Requests as a newcomer's demo has them: one whose checks fail, one removed with the
    customer's side left, and a thread with Markdown."""
    waiting = PeeringRequestFactory(
        cluster=dedicated_cluster, created_by=customer, state=S.AWAITING_GRANT,
        vnet_name="vnet-contoso-hub", preflight=FAILING)
    record_event(request=waiting, actor=customer, action="created", to_state=S.DRAFT,
                 message=f"VNet peering request created for {dedicated_cluster.name}.")
    record_event(request=waiting, actor=customer, action="preflight",
                 message=services.preflight_summary(
                     [c for c in FAILING if c["status"] == "fail"], "Pre-flight"))
    services.comment_create(request=waiting, actor=customer,
                            body="We **cannot** renumber `vnet-contoso-hub` before Monday; "
                                 "can you peer with a narrower prefix?")
    removed = PeeringRequestFactory(
        cluster=dedicated_cluster, created_by=customer, state=S.REMOVED,
        vnet_name="vnet-contoso-analytics-long-name-01",
        azure_resources={
            "cluster_peering_id": dedicated_cluster.vnet_id + "/virtualNetworkPeerings/"
                                  "cp-0123abcd-to-vnet-contoso-analytics-long-name-01",
            "customer_peering_left": True})
    ConnectivityRequest.objects.filter(pk=removed.pk).update(
        status_message="Deleted the platform's side. The peering on your side is now "
                       "Disconnected and does nothing; delete it with: "
                       + vnet_peering.customer_peering_delete_command(removed))
    for n in range(3):
        AuditEntry.objects.create(
            actor=customer, actor_label=customer.email, organization=customer.organization,
            action="api_token.created", target=f"token cp_{n}abcdefgh",
            data={"name": "terraform-pipeline-production-westeurope-" * 3,
                  "scope": "read-write", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) "
                  "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"})
    return {"waiting": waiting, "removed": removed}


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_customer_pages_fit_and_say_what_matters(browser: Any, live_server: Any, customer: User,
                                                 world: dict[str, Any], width: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from playwright.sync_api import expect

    page = sign_in(browser, live_server, customer, width)
    waiting, removed = world["waiting"], world["removed"]

    page.goto(f"{live_server.url}/")
    row = page.locator("table.requests tbody tr", has_text=waiting.short_id)
    expect(row).to_contain_text("Failing: Address spaces do not overlap")
    expect(page.locator(".cluster", has_text="contoso-prod")).to_contain_text(
        "Address space 10.100.0.0/16")
    for label in ("State", "Created"):  # on a phone too: not cut off at the right edge
        cell = row.locator(f"td[data-label={label}]")
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box and box["x"] + box["width"] <= width + 0.5, label
    check_fits(page, "dashboard", width)

    page.goto(f"{live_server.url}/requests/new/")
    expect(page.locator(".choice", has_text="contoso-prod")).to_contain_text(
        "Address space 10.100.0.0/16: your VNet must not overlap it.")

    page.goto(f"{live_server.url}/requests/{waiting.pk}/grant/")
    expect(page.get_by_role("button", name="Copy the revoke command")).to_be_visible()
    guid = page.locator(".facts dd", has_text=waiting.subscription_id)
    assert guid.evaluate("e => e.getClientRects().length") == 1 or width < 400
    lines = guid.evaluate("e => Math.round(e.getBoundingClientRect().height / "
                          "parseFloat(getComputedStyle(e).lineHeight))")
    assert lines == 1, "a GUID breaks mid-string"
    check_fits(page, "grant", width)

    # Verify while rate-limited: the wait message appears above the last checklist, which stays.
    monkeypatch.setattr(views, "_limited", lambda request, name, limit: 42)
    page.get_by_role("button", name="Verify grant").click()
    result = page.locator("[data-verify-result]")
    expect(result).to_contain_text("try again in 42 s")
    expect(result.locator(".checklist")).to_contain_text("Address spaces do not overlap")
    monkeypatch.undo()

    page.goto(f"{live_server.url}/requests/{waiting.pk}/")
    timeline = page.locator("[data-live-timeline]")
    expect(timeline.locator(".event-lines li")).to_contain_text("Address spaces do not overlap")
    expect(timeline).not_to_contain_text(".;")
    expect(timeline).not_to_contain_text("renumber")  # the comment lives in the thread
    expect(timeline.get_by_role("link", name="Message in the conversation")).to_be_visible()
    expect(page.locator("[data-live-comments] strong", has_text="cannot")).to_be_visible()
    check_fits(page, "request", width)

    page.goto(f"{live_server.url}/requests/{removed.pk}/")
    leftover = page.locator("[data-leftover]")
    expect(leftover.locator("pre.code")).to_contain_text("az network vnet peering delete")
    expect(leftover.get_by_role("button", name="Copy the delete command")).to_be_visible()
    expect(page.locator("[data-status-message]")).not_to_contain_text("az network")
    check_fits(page, "request-removed", width)
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_console_review_and_audit_fit(browser: Any, live_server: Any, world: dict[str, Any],
                                      width: int) -> None:
    from playwright.sync_api import expect

    approver = UserFactory(email="approver@platform.example", is_staff=True)
    approver.groups.add(staff_group("approver"))
    secret = give_totp(approver)
    waiting = world["waiting"]
    ConnectivityRequest.objects.filter(pk=waiting.pk).update(state=S.PENDING_APPROVAL)
    page = sign_in(browser, live_server, approver, width, secret)

    page.goto(f"{live_server.url}/console/")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    table = page.locator("table.queue").bounding_box()
    filters = page.locator("form.filters").bounding_box()
    assert table and filters and table["width"] <= filters["width"] + 1, "queue wider than filters"
    check_fits(page, "console-queue", width)

    page.goto(f"{live_server.url}/console/requests/{waiting.pk}/")
    approve = page.locator("form.approve")
    reject = page.locator("form.reject")
    expect(approve.get_by_role("heading", name="Approve")).to_be_visible()
    expect(approve.get_by_label("Override reason, for approving")).to_be_visible()
    expect(reject.get_by_role("heading", name="Reject")).to_be_visible()
    expect(reject.get_by_label("Reason for rejecting")).to_be_visible()
    colours = [b.evaluate("e => getComputedStyle(e).backgroundColor") for b in (
        approve.get_by_role("button", name="Approve"), reject.get_by_role("button", name="Reject"))]
    assert colours[0] != colours[1] and colours[1] == "rgb(179, 38, 30)", colours  # --bad
    checks = page.locator("table.checks")
    expect(checks).to_contain_text("The customer's VNet exists and is readable")
    expect(checks).not_to_contain_text("Your VNet")
    expect(page.locator("ol.timeline")).not_to_contain_text("renumber")
    check_fits(page, "console-review", width)

    page.goto(f"{live_server.url}/console/audit/")
    expect(page.locator("table.audit")).to_contain_text("api_token.created")
    detail = page.locator("table.audit td.detail").first
    box = detail.bounding_box()
    assert box and box["x"] + box["width"] <= width + 0.5, "the Detail column is cut off"
    check_fits(page, "console-audit", width)
    page.context.close()
