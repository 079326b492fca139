"""Staff act only in sessions that passed the second factor, never on their own organisation's
requests; written as an attacker acts, over HTTP, with allauth's real sign-in forms."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from connectivity.models import ApiToken, ConnectivityRequest, Membership, RequestState, User
from tests.console.conftest import PASSING, give_totp
from tests.factories import PASSWORD, MembershipFactory, PeeringRequestFactory
from tests.security.helpers import sign_in, totp_code

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at")]


@pytest.fixture(autouse=True)
def fresh_counters(private_cache: None) -> None:
    """Rate limits and used TOTP codes live in a cache of this test's own."""


@pytest.fixture
def pending(dedicated_cluster: Any, customer: User) -> ConnectivityRequest:
    return PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer,
                                 state=RequestState.PENDING_APPROVAL, preflight=PASSING)


def approve_in_console(client: Client, req: ConnectivityRequest) -> Any:
    return client.post(reverse("console:action", kwargs={"request_id": req.pk,
                                                         "action": "approve"}))


def approve_in_api(client: Client, req: ConnectivityRequest) -> Any:
    return client.post(f"/api/v1/staff/requests/{req.pk}/approve/", {},
                       content_type="application/json")


def state_of(req: ConnectivityRequest) -> str:
    req.refresh_from_db()
    return req.state


def sign_in_with_code(client: Client, user: User, secret: str) -> None:
    """Password, then the authenticator app's code, through allauth's forms."""
    assert sign_in(client, user.email)["Location"] == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302, response.content.decode()[:2000]


# --- finding 3: the admin's password-only form -------------------------------------------------


def test_admin_login_is_allauths_sign_in_and_password_alone_approves_nothing(
    approver: User, pending: ConnectivityRequest
) -> None:
    give_totp(approver)
    client = Client()
    page = client.get("/admin/login/?next=/admin/connectivity/")
    assert page.status_code == 302
    assert page["Location"] == "/accounts/login/?next=%2Fadmin%2Fconnectivity%2F"
    # Django's bare form would have signed in here; now the POST goes nowhere.
    client.post("/admin/login/", {"username": approver.email, "password": PASSWORD})
    # allauth's form with the password alone stops at the second factor.
    assert sign_in(client, approver.email)["Location"] == reverse("mfa_authenticate")
    refused = approve_in_console(client, pending)
    assert refused.status_code == 302
    assert refused["Location"].startswith(reverse("account_login"))
    assert approve_in_api(client, pending).status_code in (401, 403)
    assert state_of(pending) == RequestState.PENDING_APPROVAL


def test_admin_needs_a_session_that_passed_mfa(db: None) -> None:
    root = MembershipFactory(user__email="root@platform.example", user__is_staff=True,
                             user__is_superuser=True).user
    secret = give_totp(root)
    client = Client()
    client.force_login(root)  # a session without a second factor, whatever made it
    response = client.get("/admin/")
    assert response["Location"] == "/accounts/2fa/reauthenticate/?next=%2Fadmin%2F"
    asked = client.get(response["Location"]).content.decode()
    assert "Enter a code from your authenticator app" in asked
    back = client.post(response["Location"], {"code": totp_code(secret)})
    assert back["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_signed_in_customer_gets_404_from_the_admin_login(customer: User) -> None:
    client = Client()
    client.force_login(customer)
    assert client.get("/admin/login/?next=/admin/").status_code == 404


# --- finding 4: staff API and token page -------------------------------------------------------


def test_staff_api_refuses_a_session_without_mfa(approver: User,
                                                 pending: ConnectivityRequest) -> None:
    client = Client()
    # No authenticator yet: allauth signs the password in, and the session has no second factor.
    assert sign_in(client, approver.email).status_code == 302
    response = approve_in_api(client, pending)
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]
    assert client.get("/api/v1/staff/requests/").status_code == 403
    assert state_of(pending) == RequestState.PENDING_APPROVAL


def test_staff_api_after_password_and_code_approves(approver: User, pending: ConnectivityRequest,
                                                    no_enqueue: list[str]) -> None:
    secret = give_totp(approver)
    client = Client()
    sign_in_with_code(client, approver, secret)
    assert approve_in_api(client, pending).status_code == 200
    assert state_of(pending) == RequestState.APPROVED


def test_staff_in_no_console_group_is_told_so(db: None, pending: ConnectivityRequest) -> None:
    intern = MembershipFactory(user__email="intern@platform.example", user__is_staff=True).user
    intern.membership.delete()
    secret = give_totp(intern)
    client = Client()
    sign_in_with_code(client, intern, secret)
    response = client.get("/api/v1/staff/requests/")
    assert response.status_code == 403
    assert "no console role" in response.json()["detail"]
    assert client.get(f"/api/v1/staff/requests/{pending.pk}/").status_code == 403
    assert approve_in_api(client, pending).status_code == 403


def test_support_reads_but_may_not_approve(support: User, pending: ConnectivityRequest) -> None:
    secret = give_totp(support)
    client = Client()
    sign_in_with_code(client, support, secret)
    assert client.get("/api/v1/staff/requests/").status_code == 200
    refused = approve_in_api(client, pending)
    assert refused.status_code == 403
    assert "approver" in refused.json()["detail"].lower()


def test_customers_still_get_404_from_the_staff_api(customer: User,
                                                    pending: ConnectivityRequest) -> None:
    client = Client()
    assert sign_in(client, customer.email).status_code == 302
    assert client.get("/api/v1/staff/requests/").status_code == 404
    assert approve_in_api(client, pending).status_code == 404


def test_staff_owner_without_session_mfa_mints_no_token(organization: Any) -> None:
    owner = MembershipFactory(organization=organization, role=Membership.Role.OWNER,
                              user__email="platform-owner@contoso.example",
                              user__is_staff=True).user
    client = Client()
    assert sign_in(client, owner.email).status_code == 302  # password only, no app yet
    response = client.post("/api/tokens/", {"name": "ci", "scope": "write", "expires": "30"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_activate_totp"))
    assert not ApiToken.objects.filter(organization=organization).exists()


# --- first sign-in: enrol once, no second password prompt, then the console -------------------


@pytest.mark.django_db(transaction=True)  # allauth signals the enrolment after its commit
def test_first_sign_in_enrols_without_asking_the_password_again(
    approver: User, pending: ConnectivityRequest, no_enqueue: list[str]
) -> None:
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    client = Client()
    assert sign_in(client, approver.email).status_code == 302
    to_enrol = client.get("/console/")
    assert to_enrol["Location"] == "/accounts/2fa/totp/activate/?next=%2Fconsole%2F"
    page = client.get(to_enrol["Location"])
    assert page.status_code == 200  # not "Confirm access" with the password again
    text = page.content.decode()
    assert "requires two-factor authentication" in text  # why this page is shown
    secret = client.session[SECRET_SESSION_KEY]
    done = client.post(to_enrol["Location"], {"code": totp_code(secret)})
    assert done.status_code == 302
    # Enrolling proved the factor for this session: the console opens and approving works.
    assert client.get("/console/").status_code == 200
    assert approve_in_console(client, pending).status_code == 302
    assert state_of(pending) == RequestState.APPROVED


# --- finding 7: four eyes --------------------------------------------------------------------


def test_staff_who_owns_the_customer_may_not_approve_its_request(
    organization: Any, dedicated_cluster: Any, customer: User
) -> None:
    from tests.conftest import staff_group

    insider = MembershipFactory(organization=organization, role=Membership.Role.OWNER,
                                user__email="insider@contoso.example", user__is_staff=True).user
    insider.groups.add(staff_group("approver"))
    req = PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer,
                                state=RequestState.PENDING_APPROVAL, preflight=PASSING)
    secret = give_totp(insider)
    client = Client()
    sign_in_with_code(client, insider, secret)
    review = client.get(reverse("console:review", kwargs={"request_id": req.pk})).content.decode()
    assert "your own organisation (Contoso Analytics) filed this request" in review
    assert 'disabled aria-describedby="four-eyes">Approve</button>' in review
    api = approve_in_api(client, req)
    assert api.status_code == 403
    assert "Four eyes" in api.json()["detail"]
    console = approve_in_console(client, req)
    assert console.status_code == 403
    assert "Four eyes" in console.content.decode()
    rejected = client.post(f"/api/v1/staff/requests/{req.pk}/reject/", {"reason": "mine"},
                           content_type="application/json")
    assert rejected.status_code == 403
    assert state_of(req) == RequestState.PENDING_APPROVAL


# --- what counts as "this session passed MFA" --------------------------------------------------


def test_only_the_second_factor_in_this_session_counts(approver: User, rf: Any) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    from connectivity.mfa import PROVIDER_MFA_SESSION_KEY, session_passed_mfa
    from tests.console.conftest import pass_mfa

    give_totp(approver)
    client = Client()
    client.force_login(approver)

    def passed() -> bool:
        request = rf.get("/")
        request.user = approver
        request.session = SessionStore(client.session.session_key)
        return session_passed_mfa(request)

    assert not passed()  # an authenticator on the account is not a code typed in this session
    session = client.session
    session[PROVIDER_MFA_SESSION_KEY] = "yes"  # only True, set by a trusted provider's sign-in
    session.save()
    assert not passed()
    session[PROVIDER_MFA_SESSION_KEY] = True
    session.save()
    assert passed()
    del session[PROVIDER_MFA_SESSION_KEY]
    session.save()
    pass_mfa(client, approver)
    assert passed()
    # Another user's records in this session say nothing about this user.
    request = rf.get("/")
    request.user = MembershipFactory(user__email="other@platform.example",
                                     user__is_staff=True).user
    request.session = SessionStore(client.session.session_key)
    assert not session_passed_mfa(request)


def test_the_demo_switch_still_turns_the_rule_off(approver: User, pending: ConnectivityRequest,
                                                  settings: Any, no_enqueue: list[str]) -> None:
    settings.CONSOLE_REQUIRE_MFA = False
    client = Client()
    assert sign_in(client, approver.email).status_code == 302
    assert client.get("/console/").status_code == 200
    assert approve_in_api(client, pending).status_code == 200


def test_an_action_posted_without_mfa_comes_back_to_its_page(approver: User,
                                                             pending: ConnectivityRequest) -> None:
    secret = give_totp(approver)
    client = Client()
    client.force_login(approver)
    review = reverse("console:review", kwargs={"request_id": pending.pk})
    refused = client.post(
        reverse("console:action", kwargs={"request_id": pending.pk, "action": "approve"}),
        HTTP_REFERER=f"http://testserver{review}")
    assert refused.status_code == 302
    assert refused["Location"].startswith(reverse("mfa_reauthenticate"))
    assert state_of(pending) == RequestState.PENDING_APPROVAL
    back = client.post(refused["Location"], {"code": totp_code(secret)})
    assert back["Location"] == f"http://testserver{review}"
