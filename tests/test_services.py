"""The use-cases: validation, permissions, and what each leaves behind."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from connectivity import kinds, services
from connectivity.lifecycle import TransitionError
from connectivity.models import ConnectivityRequest, RequestKind, RequestState
from tests.factories import PeeringRequestFactory

PEERING_FIELDS = {
    "tenant_id": "44444444-4444-4444-8444-444444444444",
    "subscription_id": "55555555-5555-4555-8555-555555555555",
    "resource_group": "rg-contoso-network",
    "vnet_name": "vnet-contoso-hub",
}
PASSED = [{"key": "k", "label": "Check", "status": "pass", "message": "ok"}]


@pytest.mark.django_db
def test_create_validates_every_field_by_name(customer, dedicated_cluster) -> None:
    with pytest.raises(ValidationError) as caught:
        services.request_create(
            actor=customer, organization=customer.organization, cluster=dedicated_cluster,
            kind=RequestKind.VNET_PEERING,
            fields={"tenant_id": "nope", "subscription_id": "", "resource_group": "bad/rg",
                    "vnet_name": "-x"})
    errors = caught.value.message_dict
    assert set(errors) == {"tenant_id", "subscription_id", "resource_group", "vnet_name"}
    assert "GUID" in errors["tenant_id"][0]
    assert not ConnectivityRequest.objects.exists()


@pytest.mark.django_db
def test_create_refuses_standard_and_foreign_clusters(customer, standard_cluster,
                                                      outsider) -> None:
    with pytest.raises(ValidationError, match="dedicated"):
        services.request_create(actor=customer, organization=customer.organization,
                                cluster=standard_cluster, kind=RequestKind.VNET_PEERING,
                                fields=PEERING_FIELDS)
    from tests.factories import ClusterFactory

    foreign = ClusterFactory(organization=outsider.organization)
    with pytest.raises(ValidationError, match="your organisation"):
        services.request_create(actor=customer, organization=customer.organization,
                                cluster=foreign, kind=RequestKind.VNET_PEERING,
                                fields=PEERING_FIELDS)


@pytest.mark.django_db
def test_peering_submit_waits_for_grant(customer, dedicated_cluster) -> None:
    request = services.request_create(actor=customer, organization=customer.organization,
                                      cluster=dedicated_cluster, kind=RequestKind.VNET_PEERING,
                                      fields=PEERING_FIELDS)
    assert request.state == RequestState.DRAFT
    services.request_submit(request=request, actor=customer)
    assert request.state == RequestState.AWAITING_GRANT
    assert list(request.events.values_list("action", flat=True)) == ["created", "submitted"]


@pytest.mark.django_db
def test_approve_needs_passing_preflight_or_a_reason(approver, no_enqueue) -> None:
    request = PeeringRequestFactory(state=RequestState.PENDING_APPROVAL, preflight=[
        {"key": "k", "label": "Check", "status": "fail", "message": "no"}])
    with pytest.raises(ValidationError) as caught:
        services.request_approve(request=request, actor=approver)
    assert "override_reason" in caught.value.message_dict
    services.request_approve(request=request, actor=approver, override_reason="checked by hand")
    assert request.state == RequestState.APPROVED
    assert request.approved_by == approver
    assert "checked by hand" in request.events.get(action="approved").message
    assert no_enqueue == [str(request.pk)]


@pytest.mark.django_db
def test_support_and_customers_cannot_approve(support, customer, no_enqueue) -> None:
    request = PeeringRequestFactory(state=RequestState.PENDING_APPROVAL, preflight=PASSED)
    for actor in (support, customer):
        with pytest.raises(PermissionDenied):
            services.request_approve(request=request, actor=actor)
    request.refresh_from_db()
    assert request.state == RequestState.PENDING_APPROVAL


@pytest.mark.django_db
def test_reject_requires_a_reason_and_tells_the_customer(approver, customer) -> None:
    request = PeeringRequestFactory(cluster__organization=customer.organization,
                                    state=RequestState.PENDING_APPROVAL)
    with pytest.raises(ValidationError, match="reason"):
        services.request_reject(request=request, actor=approver, reason="  ")
    services.request_reject(request=request, actor=approver, reason="Overlaps 10.0.0.0/8")
    assert request.state == RequestState.REJECTED
    assert request.status_message == "Overlaps 10.0.0.0/8"


@pytest.mark.django_db
def test_cancel_only_before_anything_exists(customer) -> None:
    request = PeeringRequestFactory(state=RequestState.AWAITING_GRANT)
    services.request_cancel(request=request, actor=customer, reason="not needed")
    assert request.state == RequestState.CANCELLED
    active = PeeringRequestFactory(state=RequestState.ACTIVE)
    with pytest.raises(TransitionError):
        services.request_cancel(request=active, actor=customer)


@pytest.mark.django_db
def test_retry_resumes_the_failed_phase(approver, no_enqueue) -> None:
    provisioning = PeeringRequestFactory(state=RequestState.FAILED, step="customer_peering")
    services.request_retry(request=provisioning, actor=approver)
    assert provisioning.state == RequestState.PROVISIONING
    teardown = PeeringRequestFactory(state=RequestState.FAILED, step="remove_customer_peering")
    services.request_retry(request=teardown, actor=approver)
    assert teardown.state == RequestState.REMOVING


@pytest.mark.django_db
def test_teardown_by_customer_and_refused_for_support(customer, support, no_enqueue) -> None:
    request = PeeringRequestFactory(state=RequestState.ACTIVE)
    with pytest.raises(PermissionDenied):
        services.request_teardown(request=request, actor=support)
    services.request_teardown(request=request, actor=customer)
    assert request.state == RequestState.REMOVING
    assert no_enqueue == [str(request.pk)]


@pytest.mark.django_db(transaction=True)
def test_staff_reply_emails_the_customer_but_internal_notes_do_not(customer, support) -> None:
    request = PeeringRequestFactory(cluster__organization=customer.organization)
    services.comment_create(request=request, actor=support, body="internal", internal=True)
    assert mail.outbox == []
    services.comment_create(request=request, actor=support, body="We are on it")
    assert [m.to for m in mail.outbox] == [[customer.email]]
    assert "We are on it" in mail.outbox[0].body
    with pytest.raises(PermissionDenied):
        services.comment_create(request=request, actor=customer, body="x", internal=True)
    with pytest.raises(ValidationError):
        services.comment_create(request=request, actor=customer, body="   ")


@pytest.mark.django_db
def test_internal_notes_never_reach_the_customer_timeline(customer, support) -> None:
    from connectivity import selectors

    request = PeeringRequestFactory(cluster__organization=customer.organization)
    services.comment_create(request=request, actor=support, body="customer seems confused",
                            internal=True)
    assert not selectors.events_for(request, user=customer).filter(action="internal_note").exists()
    staff_view = selectors.events_for(request, user=support).get(action="internal_note")
    assert "confused" not in staff_view.message


# --- four eyes ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_four_eyes_nobody_decides_their_own_or_their_organisations_request(
    approver, customer, dedicated_cluster, no_enqueue
) -> None:
    from connectivity.models import Membership
    from tests.conftest import staff_group
    from tests.factories import MembershipFactory

    insider = MembershipFactory(organization=customer.organization, role=Membership.Role.MEMBER,
                                user__email="insider@contoso.example", user__is_staff=True).user
    insider.groups.add(staff_group("approver"))
    filed_by_teammate = PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer,
                                              state=RequestState.PENDING_APPROVAL, preflight=PASSED)
    own = PeeringRequestFactory(cluster=dedicated_cluster, created_by=insider,
                                state=RequestState.FAILED, step="create_peering")
    approver_own = PeeringRequestFactory(created_by=approver, state=RequestState.PENDING_APPROVAL,
                                         preflight=PASSED)
    refusals = [
        (lambda: services.request_approve(request=filed_by_teammate, actor=insider),
         "your own organisation (Contoso Analytics) filed this request"),
        (lambda: services.request_reject(request=filed_by_teammate, actor=insider, reason="x"),
         "your own organisation"),
        (lambda: services.request_retry(request=own, actor=insider), "you created this request"),
        (lambda: services.request_approve(request=approver_own, actor=approver),
         "you created this request"),
    ]
    for attempt, reason in refusals:
        with pytest.raises(PermissionDenied, match=re.escape(reason)):
            attempt()
    for request in (filed_by_teammate, own, approver_own):
        before = request.state
        request.refresh_from_db()
        assert request.state == before
    assert no_enqueue == []
    services.request_approve(request=filed_by_teammate, actor=approver)  # another's eyes
    assert filed_by_teammate.state == RequestState.APPROVED


@pytest.mark.django_db
def test_auto_approve_is_per_organisation_and_audited(approver, customer, outsider,
                                                       dedicated_cluster, no_enqueue,
                                                       monkeypatch) -> None:
    from connectivity.models import AuditEntry
    from tests.factories import ClusterFactory

    services.organization_set_auto_approve(organization=customer.organization, actor=approver,
                                           enabled=True)
    assert AuditEntry.objects.filter(action="organization.auto_approve_on",
                                     organization=customer.organization, actor=approver).exists()
    monkeypatch.setattr(kinds, "preflight", lambda request: (PASSED, []))
    ours = PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer,
                                 state=RequestState.AWAITING_GRANT)
    theirs = PeeringRequestFactory(cluster=ClusterFactory(organization=outsider.organization),
                                   created_by=outsider, state=RequestState.AWAITING_GRANT)
    assert services.request_verify(request=ours, actor=customer).state == RequestState.APPROVED
    assert services.request_verify(request=theirs, actor=outsider).state == (
        RequestState.PENDING_APPROVAL)
    decision = AuditEntry.objects.get(action="request.auto_approved")
    assert decision.actor is None and decision.organization == customer.organization
