"""The security log: every sign-in, failure, MFA change, token, approval, credential change and
cross-organisation 404 is an audit row and a structured log line; staff are alerted when one
account passes a threshold; rows older than the retention are purged."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone

from connectivity import credentials, security, services
from connectivity.models import AuditEntry, Cluster, RequestState, User
from tests.factories import PeeringRequestFactory
from tests.security.helpers import activate_totp, sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at")]

SECURITY_LOGGER = "connectivity.security"


def security_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The structured lines: `security {json}` on the connectivity.security logger."""
    lines = []
    for record in caplog.records:
        if record.name == SECURITY_LOGGER and record.getMessage().startswith("security {"):
            lines.append(json.loads(record.getMessage().removeprefix("security ")))
    return lines


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    return caplog


def events(log: pytest.LogCaptureFixture) -> list[str]:
    return [line["event"] for line in security_lines(log)]


def test_sign_in_and_sign_out_are_logged(customer: User, log: pytest.LogCaptureFixture) -> None:
    client = Client()
    response = sign_in(client, customer.email, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="auth.signed_in")
    assert entry.actor == customer
    assert entry.ip_address == "203.0.113.9"
    assert entry.organization == customer.organization
    line = next(x for x in security_lines(log) if x["event"] == "auth.signed_in")
    assert line["actor"] == customer.email and line["ip"] == "203.0.113.9"
    client.post("/accounts/logout/")
    assert AuditEntry.objects.filter(action="auth.signed_out", actor=customer).exists()


def test_failed_sign_in_is_logged_without_the_password(
    customer: User, log: pytest.LogCaptureFixture
) -> None:
    response = sign_in(Client(), customer.email, "wrong-password-123")
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="auth.sign_in_failed")
    assert entry.target == customer.email
    warning = [r for r in log.records if r.levelno == logging.WARNING and r.name == SECURITY_LOGGER]
    assert warning and "auth.sign_in_failed" in warning[0].getMessage()
    assert "wrong-password-123" not in log.text
    assert "wrong-password-123" not in json.dumps(entry.data)


def test_hostile_identifier_cannot_forge_log_lines(db: None, log: pytest.LogCaptureFixture) -> None:
    sign_in(Client(), "x@example.com\nsecurity {\"event\": \"forged\"}", "whatever-password")
    assert "forged" not in events(log)
    assert all("\n" not in r.getMessage() for r in log.records if r.name == SECURITY_LOGGER)


def test_mfa_changes_and_failures_are_logged(
    customer: User, log: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    sign_in(client, customer.email)
    with django_capture_on_commit_callbacks(execute=True):
        activate_totp(client)
    added = AuditEntry.objects.get(action="mfa.added", data__type="totp")
    assert added.actor == customer
    client.post("/accounts/logout/")
    response = sign_in(client, customer.email)
    assert response.status_code == 302 and "2fa" in response.headers["Location"]
    response = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert response.status_code == 200
    assert AuditEntry.objects.filter(action="mfa.failed", target=customer.email).exists()
    assert {"mfa.added", "mfa.failed"} <= set(events(log))


def test_mfa_removal_is_logged(
    customer: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    sign_in(client, customer.email)
    with django_capture_on_commit_callbacks(execute=True):
        activate_totp(client)
        response = client.post("/accounts/2fa/totp/deactivate/")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert AuditEntry.objects.filter(action="mfa.removed", actor=customer).exists()


def test_api_tokens_created_and_revoked_are_logged(
    customer: User, log: pytest.LogCaptureFixture
) -> None:
    token, plaintext = services.api_token_create(
        actor=customer, organization=customer.organization, name="ci", scope="read")
    services.api_token_revoke(token=token, actor=customer)
    assert {"api_token.created", "api_token.revoked"} <= set(events(log))
    assert plaintext not in log.text


def test_approvals_and_rejections_are_logged(
    approver: User, dedicated_cluster: Cluster, no_enqueue: list[str],
    log: pytest.LogCaptureFixture,
) -> None:
    first = PeeringRequestFactory(cluster=dedicated_cluster, state=RequestState.PENDING_APPROVAL)
    second = PeeringRequestFactory(cluster=dedicated_cluster, state=RequestState.PENDING_APPROVAL)
    services.request_approve(request=first, actor=approver, override_reason="checked by hand")
    services.request_reject(request=second, actor=approver, reason="wrong VNet")
    approved = AuditEntry.objects.get(action="request.approved")
    assert approved.actor == approver
    assert approved.organization == dedicated_cluster.organization
    assert approved.target == f"request {first.pk}"
    assert AuditEntry.objects.filter(action="request.rejected", target=f"request {second.pk}").exists()
    assert {"request.approved", "request.rejected"} <= set(events(log))


def test_credential_changes_are_logged(db: None, log: pytest.LogCaptureFixture) -> None:
    credentials.store("smtp_password", "smtp-password-1234")
    credentials.store("smtp_password", "smtp-password-5678")
    assert events(log)[-2:] == ["credential.created", "credential.changed"]


def test_cross_organisation_miss_is_a_404_and_logged(
    outsider: User, dedicated_cluster: Cluster, log: pytest.LogCaptureFixture
) -> None:
    theirs = PeeringRequestFactory(cluster=dedicated_cluster)
    client = Client()
    client.force_login(outsider)
    assert client.get(f"/api/v1/requests/{theirs.pk}/").status_code == 404
    assert client.get(f"/requests/{theirs.pk}/").status_code == 404
    misses = AuditEntry.objects.filter(action="cross_org.not_found", actor=outsider)
    assert misses.count() == 2
    assert misses.first().target == f"request {theirs.pk}"
    assert "cross_org.not_found" in events(log)


def test_a_request_that_does_not_exist_is_no_cross_org_miss(outsider: User) -> None:
    client = Client()
    client.force_login(outsider)
    assert client.get("/api/v1/requests/00000000-0000-4000-8000-000000000000/").status_code == 404
    assert not AuditEntry.objects.filter(action="cross_org.not_found").exists()


@override_settings(SECURITY_ALERT_FAILED_SIGNINS=3, SECURITY_ALERT_WINDOW=600,
                   STAFF_ALERT_EMAILS=["security@platform.example"])
def test_failed_sign_ins_past_the_threshold_alert_staff_once(
    customer: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            sign_in(client, customer.email, "wrong-password-123")
    assert len(mail.outbox) == 1
    alert = mail.outbox[0]
    assert alert.to == ["security@platform.example"]
    assert "3 failed sign-ins for customer@contoso.example" in alert.subject
    assert "wrong-password-123" not in alert.body
    assert AuditEntry.objects.filter(action="security.alert").count() == 1


@override_settings(SECURITY_ALERT_FAILED_SIGNINS=3, SECURITY_ALERT_WINDOW=600,
                   STAFF_ALERT_EMAILS=["security@platform.example"])
def test_failures_outside_the_window_do_not_add_up(
    customer: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            sign_in(Client(), customer.email, "wrong-password-123")
        AuditEntry.objects.update(created_at=timezone.now() - timedelta(minutes=11))
        sign_in(Client(), customer.email, "wrong-password-123")
    assert mail.outbox == []


@override_settings(SECURITY_ALERT_CROSS_ORG=3, STAFF_ALERT_EMAILS=[])
def test_cross_org_probing_alerts_the_superusers(
    outsider: User, dedicated_cluster: Cluster, django_capture_on_commit_callbacks: Any
) -> None:
    User.objects.create_superuser("root@platform.example", "x-long-password-1")
    client = Client()
    client.force_login(outsider)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            theirs = PeeringRequestFactory(cluster=dedicated_cluster)
            assert client.get(f"/api/v1/requests/{theirs.pk}/").status_code == 404
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["root@platform.example"]
    assert "3 cross-organisation requests for outsider@fabrikam.example" in mail.outbox[0].subject


def test_alert_mail_failure_never_breaks_sign_in(
    customer: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("mail server down")

    monkeypatch.setattr(security, "send_mail", broken)
    with override_settings(SECURITY_ALERT_FAILED_SIGNINS=1, STAFF_ALERT_EMAILS=["s@p.example"]), \
            django_capture_on_commit_callbacks(execute=True):
        assert sign_in(Client(), customer.email, "wrong-password-123").status_code == 200
    assert AuditEntry.objects.filter(action="security.alert").exists()


def test_audit_rows_older_than_retention_are_purged(customer: User) -> None:
    from connectivity import tasks

    old = security.record("auth.signed_in", actor=customer)
    recent = security.record("auth.signed_in", actor=customer)
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    AuditEntry.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(days=89))
    tasks.audit_purge()
    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [recent.pk]


def test_audit_purge_runs_daily() -> None:
    from django.conf import settings

    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["connectivity.tasks.audit_purge"] <= 86400
