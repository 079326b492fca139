"""Console fixtures: staff users carry a TOTP authenticator, as the console requires."""

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


@pytest.fixture
def approver_client(approver: User) -> Client:
    give_totp(approver)
    return signed_in(approver)


@pytest.fixture
def support_client(support: User) -> Client:
    give_totp(support)
    return signed_in(support)


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
