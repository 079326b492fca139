"""Proof of control, tried as an attacker: organisation B (Fabrikam) against organisation A
(Contoso), over HTTP, against the Azure simulator.

A holds a dedicated cluster and its own VNet ``vnet-contoso-hub`` (10.20.0.0/16) in its own
tenant. B holds a dedicated cluster of its own. B tries to peer with A's cluster VNet, the
platform's subscription and tenant, and A's VNet while A's grant is in place.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from connectivity import demo, services
from connectivity.models import Cluster, ConnectivityRequest, RequestState, User
from tests.api.conftest import client_with, make_token
from tests.provisioning_helpers import drive
from tests.stack import (
    CUSTOMER_RESOURCE_GROUP,
    CUSTOMER_SUBSCRIPTION_ID,
    CUSTOMER_TENANT_ID,
    CUSTOMER_VNET_NAME,
    customer_vnet_id,
)

pytestmark = pytest.mark.django_db
S = RequestState

A_PREFIX = demo.CUSTOMER_VNET_PREFIXES[0]  # 10.20.0.0/16: what B must never learn
A_VNET = {"tenant_id": CUSTOMER_TENANT_ID, "subscription_id": CUSTOMER_SUBSCRIPTION_ID,
          "resource_group": CUSTOMER_RESOURCE_GROUP, "vnet_name": CUSTOMER_VNET_NAME}


@pytest.fixture
def b_cluster(outsider: User, azure_stack: Any) -> Cluster:
    """B's dedicated cluster, with its VNet in the platform's subscription."""
    azure_stack.control.create_vnet(
        tenant_id=settings.AZURE_PLATFORM_TENANT_ID,
        subscription_id=settings.AZURE_PLATFORM_SUBSCRIPTION_ID,
        resource_group=demo.PLATFORM_RESOURCE_GROUP, name="vnet-cluster-fabrikam",
        address_prefixes=["10.110.0.0/16"])
    return Cluster.objects.create(
        organization=outsider.organization, name="fabrikam-prod", region="westeurope",
        tier=Cluster.Tier.DEDICATED, vnet_id=demo.platform_vnet_id("vnet-cluster-fabrikam"),
        address_prefixes=["10.110.0.0/16"])


@pytest.fixture
def b_api(outsider: User) -> Any:
    return client_with(make_token(outsider, name="fabrikam-ci"))


@pytest.fixture
def a_api(customer: User) -> Any:
    return client_with(make_token(customer, name="contoso-ci"))


def file_peering(api: Any, cluster: Cluster, **fields: Any) -> Any:
    return api.post("/api/v1/requests/", {"cluster": cluster.pk, "kind": "vnet_peering",
                                          **fields}, format="json")


def a_request_granted(a_api: Any, sim_cluster: Cluster, azure_stack: Any) -> ConnectivityRequest:
    """A files its own peering and runs the grant commands (with A's proof)."""
    response = file_peering(a_api, sim_cluster, **A_VNET)
    assert response.status_code == 201, response.content
    request = ConnectivityRequest.objects.get(pk=response.json()["id"])
    azure_stack.grant(request)
    return request


# --- never the platform's own scopes ------------------------------------------------------


def test_b_cannot_file_a_peering_to_a_s_cluster_vnet(b_api: Any, b_cluster: Cluster,
                                                     sim_cluster: Cluster) -> None:
    response = file_peering(b_api, b_cluster, tenant_id=settings.AZURE_PLATFORM_TENANT_ID,
                            vnet_id=sim_cluster.vnet_id)
    assert response.status_code == 400
    problem = response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert "not the platform's" in problem["errors"]["tenant_id"][0]
    assert "platform's own networks" in problem["errors"]["subscription_id"][0]
    assert "cluster VNet of the platform" in problem["errors"]["vnet_name"][0]
    assert not ConnectivityRequest.objects.filter(cluster=b_cluster).exists()


@pytest.mark.parametrize(("fields", "field"), [
    # The platform's subscription, even in a tenant of B's.
    ({"tenant_id": CUSTOMER_TENANT_ID, "subscription_id": "22222222-2222-4222-8222-222222222222",
      "resource_group": "rg-anything", "vnet_name": "vnet-anything"}, "subscription_id"),
    # The platform's tenant, with any subscription.
    ({"tenant_id": "11111111-1111-4111-8111-111111111111",
      "subscription_id": "99999999-9999-4999-8999-999999999999",
      "resource_group": "rg-anything", "vnet_name": "vnet-anything"}, "tenant_id"),
])
def test_b_cannot_file_for_the_platform_s_subscription_or_tenant(
        b_api: Any, b_cluster: Cluster, fields: dict[str, str], field: str) -> None:
    response = file_peering(b_api, b_cluster, **fields)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_a_subscription_a_cluster_lives_in_is_the_platform_s_too(
        b_api: Any, b_cluster: Cluster, organization: Any) -> None:
    other_sub = "66666666-6666-4666-8666-666666666666"
    Cluster.objects.create(
        organization=organization, name="contoso-eu2", region="westeurope",
        tier=Cluster.Tier.DEDICATED,
        vnet_id=f"/subscriptions/{other_sub}/resourceGroups/rg-eu2/providers/"
                "Microsoft.Network/virtualNetworks/vnet-cluster-eu2")
    response = file_peering(b_api, b_cluster, tenant_id=CUSTOMER_TENANT_ID,
                            vnet_id=f"/subscriptions/{other_sub}/resourceGroups/rg-eu2/providers/"
                                    "Microsoft.Network/virtualNetworks/vnet-cluster-eu2")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"subscription_id", "vnet_name"}


def test_the_portal_form_refuses_a_cluster_vnet_naming_the_field(outsider: User,
                                                                  b_cluster: Cluster,
                                                                  sim_cluster: Cluster) -> None:
    client = Client()
    client.force_login(outsider)
    response = client.post(reverse("request_new"), {
        "cluster": str(b_cluster.pk), "kind": "vnet_peering",
        "vnet_peering-tenant_id": CUSTOMER_TENANT_ID,
        "vnet_peering-vnet_resource_id": sim_cluster.vnet_id,
    })
    assert response.status_code == 400
    page = response.content.decode()
    assert "Subscription ID must be a subscription of yours" in page
    assert "VNet name must name your own VNet" in page
    assert not ConnectivityRequest.objects.filter(cluster=b_cluster).exists()


# --- riding another organisation's grant --------------------------------------------------


def test_b_cannot_ride_a_s_grant_and_a_is_told(
        a_api: Any, b_api: Any, customer: User, outsider: User, approver: User,
        sim_cluster: Cluster, b_cluster: Cluster, azure_stack: Any, scheduler: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    a_request = a_request_granted(a_api, sim_cluster, azure_stack)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        filed = file_peering(b_api, b_cluster, **A_VNET)
    assert filed.status_code == 201
    b_id = filed.json()["id"]
    verified = b_api.post(f"/api/v1/requests/{b_id}/verify-grant/")
    assert verified.status_code == 200
    result = verified.json()
    assert result["passed"] is False and result["state"] == S.AWAITING_GRANT
    checks = {c["key"]: c for c in result["checks"]}
    assert checks["control_proved"]["status"] == "fail"
    b_request = ConnectivityRequest.objects.get(pk=b_id)
    assert b_request.proof in checks["control_proved"]["message"]
    assert "az role assignment update" in checks["control_proved"]["message"]
    # Nothing about A's VNet, A's grant or A itself reaches B.
    seen = json.dumps([result, b_api.get(f"/api/v1/requests/{b_id}/").json(),
                       b_api.get(f"/api/v1/requests/{b_id}/events/").json()])
    for secret in (A_PREFIX, a_request.proof, "Contoso", customer.email, "westeurope"):
        assert secret not in seen, secret
    assert all(checks[k]["status"] == "pending"
               for k in ("role_granted", "vnet_readable", "address_space", "pair_not_peered"))

    # A is told: an email to its owner, an event on its request's timeline; B is not named.
    notices = [m for m in mail.outbox if "another organisation" in m.subject.lower()]
    assert [m.to for m in notices] == [[customer.email]]
    assert "Fabrikam" not in notices[0].body and outsider.email not in notices[0].body
    events = a_api.get(f"/api/v1/requests/{a_request.pk}/events/").json()
    assert any(e["action"] == "vnet_claim_attempt" for e in events["results"])
    assert not any(outsider.email in m.to for m in mail.outbox)

    # Even a staff override never writes to A's VNet: pre-flight before provisioning stops it...
    ConnectivityRequest.objects.filter(pk=b_id).update(state=S.PENDING_APPROVAL)
    b_request.refresh_from_db()
    services.request_approve(request=b_request, actor=approver,
                             override_reason="customer says the grant is fine")
    b_request = drive(b_request, scheduler, django_capture_on_commit_callbacks)
    assert b_request.state == S.ACTION_NEEDED
    assert "proof of control" in b_request.status_message.lower()
    # ...and so does the re-check right before each write, when pre-flight is skipped.
    for step in ("cluster_peering", "customer_peering"):
        ConnectivityRequest.objects.filter(pk=b_id).update(state=S.PROVISIONING, step=step)
        b_request.refresh_from_db()
        b_request = drive(b_request, scheduler, django_capture_on_commit_callbacks)
        assert b_request.state == S.ACTION_NEEDED and b_request.step == step
        assert b_request.proof in b_request.status_message
    assert azure_stack.peerings_on(customer_vnet_id()) == []
    assert azure_stack.peerings_on(b_cluster.vnet_id) == []


def test_a_proof_from_another_request_of_the_same_organisation_does_not_count(
        a_api: Any, customer: User, sim_cluster: Cluster, azure_stack: Any,
        organization: Any) -> None:
    first = a_request_granted(a_api, sim_cluster, azure_stack)
    second_cluster = Cluster.objects.create(
        organization=organization, name="contoso-dr", region="westeurope",
        tier=Cluster.Tier.DEDICATED, vnet_id=demo.platform_vnet_id("vnet-cluster-contoso-dr"),
        address_prefixes=["10.120.0.0/16"])
    response = file_peering(a_api, second_cluster, **A_VNET)
    second = ConnectivityRequest.objects.get(pk=response.json()["id"])
    assert second.proof != first.proof
    checks = {c["key"]: c for c in
              a_api.post(f"/api/v1/requests/{second.pk}/verify-grant/").json()["checks"]}
    assert checks["control_proved"]["status"] == "fail"
    # The grant package says how to add this request's proof to the existing assignment.
    package = a_api.get(f"/api/v1/requests/{second.pk}/grant/").json()
    assert package["proof"] == second.proof
    assert second.proof in package["proof_update_command"]
    azure_stack.grant(second)  # what the update command does: both proofs in one description
    checks = {c["key"]: c for c in
              a_api.post(f"/api/v1/requests/{second.pk}/verify-grant/").json()["checks"]}
    assert checks["control_proved"]["status"] == "pass"
    assert checks["role_granted"]["status"] == "pass"
    # The first request's proof is still there.
    first_checks = a_api.post(f"/api/v1/requests/{first.pk}/verify-grant/").json()
    assert first_checks["passed"] is True


def test_the_happy_path_still_reaches_active(
        a_api: Any, approver: User, sim_cluster: Cluster, azure_stack: Any, scheduler: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    request = a_request_granted(a_api, sim_cluster, azure_stack)
    assert a_api.post(f"/api/v1/requests/{request.pk}/verify-grant/").json()["passed"] is True
    request.refresh_from_db()
    services.request_approve(request=request, actor=approver)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    assert len(azure_stack.peerings_on(customer_vnet_id())) == 1


def test_teardown_without_the_proof_never_writes_in_the_customer_scope(
        a_api: Any, customer: User, approver: User, sim_cluster: Cluster, azure_stack: Any,
        scheduler: Any, django_capture_on_commit_callbacks: Any) -> None:
    request = a_request_granted(a_api, sim_cluster, azure_stack)
    a_api.post(f"/api/v1/requests/{request.pk}/verify-grant/")
    request.refresh_from_db()
    services.request_approve(request=request, actor=approver)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    # The customer's assignment now carries no proof of this request (replaced, say).
    azure_stack.revoke()
    azure_stack.grant(proof="cpp-someone-else")
    services.request_teardown(request=request, actor=customer)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.REMOVED
    assert azure_stack.peerings_on(azure_stack.cluster_vnet_id) == []
    assert len(azure_stack.peerings_on(customer_vnet_id())) == 1  # theirs, left alone
    assert "az network vnet peering delete" in request.status_message
