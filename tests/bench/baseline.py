"""The benchmark's yardstick: what the request list and detail cost as plain Django views.

Same middleware (the project's settings), same three queries as the API (the token with its
creator and membership, the membership's organisation, the requests with cluster and creator
joined), same rows and fields, serialised by hand into a dict and `JsonResponse`. No DRF, no
throttles, no content negotiation: the floor an API endpoint could reach without caching.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, JsonResponse

from connectivity.models import ApiToken, ConnectivityRequest, Organization
from connectivity.services import api_token_hash


def _organization(request: HttpRequest) -> Organization:
    header = request.headers.get("Authorization", "")
    scheme, _, plaintext = header.partition(" ")
    if scheme != "Bearer" or not plaintext:
        raise Http404
    token = (ApiToken.objects.select_related("organization", "created_by__membership")
             .filter(token_hash=api_token_hash(plaintext)).first())
    if token is None or token.created_by is None:
        raise Http404
    organization = token.created_by.organization  # the second query
    if organization != token.organization:
        raise Http404
    return token.organization


def _when(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _row(obj: ConnectivityRequest, base: str) -> dict[str, Any]:
    url = f"{base}/api/v1/requests/{obj.pk}/"
    preflight = obj.preflight or []
    return {
        "id": str(obj.pk), "url": url, "kind": obj.kind, "kind_label": obj.get_kind_display(),
        "state": obj.state, "state_label": obj.get_state_display(),
        "status_message": obj.status_message,
        "cluster": {"id": obj.cluster.pk, "name": obj.cluster.name},
        "created_by": obj.created_by.email if obj.created_by else None,
        "created_at": _when(obj.created_at), "updated_at": _when(obj.updated_at),
        "state_changed_at": _when(obj.state_changed_at),
        "tenant_id": obj.tenant_id, "subscription_id": obj.subscription_id,
        "resource_group": obj.resource_group, "vnet_name": obj.vnet_name,
        "vnet_id": obj.customer_vnet_id,
        "allow_forwarded_traffic": obj.allow_forwarded_traffic,
        "use_remote_gateways": obj.use_remote_gateways,
        "zone_name": obj.zone_name, "records": obj.records, "domain_name": obj.domain_name,
        "dns_servers": obj.dns_servers,
        "preflight": [{"key": c.get("key"), "label": c.get("label"), "status": c.get("status"),
                       "message": c.get("message")} for c in preflight],
        "preflight_passed": obj.preflight_passed, "preflight_ran_at": _when(obj.preflight_ran_at),
        "approved_at": _when(obj.approved_at), "activated_at": _when(obj.activated_at),
        "grant_revoked_at": _when(obj.grant_revoked_at),
        "links": {name: f"{url}{name.replace('_', '-')}/" for name in
                  ("grant", "verify_grant", "events", "comments", "cancel", "teardown")},
    }


def _requests(organization: Organization) -> Any:
    return (ConnectivityRequest.objects.filter(organization=organization)
            .select_related("cluster", "created_by"))


def request_list(request: HttpRequest) -> JsonResponse:
    organization = _organization(request)
    rows = list(_requests(organization).order_by("-created_at", "-pk")[:26])
    base = request.build_absolute_uri("/").rstrip("/")
    return JsonResponse({"next": None, "previous": None,
                         "results": [_row(obj, base) for obj in rows[:25]]})


def request_detail(request: HttpRequest, request_id: uuid.UUID) -> JsonResponse:
    organization = _organization(request)
    obj = _requests(organization).filter(pk=request_id).first()
    if obj is None:
        raise Http404
    return JsonResponse(_row(obj, request.build_absolute_uri("/").rstrip("/")))
