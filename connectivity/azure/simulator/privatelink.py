"""Private Link as Azure serves it: private endpoints, Private Link services, PaaS resources.

- ``Microsoft.Network/privateEndpoints`` (PUT and DELETE as long-running operations): one
  connection, manual (``manualPrivateLinkServiceConnections``, Pending until the resource's
  owner approves) or automatic (``privateLinkServiceConnections``, which needs the approval
  action on the target, or a Private Link service that auto-approves the subscription). The
  endpoint gets a NIC with the next free private IP of its subnet. Its connection state mirrors
  the ``privateEndpointConnections`` entry on the target; when the owner removes that entry
  the endpoint reads ``Disconnected``.
- ``privateEndpoints/{name}/privateDnsZoneGroups/{name}``: writes the endpoint's A record into
  each linked private DNS zone, and removes it with the group or the endpoint.
- Subnets as Azure shows them (``GET …/virtualNetworks/{vnet}/subnets/{subnet}``, and inside
  the VNet's GET): their ``addressPrefix``, every NIC IP configuration using one of their
  addresses (``ipConfigurations``) and their ``privateEndpoints``; an endpoint in a subnet with
  no free address (Azure keeps five of each) is refused with ``SubnetIsFull``. The control API's
  ``platform/network-interface`` takes addresses as something else in the subnet would.
- ``Microsoft.Network/privateLinkServices`` with ``alias``, ``visibility`` and
  ``autoApproval``; an alias works wherever a service id does, and
  ``locations/{location}/checkPrivateLinkServiceVisibility`` answers whether it is visible.
- PaaS resources (storage accounts, SQL servers, key vaults, Cosmos DB accounts, Event Hubs
  namespaces) that carry ``privateEndpointConnections``; the group ids each type accepts are
  in :data:`GROUP_IDS`.

The customer creates services and PaaS resources and approves, rejects or removes connections
through the control API (:data:`CONTROL_ROUTES`), as ``az network private-endpoint-connection``
would. :func:`register` plugs all this into ``arm.py``, ``state.py`` and ``control_api.py``.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from .arm import (
    GET_HANDLERS,
    LRO_STYLE,
    PUT_HANDLERS,
    SUBSCRIPTION_ACTIONS,
    SUPPORTED,
    Arm,
    ArmError,
    Caller,
    PutContext,
    Request,
    Response,
    _lower_keys,
    _resource_not_found,
)
from .control import Control, SimulatorError, SimulatorNotFound
from .rbac import normalize_scope
from .state import (
    NAMESPACES,
    REMOVE_HOOKS,
    RENDER_HOOKS,
    TYPE_SEGMENTS,
    VNET,
    ZONE,
    Resource,
    State,
    new_etag,
    rg_id,
)

ENDPOINT = "Microsoft.Network/privateEndpoints"
ZONE_GROUP = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"
SERVICE = "Microsoft.Network/privateLinkServices"
NIC = "Microsoft.Network/networkInterfaces"
SUBNET = "Microsoft.Network/virtualNetworks/subnets"
CONNECTIONS = "privateEndpointConnections"
JOIN_SUBNET = "Microsoft.Network/virtualNetworks/subnets/join/action"
JOIN_ZONE = "Microsoft.Network/privateDnsZones/join/action"
ALIAS_SUFFIX = ".azure.privatelinkservice"

#: What Azure accepts as a private endpoint's group id per PaaS type, with the public DNS suffix
#: the endpoint's FQDN ends in and the ``privatelink.*`` zone its A record belongs in.
GROUP_IDS: dict[str, dict[str, tuple[str, str]]] = {
    "Microsoft.Storage/storageAccounts": {
        "blob": ("blob.core.windows.net", "privatelink.blob.core.windows.net"),
        "dfs": ("dfs.core.windows.net", "privatelink.dfs.core.windows.net"),
        "file": ("file.core.windows.net", "privatelink.file.core.windows.net"),
        "queue": ("queue.core.windows.net", "privatelink.queue.core.windows.net"),
        "table": ("table.core.windows.net", "privatelink.table.core.windows.net"),
        "web": ("web.core.windows.net", "privatelink.web.core.windows.net"),
    },
    "Microsoft.Sql/servers": {
        "sqlServer": ("database.windows.net", "privatelink.database.windows.net"),
    },
    "Microsoft.KeyVault/vaults": {
        "vault": ("vault.azure.net", "privatelink.vaultcore.azure.net"),
    },
    "Microsoft.DocumentDB/databaseAccounts": {
        "Sql": ("documents.azure.com", "privatelink.documents.azure.com"),
        "MongoDB": ("mongo.cosmos.azure.com", "privatelink.mongo.cosmos.azure.com"),
        "Cassandra": ("cassandra.cosmos.azure.com", "privatelink.cassandra.cosmos.azure.com"),
        "Gremlin": ("gremlin.cosmos.azure.com", "privatelink.gremlin.cosmos.azure.com"),
        "Table": ("table.cosmos.azure.com", "privatelink.table.cosmos.azure.com"),
    },
    "Microsoft.EventHub/namespaces": {
        "namespace": ("servicebus.windows.net", "privatelink.servicebus.windows.net"),
    },
}
PAAS_TYPES = {t.lower(): t for t in GROUP_IDS}
#: Short names the control API also takes for the two types a workload identity is most often
#: authorized on.
PAAS_SHORT_NAMES = {"storage_account": "Microsoft.Storage/storageAccounts",
                    "key_vault": "Microsoft.KeyVault/vaults"}
STATUSES = ("Pending", "Approved", "Rejected", "Disconnected")


# ----- helpers ---------------------------------------------------------------------------------
def _bad(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def _is_target_type(rtype: str) -> bool:
    return rtype == SERVICE or rtype in GROUP_IDS


def _connection_type(target_type: str) -> str:
    return f"{target_type}/{CONNECTIONS}"


def _state_key(target_type: str) -> str:
    # Storage spells it actionRequired; Microsoft.Network and the others actionsRequired.
    return "actionRequired" if target_type.startswith("Microsoft.Storage/") else "actionsRequired"


def find_alias(state: State, alias: str) -> Resource | None:
    for resource in state.resources.values():
        if resource.type == SERVICE and str(resource.props.get("alias", "")).lower() == \
                alias.strip().lower():
            return resource
    return None


def _subnet(state: State, subnet_id: str) -> tuple[Resource, dict[str, Any]] | None:
    parts = normalize_scope(subnet_id).split("/")
    if len(parts) != 11 or parts[9].lower() != "subnets":
        return None
    vnet = state.get("/".join(parts[:9]))
    if vnet is None or vnet.type != VNET:
        return None
    for subnet in vnet.props.get("subnets", []):
        if subnet.get("name", "").lower() == parts[10].lower():
            return vnet, subnet
    return None


def _subnet_ip_configurations(state: State, subnet_id: str) -> list[tuple[str, str]]:
    """(ip configuration id, private IP) of every NIC's configuration in the subnet."""
    found = []
    for nic in state.resources.values():
        if nic.type != NIC:
            continue
        for config in nic.props.get("ipConfigurations", []):
            props = config.get("properties", {})
            if props.get("subnet", {}).get("id", "").lower() == subnet_id.lower():
                found.append((str(config.get("id", "")), str(props.get("privateIPAddress"))))
    return found


def _free_ips(state: State, subnet: dict[str, Any], count: int = 1) -> list[str]:
    """The next free addresses: Azure keeps a subnet's first four and its last for itself."""
    prefix = subnet.get("properties", {}).get("addressPrefix")
    if not prefix:
        return []
    network = ipaddress.ip_network(prefix, strict=False)
    used = {ip for _, ip in _subnet_ip_configurations(state, subnet["id"])}
    first = int(network.network_address) + 4
    last = int(network.broadcast_address) - 1
    free: list[str] = []
    for value in range(first, last + 1):
        address = str(ipaddress.ip_address(value))
        if address not in used:
            free.append(address)
            if len(free) == count:
                break
    return free


def _next_ip(state: State, subnet: dict[str, Any]) -> str | None:
    free = _free_ips(state, subnet)
    return free[0] if free else None


def render_subnet(state: State, vnet_id: str, subnet: dict[str, Any]) -> dict[str, Any]:
    """A subnet as Azure shows it: what uses its addresses (every NIC's IP configuration in
    it) and the private endpoints in it, as references."""
    body = dict(subnet)
    props = dict(body.get("properties") or {})
    configs = _subnet_ip_configurations(state, subnet["id"])
    if configs:
        props["ipConfigurations"] = [{"id": config_id} for config_id, _ in configs]
    endpoints = [e.id for e in state.resources.values() if e.type == ENDPOINT and str(
        e.props.get("subnet", {}).get("id", "")).lower() == subnet["id"].lower()]
    if endpoints:
        props["privateEndpoints"] = [{"id": e} for e in endpoints]
    body["properties"] = props
    return body


def render_vnet(state: State, vnet: Resource, body: dict[str, Any]) -> None:
    body["properties"]["subnets"] = [render_subnet(state, vnet.id, s)
                                     for s in body["properties"].get("subnets", [])]


def get_subnet(arm: Arm, req: Request, caller: Caller, target: Any) -> Response:
    """``GET …/virtualNetworks/{vnet}/subnets/{subnet}``: the subnet inside its VNet."""
    state = arm.state
    group = state.get(f"/subscriptions/{target.subscription}/resourceGroups/"
                      f"{target.resource_group}")
    vnet_id = (f"/subscriptions/{target.subscription}/resourceGroups/{target.resource_group}"
               f"/providers/{VNET}/{target.names[0]}")
    subnet_id = f"{vnet_id}/subnets/{target.names[1]}"
    arm._authorize(caller, f"{VNET}/subnets/read", subnet_id)
    if group is None:
        raise ArmError(404, "ResourceGroupNotFound",
                       f"Resource group '{target.resource_group}' could not be found.")
    vnet = state.get(vnet_id)
    if vnet is None or vnet.type != VNET:
        raise _resource_not_found(f"Microsoft.Network/virtualNetworks/{target.names[0]}",
                                  target.resource_group)
    for subnet in vnet.props.get("subnets", []):
        if subnet.get("name", "").lower() == target.names[1].lower():
            return Response(200, render_subnet(state, vnet.id, subnet))
    raise ArmError(404, "NotFound", f"Resource {subnet_id} not found.")


def _connection_entry(endpoint: Resource) -> tuple[str, dict[str, Any]] | None:
    """(kind, entry) of the endpoint's one connection: kind is manual or automatic."""
    for kind in ("manualPrivateLinkServiceConnections", "privateLinkServiceConnections"):
        for entry in endpoint.props.get(kind, []):
            return kind, entry
    return None


# ----- Microsoft.Network/privateEndpoints ------------------------------------------------------
def put_endpoint(arm: Arm, ctx: PutContext) -> Response:
    state = arm.state
    body = ctx.req.body
    props = _lower_keys(body.get("properties"))
    subnet_ref = str(_lower_keys(props.get("subnet")).get("id") or "")
    if not subnet_ref:
        raise _bad("InvalidRequestFormat", "Cannot parse the request: properties.subnet.id is "
                   "required.")
    arm._authorize_linked(ctx.caller, ctx.aux, f"{ENDPOINT}/write", ctx.rid, JOIN_SUBNET,
                          normalize_scope(subnet_ref))
    found = _subnet(state, subnet_ref)
    if found is None:
        raise _bad("InvalidResourceReference",
                   f"Resource {subnet_ref} referenced by resource {ctx.rid} was not found. "
                   "Please make sure that the referenced resource exists, and that both "
                   "resources are in the same region.")
    vnet, subnet = found
    manual = list(props.get("manualPrivateLinkServiceConnections") or [])
    automatic = list(props.get("privateLinkServiceConnections") or [])
    if len(manual) + len(automatic) != 1:
        raise _bad("InvalidRequestFormat", "A private endpoint needs exactly one connection in "
                   "privateLinkServiceConnections or manualPrivateLinkServiceConnections.")
    kind = "manualPrivateLinkServiceConnections" if manual else "privateLinkServiceConnections"
    given = _lower_keys((manual or automatic)[0])
    given_props = _lower_keys(given.get("properties"))
    target_ref = str(given_props.get("privateLinkServiceId") or "").strip()
    group_ids = [str(g) for g in given_props.get("groupIds") or []]
    path = f"properties.{kind}[0].properties.privateLinkServiceId"
    target = _resolve_target(arm, ctx, target_ref, path)
    status, description = _initial_state(arm, ctx, target, automatic=bool(automatic))
    if target.type in GROUP_IDS:
        _check_group_ids(target, group_ids)
    connection = None
    if ctx.existing is not None:
        # A repeated PUT to the same target keeps the connection and its state (idempotent).
        connection = state.get(str(ctx.existing.props.get("_connection") or ""))
        if connection is None or connection.parent != target.key:
            _forget_endpoint(state, ctx.existing, keep_nic=True)
            connection = None
    nic_id, address = _ensure_nic(arm, ctx, subnet, vnet)
    connection_name = str(given.get("name") or target.body["name"])
    if connection is None:
        connection = _add_connection(state, target, ctx.rid, status, description)
    fqdns = _fqdns(target, group_ids, ctx.target.names[-1])
    endpoint = Resource(
        id=ctx.rid, type=ENDPOINT, subscription=ctx.target.subscription,
        resource_group=ctx.group.resource_group,
        body={
            "name": ctx.target.names[-1],
            "id": ctx.rid,
            "type": ENDPOINT,
            "etag": f'W/"{new_etag()}"',
            "location": body.get("location") or ctx.group.body["location"],
            "tags": body.get("tags") or {},
            "properties": {
                "provisioningState": "Updating",
                "resourceGuid": (ctx.existing.props.get("resourceGuid") if ctx.existing
                                 else None) or str(uuid.uuid4()),
                "privateLinkServiceConnections": [],
                "manualPrivateLinkServiceConnections": [],
                "subnet": {"id": subnet["id"]},
                "networkInterfaces": [{"id": nic_id}],
                "customDnsConfigs": [{"fqdn": f, "ipAddresses": [address]} for f in fqdns],
                "applicationSecurityGroups": [],
                "ipConfigurations": [],
                "customNetworkInterfaceName": str(props.get("customNetworkInterfaceName") or ""),
                "_connection": connection.id,
            },
        },
    )
    endpoint.props[kind] = [{
        "name": connection_name,
        "id": f"{ctx.rid}/{kind}/{connection_name}",
        "etag": f'W/"{new_etag()}"',
        "type": f"{ENDPOINT}/{kind}",
        "properties": {
            "provisioningState": "Succeeded",
            "privateLinkServiceId": target_ref,
            "groupIds": group_ids,
            "requestMessage": str(given_props.get("requestMessage") or ""),
            "privateLinkServiceConnectionState": {},
        },
    }]
    state.put_resource(endpoint)
    op = state.start_operation(resource=endpoint, method="PUT", style="network", lock_key=None)
    status_code = 200 if ctx.existing else 201
    return Response(status_code, state.render(endpoint), arm._lro_headers(ctx.req, op))


def _resolve_target(arm: Arm, ctx: PutContext, ref: str, path: str) -> Resource:
    state = arm.state
    if ref.lower().endswith(ALIAS_SUFFIX):
        service = find_alias(state, ref)
        if service is None or not _visible(service, ctx.target.subscription):
            raise _not_visible(ref)
        return service
    if not ref.lower().startswith("/subscriptions/"):
        raise _bad("LinkedInvalidPropertyId",
                   f"Property id '{ref}' at path '{path}' is invalid. Expect fully qualified "
                   "resource Id that start with '/subscriptions/{subscriptionId}' or "
                   "'/providers/{resourceProviderNamespace}/'.")
    target = state.get(ref)
    if target is None or not _is_target_type(target.type):
        if "/providers/microsoft.network/privatelinkservices/" in ref.lower():
            raise _not_visible(ref)
        raise _bad("InvalidResourceReference",
                   f"Resource {ref} referenced by resource {ctx.rid} was not found. Please make "
                   "sure that the referenced resource exists, and that both resources are in "
                   "the same region.")
    if target.type == SERVICE and not _visible(target, ctx.target.subscription) \
            and not arm.state.allowed(ctx.caller.object_id, f"{SERVICE}/read", target.id):
        raise _not_visible(ref)
    return target


def _not_visible(ref: str) -> ArmError:
    return _bad("ThirdPartyPrivateLinkServiceProvidedDuringPrivateEndpointCreationDoesNotExist"
                "OrIsNotVisible",
                f"Third-party Private Link Service Id {ref} provided during private endpoint "
                "creation does not exist or is not visible.")


def _visible(service: Resource, subscription: str) -> bool:
    allowed = [s.lower() for s in service.props.get("visibility", {}).get("subscriptions", [])]
    return "*" in allowed or subscription.lower() in allowed or \
        service.subscription.lower() == subscription.lower()


def _initial_state(arm: Arm, ctx: PutContext, target: Resource, *,
                   automatic: bool) -> tuple[str, str]:
    auto_subs = [s.lower() for s in target.props.get("autoApproval", {}).get("subscriptions", [])]
    if target.type == SERVICE and ctx.target.subscription.lower() in auto_subs:
        return "Approved", "Auto-Approved"
    if not automatic:
        return "Pending", "Awaiting approval"
    # An automatic connection is the caller approving it: it needs the approval action there.
    arm._authorize_linked(ctx.caller, ctx.aux, f"{ENDPOINT}/write", ctx.rid,
                          f"{target.type}/privateEndpointConnectionsApproval/action", target.id)
    return "Approved", "Auto-Approved"


def _check_group_ids(target: Resource, group_ids: list[str]) -> None:
    if len(group_ids) > 1:
        raise _bad("OnlyOneGroupIdPermitted",
                   f"Private link service connection has the following group Ids: "
                   f"{', '.join(group_ids)}. Only one group Id is permitted when connecting to a "
                   f"first-party resource ({target.id}).")
    accepted = {g.lower() for g in GROUP_IDS[target.type]}
    if not group_ids or group_ids[0].lower() not in accepted:
        raise _bad("InvalidValuesForRequestParameters",
                   f"Call to {target.type} failed. Error message: Values for request parameters "
                   f"are invalid: GroupId: {group_ids[0] if group_ids else ''}.")


def _fqdns(target: Resource, group_ids: list[str], endpoint_name: str) -> list[str]:
    if target.type == SERVICE:
        return [str(f) for f in target.props.get("fqdns", [])]
    table = {g.lower(): v for g, v in GROUP_IDS[target.type].items()}
    suffix = table[group_ids[0].lower()][0]
    return [f"{target.body['name']}.{suffix}"]


def _ensure_nic(arm: Arm, ctx: PutContext, subnet: dict[str, Any],
                vnet: Resource) -> tuple[str, str]:
    state = arm.state
    if ctx.existing is not None:
        for ref in ctx.existing.props.get("networkInterfaces", []):
            nic = state.get(ref["id"])
            if nic is not None:
                config = nic.props["ipConfigurations"][0]["properties"]
                return nic.id, config["privateIPAddress"]
    address = _next_ip(state, subnet)
    if address is None:
        raise _bad("SubnetIsFull",
                   f"Subnet {subnet['name']} with address prefix "
                   f"{subnet.get('properties', {}).get('addressPrefix')} does not have enough "
                   "capacity for 1 IP addresses.")
    name = str(_lower_keys(ctx.req.body.get("properties")).get("customNetworkInterfaceName")
               or f"{ctx.target.names[-1]}.nic.{uuid.uuid4()}")
    nic_id = f"{ctx.group.id}/providers/{NIC}/{name}"
    state.put_resource(Resource(
        id=nic_id, type=NIC, subscription=ctx.target.subscription,
        resource_group=ctx.group.resource_group,
        body={
            "name": name, "id": nic_id, "type": NIC, "etag": f'W/"{new_etag()}"',
            "location": vnet.body.get("location", "westeurope"),
            "properties": {
                "provisioningState": "Succeeded",
                "ipConfigurations": [{
                    "name": f"privateEndpointIpConfig.{uuid.uuid4()}",
                    "id": f"{nic_id}/ipConfigurations/privateEndpointIpConfig",
                    "type": f"{NIC}/ipConfigurations",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "privateIPAddress": address,
                        "privateIPAllocationMethod": "Dynamic",
                        "privateIPAddressVersion": "IPv4",
                        "subnet": {"id": subnet["id"]},
                        "primary": True,
                    },
                }],
                "privateEndpoint": {"id": ctx.rid},
                "nicType": "Standard",
            },
        },
    ))
    return nic_id, address


def _add_connection(state: State, target: Resource, endpoint_id: str, status: str,
                    description: str) -> Resource:
    name = f"{endpoint_id.rsplit('/', 1)[-1]}.{uuid.uuid4()}"
    rtype = _connection_type(target.type)
    cid = f"{target.id}/{CONNECTIONS}/{name}"
    return state.put_resource(Resource(
        id=cid, type=rtype, subscription=target.subscription,
        resource_group=target.resource_group, parent=target.key,
        body={
            "name": name, "id": cid, "type": rtype, "etag": f'W/"{new_etag()}"',
            "properties": {
                "provisioningState": "Succeeded",
                "privateEndpoint": {"id": endpoint_id},
                "privateLinkServiceConnectionState": {
                    "status": status, "description": description,
                    _state_key(target.type): "None",
                },
                "linkIdentifier": str(uuid.uuid4().int % 10**9),
            },
        },
    ))


def _forget_endpoint(state: State, endpoint: Resource, *, keep_nic: bool = False) -> None:
    """What goes with an endpoint: its connection on the target and (unless kept) its NIC."""
    connection = state.get(str(endpoint.props.get("_connection") or ""))
    if connection is not None:
        state.resources.pop(connection.key, None)
    if not keep_nic:
        for ref in endpoint.props.get("networkInterfaces", []):
            state.resources.pop(ref["id"].lower(), None)


def render_endpoint(state: State, endpoint: Resource, body: dict[str, Any]) -> None:
    props = body["properties"]
    connection_id = props.pop("_connection", "")
    found = _connection_entry(endpoint)
    if found is None:
        return
    kind, _entry = found
    connection = state.get(connection_id)
    if connection is not None:
        current = dict(connection.props["privateLinkServiceConnectionState"])
        current.setdefault("actionsRequired", current.pop("actionRequired", "None"))
    else:
        current = {"status": "Disconnected",
                   "description": "The private endpoint connection was removed by the owner of "
                                  "the private link resource.",
                   "actionsRequired": "None"}
    props[kind][0]["properties"]["privateLinkServiceConnectionState"] = current


def remove_endpoint(state: State, endpoint: Resource) -> None:
    _forget_endpoint(state, endpoint)


# ----- privateEndpoints/{name}/privateDnsZoneGroups --------------------------------------------
def put_zone_group(arm: Arm, ctx: PutContext) -> Response:
    state = arm.state
    endpoint = ctx.parent
    assert endpoint is not None
    props = _lower_keys(ctx.req.body.get("properties"))
    configs = list(props.get("privateDnsZoneConfigs") or [])
    if not configs:
        raise _bad("InvalidRequestFormat", "properties.privateDnsZoneConfigs needs at least one "
                   "private DNS zone.")
    if ctx.existing is not None:
        remove_zone_group(state, ctx.existing)
    address = _endpoint_ip(state, endpoint)
    found = _connection_entry(endpoint)
    target_name = endpoint.body["name"]
    if found is not None:
        ref = str(found[1]["properties"]["privateLinkServiceId"])
        target = find_alias(state, ref) if ref.lower().endswith(ALIAS_SUFFIX) else state.get(ref)
        if target is not None and target.type in GROUP_IDS:
            target_name = target.body["name"]
    out_configs = []
    records: list[str] = []
    for config in configs:
        config = _lower_keys(config)
        zone_ref = normalize_scope(str(_lower_keys(config.get("properties")).get(
            "privateDnsZoneId") or ""))
        arm._authorize_linked(ctx.caller, ctx.aux, f"{ZONE_GROUP}/write", ctx.rid, JOIN_ZONE,
                              zone_ref)
        zone = state.get(zone_ref)
        if zone is None or zone.type != ZONE:
            raise _bad("InvalidResourceReference",
                       f"Resource {zone_ref} referenced by resource {ctx.rid} was not found. "
                       "Please make sure that the referenced resource exists.")
        record_name = target_name.lower()
        record_id = f"{zone.id}/A/{record_name}"
        state.put_resource(Resource(
            id=record_id, type=f"{ZONE}/A", subscription=zone.subscription,
            resource_group=zone.resource_group, parent=zone.key,
            body={
                "id": record_id, "name": record_name, "type": f"{ZONE}/A", "etag": new_etag(),
                "properties": {
                    "metadata": {"creator": f"created by private endpoint {endpoint.body['name']}"
                                 f" with resource guid {endpoint.props.get('resourceGuid')}"},
                    "ttl": 10, "fqdn": f"{record_name}.{zone.body['name']}.",
                    "isAutoRegistered": False, "aRecords": [{"ipv4Address": address}],
                },
            },
        ))
        records.append(record_id)
        out_configs.append({
            "name": str(config.get("name") or zone.body["name"].replace(".", "-")),
            "properties": {
                "privateDnsZoneId": zone.id,
                "recordSets": [{
                    "recordType": "A", "recordSetName": record_name,
                    "fqdn": f"{record_name}.{zone.body['name']}", "ttl": 10,
                    "ipAddresses": [address], "provisioningState": "Succeeded",
                }],
            },
        })
    group = Resource(
        id=ctx.rid, type=ZONE_GROUP, subscription=endpoint.subscription,
        resource_group=endpoint.resource_group, parent=endpoint.key,
        body={
            "name": ctx.target.names[-1], "id": ctx.rid, "type": ZONE_GROUP,
            "etag": f'W/"{new_etag()}"',
            "properties": {"provisioningState": "Updating", "privateDnsZoneConfigs": out_configs,
                           "_records": records},
        },
    )
    state.put_resource(group)
    op = state.start_operation(resource=group, method="PUT", style="network", lock_key=None)
    return Response(200 if ctx.existing else 201, state.render(group),
                    arm._lro_headers(ctx.req, op))


def _endpoint_ip(state: State, endpoint: Resource) -> str:
    for ref in endpoint.props.get("networkInterfaces", []):
        nic = state.get(ref["id"])
        if nic is not None:
            return str(nic.props["ipConfigurations"][0]["properties"]["privateIPAddress"])
    raise _bad("PrivateEndpointHasNoNetworkInterface",
               f"Private endpoint {endpoint.id} has no network interface.")


def render_zone_group(state: State, group: Resource, body: dict[str, Any]) -> None:
    body["properties"].pop("_records", None)


def remove_zone_group(state: State, group: Resource) -> None:
    for record_id in group.props.get("_records", []):
        state.resources.pop(record_id.lower(), None)


# ----- targets: Private Link services and PaaS resources ---------------------------------------
def render_target(state: State, target: Resource, body: dict[str, Any]) -> None:
    body["properties"]["privateEndpointConnections"] = [
        state.render(c) for c in state.children(target.key, _connection_type(target.type))
    ]


def put_connection(arm: Arm, ctx: PutContext) -> Response:
    """The owner's approve / reject: a PUT of the connection with its new state."""
    if ctx.existing is None:
        raise _resource_not_found(ctx.target.type_and_names(), ctx.target.resource_group)
    props = _lower_keys(ctx.req.body.get("properties"))
    wanted = _lower_keys(props.get("privateLinkServiceConnectionState"))
    status = str(wanted.get("status") or "")
    if status not in STATUSES:
        raise _bad("InvalidRequestFormat", f"privateLinkServiceConnectionState.status must be "
                   f"one of {', '.join(STATUSES)}, not '{status}'.")
    _set_state(ctx.existing, status, wanted.get("description"))
    return Response(200, arm.state.render(ctx.existing))


def _set_state(connection: Resource, status: str, description: Any) -> None:
    current = connection.props["privateLinkServiceConnectionState"]
    current["status"] = status
    current["description"] = str(description or "")
    connection.body["etag"] = f'W/"{new_etag()}"'


def put_read_only(arm: Arm, ctx: PutContext) -> Response:
    raise _bad("OperationNotSupported",
               f"This simulator does not create {ctx.target.rtype} through ARM; the customer "
               "creates it with the control API (GET /_simulator/ lists the routes).")


def check_visibility(arm: Arm, req: Request, caller: Caller, subscription: str,
                     location: str) -> Response:
    arm._authorize(caller, "Microsoft.Network/locations/checkPrivateLinkServiceVisibility/action",
                   f"/subscriptions/{subscription}")
    alias = str(_lower_keys(req.body).get("privateLinkServiceAlias") or "")
    service = find_alias(arm.state, alias) if alias else None
    return Response(200, {"visible": service is not None and _visible(service, subscription)})


# ----- the customer's side, for the control API ------------------------------------------------
def _customer_group(control: Control, tenant_id: str, subscription_id: str,
                    resource_group: str, location: str) -> Resource:
    state = control._state
    if subscription_id.lower() not in state.subscriptions:
        state.add_subscription(subscription_id, tenant_id)
    elif (state.tenant_of_subscription(subscription_id) or "").lower() != tenant_id.lower():
        owner = state.tenant_of_subscription(subscription_id)
        raise SimulatorError(f"subscription {subscription_id} belongs to tenant {owner}, not "
                             f"{tenant_id}")
    return state.ensure_resource_group(subscription_id, resource_group, location)


def create_service(control: Control, *, tenant_id: str, subscription_id: str,
                   resource_group: str, name: str, location: str = "westeurope",
                   visibility: list[str] | None = None, auto_approval: list[str] | None = None,
                   fqdns: list[str] | None = None) -> dict[str, Any]:
    """The customer creates a Private Link service (behind a load balancer we do not model)."""
    with control._state.lock:
        control._state.advance()
        group = _customer_group(control, tenant_id, subscription_id, resource_group, location)
        rid = f"{group.id}/providers/{SERVICE}/{name}"
        existing = control._state.get(rid)
        alias = (existing.props["alias"] if existing else
                 f"{name.lower()}.{uuid.uuid4()}.{location.lower()}{ALIAS_SUFFIX}")
        lb = f"{group.id}/providers/Microsoft.Network/loadBalancers/lb-{name}"
        service = control._state.put_resource(Resource(
            id=rid, type=SERVICE, subscription=group.subscription,
            resource_group=group.resource_group,
            body={
                "name": name, "id": rid, "type": SERVICE, "etag": f'W/"{new_etag()}"',
                "location": location, "tags": {},
                "properties": {
                    "provisioningState": "Succeeded",
                    "visibility": {"subscriptions": list(visibility or [])},
                    "autoApproval": {"subscriptions": list(auto_approval or [])},
                    "fqdns": list(fqdns or []),
                    "alias": alias,
                    "loadBalancerFrontendIpConfigurations": [
                        {"id": f"{lb}/frontendIPConfigurations/frontend"}],
                    "ipConfigurations": [{
                        "name": "ipconfig1", "id": f"{rid}/ipConfigurations/ipconfig1",
                        # The NAT address in the provider's own (unmodelled) network.
                        "properties": {"privateIPAddress": "10.0.1.4",
                                       "privateIPAllocationMethod": "Dynamic",
                                       "privateIPAddressVersion": "IPv4",
                                       "subnet": {"id": f"{group.id}/providers/{VNET}/"
                                                        f"vnet-{name}/subnets/nat"}},
                    }],
                    "networkInterfaces": [
                        {"id": f"{group.id}/providers/{NIC}/{name}.nic.{uuid.uuid4()}"}],
                    "enableProxyProtocol": False,
                },
            },
        ))
        return {"id": service.id, "alias": alias, "resource": control._state.render(service)}


def create_paas(control: Control, *, tenant_id: str, subscription_id: str,
                resource_group: str, type: str, name: str,
                location: str = "westeurope") -> dict[str, Any]:
    """The customer creates a PaaS resource that private endpoints can connect to, or that a
    cluster's workload identity is authorized on."""
    rtype = PAAS_TYPES.get(type.lower()) or PAAS_SHORT_NAMES.get(type.lower())
    if rtype is None:
        raise SimulatorError(f"type must be one of {', '.join(GROUP_IDS)}, not {type}")
    with control._state.lock:
        control._state.advance()
        group = _customer_group(control, tenant_id, subscription_id, resource_group, location)
        rid = f"{group.id}/providers/{rtype}/{name}"
        resource = control._state.get(rid) or control._state.put_resource(Resource(
            id=rid, type=rtype, subscription=group.subscription,
            resource_group=group.resource_group,
            body={"name": name, "id": rid, "type": rtype, "location": location, "tags": {},
                  **_paas_extras(rtype, name, group),
                  "properties": {"provisioningState": "Succeeded",
                                 "publicNetworkAccess": "Disabled",
                                 **_paas_properties(rtype, name, control, subscription_id)}},
        ))
        return {"id": resource.id, "group_ids": list(GROUP_IDS[rtype]),
                "resource": control._state.render(resource)}


def _paas_extras(rtype: str, name: str, group: Resource) -> dict[str, Any]:
    if rtype == "Microsoft.Storage/storageAccounts":
        return {"kind": "StorageV2", "sku": {"name": "Standard_LRS", "tier": "Standard"}}
    return {}


def _paas_properties(rtype: str, name: str, control: Control, subscription_id: str) -> dict[str, Any]:
    """What the resource's GET shows beyond its state, as the REST specs' examples do."""
    if rtype == "Microsoft.Storage/storageAccounts":
        return {"primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/",
                                     "dfs": f"https://{name}.dfs.core.windows.net/"}}
    if rtype == "Microsoft.KeyVault/vaults":
        tenant = control._state.tenant_of_subscription(subscription_id)
        return {"tenantId": tenant, "enableRbacAuthorization": True,
                "vaultUri": f"https://{name}.vault.azure.net/",
                "sku": {"family": "A", "name": "standard"}}
    return {}


def _connection(control: Control, connection_id: str) -> Resource:
    connection = control._state.get(connection_id)
    if connection is None or not connection.type.endswith(f"/{CONNECTIONS}"):
        raise SimulatorNotFound(f"no private endpoint connection {connection_id}")
    return connection


def set_connection_state(control: Control, *, id: str, status: str,
                         description: str | None = None) -> dict[str, Any]:
    """``az network private-endpoint-connection approve|reject --id ... --description ...``."""
    with control._state.lock:
        control._state.advance()
        connection = _connection(control, id)
        _set_state(connection, status, description)
        return control._state.render(connection)


def delete_connection(control: Control, *, id: str) -> dict[str, Any]:
    """``az network private-endpoint-connection delete --id ...``: the endpoint goes
    Disconnected."""
    with control._state.lock:
        control._state.advance()
        connection = _connection(control, id)
        control._state.remove_resource(connection)
        return {"ok": True, "deleted": connection.id}


def create_network_interface(control: Control, *, subnet_id: str, name: str,
                             ip_count: int = 1) -> dict[str, Any]:
    """Something other than a private endpoint takes addresses in a subnet (a VM's NIC, a
    load balancer): a NIC with ``ip_count`` IP configurations, each with the next free
    address."""
    state = control._state
    with state.lock:
        state.advance()
        found = _subnet(state, subnet_id)
        if found is None:
            raise SimulatorNotFound(f"no subnet {subnet_id}")
        vnet, subnet = found
        count = int(ip_count)
        if count < 1 or count > 256:
            raise SimulatorError("ip_count must be 1 to 256 (Azure's limit per NIC)")
        addresses = _free_ips(state, subnet, count)
        if len(addresses) < count:
            raise SimulatorError(f"subnet {subnet['name']} has room for {len(addresses)} more "
                                 f"addresses, not {count}")
        nic_id = f"{rg_id(vnet.subscription, vnet.resource_group)}/providers/{NIC}/{name}"
        nic = state.put_resource(Resource(
            id=nic_id, type=NIC, subscription=vnet.subscription,
            resource_group=vnet.resource_group,
            body={
                "name": name, "id": nic_id, "type": NIC, "etag": f'W/"{new_etag()}"',
                "location": vnet.body.get("location", "westeurope"),
                "properties": {
                    "provisioningState": "Succeeded",
                    "ipConfigurations": [{
                        "name": f"ipconfig{i + 1}",
                        "id": f"{nic_id}/ipConfigurations/ipconfig{i + 1}",
                        "type": f"{NIC}/ipConfigurations",
                        "properties": {"provisioningState": "Succeeded",
                                       "privateIPAddress": address,
                                       "privateIPAllocationMethod": "Dynamic",
                                       "privateIPAddressVersion": "IPv4",
                                       "subnet": {"id": subnet["id"]}, "primary": i == 0},
                    } for i, address in enumerate(addresses)],
                    "nicType": "Standard",
                },
            },
        ))
        return {"id": nic.id, "addresses": addresses}


def delete_network_interface(control: Control, *, id: str) -> dict[str, Any]:
    """Whoever owned a NIC (not a private endpoint's) deletes it: its addresses are free again."""
    state = control._state
    with state.lock:
        state.advance()
        nic = state.get(id)
        if nic is None or nic.type != NIC:
            raise SimulatorNotFound(f"no network interface {id}")
        if nic.props.get("privateEndpoint"):
            raise SimulatorError("this NIC belongs to a private endpoint: delete the endpoint")
        state.remove_resource(nic)
        return {"ok": True, "deleted": nic.id}


def _control_routes() -> list[Any]:
    from .control_api import Route

    customer = {
        "tenant_id": ("string", True, "the customer's tenant id"),
        "subscription_id": ("string", True, "the customer's subscription"),
        "resource_group": ("string", True, "the resource group (created if missing)"),
        "name": ("string", True, "the resource's name"),
        "location": ("string", False, "default westeurope"),
    }
    connection = {"id": ("string", True, "the private endpoint connection's resource id (on "
                         "the customer's service or resource)")}
    described = {**connection,
                 "description": ("string", False, "the reason the endpoint's owner sees")}
    return [
        Route("POST", "/customer/private-link-service", "the customer creates a Private Link "
              "service; answers its id and alias", lambda c, b, q: create_service(c, **b),
              body={**customer,
                    "visibility": ("list of strings", False, "subscriptions that may see it "
                                   '(["*"] for all)'),
                    "auto_approval": ("list of strings", False, "subscriptions whose "
                                      "endpoints are approved at once"),
                    "fqdns": ("list of strings", False, "names the service answers to")}),
        Route("POST", "/customer/paas-resource", "the customer creates a PaaS resource "
              "(storage account, SQL server, key vault, Cosmos DB account, Event Hubs "
              "namespace); answers its id and group ids", lambda c, b, q: create_paas(c, **b),
              body={**customer,
                    "type": ("string", True, ", ".join(GROUP_IDS))}),
        Route("POST", "/customer/private-endpoint-connection/approve",
              "az network private-endpoint-connection approve --id ... --description ...",
              lambda c, b, q: set_connection_state(c, status="Approved", **b), body=described),
        Route("POST", "/customer/private-endpoint-connection/reject",
              "az network private-endpoint-connection reject --id ... --description ...",
              lambda c, b, q: set_connection_state(c, status="Rejected", **b), body=described),
        Route("POST", "/platform/network-interface", "something else takes addresses in a "
              "subnet (a VM's NIC): a NIC with ip_count IP configurations, each with the next "
              "free address", lambda c, b, q: create_network_interface(c, **b),
              body={"subnet_id": ("string", True, "the subnet's resource id"),
                    "name": ("string", True, "the NIC's name (in the VNet's resource group)"),
                    "ip_count": ("integer", False, "how many addresses it takes (default 1)")}),
        Route("POST", "/platform/network-interface/delete", "delete such a NIC: its addresses "
              "are free again", lambda c, b, q: delete_network_interface(c, **b),
              body={"id": ("string", True, "the NIC's resource id")}),
        Route("POST", "/customer/private-endpoint-connection/delete",
              "az network private-endpoint-connection delete --id ...: the endpoint reads "
              "Disconnected", lambda c, b, q: delete_connection(c, **b), body=connection),
    ]


_registered = False


def register() -> None:
    """Plug Private Link into the ARM router, the state's hooks and the control API (once)."""
    global _registered
    if _registered:
        return
    _registered = True
    from . import control_api

    for segment in ["privateEndpoints", "privateDnsZoneGroups", "privateLinkServices",
                    CONNECTIONS, "networkInterfaces", "storageAccounts", "servers", "vaults",
                    "databaseAccounts", "namespaces", "subnets"]:
        TYPE_SEGMENTS[segment.lower()] = segment
    for rtype in GROUP_IDS:
        namespace = rtype.split("/")[0]
        NAMESPACES[namespace.lower()] = namespace
    handlers = {ENDPOINT: put_endpoint, ZONE_GROUP: put_zone_group, SERVICE: put_read_only,
                NIC: put_read_only, _connection_type(SERVICE): put_connection,
                SUBNET: put_read_only}
    GET_HANDLERS[SUBNET] = get_subnet
    for rtype in GROUP_IDS:
        handlers[rtype] = put_read_only
        handlers[_connection_type(rtype)] = put_connection
    PUT_HANDLERS.update(handlers)
    SUPPORTED.update(handlers)
    LRO_STYLE.update({ENDPOINT: "network", ZONE_GROUP: "network",
                      _connection_type(SERVICE): "network"})
    SUBSCRIPTION_ACTIONS["checkprivatelinkservicevisibility"] = check_visibility
    RENDER_HOOKS.update({VNET: render_vnet, ENDPOINT: render_endpoint,
                         ZONE_GROUP: render_zone_group,
                         SERVICE: render_target, **{t: render_target for t in GROUP_IDS}})
    REMOVE_HOOKS.update({ENDPOINT: remove_endpoint, ZONE_GROUP: remove_zone_group})
    control_api.ROUTES.extend(_control_routes())
