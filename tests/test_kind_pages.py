"""The request and grant pages speak of what each kind's grant sits on: a hub connection's
revoke reminder names the hub and what the role allows there, its way back from degraded
names the hub, and a workload identity grant's tells the customer to assign the role again
(nothing of the platform's is re-created)."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectivity.models import Cluster, ConnectivityRequest, RequestState, User

pytestmark = pytest.mark.django_db
S = RequestState
HUB = {"tenant_id": "44444444-4444-4444-8444-444444444444",
       "subscription_id": "55555555-5555-4555-8555-555555555555",
       "resource_group": "rg-contoso-network", "hub_name": "hub-contoso-weu"}


def page(customer: User, name: str, request: ConnectivityRequest) -> str:
    client = Client()
    client.force_login(customer)
    response = client.get(reverse(name, args=[request.pk]))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def hub_request(cluster: Cluster, state: str, **extra: object) -> ConnectivityRequest:
    return ConnectivityRequest.objects.create(
        organization=cluster.organization, cluster=cluster, kind="hub_connection", state=state,
        spec=dict(HUB), grant_seen_at=timezone.now(), **extra)


def test_an_active_hub_connections_revoke_reminder_names_the_hub(
        customer: User, dedicated_cluster: Cluster) -> None:
    request = hub_request(dedicated_cluster, S.ACTIVE)
    text = page(customer, "request_detail", request)
    assert ("Until you revoke it, the platform can still create and delete connections on "
            "<strong>hub-contoso-weu</strong>.") in text
    assert "change peerings on" not in text
    assert "the platform's role on your virtual hub is gone" in text  # shown once revoked


def test_a_degraded_hub_connection_says_to_grant_on_the_hub_again(
        customer: User, dedicated_cluster: Cluster) -> None:
    text = page(customer, "request_detail", hub_request(dedicated_cluster, S.DEGRADED))
    assert "Grant the platform's role on your virtual hub again, then verify" in text
    assert "role on your VNet" not in text, text[text.index("role on your VNet") - 300:][:400]


def test_the_hub_grant_page_speaks_of_the_hub(customer: User, dedicated_cluster: Cluster) -> None:
    text = page(customer, "request_grant", hub_request(dedicated_cluster, S.AWAITING_GRANT))
    assert "only someone who may assign roles on your virtual hub can do that" in text
    assert 'already holds the role on <span class="mono">hub-contoso-weu</span>' in text
    assert "your VNet" not in text and "Once the peering is active" not in text


def test_a_peerings_pages_keep_their_words(customer: User, dedicated_cluster: Cluster) -> None:
    request = ConnectivityRequest.objects.create(
        organization=dedicated_cluster.organization, cluster=dedicated_cluster,
        kind="vnet_peering", state=S.ACTIVE, grant_seen_at=timezone.now(),
        spec={**{k: v for k, v in HUB.items() if k != "hub_name"}, "vnet_name": "vnet-hub"})
    text = page(customer, "request_detail", request)
    assert "can still change peerings on <strong>vnet-hub</strong>." in text
    assert "the platform's role on your VNet is gone" in text


def test_a_degraded_workload_identity_grant_says_to_assign_the_role_again(
        customer: User, dedicated_cluster: Cluster) -> None:
    request = ConnectivityRequest.objects.create(
        organization=dedicated_cluster.organization, cluster=dedicated_cluster,
        kind="workload_identity", state=S.DEGRADED, spec={
            "resource_id": "/subscriptions/77777777-7777-4777-8777-777777777777/resourceGroups/"
                           "rg-data/providers/Microsoft.Storage/storageAccounts/contosodata",
            "role": "Storage Blob Data Reader"})
    text = page(customer, "request_detail", request)
    panel = text.split('data-degraded', 1)[1].split("</section>", 1)[0]
    assert "Assign the role to the cluster's workload identity again" in panel
    assert "re-creates what is missing" not in panel
