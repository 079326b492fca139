"""The owners' Single sign-on page and the console's tenant-claim decisions, over HTTP."""

from __future__ import annotations

import pytest
from django.test import Client

from connectivity import demo
from connectivity.models import AuditEntry, Organization, SignIn, TenantClaim, User
from tests.console.conftest import mfa_signed_in
from tests.sso.conftest import confirm_tenant

pytestmark = pytest.mark.django_db


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_owner_claims_a_tenant_and_it_waits_for_staff(customer: User) -> None:
    client = as_user(customer)
    response = client.post("/sso/", {"tenant_id": demo.CUSTOMER_TENANT_ID.upper()})
    assert response.status_code == 302
    claim = TenantClaim.objects.get()
    assert claim.tenant_id == demo.CUSTOMER_TENANT_ID and not claim.confirmed
    page = client.get("/sso/").content.decode()
    assert demo.CUSTOMER_TENANT_ID in page and "Waiting for staff" in page
    assert AuditEntry.objects.filter(action="sso.tenant_claimed").exists()


@pytest.mark.parametrize(("value", "message"), [
    ("not-a-guid", "Tenant ID must be a GUID"),
    ("", "Tenant ID is required."),
    ("11111111-1111-4111-8111-111111111111", "the platform"),
])
def test_a_bad_tenant_id_is_a_clear_error(customer: User, value: str, message: str) -> None:
    response = as_user(customer).post("/sso/", {"tenant_id": value})
    assert response.status_code == 400 and message in response.content.decode()
    assert not TenantClaim.objects.exists()


def test_a_tenant_confirmed_for_another_organisation_cannot_be_claimed(
        customer: User, outsider: User) -> None:
    confirm_tenant(outsider.membership.organization)
    response = as_user(customer).post("/sso/", {"tenant_id": demo.CUSTOMER_TENANT_ID})
    assert response.status_code == 400
    assert "linked to another organisation" in response.content.decode()


def test_members_cannot_manage_sso(teammate: User) -> None:
    client = as_user(teammate)
    assert client.get("/sso/").status_code == 403
    assert client.post("/sso/", {"tenant_id": demo.CUSTOMER_TENANT_ID}).status_code == 403
    assert client.post("/sso/required/", {"sso_required": "on"}).status_code == 403
    assert not TenantClaim.objects.exists()


def test_another_organisations_claim_is_404(customer: User, outsider: User) -> None:
    theirs = confirm_tenant(outsider.membership.organization)
    response = as_user(customer).post(f"/sso/claims/{theirs.pk}/remove/")
    assert response.status_code == 404
    assert TenantClaim.objects.filter(pk=theirs.pk).exists()
    assert demo.CUSTOMER_TENANT_ID not in as_user(customer).get("/sso/").content.decode()


def test_owner_removes_their_claim(customer: User, organization: Organization) -> None:
    claim = confirm_tenant(organization)
    assert as_user(customer).post(f"/sso/claims/{claim.pk}/remove/").status_code == 302
    assert not TenantClaim.objects.exists()


def test_sso_required_needs_a_confirmed_tenant(customer: User, organization: Organization) -> None:
    client = as_user(customer)
    response = client.post("/sso/required/", {"sso_required": "on"}, follow=True)
    assert "needs a confirmed tenant first" in response.content.decode()
    organization.refresh_from_db()
    assert not organization.sso_required


def test_owner_sees_who_signed_in_how_but_not_other_organisations(
        customer: User, teammate: User, outsider: User) -> None:
    SignIn.objects.create(user=teammate, organization=teammate.organization, method="microsoft",
                          tenant_id=demo.CUSTOMER_TENANT_ID, provider_mfa=True)
    SignIn.objects.create(user=outsider, organization=outsider.organization, method="password")
    page = as_user(customer).get("/sso/").content.decode()
    assert teammate.email in page and "Microsoft" in page and "MFA at Microsoft" in page
    assert outsider.email not in page


def test_approver_confirms_a_claim_in_the_console(customer: User, approver: User) -> None:
    as_user(customer).post("/sso/", {"tenant_id": demo.CUSTOMER_TENANT_ID})
    claim = TenantClaim.objects.get()
    staff = mfa_signed_in(approver)  # staff act only in a session that passed MFA
    listing = staff.get("/console/organisations/").content.decode()
    assert demo.CUSTOMER_TENANT_ID in listing and "Confirm" in listing
    response = staff.post(f"/console/organisations/tenant-claims/{claim.pk}/confirm/")
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.confirmed and claim.confirmed_by == approver
    assert "Confirmed" in as_user(customer).get("/sso/").content.decode()


def test_a_tenant_is_confirmed_for_one_organisation_only(customer: User, outsider: User,
                                                         approver: User) -> None:
    confirm_tenant(outsider.membership.organization)
    pending = TenantClaim.objects.create(organization=customer.organization,
                                         tenant_id=demo.CUSTOMER_TENANT_ID, claimed_by=customer)
    response = mfa_signed_in(approver).post(
        f"/console/organisations/tenant-claims/{pending.pk}/confirm/", follow=True)
    assert "already confirmed for another organisation" in response.content.decode()
    pending.refresh_from_db()
    assert not pending.confirmed


def test_support_cannot_confirm_and_customers_cannot_reach_the_console(
        customer: User, support: User) -> None:
    pending = TenantClaim.objects.create(organization=customer.organization,
                                         tenant_id=demo.CUSTOMER_TENANT_ID, claimed_by=customer)
    url = f"/console/organisations/tenant-claims/{pending.pk}/confirm/"
    assert mfa_signed_in(support).post(url).status_code == 403
    assert as_user(customer).post(url).status_code in (403, 404)
    pending.refresh_from_db()
    assert not pending.confirmed


def test_sign_in_records_are_purged_with_the_audit_log(teammate: User, settings: object) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from connectivity import tasks

    old = SignIn.objects.create(user=teammate, organization=teammate.organization,
                                method="password")
    SignIn.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    recent = SignIn.objects.create(user=teammate, organization=teammate.organization,
                                   method="microsoft")
    tasks.audit_purge()
    assert list(SignIn.objects.all()) == [recent]
