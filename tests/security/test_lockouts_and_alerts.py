"""Lockouts answer 429 with Retry-After and lock an account only from the address that failed;
behind a proxy every client keeps its own per-address budget; alerts fire once the threshold is
reached or passed; allauth's emails carry the portal's name."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client, override_settings

from connectivity import security
from connectivity.models import AuditEntry, User
from portal.settings import base
from tests.factories import PASSWORD
from tests.security.conftest import load_production
from tests.security.helpers import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at")]

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"


@pytest.fixture(autouse=True)
def fresh_counters(private_cache: None) -> None:
    """Every test starts with no attempts counted (in a cache of its own)."""


@pytest.fixture
def account_limits() -> Iterator[None]:
    """The test settings switch allauth's limits off; these tests run with the real ones."""
    with override_settings(ACCOUNT_RATE_LIMITS=base.ACCOUNT_RATE_LIMITS):
        yield


def test_a_lockout_is_429_with_retry_after_and_only_for_the_failing_address(
    approver: User, account_limits: None
) -> None:
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(5):
        assert sign_in(attacker, approver.email, "wrong-password-1").status_code == 200
    locked = sign_in(attacker, approver.email)  # even the right password, from there
    assert locked.status_code == 429
    assert 1 <= int(locked["Retry-After"]) <= 300
    assert "Too many failed login attempts" in locked.content.decode()
    # The staff member, from their own address, still signs in with their password.
    assert sign_in(Client(REMOTE_ADDR=OWNER), approver.email).status_code == 302


def test_one_address_trying_many_accounts_is_stopped(customer: User, account_limits: None) -> None:
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for i in range(10):
        sign_in(attacker, f"guess{i}@contoso.example", "wrong-password-1")
    assert sign_in(attacker, customer.email).status_code == 429
    assert sign_in(Client(REMOTE_ADDR=OWNER), customer.email).status_code == 302


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_each_client_has_its_own_address_budget(
    customer: User, account_limits: None
) -> None:
    proxy = "10.0.0.5"
    noisy = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=ATTACKER)
    for i in range(10):
        sign_in(noisy, f"guess{i}@contoso.example", "wrong-password-1")
    assert sign_in(noisy, customer.email).status_code == 429
    quiet = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=OWNER)
    assert sign_in(quiet, customer.email).status_code == 302
    assert AuditEntry.objects.filter(action="auth.sign_in_failed",
                                     ip_address=ATTACKER).count() == 10


def test_a_forged_forwarded_for_is_ignored_without_a_trusted_proxy(customer: User) -> None:
    client = Client(REMOTE_ADDR=OWNER, HTTP_X_FORWARDED_FOR=ATTACKER)
    sign_in(client, customer.email, "wrong-password-1")
    assert AuditEntry.objects.get(action="auth.sign_in_failed").ip_address == OWNER


def test_production_trusts_one_proxy_unless_django_faces_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_production(monkeypatch)["ALLAUTH_TRUSTED_PROXY_COUNT"] == 1
    direct = load_production(monkeypatch, DJANGO_SECURE_PROXY_SSL_HEADER="")
    assert direct["ALLAUTH_TRUSTED_PROXY_COUNT"] == 0
    two = load_production(monkeypatch, TRUSTED_PROXY_COUNT="2")
    assert two["ALLAUTH_TRUSTED_PROXY_COUNT"] == 2


# --- alerts ----------------------------------------------------------------------------------


@override_settings(SECURITY_ALERT_CROSS_ORG=3, STAFF_ALERT_EMAILS=["security@platform.example"])
def test_an_alert_fires_when_the_count_jumps_past_the_threshold(
    outsider: User, django_capture_on_commit_callbacks: Any
) -> None:
    # Concurrent misses were written before this one counted: it sees 4, never exactly 3.
    for _ in range(3):
        security.record(security.CROSS_ORG_MISS, actor=outsider, target="request x")
    with django_capture_on_commit_callbacks(execute=True):
        security.note_cross_org_miss(outsider, "request", "y")
        security.note_cross_org_miss(outsider, "request", "z")  # same window: no second email
    assert len(mail.outbox) == 1
    assert "4 cross-organisation requests for outsider@fabrikam.example" in mail.outbox[0].subject
    assert AuditEntry.objects.filter(action=security.ALERT).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(SECURITY_ALERT_CROSS_ORG=4, STAFF_ALERT_EMAILS=["security@platform.example"])
def test_concurrent_misses_give_exactly_one_alert(outsider: User) -> None:
    barrier = threading.Barrier(6)

    def miss(n: int) -> None:
        try:
            barrier.wait()
            security.note_cross_org_miss(outsider, "request", n)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=miss, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert AuditEntry.objects.filter(action=security.CROSS_ORG_MISS).count() == 6
    assert AuditEntry.objects.filter(action=security.ALERT).count() == 1
    assert len(mail.outbox) == 1


# --- allauth's emails ------------------------------------------------------------------------


def test_allauth_emails_carry_the_portal_name_not_example_com(customer: User) -> None:
    Client().post("/accounts/password/reset/", {"email": customer.email})
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject.startswith("[Connectivity Portal] ")
    assert "example.com" not in message.subject + message.body


def test_password_alone_still_works_below_every_limit(customer: User,
                                                      account_limits: None) -> None:
    sign_in(Client(REMOTE_ADDR=ATTACKER), customer.email, "wrong-password-1")
    assert sign_in(Client(REMOTE_ADDR=ATTACKER), customer.email, PASSWORD).status_code == 302
