"""Every console action as an approver, as support (refused where it must be) and as a customer."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from connectivity import kinds, selectors, services
from connectivity.models import AuditEntry, ConnectivityRequest, RequestEvent, RequestState
from tests.console.conftest import FAILING, PASSING, mfa_signed_in
from tests.factories import (
    CommentFactory,
    DnsForwardingRequestFactory,
    PeeringRequestFactory,
    PrivateDnsRequestFactory,
)

pytestmark = pytest.mark.django_db
S = RequestState


def act(client, request: ConnectivityRequest, action: str, data: dict | None = None, **kw):
    return client.post(reverse("console:action", kwargs={"request_id": request.pk, "action": action}),
                       data or {}, **kw)


def review_url(request: ConnectivityRequest) -> str:
    return reverse("console:review", kwargs={"request_id": request.pk})


def page_text(response) -> str:
    return response.content.decode()


# --- review page ------------------------------------------------------------------------------

def test_review_shows_details_checks_plan_timeline_and_thread(approver_client, pending,
                                                              customer) -> None:
    services.comment_create(request=pending, actor=customer, body="Please hurry, go-live Monday")
    CommentFactory(request=pending, author=pending.created_by, body="staff-only remark",
                   internal=True)
    text = page_text(approver_client.get(review_url(pending)))
    assert pending.subscription_id in text
    assert "vnet-contoso-data" in text
    assert "Cluster is dedicated" in text and "2/2 passed" in text
    assert "Re-run checks" in text
    # The exact resources: both peerings, on the cluster VNet and on the customer's VNet.
    cluster_vnet_name = pending.cluster.vnet_id.rsplit("/", 1)[-1]
    assert (f"{pending.cluster.vnet_id}/virtualNetworkPeerings/cp-{pending.short_id}"
            f"-to-vnet-contoso-data") in text
    assert (f"{pending.customer_vnet_id}/virtualNetworkPeerings/cp-{pending.short_id}"
            f"-to-{cluster_vnet_name}") in text
    assert "go-live Monday" in text and "staff-only remark" in text and "internal note" in text
    assert ">Approve</button>" in text and ">Reject</button>" in text


def test_support_sees_no_decision_buttons(support_client, pending) -> None:
    text = page_text(support_client.get(review_url(pending)))
    assert ">Approve</button>" not in text and ">Reject</button>" not in text
    assert "Re-run checks" in text and ">Send</button>" in text


def test_review_shows_the_private_dns_plan(approver_client, dedicated_cluster) -> None:
    dns = PrivateDnsRequestFactory(cluster=dedicated_cluster, state=S.PENDING_APPROVAL,
                                   zone_name="Corp.Contoso.Internal",
                                   records=[{"name": "db", "ip": "10.20.1.4"},
                                            {"name": "db", "ip": "10.20.1.5"}])
    text = page_text(approver_client.get(review_url(dns)))
    # The zone lives in the organisation's own resource group, never a shared one.
    zone = ("/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/"
            f"rg-cp-dns-org-{dns.organization_id}/providers/Microsoft.Network/privateDnsZones/"
            "corp.contoso.internal")
    assert zone in text
    assert f"{zone}/A/db" in text and "10.20.1.4, 10.20.1.5" in text
    assert f"{zone}/virtualNetworkLinks/cp-{dns.short_id}-" in text


def test_review_shows_the_forwarding_plan(approver_client, dedicated_cluster) -> None:
    ruleset = ("/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/rg-dns/"
               "providers/Microsoft.Network/dnsForwardingRulesets/rs-contoso")
    dedicated_cluster.dns_forwarding_ruleset_id = ruleset
    dedicated_cluster.save()
    fwd = DnsForwardingRequestFactory(cluster=dedicated_cluster, state=S.PENDING_APPROVAL)
    text = page_text(approver_client.get(review_url(fwd)))
    assert f"{ruleset}/forwardingRules/cp-{fwd.short_id}" in text


def test_review_of_failing_preflight_asks_for_an_override_reason(approver_client, pending) -> None:
    ConnectivityRequest.objects.filter(pk=pending.pk).update(preflight=FAILING)
    text = page_text(approver_client.get(review_url(pending)))
    assert "1 failing: Role granted" in text
    assert "Approving needs an override reason" in text


# --- approve ---------------------------------------------------------------------------------

def test_approver_approves(approver_client, approver, pending, no_enqueue,
                           django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = act(approver_client, pending, "approve", follow=True)
    assert "Approved. Provisioning starts now" in page_text(response)
    pending.refresh_from_db()
    assert pending.state == S.APPROVED and pending.approved_by == approver
    event = pending.events.get(action="approved")
    assert event.actor == approver and event.actor_label == approver.email
    assert no_enqueue == [str(pending.pk)]
    assert [m.subject for m in mail.outbox] == [f"Approved: your VNet peering request {pending.short_id}"]


def test_approve_with_failing_preflight_needs_a_reason(approver_client, pending, no_enqueue) -> None:
    ConnectivityRequest.objects.filter(pk=pending.pk).update(preflight=FAILING)
    response = act(approver_client, pending, "approve")
    assert response.status_code == 400
    assert "Pre-flight has not passed; give a reason" in page_text(response)
    pending.refresh_from_db()
    assert pending.state == S.PENDING_APPROVAL

    act(approver_client, pending, "approve", {"override_reason": "Role granted on the RG, checked by phone"})
    pending.refresh_from_db()
    assert pending.state == S.APPROVED
    assert "checked by phone" in pending.events.get(action="approved").message


def test_approving_a_request_no_longer_pending_says_what_happened(approver_client, pending,
                                                                  no_enqueue) -> None:
    ConnectivityRequest.objects.filter(pk=pending.pk).update(state=S.CANCELLED)
    response = act(approver_client, pending, "approve", follow=True)
    assert response.status_code == 200
    assert "This request is now Cancelled; it cannot go to Approved." in page_text(response)


def test_two_approvers_one_wins_the_other_is_told(approver_client, pending, no_enqueue,
                                                  django_user_model) -> None:
    from django.contrib.auth.models import Group

    second = django_user_model.objects.create_user(email="approver2@platform.example",
                                                   password="x" * 16, is_staff=True)
    second.groups.add(Group.objects.get(name="approver"))
    other_client = mfa_signed_in(second)
    # Both opened the review page while the request was pending.
    assert ">Approve</button>" in page_text(approver_client.get(review_url(pending)))
    assert ">Approve</button>" in page_text(other_client.get(review_url(pending)))

    first = act(approver_client, pending, "approve", follow=True)
    late = act(other_client, pending, "approve", follow=True)

    assert "Approved. Provisioning starts now" in page_text(first)
    assert "This request is now Approved; it cannot go to Approved." in page_text(late)
    assert RequestEvent.objects.filter(request=pending, action="approved").count() == 1
    pending.refresh_from_db()
    assert pending.approved_by.email == "approver@platform.example"


# --- reject, retry, cancel, teardown ----------------------------------------------------------

def test_reject_needs_a_reason_and_emails_it(approver_client, approver, pending,
                                             django_capture_on_commit_callbacks) -> None:
    response = act(approver_client, pending, "reject", {"reason": "  "})
    assert response.status_code == 400
    assert "Give the customer a reason for the rejection." in page_text(response)
    with django_capture_on_commit_callbacks(execute=True):
        act(approver_client, pending, "reject", {"reason": "Overlaps 10.100.0.0/16"})
    pending.refresh_from_db()
    assert pending.state == S.REJECTED
    event = pending.events.get(action="rejected")
    assert (event.actor, event.message) == (approver, "Overlaps 10.100.0.0/16")
    assert "Overlaps 10.100.0.0/16" in mail.outbox[0].body


def test_retry_a_failed_step(approver_client, approver, dedicated_cluster, no_enqueue) -> None:
    failed = PeeringRequestFactory(cluster=dedicated_cluster, state=S.FAILED,
                                   step="create_remote_peering", status_message="Azure said 500")
    response = act(approver_client, failed, "retry", follow=True)
    assert "Retrying from step create_remote_peering" in page_text(response)
    failed.refresh_from_db()
    assert failed.state == S.PROVISIONING and failed.status_message == ""
    assert failed.events.get(action="retried").actor == approver
    assert no_enqueue == [str(failed.pk)]


def test_cancel(approver_client, approver, pending) -> None:
    act(approver_client, pending, "cancel", {"reason": "Duplicate of another ticket"})
    pending.refresh_from_db()
    assert pending.state == S.CANCELLED
    assert pending.events.get(action="cancelled").message == "Duplicate of another ticket"


def test_force_teardown_needs_confirmation(approver_client, approver, dedicated_cluster,
                                           no_enqueue) -> None:
    active = PeeringRequestFactory(cluster=dedicated_cluster, state=S.ACTIVE)
    response = act(approver_client, active, "teardown", {"reason": "Customer left"})
    assert response.status_code == 400
    assert "Tick the box to confirm the teardown." in page_text(response)
    active.refresh_from_db()
    assert active.state == S.ACTIVE

    act(approver_client, active, "teardown", {"reason": "Customer left", "confirm": "on"})
    active.refresh_from_db()
    assert active.state == S.REMOVING and active.step == "remove_start"
    assert active.events.get(action="teardown_requested").actor == approver
    assert no_enqueue == [str(active.pk)]


# --- re-run checks ----------------------------------------------------------------------------

def test_rerun_checks_moves_a_ready_request_to_approval(support_client, support, dedicated_cluster,
                                                        monkeypatch) -> None:

    monkeypatch.setattr(kinds, "preflight", lambda request: (PASSING, ["req-1"]))
    waiting = PeeringRequestFactory(cluster=dedicated_cluster, state=S.AWAITING_GRANT)
    response = act(support_client, waiting, "verify", follow=True)
    assert "Checks re-run: 2/2 passed. The request is Pending approval." in page_text(response)
    waiting.refresh_from_db()
    assert waiting.state == S.PENDING_APPROVAL
    assert waiting.events.get(action="preflight").actor == support


def test_rerun_checks_sends_back_a_request_that_now_fails(approver_client, pending,
                                                          monkeypatch) -> None:

    monkeypatch.setattr(kinds, "preflight", lambda request: (FAILING, []))
    response = act(approver_client, pending, "verify", follow=True)
    assert "1 failing: Role granted" in page_text(response)
    pending.refresh_from_db()
    assert pending.state == S.AWAITING_GRANT


def test_rerun_checks_after_approval_is_refused_clearly(approver_client, dedicated_cluster) -> None:
    approved = PeeringRequestFactory(cluster=dedicated_cluster, state=S.PROVISIONING)
    response = act(approver_client, approved, "verify", follow=True)
    assert "Checks run before approval or while action is needed" in page_text(response)


# --- comments ---------------------------------------------------------------------------------

def test_staff_reply_reaches_the_customer_by_email(support_client, support, pending, customer,
                                                   django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = act(support_client, pending, "comment", {"body": "We are on it."}, follow=True)
    assert "Reply sent" in page_text(response)
    assert [m.to for m in mail.outbox] == [[customer.email]]
    assert "We are on it." in mail.outbox[0].body
    assert [c.body for c in selectors.comments_for(pending, user=customer)] == ["We are on it."]


def test_internal_note_stays_with_staff(support_client, pending, customer,
                                        django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        act(support_client, pending, "comment", {"body": "Customer is a reseller", "internal": "on"})
    assert mail.outbox == []
    assert list(selectors.comments_for(pending, user=customer)) == []
    assert "Customer is a reseller" in page_text(support_client.get(review_url(pending)))
    assert pending.events.get(action="internal_note").actor.email == "support@platform.example"


def test_empty_comment_is_refused_with_the_rule(support_client, pending) -> None:
    response = act(support_client, pending, "comment", {"body": "   "})
    assert response.status_code == 400
    assert "Write a message before sending." in page_text(response)


# --- support may not decide -------------------------------------------------------------------

@pytest.mark.parametrize(("action", "data", "state", "message"), [
    ("approve", {}, S.PENDING_APPROVAL, "Only approvers may do this."),
    ("reject", {"reason": "no"}, S.PENDING_APPROVAL, "Only approvers may do this."),
    ("retry", {}, S.FAILED, "Only approvers may do this."),
    ("cancel", {}, S.PENDING_APPROVAL, "Only approvers may cancel"),
    ("teardown", {"confirm": "on"}, S.ACTIVE, "Only approvers may tear down"),
])
def test_support_is_refused_decisions(support_client, dedicated_cluster, no_enqueue,
                                      action, data, state, message) -> None:
    target = PeeringRequestFactory(cluster=dedicated_cluster, state=state, preflight=PASSING)
    response = act(support_client, target, action, data)
    assert response.status_code == 403
    assert message in page_text(response)
    target.refresh_from_db()
    assert target.state == state
    assert not target.events.exists()
    assert no_enqueue == []


@pytest.mark.parametrize(("action", "data"), [
    ("approve", {}), ("reject", {"reason": "no"}), ("cancel", {}), ("verify", {}),
    ("comment", {"body": "hi", "internal": "on"}), ("teardown", {"confirm": "on"}), ("retry", {}),
])
def test_customer_cannot_act_through_the_console(customer_client, pending, action, data) -> None:
    assert act(customer_client, pending, action, data).status_code == 404
    pending.refresh_from_db()
    assert pending.state == S.PENDING_APPROVAL
    assert not pending.events.exists() and not pending.comments.exists()


# --- auto-approve policy -----------------------------------------------------------------------

def test_approver_turns_auto_approve_on_and_it_is_audited(approver_client, approver, organization) -> None:
    assert organization.auto_approve is False  # off by default
    url = reverse("console:auto_approve", kwargs={"organization_id": organization.pk})
    response = approver_client.post(url, {"enabled": "on"}, follow=True)
    assert "Auto-approve is now on for Contoso Analytics." in page_text(response)
    organization.refresh_from_db()
    assert organization.auto_approve is True
    entry = AuditEntry.objects.get(action="organization.auto_approve_on")
    assert (entry.actor, entry.organization) == (approver, organization)

    approver_client.post(url, {})
    organization.refresh_from_db()
    assert organization.auto_approve is False
    assert AuditEntry.objects.filter(action="organization.auto_approve_off").count() == 1


def test_support_cannot_change_auto_approve(support_client, organization) -> None:
    url = reverse("console:auto_approve", kwargs={"organization_id": organization.pk})
    response = support_client.post(url, {"enabled": "on"})
    assert response.status_code == 403
    assert "Only approvers may do this." in page_text(response)
    organization.refresh_from_db()
    assert organization.auto_approve is False
    assert ">Turn on</button>" not in page_text(support_client.get(reverse("console:organizations")))


def test_customer_cannot_change_auto_approve(customer_client, organization) -> None:
    url = reverse("console:auto_approve", kwargs={"organization_id": organization.pk})
    assert customer_client.post(url, {"enabled": "on"}).status_code == 404
    organization.refresh_from_db()
    assert organization.auto_approve is False


@pytest.mark.parametrize(("policy", "expected"), [(False, S.PENDING_APPROVAL), (True, S.APPROVED)])
def test_auto_approve_policy_approves_when_preflight_passes(
        customer, organization, dedicated_cluster, no_enqueue, monkeypatch, policy, expected) -> None:

    monkeypatch.setattr(kinds, "preflight", lambda request: (PASSING, []))
    organization.auto_approve = policy
    organization.save()
    waiting = PeeringRequestFactory(cluster=dedicated_cluster, state=S.AWAITING_GRANT)
    services.request_verify(request=waiting, actor=customer)
    waiting.refresh_from_db()
    assert waiting.state == expected
    assert waiting.events.filter(action="auto_approved").exists() is policy
    assert no_enqueue == ([str(waiting.pk)] if policy else [])


def test_auto_approve_never_approves_a_failing_request(customer, organization, dedicated_cluster,
                                                       no_enqueue, monkeypatch) -> None:

    monkeypatch.setattr(kinds, "preflight", lambda request: (FAILING, []))
    organization.auto_approve = True
    organization.save()
    waiting = PeeringRequestFactory(cluster=dedicated_cluster, state=S.AWAITING_GRANT)
    services.request_verify(request=waiting, actor=customer)
    waiting.refresh_from_db()
    assert waiting.state == S.AWAITING_GRANT
