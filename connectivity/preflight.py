"""Pre-flight: the checks a request must pass before approval and again before provisioning.

Each check is a dict {key, label, status: "pass" | "fail", message} stored on the request, so
the customer and the approver read the same list.
"""

from __future__ import annotations

from typing import TypedDict

from connectivity.models import ConnectivityRequest, RequestKind, RequestState


class Check(TypedDict):
    key: str
    label: str
    status: str
    message: str


def _check(key: str, label: str, ok: bool, message: str) -> Check:
    return {"key": key, "label": label, "status": "pass" if ok else "fail", "message": message}


def cluster_checks(request: ConnectivityRequest) -> list[Check]:
    cluster = request.cluster
    return [_check(
        "cluster_dedicated", "Cluster is dedicated", cluster.is_dedicated,
        f"{cluster.name} is dedicated." if cluster.is_dedicated else
        f"{cluster.name} is a standard cluster; only dedicated clusters take this request.",
    )]


def duplicate_checks(request: ConnectivityRequest) -> list[Check]:
    busy = RequestState.values
    busy = [s for s in busy if s not in ("draft", "rejected", "cancelled", "removed")]
    same = ConnectivityRequest.objects.filter(cluster=request.cluster, kind=request.kind,
                                              state__in=busy).exclude(pk=request.pk)
    if request.kind == RequestKind.VNET_PEERING:
        same = same.filter(subscription_id__iexact=request.subscription_id,
                           resource_group__iexact=request.resource_group,
                           vnet_name__iexact=request.vnet_name)
    elif request.kind == RequestKind.PRIVATE_DNS:
        same = same.filter(zone_name__iexact=request.zone_name)
    else:
        same = same.filter(domain_name__iexact=request.domain_name)
    other = same.first()
    return [_check(
        "no_duplicate", "No other request for the same connection", other is None,
        "No other open request covers this." if other is None else
        f"Request {other.short_id} ({other.get_state_display()}) already covers this.",
    )]


def run(request: ConnectivityRequest) -> tuple[list[Check], list[str]]:
    """All checks for the request's kind, and the Azure request ids the checks made."""
    checks = cluster_checks(request) + duplicate_checks(request)
    return checks, []
