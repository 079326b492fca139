"""The webhooks pages in Chromium: an owner adds an endpoint, copies the secret, reads the
delivery log and redelivers, all under the CSP and in the portal's layout (screenshots)."""

from __future__ import annotations

from typing import Any

import pytest

from connectivity.models import Cluster, WebhookDelivery
from tests.browser.test_pages import browser, shot, signed_in  # noqa: F401 - fixtures
from tests.webhooks.conftest import Receiver, run_due

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:No directory at")]


def test_an_owner_adds_an_endpoint_and_redelivers_from_the_log(
    signed_in: Any, live_server: Any, receiver: Receiver,  # noqa: F811
    dedicated_cluster: Cluster, customer: Any,
) -> None:
    from playwright.sync_api import expect

    page = signed_in
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("deploy pipeline")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_text("it is shown only once")).to_be_visible()
    secret = page.locator("#webhook-secret").inner_text()
    assert secret.startswith("whsec_")
    receiver.secrets.append(secret)
    shot(page, "webhooks-secret")

    from tests.webhooks.test_delivery import _one_event

    _one_event(customer, dedicated_cluster)
    receiver.statuses = [500]
    run_due()
    page.get_by_role("link", name="Back to the endpoint").click()
    expect(page.get_by_text("HTTP 500")).to_be_visible()
    page.get_by_role("button", name="Redeliver request.created").click()
    expect(page.get_by_text("Sending request.created")).to_be_visible()
    run_due()
    page.reload()
    expect(page.get_by_text("Succeeded")).to_be_visible()
    shot(page, "webhooks-endpoint")
    assert [p["type"] for p in receiver.verified] == ["request.created", "request.created"]
    assert WebhookDelivery.objects.count() == 2
