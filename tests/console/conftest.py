"""Console fixtures: staff users carry a TOTP authenticator and their sessions passed it, as the
console requires."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client

from connectivity.models import ConnectivityRequest, RequestState, User
from tests.factories import PeeringRequestFactory

PASSING = [
    {"key": "cluster_dedicated", "label": "Cluster is dedicated", "status": "pass",
     "message": "contoso-prod is dedicated."},
    {"key": "no_duplicate", "label": "No other request for the same connection",
     "status": "pass", "message": "No other open request covers this."},
]
FAILING = [
    {"key": "role_granted", "label": "Role granted", "status": "fail",
     "message": "The platform's role is not assigned on the VNet."},
]


def give_totp(user: User) -> str:
    """Activate an authenticator app for the user; returns its secret (to compute codes)."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pass_mfa(client: Client, user: User) -> Client:
    """Record in the client's session what allauth records after a password and a TOTP code
    (tests that act as an attacker sign in over HTTP instead; see tests/security/test_staff_mfa.py)."""
    from allauth.account.internal.flows.login import record_authentication
    from django.test import RequestFactory

    session = client.session
    request = RequestFactory().get("/")
    request.session = session
    request.user = user
    record_authentication(request, user, method="password", email=user.email)
    record_authentication(request, user, method="mfa", type="totp")
    session.save()
    return client


def mfa_signed_in(user: User) -> Client:
    """A staff member signed in with password and authenticator app."""
    if not user.authenticator_set.filter(type="totp").exists():
        give_totp(user)
    return pass_mfa(signed_in(user), user)


@pytest.fixture
def approver_client(approver: User) -> Client:
    return mfa_signed_in(approver)


@pytest.fixture
def support_client(support: User) -> Client:
    return mfa_signed_in(support)


@pytest.fixture
def customer_client(customer: User) -> Client:
    return signed_in(customer)


@pytest.fixture
def outsider_client(outsider: User) -> Client:
    return signed_in(outsider)


@pytest.fixture
def pending(dedicated_cluster, customer) -> ConnectivityRequest:
    """A peering waiting for approval whose pre-flight passed."""
    return PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer,
                                 state=RequestState.PENDING_APPROVAL, preflight=PASSING,
                                 vnet_name="vnet-contoso-data")
