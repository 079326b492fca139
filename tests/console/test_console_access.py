"""Who reaches the console: staff with a role and an authenticator; everyone else is refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from connectivity.models import RequestState
from tests.console.conftest import mfa_signed_in, signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def console_urls(request_pk) -> list[tuple[str, str]]:
    """Every console URL, with the method a user would use on it."""
    return [
        ("get", reverse("console:queue")),
        ("get", reverse("console:review", kwargs={"request_id": request_pk})),
        ("get", reverse("console:organizations")),
        ("get", reverse("console:audit")),
        ("get", reverse("console:audit_csv")),
        *[("post", reverse("console:action", kwargs={"request_id": request_pk, "action": a}))
          for a in ("approve", "reject", "retry", "cancel", "teardown", "verify", "comment")],
    ]


def test_customer_gets_404_for_every_console_url(customer_client, pending) -> None:
    for method, url in console_urls(pending.pk):
        response = getattr(customer_client, method)(url, {"reason": "x", "body": "x"})
        assert response.status_code == 404, url
    pending.refresh_from_db()
    assert pending.state == RequestState.PENDING_APPROVAL
    assert not pending.events.exists()


def test_outsider_gets_404_for_every_console_url(outsider_client, pending) -> None:
    for method, url in console_urls(pending.pk):
        assert getattr(outsider_client, method)(url).status_code == 404, url


def test_anonymous_is_sent_to_sign_in(client, pending) -> None:
    for method, url in console_urls(pending.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login"))


def test_staff_without_authenticator_is_sent_to_set_one_up(approver, pending) -> None:
    client = signed_in(approver)
    response = client.get(reverse("console:queue"), follow=False)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp") + "?next=%2Fconsole%2F"
    page = client.get(reverse("console:review", kwargs={"request_id": pending.pk}), follow=True)
    assert "requires two-factor authentication" in page.content.decode()


def test_mfa_requirement_can_be_switched_off(approver, settings) -> None:
    settings.CONSOLE_REQUIRE_MFA = False
    assert signed_in(approver).get(reverse("console:queue")).status_code == 200


def test_staff_without_a_console_role_is_told_why(db) -> None:
    staff = UserFactory(email="intern@platform.example", is_staff=True)
    response = mfa_signed_in(staff).get(reverse("console:queue"))
    assert response.status_code == 403
    assert "no console role" in response.content.decode()


def test_support_and_approver_open_the_console(support_client, approver_client) -> None:
    assert support_client.get(reverse("console:queue")).status_code == 200
    assert approver_client.get(reverse("console:queue")).status_code == 200


def test_unknown_request_and_unknown_action_are_404(approver_client, pending) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert approver_client.get(
        reverse("console:review", kwargs={"request_id": missing})).status_code == 404
    assert approver_client.post(
        reverse("console:action", kwargs={"request_id": pending.pk, "action": "explode"})
    ).status_code == 404


def test_superuser_without_groups_can_use_the_console(db) -> None:
    admin = UserFactory(email="root@platform.example", is_staff=True, is_superuser=True)
    assert Group.objects.filter(name="approver").exists()
    assert mfa_signed_in(admin).get(reverse("console:queue")).status_code == 200
