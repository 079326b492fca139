"""The simulator's control surface: seeding, reset, faults and acting as the customer.

``Control`` is the in-process handle (``sim.control``); the HTTP control API under
``/_simulator/`` calls the same methods, so tests in other processes, the demo and browser
tests drive the simulator the same way.

Seed document (JSON or dict)::

    {"tenants": [{"id": "<guid>", "name": "platform",
       "subscriptions": [{"id": "<guid>", "name": "...", "resource_groups": [
          {"name": "rg-clusters", "location": "westeurope",
           "virtual_networks": [{"name": "vnet-cl1", "address_prefixes": ["10.100.0.0/16"],
                                 "has_gateway": false,
                                 "subnets": [{"name": "default", "address_prefix": "10.100.0.0/24"}]}],
           "private_dns_zones": [{"name": "corp.example", "a_records": {"db": ["10.1.0.4"]},
                                  "linked_vnets": ["<vnet id or name in this RG>"]}],
           "dns_forwarding_rulesets": [{"name": "rs-cl1", "linked_vnets": ["<vnet id or name>"],
                                        "rules": [{"name": "corp", "domain_name": "corp.example.",
                                                   "target_dns_servers": ["10.1.0.4"]}]}]}]}]}],
     "apps": [{"app_id": "<guid>", "home_tenant": "<guid>", "secret": "...",
               "display_name": "platform", "principals": {"<tenant id>": "<object id>"},
               "redirect_uris": ["<for the authorization-code flow>"]}],
     "people": [{"tenant_id": "<guid>", "email": "ada@contoso.example", "name": "Ada",
                 "oid": "<guid, optional>", "mfa": true}],
     "role_definitions": [{"Name": "...", "Actions": [...], "AssignableScopes": [...]}],
     "role_assignments": [{"scope": "/subscriptions/<sub>", "app_id": "<guid>",
                           "tenant_id": "<guid>", "role": "Network Contributor"}],
     "peerings": [{"vnet_id": "...", "name": "...", "remote_vnet_id": "..."}]}

Seeded role assignments take effect at once (no propagation delay).
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from . import identity_msi
from .arm import Arm, ArmError, build_vnet, soa_record
from .identity import person_object_id
from .rbac import RoleDefinition, normalize_scope, scope_covers
from .state import (
    PEERING,
    RULE,
    RULESET,
    RULESET_LINK,
    VNET,
    ZONE,
    ZONE_LINK,
    Resource,
    State,
    new_etag,
    parse_resource_id,
    rg_id,
    vnet_id,
)
from .tokens import mint_token

DEFAULT_PEERING_ACTIONS = [
    "Microsoft.Network/virtualNetworks/read",
    "Microsoft.Network/virtualNetworks/peer/action",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/read",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write",
    "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete",
]


class SimulatorError(ValueError):
    """A control request that cannot be carried out (answered with HTTP 400)."""


class SimulatorNotFound(SimulatorError):
    """A control request about something that does not exist (answered with HTTP 404)."""


class Control:
    def __init__(self, state: State, arm: Arm, initial_seed: dict[str, Any] | None) -> None:
        self._state = state
        self._arm = arm
        self._initial_seed = copy.deepcopy(initial_seed) if initial_seed else None
        self.base_url = ""

    # ----- whole-simulator operations ---------------------------------------------------
    def state(self) -> dict[str, Any]:
        with self._state.lock:
            self._state.advance()
            dump = self._state.dump()
        dump["faults"] = self._state.faults.snapshot()
        return dump

    def reset(self) -> None:
        """Back to the seed the simulator started with; faults cleared."""
        with self._state.lock:
            self._state.faults.reset()
            self._state.clear()
            if self._initial_seed:
                self._apply_seed(copy.deepcopy(self._initial_seed))

    def seed(self, document: dict[str, Any] | str | Path) -> None:
        """Merge a seed document (dict, JSON text or a path to a JSON file)."""
        with self._state.lock:
            self._apply_seed(load_seed(document))

    def add_service_principal(self, *, tenant_id: str, app_id: str) -> dict[str, Any]:
        """What `az ad sp create --id <app>` (or an administrator's consent) does: the app's
        service principal now exists in ``tenant_id``, so the app can get tokens there."""
        with self._state.lock:
            app = self._state.apps.get(app_id.lower())
            if app is None:
                raise SimulatorNotFound(f"no application {app_id}")
            if tenant_id.lower() not in self._state.tenants:
                raise SimulatorNotFound(f"no tenant {tenant_id}")
            if app.get("tenants") is not None:
                app["tenants"].add(tenant_id.lower())
            return {"app_id": app["app_id"], "tenant_id": tenant_id,
                    "object_id": self._state.principal_id(app_id, tenant_id)}

    def next_id_token(self, claims: dict[str, Any] | None = None, tamper: bool = False,
                      foreign_key: bool = False) -> dict[str, Any]:
        """Spoil the next id token the token endpoint issues: ``claims`` replace its claims
        (an old ``exp``, another ``aud``, ``iss`` or ``nonce``), ``tamper`` changes a claim after
        signing, ``foreign_key`` signs it with a key that is not in the JWKS."""
        with self._state.lock:
            self._state.id_token_override = {"claims": dict(claims or {}), "tamper": tamper,
                                             "foreign_key": foreign_key}
        return {"ok": True}

    def faults(self) -> dict[str, Any]:
        return self._state.faults.snapshot()

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        try:
            return self._state.faults.update(changes)
        except ValueError as exc:
            raise SimulatorError(str(exc)) from exc

    def clear_faults(self) -> dict[str, Any]:
        self._state.faults.reset()
        return self._state.faults.snapshot()

    # ----- identities -------------------------------------------------------------------
    def principal_id(self, app_id: str, tenant_id: str) -> str:
        with self._state.lock:
            return self._state.principal_id(app_id, tenant_id)

    def token(self, app_id: str, tenant_id: str, *, lifetime: int = 3600) -> str:
        """A bearer token for ``app_id``'s service principal in ``tenant_id``."""
        return mint_token(
            tenant_id=tenant_id, object_id=self.principal_id(app_id, tenant_id), app_id=app_id,
            lifetime=lifetime,
        )

    def add_app(
        self, *, app_id: str, secret: str, home_tenant: str, display_name: str | None = None
    ) -> None:
        with self._state.lock:
            self._state.add_tenant(home_tenant)
            self._state.apps[app_id.lower()] = {
                "app_id": app_id, "home_tenant": home_tenant, "secret": secret,
                "display_name": display_name or app_id,
            }

    # ----- acting as the customer -------------------------------------------------------
    def create_vnet(
        self,
        *,
        tenant_id: str,
        subscription_id: str,
        resource_group: str,
        name: str,
        address_prefixes: list[str],
        has_gateway: bool = False,
        location: str = "westeurope",
        subnets: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Create (or replace) a VNet as the customer would, with no RBAC involved."""
        with self._state.lock:
            self._state.advance()
            if subscription_id.lower() not in self._state.subscriptions:
                self._state.add_subscription(subscription_id, tenant_id)
            elif self._state.tenant_of_subscription(subscription_id) != tenant_id:
                owner = self._state.tenant_of_subscription(subscription_id)
                raise SimulatorError(
                    f"subscription {subscription_id} belongs to tenant {owner}, not {tenant_id}"
                )
            vnet = self._create_vnet(
                subscription_id, resource_group, location,
                {"name": name, "address_prefixes": address_prefixes,
                 "has_gateway": has_gateway, "subnets": subnets or []},
            )
            return self._state.render(vnet)

    def grant(
        self,
        *,
        tenant_id: str,
        subscription_id: str,
        resource_group: str,
        app_id: str,
        vnet_name: str | None = None,
        proof: str | None = None,
        description: str | None = None,
        role_definition: dict[str, Any] | str | None = None,
        principal_id: str | None = None,
    ) -> dict[str, Any]:
        """What the portal's generated commands do for a customer: ``az role definition
        create --role-definition @role.json`` (the portal's role: same name and actions) and
        ``az role assignment create --description "<proof>"`` on the VNet (on the resource group
        when ``vnet_name`` is omitted). When the platform already holds the role there (a
        second request for the same VNet), the proof is appended to the existing assignment's
        description, as the generated ``az role assignment update`` does.

        The VNet must exist (``SimulatorNotFound`` otherwise, as ``az`` fails on a scope that
        does not exist). A new assignment is subject to the configured propagation delay.
        """
        from connectivity.azure import roles

        with self._state.lock:
            if subscription_id.lower() not in self._state.subscriptions:
                self._state.add_subscription(subscription_id, tenant_id)
            subscription_id = self._state.subscriptions[subscription_id.lower()]["id"]
            scope = rg_id(subscription_id, resource_group)
            if vnet_name:
                scope = vnet_id(subscription_id, resource_group, vnet_name)
            existing = self._state.get(scope)
            if existing is not None:
                scope = existing.id
            elif vnet_name:
                raise SimulatorNotFound(
                    f"The Resource 'Microsoft.Network/virtualNetworks/{vnet_name}' under resource "
                    f"group '{resource_group}' was not found in subscription {subscription_id}; "
                    "a role cannot be assigned on it.")
            principal = principal_id or self._state.principal_id(app_id, tenant_id)
            if role_definition is None:
                customer = roles.CustomerVNet(tenant_id, subscription_id, resource_group,
                                              vnet_name or "")
                role_definition = self._portal_role(roles.role_definition(customer), tenant_id)
            role = self._resolve_role(role_definition, tenant_id, subscription_id, scope)
            text = description
            if proof:
                text = roles.proof_description(proof) if not text else f"{text} {proof}"
            assignment = next((
                a for a in self._state.role_assignments.values()
                if a.principal_id.lower() == principal.lower() and a.role_guid == role.guid
                and normalize_scope(a.scope).lower() == normalize_scope(scope).lower()), None)
            if assignment is None:
                assignment = self._state.add_role_assignment(
                    scope=scope, principal_id=principal, role=role, tenant_id=tenant_id,
                )
                assignment.description = text
            elif proof and not roles.description_carries(assignment.description, proof):
                assignment.description = (
                    f"{assignment.description} {proof}" if assignment.description
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
                "effective_in": float(self._state.faults.get("propagation_delay")),
            }

    def _portal_role(self, spec: dict[str, Any], tenant_id: str) -> dict[str, Any]:
        """The portal's role.json; when the customer already has the role from another resource
        group, its assignable scopes grow (``az role definition update``) instead of a second
        role of the same name, which Azure refuses."""
        for role in self._state.role_definitions.values():
            if (role.role_name.lower() == str(spec["Name"]).lower()
                    and (role.tenant_id or "").lower() == tenant_id.lower()):
                scopes = list(role.assignable_scopes)
                for scope in spec["AssignableScopes"]:
                    if normalize_scope(scope).lower() not in {s.lower() for s in scopes}:
                        scopes.append(scope)
                return {**spec, "AssignableScopes": scopes}
        return spec

    def assign_role(
        self,
        *,
        scope: str,
        role: str,
        tenant_id: str,
        app_id: str | None = None,
        principal_id: str | None = None,
        immediate: bool = True,
    ) -> dict[str, Any]:
        """Assign a built-in or existing custom role (by name or id) without RBAC checks."""
        with self._state.lock:
            role_def = self._state.role(role) or self._state.role_by_name(role)
            if role_def is None:
                raise SimulatorError(f"unknown role {role!r}")
            if not (principal_id or app_id):
                raise SimulatorError("app_id or principal_id is required")
            principal = principal_id or self._state.principal_id(str(app_id), tenant_id)
            assignment = self._state.add_role_assignment(
                scope=scope, principal_id=principal, role=role_def, tenant_id=tenant_id,
                immediate=immediate,
            )
            return assignment.to_arm()

    def revoke(
        self,
        *,
        tenant_id: str,
        app_id: str | None = None,
        principal_id: str | None = None,
        scope: str | None = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        vnet_name: str | None = None,
    ) -> dict[str, Any]:
        """Delete the principal's role assignments at or below a scope."""
        with self._state.lock:
            if scope is None:
                if not subscription_id:
                    raise SimulatorError("scope or subscription_id is required")
                scope = f"/subscriptions/{subscription_id}"
                if resource_group:
                    scope = rg_id(subscription_id, resource_group)
                    if vnet_name:
                        scope = vnet_id(subscription_id, resource_group, vnet_name)
            if not (principal_id or app_id):
                raise SimulatorError("app_id or principal_id is required")
            principal = (principal_id or self._state.principal_id(str(app_id), tenant_id)).lower()
            removed = [
                key for key, a in self._state.role_assignments.items()
                if a.principal_id.lower() == principal and scope_covers(scope, a.scope)
            ]
            for key in removed:
                self._state.role_assignments.pop(key)
            return {"removed": len(removed), "scope": normalize_scope(scope)}

    def delete_peering(self, *, vnet_id: str, name: str) -> dict[str, Any]:
        """The customer deletes their side; the other side turns Disconnected at once."""
        with self._state.lock:
            self._state.advance()
            peering = self._state.get(f"{vnet_id}/virtualNetworkPeerings/{name}")
            if peering is None:
                return {"deleted": False}
            self._state.remove_resource(peering)
            return {"deleted": True, "id": peering.id}

    def set_address_space(self, *, vnet_id: str, address_prefixes: list[str]) -> dict[str, Any]:
        """The customer changes their VNet's address space (peerings fall out of sync)."""
        with self._state.lock:
            vnet = self._state.get(vnet_id)
            if vnet is None or vnet.type != VNET:
                raise SimulatorError(f"no VNet {vnet_id}")
            vnet.props["addressSpace"] = {"addressPrefixes": list(address_prefixes)}
            return self._state.render(vnet)

    def get_resource(self, resource_id: str) -> dict[str, Any] | None:
        with self._state.lock:
            self._state.advance()
            resource = self._state.get(resource_id)
            return self._state.render(resource) if resource else None

    # ----- seeding ----------------------------------------------------------------------
    def _resolve_role(
        self,
        role_definition: dict[str, Any] | str | None,
        tenant_id: str,
        subscription_id: str,
        scope: str,
    ) -> RoleDefinition:
        if isinstance(role_definition, str):
            role = self._state.role(role_definition) or self._state.role_by_name(role_definition)
            if role is None:
                raise SimulatorError(f"unknown role {role_definition!r}")
            return role
        spec = role_definition or {
            "Name": f"Connectivity Portal peering {uuid.uuid4().hex[:8]}",
            "Description": "Lets the platform peer with this virtual network.",
            "Actions": DEFAULT_PEERING_ACTIONS,
            "AssignableScopes": [scope],
        }
        return self._custom_role(spec, tenant_id, default_scope=scope)

    def _custom_role(
        self, spec: dict[str, Any], tenant_id: str | None, default_scope: str
    ) -> RoleDefinition:
        """A custom role from the JSON ``az role definition create`` takes (or ARM's shape)."""
        lowered = {k.lower(): v for k, v in spec.items()}
        props = {k.lower(): v for k, v in (lowered.get("properties") or {}).items()}
        merged = {**lowered, **props}
        name = merged.get("name") or merged.get("rolename")
        if not name:
            raise SimulatorError("role definition needs a Name")
        if "permissions" in merged:
            permissions = merged["permissions"]
        else:
            permissions = [{
                "actions": merged.get("actions") or [],
                "notActions": merged.get("notactions") or [],
                "dataActions": merged.get("dataactions") or [],
                "notDataActions": merged.get("notdataactions") or [],
            }]
        scopes = merged.get("assignablescopes") or [default_scope]
        existing = None
        for role in self._state.role_definitions.values():
            same_tenant = tenant_id is None or role.tenant_id in (None, tenant_id)
            if role.role_name.lower() == str(name).lower() and same_tenant:
                existing = role
        guid = str(merged.get("id") or (existing.guid if existing else uuid.uuid4())).lower()
        guid = guid.rstrip("/").rsplit("/", 1)[-1]
        try:
            return self._arm.upsert_role_definition(
                guid=guid, role_name=str(name), description=str(merged.get("description") or ""),
                permissions=permissions, assignable_scopes=scopes, created_by=None,
                tenant_id=tenant_id,
            )
        except ArmError as exc:
            raise SimulatorError(exc.message) from exc

    def _apply_seed(self, doc: dict[str, Any]) -> None:
        state = self._state
        deferred: list[tuple[str, str, str, dict[str, Any]]] = []
        for tenant in doc.get("tenants", []):
            state.add_tenant(tenant["id"], tenant.get("name"))
            for sub in tenant.get("subscriptions", []):
                state.add_subscription(sub["id"], tenant["id"], sub.get("name"))
                for group in sub.get("resource_groups", []):
                    location = group.get("location", "westeurope")
                    state.ensure_resource_group(sub["id"], group["name"], location)
                    for vnet in group.get("virtual_networks", []):
                        self._create_vnet(sub["id"], group["name"], location, vnet)
                    for kind in ("private_dns_zones", "dns_forwarding_rulesets"):
                        for item in group.get(kind, []):
                            deferred.append((kind, sub["id"], group["name"], item))
        for app in doc.get("apps", []):
            home = app.get("home_tenant") or app.get("tenant_id")
            state.apps[app["app_id"].lower()] = {
                "app_id": app["app_id"], "home_tenant": home,
                "secret": app.get("secret"), "display_name": app.get("display_name"),
                "redirect_uris": list(app.get("redirect_uris") or []),
                # Tenants whose directory has the app's service principal (its home tenant,
                # admin consent or `az ad sp create`); absent: every tenant (the default world).
                "tenants": ({t.lower() for t in app["tenants"]} | ({home.lower()} if home else set())
                            if "tenants" in app else None),
            }
            for tenant_id, object_id in (app.get("principals") or {}).items():
                state.principals[(app["app_id"].lower(), tenant_id.lower())] = object_id
        for person in doc.get("people", []):
            tenant_id = person["tenant_id"]
            state.add_tenant(tenant_id)
            oid = person.get("oid") or person_object_id(tenant_id, person["email"])
            state.people[oid] = {
                "oid": oid, "tenant_id": tenant_id, "email": person["email"],
                "name": person.get("name") or person["email"], "mfa": bool(person.get("mfa")),
                "tenant_name": state.tenants[tenant_id.lower()]["name"],
            }
        for kind, sub_id, group_name, item in deferred:
            if kind == "private_dns_zones":
                self._seed_zone(sub_id, group_name, item)
            else:
                self._seed_ruleset(sub_id, group_name, item)
        for spec in doc.get("role_definitions", []):
            scopes = spec.get("AssignableScopes") or spec.get("assignable_scopes") or ["/"]
            tenant = self._tenant_for_scope(scopes[0])
            self._custom_role(spec, tenant, default_scope=scopes[0])
        for item in doc.get("role_assignments", []):
            scope = normalize_scope(item["scope"])
            tenant = item.get("tenant_id") or self._tenant_for_scope(scope)
            if not tenant:
                raise SimulatorError(f"cannot tell the tenant of scope {scope}")
            role = state.role(item["role"]) or state.role_by_name(item["role"])
            if role is None:
                raise SimulatorError(f"unknown role {item['role']!r}")
            principal = item.get("principal_id") or state.principal_id(item["app_id"], tenant)
            state.add_role_assignment(
                scope=scope, principal_id=principal, role=role, tenant_id=tenant,
                name=item.get("name"), immediate=True,
            )
        for item in doc.get("peerings", []):
            self._seed_peering(item)
        identity_msi.apply_seed(state, doc)

    def _tenant_for_scope(self, scope: str) -> str | None:
        parts = [p for p in scope.split("/") if p]
        if len(parts) >= 2 and parts[0].lower() == "subscriptions":
            return self._state.tenant_of_subscription(parts[1])
        return None

    def _create_vnet(
        self, subscription: str, resource_group: str, location: str, spec: dict[str, Any]
    ) -> Resource:
        group = self._state.ensure_resource_group(subscription, resource_group, location)
        rid = f"{group.id}/providers/{VNET}/{spec['name']}"
        existing = self._state.get(rid)
        subnets = [
            {"name": s["name"], "properties": {"addressPrefix": s.get("address_prefix")
                                               or s.get("addressPrefix")}}
            for s in spec.get("subnets", [])
        ]
        vnet = build_vnet(
            existing.id if existing else rid, list(spec.get("address_prefixes") or []),
            location=spec.get("location", location), subnets=subnets, tags=spec.get("tags"),
            subscription=group.subscription, resource_group=group.resource_group,
            has_gateway=bool(spec.get("has_gateway")),
        )
        return self._state.put_resource(vnet)

    def _vnet_ref(self, subscription: str, resource_group: str, ref: str) -> Resource:
        rid = ref if ref.startswith("/") else vnet_id(subscription, resource_group, ref)
        vnet = self._state.get(rid)
        if vnet is None:
            raise SimulatorError(f"seed references unknown VNet {ref}")
        return vnet

    def _seed_zone(self, subscription: str, resource_group: str, spec: dict[str, Any]) -> None:
        group = self._state.ensure_resource_group(subscription, resource_group)
        name = spec["name"].lower()
        rid = f"{group.id}/providers/{ZONE}/{name}"
        zone = self._state.put_resource(Resource(
            id=rid, type=ZONE, subscription=group.subscription,
            resource_group=group.resource_group,
            body={
                "id": rid, "name": name, "type": ZONE, "etag": new_etag(), "location": "global",
                "tags": {},
                "properties": {
                    "maxNumberOfRecordSets": 25000, "numberOfRecordSets": 1,
                    "maxNumberOfVirtualNetworkLinks": 1000, "numberOfVirtualNetworkLinks": 0,
                    "maxNumberOfVirtualNetworkLinksWithRegistration": 100,
                    "numberOfVirtualNetworkLinksWithRegistration": 0,
                    "provisioningState": "Succeeded", "internalId": uuid.uuid4().hex,
                },
            },
        ))
        self._state.put_resource(soa_record(zone))
        for record, addresses in (spec.get("a_records") or {}).items():
            rec_id = f"{rid}/A/{record.lower()}"
            self._state.put_resource(Resource(
                id=rec_id, type=f"{ZONE}/A", subscription=zone.subscription,
                resource_group=zone.resource_group, parent=zone.key,
                body={
                    "id": rec_id, "name": record.lower(), "type": f"{ZONE}/A",
                    "etag": new_etag(),
                    "properties": {
                        "ttl": 3600, "fqdn": f"{record.lower()}.{name}.", "metadata": {},
                        "isAutoRegistered": False,
                        "aRecords": [{"ipv4Address": a} for a in addresses],
                    },
                },
            ))
        for ref in spec.get("linked_vnets", []):
            vnet = self._vnet_ref(subscription, resource_group, ref)
            link_id = f"{rid}/virtualNetworkLinks/link-{vnet.body['name']}"
            self._state.put_resource(Resource(
                id=link_id, type=ZONE_LINK, subscription=zone.subscription,
                resource_group=zone.resource_group, parent=zone.key,
                body={
                    "id": link_id, "name": f"link-{vnet.body['name']}", "type": ZONE_LINK,
                    "etag": new_etag(), "location": "global", "tags": {},
                    "properties": {
                        "virtualNetwork": {"id": vnet.id}, "registrationEnabled": False,
                        "resolutionPolicy": "Default", "virtualNetworkLinkState": "Completed",
                        "provisioningState": "Succeeded",
                    },
                },
            ))

    def _seed_ruleset(self, subscription: str, resource_group: str, spec: dict[str, Any]) -> None:
        group = self._state.ensure_resource_group(subscription, resource_group)
        rid = f"{group.id}/providers/{RULESET}/{spec['name']}"
        system = {"createdByType": "Application", "lastModifiedByType": "Application"}
        ruleset = self._state.put_resource(Resource(
            id=rid, type=RULESET, subscription=group.subscription,
            resource_group=group.resource_group,
            body={
                "id": rid, "name": spec["name"], "type": RULESET, "etag": new_etag(),
                "location": spec.get("location") or group.body["location"], "tags": {},
                "properties": {
                    "dnsResolverOutboundEndpoints": [
                        {"id": e} for e in spec.get("outbound_endpoints", [])
                    ],
                    "provisioningState": "Succeeded", "resourceGuid": str(uuid.uuid4()),
                },
                "systemData": system,
            },
        ))
        for ref in spec.get("linked_vnets", []):
            vnet = self._vnet_ref(subscription, resource_group, ref)
            link_id = f"{rid}/virtualNetworkLinks/link-{vnet.body['name']}"
            self._state.put_resource(Resource(
                id=link_id, type=RULESET_LINK, subscription=ruleset.subscription,
                resource_group=ruleset.resource_group, parent=ruleset.key,
                body={
                    "id": link_id, "name": f"link-{vnet.body['name']}", "type": RULESET_LINK,
                    "etag": new_etag(),
                    "properties": {"virtualNetwork": {"id": vnet.id}, "metadata": {},
                                   "provisioningState": "Succeeded"},
                    "systemData": system,
                },
            ))
        for rule in spec.get("rules", []):
            rule_id = f"{rid}/forwardingRules/{rule['name']}"
            servers = [
                {"ipAddress": s, "port": 53} if isinstance(s, str)
                else {"ipAddress": s.get("ip_address") or s.get("ipAddress"),
                      "port": int(s.get("port", 53))}
                for s in rule.get("target_dns_servers", [])
            ]
            self._state.put_resource(Resource(
                id=rule_id, type=RULE, subscription=ruleset.subscription,
                resource_group=ruleset.resource_group, parent=ruleset.key,
                body={
                    "id": rule_id, "name": rule["name"], "type": RULE, "etag": new_etag(),
                    "properties": {
                        "domainName": rule["domain_name"], "targetDnsServers": servers,
                        "metadata": {}, "forwardingRuleState": "Enabled",
                        "provisioningState": "Succeeded",
                    },
                    "systemData": system,
                },
            ))

    def _seed_peering(self, spec: dict[str, Any]) -> None:
        vnet = self._state.get(spec["vnet_id"])
        remote = self._state.get(spec["remote_vnet_id"])
        if vnet is None:
            raise SimulatorError(f"seed peering on unknown VNet {spec['vnet_id']}")
        remote_id = remote.id if remote else spec["remote_vnet_id"]
        prefixes = (
            self._state.vnet_prefixes(remote) if remote
            else list(spec.get("remote_address_prefixes") or [])
        )
        rid = f"{vnet.id}/virtualNetworkPeerings/{spec['name']}"
        info = parse_resource_id(vnet.id) or {}
        self._state.put_resource(Resource(
            id=rid, type=PEERING, subscription=info.get("subscription", vnet.subscription),
            resource_group=vnet.resource_group, parent=vnet.key,
            body={
                "id": rid, "name": spec["name"], "etag": f'W/"{new_etag()}"', "type": PEERING,
                "properties": {
                    "provisioningState": "Succeeded", "resourceGuid": str(uuid.uuid4()),
                    "peeringState": "Initiated", "peeringSyncLevel": "FullyInSync",
                    "remoteVirtualNetwork": {"id": remote_id},
                    "allowVirtualNetworkAccess": True,
                    "allowForwardedTraffic": bool(spec.get("allow_forwarded_traffic", False)),
                    "allowGatewayTransit": bool(spec.get("allow_gateway_transit", False)),
                    "useRemoteGateways": bool(spec.get("use_remote_gateways", False)),
                    "doNotVerifyRemoteGateways": False, "peerCompleteVnets": True,
                    "remoteAddressSpace": {"addressPrefixes": prefixes},
                    "remoteVirtualNetworkAddressSpace": {"addressPrefixes": prefixes},
                    "remoteBgpCommunities": {"virtualNetworkCommunity": "12076:20000",
                                             "regionalCommunity": "12076:50004"},
                    "routeServiceVips": {},
                },
            },
        ))


def load_seed(document: dict[str, Any] | str | Path | None) -> dict[str, Any]:
    if document is None:
        return {}
    if isinstance(document, dict):
        return copy.deepcopy(document)
    text = str(document)
    if text.lstrip().startswith("{"):
        return dict(json.loads(text))
    return dict(json.loads(Path(text).read_text()))
