"""The HTTP control API under ``/_simulator/``: one table of routes, their bodies, and checks.

``GET /_simulator/`` answers this table, so nobody has to guess a route or a field. A wrong call
(unknown route, wrong method, missing or unknown field, wrong type, bad JSON) is a 4xx with a
JSON ``error`` naming what to fix and the route's expected body; never a Python exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import identity_msi, vwan
from .arm import Response
from .control import Control, SimulatorError, SimulatorNotFound
from .faults import DEFAULTS as FAULT_DEFAULTS

PREFIX = "/_simulator"

# field name → (type, required, what it is)
Fields = dict[str, tuple[str, bool, str]]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str) and bool(v.strip()),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "list of strings": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    "list of integers": lambda v: isinstance(v, list) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in v),
    "list of objects": lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v),
    "object": lambda v: isinstance(v, dict),
    "object or string": lambda v: isinstance(v, dict | str),
    "string or null": lambda v: v is None or isinstance(v, str),
}

_CUSTOMER = {
    "tenant_id": ("string", True, "the customer's tenant id"),
    "subscription_id": ("string", True, "the subscription holding the VNet"),
    "resource_group": ("string", True, "the VNet's resource group"),
}
_APP = {"app_id": ("string", True, "the platform's application (client) id")}


def _fault_fields() -> Fields:
    kinds = {bool: "boolean", int: "number", float: "number", str: "string", list: "list of integers",
             dict: "object"}
    fields: Fields = {}
    for name, default in FAULT_DEFAULTS.items():
        kind = kinds.get(type(default), "string or null")
        if name == "rules":
            kind = "list of objects"
        fields[name] = (kind, False, f"default {json.dumps(default)}")
    return fields


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    does: str
    call: Callable[[Control, dict[str, Any], dict[str, str]], Any]
    body: Fields = field(default_factory=dict)
    query: Fields = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        def spec(fields: Fields) -> dict[str, str]:
            return {name: f"{kind}{'' if required else ', optional'}: {what}"
                    for name, (kind, required, what) in fields.items()}

        out: dict[str, Any] = {"method": self.method, "path": PREFIX + self.path,
                               "does": self.does}
        if self.body:
            out["body"] = spec(self.body)
        if self.query:
            out["query"] = spec(self.query)
        return out


def _resource(control: Control, _body: dict[str, Any], query: dict[str, str]) -> Response:
    found = control.get_resource(query["id"])
    if found is None:
        return Response(404, {"error": f"no resource {query['id']}"})
    return Response(200, found)


def _reset(control: Control, _body: dict[str, Any], _query: dict[str, str]) -> dict[str, Any]:
    control.reset()
    return {"ok": True}


def _seed(control: Control, body: dict[str, Any], _query: dict[str, str]) -> dict[str, Any]:
    control.seed(body)
    return {"ok": True}


ROUTES: list[Route] = [
    Route("GET", "/", "this index of the control API", lambda c, b, q: None),
    Route("GET", "/health", "liveness, the base URL and the CA certificate's path",
          lambda c, b, q: None),
    Route("GET", "/state", "everything that exists (tenants, resources, roles, assignments) and "
          "the faults", lambda c, b, q: c.state()),
    Route("POST", "/reset", "back to the seed the simulator started with; faults cleared", _reset),
    Route("POST", "/seed", "merge a seed document (see connectivity/azure/simulator/control.py)",
          _seed, body={"tenants": ("list of objects", False, "tenants, subscriptions, groups, "
                                   "VNets, zones, rulesets"),
                       "apps": ("list of objects", False, "applications and their secrets"),
                       "role_definitions": ("list of objects", False, "custom roles"),
                       "role_assignments": ("list of objects", False, "assignments"),
                       "peerings": ("list of objects", False, "existing peerings"),
                       "managed_identities": ("list of objects", False, "user-assigned "
                                              "identities and federated credentials")}),
    Route("GET", "/faults", "the fault settings now", lambda c, b, q: c.faults()),
    Route("POST", "/faults", "change fault settings (only the fields given)",
          lambda c, b, q: c.set_faults(**b), body=_fault_fields()),
    Route("DELETE", "/faults", "clear every fault", lambda c, b, q: c.clear_faults()),
    Route("GET", "/principal", "the object id of an application's service principal in a tenant",
          lambda c, b, q: {"object_id": c.principal_id(q["app_id"], q["tenant_id"])},
          query={**_APP, "tenant_id": ("string", True, "the tenant")}),
    Route("POST", "/token", "a bearer token for an application in a tenant (no secret needed)",
          lambda c, b, q: {"access_token": c.token(b["app_id"], b["tenant_id"])},
          body={**_APP, "tenant_id": ("string", True, "the tenant")}),
    Route("POST", "/identity/next-id-token", "spoil the next id token the sign-in's token "
          "endpoint issues (tests of the portal's id-token checks)",
          lambda c, b, q: c.next_id_token(**b),
          body={"claims": ("object", False, "claims to replace (an old exp, another aud, iss "
                           "or nonce)"),
                "tamper": ("boolean", False, "change a claim after signing"),
                "foreign_key": ("boolean", False, "sign with a key not in the JWKS")}),
    Route("GET", "/resource", "one resource as ARM renders it (404 if it does not exist)",
          _resource, query={"id": ("string", True, "the full resource id")}),
    Route("POST", "/customer/vnet", "the customer creates (or replaces) a VNet",
          lambda c, b, q: c.create_vnet(**b),
          body={**_CUSTOMER, "name": ("string", True, "the VNet's name"),
                "address_prefixes": ("list of strings", True, 'e.g. ["10.20.0.0/16"]'),
                "has_gateway": ("boolean", False, "a VPN/ExpressRoute gateway (default false)"),
                "location": ("string", False, "default westeurope"),
                "subnets": ("list of objects", False,
                            '[{"name": "default", "address_prefix": "10.20.0.0/24"}]')}),
    Route("POST", "/customer/grant", "the customer runs the grant commands: creates the custom "
          "role and assigns it to the platform (subject to propagation_delay)",
          lambda c, b, q: c.grant(**b),
          body={**_CUSTOMER, **_APP,
                "vnet_name": ("string", False, "assign at this VNet (else the resource group)"),
                "proof": ("string", False, "the request's proof of control, put into the "
                          "assignment's description (appended if the assignment exists)"),
                "description": ("string", False, "the assignment's whole description instead"),
                "role_definition": ("object or string", False,
                                    "role.json's content, or an existing role's name or id"),
                "principal_id": ("string", False, "assign to this object id instead")}),
    Route("POST", "/customer/add-service-principal", "what `az ad sp create --id <app>` (or "
          "an administrator's consent at /{tenant}/adminconsent) does: the app can now sign in "
          "to the tenant", lambda c, b, q: c.add_service_principal(**b),
          body={"tenant_id": ("string", True, "the customer's tenant"), **_APP}),
    Route("POST", "/customer/revoke", "the customer deletes the platform's role assignments at "
          "or below a scope", lambda c, b, q: c.revoke(**b),
          body={"tenant_id": ("string", True, "the customer's tenant id"),
                "app_id": ("string", False, "the platform's application id (or principal_id)"),
                "principal_id": ("string", False, "the object id (or app_id)"),
                "scope": ("string", False, "a scope id (or subscription_id ...)"),
                "subscription_id": ("string", False, "with resource_group and vnet_name"),
                "resource_group": ("string", False, "narrows the scope"),
                "vnet_name": ("string", False, "narrows the scope to the VNet")}),
    Route("POST", "/customer/assign-role", "assign a built-in or existing role without RBAC "
          "checks", lambda c, b, q: c.assign_role(**b),
          body={"scope": ("string", True, "the scope id"),
                "role": ("string", True, "role name or id, e.g. Network Contributor"),
                "tenant_id": ("string", True, "the tenant of the scope"),
                "app_id": ("string", False, "the application (or principal_id)"),
                "principal_id": ("string", False, "the object id (or app_id)"),
                "immediate": ("boolean", False, "skip propagation_delay (default true)")}),
    *identity_msi.control_routes(Route),
    Route("POST", "/customer/delete-peering", "the customer deletes their side of a peering; "
          "the other side turns Disconnected", lambda c, b, q: c.delete_peering(**b),
          body={"vnet_id": ("string", True, "the customer VNet's resource id"),
                "name": ("string", True, "the peering's name")}),
    Route("POST", "/customer/virtual-wan", "the customer creates (or replaces) a virtual WAN",
          lambda c, b, q: vwan.control_create_wan(c, **b),
          body={**_CUSTOMER, "resource_group": ("string", True, "the WAN's resource group"),
                "name": ("string", True, "the virtual WAN's name"),
                "location": ("string", False, "default westeurope")}),
    Route("POST", "/customer/virtual-hub", "the customer creates (or replaces) a virtual hub, "
          "with its defaultRouteTable and noneRouteTable",
          lambda c, b, q: vwan.control_create_hub(c, **b),
          body={**_CUSTOMER, "resource_group": ("string", True, "the hub's resource group"),
                "name": ("string", True, "the hub's name"),
                "address_prefix": ("string", True, 'the hub\'s address prefix, e.g. '
                                   '"10.250.0.0/23"'),
                "virtual_wan": ("string", True, "the virtual WAN's name (same resource group) "
                                "or id"),
                "location": ("string", False, "default westeurope"),
                "routing_state": ("string", False, "default Provisioned (Provisioning, "
                                  "Failed, None)")}),
    Route("POST", "/customer/grant-hub", "the customer runs the hub grant commands: creates the "
          "hub custom role and assigns it to the platform on the hub (subject to "
          "propagation_delay)",
          lambda c, b, q: vwan.control_grant_hub(c, **b),
          body={**_CUSTOMER, **_APP,
                "resource_group": ("string", True, "the hub's resource group"),
                "hub_name": ("string", True, "the virtual hub's name"),
                "proof": ("string", False, "the request's proof of control, put into the "
                          "assignment's description (appended if the assignment exists)"),
                "description": ("string", False, "the assignment's whole description instead"),
                "role_definition": ("object or string", False,
                                    "role.json's content, or an existing role's name or id"),
                "principal_id": ("string", False, "assign to this object id instead")}),
    Route("POST", "/customer/delete-hub-connection", "the customer deletes a hub virtual "
          "network connection on their hub; its peering on the remote VNet goes with it",
          lambda c, b, q: vwan.control_delete_hub_connection(c, **b),
          body={"hub_id": ("string", True, "the virtual hub's resource id"),
                "name": ("string", True, "the hub connection's name")}),
    Route("POST", "/customer/delete-virtual-hub", "the customer deletes a virtual hub; its "
          "route tables and connections go with it (role assignments on it stay)",
          lambda c, b, q: vwan.control_delete_hub(c, **b),
          body={"hub_id": ("string", True, "the virtual hub's resource id")}),
    Route("POST", "/customer/address-space", "the customer changes a VNet's address space",
          lambda c, b, q: c.set_address_space(**b),
          body={"vnet_id": ("string", True, "the VNet's resource id"),
                "address_prefixes": ("list of strings", True, 'e.g. ["10.20.0.0/16"]')}),
]


def index(base_url: str, ca_path: str) -> dict[str, Any]:
    return {"ok": True, "base_url": base_url, "ca_path": ca_path,
            "routes": [route.describe() for route in ROUTES]}


def _problem(status: int, error: str, route: Route | None = None,
             headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": error}
    if route is not None:
        body["expected"] = route.describe()
    else:
        body["see"] = f"GET {PREFIX}/ lists every route with its body"
    return Response(status, body, headers or {})


def _check(route: Route, where: str, fields: Fields, given: dict[str, Any]) -> str | None:
    unknown = sorted(set(given) - set(fields))
    if unknown:
        return f"unknown {where} field(s) {', '.join(unknown)}; expected {', '.join(fields) or 'none'}"
    for name, (kind, required, _what) in fields.items():
        if name not in given:
            if required:
                return f"missing {where} field {name} ({kind})"
            continue
        if not _TYPES[kind](given[name]):
            return f"{where} field {name} must be a {kind}, not {json.dumps(given[name])}"
    return None


def handle(control: Control, method: str, path: str, query: dict[str, str], raw: bytes, *,
           base_url: str, ca_path: str) -> Response:
    sub = "/" + path.lower().removeprefix(PREFIX).strip("/")
    candidates = [r for r in ROUTES if r.path == sub]
    if not candidates:
        return _problem(404, f"no control route {path}")
    route = next((r for r in candidates if r.method == method), None)
    if route is None:
        allowed = ", ".join(r.method for r in candidates)
        return _problem(405, f"{method} is not allowed on {PREFIX}{sub}; use {allowed}",
                        candidates[0], {"Allow": allowed})
    if route.path in ("/", "/health"):
        return Response(200, index(base_url, ca_path) if route.path == "/" else
                        {"ok": True, "base_url": base_url, "ca_path": ca_path})
    body: Any = {}
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return _problem(400, f"the body is not JSON: {exc}", route)
    if not isinstance(body, dict):
        return _problem(400, "the body must be a JSON object", route)
    problem = _check(route, "body", route.body, body) or _check(route, "query", route.query,
                                                                   query)
    if problem:
        return _problem(400, problem, route)
    try:
        result = route.call(control, body, query)
    except SimulatorNotFound as exc:
        return _problem(404, str(exc), route)
    except SimulatorError as exc:
        return _problem(400, str(exc), route)
    except (KeyError, TypeError, ValueError) as exc:  # a body the table let through
        return _problem(400, f"cannot do this with that body: {exc}", route)
    return result if isinstance(result, Response) else Response(200, result)
