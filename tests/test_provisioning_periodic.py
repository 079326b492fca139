"""The periodic jobs: reconciler, revoke watch and reminders, drift, audit purge."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from connectivity import provisioning
from connectivity.kinds import vnet_peering
from connectivity.models import AuditEntry, ConnectivityRequest, RequestEvent, RequestState
from tests.factories import PeeringRequestFactory, PrivateDnsRequestFactory
from tests.provisioning_helpers import drive
from tests.stack import CUSTOMER_VNET_NAME, customer_vnet_id

pytestmark = pytest.mark.django_db
S = RequestState


@pytest.fixture
def active_peering(sim_cluster, azure_stack, scheduler, customer,
                   django_capture_on_commit_callbacks):
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.APPROVED)
    azure_stack.grant(request)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    mail.outbox.clear()
    return request


# --- reconciler -------------------------------------------------------------------------------


def test_reconciler_re_enqueues_only_stale_work(sim_cluster, scheduler, settings):
    settings.RECONCILE_STALE_AFTER = 120
    old = timezone.now() - timedelta(minutes=5)
    stale = PeeringRequestFactory(cluster=sim_cluster, state=S.PROVISIONING, step="customer_peering")
    fresh = PeeringRequestFactory(cluster=sim_cluster, state=S.PROVISIONING)
    idle = PeeringRequestFactory(cluster=sim_cluster, state=S.ACTIVE)
    ConnectivityRequest.objects.filter(pk__in=[stale.pk, idle.pk]).update(state_changed_at=old)
    assert provisioning.requests_reconcile() == [str(stale.pk)]
    assert scheduler.sent == [(str(stale.pk), 0, None)]
    event = stale.events.get(action="reconciled")
    assert "customer_peering" in event.message
    # Not again while the nudge it just sent may still be on its way.
    assert provisioning.requests_reconcile() == []
    assert fresh.pk and idle.pk


def test_reconciler_leaves_a_long_backoff_alone(sim_cluster, scheduler, settings):
    settings.RECONCILE_STALE_AFTER = 60
    request = PeeringRequestFactory(cluster=sim_cluster, state=S.PROVISIONING)
    ConnectivityRequest.objects.filter(pk=request.pk).update(
        state_changed_at=timezone.now() - timedelta(minutes=2))
    cache.set(provisioning._chain_key(request.pk), {"token": "t", "due": time.time() + 240})
    assert provisioning.requests_reconcile() == []


def test_a_lost_message_is_found_by_the_reconciler(sim_cluster, azure_stack, scheduler, settings,
                                                   django_capture_on_commit_callbacks):
    """The approval's message never arrives; the reconciler's nudge finishes the work."""
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.APPROVED)
    azure_stack.grant(request)
    ConnectivityRequest.objects.filter(pk=request.pk).update(
        state_changed_at=timezone.now() - timedelta(hours=1))
    settings.RECONCILE_STALE_AFTER = 60
    assert provisioning.requests_reconcile() == [str(request.pk)]
    assert drive(request, scheduler, django_capture_on_commit_callbacks).state == S.ACTIVE


# --- revoke watch -----------------------------------------------------------------------------


def test_revoke_watch_reminds_on_schedule_then_completes(active_peering, azure_stack, settings,
                                                         django_capture_on_commit_callbacks):
    settings.REVOKE_REMINDER_FIRST_AFTER = 3600
    settings.REVOKE_REMINDER_EVERY = 86400
    start = active_peering.activated_at

    def check(at):
        with django_capture_on_commit_callbacks(execute=True):
            provisioning.request_revoke_check(request_id=str(active_peering.pk), now=at)
        active_peering.refresh_from_db()

    check(start + timedelta(minutes=10))
    assert active_peering.revoke_reminders_sent == 0 and active_peering.revoke_checked_at
    check(start + timedelta(hours=1, minutes=1))
    assert active_peering.revoke_reminders_sent == 1
    assert [m.subject for m in mail.outbox] == [
        f"Reminder: revoke the platform's role for request {active_peering.short_id}"]
    reminder = active_peering.events.get(action="revoke_reminder")
    assert vnet_peering.revoke_command(active_peering) in reminder.message
    assert reminder.message.count("az role assignment delete") == 1
    check(start + timedelta(hours=5))
    assert active_peering.revoke_reminders_sent == 1
    check(start + timedelta(days=1, hours=2))
    assert active_peering.revoke_reminders_sent == 2

    azure_stack.revoke()
    check(start + timedelta(days=1, hours=3))
    assert active_peering.state == S.COMPLETED
    assert active_peering.grant_revoked_at
    assert active_peering.events.filter(action="grant_revoked", to_state=S.COMPLETED).exists()
    assert "Completed" in mail.outbox[-1].subject


def test_revoke_command_names_the_scope(active_peering, settings):
    command = vnet_peering.revoke_command(active_peering)
    assert command.startswith("az role assignment delete")
    assert settings.AZURE_CLIENT_ID in command and active_peering.customer_vnet_id in command


def test_dns_requests_complete_at_once(sim_cluster, azure_stack, scheduler,
                                       django_capture_on_commit_callbacks):
    request = drive(PrivateDnsRequestFactory(cluster=sim_cluster, state=S.APPROVED), scheduler,
                    django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    provisioning.revoke_watch()
    request.refresh_from_db()
    assert request.state == S.COMPLETED
    assert "nothing to revoke" in request.events.get(to_state=S.COMPLETED).message


# --- drift ------------------------------------------------------------------------------------


def test_drift_marks_a_disconnected_peering_degraded(active_peering, azure_stack,
                                                     django_capture_on_commit_callbacks):
    azure_stack.control.delete_peering(vnet_id=customer_vnet_id(),
                                       name=vnet_peering.customer_peering_name(active_peering))
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.drift_check()
    active_peering.refresh_from_db()
    assert active_peering.state == S.DEGRADED
    assert "missing" in active_peering.status_message or "Disconnected" in (
        active_peering.status_message)
    assert any("Degraded" in m.subject for m in mail.outbox)


def test_drift_checks_a_request_held_at_its_turn_after_the_others(
        active_peering, azure_stack, monkeypatch, django_capture_on_commit_callbacks):
    """Another task held the request when the health check came to it (the revoke check sent at
    activation, say): it is tried again once the others are done, not left to the next run."""
    azure_stack.control.delete_peering(vnet_id=customer_vnet_id(),
                                       name=vnet_peering.customer_peering_name(active_peering))
    real = provisioning.request_drift_check
    turns: list[str] = []

    def held_at_first(*, request_id: str) -> bool:
        turns.append(request_id)
        if turns.count(request_id) == 1:
            return False  # what _lock answers while another task holds the row
        return real(request_id=request_id)

    monkeypatch.setattr(provisioning, "request_drift_check", held_at_first)
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.drift_check()
    assert turns == [str(active_peering.pk)] * 2
    active_peering.refresh_from_db()
    assert active_peering.state == S.DEGRADED


def test_drift_restores_a_peering_connected_again(active_peering, azure_stack):
    ConnectivityRequest.objects.filter(pk=active_peering.pk).update(state=S.DEGRADED)
    provisioning.drift_check()
    active_peering.refresh_from_db()
    assert active_peering.state == S.ACTIVE
    assert active_peering.events.filter(action="restored").exists()


def test_drift_sees_disconnection_after_the_role_is_gone(active_peering, azure_stack):
    """After revocation only the cluster side can be read; it speaks for both."""
    ConnectivityRequest.objects.filter(pk=active_peering.pk).update(
        state=S.COMPLETED, grant_revoked_at=timezone.now())
    azure_stack.revoke()
    provisioning.drift_check()
    active_peering.refresh_from_db()
    assert active_peering.state == S.COMPLETED
    azure_stack.control.delete_peering(vnet_id=customer_vnet_id(),
                                       name=vnet_peering.customer_peering_name(active_peering))
    provisioning.drift_check()
    active_peering.refresh_from_db()
    assert active_peering.state == S.DEGRADED


def test_degraded_peering_is_repaired_after_verify(active_peering, azure_stack, scheduler,
                                                   customer, no_enqueue,
                                                   django_capture_on_commit_callbacks):
    from connectivity import services

    azure_stack.control.delete_peering(vnet_id=customer_vnet_id(),
                                       name=vnet_peering.customer_peering_name(active_peering))
    provisioning.drift_check()
    resumed = services.request_verify(request=active_peering, actor=customer)
    assert resumed.state == S.PROVISIONING
    request = drive(resumed, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    assert len(azure_stack.peerings_on(customer_vnet_id())) == 1
    states = {p["properties"]["peeringState"]
              for p in azure_stack.peerings_on(azure_stack.cluster_vnet_id)}
    assert states == {"Connected"}


# --- audit purge ------------------------------------------------------------------------------


def test_audit_purge_keeps_requests_and_recent_history(sim_cluster, settings):
    settings.AUDIT_RETENTION_DAYS = 90
    request = PeeringRequestFactory(cluster=sim_cluster, state=S.REMOVED)
    long_ago = timezone.now() - timedelta(days=91)
    old = RequestEvent.objects.create(request=request, actor_label="system", action="x",
                                      created_at=long_ago)
    recent = RequestEvent.objects.create(request=request, actor_label="system", action="y")
    AuditEntry.objects.create(actor_label="system", action="sign_in", created_at=long_ago)
    AuditEntry.objects.create(actor_label="system", action="sign_in")
    assert provisioning.audit_purge() == {"events": 1, "audit_entries": 1}
    assert list(RequestEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    assert AuditEntry.objects.count() == 1
    request.refresh_from_db()
    assert request.state == S.REMOVED and old.pk
