"""Virtual WAN in the simulator: virtual WANs, virtual hubs with their route tables, and hub
virtual network connections (shapes from the REST specs' ``VirtualWANGet``, ``VirtualHubPut``,
``HubRouteTableGet`` and ``HubVirtualNetworkConnectionPut/Get/Delete`` examples).

As on Azure, a hub is backed by a virtual network of its own in a Microsoft-managed
subscription (``HV_<hub>_<guid>``), and a hub connection is a peering under the hood: the
remote VNet shows a peering ``RemoteVnetToHubPeering_<guid>`` towards the hub's VNet, which
reads ``Connected`` once the connection has ``Succeeded``, and goes away with the connection.
So the overlap rules are the peering's (``VnetAddressSpacesOverlap`` against the hub's address
prefix, ``VnetAddressSpaceOverlapsWithAlreadyPeeredVnet`` against the VNets already
connected), and writing a connection needs ``hubVirtualNetworkConnections/write`` on the hub
and ``virtualNetworks/peer/action`` on the remote VNet (with the auxiliary-token header when
that VNet is in another tenant), like a peering.

``arm.py`` registers the PUT handlers below; ``state.py`` calls the hooks; ``control_api.py``
routes the customer's actions (create a WAN and a hub, delete a connection, grant the hub role)
to the ``control_*`` functions.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .arm import (
    PEER_ACTION,
    ArmError,
    PutContext,
    Response,
    _bad_request,
    _lower_keys,
    _overlaps,
    _resource_not_found,
    build_vnet,
)
from .rbac import normalize_scope
from .state import PEERING, VNET, Operation, Resource, State, new_etag, rg_id

if TYPE_CHECKING:
    from .arm import Arm
    from .control import Control

WAN = "Microsoft.Network/virtualWans"
HUB = "Microsoft.Network/virtualHubs"
HUB_ROUTE_TABLE = "Microsoft.Network/virtualHubs/hubRouteTables"
HUB_CONNECTION = "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections"
TYPE_SEGMENTS = ("virtualWans", "virtualHubs", "hubRouteTables", "hubVirtualNetworkConnections")

#: The Microsoft-managed subscription that holds the hubs' own virtual networks (never one a
#: caller can reach, as on Azure).
MANAGED_SUBSCRIPTION = "9a1f5c3e-0000-4000-8000-00000000a11b"
HUB_PEERING_PREFIX = "RemoteVnetToHubPeering_"
DEFAULT_ROUTE_TABLE = "defaultRouteTable"
NONE_ROUTE_TABLE = "noneRouteTable"
_HUB_NAMESPACE = uuid.UUID("0c7f6f5e-2a4b-4f31-9d5e-6a1b3c4d5e6f")


# ----- ids ------------------------------------------------------------------------------------
def hub_guid(hub_id: str) -> str:
    return str(uuid.uuid5(_HUB_NAMESPACE, hub_id.lower()))


def hub_vnet_id(hub_id: str) -> str:
    """The id of the hub's own (Microsoft-managed) virtual network."""
    name = hub_id.rstrip("/").rsplit("/", 1)[-1]
    guid = hub_guid(hub_id)
    return (f"/subscriptions/{MANAGED_SUBSCRIPTION}/resourceGroups/RG_{name}_{guid}"
            f"/providers/{VNET}/HV_{name}_{guid}")


def remote_peering_id(hub_id: str, remote_vnet_id: str) -> str:
    """The peering Azure shows on the remote VNet of a hub connection."""
    return f"{remote_vnet_id}/virtualNetworkPeerings/{HUB_PEERING_PREFIX}{hub_guid(hub_id)}"


def _hub_side_peering_id(hub_id: str, connection_name: str) -> str:
    return f"{hub_vnet_id(hub_id)}/virtualNetworkPeerings/{connection_name}"


def _ref(value: Any) -> str:
    return str(_lower_keys(value).get("id") or "")


# ----- resources ------------------------------------------------------------------------------
def wan_resource(rid: str, *, subscription: str, resource_group: str, location: str,
                 tags: dict[str, str] | None = None, wan_type: str = "Standard",
                 state: str = "Succeeded") -> Resource:
    return Resource(
        id=rid, type=WAN, subscription=subscription, resource_group=resource_group,
        body={
            "id": rid, "name": rid.rsplit("/", 1)[-1], "type": WAN,
            "etag": f'W/"{new_etag()}"', "location": location, "tags": tags or {},
            "properties": {
                "provisioningState": state,
                "disableVpnEncryption": False,
                "allowBranchToBranchTraffic": True,
                "allowVnetToVnetTraffic": True,
                "office365LocalBreakoutCategory": "None",
                "virtualHubs": [],
                "vpnSites": [],
                "type": wan_type,
            },
        },
    )


def hub_resource(rid: str, *, subscription: str, resource_group: str, location: str,
                 address_prefix: str, wan_id: str, tags: dict[str, str] | None = None,
                 state: str = "Succeeded", routing_state: str = "Provisioned",
                 sku: str = "Standard") -> Resource:
    network = ipaddress.ip_network(address_prefix, strict=False)
    hosts = list(network.hosts())
    router_ips = [str(hosts[3]), str(hosts[4])] if len(hosts) > 4 else []
    return Resource(
        id=rid, type=HUB, subscription=subscription, resource_group=resource_group,
        body={
            "id": rid, "name": rid.rsplit("/", 1)[-1], "type": HUB,
            "etag": f'W/"{new_etag()}"', "location": location, "tags": tags or {},
            "properties": {
                "provisioningState": state,
                "virtualWan": {"id": wan_id},
                "virtualHubRouteTableV2s": [],
                "addressPrefix": address_prefix,
                "sku": sku,
                "routingState": routing_state,
                "virtualRouterAsn": 65515,
                "virtualRouterIps": router_ips,
                "allowBranchToBranchTraffic": False,
                "preferredRoutingGateway": "ExpressRoute",
                "hubRoutingPreference": "ExpressRoute",
                "virtualRouterAutoScaleConfiguration": {"minCapacity": 2},
            },
        },
    )


def route_table_resource(hub: Resource, name: str, labels: list[str],
                         routes: list[dict[str, Any]] | None = None,
                         state: str = "Succeeded") -> Resource:
    rid = f"{hub.id}/hubRouteTables/{name}"
    return Resource(
        id=rid, type=HUB_ROUTE_TABLE, subscription=hub.subscription,
        resource_group=hub.resource_group, parent=hub.key,
        body={
            "id": rid, "name": name, "type": HUB_ROUTE_TABLE, "etag": f'W/"{new_etag()}"',
            "properties": {
                "provisioningState": state,
                "routes": list(routes or []),
                "labels": list(labels),
                "associatedConnections": [],
                "propagatingConnections": [],
            },
        },
    )


def add_default_route_tables(state: State, hub: Resource) -> None:
    """Every hub has these two, as on Azure: ``defaultRouteTable`` (label ``default``) and
    ``noneRouteTable`` (label ``none``: propagate to nothing)."""
    for name, label in ((DEFAULT_ROUTE_TABLE, "default"), (NONE_ROUTE_TABLE, "none")):
        if state.get(f"{hub.id}/hubRouteTables/{name}") is None:
            state.put_resource(route_table_resource(hub, name, [label]))


def ensure_hub_vnet(state: State, hub: Resource) -> Resource:
    """The hub's own VNet (created on first use; its address space is the hub's prefix)."""
    rid = hub_vnet_id(hub.id)
    existing = state.get(rid)
    prefix = str(hub.props.get("addressPrefix") or "")
    if existing is not None:
        existing.props["addressSpace"] = {"addressPrefixes": [prefix]}
        return existing
    parts = rid.split("/")
    return state.put_resource(build_vnet(
        rid, [prefix], location=str(hub.body.get("location") or "westeurope"), subnets=[],
        tags={}, subscription=MANAGED_SUBSCRIPTION, resource_group=parts[4],
        guid=hub_guid(hub.id),
    ))


def _peering(rid: str, parent: Resource, remote: Resource, *, gateway_transit: bool,
             use_remote_gateways: bool, state: str) -> Resource:
    prefixes = list(remote.props.get("addressSpace", {}).get("addressPrefixes", []))
    return Resource(
        id=rid, type=PEERING, subscription=parent.subscription,
        resource_group=parent.resource_group, parent=parent.key,
        body={
            "id": rid, "name": rid.rsplit("/", 1)[-1], "etag": f'W/"{new_etag()}"',
            "type": PEERING,
            "properties": {
                "provisioningState": state, "resourceGuid": str(uuid.uuid4()),
                "peeringState": "Initiated", "peeringSyncLevel": "FullyInSync",
                "remoteVirtualNetwork": {"id": remote.id},
                "allowVirtualNetworkAccess": True, "allowForwardedTraffic": True,
                "allowGatewayTransit": gateway_transit,
                "useRemoteGateways": use_remote_gateways,
                "doNotVerifyRemoteGateways": False, "peerCompleteVnets": True,
                "remoteAddressSpace": {"addressPrefixes": prefixes},
                "remoteVirtualNetworkAddressSpace": {"addressPrefixes": prefixes},
                "remoteBgpCommunities": {"virtualNetworkCommunity": "12076:20000",
                                         "regionalCommunity": "12076:50004"},
                "routeServiceVips": {},
            },
        },
    )


def connect(state: State, hub: Resource, connection_name: str, remote: Resource, *,
            settled: bool) -> None:
    """Azure's hidden half of a hub connection: the peerings between the hub's VNet and the
    remote VNet (``settled``: both already Succeeded, as after the operation)."""
    hub_vnet = ensure_hub_vnet(state, hub)
    status = "Succeeded" if settled else "Updating"
    state.put_resource(_peering(_hub_side_peering_id(hub.id, connection_name), hub_vnet, remote,
                                gateway_transit=False, use_remote_gateways=False, state=status))
    state.put_resource(_peering(remote_peering_id(hub.id, remote.id), remote, hub_vnet,
                                gateway_transit=False, use_remote_gateways=False, state=status))


def _connection_peerings(state: State, connection: Resource) -> list[Resource]:
    hub_id = connection.parent or ""
    remote_id = _ref(connection.props.get("remoteVirtualNetwork"))
    found = [state.get(_hub_side_peering_id(hub_id, connection.body["name"])),
             state.get(remote_peering_id(hub_id, remote_id)) if remote_id else None]
    return [p for p in found if p is not None]


# ----- state hooks ----------------------------------------------------------------------------
def on_succeeded(state: State, op: Operation, resource: Resource) -> None:
    if resource.type == HUB_CONNECTION:
        for peering in _connection_peerings(state, resource):
            peering.props["provisioningState"] = "Succeeded"
    elif resource.type == HUB:
        resource.props["routingState"] = "Provisioned"


def on_remove(state: State, resource: Resource) -> None:
    if resource.type == HUB_CONNECTION:
        for peering in _connection_peerings(state, resource):
            state.resources.pop(peering.key, None)
    elif resource.type == HUB:
        hub_vnet = state.get(hub_vnet_id(resource.id))
        if hub_vnet is not None:
            state.remove_resource(hub_vnet)


def render(state: State, resource: Resource, body: dict[str, Any]) -> None:
    if resource.type == WAN:
        body["properties"]["virtualHubs"] = [
            {"id": r.id} for r in state.resources.values()
            if r.type == HUB and _ref(r.props.get("virtualWan")).lower() == resource.key
        ]
    elif resource.type == HUB_ROUTE_TABLE:
        associated, propagating = [], []
        for connection in state.children(resource.parent or "", HUB_CONNECTION):
            routing = connection.props.get("routingConfiguration", {})
            if _ref(routing.get("associatedRouteTable")).lower() == resource.key:
                associated.append(connection.id)
            ids = [_ref(i).lower() for i in routing.get("propagatedRouteTables", {}).get(
                "ids", [])]
            if resource.key in ids:
                propagating.append(connection.id)
        body["properties"]["associatedConnections"] = associated
        body["properties"]["propagatingConnections"] = propagating


# ----- PUT handlers (registered in arm.py) ----------------------------------------------------
def put_wan(arm: Arm, ctx: PutContext) -> Response:
    body = ctx.req.body
    props = _lower_keys(body.get("properties"))
    wan = wan_resource(
        ctx.rid, subscription=ctx.target.subscription, resource_group=ctx.group.resource_group,
        location=str(body.get("location") or ctx.group.body["location"]), tags=body.get("tags"),
        wan_type=str(props.get("type") or "Standard"), state="Updating",
    )
    arm.state.put_resource(wan)
    op = arm.state.start_operation(resource=wan, method="PUT", style="network", lock_key=None)
    return Response(200 if ctx.existing else 201, arm.state.render(wan),
                    arm._lro_headers(ctx.req, op))


def put_hub(arm: Arm, ctx: PutContext) -> Response:
    body = ctx.req.body
    props = _lower_keys(body.get("properties"))
    prefix = str(props.get("addressPrefix") or "")
    if not prefix:
        raise _bad_request(
            "AddressPrefixStringCannotBeNullOrEmpty",
            f"Address prefix string for resource {ctx.rid} cannot be null or empty.")
    try:
        ipaddress.ip_network(prefix, strict=True)
    except ValueError as exc:
        raise _bad_request("InvalidAddressPrefixFormat",
                           f"Address prefix {prefix} has an invalid format.") from exc
    wan_id = normalize_scope(_ref(props.get("virtualWan")))
    wan = arm.state.get(wan_id) if wan_id else None
    if wan is None or wan.type != WAN:
        raise ArmError(
            400, "InvalidResourceReference",
            f"Resource {wan_id or 'virtualWan'} referenced by resource {ctx.rid} was not found. "
            "Please make sure that the referenced resource exists, and that both resources are "
            "in the same region.")
    hub = hub_resource(
        ctx.rid, subscription=ctx.target.subscription, resource_group=ctx.group.resource_group,
        location=str(body.get("location") or ctx.group.body["location"]), tags=body.get("tags"),
        address_prefix=prefix, wan_id=wan.id, state="Updating",
        routing_state="Provisioned" if ctx.existing else "Provisioning",
        sku=str(props.get("sku") or "Standard"),
    )
    arm.state.put_resource(hub)
    add_default_route_tables(arm.state, hub)
    op = arm.state.start_operation(resource=hub, method="PUT", style="network", lock_key=None)
    return Response(200 if ctx.existing else 201, arm.state.render(hub),
                    arm._lro_headers(ctx.req, op))


def put_route_table(arm: Arm, ctx: PutContext) -> Response:
    hub = ctx.parent
    assert hub is not None
    props = _lower_keys(ctx.req.body.get("properties"))
    table = route_table_resource(hub, ctx.target.names[-1], list(props.get("labels") or []),
                                 list(props.get("routes") or []), state="Updating")
    arm.state.put_resource(table)
    op = arm.state.start_operation(resource=table, method="PUT", style="network", lock_key=None)
    return Response(200 if ctx.existing else 201, arm.state.render(table),
                    arm._lro_headers(ctx.req, op))


def _route_table_ref(arm: Arm, hub: Resource, ref: str, rid: str) -> str:
    table = arm.state.get(ref)
    if table is None or table.type != HUB_ROUTE_TABLE or table.parent != hub.key:
        raise ArmError(
            400, "InvalidResourceReference",
            f"Resource {ref} referenced by resource {rid} was not found. Please make sure that "
            "the referenced resource exists, and that both resources are in the same region.")
    return table.id


def put_hub_connection(arm: Arm, ctx: PutContext) -> Response:
    hub = ctx.parent
    assert hub is not None
    state = arm.state
    props = _lower_keys(ctx.req.body.get("properties"))
    remote_id = _ref(props.get("remoteVirtualNetwork"))
    if not remote_id:
        raise _bad_request(
            "InvalidRequestFormat",
            "Cannot parse the request: properties.remoteVirtualNetwork.id is required.")
    remote_id = normalize_scope(remote_id)
    arm._authorize_linked(ctx.caller, ctx.aux, f"{HUB_CONNECTION}/write", hub.id, PEER_ACTION,
                          remote_id)
    remote = state.get(remote_id)
    if remote is None or remote.type != VNET:
        info = remote_id.split("/")
        raise _resource_not_found(f"{VNET}/{remote_id.rsplit('/', 1)[-1]}",
                                  info[4] if len(info) > 4 else "?")
    if hub.props.get("provisioningState") != "Succeeded" and ctx.existing is None:
        raise ArmError(
            400, "ReferencedResourceNotProvisioned",
            f"Cannot proceed with operation because resource {hub.id} used by resource "
            f"{ctx.rid} is not in Succeeded state. Resource is in "
            f"{hub.props.get('provisioningState')} state and the last operation that "
            "updated/is updating the resource is PutVirtualHubOperation.", details=[])
    for other in state.resources.values():
        if (other.type == HUB_CONNECTION and other.key != ctx.rid.lower()
                and _ref(other.props.get("remoteVirtualNetwork")).lower() == remote.key):
            raise _bad_request(
                "VirtualNetworkAlreadyConnectedToVirtualHub",
                f"Cannot create or update hub virtual network connection {ctx.rid} because "
                f"virtual network {remote.id} is already connected to a virtual hub by "
                f"{other.id}. A virtual network can be connected to one virtual hub only.")
    hub_vnet = ensure_hub_vnet(state, hub)
    peering_ref = f"Cannot create or update peering {remote_peering_id(hub.id, remote.id)}"
    overlap = _overlaps(state.vnet_prefixes(remote), state.vnet_prefixes(hub_vnet))
    if overlap:
        raise _bad_request(
            "VnetAddressSpacesOverlap",
            f"{peering_ref}. Virtual networks {remote.id} and {hub_vnet.id} cannot be peered "
            "because their address spaces overlap. Overlapping address prefixes: "
            f"{', '.join(overlap)}. For more information please refer to "
            "https://aka.ms/VnetPeeringInfo",
        )
    arm._check_already_peered(peering_ref, hub_vnet, remote)
    arm._check_already_peered(peering_ref, remote, hub_vnet)
    routing = _lower_keys(props.get("routingConfiguration"))
    default_table = f"{hub.id}/hubRouteTables/{DEFAULT_ROUTE_TABLE}"
    associated = _ref(routing.get("associatedRouteTable")) or default_table
    associated = _route_table_ref(arm, hub, associated, ctx.rid)
    propagated = _lower_keys(routing.get("propagatedRouteTables"))
    if "ids" in propagated or "labels" in propagated:
        ids = [_route_table_ref(arm, hub, _ref(i), ctx.rid) for i in propagated.get("ids") or []]
        labels = [str(label) for label in propagated.get("labels") or []]
    else:
        ids, labels = [_route_table_ref(arm, hub, default_table, ctx.rid)], ["default"]
    existing = ctx.existing
    connection = Resource(
        id=ctx.rid, type=HUB_CONNECTION, subscription=hub.subscription,
        resource_group=hub.resource_group, parent=hub.key,
        body={
            "name": ctx.target.names[-1],
            "id": ctx.rid,
            "etag": f'W/"{new_etag()}"',
            "type": HUB_CONNECTION,
            "properties": {
                "provisioningState": "Updating",
                "resourceGuid": (existing.props.get("resourceGuid") if existing else None)
                or str(uuid.uuid4()),
                "remoteVirtualNetwork": {"id": remote.id},
                "allowHubToRemoteVnetTransit": True,
                "allowRemoteVnetToUseHubVnetGateways": True,
                "enableInternetSecurity": bool(props.get("enableInternetSecurity", False)),
                "routingConfiguration": {
                    "associatedRouteTable": {"id": associated},
                    "propagatedRouteTables": {"labels": labels,
                                              "ids": [{"id": i} for i in ids]},
                    "vnetRoutes": {
                        "staticRoutesConfig": {"propagateStaticRoutes": True,
                                               "vnetLocalRouteOverrideCriteria": "Contains"},
                        "staticRoutes": [],
                        "bgpConnections": [],
                    },
                },
            },
        },
    )
    state.put_resource(connection)
    connect(state, hub, connection.body["name"], remote, settled=False)
    op = state.start_operation(resource=connection, method="PUT", style="network",
                               lock_key=None)
    op.location = str(hub.body.get("location") or "westeurope").replace(" ", "").lower()
    return Response(200 if existing else 201, state.render(connection),
                    arm._lro_headers(ctx.req, op))


PUT_HANDLERS: dict[str, Callable[[Arm, PutContext], Response]] = {
    WAN: put_wan,
    HUB: put_hub,
    HUB_ROUTE_TABLE: put_route_table,
    HUB_CONNECTION: put_hub_connection,
}
LRO_STYLE: dict[str, str] = {WAN: "network", HUB: "network", HUB_ROUTE_TABLE: "network",
             HUB_CONNECTION: "network"}


# ----- the customer's actions (the control API) -----------------------------------------------
def _customer_subscription(control: Control, tenant_id: str, subscription_id: str) -> str:
    from .control import SimulatorError

    state = control._state
    if subscription_id.lower() not in state.subscriptions:
        state.add_subscription(subscription_id, tenant_id)
    elif (state.tenant_of_subscription(subscription_id) or "").lower() != tenant_id.lower():
        owner = state.tenant_of_subscription(subscription_id)
        raise SimulatorError(
            f"subscription {subscription_id} belongs to tenant {owner}, not {tenant_id}")
    return str(state.subscriptions[subscription_id.lower()]["id"])


def control_create_wan(control: Control, *, tenant_id: str, subscription_id: str,
                       resource_group: str, name: str,
                       location: str = "westeurope") -> dict[str, Any]:
    """The customer creates (or replaces) a virtual WAN, with no RBAC involved."""
    state = control._state
    with state.lock:
        state.advance()
        subscription = _customer_subscription(control, tenant_id, subscription_id)
        group = state.ensure_resource_group(subscription, resource_group, location)
        rid = f"{group.id}/providers/{WAN}/{name}"
        existing = state.get(rid)
        wan = state.put_resource(wan_resource(
            existing.id if existing else rid, subscription=group.subscription,
            resource_group=group.resource_group, location=location))
        return state.render(wan)


def control_create_hub(control: Control, *, tenant_id: str, subscription_id: str,
                       resource_group: str, name: str, address_prefix: str, virtual_wan: str,
                       location: str = "westeurope",
                       routing_state: str = "Provisioned") -> dict[str, Any]:
    """The customer creates (or replaces) a virtual hub in a virtual WAN (its name in the same
    resource group, or its id), with its default and none route tables."""
    from .control import SimulatorError, SimulatorNotFound

    state = control._state
    with state.lock:
        state.advance()
        try:
            ipaddress.ip_network(address_prefix, strict=True)
        except ValueError as exc:
            raise SimulatorError(f"address_prefix {address_prefix!r} is not a CIDR "
                                 "prefix") from exc
        subscription = _customer_subscription(control, tenant_id, subscription_id)
        group = state.ensure_resource_group(subscription, resource_group, location)
        wan_id = virtual_wan if virtual_wan.startswith("/") else (
            f"{rg_id(subscription, resource_group)}/providers/{WAN}/{virtual_wan}")
        wan = state.get(wan_id)
        if wan is None or wan.type != WAN:
            raise SimulatorNotFound(f"no virtual WAN {wan_id}; create it with "
                                    "POST /_simulator/customer/virtual-wan first")
        rid = f"{group.id}/providers/{HUB}/{name}"
        existing = state.get(rid)
        hub = hub_resource(
            existing.id if existing else rid, subscription=group.subscription,
            resource_group=group.resource_group, location=location,
            address_prefix=address_prefix, wan_id=wan.id, routing_state=routing_state)
        state.put_resource(hub)
        add_default_route_tables(state, hub)
        ensure_hub_vnet(state, hub)
        return state.render(hub)


def control_delete_hub_connection(control: Control, *, hub_id: str,
                                  name: str) -> dict[str, Any]:
    """The customer deletes a hub connection on their hub: it is gone at once, and so is the
    peering it showed on the remote VNet."""
    state = control._state
    with state.lock:
        state.advance()
        connection = state.get(f"{hub_id}/hubVirtualNetworkConnections/{name}")
        if connection is None:
            return {"deleted": False}
        state.remove_resource(connection)
        return {"deleted": True, "id": connection.id}


def control_delete_hub(control: Control, *, hub_id: str) -> dict[str, Any]:
    """The customer deletes a virtual hub: its route tables and connections go with it, and so
    do the peerings those showed on their remote VNets. Role assignments on it stay behind, as
    on Azure (orphaned until someone deletes them)."""
    state = control._state
    with state.lock:
        state.advance()
        hub = state.get(hub_id)
        if hub is None or hub.type != HUB:
            return {"deleted": False}
        state.remove_resource(hub)
        return {"deleted": True, "id": hub.id}


def control_grant_hub(control: Control, *, tenant_id: str, subscription_id: str,
                      resource_group: str, hub_name: str, app_id: str, proof: str | None = None,
                      description: str | None = None,
                      role_definition: dict[str, Any] | str | None = None,
                      principal_id: str | None = None) -> dict[str, Any]:
    """What the portal's generated hub commands do: ``az role definition create`` with the hub
    role (``roles.role_definition`` of a ``CustomerHub``) and ``az role assignment create --scope <hub id>
    --description "<proof>"``; a second grant on the same hub appends its proof, as the
    generated ``az role assignment update`` does. The hub must exist (``SimulatorNotFound``);
    a new assignment is subject to the configured propagation delay."""
    from connectivity.azure import roles

    from .control import SimulatorNotFound

    state = control._state
    with state.lock:
        subscription = _customer_subscription(control, tenant_id, subscription_id)
        hub = state.get(f"{rg_id(subscription, resource_group)}/providers/{HUB}/{hub_name}")
        if hub is None:
            raise SimulatorNotFound(
                f"The Resource '{HUB}/{hub_name}' under resource group '{resource_group}' was "
                f"not found in subscription {subscription}; a role cannot be assigned on it.")
        scope = hub.id
        principal = principal_id or state.principal_id(app_id, tenant_id)
        if role_definition is None:
            customer = roles.CustomerHub(tenant_id, subscription, resource_group, hub_name)
            role_definition = control._portal_role(roles.role_definition(customer),
                                                   tenant_id)
        role = control._resolve_role(role_definition, tenant_id, subscription, scope)
        text = description
        if proof:
            text = roles.proof_description(proof) if not text else f"{text} {proof}"
        assignment = next((
            a for a in state.role_assignments.values()
            if a.principal_id.lower() == principal.lower() and a.role_guid == role.guid
            and normalize_scope(a.scope).lower() == scope.lower()), None)
        if assignment is None:
            assignment = state.add_role_assignment(scope=scope, principal_id=principal,
                                                   role=role, tenant_id=tenant_id)
            assignment.description = text
        elif proof and not roles.description_carries(assignment.description, proof):
            assignment.description = (f"{assignment.description} {proof}"
                                      if assignment.description
                                      else roles.proof_description(proof))
        elif text and not proof:
            assignment.description = text
        return {
            "role_definition_id": assignment.role_definition_id,
            "role_definition_name": role.role_name,
            "role_assignment_id": assignment.id,
            "principal_id": principal,
            "scope": scope,
            "description": assignment.description,
            "effective_in": float(state.faults.get("propagation_delay")),
        }
