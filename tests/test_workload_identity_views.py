"""A dedicated cluster's workload identity, as customers see it on the dashboard and in the API
(another organisation sees neither: its cluster is a 404 for them)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from connectivity.api.serializers import ClusterSerializer
from connectivity.models import Cluster, User
from tests.api.conftest import client_with, make_token

pytestmark = pytest.mark.django_db

IDENTITY = {
    "resource_id": "/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/"
                   "rg-platform-identities/providers/Microsoft.ManagedIdentity/"
                   "userAssignedIdentities/id-cluster-contoso-prod",
    "client_id": "7a1c2e3f-4b5d-4c6e-8f70-8192a3b4c5d6",
    "principal_id": "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a",
    "tenant_id": "11111111-1111-4111-8111-111111111111",
}


@pytest.fixture
def with_identity(dedicated_cluster: Cluster) -> Cluster:
    for name, value in IDENTITY.items():
        setattr(dedicated_cluster, f"workload_identity_{name}", value)
    dedicated_cluster.save()
    return dedicated_cluster


def _browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_dashboard_shows_the_identity_with_copy_buttons(
    customer: User, with_identity: Cluster, standard_cluster: Cluster,
) -> None:
    html = _browser(customer).get("/").content.decode()
    assert html.count("Workload identity</summary>") == 1  # the dedicated cluster only
    for name in ("client_id", "principal_id", "tenant_id"):
        assert f'data-copy="{IDENTITY[name]}"' in html
    assert "Copy the principal id of contoso-prod's workload identity" in html


def test_another_organisation_sees_neither_the_cluster_nor_its_identity(
    outsider: User, with_identity: Cluster,
) -> None:
    html = _browser(outsider).get("/").content.decode()
    assert IDENTITY["principal_id"] not in html
    api = client_with(make_token(outsider))
    assert api.get(f"/api/v1/clusters/{with_identity.pk}/").status_code == 404
    assert IDENTITY["principal_id"] not in api.get("/api/v1/clusters/").content.decode()


def test_the_api_shows_the_identity_of_a_dedicated_cluster_and_null_for_others(
    customer: User, with_identity: Cluster, standard_cluster: Cluster,
) -> None:
    owner_api: APIClient = client_with(make_token(customer))
    detail = owner_api.get(f"/api/v1/clusters/{with_identity.pk}/").json()
    assert detail["workload_identity"] == IDENTITY
    listed = {c["name"]: c for c in owner_api.get("/api/v1/clusters/").json()}
    assert listed["contoso-prod"] == detail
    assert listed["shared-westeurope"]["workload_identity"] is None


def test_the_fast_cluster_rendering_equals_the_declared_fields(
    with_identity: Cluster, standard_cluster: Cluster,
) -> None:
    from rest_framework import serializers

    request = Request(APIRequestFactory().get("/api/v1/clusters/", HTTP_HOST="localhost"))
    rows = list(Cluster.objects.order_by("pk"))
    fast = ClusterSerializer(rows, many=True, context={"request": request}).data
    for obj, rendered in zip(rows, fast, strict=True):
        declared = serializers.Serializer.to_representation(
            ClusterSerializer(context={"request": request}), obj)
        assert list(rendered.items()) == list(declared.items())


def test_the_schema_describes_the_workload_identity(client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    cluster = schema["components"]["schemas"]["Cluster"]["properties"]["workload_identity"]
    assert cluster["allOf"] == [{"$ref": "#/components/schemas/WorkloadIdentity"}]
    assert cluster["nullable"] is True
    identity = schema["components"]["schemas"]["WorkloadIdentity"]["properties"]
    assert set(identity) == {"resource_id", "client_id", "principal_id", "tenant_id"}
    assert identity["principal_id"]["format"] == "uuid"


def test_the_demo_clusters_identity_is_seeded_in_the_simulator_and_usable(
    azure_stack: object, settings: object,
) -> None:
    from connectivity import demo
    from connectivity.azure import gateway

    fields = demo.workload_identity_fields("contoso-prod")
    identity = gateway.WorkloadIdentity(**{
        name: fields[f"workload_identity_{name}"]
        for name in ("resource_id", "client_id", "principal_id", "tenant_id")})
    shown = azure_stack.control.get_resource(identity.resource_id)  # type: ignore[attr-defined]
    assert shown["properties"] == {"clientId": identity.client_id,
                                   "principalId": identity.principal_id,
                                   "tenantId": identity.tenant_id}
    scope = demo.platform_vnet_id("vnet-cluster-contoso-prod").split("/providers/")[0]
    assert gateway.permissions_as_identity(scope=scope, identity=identity) == []
