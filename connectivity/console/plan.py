"""What approval will create in Azure, spelled out for the approver before they click.

The names and ids come from the functions provisioning itself uses (`preflight.*_name`,
`preflight.planned_zone_id`, `provisioning.zone_link_name`), so the plan is what the workers do.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectivity import preflight, provisioning
from connectivity.azure import resource_ids
from connectivity.models import ConnectivityRequest, RequestKind


@dataclass(frozen=True)
class PlannedResource:
    what: str
    resource_id: str
    where: str  # whose subscription, as the approver should read it


PLATFORM = "platform subscription"


def _peering(request: ConnectivityRequest) -> list[PlannedResource]:
    cluster = request.cluster
    plan = [PlannedResource(
        f"VNet peering {cluster.name} → {request.vnet_name}",
        resource_ids.peering_id(cluster.vnet_id, preflight.cluster_peering_name(request)),
        PLATFORM)]
    if request.customer_vnet_id:
        plan.append(PlannedResource(
            f"VNet peering {request.vnet_name} → {cluster.name}",
            resource_ids.peering_id(request.customer_vnet_id, preflight.customer_peering_name(request)),
            f"customer subscription {request.subscription_id}, with the role they granted"))
    return plan


def _private_dns(request: ConnectivityRequest) -> list[PlannedResource]:
    zone = preflight.planned_zone_id(request)
    plan = [PlannedResource(f"Private DNS zone {request.zone_name}", zone, PLATFORM)]
    by_name: dict[str, list[str]] = {}
    for record in request.records or []:
        by_name.setdefault(str(record.get("name", "")).lower(), []).append(str(record.get("ip", "")))
    plan += [PlannedResource(f"A record set {name} → {', '.join(ips)}", f"{zone}/A/{name}", PLATFORM)
             for name, ips in by_name.items()]
    plan.append(PlannedResource(
        f"Virtual network link to {request.cluster.name}'s VNet",
        f"{zone}/virtualNetworkLinks/{provisioning.zone_link_name(request)}", PLATFORM))
    return plan


def _forwarding(request: ConnectivityRequest) -> list[PlannedResource]:
    ruleset = request.cluster.dns_forwarding_ruleset_id
    if not ruleset:
        return [PlannedResource(f"Forwarding rule {request.domain_name}",
                                "(the cluster has no DNS forwarding ruleset configured)", PLATFORM)]
    return [PlannedResource(
        f"Forwarding rule {request.domain_name} → {', '.join(request.dns_servers)}",
        f"{ruleset}/forwardingRules/{preflight.forwarding_rule_name(request)}", PLATFORM)]


def planned_resources(request: ConnectivityRequest) -> list[PlannedResource]:
    build = {RequestKind.VNET_PEERING: _peering, RequestKind.PRIVATE_DNS: _private_dns,
             RequestKind.DNS_FORWARDING: _forwarding}[RequestKind(request.kind)]
    try:
        return build(request)
    except (ValueError, IndexError):  # a malformed cluster VNet id: say so, keep the page up
        return [PlannedResource("The plan cannot be derived: the cluster's VNet id is malformed.",
                                request.cluster.vnet_id, "")]
