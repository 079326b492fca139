"""In-memory Azure: tenants, subscriptions, resources, RBAC data and long-running operations.

Everything is guarded by one re-entrant lock held by the caller (the HTTP handler or the
control handle). Long-running operations finish lazily: ``advance()`` completes every operation
whose deadline has passed, and is called before any request is served, so no timer thread is
needed and an LRO duration of 0 means "done by the next request".
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .faults import Faults
from .rbac import BUILTIN_BY_NAME, BUILTIN_ROLES, RoleDefinition, normalize_scope, role_guid

PRINCIPAL_NAMESPACE = uuid.UUID("6f1c3c1e-4c7b-4d5e-9a57-2b0f7a1c9e10")

# Canonical spelling of the resource-type segments the simulator serves.
TYPE_SEGMENTS = {
    s.lower(): s
    for s in [
        "virtualNetworks", "virtualNetworkPeerings", "subnets", "privateDnsZones",
        "virtualNetworkLinks", "dnsForwardingRulesets", "forwardingRules",
        "A", "AAAA", "CNAME", "MX", "PTR", "SOA", "SRV", "TXT",
        # Virtual WAN (simulator/vwan.py)
        "virtualWans", "virtualHubs", "hubRouteTables", "hubVirtualNetworkConnections",
    ]
}
RECORD_TYPES = {"A", "AAAA", "CNAME", "MX", "PTR", "SOA", "SRV", "TXT"}
NAMESPACES = {"microsoft.network": "Microsoft.Network"}

VNET = "Microsoft.Network/virtualNetworks"
PEERING = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
ZONE = "Microsoft.Network/privateDnsZones"
ZONE_LINK = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
RULESET = "Microsoft.Network/dnsForwardingRulesets"
RULE = "Microsoft.Network/dnsForwardingRulesets/forwardingRules"
RULESET_LINK = "Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks"
RESOURCE_GROUP = "Microsoft.Resources/resourceGroups"

#: Providers in their own modules (privatelink.py) add what their types compute on GET and do
#: when removed: resource type -> hook.
RENDER_HOOKS: dict[str, Callable[[State, Resource, dict[str, Any]], None]] = {}
REMOVE_HOOKS: dict[str, Callable[[State, Resource], None]] = {}
#: Hooks of provider modules kept beside this one (simulator/vwan.py registers its own): called
#: when a resource is removed, when an operation on a resource succeeds, and when a resource is
#: rendered (to fill computed fields into the rendered copy).
ON_REMOVE: list[Callable[[State, Resource], None]] = []
ON_SUCCEEDED: list[Callable[[State, Operation, Resource], None]] = []
ON_RENDER: list[Callable[[State, Resource, dict[str, Any]], None]] = []


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def new_etag() -> str:
    return str(uuid.uuid4())


def rg_id(subscription: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def vnet_id(subscription: str, resource_group: str, name: str) -> str:
    return f"{rg_id(subscription, resource_group)}/providers/{VNET}/{name}"


def parse_resource_id(resource_id: str) -> dict[str, str] | None:
    """subscription / resource_group / name of a top-level or child resource id."""
    parts = [p for p in resource_id.split("/") if p]
    if len(parts) < 4 or parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups":
        return None
    info = {"subscription": parts[1], "resource_group": parts[3]}
    if len(parts) >= 8:
        info["name"] = parts[7]
    return info


@dataclass
class Resource:
    """One ARM resource; ``body`` is what GET returns apart from computed fields."""

    id: str
    type: str
    body: dict[str, Any]
    subscription: str
    resource_group: str
    parent: str | None = None
    disconnected: bool = False  # peerings: the remote side went away

    @property
    def key(self) -> str:
        return self.id.lower()

    @property
    def props(self) -> dict[str, Any]:
        return self.body.setdefault("properties", {})


@dataclass
class Operation:
    """An LRO: polled through ``Azure-AsyncOperation`` until ``done_at``."""

    id: str
    style: str  # "network" (200 InProgress polls) or "privatedns" (202 InProgress polls)
    method: str
    resource_key: str
    subscription: str
    resource_group: str
    location: str
    done_at: float
    fails: bool
    lock_key: str | None
    canceled: bool = False  # ends Canceled, superseded by another operation on the resource
    error: dict[str, Any] | None = None
    status: str = "InProgress"
    start_time: str = field(default_factory=now_iso)
    end_time: str | None = None


@dataclass
class RoleAssignment:
    id: str
    name: str
    scope: str
    principal_id: str
    principal_type: str
    role_guid: str
    role_definition_id: str
    tenant_id: str
    effective_at: float
    created_on: str = field(default_factory=now_iso)
    created_by: str | None = None
    description: str | None = None
    condition: str | None = None
    updated_on: str | None = None
    updated_by: str | None = None

    def to_arm(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "Microsoft.Authorization/roleAssignments",
            "name": self.name,
            "properties": {
                "roleDefinitionId": self.role_definition_id,
                "principalId": self.principal_id,
                "principalType": self.principal_type,
                "scope": self.scope,
                "condition": self.condition,
                "conditionVersion": None,
                "description": self.description,
                "createdOn": self.created_on,
                "updatedOn": self.updated_on or self.created_on,
                "createdBy": self.created_by,
                "updatedBy": self.updated_by or self.created_by,
                "delegatedManagedIdentityResourceId": None,
            },
        }


class State:
    """The simulated cloud. Callers hold ``lock`` around every use."""

    def __init__(self, faults: Faults) -> None:
        self.lock = threading.RLock()
        self.faults = faults
        self.clear()

    def clear(self) -> None:
        self.tenants: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.apps: dict[str, dict[str, Any]] = {}
        self.principals: dict[tuple[str, str], str] = {}
        self.resources: dict[str, Resource] = {}
        self.role_definitions: dict[str, RoleDefinition] = {}
        self.role_assignments: dict[str, RoleAssignment] = {}
        self.operations: dict[str, Operation] = {}
        # Entra ID for people (identity.py): seeded people by object id, issued codes, and
        # what the next id token should get wrong (tests that play an attacker).
        self.people: dict[str, dict[str, Any]] = {}
        self.auth_codes: dict[str, dict[str, Any]] = {}
        self.id_token_override: dict[str, Any] | None = None

    # ----- identities -------------------------------------------------------------------
    def principal_id(self, app_id: str, tenant_id: str) -> str:
        key = (app_id.lower(), tenant_id.lower())
        if key in self.principals:
            return self.principals[key]
        return str(uuid.uuid5(PRINCIPAL_NAMESPACE, f"{key[0]}:{key[1]}"))

    def principal_app(self, object_id: str, tenant_id: str) -> str | None:
        for (app, tenant), oid in self.principals.items():
            if oid.lower() == object_id.lower() and tenant == tenant_id.lower():
                return app
        for app in self.apps:
            if self.principal_id(app, tenant_id).lower() == object_id.lower():
                return app
        return None

    def tenant_of_subscription(self, subscription: str) -> str | None:
        sub = self.subscriptions.get(subscription.lower())
        return sub["tenant_id"] if sub else None

    def add_tenant(self, tenant_id: str, name: str | None = None) -> None:
        self.tenants.setdefault(tenant_id.lower(), {"id": tenant_id, "name": name or tenant_id})
        if name:
            self.tenants[tenant_id.lower()]["name"] = name

    def add_subscription(self, subscription: str, tenant_id: str, name: str | None = None) -> None:
        self.add_tenant(tenant_id)
        existing = self.subscriptions.get(subscription.lower())
        self.subscriptions[subscription.lower()] = {
            "id": existing["id"] if existing else subscription,
            "tenant_id": tenant_id,
            "display_name": name or (existing or {}).get("display_name") or subscription,
        }

    # ----- resources --------------------------------------------------------------------
    def get(self, resource_id: str) -> Resource | None:
        return self.resources.get(normalize_scope(resource_id).lower())

    def children(self, parent_key: str, rtype: str | None = None) -> list[Resource]:
        return [
            r for r in self.resources.values()
            if r.parent == parent_key and (rtype is None or r.type.lower() == rtype.lower())
        ]

    def put_resource(self, resource: Resource) -> Resource:
        self.resources[resource.key] = resource
        return resource

    def ensure_resource_group(
        self, subscription: str, name: str, location: str = "westeurope"
    ) -> Resource:
        existing = self.get(rg_id(subscription, name))
        if existing:
            return existing
        sub = self.subscriptions.get(subscription.lower())
        canonical_sub = sub["id"] if sub else subscription
        rid = rg_id(canonical_sub, name)
        return self.put_resource(Resource(
            id=rid, type=RESOURCE_GROUP, subscription=canonical_sub, resource_group=name,
            body={
                "id": rid, "name": name, "type": "Microsoft.Resources/resourceGroups",
                "location": location, "tags": {},
                "properties": {"provisioningState": "Succeeded"},
            },
        ))

    def remove_resource(self, resource: Resource) -> None:
        """Delete a resource and its children; peerings pointing at a VNet go Disconnected."""
        for child in self.children(resource.key):
            self.remove_resource(child)
        if resource.type in REMOVE_HOOKS:
            REMOVE_HOOKS[resource.type](self, resource)
        if resource.type == RESOURCE_GROUP:  # a group takes everything in it along
            for member in [r for r in self.resources.values()
                           if r.parent is None and r.type != RESOURCE_GROUP
                           and r.subscription.lower() == resource.subscription.lower()
                           and r.resource_group.lower() == resource.resource_group.lower()]:
                self.remove_resource(member)
        self.resources.pop(resource.key, None)
        for hook in ON_REMOVE:
            hook(self, resource)
        if resource.type == PEERING and resource.parent:
            for peer in self.peerings_pointing_at(resource.parent):
                own_remote = resource.props.get("remoteVirtualNetwork", {}).get("id", "")
                if peer.parent == own_remote.lower():
                    peer.disconnected = True
        if resource.type == VNET:
            for peer in self.peerings_pointing_at(resource.key):
                peer.disconnected = True

    def peerings_pointing_at(self, vnet_key: str) -> list[Resource]:
        return [
            r for r in self.resources.values()
            if r.type == PEERING
            and r.props.get("remoteVirtualNetwork", {}).get("id", "").lower() == vnet_key
        ]

    # ----- VNets and peerings -----------------------------------------------------------
    def vnet_prefixes(self, vnet: Resource) -> list[str]:
        return list(vnet.props.get("addressSpace", {}).get("addressPrefixes", []))

    def vnet_has_gateway(self, vnet: Resource) -> bool:
        for subnet in vnet.props.get("subnets", []):
            if subnet.get("name", "").lower() == "gatewaysubnet" and subnet.get(
                "properties", {}
            ).get("ipConfigurations"):
                return True
        return False

    def reverse_peering(self, peering: Resource) -> Resource | None:
        """The peering on the remote VNet that points back at this peering's VNet."""
        remote = peering.props.get("remoteVirtualNetwork", {}).get("id", "").lower()
        for candidate in self.children(remote, PEERING):
            target = candidate.props.get("remoteVirtualNetwork", {}).get("id", "").lower()
            if target == peering.parent:
                return candidate
        return None

    def peering_state(self, peering: Resource) -> str:
        if peering.disconnected:
            return "Disconnected"
        remote_key = peering.props.get("remoteVirtualNetwork", {}).get("id", "").lower()
        if remote_key not in self.resources:
            return "Disconnected"
        reverse = self.reverse_peering(peering)
        if (
            reverse is not None
            and not reverse.disconnected
            and _settled(peering)
            and _settled(reverse)
        ):
            return "Connected"
        return "Initiated"

    def render_peering(self, peering: Resource) -> dict[str, Any]:
        body = copy.deepcopy(peering.body)
        props = body["properties"]
        state = self.peering_state(peering)
        props["peeringState"] = state
        remote = self.resources.get(props.get("remoteVirtualNetwork", {}).get("id", "").lower())
        current = self.vnet_prefixes(remote) if remote else props["remoteAddressSpace"][
            "addressPrefixes"]
        props["remoteVirtualNetworkAddressSpace"] = {"addressPrefixes": current}
        # Real traffic: a peering whose other side does not exist yet reads RemoteNotInSync.
        sync = "RemoteNotInSync" if state == "Initiated" else "FullyInSync"
        if state == "Connected":
            local_ok = sorted(props["remoteAddressSpace"]["addressPrefixes"]) == sorted(current)
            reverse = self.reverse_peering(peering)
            own = self.resources.get(peering.parent or "")
            remote_ok = True
            if reverse is not None and own is not None:
                remote_ok = sorted(
                    reverse.props["remoteAddressSpace"]["addressPrefixes"]
                ) == sorted(self.vnet_prefixes(own))
            sync = {
                (True, True): "FullyInSync",
                (False, True): "LocalNotInSync",
                (True, False): "RemoteNotInSync",
                (False, False): "LocalAndRemoteNotInSync",
            }[(local_ok, remote_ok)]
        props["peeringSyncLevel"] = sync
        return body

    def render(self, resource: Resource) -> dict[str, Any]:
        if resource.type == PEERING:
            return self.render_peering(resource)
        body = copy.deepcopy(resource.body)
        if resource.type in RENDER_HOOKS:
            RENDER_HOOKS[resource.type](self, resource, body)
        if resource.type == VNET:
            body["properties"]["virtualNetworkPeerings"] = [
                self.render_peering(p) for p in self.children(resource.key, PEERING)
            ]
        elif resource.type == ZONE:
            records = self.children(resource.key)
            links = [r for r in records if r.type == ZONE_LINK]
            registering = [lk for lk in links if lk.props.get("registrationEnabled")]
            body["properties"]["numberOfRecordSets"] = len(records) - len(links)
            body["properties"]["numberOfVirtualNetworkLinks"] = len(links)
            body["properties"]["numberOfVirtualNetworkLinksWithRegistration"] = len(registering)
        for hook in ON_RENDER:
            hook(self, resource, body)
        return body

    def busy_operation(self, lock_key: str) -> Operation | None:
        for op in self.operations.values():
            if op.status == "InProgress" and op.lock_key == lock_key:
                return op
        return None

    # ----- LROs -------------------------------------------------------------------------
    def start_operation(
        self, *, resource: Resource, method: str, style: str, lock_key: str | None
    ) -> Operation:
        location = str(resource.body.get("location") or "global")
        op = Operation(
            id=str(uuid.uuid4()),
            style=style,
            method=method,
            resource_key=resource.key,
            subscription=resource.subscription,
            resource_group=resource.resource_group,
            location=location if location != "global" else "westeurope",
            done_at=time.monotonic() + self.faults.lro_duration(resource.type),
            fails=self.faults.lro_fails(),
            lock_key=lock_key,
        )
        op.canceled = not op.fails and self.faults.lro_canceled()
        self.operations[op.id] = op
        return op

    def advance(self) -> None:
        """Finish every operation whose time has come."""
        now = time.monotonic()
        for op in list(self.operations.values()):
            if op.status == "InProgress" and op.done_at <= now:
                self._finish(op)

    def _finish(self, op: Operation) -> None:
        op.end_time = now_iso()
        resource = self.resources.get(op.resource_key)
        if op.fails:
            op.status = "Failed"
            op.error = {
                "code": self.faults.get("lro_failure_code"),
                "message": self.faults.get("lro_failure_message"),
            }
            if resource is not None:
                resource.props["provisioningState"] = "Failed"
                if resource.type == ZONE_LINK:
                    resource.props["virtualNetworkLinkState"] = "InProgress"
            return
        if op.canceled:
            # As real traffic shows: the operation is Canceled because a later one on the same
            # resource superseded it; that later operation finished the resource's update.
            op.status = "Canceled"
            op.error = {
                "code": "Canceled",
                "message": "Operation was canceled.",
                "details": [{
                    "code": "CanceledAndSupersededDueToAnotherOperation",
                    "message": f"Operation {_operation_name(op, resource)} ({op.id}) was "
                               "canceled and superseded by operation "
                               f"{_operation_name(op, resource)} ({uuid.uuid4()}).",
                }],
            }
            if resource is not None and op.method != "DELETE":
                resource.props["provisioningState"] = "Succeeded"
                if resource.type == ZONE_LINK:
                    resource.props["virtualNetworkLinkState"] = "Completed"
                for hook in ON_SUCCEEDED:
                    hook(self, op, resource)
            return
        op.status = "Succeeded"
        if resource is None:
            return
        if op.method == "DELETE":
            self.remove_resource(resource)
            return
        resource.props["provisioningState"] = "Succeeded"
        if resource.type == ZONE_LINK:
            resource.props["virtualNetworkLinkState"] = "Completed"
        for hook in ON_SUCCEEDED:
            hook(self, op, resource)

    # ----- RBAC -------------------------------------------------------------------------
    def role(self, guid_or_id: str) -> RoleDefinition | None:
        guid = role_guid(guid_or_id)
        return BUILTIN_ROLES.get(guid) or self.role_definitions.get(guid)

    def role_by_name(self, name: str, subscription: str | None = None) -> RoleDefinition | None:
        builtin = BUILTIN_BY_NAME.get(name.lower())
        if builtin:
            return builtin
        for role in self.role_definitions.values():
            if role.role_name.lower() != name.lower():
                continue
            if subscription is None or any(
                s.lower().startswith(f"/subscriptions/{subscription.lower()}")
                for s in role.assignable_scopes
            ):
                return role
        return None

    def effective_assignments(
        self, principal_id: str, scope: str, *, at: float | None = None
    ) -> list[RoleAssignment]:
        from .rbac import scope_covers

        moment = time.monotonic() if at is None else at
        return [
            a for a in self.role_assignments.values()
            if a.principal_id.lower() == principal_id.lower()
            and a.effective_at <= moment
            and scope_covers(a.scope, scope)
        ]

    def allowed(self, principal_id: str, action: str, scope: str) -> bool:
        for assignment in self.effective_assignments(principal_id, scope):
            role = self.role(assignment.role_guid)
            if role is not None and role.allows(action):
                return True
        return False

    def add_role_assignment(
        self,
        *,
        scope: str,
        principal_id: str,
        role: RoleDefinition,
        tenant_id: str,
        name: str | None = None,
        principal_type: str = "ServicePrincipal",
        created_by: str | None = None,
        immediate: bool = False,
    ) -> RoleAssignment:
        scope = normalize_scope(scope)
        name = name or str(uuid.uuid4())
        prefix = "" if scope == "/" else scope
        sub_scope = scope if scope.lower().startswith("/subscriptions/") else ""
        sub_part = "/".join(sub_scope.split("/")[:3]) if sub_scope else ""
        delay = 0.0 if immediate else float(self.faults.get("propagation_delay"))
        assignment = RoleAssignment(
            id=f"{prefix}/providers/Microsoft.Authorization/roleAssignments/{name}",
            name=name,
            scope=scope,
            principal_id=principal_id,
            principal_type=principal_type,
            role_guid=role.guid,
            role_definition_id=(
                f"{sub_part}/providers/Microsoft.Authorization/roleDefinitions/{role.guid}"
            ),
            tenant_id=tenant_id,
            effective_at=time.monotonic() + delay,
            created_by=created_by,
        )
        self.role_assignments[assignment.id.lower()] = assignment
        return assignment

    # ----- dump -------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "tenants": list(self.tenants.values()),
            "subscriptions": list(self.subscriptions.values()),
            "apps": [
                {k: v for k, v in app.items() if k != "secret"} for app in self.apps.values()
            ],
            "people": list(self.people.values()),
            "principals": [
                {"app_id": a, "tenant_id": t, "object_id": o}
                for (a, t), o in self.principals.items()
            ],
            "resources": [self.render(r) for r in self.resources.values()],
            "role_definitions": [r.to_arm("") for r in self.role_definitions.values()],
            "role_assignments": [
                {**a.to_arm(), "effective": a.effective_at <= now,
                 "effective_in": max(0.0, a.effective_at - now)}
                for a in self.role_assignments.values()
            ],
            "operations": [
                {"id": o.id, "status": o.status, "method": o.method, "resource": o.resource_key,
                 "start_time": o.start_time, "end_time": o.end_time, "error": o.error}
                for o in self.operations.values()
            ],
        }


def _settled(peering: Resource) -> bool:
    return peering.props.get("provisioningState") == "Succeeded"


def gateway_subnet(vnet_resource_id: str, prefixes: list[str]) -> dict[str, Any]:
    """A ``GatewaySubnet`` with a gateway IP configuration, as Azure shows an attached gateway."""
    prefix = None
    if prefixes:
        network = ipaddress.ip_network(prefixes[0], strict=False)
        if network.prefixlen <= 27:
            prefix = str(list(network.subnets(new_prefix=27))[-1])
    name = vnet_resource_id.rsplit("/", 1)[-1]
    rg = vnet_resource_id.split("/providers/")[0]
    gateway = f"{rg}/providers/Microsoft.Network/virtualNetworkGateways/vgw-{name}"
    return {
        "name": "GatewaySubnet",
        "id": f"{vnet_resource_id}/subnets/GatewaySubnet",
        "etag": f'W/"{new_etag()}"',
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "properties": {
            "addressPrefix": prefix,
            "ipConfigurations": [{"id": f"{gateway}/ipConfigurations/default"}],
            "provisioningState": "Succeeded",
            "privateEndpointNetworkPolicies": "Disabled",
            "privateLinkServiceNetworkPolicies": "Enabled",
        },
    }


def _operation_name(op: Operation, resource: Resource | None) -> str:
    """ARM's internal operation name, e.g. PutVirtualNetworkPeeringOperation."""
    kind = (resource.type.rsplit("/", 1)[-1] if resource else "resource").rstrip("s")
    verb = "Delete" if op.method == "DELETE" else "Put"
    return f"{verb}{kind[:1].upper()}{kind[1:]}Operation"
