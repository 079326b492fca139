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

from connectivity.api.serializers import RequestSerializer, StaffRequestSerializer
from connectivity.models import Cluster, ConnectivityRequest, RequestState
from tests.factories import (
    DnsForwardingRequestFactory,
    PeeringRequestFactory,
    PrivateDnsRequestFactory,
)

pytestmark = pytest.mark.django_db

FACTORIES = [PeeringRequestFactory, PrivateDnsRequestFactory, DnsForwardingRequestFactory]


def _declared(serializer_class: type[serializers.ModelSerializer], obj: Any, request: Request) -> dict:
    """What DRF's own field machinery renders for the same serializer."""
    return serializers.Serializer.to_representation(
        serializer_class(context={"request": request}), obj)


def _requests(cluster: Cluster) -> list[ConnectivityRequest]:
    now = timezone.now()
    made = []
    for index, state in enumerate(RequestState.values):
        factory = FACTORIES[index % len(FACTORIES)]
        extra: dict[str, Any] = {}
        if index % 2:
            extra = {"approved_at": now, "activated_at": now - timedelta(microseconds=1),
                     "grant_revoked_at": now, "preflight_ran_at": now,
                     "status_message": "Grant the role, then verify.",
                     "preflight": [{"key": "role", "label": "Role", "status": "fail",
                                    "message": "Missing"}],
                     "allow_forwarded_traffic": True}
        made.append(factory(cluster=cluster, state=state, **extra))
    made.append(PeeringRequestFactory(cluster=cluster, created_by=None))
    return list(ConnectivityRequest.objects.select_related("cluster", "created_by", "organization")
                .filter(pk__in=[r.pk for r in made]))


@pytest.mark.parametrize("serializer_class", [RequestSerializer, StaffRequestSerializer])
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland"])
def test_fast_rendering_equals_the_declared_fields(
    dedicated_cluster: Cluster, serializer_class: type[RequestSerializer], zone: str,
) -> None:
    request = Request(APIRequestFactory().get("/api/v1/requests/", HTTP_HOST="localhost"))
    rows = _requests(dedicated_cluster)
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        fast = serializer_class(rows, many=True, context={"request": request}).data
        for obj, rendered in zip(rows, fast, strict=True):
            declared = _declared(serializer_class, obj, request)
            assert list(rendered.items()) == list(declared.items())


def test_a_field_without_a_fast_getter_is_rendered_by_its_drf_field(
    dedicated_cluster: Cluster,
) -> None:
    class WithExtra(RequestSerializer):
        step = serializers.CharField(read_only=True)

        class Meta(RequestSerializer.Meta):
            fields = [*RequestSerializer.Meta.fields, "step"]

    obj = PeeringRequestFactory(cluster=dedicated_cluster, step="cluster_peering")
    request = Request(APIRequestFactory().get("/", HTTP_HOST="localhost"))
    rendered = WithExtra(obj, context={"request": request}).data
    assert rendered["step"] == "cluster_peering"
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
