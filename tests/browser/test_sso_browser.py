"""Sign in with Microsoft in Chromium: the portal's button, the simulator's Entra ID sign-in
page over HTTPS, a pick of one of its demo identities, and the dashboard of the organisation
that owns the tenant. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectivity.models import Membership, Organization, User
from tests.conftest import CHROMIUM
from tests.sso import conftest as sso_fixtures
from tests.sso.conftest import Entra, confirm_tenant

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

entra = sso_fixtures.entra  # the simulator's Entra ID behind "Sign in with Microsoft"
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
def page(browser: Any) -> Iterator[Any]:
    # The simulator's certificate comes from its own CA, which this throwaway profile lacks.
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  ignore_https_errors=True)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    tab.problems = problems
    yield tab
    context.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_newcomer_signs_in_with_microsoft_and_lands_in_their_organisation(
        page: Any, live_server: Any, entra: Entra, organization: Organization,
        customer: User, transactional_db: None) -> None:
    from playwright.sync_api import expect

    confirm_tenant(organization)
    page.goto(f"{live_server.url}/accounts/login/")
    shot(page, "sso-01-sign-in")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    expect(page.get_by_role("heading", name="Pick an account")).to_be_visible()
    assert page.url.startswith(entra.stack.simulator.base_url)
    shot(page, "sso-02-simulator-sign-in-page")
    page.get_by_role("button", name="Ada Lovelace").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_text("Contoso Analytics").first).to_be_visible()
    shot(page, "sso-03-dashboard")
    ada = User.objects.get(email="ada@contoso.example")
    assert ada.membership.organization == organization
    assert ada.membership.role == Membership.Role.MEMBER
    assert not [p for p in page.problems if "status of 400" not in p], page.problems


def test_someone_from_an_unclaimed_tenant_sees_why_they_are_refused(
        page: Any, live_server: Any, entra: Entra, transactional_db: None) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_role("button", name="Mallory Fabrikam").click()
    expect(page.get_by_role("heading",
                            name="You cannot sign in with this Microsoft account")).to_be_visible()
    expect(page.get_by_text("is not linked to an organisation")).to_be_visible()
    shot(page, "sso-04-refused")


def test_an_owner_claims_a_tenant_and_requires_sso(page: Any, live_server: Any,
                                                   customer: User, transactional_db: None
                                                   ) -> None:
    from playwright.sync_api import expect

    from connectivity import demo
    from tests.factories import PASSWORD

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/profile/")
    page.get_by_role("link", name="Single sign-on").click()
    page.get_by_label("Tenant ID").fill("not a tenant")
    page.get_by_role("button", name="Claim tenant").click()
    expect(page.get_by_text("Tenant ID must be a GUID")).to_be_visible()
    page.get_by_label("Tenant ID").fill(demo.CUSTOMER_TENANT_ID)
    page.get_by_role("button", name="Claim tenant").click()
    expect(page.get_by_text("Waiting for staff")).to_be_visible()
    page.get_by_role("button", name="Require SSO").click()
    expect(page.get_by_text("needs a confirmed tenant first")).to_be_visible()
    from django.utils import timezone

    from connectivity.models import TenantClaim

    TenantClaim.objects.update(confirmed_at=timezone.now())  # as an approver would, in the console
    page.get_by_role("button", name="Require SSO").click()
    expect(page.get_by_text("Members must now sign in with Microsoft.")).to_be_visible()
    shot(page, "sso-05-owner-page")
    problems = [p for p in page.problems if "status of 400" not in p]
    assert not problems, problems
