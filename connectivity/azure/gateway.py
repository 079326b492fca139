"""The Azure gateway: the only functions the rest of the project calls to touch Azure.

Every function is keyword-only, returns small frozen dataclasses (never SDK models) and raises
only :mod:`connectivity.azure.errors` classes. Functions that delete tolerate a resource that
is already gone. Wrap calls in :func:`capture_request_ids` to learn Azure's request ids.

Resources in the platform's own subscription (private DNS zones, forwarding rulesets, the
cluster VNets) default to the platform tenant when ``tenant_id`` is omitted.
"""

from __future__ import annotations

import contextvars
import enum
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.dnsresolver import models as resolver_models
from azure.mgmt.network import models as network_models
from azure.mgmt.privatedns import models as dns_models
from azure.mgmt.resource.resources import models as resource_models

from connectivity.azure import clients
from connectivity.azure import resource_ids as rid
from connectivity.azure.clients import add_request_ids, capture_request_ids
from connectivity.azure.errors import (
    CustomerActionRequired,
    PermanentAzureError,
    TransientAzureError,
    translate_errors,
)

__all__ = [
    "ForwardingRule",
    "HubConnection",
    "HubRouteTable",
    "Permission",
    "PrivateDnsZoneGroup",
    "PrivateEndpoint",
    "PrivateLinkTarget",
    "PrivateZone",
    "RecordSet",
    "RoleAssignment",
    "Subnet",
    "VNetPeering",
    "VirtualHub",
    "VirtualNetwork",
    "WorkloadIdentity",
    "ZoneGroupRecord",
    "ZoneLink",
    "a_record_set_delete",
    "a_record_set_put",
    "add_request_ids",
    "at_once",
    "capture_request_ids",
    "forwarding_rule_create",
    "forwarding_rule_delete",
    "forwarding_rule_get",
    "forwarding_rules_list",
    "hub_connection_create",
    "hub_connection_delete",
    "hub_connection_get",
    "hub_peering",
    "missing_actions",
    "missing_as_identity",
    "missing_data_from",
    "missing_from",
    "peering_create",
    "peering_delete",
    "peering_get",
    "permissions_as_identity",
    "permissions_at",
    "platform_app_in_tenant",
    "platform_principal_id",
    "private_dns_zone_group_put",
    "private_endpoint_create",
    "private_endpoint_delete",
    "private_endpoint_get",
    "private_link_target_get",
    "private_zone_create",
    "private_zone_delete",
    "private_zone_get",
    "private_zones_linked_to",
    "resource_group_ensure",
    "role_assignment_find",
    "role_assignments_for_platform",
    "subnet_get",
    "subscription_tenant",
    "virtual_hub_get",
    "vnet_get",
    "zone_link_create",
    "zone_link_delete",
    "zone_link_get",
]

VNET_TYPE = "Microsoft.Network/virtualNetworks"
ZONE_TYPE = "Microsoft.Network/privateDnsZones"
RULESET_TYPE = "Microsoft.Network/dnsForwardingRulesets"
GATEWAY_SUBNET = "GatewaySubnet"
HUB_TYPE = "Microsoft.Network/virtualHubs"
#: How Azure names the peering a hub connection shows on its remote VNet.
HUB_PEERING_PREFIX = "RemoteVnetToHubPeering_"
DEFAULT_ROUTE_TABLE = "defaultRouteTable"
#: How long a ``wait=True`` call follows a long-running operation before giving up for now.
LRO_TIMEOUT_SECONDS = 600.0


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class VNetPeering:
    """One side of a VNet peering as Azure reports it."""

    id: str
    name: str
    remote_vnet_id: str
    peering_state: str  # Initiated | Connected | Disconnected
    provisioning_state: str  # Succeeded | Updating | Deleting | Failed ...
    sync_level: str | None  # FullyInSync | RemoteNotInSync | LocalNotInSync | ...
    remote_address_prefixes: tuple[str, ...]  # what this side knows of the remote VNet
    allow_forwarded_traffic: bool = False
    use_remote_gateways: bool = False
    allow_gateway_transit: bool = False
    # The remote VNet's address space now (remoteVirtualNetworkAddressSpace): differs from
    # remote_address_prefixes when the remote side changed and this side is not synced.
    remote_vnet_prefixes: tuple[str, ...] = ()
    # Seconds Azure asked the caller to wait before looking again (the started operation's
    # Retry-After); None when it said nothing or the peering was read, not written.
    retry_after: float | None = None

    @property
    def connected(self) -> bool:
        return self.peering_state.lower() == "connected"


@dataclass(frozen=True)
class VirtualNetwork:
    """A virtual network and its peerings."""

    id: str
    name: str
    location: str
    address_prefixes: tuple[str, ...]
    has_gateway: bool
    peerings: tuple[VNetPeering, ...]


@dataclass(frozen=True)
class PrivateZone:
    id: str
    name: str
    provisioning_state: str | None
    record_sets: int | None
    virtual_network_links: int | None


@dataclass(frozen=True)
class RecordSet:
    id: str
    name: str
    fqdn: str | None
    ttl: int | None
    ips: tuple[str, ...]


@dataclass(frozen=True)
class ZoneLink:
    id: str
    name: str
    vnet_id: str
    registration_enabled: bool
    link_state: str | None  # InProgress | Completed
    provisioning_state: str | None


@dataclass(frozen=True)
class ForwardingRule:
    id: str
    name: str
    domain_name: str  # with the trailing dot, as Azure keeps it
    target_dns_servers: tuple[str, ...]  # "ip:port"
    state: str | None  # Enabled | Disabled
    provisioning_state: str | None


@dataclass(frozen=True)
class Permission:
    """One role's worth of permissions the caller holds at a scope."""

    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleAssignment:
    id: str
    name: str
    scope: str
    principal_id: str
    role_definition_id: str
    principal_type: str | None
    description: str = ""  # free text the assigner wrote; carries requests' proofs of control


# --------------------------------------------------------------------------------------------
# Helpers


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _tenant(tenant_id: str | None) -> str:
    return tenant_id or clients.config().platform_tenant_id


def _wait(poller: Any) -> Any:
    """Follow a long-running operation to its end (or give up for now, as transient)."""
    result = poller.result(timeout=LRO_TIMEOUT_SECONDS)
    if not poller.done():
        raise TransientAzureError(
            "Azure is still working on the operation; it will be checked again later.",
            code="OperationInProgress",
            reason="in_progress",
        )
    return result


def _polling(wait: bool) -> dict[str, Any]:
    return {"polling": wait, **clients.call_options()}


def _retry_hint(poller: Any) -> float | None:
    """The ``Retry-After`` (or ``retry-after-ms``) of an operation started with ``wait=False``:
    how long Azure expects it to take before a read can tell more."""
    response = getattr(getattr(poller.polling_method(), "_initial_response", None),
                       "http_response", None)
    headers = getattr(response, "headers", None) or {}
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        if headers.get("Retry-After"):
            return float(headers["Retry-After"])
    except ValueError:  # an HTTP date: not what ARM sends for operations
        return None
    return None


def _peering(model: Any) -> VNetPeering:
    remote = getattr(model, "remote_virtual_network", None)
    space = getattr(model, "remote_address_space", None) or getattr(
        model, "remote_virtual_network_address_space", None
    )
    return VNetPeering(
        id=model.id or "",
        name=model.name or "",
        remote_vnet_id=(remote.id if remote is not None else "") or "",
        peering_state=_str(model.peering_state) or "",
        provisioning_state=_str(model.provisioning_state) or "",
        sync_level=_str(getattr(model, "peering_sync_level", None)),
        remote_address_prefixes=tuple(getattr(space, "address_prefixes", None) or ()),
        allow_forwarded_traffic=bool(model.allow_forwarded_traffic),
        use_remote_gateways=bool(model.use_remote_gateways),
        allow_gateway_transit=bool(model.allow_gateway_transit),
        remote_vnet_prefixes=tuple(getattr(getattr(
            model, "remote_virtual_network_address_space", None), "address_prefixes", None) or ()),
    )


def _has_gateway(model: Any) -> bool:
    for subnet in model.subnets or ():
        if (subnet.name or "").lower() == GATEWAY_SUBNET.lower() and subnet.ip_configurations:
            return True
    return False


def _vnet(vnet_id: str) -> rid.ResourceId:
    return rid.parse_typed(vnet_id, VNET_TYPE)


# --------------------------------------------------------------------------------------------
# Virtual networks and peerings


@translate_errors
def vnet_get(*, vnet_id: str, tenant_id: str) -> VirtualNetwork:
    """Read a virtual network: address space, whether it has a gateway, and its peerings.

    Raises ``CustomerActionRequired`` (reason ``not_found`` or ``permission_missing``) when the
    VNet does not exist or the platform may not read it.
    """
    v = _vnet(vnet_id)
    client = clients.network(tenant_id, v.subscription_id)
    model = client.virtual_networks.get(v.group, v.name, **clients.call_options())
    space = model.address_space
    return VirtualNetwork(
        id=model.id or vnet_id,
        name=model.name or v.name,
        location=model.location or "",
        address_prefixes=tuple(getattr(space, "address_prefixes", None) or ()),
        has_gateway=_has_gateway(model),
        peerings=tuple(_peering(p) for p in model.virtual_network_peerings or ()),
    )


@translate_errors
def peering_create(
    *,
    vnet_id: str,
    name: str,
    remote_vnet_id: str,
    tenant_id: str,
    remote_tenant_id: str,
    allow_forwarded_traffic: bool,
    use_remote_gateways: bool,
    allow_gateway_transit: bool = False,
    wait: bool = True,
    sync_remote_address_space: bool = False,
) -> VNetPeering:
    """Create (or update: the PUT is idempotent) the peering ``name`` on ``vnet_id`` towards
    ``remote_vnet_id``.

    When the two VNets live in different tenants, the call carries an auxiliary token for
    ``remote_tenant_id`` (Azure checks ``peer/action`` on the remote VNet with it).
    With ``wait=False`` the operation is started and the peering returned as Azure first
    reports it (typically ``Updating``); check progress later with :func:`peering_get`.
    ``sync_remote_address_space`` sends ``syncRemoteAddressSpace=true``: the peering takes
    the remote VNet's current address space (after either side's address space changed).
    """
    v = _vnet(vnet_id)
    _vnet(remote_vnet_id)
    client = clients.network(tenant_id, v.subscription_id, aux_tenant_id=remote_tenant_id)
    body = network_models.VirtualNetworkPeering(
        properties=network_models.VirtualNetworkPeeringPropertiesFormat(
            remote_virtual_network=network_models.SubResource(id=remote_vnet_id),
            allow_virtual_network_access=True,
            allow_forwarded_traffic=allow_forwarded_traffic,
            allow_gateway_transit=allow_gateway_transit,
            use_remote_gateways=use_remote_gateways,
        )
    )
    extra: dict[str, Any] = {"sync_remote_address_space": "true"} if sync_remote_address_space else {}
    poller = client.virtual_network_peerings.begin_create_or_update(
        v.group, v.name, name, body, **extra, **_polling(wait)
    )
    if wait:
        return _peering(_wait(poller))
    return replace(_peering(poller.result()), retry_after=_retry_hint(poller))


@translate_errors
def peering_get(*, vnet_id: str, name: str, tenant_id: str) -> VNetPeering | None:
    """Read one side of a peering; None when it (or its VNet) does not exist."""
    v = _vnet(vnet_id)
    client = clients.network(tenant_id, v.subscription_id)
    try:
        model = client.virtual_network_peerings.get(v.group, v.name, name, **clients.call_options())
    except ResourceNotFoundError:
        return None
    return _peering(model)


@translate_errors
def peering_delete(*, vnet_id: str, name: str, tenant_id: str, wait: bool = True) -> bool:
    """Delete one side of a peering. Returns False when it was already gone."""
    v = _vnet(vnet_id)
    client = clients.network(tenant_id, v.subscription_id)
    try:
        client.virtual_network_peerings.get(v.group, v.name, name, **clients.call_options())
        poller = client.virtual_network_peerings.begin_delete(v.group, v.name, name, **_polling(wait))
        if wait:
            _wait(poller)
    except ResourceNotFoundError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Private DNS


def _zone(zone_id: str) -> rid.ResourceId:
    return rid.parse_typed(zone_id, ZONE_TYPE)


def _private_zone(model: Any) -> PrivateZone:
    return PrivateZone(
        id=model.id or "",
        name=model.name or "",
        provisioning_state=_str(model.provisioning_state),
        record_sets=model.number_of_record_sets,
        virtual_network_links=model.number_of_virtual_network_links,
    )


def _record_set(model: Any) -> RecordSet:
    return RecordSet(
        id=model.id or "",
        name=model.name or "",
        fqdn=model.fqdn,
        ttl=model.ttl,
        ips=tuple(a.ipv4_address for a in model.a_records or () if a.ipv4_address),
    )


def _zone_link(model: Any) -> ZoneLink:
    vnet = model.virtual_network
    return ZoneLink(
        id=model.id or "",
        name=model.name or "",
        vnet_id=(vnet.id if vnet is not None else "") or "",
        registration_enabled=bool(model.registration_enabled),
        link_state=_str(model.virtual_network_link_state),
        provisioning_state=_str(model.provisioning_state),
    )


@translate_errors
def resource_group_ensure(
    *,
    subscription_id: str,
    name: str,
    location: str,
    tags: dict[str, str] | None = None,
    tenant_id: str | None = None,
) -> str:
    """Create the resource group ``name`` unless it exists; return its id.

    Reads first: Azure refuses to move an existing group to another location, and a group
    that exists already keeps its location and tags.
    """
    client = clients.resources(_tenant(tenant_id), subscription_id)
    opts = clients.call_options()
    try:
        group = client.resource_groups.get(name, **opts)
    except ResourceNotFoundError:
        group = client.resource_groups.create_or_update(
            name, resource_models.ResourceGroup(location=location, tags=tags or {}), **opts)
    return str(group.id)


@translate_errors
def private_zone_create(
    *,
    subscription_id: str,
    resource_group: str,
    zone_name: str,
    tenant_id: str | None = None,
    wait: bool = True,
) -> PrivateZone:
    """Create (idempotently) the private DNS zone ``zone_name`` (location ``global``)."""
    client = clients.private_dns(_tenant(tenant_id), subscription_id)
    poller = client.private_zones.begin_create_or_update(
        resource_group, zone_name, dns_models.PrivateZone(location="global"), **_polling(wait)
    )
    if wait:
        return _private_zone(_wait(poller))
    model = poller.result()
    if not getattr(model, "id", None):
        # The first answer is often an empty body (202 {}): report the zone as being created.
        return PrivateZone(
            id=rid.private_zone_id(subscription_id, resource_group, zone_name),
            name=zone_name,
            provisioning_state="Creating",
            record_sets=None,
            virtual_network_links=None,
        )
    return _private_zone(model)


@translate_errors
def private_zone_get(*, zone_id: str, tenant_id: str | None = None) -> PrivateZone | None:
    """Read a private DNS zone; None when it does not exist."""
    z = _zone(zone_id)
    client = clients.private_dns(_tenant(tenant_id), z.subscription_id)
    try:
        model = client.private_zones.get(z.group, z.name, **clients.call_options())
    except ResourceNotFoundError:
        return None
    return _private_zone(model)


@translate_errors
def private_zone_delete(*, zone_id: str, tenant_id: str | None = None) -> bool:
    """Delete a private DNS zone, first removing its virtual-network links (Azure refuses to
    delete a linked zone). Returns False when the zone was already gone."""
    z = _zone(zone_id)
    client = clients.private_dns(_tenant(tenant_id), z.subscription_id)
    opts = clients.call_options()
    try:
        links = list(client.virtual_network_links.list(z.group, z.name, **opts))
        for link in links:
            _wait(
                client.virtual_network_links.begin_delete(z.group, z.name, link.name or "", **_polling(True))
            )
        _wait(client.private_zones.begin_delete(z.group, z.name, **_polling(True)))
    except ResourceNotFoundError:
        return False
    return True


@translate_errors
def private_zones_linked_to(*, vnet_id: str, subscription_id: str, tenant_id: str | None = None) -> list[str]:
    """Names of the private DNS zones in ``subscription_id`` linked to ``vnet_id``.

    Azure refuses to link one VNet to two zones of the same name; callers use this to report
    such a clash before trying.
    """
    client = clients.private_dns(_tenant(tenant_id), subscription_id)
    opts = clients.call_options()
    names: list[str] = []
    for zone in client.private_zones.list(**opts):
        z = _zone(zone.id or "")
        for link in client.virtual_network_links.list(z.group, z.name, **opts):
            linked = link.virtual_network.id if link.virtual_network is not None else None
            if linked and rid.same(linked, vnet_id):
                names.append(zone.name or z.name)
                break
    return sorted(set(names))


@translate_errors
def a_record_set_put(
    *,
    zone_id: str,
    name: str,
    ips: Sequence[str],
    ttl: int = 300,
    tenant_id: str | None = None,
) -> RecordSet:
    """Create or replace the A record set ``name`` (relative, e.g. ``db`` or ``@``) in a zone."""
    z = _zone(zone_id)
    client = clients.private_dns(_tenant(tenant_id), z.subscription_id)
    body = dns_models.RecordSet(
        properties=dns_models.RecordSetProperties(
            ttl=ttl, a_records=[dns_models.ARecord(ipv4_address=ip) for ip in ips]
        )
    )
    model = client.record_sets.create_or_update(z.group, z.name, "A", name, body, **clients.call_options())
    return _record_set(model)


@translate_errors
def a_record_set_get(*, zone_id: str, name: str, tenant_id: str | None = None) -> RecordSet | None:
    """Read an A record set; None when it does not exist."""
    z = _zone(zone_id)
    client = clients.private_dns(_tenant(tenant_id), z.subscription_id)
    try:
        model = client.record_sets.get(z.group, z.name, "A", name, **clients.call_options())
    except ResourceNotFoundError:
        return None
    return _record_set(model)


@translate_errors
def a_record_set_delete(*, zone_id: str, name: str, tenant_id: str | None = None) -> bool:
    """Delete an A record set. Returns False when it (or its zone) was already gone."""
    z = _zone(zone_id)
    client = clients.private_dns(_tenant(tenant_id), z.subscription_id)
    opts = clients.call_options()
    try:
        client.record_sets.get(z.group, z.name, "A", name, **opts)
        client.record_sets.delete(z.group, z.name, "A", name, **opts)
    except ResourceNotFoundError:
        return False
    return True


@translate_errors
def zone_link_create(
    *,
    zone_id: str,
    link_name: str,
    vnet_id: str,
    registration_enabled: bool = False,
    tenant_id: str | None = None,
    wait: bool = True,
) -> ZoneLink:
    """Link a private DNS zone to a virtual network (idempotent PUT)."""
    z = _zone(zone_id)
    _vnet(vnet_id)
    client = clients.private_dns(_tenant(tenant_id), z.subscription_id)
    body = dns_models.VirtualNetworkLink(
        location="global",
        properties=dns_models.VirtualNetworkLinkProperties(
            virtual_network=dns_models.SubResource(id=vnet_id),
            registration_enabled=registration_enabled,
        ),
    )
    poller = client.virtual_network_links.begin_create_or_update(
        z.group, z.name, link_name, body, **_polling(wait)
    )
    if wait:
        return _zone_link(_wait(poller))
    model = poller.result()
    if not getattr(model, "id", None):
        return ZoneLink(
            id=f"{rid.parse(zone_id)}/virtualNetworkLinks/{link_name}",
            name=link_name,
            vnet_id=vnet_id,
            registration_enabled=registration_enabled,
            link_state="InProgress",
            provisioning_state="Creating",
        )
    return _zone_link(model)


@translate_errors
def zone_link_get(*, zone_id: str, link_name: str, tenant_id: str | None = None) -> ZoneLink | None:
    """Read a zone's virtual-network link; None when it does not exist."""
    z = _zone(zone_id)
    client = clients.private_dns(_tenant(tenant_id), z.subscription_id)
    try:
        model = client.virtual_network_links.get(z.group, z.name, link_name, **clients.call_options())
    except ResourceNotFoundError:
        return None
    return _zone_link(model)


@translate_errors
def zone_link_delete(
    *, zone_id: str, link_name: str, tenant_id: str | None = None, wait: bool = True
) -> bool:
    """Delete a zone's virtual-network link. Returns False when it was already gone."""
    z = _zone(zone_id)
    client = clients.private_dns(_tenant(tenant_id), z.subscription_id)
    try:
        client.virtual_network_links.get(z.group, z.name, link_name, **clients.call_options())
        poller = client.virtual_network_links.begin_delete(z.group, z.name, link_name, **_polling(wait))
        if wait:
            _wait(poller)
    except ResourceNotFoundError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# DNS forwarding (Azure DNS Private Resolver rulesets)


def _ruleset(ruleset_id: str) -> rid.ResourceId:
    return rid.parse_typed(ruleset_id, RULESET_TYPE)


def _fqdn(domain_name: str) -> str:
    return domain_name.strip().rstrip(".").lower() + "."


def _forwarding_rule(model: Any) -> ForwardingRule:
    return ForwardingRule(
        id=model.id or "",
        name=model.name or "",
        domain_name=model.domain_name or "",
        target_dns_servers=tuple(f"{t.ip_address}:{t.port or 53}" for t in model.target_dns_servers or ()),
        state=_str(model.forwarding_rule_state),
        provisioning_state=_str(model.provisioning_state),
    )


@translate_errors
def forwarding_rule_create(
    *,
    ruleset_id: str,
    name: str,
    domain_name: str,
    target_dns_servers: Sequence[str],
    tenant_id: str | None = None,
) -> ForwardingRule:
    """Create or replace the forwarding rule ``name``: queries for ``domain_name`` (a trailing
    dot is added, as Azure requires) go to ``target_dns_servers`` on port 53."""
    r = _ruleset(ruleset_id)
    client = clients.dns_resolver(_tenant(tenant_id), r.subscription_id)
    body = resolver_models.ForwardingRule(
        domain_name=_fqdn(domain_name),
        target_dns_servers=[
            resolver_models.TargetDnsServer(ip_address=ip, port=53) for ip in target_dns_servers
        ],
        forwarding_rule_state="Enabled",
    )
    model = client.forwarding_rules.create_or_update(r.group, r.name, name, body, **clients.call_options())
    return _forwarding_rule(model)


@translate_errors
def forwarding_rule_get(*, ruleset_id: str, name: str, tenant_id: str | None = None) -> ForwardingRule | None:
    """Read a forwarding rule; None when it does not exist."""
    r = _ruleset(ruleset_id)
    client = clients.dns_resolver(_tenant(tenant_id), r.subscription_id)
    try:
        model = client.forwarding_rules.get(r.group, r.name, name, **clients.call_options())
    except ResourceNotFoundError:
        return None
    return _forwarding_rule(model)


@translate_errors
def forwarding_rule_delete(*, ruleset_id: str, name: str, tenant_id: str | None = None) -> bool:
    """Delete a forwarding rule. Returns False when it was already gone."""
    r = _ruleset(ruleset_id)
    client = clients.dns_resolver(_tenant(tenant_id), r.subscription_id)
    opts = clients.call_options()
    try:
        client.forwarding_rules.get(r.group, r.name, name, **opts)
        client.forwarding_rules.delete(r.group, r.name, name, **opts)
    except ResourceNotFoundError:
        return False
    return True


@translate_errors
def forwarding_rules_list(*, ruleset_id: str, tenant_id: str | None = None) -> list[ForwardingRule]:
    """Every forwarding rule of a ruleset."""
    r = _ruleset(ruleset_id)
    client = clients.dns_resolver(_tenant(tenant_id), r.subscription_id)
    return [
        _forwarding_rule(m) for m in client.forwarding_rules.list(r.group, r.name, **clients.call_options())
    ]


# --------------------------------------------------------------------------------------------
# Permissions


@translate_errors
def permissions_at(*, scope: str, tenant_id: str) -> list[Permission]:
    """The platform's own permissions at ``scope`` (a resource group or a resource id).

    Reading one's own permissions needs no role, so this works before any grant (and returns
    an empty list then).
    """
    client = clients.authorization(tenant_id, rid.parse(scope).subscription_id)
    return _permissions_from(client, scope)


def _action_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$", re.IGNORECASE)


def _matches(pattern: str, action: str) -> bool:
    return bool(_action_pattern(pattern).match(action))


def missing_from(permissions: Iterable[Permission], required: Iterable[str]) -> list[str]:
    """The ``required`` actions that no permission grants, matching as Azure does: ``*`` stands
    for any characters, case is ignored, and a role's ``notActions`` remove actions from that
    role's own ``actions`` only (another role may still grant them)."""
    perms = list(permissions)

    def granted(action: str) -> bool:
        return any(
            any(_matches(a, action) for a in p.actions)
            and not any(_matches(n, action) for n in p.not_actions)
            for p in perms
        )

    return [action for action in required if not granted(action)]


def missing_actions(*, scope: str, tenant_id: str, required: Iterable[str]) -> list[str]:
    """Which of ``required`` the platform may not perform at ``scope`` (empty: all granted)."""
    return missing_from(permissions_at(scope=scope, tenant_id=tenant_id), required)


# --------------------------------------------------------------------------------------------
# Role assignments


@translate_errors
def platform_principal_id(*, tenant_id: str) -> str:
    """The object id of the platform's service principal in ``tenant_id`` (the ``oid`` claim of
    the token the platform gets there). Fails with ``CustomerActionRequired``
    (``app_not_in_tenant``) when the application has not been added to that tenant."""
    claims = clients.token_claims(tenant_id)
    oid = claims.get("oid")
    if not oid:
        raise ValueError("The platform's access token carries no oid claim")
    return str(oid)


def platform_app_in_tenant(*, tenant_id: str) -> bool:
    """Whether the platform's application has a service principal in ``tenant_id`` (it can get
    a token there). False when the customer still has to add it (admin consent or
    ``az ad sp create``); other failures raise the gateway's errors."""
    try:
        platform_principal_id(tenant_id=tenant_id)
    except CustomerActionRequired as exc:
        if exc.reason == "app_not_in_tenant":
            return False
        raise
    return True


def _role_assignment(model: Any) -> RoleAssignment:
    return RoleAssignment(
        id=model.id or "",
        name=model.name or "",
        scope=model.scope or "",
        principal_id=model.principal_id or "",
        role_definition_id=model.role_definition_id or "",
        principal_type=_str(model.principal_type),
        description=getattr(model, "description", None) or "",
    )


def _covers(outer: str, inner: str) -> bool:
    o = outer.strip().rstrip("/").lower()
    i = inner.strip().rstrip("/").lower()
    return o in ("", "/") or i == o or i.startswith(o + "/")


@translate_errors
def role_assignments_for_platform(*, scope: str, tenant_id: str) -> list[RoleAssignment]:
    """Role assignments of the platform's service principal that apply at ``scope`` (at it or
    above it), with their descriptions (where a customer's grant carries a request's proof of
    control). Listing needs ``Microsoft.Authorization/roleAssignments/read`` at ``scope``,
    which the customer's custom role includes; without it Azure answers AuthorizationFailed
    (``CustomerActionRequired``, reason ``permission_missing``). To learn only whether a grant
    is still in place use :func:`missing_actions`, which needs no role."""
    principal = platform_principal_id(tenant_id=tenant_id)
    s = rid.parse(scope)
    client = clients.authorization(tenant_id, s.subscription_id)
    models = client.role_assignments.list_for_scope(
        scope, filter=f"principalId eq '{principal}'", **clients.call_options()
    )
    return [
        _role_assignment(m)
        for m in models
        if (m.principal_id or "").lower() == principal.lower() and _covers(m.scope or "", scope)
    ]


@translate_errors
def role_assignment_find(
    *,
    scope: str,
    tenant_id: str,
    role_definition_id: str | None = None,
    role_name: str | None = None,
) -> RoleAssignment | None:
    """The platform's assignment of a role (by definition id, or by name) that applies at
    ``scope``; None when there is none."""
    if not role_definition_id and not role_name:
        raise ValueError("Give role_definition_id or role_name")
    wanted: set[str] = set()
    if role_definition_id:
        wanted.add(role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower())
    if role_name:
        s = rid.parse(scope)
        client = clients.authorization(tenant_id, s.subscription_id)
        quoted = role_name.replace("'", "''")
        for definition in client.role_definitions.list(
            scope, filter=f"roleName eq '{quoted}'", **clients.call_options()
        ):
            if (definition.role_name or "").lower() == role_name.lower():
                wanted.add((definition.name or "").lower())
    if not wanted:
        return None
    for assignment in role_assignments_for_platform(scope=scope, tenant_id=tenant_id):
        if assignment.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower() in wanted:
            return assignment
    return None


# --------------------------------------------------------------------------------------------
# Private Link

ENDPOINT_TYPE = "Microsoft.Network/privateEndpoints"


@dataclass(frozen=True)
class PrivateEndpoint:
    """A private endpoint and the state of its one connection, as the platform sees it."""

    id: str
    name: str
    provisioning_state: str  # Succeeded | Updating | Deleting | Failed
    subnet_id: str
    target: str  # the privateLinkServiceId: a resource id or an alias
    group_ids: tuple[str, ...]
    request_message: str
    manual: bool
    connection_status: str  # Pending | Approved | Rejected | Disconnected
    connection_description: str
    private_ips: tuple[str, ...]
    fqdns: tuple[str, ...]
    network_interface_ids: tuple[str, ...]

    @property
    def approved(self) -> bool:
        return self.connection_status.lower() == "approved"


@dataclass(frozen=True)
class ZoneGroupRecord:
    zone_id: str
    name: str
    fqdn: str | None
    ips: tuple[str, ...]


@dataclass(frozen=True)
class PrivateDnsZoneGroup:
    id: str
    name: str
    provisioning_state: str | None
    records: tuple[ZoneGroupRecord, ...]


@dataclass(frozen=True)
class PrivateLinkTarget:
    """What a customer's target is: ``kind`` ``private_link_service`` or ``paas``."""

    kind: str
    resource_type: str
    resource_id: str | None
    alias: str | None
    group_ids: tuple[str, ...]
    visible: bool | None  # checked for aliases (checkPrivateLinkServiceVisibility); else None


def _endpoint(endpoint_id: str) -> rid.ResourceId:
    return rid.parse_typed(endpoint_id, ENDPOINT_TYPE)


def _private_endpoint(model: Any, client: Any) -> PrivateEndpoint:
    manual = list(model.manual_private_link_service_connections or ())
    connection = (manual or list(model.private_link_service_connections or ()) or [None])[0]
    state = getattr(connection, "private_link_service_connection_state", None)
    configs = list(model.custom_dns_configs or ())
    ips = tuple(ip for c in configs for ip in (c.ip_addresses or ()))
    nics = tuple(n.id for n in model.network_interfaces or () if n.id)
    if not ips and nics:
        # A Private Link service without FQDNs has no DNS configs: the NIC holds the address.
        n = rid.parse(nics[0])
        nic = client.network_interfaces.get(n.group, n.name, **clients.call_options())
        ips = tuple(c.private_ip_address for c in nic.ip_configurations or ()
                    if c.private_ip_address)
    return PrivateEndpoint(
        id=model.id or "",
        name=model.name or "",
        provisioning_state=_str(model.provisioning_state) or "",
        subnet_id=(model.subnet.id if model.subnet is not None else "") or "",
        target=getattr(connection, "private_link_service_id", None) or "",
        group_ids=tuple(getattr(connection, "group_ids", None) or ()),
        request_message=getattr(connection, "request_message", None) or "",
        manual=bool(manual),
        connection_status=(getattr(state, "status", None) or "") if state else "",
        connection_description=(getattr(state, "description", None) or "") if state else "",
        private_ips=ips,
        fqdns=tuple(c.fqdn for c in configs if c.fqdn),
        network_interface_ids=nics,
    )


@translate_errors
def private_endpoint_create(
    *,
    endpoint_id: str,
    subnet_id: str,
    target: str,
    group_ids: Sequence[str] = (),
    request_message: str,
    location: str,
    tenant_id: str | None = None,
    wait: bool = True,
) -> PrivateEndpoint:
    """Create (idempotently) a private endpoint with one manual-approval connection to
    ``target`` (a resource id or a Private Link service alias) in ``subnet_id``.

    The customer's approval is their consent, so no right on the target is needed. With
    ``wait=False`` the operation is started and the endpoint returned as Azure first reports it
    (``Updating``); follow it with :func:`private_endpoint_get`. Its connection is ``Pending``
    until the owner approves it.
    """
    e = _endpoint(endpoint_id)
    client = clients.network(_tenant(tenant_id), e.subscription_id)
    connection = network_models.PrivateLinkServiceConnection(
        name=e.name, properties=network_models.PrivateLinkServiceConnectionProperties(
            private_link_service_id=target, group_ids=list(group_ids),
            request_message=request_message))
    body = network_models.PrivateEndpoint(
        location=location, properties=network_models.PrivateEndpointProperties(
            subnet=network_models.Subnet(id=subnet_id),
            manual_private_link_service_connections=[connection]))
    poller = client.private_endpoints.begin_create_or_update(e.group, e.name, body,
                                                             **_polling(wait))
    model = _wait(poller) if wait else poller.result()
    return _private_endpoint(model, client)


@translate_errors
def private_endpoint_get(*, endpoint_id: str, tenant_id: str | None = None) -> (
        PrivateEndpoint | None):
    """Read a private endpoint and its connection state; None when it does not exist."""
    e = _endpoint(endpoint_id)
    client = clients.network(_tenant(tenant_id), e.subscription_id)
    try:
        model = client.private_endpoints.get(e.group, e.name, **clients.call_options())
    except ResourceNotFoundError:
        return None
    return _private_endpoint(model, client)


@translate_errors
def private_endpoint_delete(*, endpoint_id: str, tenant_id: str | None = None,
                            wait: bool = True) -> bool:
    """Delete a private endpoint (its NIC, its connection on the target and the A records of
    its zone groups go with it). Returns False when it was already gone."""
    e = _endpoint(endpoint_id)
    client = clients.network(_tenant(tenant_id), e.subscription_id)
    try:
        client.private_endpoints.get(e.group, e.name, **clients.call_options())
        poller = client.private_endpoints.begin_delete(e.group, e.name, **_polling(wait))
        if wait:
            _wait(poller)
    except ResourceNotFoundError:
        return False
    return True


def _zone_group(model: Any) -> PrivateDnsZoneGroup:
    records = []
    for config in model.private_dns_zone_configs or ():
        for record in config.record_sets or ():
            records.append(ZoneGroupRecord(
                zone_id=config.private_dns_zone_id or "", name=record.record_set_name or "",
                fqdn=record.fqdn, ips=tuple(record.ip_addresses or ())))
    return PrivateDnsZoneGroup(id=model.id or "", name=model.name or "",
                               provisioning_state=_str(model.provisioning_state),
                               records=tuple(records))


@translate_errors
def private_dns_zone_group_put(
    *,
    endpoint_id: str,
    name: str,
    zone_ids: Sequence[str],
    tenant_id: str | None = None,
    wait: bool = True,
) -> PrivateDnsZoneGroup:
    """Attach private DNS zones to an endpoint: Azure writes (and keeps in step, and removes
    with the endpoint) the endpoint's A record in each zone."""
    e = _endpoint(endpoint_id)
    client = clients.network(_tenant(tenant_id), e.subscription_id)
    body = network_models.PrivateDnsZoneGroup(
        properties=network_models.PrivateDnsZoneGroupPropertiesFormat(private_dns_zone_configs=[
            network_models.PrivateDnsZoneConfig(
                name=rid.parse(z).name.replace(".", "-"),
                properties=network_models.PrivateDnsZonePropertiesFormat(private_dns_zone_id=z))
            for z in zone_ids
        ]))
    poller = client.private_dns_zone_groups.begin_create_or_update(
        e.group, e.name, name, body, **_polling(wait))
    return _zone_group(_wait(poller) if wait else poller.result())


@dataclass(frozen=True)
class Subnet:
    """A subnet and what uses its addresses, as Azure shows it."""

    id: str
    name: str
    address_prefixes: tuple[str, ...]
    ip_configuration_ids: tuple[str, ...]  # every NIC IP configuration holding an address
    private_endpoint_ids: tuple[str, ...]

    @property
    def capacity(self) -> int:
        """Addresses Azure can hand out: each IPv4 prefix's size less the five Azure keeps
        (the network address, the next three, the broadcast address)."""
        total = 0
        for prefix in self.address_prefixes:
            network = ipaddress.ip_network(prefix, strict=False)
            if network.version == 4:
                total += max(0, network.num_addresses - 5)
        return total

    @property
    def used(self) -> int:
        return len(self.ip_configuration_ids)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.used)

    def holds_endpoint(self, endpoint_id: str) -> bool:
        return endpoint_id.lower() in (e.lower() for e in self.private_endpoint_ids)


@translate_errors
def subnet_get(*, subnet_id: str, tenant_id: str | None = None) -> Subnet | None:
    """Read a subnet of a VNet (its address prefixes, the IP configurations using its
    addresses and its private endpoints); None when the VNet has no such subnet."""
    parts = subnet_id.rstrip("/").split("/")
    if len(parts) < 2 or parts[-2].lower() != "subnets":
        raise ValueError(f"Not a subnet id: {subnet_id!r}")
    v = _vnet("/".join(parts[:-2]))
    client = clients.network(_tenant(tenant_id), v.subscription_id)
    try:
        model = client.subnets.get(v.group, v.name, parts[-1], **clients.call_options())
    except ResourceNotFoundError:
        return None
    prefixes = tuple(model.address_prefixes or ()) or (
        (model.address_prefix,) if model.address_prefix else ())
    return Subnet(
        id=model.id or subnet_id, name=model.name or parts[-1], address_prefixes=prefixes,
        ip_configuration_ids=tuple(c.id for c in model.ip_configurations or () if c.id),
        private_endpoint_ids=tuple(e.id for e in model.private_endpoints or () if e.id))


_CHALLENGE_TENANT = re.compile(
    r'authorization_uri="https?://[^/"]+/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
    r'[0-9a-fA-F]{4}-[0-9a-fA-F]{12})', re.IGNORECASE)


def subscription_tenant(*, subscription_id: str) -> str:
    """The tenant a subscription belongs to, as ARM in the platform's cloud tells anyone who
    asks without a token (the ``WWW-Authenticate`` challenge of ``GET /subscriptions/<id>``
    names it); ``""`` when ARM there does not know the subscription (a 404, or a challenge
    without a tenant): it does not exist, or it is in another Azure cloud. Needs no role and
    reveals only the tenant's id. Raises ``TransientAzureError`` when ARM cannot be asked."""
    from azure.core.exceptions import AzureError

    try:
        answer = clients.anonymous_get(f"/subscriptions/{subscription_id}")
    except AzureError as exc:
        raise TransientAzureError(
            f"Azure Resource Manager could not be asked about subscription {subscription_id} "
            f"({type(exc).__name__}).", code="ArmUnreachable", reason="unreachable") from exc
    if answer.status in (429,) or answer.status >= 500:
        raise TransientAzureError(
            f"Azure Resource Manager answered {answer.status} when asked about subscription "
            f"{subscription_id}.", code=f"Http{answer.status}", reason="unreachable")
    header = next((v for k, v in answer.headers.items() if k.lower() == "www-authenticate"), "")
    match = _CHALLENGE_TENANT.search(header)
    return match.group(1).lower() if match and answer.status == 401 else ""


@translate_errors
def private_link_target_get(
    *, target: str, location: str, subscription_id: str | None = None,
    tenant_id: str | None = None,
) -> PrivateLinkTarget:
    """Resolve a customer's target (resource id or alias) to its type and group ids.

    The platform has no right to read the customer's resources, so a resource id is resolved
    from its shape; an alias is checked with Azure's ``checkPrivateLinkServiceVisibility`` from
    the platform's subscription (``visible`` False: unknown, or not shared with the platform).
    An id or alias of the wrong shape raises ``CustomerActionRequired`` (``invalid_target``).
    """
    from django.core.exceptions import ValidationError

    from connectivity import validators

    try:
        ref = validators.parse_private_link_target(target)
    except ValidationError as exc:
        raise CustomerActionRequired(" ".join(exc.messages), reason="invalid_target") from None
    if ref.alias is None:
        kind = ("private_link_service" if ref.resource_type == validators.PRIVATE_LINK_SERVICE_TYPE
                else "paas")
        return PrivateLinkTarget(kind=kind, resource_type=ref.resource_type or "",
                                 resource_id=ref.resource_id, alias=None,
                                 group_ids=ref.group_ids, visible=None)
    subscription = subscription_id or clients.config().platform_subscription_id
    client = clients.network(_tenant(tenant_id), subscription)
    poller = client.private_link_services.begin_check_private_link_service_visibility(
        location, network_models.CheckPrivateLinkServiceVisibilityRequest(
            private_link_service_alias=ref.alias), **_polling(True))
    result = _wait(poller)
    return PrivateLinkTarget(kind="private_link_service",
                             resource_type=validators.PRIVATE_LINK_SERVICE_TYPE,
                             resource_id=None, alias=ref.alias, group_ids=(),
                             visible=bool(getattr(result, "visible", False)))


# --------------------------------------------------------------------------------------------
# Virtual WAN: hubs and hub virtual network connections


@dataclass(frozen=True)
class HubRouteTable:
    id: str
    name: str  # defaultRouteTable, noneRouteTable, or one the customer made
    labels: tuple[str, ...]


@dataclass(frozen=True)
class HubConnection:
    """A hub virtual network connection as Azure reports it."""

    id: str
    name: str
    remote_vnet_id: str
    provisioning_state: str  # Updating | Succeeded | Deleting | Failed ...
    enable_internet_security: bool
    associated_route_table_id: str | None
    propagated_route_table_ids: tuple[str, ...]
    propagated_labels: tuple[str, ...]

    @property
    def succeeded(self) -> bool:
        return self.provisioning_state.lower() == "succeeded"


@dataclass(frozen=True)
class VirtualHub:
    """A Virtual WAN hub: its address prefix, state, route tables and connections."""

    id: str
    name: str
    location: str
    address_prefix: str
    provisioning_state: str
    routing_state: str | None  # Provisioned | Provisioning | Failed | None
    virtual_wan_id: str
    route_tables: tuple[HubRouteTable, ...]
    connections: tuple[HubConnection, ...]

    @property
    def provisioned(self) -> bool:
        """Ready to take connections: provisioned, and its router too."""
        return (self.provisioning_state.lower() == "succeeded"
                and (self.routing_state or "").lower() == "provisioned")

    def route_table(self, name: str) -> HubRouteTable | None:
        return next((t for t in self.route_tables if t.name.lower() == name.lower()), None)


def _hub(hub_id: str) -> rid.ResourceId:
    return rid.parse_typed(hub_id, HUB_TYPE)


def _hub_connection(model: Any) -> HubConnection:
    remote = model.remote_virtual_network
    routing = model.routing_configuration
    associated = getattr(routing, "associated_route_table", None) if routing else None
    propagated = getattr(routing, "propagated_route_tables", None) if routing else None
    return HubConnection(
        id=model.id or "",
        name=model.name or "",
        remote_vnet_id=(remote.id if remote is not None else "") or "",
        provisioning_state=_str(model.provisioning_state) or "",
        enable_internet_security=bool(model.enable_internet_security),
        associated_route_table_id=associated.id if associated is not None else None,
        propagated_route_table_ids=tuple(
            i.id for i in (getattr(propagated, "ids", None) or ()) if i.id),
        propagated_labels=tuple(getattr(propagated, "labels", None) or ()),
    )


@translate_errors
def virtual_hub_get(*, hub_id: str, tenant_id: str) -> VirtualHub:
    """Read a customer's virtual hub with its route tables and the connections it has.

    Needs ``virtualHubs/read``, ``hubRouteTables/read`` and ``hubVirtualNetworkConnections/read``
    on the hub (the hub role has them). Raises ``CustomerActionRequired`` (reason ``not_found``
    or ``permission_missing``) when the hub does not exist or the platform may not read it.
    """
    h = _hub(hub_id)
    client = clients.network(tenant_id, h.subscription_id)
    opts = clients.call_options()
    model = client.virtual_hubs.get(h.group, h.name, **opts)
    tables = client.hub_route_tables.list(h.group, h.name, **opts)
    connections = client.hub_virtual_network_connections.list(h.group, h.name, **opts)
    wan = model.virtual_wan
    return VirtualHub(
        id=model.id or hub_id,
        name=model.name or h.name,
        location=model.location or "",
        address_prefix=model.address_prefix or "",
        provisioning_state=_str(model.provisioning_state) or "",
        routing_state=_str(model.routing_state),
        virtual_wan_id=(wan.id if wan is not None else "") or "",
        route_tables=tuple(
            HubRouteTable(id=t.id or "", name=t.name or "", labels=tuple(t.labels or ()))
            for t in tables),
        connections=tuple(_hub_connection(c) for c in connections),
    )


@translate_errors
def hub_connection_create(
    *,
    hub_id: str,
    name: str,
    remote_vnet_id: str,
    tenant_id: str,
    remote_tenant_id: str,
    associated_route_table: str | None = None,
    propagated_route_tables: Sequence[str] | None = None,
    propagated_labels: Sequence[str] | None = None,
    enable_internet_security: bool = False,
    wait: bool = True,
) -> HubConnection:
    """Create (or update: the PUT is idempotent) the hub virtual network connection ``name`` on
    the customer's hub ``hub_id`` towards ``remote_vnet_id`` (a cluster VNet).

    Signed in to ``tenant_id`` (the hub's); when the remote VNet is in another tenant the call
    carries an auxiliary token for ``remote_tenant_id`` (Azure checks ``peer/action`` on the
    remote VNet with it). Route tables are names of the hub's route tables; with none given
    Azure associates ``defaultRouteTable`` and propagates to it (label ``default``). On real
    Azure this takes minutes: with ``wait=False`` the operation is started and the connection
    returned as Azure first reports it (``Updating``); check later with
    :func:`hub_connection_get`.
    """
    h = _hub(hub_id)
    _vnet(remote_vnet_id)
    client = clients.network(tenant_id, h.subscription_id, aux_tenant_id=remote_tenant_id)
    routing = None
    if associated_route_table or propagated_route_tables is not None or propagated_labels:
        associated = rid.hub_route_table_id(hub_id, associated_route_table or DEFAULT_ROUTE_TABLE)
        tables = (list(propagated_route_tables) if propagated_route_tables is not None
                  else [DEFAULT_ROUTE_TABLE])
        labels = (list(propagated_labels) if propagated_labels is not None
                  else (["default"] if propagated_route_tables is None else []))
        routing = network_models.RoutingConfiguration(
            associated_route_table=network_models.SubResource(id=associated),
            propagated_route_tables=network_models.PropagatedRouteTable(
                labels=labels,
                ids=[network_models.SubResource(id=rid.hub_route_table_id(hub_id, t))
                     for t in tables],
            ),
        )
    body = network_models.HubVirtualNetworkConnection(
        properties=network_models.HubVirtualNetworkConnectionProperties(
            remote_virtual_network=network_models.SubResource(id=remote_vnet_id),
            enable_internet_security=enable_internet_security,
            routing_configuration=routing,
        )
    )
    poller = client.hub_virtual_network_connections.begin_create_or_update(
        h.group, h.name, name, body, **_polling(wait)
    )
    model = _wait(poller) if wait else poller.result()
    return _hub_connection(model)


@translate_errors
def hub_connection_get(*, hub_id: str, name: str, tenant_id: str) -> HubConnection | None:
    """Read a hub virtual network connection; None when it (or its hub) does not exist."""
    h = _hub(hub_id)
    client = clients.network(tenant_id, h.subscription_id)
    try:
        model = client.hub_virtual_network_connections.get(
            h.group, h.name, name, **clients.call_options())
    except ResourceNotFoundError:
        return None
    return _hub_connection(model)


@translate_errors
def hub_connection_delete(*, hub_id: str, name: str, tenant_id: str, wait: bool = True) -> bool:
    """Delete a hub virtual network connection (a long-running operation). Returns False when
    it was already gone."""
    h = _hub(hub_id)
    client = clients.network(tenant_id, h.subscription_id)
    try:
        client.hub_virtual_network_connections.get(h.group, h.name, name,
                                                   **clients.call_options())
        poller = client.hub_virtual_network_connections.begin_delete(
            h.group, h.name, name, **_polling(wait))
        if wait:
            _wait(poller)
    except ResourceNotFoundError:
        return False
    return True


def hub_peering(vnet: VirtualNetwork) -> VNetPeering | None:
    """The peering a hub connection shows on ``vnet`` (``RemoteVnetToHubPeering_…``, towards
    the hub's Microsoft-managed VNet); None when the VNet has no hub connection. Read the VNet
    with :func:`vnet_get`; a VNet has at most one hub connection."""
    return next((p for p in vnet.peerings if p.name.startswith(HUB_PEERING_PREFIX)), None)


# --------------------------------------------------------------------------------------------
# A cluster's workload identity (its user-assigned managed identity)


@dataclass(frozen=True)
class WorkloadIdentity:
    """A cluster's user-assigned managed identity, as Azure shows it."""

    resource_id: str
    client_id: str
    principal_id: str
    tenant_id: str


_AADSTS_CODE = re.compile(r"AADSTS\d+")


def _permissions_from(client: Any, scope: str) -> list[Permission]:
    s = rid.parse(scope)
    if s.resource_group is None:
        raise ValueError(f"Permissions can be read at a resource group or resource, not {scope!r}")
    opts = clients.call_options()
    if not s.provider:
        models = client.permissions.list_for_resource_group(s.resource_group, **opts)
    else:
        parent = "/".join(f"{t}/{n}" for t, n in zip(s.types[:-1], s.names[:-1], strict=True))
        models = client.permissions.list_for_resource(
            s.resource_group, s.provider, parent, s.types[-1], s.names[-1], **opts
        )
    return [
        Permission(
            actions=tuple(m.actions or ()),
            not_actions=tuple(m.not_actions or ()),
            data_actions=tuple(m.data_actions or ()),
            not_data_actions=tuple(m.not_data_actions or ()),
        )
        for m in models
    ]


@translate_errors
def _identity_permissions(*, scope: str, identity: WorkloadIdentity) -> list[Permission]:
    s = rid.parse(scope)
    client = clients.authorization_as_identity(identity.client_id, identity.tenant_id,
                                               s.subscription_id)
    return _permissions_from(client, scope)


def permissions_as_identity(*, scope: str, identity: WorkloadIdentity) -> list[Permission]:
    """What ``identity`` may do at ``scope`` (a resource group or a resource id, e.g. a storage
    account or a key vault), read with the identity's own token from the permissions API
    (``…/providers/Microsoft.Authorization/permissions``), which needs no role: no grant yet
    reads as an empty list.

    The token comes from the platform's assertion exchanged through the identity's federated
    credential (:func:`clients.identity_credential`). A scope in a subscription of another
    tenant than the identity's raises ``CustomerActionRequired`` (reason
    ``identity_other_tenant``): a managed identity acts only in its own tenant."""
    try:
        return _identity_permissions(scope=scope, identity=identity)
    except PermanentAzureError as exc:
        sign_in = _AADSTS_CODE.search(f"{exc.detail} {exc.message}")
        if sign_in is None:
            raise
        raise PermanentAzureError(
            "The platform could not sign in as the cluster's workload identity: its federated "
            "credential does not trust the platform's issuer and subject (the platform team "
            f"must fix the identity {identity.resource_id}). ({sign_in.group(0)})",
            code=sign_in.group(0), detail=exc.detail, request_id=exc.request_id,
            reason="identity_sign_in",
        ) from exc
    except CustomerActionRequired as exc:
        if exc.reason != "wrong_tenant":
            raise
        raise CustomerActionRequired(
            f"The resource's subscription is not in the tenant of the cluster's workload "
            f"identity ({identity.tenant_id}); Azure lets a managed identity act only on "
            "resources in its own tenant.",
            code=exc.code, detail=exc.detail, request_id=exc.request_id,
            reason="identity_other_tenant",
        ) from exc


def missing_data_from(permissions: Iterable[Permission], required: Iterable[str]) -> list[str]:
    """The ``required`` data actions no permission grants (``notDataActions`` remove data
    actions from their own role only, as for :func:`missing_from`)."""
    perms = list(permissions)

    def granted(action: str) -> bool:
        return any(
            any(_matches(a, action) for a in p.data_actions)
            and not any(_matches(n, action) for n in p.not_data_actions)
            for p in perms
        )

    return [action for action in required if not granted(action)]


def missing_as_identity(
    *,
    scope: str,
    identity: WorkloadIdentity,
    actions: Iterable[str] = (),
    data_actions: Iterable[str] = (),
) -> list[str]:
    """Which of ``actions`` and ``data_actions`` ``identity`` may not perform at ``scope``
    (empty: all effective). A role assigned minutes ago may not show yet (propagation):
    callers treat a non-empty answer as pending for a while, as pre-flight does for grants."""
    permissions = permissions_as_identity(scope=scope, identity=identity)
    return missing_from(permissions, actions) + missing_data_from(permissions, data_actions)


# --------------------------------------------------------------------------------------------
# Independent calls at once

_T = TypeVar("_T")
#: Threads that only wait on ARM for a step's independent calls (both sides of a peering, the
#: two VNets pre-flight reads), started as needed. They touch no database: a step hands them
#: gateway calls only. Enough for every worker thread's second call at once.
_ARM_IO_THREADS = 32
_arm_io = ThreadPoolExecutor(max_workers=_ARM_IO_THREADS, thread_name_prefix="arm-io")


def _new_pool_after_fork() -> None:
    # A forked child (a prefork worker, a preloading web server) has none of its parent's
    # threads: a pool inherited with threads it no longer has would never run a call.
    global _arm_io
    _arm_io = ThreadPoolExecutor(max_workers=_ARM_IO_THREADS, thread_name_prefix="arm-io")


os.register_at_fork(after_in_child=_new_pool_after_fork)


def at_once(*calls: Callable[[], _T]) -> list[_T]:
    """Run independent gateway calls concurrently and return their results in order: one
    ARM round trip of a step's time instead of one per call. The first runs in the caller's
    thread, the others in the pool. Every call runs to its end; the first failure (in the order
    given) is then raised, as if the calls had run one by one. Request-id captures and the
    caller's context carry into each call."""
    if len(calls) < 2:
        return [call() for call in calls]
    futures = [_arm_io.submit(contextvars.copy_context().run, call) for call in calls[1:]]
    outcomes: list[tuple[bool, Any]] = []
    try:
        outcomes.append((True, calls[0]()))
    except BaseException as exc:  # re-raised below, after every call has ended
        outcomes.append((False, exc))
    for future in futures:
        try:
            outcomes.append((True, future.result()))
        except BaseException as exc:
            outcomes.append((False, exc))
    for ok, value in outcomes:
        if not ok:
            raise value
    return [value for _, value in outcomes]
