"""Private DNS zones belong to one organisation, as two organisations filing the same zone name
over the API see it against the simulator: two zones, each linked to its own cluster only; one
organisation's records and teardown never touch the other's zone; and nothing one is told
reveals what the other uses. Reserved names are refused on the form and the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from connectivity import demo, services
from connectivity.models import Cluster, ConnectivityRequest, Membership, Organization, RequestState
from tests.api.conftest import client_with, make_token
from tests.factories import MembershipFactory, OrganizationFactory
from tests.provisioning_helpers import drive
from tests.test_views import as_user

pytestmark = pytest.mark.django_db
S = RequestState
ZONE = "corp.shared-name.internal"


@pytest.fixture
def org_a(organization: Organization, sim_cluster: Cluster) -> Organization:
    organization.auto_approve = True
    organization.save()
    return organization


@pytest.fixture
def org_b(azure_stack: Any) -> tuple[Organization, Cluster]:
    org = OrganizationFactory(name="Fabrikam", slug="fabrikam", auto_approve=True)
    vnet = azure_stack.control.create_vnet(
        tenant_id=settings.AZURE_PLATFORM_TENANT_ID,
        subscription_id=settings.AZURE_PLATFORM_SUBSCRIPTION_ID,
        resource_group=demo.PLATFORM_RESOURCE_GROUP, name="vnet-cluster-fabrikam-prod",
        address_prefixes=["10.101.0.0/16"], has_gateway=False)
    cluster = Cluster.objects.create(
        organization=org, name="fabrikam-prod", region="westeurope", tier=Cluster.Tier.DEDICATED,
        vnet_id=vnet["id"], address_prefixes=["10.101.0.0/16"], external_ips=["20.54.102.1"])
    return org, cluster


def _api_for(org: Organization, email: str) -> APIClient:
    user = MembershipFactory(organization=org, role=Membership.Role.OWNER, user__email=email).user
    return client_with(make_token(user, name=f"ci-{org.slug}"))


def _file_zone(api: APIClient, cluster: Cluster, ip: str) -> dict[str, Any]:
    response = api.post("/api/v1/requests/", {
        "cluster": cluster.pk, "kind": "private_dns", "zone_name": ZONE, "submit": True,
        "records": [{"name": "db", "ip": ip}]}, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def _zones(stack: Any) -> list[dict[str, Any]]:
    return [z for z in stack.resources("privateDnsZones") if z["name"] == ZONE]


def _links_of(stack: Any, zone_id: str) -> list[str]:
    prefix = zone_id.lower() + "/virtualnetworklinks/"
    return [link["properties"]["virtualNetwork"]["id"].lower()
            for link in stack.resources("privateDnsZones/virtualNetworkLinks")
            if link["id"].lower().startswith(prefix)]


def _record_ips(stack: Any, zone_id: str) -> list[str]:
    prefix = zone_id.lower() + "/a/"
    return sorted(a["ipv4Address"] for r in stack.resources("privateDnsZones/A")
                  if r["id"].lower().startswith(prefix) for a in r["properties"]["aRecords"])


def _provision(request_id: str, scheduler: Any, capture: Any) -> ConnectivityRequest:
    request = ConnectivityRequest.objects.get(pk=request_id)
    assert request.state == S.APPROVED, request.preflight
    return drive(request, scheduler, capture)


def test_same_zone_name_gives_each_organisation_its_own_zone_and_teardown(
        org_a: Organization, sim_cluster: Cluster, org_b: tuple[Organization, Cluster],
        azure_stack: Any, scheduler: Any, django_capture_on_commit_callbacks: Any) -> None:
    b_org, b_cluster = org_b
    api_a = _api_for(org_a, "ops@contoso.example")
    api_b = _api_for(b_org, "ops@fabrikam.example")

    a = _provision(_file_zone(api_a, sim_cluster, "10.20.1.4")["id"], scheduler,
                   django_capture_on_commit_callbacks)
    filed_b = _file_zone(api_b, b_cluster, "10.30.9.9")
    # B is told nothing about A: every check passes, and no message names A's zone or group.
    assert filed_b["state"] == S.APPROVED
    assert filed_b["preflight_passed"] is True
    b_view = json.dumps(filed_b) + api_b.get(f"/api/v1/requests/{filed_b['id']}/events/").content.decode()
    assert "already exists" not in b_view
    assert a.azure_resources["zone_id"].lower() not in b_view.lower()
    assert f"org-{org_a.pk}" not in b_view
    b = _provision(filed_b["id"], scheduler, django_capture_on_commit_callbacks)
    assert a.state == S.ACTIVE and b.state == S.ACTIVE, (a.status_message, b.status_message)

    zone_a, zone_b = a.azure_resources["zone_id"], b.azure_resources["zone_id"]
    assert zone_a.lower() != zone_b.lower()
    assert len(_zones(azure_stack)) == 2
    assert _links_of(azure_stack, zone_a) == [sim_cluster.vnet_id.lower()]
    assert _links_of(azure_stack, zone_b) == [b_cluster.vnet_id.lower()]
    assert _record_ips(azure_stack, zone_a) == ["10.20.1.4"]  # B's db record did not overwrite
    assert _record_ips(azure_stack, zone_b) == ["10.30.9.9"]

    assert api_b.post(f"/api/v1/requests/{b.pk}/teardown/", {"reason": "done"},
                      format="json").status_code == 200
    b = drive(ConnectivityRequest.objects.get(pk=b.pk), scheduler,
              django_capture_on_commit_callbacks)
    assert b.state == S.REMOVED
    assert [z["id"].lower() for z in _zones(azure_stack)] == [zone_a.lower()]
    assert _links_of(azure_stack, zone_a) == [sim_cluster.vnet_id.lower()]
    assert _record_ips(azure_stack, zone_a) == ["10.20.1.4"]


def test_a_request_keeps_the_zone_it_recorded(
        org_a: Organization, sim_cluster: Cluster, azure_stack: Any, scheduler: Any,
        django_capture_on_commit_callbacks: Any, customer: Any) -> None:
    """Zones made before zones were per organisation stay where they are; teardown uses the id."""
    from connectivity.azure import gateway

    legacy_group = demo.PLATFORM_RESOURCE_GROUP
    old = gateway.private_zone_create(subscription_id=settings.AZURE_PLATFORM_SUBSCRIPTION_ID,
                                      resource_group=legacy_group, zone_name=ZONE)
    request = ConnectivityRequest.objects.create(
        organization=org_a, cluster=sim_cluster, kind="private_dns", created_by=customer,
        zone_name=ZONE, records=[{"name": "db", "ip": "10.20.1.4"}], state=S.ACTIVE,
        azure_resources={"zone_id": old.id})
    request = drive(services.request_teardown(request=request, actor=customer), scheduler,
                    django_capture_on_commit_callbacks)
    assert request.state == S.REMOVED
    assert _zones(azure_stack) == []


def test_pre_flight_names_only_the_organisations_own_zone(
        org_a: Organization, sim_cluster: Cluster, azure_stack: Any, scheduler: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    api_a = _api_for(org_a, "ops@contoso.example")
    first = _provision(_file_zone(api_a, sim_cluster, "10.20.1.4")["id"], scheduler,
                       django_capture_on_commit_callbacks)
    second = api_a.post("/api/v1/requests/", {
        "cluster": sim_cluster.pk, "kind": "private_dns", "zone_name": ZONE.upper(),
        "submit": True, "records": [{"name": "api", "ip": "10.20.1.5"}]}, format="json").json()
    assert second["preflight_passed"] is False
    messages = " ".join(c["message"] for c in second["preflight"])
    assert "already exists on the platform" not in messages
    assert first.short_id in messages or "already linked" in messages


RESERVED = [
    "login.microsoftonline.com", "microsoftonline.com", "management.azure.com", "azure.com",
    "blob.core.windows.net", "windows.net", "net", "myregistry.azurecr.io", "vault.azure.net",
    "microsoft.com", "contoso.azurewebsites.net", "cloudapp.net", "gw.azure-api.net",
    "privatelink.azure.com",
]


@pytest.mark.parametrize("name", RESERVED)
def test_reserved_zone_names_are_refused_on_the_api_with_the_rule(
        name: str, org_a: Organization, sim_cluster: Cluster, azure_stack: Any) -> None:
    api = _api_for(org_a, "ops@contoso.example")
    response = api.post("/api/v1/requests/", {
        "cluster": sim_cluster.pk, "kind": "private_dns", "zone_name": name,
        "records": [{"name": "db", "ip": "10.20.1.4"}]}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]["zone_name"]
    assert any("Microsoft or Azure service domain" in e or "must be a DNS name" in e
               for e in errors), errors
    assert not ConnectivityRequest.objects.exists()


@pytest.mark.parametrize("name", ["windows.net", "login.microsoftonline.com",
                                  "privatelink.blob.core.windows.net", "com"])
def test_reserved_forwarding_domains_are_refused_on_the_api(
        name: str, org_a: Organization, sim_cluster: Cluster, azure_stack: Any) -> None:
    api = _api_for(org_a, "ops@contoso.example")
    response = api.post("/api/v1/requests/", {
        "cluster": sim_cluster.pk, "kind": "dns_forwarding", "domain_name": name,
        "dns_servers": ["10.20.0.4"]}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]["domain_name"]
    assert any("Microsoft or Azure service domain" in e or "must be a DNS name" in e
               for e in errors), errors


def test_private_link_zones_are_allowed(org_a: Organization, sim_cluster: Cluster,
                                        azure_stack: Any) -> None:
    api = _api_for(org_a, "ops@contoso.example")
    response = api.post("/api/v1/requests/", {
        "cluster": sim_cluster.pk, "kind": "private_dns",
        "zone_name": "privatelink.blob.core.windows.net",
        "records": [{"name": "mystorage", "ip": "10.20.1.4"}]}, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(("kind", "field", "name"), [
    ("private_dns", "zone_name", "management.azure.com"),
    ("dns_forwarding", "domain_name", "blob.core.windows.net"),
])
def test_reserved_names_are_refused_on_the_form(kind: str, field: str, name: str,
                                                customer: Any, sim_cluster: Cluster,
                                                azure_stack: Any) -> None:
    data = {"cluster": sim_cluster.pk, "kind": kind, f"{kind}-{field}": name,
            "private_dns-records": "db 10.20.1.4", "dns_forwarding-dns_servers": "10.20.0.4"}
    response = as_user(customer).post(reverse("request_new"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert f"{name} is not allowed" in page
    assert "Microsoft or Azure service domain" in page
    assert not ConnectivityRequest.objects.exists()
