"""Connection kinds: one module per kind behind one interface (`base.Kind`), and the registry.

Code outside this package asks the request's kind (``kinds.of(request)``) for its spec, grant,
pre-flight checks, steps, health probe, resources and templates; it never tests
``kind == ...``. Adding a kind is one module here, its templates under
``templates/connectivity/kinds/<key>/``, its simulator support and its tests (README: "Adding a
kind").

Where a kind's fields live: in one JSON ``spec`` column on the request, validated by the kind
(``Kind.clean``), rather than in one-to-one detail models. The spec is small, written once at
create and read whole; a detail model per kind would add a join, a migration and an admin inline
for every new kind, and the engine and the API would have to learn which relation to follow.
A JSON column keeps adding a kind free of schema changes, and PostgreSQL still filters and
searches inside it (``spec__vnet_name__iexact``) for duplicates, the console and the API.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from connectivity.kinds.base import Kind
from connectivity.kinds.dns_forwarding import DnsForwarding
from connectivity.kinds.hub_connection import HubConnection
from connectivity.kinds.private_dns import PrivateDns
from connectivity.kinds.private_endpoint import PrivateEndpoint
from connectivity.kinds.vnet_peering import VNetPeering
from connectivity.kinds.workload_identity import WorkloadIdentityGrant
from connectivity.models import install_kind_registry

if TYPE_CHECKING:
    from connectivity.models import ConnectivityRequest
    from connectivity.preflight import Check

__all__ = ["Kind", "UnknownKind", "all_keys", "all_kinds", "choices", "get", "of", "preflight"]

_REGISTRY: dict[str, Kind] = {}


class UnknownKind(KeyError):
    pass


def register(kind_class: type[Kind]) -> type[Kind]:
    _REGISTRY[kind_class.key] = kind_class()
    return kind_class


for _kind in (VNetPeering, PrivateDns, DnsForwarding, HubConnection, PrivateEndpoint,
              WorkloadIdentityGrant):
    register(_kind)
install_kind_registry(_REGISTRY)


def get(key: str) -> Kind:
    try:
        return _REGISTRY[str(key)]
    except KeyError:
        raise UnknownKind(key) from None


def of(request: ConnectivityRequest) -> Kind:
    return get(request.kind)


def all_kinds() -> Iterable[Kind]:
    return tuple(_REGISTRY.values())


def all_keys() -> list[str]:
    return list(_REGISTRY)


def choices() -> list[tuple[str, str]]:
    return [(k.key, k.label) for k in _REGISTRY.values()]


def preflight(request: ConnectivityRequest) -> tuple[list[Check], list[str]]:
    """Every check for the request: the shared ones, then its kind's; and the Azure request
    ids the checks made."""
    from connectivity import preflight as shared
    from connectivity.azure.clients import capture_request_ids

    checks = shared.cluster_checks(request) + shared.duplicate_checks(request)
    if not request.cluster.is_dedicated:
        return checks, []
    with capture_request_ids() as ids:
        checks += of(request).checks(request)
    return checks, list(ids)
