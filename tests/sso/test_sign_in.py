"""Sign in with Microsoft end to end: tenant mapping, refusals, SSO-required, staff and MFA."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.test import Client

from connectivity import demo
from connectivity.models import Membership, Organization, SignIn, User
from tests.factories import PASSWORD
from tests.sso.conftest import Entra, confirm_tenant, signed_in_user

pytestmark = pytest.mark.django_db


def test_first_sign_in_from_a_confirmed_tenant_joins_its_organisation_as_member(
        entra: Entra, organization: Organization, customer: User) -> None:
    confirm_tenant(organization)
    client = Client()
    response = entra.sign_in(client, "ada@contoso.example")
    assert response.status_code == 302 and response["Location"] == "/"
    ada = signed_in_user(client)
    assert ada is not None and ada.email == "ada@contoso.example"
    assert ada.membership.organization == organization
    assert ada.membership.role == Membership.Role.MEMBER
    assert ada.emailaddress_set.get().verified
    page = client.get("/")
    assert page.status_code == 200 and "Contoso Analytics" in page.content.decode()
    record = SignIn.objects.get(user=ada)
    assert (record.method, record.tenant_id, record.organization) == (
        "microsoft", demo.CUSTOMER_TENANT_ID, organization)


def test_existing_member_is_signed_in_to_their_own_account(
        entra: Entra, organization: Organization, customer: User) -> None:
    confirm_tenant(organization)
    client = Client()
    entra.sign_in(client, "customer@contoso.example")
    assert signed_in_user(client) == customer
    assert User.objects.filter(email__iexact="customer@contoso.example").count() == 1
    # The second time, the linked account (by object id) is used.
    second = Client()
    entra.sign_in(second, "customer@contoso.example")
    assert signed_in_user(second) == customer


def test_unclaimed_tenant_is_refused_with_a_clear_page(entra: Entra, organization: Organization
                                                      ) -> None:
    confirm_tenant(organization)
    client = Client()
    response = entra.sign_in(client, "mallory@fabrikam.example")
    page = response.content.decode()
    assert response.status_code == 403
    assert "You cannot sign in with this Microsoft account" in page
    assert demo.UNCLAIMED_TENANT_ID in page and "not linked to an organisation" in page
    assert signed_in_user(client) is None
    assert not User.objects.filter(email="mallory@fabrikam.example").exists()


def test_a_claim_staff_have_not_confirmed_lets_nobody_in(entra: Entra, organization: Organization,
                                                         customer: User) -> None:
    from connectivity.models import TenantClaim

    TenantClaim.objects.create(organization=organization, tenant_id=demo.CUSTOMER_TENANT_ID,
                               claimed_by=customer)
    client = Client()
    response = entra.sign_in(client, "ada@contoso.example")
    assert response.status_code == 403 and signed_in_user(client) is None


def test_an_account_in_another_organisation_is_never_taken_over(
        entra: Entra, organization: Organization, outsider: User) -> None:
    # Contoso's tenant says someone's email is the Fabrikam owner's: no way into that account.
    confirm_tenant(organization)
    entra.add_person(outsider.email, demo.CUSTOMER_TENANT_ID)
    client = Client()
    response = entra.sign_in(client, outsider.email)
    assert response.status_code == 403
    assert "not in the organisation that owns your Entra tenant" in response.content.decode()
    assert signed_in_user(client) is None
    assert outsider.membership.organization.slug == "fabrikam"


def test_a_staff_email_from_a_customer_tenant_is_refused(
        entra: Entra, organization: Organization, approver: User) -> None:
    confirm_tenant(organization)
    entra.add_person(approver.email, demo.CUSTOMER_TENANT_ID)
    client = Client()
    response = entra.sign_in(client, approver.email, demo.CUSTOMER_TENANT_ID)
    assert response.status_code == 403
    assert "Staff accounts sign in from the platform" in response.content.decode()
    assert signed_in_user(client) is None


@pytest.mark.parametrize("trusted", [True, False])
def test_staff_sign_in_from_the_platform_tenant_and_provider_mfa(
        entra: Entra, approver: User, settings: Any, trusted: bool) -> None:
    settings.SSO_TRUST_PROVIDER_MFA = trusted
    client = Client()
    entra.sign_in(client, "approver@platform.example")  # the demo's staff person did MFA
    assert signed_in_user(client) == approver
    assert client.session["cp_provider_mfa"] is trusted
    assert SignIn.objects.get(user=approver).provider_mfa


def test_provider_mfa_is_not_trusted_when_the_id_token_does_not_say_mfa(
        entra: Entra, approver: User, settings: Any) -> None:
    settings.SSO_TRUST_PROVIDER_MFA = True
    entra.add_person("support@platform.example", settings.AZURE_PLATFORM_TENANT_ID, mfa=False)
    from tests.factories import UserFactory

    support = UserFactory(email="support@platform.example", is_staff=True)
    client = Client()
    entra.sign_in(client, "support@platform.example")
    assert signed_in_user(client) == support
    assert client.session["cp_provider_mfa"] is False


def test_the_platform_tenant_signs_in_staff_only(entra: Entra, customer: User,
                                                 settings: Any) -> None:
    entra.add_person(customer.email, settings.AZURE_PLATFORM_TENANT_ID)
    client = Client()
    response = entra.sign_in(client, customer.email, settings.AZURE_PLATFORM_TENANT_ID)
    assert response.status_code == 403 and "for staff accounts" in response.content.decode()
    assert signed_in_user(client) is None


# --- SSO required --------------------------------------------------------------------------


def _password_sign_in(email: str) -> tuple[Client, Any]:
    client = Client()
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    return client, response


def test_sso_required_refuses_members_passwords_but_not_microsoft_or_staff(
        entra: Entra, organization: Organization, customer: User, teammate: User,
        approver: User) -> None:
    confirm_tenant(organization)
    owner = Client()
    owner.force_login(customer)
    assert owner.post("/sso/required/", {"sso_required": "on"}).status_code == 302
    organization.refresh_from_db()
    assert organization.sso_required

    client, response = _password_sign_in(teammate.email)
    assert response.status_code == 403
    page = response.content.decode()
    assert "Contoso Analytics requires single sign-on" in page
    assert "Sign in with Microsoft" in page
    assert signed_in_user(client) is None

    staff, response = _password_sign_in(approver.email)
    assert signed_in_user(staff) == approver

    entra.add_person(teammate.email, demo.CUSTOMER_TENANT_ID)
    sso_client = Client()
    entra.sign_in(sso_client, teammate.email)
    assert signed_in_user(sso_client) == teammate
    methods = set(SignIn.objects.values_list("user__email", "method"))
    assert methods == {(teammate.email, "microsoft"), (approver.email, "password")}


def test_password_sign_in_works_while_sso_is_not_required(organization: Organization,
                                                          teammate: User) -> None:
    client, response = _password_sign_in(teammate.email)
    assert response.status_code == 302 and signed_in_user(client) == teammate
    assert SignIn.objects.get(user=teammate).method == "password"


def test_removing_the_claim_stops_later_sign_ins(entra: Entra, organization: Organization,
                                                 customer: User) -> None:
    claim = confirm_tenant(organization)
    entra.sign_in(Client(), "ada@contoso.example")
    claim.delete()
    client = Client()
    assert entra.sign_in(client, "ada@contoso.example").status_code == 403
    assert signed_in_user(client) is None


def test_a_single_tenant_app_signs_in_through_that_tenant_only(entra: Entra, organization: Organization,
                                                   outsider: User, settings: Any) -> None:
    # MICROSOFT_TENANT=<Contoso's tenant>: even a confirmed Fabrikam tenant gets nowhere.
    confirm_tenant(organization)
    confirm_tenant(outsider.membership.organization, demo.UNCLAIMED_TENANT_ID)
    app = settings.SOCIALACCOUNT_PROVIDERS["microsoft"]["APPS"][0]
    app["settings"] = {**app["settings"], "tenant": demo.CUSTOMER_TENANT_ID}
    client = Client()
    response = client.post("/accounts/microsoft/login/")
    assert f"/{demo.CUSTOMER_TENANT_ID}/oauth2/v2.0/authorize" in response["Location"]
    page = requests.get(response["Location"], verify=entra.stack.simulator.ca_path, timeout=10)
    assert "ada@contoso.example" in page.text and "mallory@fabrikam.example" not in page.text
    entra.sign_in(client, "ada@contoso.example")
    assert signed_in_user(client) is not None
