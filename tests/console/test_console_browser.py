"""The approver's path in a real browser: sign in with an authenticator code, queue → review →
approve, and the customer's request is approved with the approver recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.urls import reverse

from connectivity import services
from connectivity.models import RequestEvent, RequestState
from tests.conftest import CHROMIUM, staff_group
from tests.console.conftest import FAILING, PASSING, give_totp
from tests.factories import PASSWORD, PeeringRequestFactory, UserFactory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def current_code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_approver_signs_in_reviews_and_approves(live_server, dedicated_cluster, customer,
                                                monkeypatch) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls below are ordinary
    # blocking calls made between browser steps, which is what this flag allows.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    enqueued: list[str] = []
    monkeypatch.setattr(services, "enqueue_advance",
                        lambda request, countdown=0: enqueued.append(str(request.pk)))
    approver = UserFactory(email="approver@platform.example", is_staff=True)
    approver.groups.add(staff_group("approver"))
    secret = give_totp(approver)
    ready = PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer,
                                  state=RequestState.PENDING_APPROVAL, preflight=PASSING,
                                  vnet_name="vnet-contoso-data")
    blocked = PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer,
                                    state=RequestState.PENDING_APPROVAL, preflight=FAILING,
                                    vnet_name="vnet-contoso-legacy")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)

        # Signing in: password, then the authenticator code the console requires.
        page.goto(live_server.url + reverse("console:queue"))
        page.fill("input[name=login]", approver.email)
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.fill("input[name=code]", current_code(secret))
        page.press("input[name=code]", "Enter")

        # The queue: both requests wait for approval, with their pre-flight at a glance.
        expect(page.get_by_role("heading", name="Queue")).to_be_visible()
        queue = page.locator("table.queue")
        expect(queue.get_by_role("row", name=ready.short_id)).to_contain_text("2/2 passed")
        expect(queue.get_by_role("row", name=blocked.short_id)).to_contain_text(
            "1 failing: Role granted")
        page.screenshot(path=str(SCREENSHOTS / "console-queue.png"), full_page=True)

        # Searching by VNet name narrows the queue to the one request.
        page.fill("input[name=q]", "contoso-data")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("table.queue tbody tr")).to_have_count(1)

        # The review: details, checks, the exact resources, then Approve.
        page.get_by_role("link", name=ready.short_id).click()
        expect(page.get_by_role("heading", name="Pre-flight")).to_contain_text("2/2 passed")
        expect(page.locator("table.plan")).to_contain_text(
            f"virtualNetworkPeerings/cp-{ready.short_id}-to-vnet-contoso-data")
        page.screenshot(path=str(SCREENSHOTS / "console-review.png"), full_page=True)
        page.get_by_role("button", name="Approve").click()
        expect(page.locator(".msg-success")).to_contain_text("Approved. Provisioning starts now")
        expect(page.locator("h1 .badge")).to_have_text("Approved")
        page.screenshot(path=str(SCREENSHOTS / "console-approved.png"), full_page=True)

        # The request whose checks fail cannot be approved without a reason.
        page.goto(live_server.url + reverse("console:review", kwargs={"request_id": blocked.pk}))
        page.get_by_role("button", name="Approve").click()
        expect(page.locator(".field-error")).to_contain_text("Pre-flight has not passed")
        page.screenshot(path=str(SCREENSHOTS / "console-override-needed.png"), full_page=True)
        browser.close()

    ready.refresh_from_db()
    blocked.refresh_from_db()
    assert ready.state == RequestState.APPROVED and ready.approved_by == approver
    assert RequestEvent.objects.filter(request=ready, action="approved", actor=approver).count() == 1
    assert enqueued == [str(ready.pk)]
    assert blocked.state == RequestState.PENDING_APPROVAL
