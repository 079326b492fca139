"""What approval will create in Azure, spelled out for the approver before they click.

Names follow the request (`cp-<short id>`); keep them in step with `connectivity.provisioning`.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectivity.azure import resource_ids
from connectivity.models import ConnectivityRequest, RequestKind


@dataclass(frozen=True)
class PlannedResource:
    what: str
    resource_id: str
    where: str  # whose subscription, as the approver should read it


def _derived(request: ConnectivityRequest) -> list[PlannedResource]:
    cluster = request.cluster
    name = f"cp-{request.short_id}"
    if request.kind == RequestKind.VNET_PEERING:
        customer_vnet = request.customer_vnet_id
        plan = [
            PlannedResource("VNet peering, cluster → customer",
                            resource_ids.peering_id(cluster.vnet_id, name), "platform subscription"),
        ]
        if customer_vnet:
            plan.append(PlannedResource(
                "VNet peering, customer → cluster", resource_ids.peering_id(customer_vnet, name),
                f"customer subscription {request.subscription_id} (with the granted role)"))
        return plan
    if request.kind == RequestKind.PRIVATE_DNS:
        vnet = resource_ids.parse(cluster.vnet_id)
        zone = resource_ids.build(
            subscription_id=vnet.subscription_id, resource_group=vnet.resource_group,
            provider="Microsoft.Network", types=("privateDnsZones",), names=(request.zone_name,))
        plan = [PlannedResource("Private DNS zone", zone, "platform subscription")]
        plan += [
            PlannedResource(f"A record {r.get('name')} → {r.get('ip')}", f"{zone}/A/{r.get('name')}",
                            "platform subscription")
            for r in request.records
        ]
        plan.append(PlannedResource(f"Virtual network link to {cluster.name}",
                                    f"{zone}/virtualNetworkLinks/{name}", "platform subscription"))
        return plan
    ruleset = cluster.dns_forwarding_ruleset_id or "(the cluster's DNS forwarding ruleset)"
    servers = ", ".join(request.dns_servers)
    return [PlannedResource(f"Forwarding rule {request.domain_name} → {servers}",
                            f"{ruleset}/forwardingRules/{name}", "platform subscription")]


def planned_resources(request: ConnectivityRequest) -> list[PlannedResource]:
    try:
        return _derived(request)
    except ValueError:  # a cluster with a malformed VNet id: say so rather than fail the page
        return [PlannedResource("Cannot derive the plan: the cluster's VNet id is malformed.",
                                request.cluster.vnet_id, "")]
