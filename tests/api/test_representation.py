"""The API's fast rendering of requests is exactly what the declared DRF fields render.

`RequestSerializer` and `StaffRequestSerializer` declare their fields (the schema) and render
the hot ones with plain getters (connectivity/api/fast.py). Here both renderings are compared,
key order included, for every kind and state, every optional value set and unset, through the
serializers and over HTTP.
"""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from connectivity import kinds
from connectivity.api.serializers import RequestSerializer, StaffRequestSerializer
from connectivity.models import Cluster, ConnectionStatus, ConnectivityRequest, RequestState
from tests.factories import (
    DnsForwardingRequestFactory,
    PeeringRequestFactory,
    PrivateDnsRequestFactory,
)

pytestmark = pytest.mark.django_db

FACTORIES = [PeeringRequestFactory, PrivateDnsRequestFactory, DnsForwardingRequestFactory]
NOT_A_PEERING = {"tenant_id": "", "subscription_id": "", "resource_group": "", "vnet_name": ""}
# The kinds without a factory of their own, as their spec holds them.
OTHER_KINDS: list[dict[str, Any]] = [
    {"kind": "workload_identity", **NOT_A_PEERING, "role": "Storage Blob Data Reader",
     "resource_id": "/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg/"
                    "providers/Microsoft.Storage/storageAccounts/stcontoso"},
    {"kind": "private_endpoint", **NOT_A_PEERING, "group_id": "vault",
     "dns_zone_name": "privatelink.contoso.internal", "dns_record_name": "kv",
     "link_target": "/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg/"
                    "providers/Microsoft.KeyVault/vaults/kv-contoso"},
    {"kind": "hub_connection", "vnet_name": "", "hub_name": "hub-weu"},
]


def _declared(serializer_class: type[serializers.ModelSerializer], obj: Any, request: Request) -> dict:
    """What DRF's own field machinery renders for the same serializer."""
    return serializers.Serializer.to_representation(
        serializer_class(context={"request": request}), obj)


def _requests(cluster: Cluster) -> list[ConnectivityRequest]:
    now = timezone.now()
    cluster.workload_identity_resource_id = (
        "/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/rg/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/id-contoso-prod")
    cluster.workload_identity_client_id = "66666666-6666-4666-8666-666666666666"
    cluster.workload_identity_principal_id = "77777777-7777-4777-8777-777777777777"
    cluster.workload_identity_tenant_id = "11111111-1111-4111-8111-111111111111"
    cluster.save()
    made = []
    for index, state in enumerate(RequestState.values):
        for kind in [*FACTORIES, *OTHER_KINDS]:
            extra: dict[str, Any] = {}
            if index % 2:
                extra = {"approved_at": now, "activated_at": now - timedelta(microseconds=1),
                         "preflight_ran_at": now, "status_message": "Grant the role, then verify.",
                         "preflight": [{"key": "role", "label": "Role", "status": "fail",
                                        "message": "Missing"}],
                         "allow_forwarded_traffic": True}
            if index % 3 == 1:
                extra["grant_revoked_at"] = now
            if index % 3 == 2:  # the grant was seen and is not revoked: the reminder is pending
                extra["grant_seen_at"] = now
            if isinstance(kind, dict):
                made.append(PeeringRequestFactory(cluster=cluster, state=state, **kind, **extra))
            else:
                made.append(kind(cluster=cluster, state=state, **extra))
            if index % 2 == 0:
                ConnectionStatus.objects.create(
                    request=made[-1], checked_at=now if index % 4 else None,
                    health=ConnectionStatus.Health.DEGRADED if index % 4 else
                    ConnectionStatus.Health.OK,
                    summary="Connected, FullyInSync", reason="" if index % 4 else "It broke.",
                    parts=[{"label": "Cluster side", "name": "peer-1", "state": "Connected",
                            "sync_level": "FullyInSync"}])
    made.append(PeeringRequestFactory(cluster=cluster, created_by=None))
    return list(ConnectivityRequest.objects.select_related(
        "cluster", "created_by", "organization", "connection_status")
        .filter(pk__in=[r.pk for r in made]))


@pytest.mark.parametrize("serializer_class", [RequestSerializer, StaffRequestSerializer])
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
def test_fast_rendering_equals_the_declared_fields(
    dedicated_cluster: Cluster, serializer_class: type[RequestSerializer], zone: str,
) -> None:
    request = Request(APIRequestFactory().get("/api/v1/requests/", HTTP_HOST="localhost"))
    rows = _requests(dedicated_cluster)
    assert {r.kind for r in rows} == set(kinds.all_keys())
    assert any(r.grant_seen_at and not r.grant_revoked_at for r in rows)
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        fast = serializer_class(rows, many=True, context={"request": request}).data
        for obj, rendered in zip(rows, fast, strict=True):
            declared = _declared(serializer_class, obj, request)
            assert list(rendered.items()) == list(declared.items())
    # Every value kind shows up somewhere, so none is compared only when empty.
    assert any(r["connection"] for r in fast) and any(not r["connection"] for r in fast)
    assert any(r["revoke_reminder"]["pending"] for r in fast)
    assert any(r["customer_command"] for r in fast)
    assert any(r["resource_id"] for r in fast) and any(r["link_target"] for r in fast)
    assert any(r["dns_zone_name"] for r in fast) and any(r["dns_record_name"] for r in fast)


@pytest.mark.parametrize("serializer_class", [RequestSerializer, StaffRequestSerializer])
def test_a_list_pages_rows_render_as_the_requests_themselves(
    dedicated_cluster: Cluster, serializer_class: type[RequestSerializer],
) -> None:
    """A list page reads its creators' emails alone (`for_the_page`); the rows come out the same."""
    request = Request(APIRequestFactory().get("/api/v1/requests/", HTTP_HOST="localhost"))
    rows = _requests(dedicated_cluster)
    paged = {r.pk: r for r in serializer_class.for_the_page(ConnectivityRequest.objects.all())}
    assert any(r.created_by is None for r in rows)
    for obj in rows:
        assert (serializer_class(paged[obj.pk], context={"request": request}).data
                == serializer_class(obj, context={"request": request}).data)
        assert (_declared(serializer_class, paged[obj.pk], request)
                == _declared(serializer_class, obj, request))


def test_a_field_without_a_fast_getter_is_rendered_by_its_drf_field(
    dedicated_cluster: Cluster,
) -> None:
    class WithExtra(RequestSerializer):
        step = serializers.CharField(read_only=True)

        class Meta(RequestSerializer.Meta):
            fields = [*RequestSerializer.Meta.fields, "step", "attempts"]  # declared; the model's
            read_only_fields = fields

    obj = PeeringRequestFactory(cluster=dedicated_cluster, step="cluster_peering", attempts=3)
    request = Request(APIRequestFactory().get("/", HTTP_HOST="localhost"))
    rendered = WithExtra(obj, context={"request": request}).data
    assert rendered["step"] == "cluster_peering" and rendered["attempts"] == 3
    assert rendered == _declared(WithExtra, obj, request)


def test_list_and_detail_over_http_carry_absolute_links(
    owner_api: APIClient, dedicated_cluster: Cluster,
) -> None:
    obj = PeeringRequestFactory(cluster=dedicated_cluster)
    listed = owner_api.get("/api/v1/requests/").json()["results"][0]
    detail = owner_api.get(f"/api/v1/requests/{obj.pk}/").json()
    assert listed == detail
    base = f"http://testserver/api/v1/requests/{obj.pk}/"
    assert detail["url"] == base
    assert detail["links"] == {
        "grant": f"{base}grant/", "verify_grant": f"{base}verify-grant/",
        "events": f"{base}events/", "comments": f"{base}comments/",
        "cancel": f"{base}cancel/", "teardown": f"{base}teardown/"}
