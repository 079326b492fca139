"""Azure Resource Manager behaviour: authentication, tenancy, throttling, RBAC and providers.

``Arm.handle`` takes a parsed request and returns a ``Response``; the caller holds the state
lock. Errors are raised as ``ArmError`` and rendered as ARM's ``{"error": {...}}``.
"""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .faults import format_retry_after
from .rbac import RoleDefinition, normalize_scope, role_guid, scope_covers
from .state import (
    NAMESPACES,
    PEERING,
    RECORD_TYPES,
    RESOURCE_GROUP,
    RULE,
    RULESET,
    RULESET_LINK,
    TYPE_SEGMENTS,
    VNET,
    ZONE,
    ZONE_LINK,
    Operation,
    Resource,
    State,
    gateway_subnet,
    new_etag,
    now_iso,
)
from .tokens import bearer_tokens, parse_token

PEER_ACTION = "Microsoft.Network/virtualNetworks/peer/action"
JOIN_ACTION = "Microsoft.Network/virtualNetworks/join/action"
NOT_FOUND_HELP = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any
    base_url: str

    @property
    def api_version(self) -> str:
        return self.query.get("api-version", "2024-05-01")


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ArmError(Exception):
    """An ARM error answer. ``details`` is ARM's ``error.details`` list (Microsoft.Network
    always sends one, often empty); ``wrap`` renders the error as real traffic often does: a
    generic top-level code with this error inside ``details``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
        *, details: list[dict[str, Any]] | None = None, wrap: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details
        self.wrap = wrap

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        if self.wrap:
            error = {"code": self.wrap, "message": WRAPPED_MESSAGES.get(self.wrap, self.wrap),
                     "details": [error]}
        return {"error": error}

    def response(self) -> Response:
        return Response(self.status, self.body(), self.headers)


#: Top-level messages of the generic codes Azure wraps specific errors in.
WRAPPED_MESSAGES = {
    "RetryableError": "A retryable error occurred.",
    "InternalServerError": "An error occurred.",
    "Conflict": "The request conflicts with the current state of the resource.",
}


@dataclass
class Caller:
    tenant_id: str
    object_id: str
    app_id: str


@dataclass
class Target:
    """A parsed provider path below a resource group."""

    subscription: str
    resource_group: str
    namespace: str
    types: list[str]
    names: list[str]

    @property
    def rtype(self) -> str:
        return self.namespace + "/" + "/".join(self.types)

    @property
    def is_collection(self) -> bool:
        return len(self.types) > len(self.names)

    def type_and_names(self, depth: int | None = None) -> str:
        count = len(self.names) if depth is None else depth
        parts = [self.namespace]
        for i in range(count):
            parts += [self.types[i], self.names[i]]
        return "/".join(parts)


def _bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)


def _authorization_failed(caller: Caller, action: str, scope: str) -> ArmError:
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{caller.object_id}' with object id '{caller.object_id}' does not have "
        f"authorization to perform action '{action}' over scope '{scope}' or the scope is "
        "invalid. If access was recently granted, please refresh your credentials.",
    )


def _lower_keys(value: Any) -> Any:
    return value if isinstance(value, dict) else {}


class Arm:
    def __init__(self, state: State) -> None:
        self.state = state

    # ----- entry point ------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        try:
            return self._handle(req)
        except ArmError as err:
            if err.details is None and _is_network_path(req.path):
                err.details = []  # Microsoft.Network errors carry an empty details list
            return err.response()

    def _handle(self, req: Request) -> Response:
        segs = [s for s in req.path.split("/") if s]
        low = [s.lower() for s in segs]
        caller, aux = self._authenticate(req)

        auth_index = _authorization_index(low)
        if auth_index is not None:
            scope = "/" + "/".join(segs[:auth_index])
            self._check_tenant(caller, scope)
            budget = self._throttle(req, caller, scope)
            return self._with_budget(budget, lambda: self._authorization(
                req, caller, normalize_scope(scope), segs[auth_index + 2 :]))

        if len(low) < 2 or low[0] != "subscriptions":
            raise ArmError(404, "NotFound", f"No route for '{req.method} {req.path}'.")
        subscription = segs[1]
        self._check_tenant(caller, f"/subscriptions/{subscription}")
        subscription = self.state.subscriptions[subscription.lower()]["id"]
        response_headers = self._throttle(req, caller, f"/subscriptions/{subscription}")

        return self._with_budget(
            response_headers, lambda: self._route(req, caller, aux, subscription, segs, low))

    @staticmethod
    def _with_budget(budget: dict[str, str], answer: Callable[[], Response]) -> Response:
        """ARM reports the caller's remaining budget on every answer it counted, errors too."""
        try:
            response = answer()
        except ArmError as err:
            err.headers = {**budget, **err.headers}
            raise
        response.headers.update(budget)
        return response

    def _route(
        self,
        req: Request,
        caller: Caller,
        aux: list[Caller],
        subscription: str,
        segs: list[str],
        low: list[str],
    ) -> Response:
        n = len(low)
        if n == 2 and req.method == "GET":
            sub = self.state.subscriptions[subscription.lower()]
            return Response(200, {
                "id": f"/subscriptions/{subscription}",
                "subscriptionId": subscription,
                "tenantId": sub["tenant_id"],
                "displayName": sub["display_name"],
                "state": "Enabled",
            })
        # Operation status endpoints (polled as the SDK was told to).
        network_poll = low[2:5] == ["providers", "microsoft.network", "locations"]
        if n == 8 and network_poll and low[6] in ("operations", "operationresults"):
            return self._poll(req, segs[7], result=low[6] == "operationresults")
        dns_poll = low[2] == "resourcegroups" and low[4:6] == ["providers", "microsoft.network"]
        if n == 8 and dns_poll and low[6] in (
            "privatednsoperationstatuses", "privatednsoperationresults"
        ):
            return self._poll(req, segs[7], result=low[6] == "privatednsoperationresults")
        if n == 4 and low[2] == "operationresults":
            return self._poll(req, segs[3], result=True)
        if n == 7 and network_poll and req.method == "POST" and low[6] in SUBSCRIPTION_ACTIONS:
            return SUBSCRIPTION_ACTIONS[low[6]](self, req, caller, subscription, segs[5])
        if n == 5 and low[2] == "providers":
            return self._list_in_subscription(req, caller, subscription, low[3], low[4])
        if low[2] != "resourcegroups":
            raise ArmError(404, "NotFound", f"No route for '{req.method} {req.path}'.")
        if n == 3:
            return self._list_resource_groups(req, caller, subscription)
        if n == 4:
            return self._resource_group(req, caller, subscription, segs[3])
        if n < 7 or low[4] != "providers":
            raise ArmError(404, "NotFound", f"No route for '{req.method} {req.path}'.")
        namespace = NAMESPACES.get(low[5])
        rest = segs[6:]
        if namespace is None:
            raise ArmError(
                404, "NoRegisteredProviderFound",
                f"No registered resource provider found for location 'westeurope' and API "
                f"version '{req.api_version}' for type '{segs[5]}'.",
            )
        types, names = rest[0::2], rest[1::2]
        # privateDnsZones/{zone}/ALL lists every record set.
        if (
            len(types) == 2
            and len(names) == 1
            and types[0].lower() == "privatednszones"
            and types[1].lower() == "all"
        ):
            target = Target(subscription, segs[3], namespace, ["privateDnsZones", "ALL"], names)
            return self._list(req, caller, target)
        canonical = []
        for t in types:
            if t.lower() not in TYPE_SEGMENTS:
                raise ArmError(
                    400, "InvalidResourceType",
                    f"The resource type '{t}' could not be found in the namespace "
                    f"'{namespace}' for api version '{req.api_version}'.",
                )
            canonical.append(TYPE_SEGMENTS[t.lower()])
        target = Target(subscription, segs[3], namespace, canonical, names)
        if target.rtype not in SUPPORTED and not (
            len(canonical) == 2 and canonical[0] == "privateDnsZones" and canonical[1] in RECORD_TYPES
        ):
            raise ArmError(
                400, "InvalidResourceType",
                f"The resource type '{target.rtype}' is not supported by this simulator.",
            )
        if target.is_collection:
            if req.method != "GET":
                raise ArmError(405, "MethodNotAllowed", "The collection only supports GET.")
            return self._list(req, caller, target)
        if req.method == "GET":
            if target.rtype in GET_HANDLERS:
                return GET_HANDLERS[target.rtype](self, req, caller, target)
            return self._get(req, caller, target)
        if req.method == "PUT":
            return self._put(req, caller, aux, target)
        if req.method == "DELETE":
            return self._delete(req, caller, target)
        raise ArmError(405, "MethodNotAllowed", f"Method {req.method} is not supported here.")

    # ----- authentication, tenancy, throttling ------------------------------------------
    def _authenticate(self, req: Request) -> tuple[Caller, list[Caller]]:
        tokens = bearer_tokens(req.headers.get("authorization"))
        # As ARM does, a request without a token under a subscription ARM knows is told that
        # subscription's tenant (where to sign in); any other request is told no tenant.
        parts = [p for p in req.path.split("/") if p]
        known = (self.state.tenant_of_subscription(parts[1]) or "") if (
            len(parts) >= 2 and parts[0].lower() == "subscriptions") else ""
        challenge = {
            "WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/{known}", '
            'error="invalid_token", error_description="The authentication failed because of '
            "missing 'Authorization' header.\""
        }
        if not tokens:
            raise ArmError(
                401, "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.", challenge,
            )
        caller = self._caller(tokens[0])
        aux = [self._caller(t) for t in bearer_tokens(req.headers.get("x-ms-authorization-auxiliary"))]
        return caller, aux

    def _caller(self, token: str) -> Caller:
        claims = parse_token(token)
        if not claims or not claims.get("tid") or not claims.get("oid"):
            raise ArmError(
                401, "InvalidAuthenticationToken",
                "The access token is invalid: it carries no 'tid' and 'oid' claims.",
            )
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp < time.time():
            raise ArmError(
                401, "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            )
        return Caller(str(claims["tid"]), str(claims["oid"]), str(claims.get("appid", "")))

    def _check_tenant(self, caller: Caller, scope: str) -> None:
        parts = [p for p in scope.split("/") if p]
        if len(parts) < 2 or parts[0].lower() != "subscriptions":
            return
        subscription = parts[1]
        tenant = self.state.tenant_of_subscription(subscription)
        if tenant is None:
            raise ArmError(
                404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found."
            )
        if tenant.lower() != caller.tenant_id.lower():
            raise ArmError(
                401, "InvalidAuthenticationTokenTenant",
                f"The access token is from the wrong issuer 'https://sts.windows.net/"
                f"{caller.tenant_id}/'. It must match the tenant 'https://sts.windows.net/"
                f"{tenant}/' associated with this subscription. Please use the authority (URL) "
                f"'https://login.windows.net/{tenant}' to get the token. Note, if the "
                "subscription is transferred to another tenant there is no impact to the "
                "services, but information about new tenant could take time to propagate (up "
                "to an hour). If you just transferred your subscription and see this error "
                "message, please try back later.",
                {
                    "WWW-Authenticate": f'Bearer authorization_uri="https://login.windows.net/'
                    f'{tenant}", error="invalid_token", error_description="The access token is '
                    'from the wrong issuer."'
                },
            )

    def _throttle(self, req: Request, caller: Caller, scope: str) -> dict[str, str]:
        kind = {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}.get(req.method, "writes")
        parts = [p for p in scope.split("/") if p]
        subscription = parts[1] if len(parts) >= 2 else "tenant"
        ok, remaining, wait = self.state.faults.take(caller.object_id, subscription, kind)
        header = f"x-ms-ratelimit-remaining-subscription-{kind}"
        if not ok:
            seconds = max(1, round(wait + 0.5))
            raise ArmError(
                429, "SubscriptionRequestsThrottled",
                f"Number of '{kind[:-1]}' requests for subscription '{subscription}' actor "
                f"'{caller.object_id}' exceeded. Please try again after '{seconds}' seconds "
                "after additional tokens are available. Refer to https://aka.ms/arm-throttling "
                "for additional information.",
                {**format_retry_after(wait), header: "0"},
            )
        return {header: str(remaining)}

    # ----- RBAC -------------------------------------------------------------------------
    def _authorize(self, caller: Caller, action: str, scope: str) -> None:
        if not self.state.allowed(caller.object_id, action, scope):
            raise _authorization_failed(caller, action, scope)

    def _authorize_linked(
        self,
        caller: Caller,
        aux: list[Caller],
        primary_action: str,
        primary_scope: str,
        linked_action: str,
        linked_scope: str,
    ) -> None:
        """ARM's linked access check for a resource that references another resource."""
        parts = [p for p in linked_scope.split("/") if p]
        if len(parts) < 2:
            return
        linked_sub = parts[1]
        linked_tenant = self.state.tenant_of_subscription(linked_sub)
        if linked_tenant is None:
            return  # the provider reports the missing resource
        principal = caller
        if linked_tenant.lower() != caller.tenant_id.lower():
            match = next((a for a in aux if a.tenant_id.lower() == linked_tenant.lower()), None)
            if match is None:
                raise ArmError(
                    403, "LinkedAuthorizationFailed",
                    f"The client has permission to perform action '{linked_action}' on scope "
                    f"'{primary_scope}', however the current tenant '{caller.tenant_id}' is not "
                    f"authorized to access linked subscription '{linked_sub}'.",
                )
            principal = match
        if not self.state.allowed(principal.object_id, linked_action, linked_scope):
            raise ArmError(
                403, "LinkedAuthorizationFailed",
                f"The client '{principal.object_id}' with object id '{principal.object_id}' has "
                f"permission to perform action '{primary_action}' on scope '{primary_scope}'; "
                f"however, it does not have permission to perform action(s) '{linked_action}' "
                f"on the linked scope(s) '{linked_scope}' (respectively) or the linked scope(s) "
                "are invalid.",
            )

    # ----- LRO plumbing -----------------------------------------------------------------
    def _lro_headers(self, req: Request, op: Operation) -> dict[str, str]:
        base = req.base_url
        version = req.api_version
        if op.style == "resources":
            result_url = (f"{base}/subscriptions/{op.subscription}/operationresults/{op.id}"
                          f"?api-version={version}")
            return {"Location": result_url, **self._retry_after(op)}
        if op.style == "privatedns":
            prefix = (
                f"{base}/subscriptions/{op.subscription}/resourceGroups/{op.resource_group}"
                "/providers/Microsoft.Network"
            )
            status_url = f"{prefix}/privateDnsOperationStatuses/{op.id}?api-version={version}"
            result_url = f"{prefix}/privateDnsOperationResults/{op.id}?api-version={version}"
        else:
            prefix = (
                f"{base}/subscriptions/{op.subscription}/providers/Microsoft.Network/locations/"
                f"{op.location}"
            )
            status_url = f"{prefix}/operations/{op.id}?api-version={version}"
            result_url = f"{prefix}/operationResults/{op.id}?api-version={version}"
        headers = {"Azure-AsyncOperation": status_url, **self._retry_after(op)}
        if op.method == "DELETE" or op.style == "privatedns":
            headers["Location"] = result_url
        return headers

    def _retry_after(self, op: Operation) -> dict[str, str]:
        # Never zero: azure-core treats 0 as "absent" and falls back to its polling interval.
        remaining = max(op.done_at - time.monotonic(), 0.01)
        return format_retry_after(remaining)

    def _poll(self, req: Request, op_id: str, *, result: bool) -> Response:
        op = self.state.operations.get(op_id) or next(
            (o for o in self.state.operations.values() if o.id.lower() == op_id.lower()), None
        )
        if op is None:
            raise ArmError(404, "NotFound", f"Operation '{op_id}' was not found.")
        if result:
            if op.status == "InProgress":
                return Response(202, None, {**self._lro_headers(req, op)})
            if op.status in ("Failed", "Canceled"):
                return Response(400, {"error": op.error})
            resource = self.state.resources.get(op.resource_key)
            if op.method == "DELETE" or resource is None:
                return Response(200 if op.style == "resources" else 204)
            return Response(200, self.state.render(resource))
        body: dict[str, Any] = {"name": op.id, "status": op.status, "startTime": op.start_time}
        if op.end_time:
            body["endTime"] = op.end_time
        if op.error:
            body["error"] = op.error
        if op.status == "InProgress":
            status = 202 if op.style == "privatedns" else 200
            wait = self._retry_after(op) if self.state.faults.get("poll_retry_after") else {}
            return Response(status, body, wait)
        return Response(200, body)

    # ----- resource groups --------------------------------------------------------------
    def _list_resource_groups(self, req: Request, caller: Caller, subscription: str) -> Response:
        self._authorize(
            caller, "Microsoft.Resources/subscriptions/resourceGroups/read",
            f"/subscriptions/{subscription}",
        )
        groups = [
            self.state.render(r) for r in self.state.resources.values()
            if r.type == RESOURCE_GROUP and r.subscription.lower() == subscription.lower()
        ]
        return Response(200, {"value": groups})

    def _resource_group(
        self, req: Request, caller: Caller, subscription: str, name: str
    ) -> Response:
        scope = f"/subscriptions/{subscription}/resourceGroups/{name}"
        existing = self.state.get(scope)
        if req.method == "GET":
            self._authorize(caller, "Microsoft.Resources/subscriptions/resourceGroups/read", scope)
            if existing is None:
                raise _rg_not_found(name)
            return Response(200, self.state.render(existing))
        if req.method == "PUT":
            self._authorize(caller, "Microsoft.Resources/subscriptions/resourceGroups/write", scope)
            body = _lower_keys(req.body)
            location = str(body.get("location") or "")
            if not location:
                raise _bad_request("LocationRequired", "The location property is required for "
                                   "this definition.")
            if existing is not None and _norm_location(existing.body.get("location")) != \
                    _norm_location(location):
                raise ArmError(
                    409, "InvalidResourceGroupLocation",
                    f"Invalid resource group location '{location}'. The Resource group already "
                    f"exists in location '{existing.body.get('location')}'.")
            group = self.state.ensure_resource_group(subscription, name, location)
            if "tags" in body:
                group.body["tags"] = body["tags"] or {}
            return Response(200 if existing else 201, self.state.render(group))
        if req.method == "DELETE":
            # Real traffic: 202 with only a Location header (a subscription-level operation
            # result), polled until 200; everything in the group goes with it.
            self._authorize(caller, "Microsoft.Resources/subscriptions/resourceGroups/delete",
                            scope)
            if existing is None:
                raise _rg_not_found(name)
            existing.props["provisioningState"] = "Deleting"
            op = self.state.start_operation(resource=existing, method="DELETE",
                                            style="resources", lock_key=None)
            return Response(202, None, self._lro_headers(req, op))
        raise ArmError(405, "MethodNotAllowed",
                       "Resource groups support GET, PUT and DELETE here.")

    # ----- generic resource operations --------------------------------------------------
    def _require_rg(self, target: Target) -> Resource:
        group = self.state.get(f"/subscriptions/{target.subscription}/resourceGroups/"
                               f"{target.resource_group}")
        if group is None:
            raise _rg_not_found(target.resource_group)
        return group

    def _resource_id(self, target: Target, group: Resource, depth: int | None = None) -> str:
        count = len(target.names) if depth is None else depth
        path = group.id + "/providers/" + target.namespace
        for i in range(count):
            path += f"/{target.types[i]}/{_name_for(target.types[i], target.names[i], i)}"
        return path

    def _require_parent(
        self, target: Target, group: Resource, *, for_write: bool
    ) -> Resource | None:
        if len(target.names) < 2 and not (target.is_collection and len(target.names) == 1):
            return None
        parent_depth = len(target.types) - 1
        parent_id = self._resource_id(target, group, parent_depth)
        parent = self.state.get(parent_id)
        if parent is None:
            if for_write:
                raise ArmError(
                    404, "ParentResourceNotFound",
                    f"Failed to perform 'write' on resource(s) of type '{target.rtype}', "
                    f"because the parent resource '{parent_id}' could not be found.",
                )
            raise _resource_not_found(target.type_and_names(parent_depth), target.resource_group)
        return parent

    def _get(self, req: Request, caller: Caller, target: Target) -> Response:
        group = self.state.get(
            f"/subscriptions/{target.subscription}/resourceGroups/{target.resource_group}"
        )
        rid = self._resource_id(target, group) if group else ""
        self._authorize(caller, f"{target.rtype}/read", rid or _raw_id(target))
        if group is None:
            raise _rg_not_found(target.resource_group)
        self._require_parent(target, group, for_write=False)
        resource = self.state.get(rid)
        if resource is None:
            raise _resource_not_found(target.type_and_names(), target.resource_group)
        return Response(200, self.state.render(resource))

    def _list(self, req: Request, caller: Caller, target: Target) -> Response:
        group = self._require_rg_for_list(caller, target)
        if len(target.names) == 0:
            items = [
                r for r in self.state.resources.values()
                if r.type == target.rtype and r.parent is None
                and r.resource_group.lower() == target.resource_group.lower()
                and r.subscription.lower() == target.subscription.lower()
            ]
        else:
            parent = self._require_parent(target, group, for_write=False)
            assert parent is not None
            if target.types[-1] == "ALL":
                items = [c for c in self.state.children(parent.key) if c.type != ZONE_LINK]
            else:
                items = self.state.children(parent.key, target.rtype)
        return Response(200, {"value": [self.state.render(r) for r in items]})

    def _require_rg_for_list(self, caller: Caller, target: Target) -> Resource:
        group = self.state.get(
            f"/subscriptions/{target.subscription}/resourceGroups/{target.resource_group}"
        )
        scope = self._resource_id(target, group, len(target.names)) if group else _raw_id(target)
        if len(target.names) == 0 and group is not None:
            scope = group.id
        action_type = target.rtype if target.types[-1] != "ALL" else f"{target.namespace}/privateDnsZones/ALL"
        self._authorize(caller, f"{action_type}/read", scope)
        if group is None:
            raise _rg_not_found(target.resource_group)
        return group

    def _list_in_subscription(
        self, req: Request, caller: Caller, subscription: str, namespace: str, rtype: str
    ) -> Response:
        canonical = f"{NAMESPACES.get(namespace, namespace)}/{TYPE_SEGMENTS.get(rtype, rtype)}"
        self._authorize(caller, f"{canonical}/read", f"/subscriptions/{subscription}")
        items = [
            self.state.render(r) for r in self.state.resources.values()
            if r.type.lower() == canonical.lower() and r.subscription.lower() == subscription.lower()
        ]
        return Response(200, {"value": items})

    def _delete(self, req: Request, caller: Caller, target: Target) -> Response:
        group = self.state.get(
            f"/subscriptions/{target.subscription}/resourceGroups/{target.resource_group}"
        )
        rid = self._resource_id(target, group) if group else _raw_id(target)
        self._authorize(caller, f"{target.rtype}/delete", rid)
        if group is None:
            raise _rg_not_found(target.resource_group)
        resource = self.state.get(rid)
        if resource is None:
            return Response(204)
        style = LRO_STYLE.get(target.rtype)
        if style is None:
            self.state.remove_resource(resource)
            return Response(200)
        lock_key = resource.parent if target.rtype == PEERING else None
        if target.rtype == VNET:
            lock_key = resource.key
        if lock_key:
            self._check_busy(lock_key, rid)
        resource.props["provisioningState"] = "Deleting"
        op = self.state.start_operation(
            resource=resource, method="DELETE", style=style, lock_key=lock_key
        )
        return Response(202, None, self._lro_headers(req, op))

    def _check_busy(self, lock_key: str, rid: str) -> None:
        """A VNet busy with another operation refuses writes, in one of Azure's three ways."""
        busy = self.state.busy_operation(lock_key)
        if busy is None:
            return
        owner = self.state.resources.get(lock_key)
        name = owner.id if owner else lock_key
        faults = self.state.faults
        wait = float(faults.get("busy_retry_after"))
        style = faults.get("busy_style")
        if style == "another_operation":
            err = ArmError(
                409, "AnotherOperationInProgress",
                f"Another operation on this or dependent resource is in progress. To retrieve "
                f"status of the operation use uri: {busy.id}. Retry in {max(1, round(wait))} "
                "seconds.", format_retry_after(wait))
        elif style == "not_provisioned":
            err = ArmError(
                400, "ReferencedResourceNotProvisioned",
                f"Cannot proceed with operation because resource {name} used by resource "
                f"{rid} is not in Succeeded state. Resource is in Updating state and the last "
                "operation that updated/is updating the resource is "
                "PutVirtualNetworkPeeringOperation.", details=[])
        else:
            err = ArmError(
                429, "RetryableErrorDueToAnotherOperation",
                f"Operation on '{rid}' cannot be performed because another operation "
                f"'{busy.id}' is in progress on the virtual network '{name}'. Retry in "
                f"{max(1, round(wait))} seconds.",
                format_retry_after(wait))
        if faults.get("wrap_errors"):
            err.details = err.details if err.details is not None else []
            err.wrap = "RetryableError"
        raise err

    def _put(self, req: Request, caller: Caller, aux: list[Caller], target: Target) -> Response:
        group = self.state.get(
            f"/subscriptions/{target.subscription}/resourceGroups/{target.resource_group}"
        )
        rid = self._resource_id(target, group) if group else _raw_id(target)
        self._authorize(caller, f"{target.rtype}/write", rid)
        if group is None:
            raise _rg_not_found(target.resource_group)
        parent = self._require_parent(target, group, for_write=True)
        if not isinstance(req.body, dict):
            raise _bad_request("InvalidRequestFormat", "The request body must be a JSON object.")
        existing = self.state.get(rid)
        if req.headers.get("if-none-match") == "*" and existing is not None:
            raise ArmError(412, "PreconditionFailed", f"The resource '{rid}' already exists.")
        ctx = PutContext(req, caller, aux, target, group, parent, rid, existing)
        rtype = target.rtype
        if rtype in RECORD_HANDLER_TYPES:
            return self._put_record_set(ctx)
        handler = PUT_HANDLERS[rtype]
        if isinstance(handler, str):
            return getattr(self, handler)(ctx)  # type: ignore[no-any-return]
        return handler(self, ctx)

    # ----- Microsoft.Network/virtualNetworks --------------------------------------------
    def _put_vnet(self, ctx: PutContext) -> Response:
        body = ctx.req.body
        props = _lower_keys(body.get("properties"))
        prefixes = list(_lower_keys(props.get("addressSpace")).get("addressPrefixes") or [])
        _validate_prefixes(prefixes)
        if ctx.existing is not None:
            self._check_busy(ctx.existing.key, ctx.rid)
        vnet = build_vnet(
            ctx.rid, prefixes, location=str(body.get("location") or ctx.group.body["location"]),
            subnets=props.get("subnets") or [], tags=body.get("tags"),
            subscription=ctx.target.subscription, resource_group=ctx.group.resource_group,
            guid=(ctx.existing.props.get("resourceGuid") if ctx.existing else None),
        )
        vnet.props["provisioningState"] = "Updating"
        self.state.put_resource(vnet)
        op = self.state.start_operation(
            resource=vnet, method="PUT", style="network", lock_key=vnet.key
        )
        status = 200 if ctx.existing else 201
        return Response(status, self.state.render(vnet), self._lro_headers(ctx.req, op))

    def _put_peering(self, ctx: PutContext) -> Response:
        vnet = ctx.parent
        assert vnet is not None
        props = _lower_keys(ctx.req.body.get("properties"))
        remote_id = str(_lower_keys(props.get("remoteVirtualNetwork")).get("id") or "")
        if not remote_id:
            raise _bad_request(
                "InvalidRequestFormat",
                "Cannot parse the request: properties.remoteVirtualNetwork.id is required.",
            )
        remote_id = normalize_scope(remote_id)
        self._authorize_linked(
            ctx.caller, ctx.aux, f"{PEERING}/write", ctx.rid, PEER_ACTION, remote_id
        )
        remote = self.state.get(remote_id)
        if remote is None or remote.type != VNET:
            info = remote_id.split("/")
            rg = info[4] if len(info) > 4 else "?"
            raise _resource_not_found(
                f"Microsoft.Network/virtualNetworks/{remote_id.rsplit('/', 1)[-1]}", rg
            )
        if remote.key == vnet.key:
            raise _bad_request(
                "CannotPeerVirtualNetworkWithItself",
                f"Virtual network {vnet.id} cannot be peered with itself.",
            )
        self._check_busy(vnet.key, ctx.rid)
        peering_ref = f"Cannot create or update peering {ctx.rid}"
        for candidate in self.state.children(remote.key, PEERING):
            target_id = candidate.props.get("remoteVirtualNetwork", {}).get("id", "").lower()
            if target_id == vnet.key and candidate.disconnected:
                raise _bad_request(
                    "RemotePeeringIsDisconnected",
                    f"{peering_ref} because remote peering {candidate.id} referencing parent "
                    f"virtual network {vnet.id} is in Disconnected state. Update or re-create "
                    "the remote peering to get it back to Initiated state. Peering gets "
                    "Disconnected when remote vnet or remote peering is deleted and re-created.",
                )
        local_prefixes = self.state.vnet_prefixes(vnet)
        remote_prefixes = self.state.vnet_prefixes(remote)
        overlap = _overlaps(local_prefixes, remote_prefixes)
        if overlap:
            raise _bad_request(
                "VnetAddressSpacesOverlap",
                f"{peering_ref}. Virtual networks {vnet.id} and {remote.id} cannot be peered "
                "because their address spaces overlap. Overlapping address prefixes: "
                f"{', '.join(overlap)}",
            )
        self._check_already_peered(peering_ref, vnet, remote)
        self._check_already_peered(peering_ref, remote, vnet)
        use_remote_gateways = bool(props.get("useRemoteGateways"))
        if use_remote_gateways and not self.state.vnet_has_gateway(remote):
            raise _bad_request(
                "RemoteVnetHasNoGateways",
                f"{peering_ref}. Peering property useRemoteGateways cannot be set to true "
                f"because remote virtual network {remote.id} referenced by the peering does not "
                "have any gateways.",
            )
        if bool(props.get("allowGatewayTransit")) and not self.state.vnet_has_gateway(vnet):
            raise _bad_request(
                "VirtualNetworkHasNoGateways",
                f"{peering_ref}. Peering property allowGatewayTransit cannot be set to true "
                f"because virtual network {vnet.id} does not have any gateways.",
            )
        existing = ctx.existing
        sync = ctx.req.query.get("syncRemoteAddressSpace", "").lower() == "true"
        snapshot = remote_prefixes
        if existing is not None and not existing.disconnected and not sync:
            snapshot = existing.props.get("remoteAddressSpace", {}).get(
                "addressPrefixes", remote_prefixes
            )
        name = ctx.target.names[-1]
        peering = Resource(
            id=ctx.rid,
            type=PEERING,
            subscription=vnet.subscription,
            resource_group=vnet.resource_group,
            parent=vnet.key,
            body={
                "id": ctx.rid,
                "name": name,
                "etag": f'W/"{new_etag()}"',
                "type": PEERING,
                "properties": {
                    "provisioningState": "Updating",
                    "resourceGuid": (existing.props.get("resourceGuid") if existing else None)
                    or str(uuid.uuid4()),
                    "peeringState": "Initiated",
                    "peeringSyncLevel": "FullyInSync",
                    "remoteVirtualNetwork": {"id": remote.id},
                    "allowVirtualNetworkAccess": bool(props.get("allowVirtualNetworkAccess", True)),
                    "allowForwardedTraffic": bool(props.get("allowForwardedTraffic", False)),
                    "allowGatewayTransit": bool(props.get("allowGatewayTransit", False)),
                    "useRemoteGateways": use_remote_gateways,
                    "doNotVerifyRemoteGateways": bool(props.get("doNotVerifyRemoteGateways", False)),
                    "peerCompleteVnets": bool(props.get("peerCompleteVnets", True)),
                    "remoteAddressSpace": {"addressPrefixes": list(snapshot)},
                    "remoteVirtualNetworkAddressSpace": {"addressPrefixes": remote_prefixes},
                    "remoteBgpCommunities": {
                        "virtualNetworkCommunity": "12076:20000",
                        "regionalCommunity": "12076:50004",
                    },
                    "routeServiceVips": {},
                },
            },
        )
        self.state.put_resource(peering)
        op = self.state.start_operation(
            resource=peering, method="PUT", style="network", lock_key=vnet.key
        )
        status = 200 if existing else 201
        return Response(status, self.state.render(peering), self._lro_headers(ctx.req, op))

    def _check_already_peered(self, peering_ref: str, hub: Resource, newcomer: Resource) -> None:
        """``newcomer`` must not overlap any VNet already peered with ``hub``."""
        newcomer_prefixes = self.state.vnet_prefixes(newcomer)
        for existing in self.state.children(hub.key, PEERING):
            other_id = existing.props.get("remoteVirtualNetwork", {}).get("id", "")
            if other_id.lower() == newcomer.key:
                continue
            other = self.state.get(other_id)
            other_prefixes = (
                self.state.vnet_prefixes(other) if other
                else existing.props.get("remoteAddressSpace", {}).get("addressPrefixes", [])
            )
            overlap = _overlaps(newcomer_prefixes, other_prefixes)
            if overlap:
                raise _bad_request(
                    "VnetAddressSpaceOverlapsWithAlreadyPeeredVnet",
                    f"{peering_ref}. Address space of virtual network {newcomer.id} overlaps "
                    f"with address space of virtual network {other_id} already peered with "
                    f"virtual network {hub.id}. Overlapping address prefixes: "
                    f"{', '.join(overlap)}",
                )

    # ----- Microsoft.Network/privateDnsZones --------------------------------------------
    def _put_zone(self, ctx: PutContext) -> Response:
        body = ctx.req.body
        zone = Resource(
            id=ctx.rid, type=ZONE, subscription=ctx.target.subscription,
            resource_group=ctx.group.resource_group,
            body={
                "id": ctx.rid,
                "name": ctx.target.names[0].lower(),
                "type": ZONE,
                "etag": new_etag(),
                "location": "global",
                "tags": body.get("tags") or (ctx.existing.body.get("tags") if ctx.existing else {}),
                "properties": {
                    "maxNumberOfRecordSets": 25000,
                    "numberOfRecordSets": 1,
                    "maxNumberOfVirtualNetworkLinks": 1000,
                    "numberOfVirtualNetworkLinks": 0,
                    "maxNumberOfVirtualNetworkLinksWithRegistration": 100,
                    "numberOfVirtualNetworkLinksWithRegistration": 0,
                    "provisioningState": "Updating",
                    "internalId": (ctx.existing.props.get("internalId") if ctx.existing else None)
                    or uuid.uuid4().hex,
                },
            },
        )
        self.state.put_resource(zone)
        if ctx.existing is None:
            self.state.put_resource(soa_record(zone))
        op = self.state.start_operation(resource=zone, method="PUT", style="privatedns",
                                        lock_key=None)
        return Response(202, {}, self._lro_headers(ctx.req, op))

    def _put_record_set(self, ctx: PutContext) -> Response:
        zone = ctx.parent
        assert zone is not None
        record_type = ctx.target.types[-1]
        body = ctx.req.body
        props = dict(_lower_keys(body.get("properties")))
        name = ctx.target.names[-1].lower()
        fqdn = f"{zone.body['name']}." if name == "@" else f"{name}.{zone.body['name']}."
        record_props: dict[str, Any] = {
            "metadata": props.get("metadata") or {},
            "ttl": int(props.get("ttl") or 3600),
            "fqdn": fqdn,
            "isAutoRegistered": False,
        }
        for key, value in props.items():
            if key.endswith("Records") or key in ("cnameRecord", "soaRecord"):
                record_props[key] = value
        for record in record_props.get("aRecords") or []:
            try:
                ipaddress.IPv4Address(str(record.get("ipv4Address")))
            except ValueError as exc:
                raise _bad_request(
                    "BadRequest", f"The IPv4 address '{record.get('ipv4Address')}' is invalid."
                ) from exc
        resource = Resource(
            id=ctx.rid, type=f"{ZONE}/{record_type}", subscription=zone.subscription,
            resource_group=zone.resource_group, parent=zone.key,
            body={
                "id": ctx.rid, "name": name, "type": f"{ZONE}/{record_type}",
                "etag": new_etag(), "properties": record_props,
            },
        )
        self.state.put_resource(resource)
        return Response(200 if ctx.existing else 201, self.state.render(resource))

    def _put_zone_link(self, ctx: PutContext) -> Response:
        zone = ctx.parent
        assert zone is not None
        body = ctx.req.body
        props = _lower_keys(body.get("properties"))
        target_vnet = self._linked_vnet(ctx, props, f"{ZONE_LINK}/write")
        for link in self.state.children(zone.key, ZONE_LINK):
            linked = link.props.get("virtualNetwork", {}).get("id", "").lower()
            if linked == target_vnet.key and link.key != ctx.rid.lower():
                raise ArmError(
                    409, "Conflict",
                    f"A virtual network cannot be linked to the same private zone more than "
                    f"once. Virtual network {target_vnet.id} is already linked by {link.id}.",
                )
        link = Resource(
            id=ctx.rid, type=ZONE_LINK, subscription=zone.subscription,
            resource_group=zone.resource_group, parent=zone.key,
            body={
                "id": ctx.rid, "name": ctx.target.names[-1], "type": ZONE_LINK,
                "etag": new_etag(), "location": "global", "tags": body.get("tags") or {},
                "properties": {
                    "virtualNetwork": {"id": target_vnet.id},
                    "registrationEnabled": bool(props.get("registrationEnabled", False)),
                    "resolutionPolicy": props.get("resolutionPolicy") or "Default",
                    "virtualNetworkLinkState": "InProgress",
                    "provisioningState": "Updating",
                },
            },
        )
        self.state.put_resource(link)
        op = self.state.start_operation(resource=link, method="PUT", style="privatedns",
                                        lock_key=None)
        return Response(202, {}, self._lro_headers(ctx.req, op))

    def _linked_vnet(self, ctx: PutContext, props: dict[str, Any], action: str) -> Resource:
        vnet_ref = str(_lower_keys(props.get("virtualNetwork")).get("id") or "")
        if not vnet_ref:
            raise _bad_request(
                "InvalidRequestFormat", "properties.virtualNetwork.id is required."
            )
        vnet_ref = normalize_scope(vnet_ref)
        self._authorize_linked(ctx.caller, ctx.aux, action, ctx.rid, JOIN_ACTION, vnet_ref)
        vnet = self.state.get(vnet_ref)
        if vnet is None or vnet.type != VNET:
            parts = vnet_ref.split("/")
            raise ArmError(
                400, "InvalidResourceReference",
                f"Resource {vnet_ref} referenced by resource {ctx.rid} was not found. Please "
                f"make sure that the referenced resource exists, and that both resources are "
                f"in the same region. (resource group '{parts[4] if len(parts) > 4 else '?'}')",
            )
        return vnet

    # ----- Microsoft.Network/dnsForwardingRulesets --------------------------------------
    def _put_ruleset(self, ctx: PutContext) -> Response:
        body = ctx.req.body
        props = _lower_keys(body.get("properties"))
        ruleset = Resource(
            id=ctx.rid, type=RULESET, subscription=ctx.target.subscription,
            resource_group=ctx.group.resource_group,
            body={
                "id": ctx.rid, "name": ctx.target.names[0], "type": RULESET,
                "etag": new_etag(),
                "location": body.get("location") or ctx.group.body["location"],
                "tags": body.get("tags") or {},
                "properties": {
                    "dnsResolverOutboundEndpoints": props.get("dnsResolverOutboundEndpoints")
                    or [],
                    "provisioningState": "Updating" if ctx.existing else "Creating",
                    "resourceGuid": (ctx.existing.props.get("resourceGuid") if ctx.existing
                                     else None) or str(uuid.uuid4()),
                },
                "systemData": _system_data(ctx.caller),
            },
        )
        self.state.put_resource(ruleset)
        op = self.state.start_operation(resource=ruleset, method="PUT", style="network",
                                        lock_key=None)
        return Response(200 if ctx.existing else 201, self.state.render(ruleset),
                        self._lro_headers(ctx.req, op))

    def _put_rule(self, ctx: PutContext) -> Response:
        ruleset = ctx.parent
        assert ruleset is not None
        props = _lower_keys(ctx.req.body.get("properties"))
        domain = str(props.get("domainName") or "")
        if not domain:
            raise _bad_request("InvalidRequestFormat", "properties.domainName is required.")
        servers = []
        for server in props.get("targetDnsServers") or []:
            address = str(_lower_keys(server).get("ipAddress") or "")
            try:
                ipaddress.ip_address(address)
            except ValueError as exc:
                raise _bad_request(
                    "BadRequest", f"The target DNS server IP address '{address}' is invalid."
                ) from exc
            servers.append({"ipAddress": address, "port": int(server.get("port") or 53)})
        if not servers:
            raise _bad_request("BadRequest", "At least one target DNS server is required.")
        for other in self.state.children(ruleset.key, RULE):
            if other.key != ctx.rid.lower() and other.props.get("domainName", "").lower().rstrip(
                "."
            ) == domain.lower().rstrip("."):
                raise ArmError(
                    409, "Conflict",
                    f"A forwarding rule for domain '{domain}' already exists in the ruleset "
                    f"({other.id}).",
                )
        rule = Resource(
            id=ctx.rid, type=RULE, subscription=ruleset.subscription,
            resource_group=ruleset.resource_group, parent=ruleset.key,
            body={
                "id": ctx.rid, "name": ctx.target.names[-1], "type": RULE, "etag": new_etag(),
                "properties": {
                    "domainName": domain,
                    "targetDnsServers": servers,
                    "metadata": props.get("metadata") or {},
                    "forwardingRuleState": props.get("forwardingRuleState") or "Enabled",
                    "provisioningState": "Succeeded",
                },
                "systemData": _system_data(ctx.caller),
            },
        )
        self.state.put_resource(rule)
        return Response(200 if ctx.existing else 201, self.state.render(rule))

    def _put_ruleset_link(self, ctx: PutContext) -> Response:
        ruleset = ctx.parent
        assert ruleset is not None
        props = _lower_keys(ctx.req.body.get("properties"))
        target_vnet = self._linked_vnet(ctx, props, f"{RULESET_LINK}/write")
        link = Resource(
            id=ctx.rid, type=RULESET_LINK, subscription=ruleset.subscription,
            resource_group=ruleset.resource_group, parent=ruleset.key,
            body={
                "id": ctx.rid, "name": ctx.target.names[-1], "type": RULESET_LINK,
                "etag": new_etag(),
                "properties": {
                    "virtualNetwork": {"id": target_vnet.id},
                    "metadata": props.get("metadata") or {},
                    "provisioningState": "Updating",
                },
                "systemData": _system_data(ctx.caller),
            },
        )
        self.state.put_resource(link)
        op = self.state.start_operation(resource=link, method="PUT", style="network",
                                        lock_key=None)
        return Response(200 if ctx.existing else 201, self.state.render(link),
                        self._lro_headers(ctx.req, op))

    # ----- Microsoft.Authorization ------------------------------------------------------
    def _authorization(
        self, req: Request, caller: Caller, scope: str, rest: list[str]
    ) -> Response:
        kind = rest[0].lower() if rest else ""
        if kind == "permissions" and len(rest) == 1 and req.method == "GET":
            return self._permissions(caller, scope)
        if kind == "roledefinitions":
            if len(rest) == 1 and req.method == "GET":
                return self._list_role_definitions(req, caller, scope)
            if len(rest) == 2:
                return self._role_definition(req, caller, scope, rest[1])
        if kind == "roleassignments":
            if len(rest) == 1 and req.method == "GET":
                return self._list_role_assignments(req, caller, scope)
            if len(rest) == 2:
                return self._role_assignment(req, caller, scope, rest[1])
        raise ArmError(404, "NotFound", f"No route for '{req.method} {req.path}'.")

    def _permissions(self, caller: Caller, scope: str) -> Response:
        """What ARM's permissions API answers: the caller's effective grants at ``scope``."""
        value = []
        for assignment in self.state.effective_assignments(caller.object_id, scope):
            role = self.state.role(assignment.role_guid)
            if role is not None:
                value.append(role.effective_actions())
        return Response(200, {"value": value})

    def _authorize_read_rbac(self, caller: Caller, action: str, scope: str) -> None:
        if scope == "/":
            return  # tenant-root reads (built-in role lookups) need no assignment
        self._authorize(caller, action, scope)

    def _list_role_definitions(self, req: Request, caller: Caller, scope: str) -> Response:
        self._authorize_read_rbac(caller, "Microsoft.Authorization/roleDefinitions/read", scope)
        flt = req.query.get("$filter", "")
        name_match = re.search(r"roleName\s+eq\s+'([^']*)'", flt, re.IGNORECASE)
        type_match = re.search(r"type\s+eq\s+'([^']*)'", flt, re.IGNORECASE)
        from .rbac import BUILTIN_ROLES

        roles: list[RoleDefinition] = list(BUILTIN_ROLES.values()) + [
            r for r in self.state.role_definitions.values()
            if any(scope_covers(s, scope) or scope_covers(scope, s) for s in r.assignable_scopes)
        ]
        if name_match:
            roles = [r for r in roles if r.role_name.lower() == name_match.group(1).lower()]
        if type_match:
            roles = [r for r in roles if r.role_type.lower() == type_match.group(1).lower()]
        return Response(200, {"value": [r.to_arm(scope) for r in roles]})

    def _role_definition(
        self, req: Request, caller: Caller, scope: str, guid: str
    ) -> Response:
        role = self.state.role(guid)
        if req.method == "GET":
            self._authorize_read_rbac(caller, "Microsoft.Authorization/roleDefinitions/read", scope)
            if role is None:
                raise ArmError(
                    404, "RoleDefinitionDoesNotExist",
                    f"The specified role definition with ID '{guid}' does not exist.",
                )
            return Response(200, role.to_arm(scope))
        if req.method == "DELETE":
            self._authorize(caller, "Microsoft.Authorization/roleDefinitions/delete", scope)
            if role is None or role.role_type != "CustomRole":
                return Response(204)
            body = role.to_arm(scope)
            self.state.role_definitions.pop(role.guid, None)
            return Response(200, body)
        if req.method == "PUT":
            self._authorize(caller, "Microsoft.Authorization/roleDefinitions/write", scope)
            props = _lower_keys(_lower_keys(req.body).get("properties"))
            created = self.upsert_role_definition(
                guid=guid.lower(),
                role_name=str(props.get("roleName") or ""),
                description=str(props.get("description") or ""),
                permissions=props.get("permissions") or [],
                assignable_scopes=props.get("assignableScopes") or [scope],
                created_by=caller.object_id,
                tenant_id=caller.tenant_id,
            )
            return Response(201, created.to_arm(scope))
        raise ArmError(405, "MethodNotAllowed", f"Method {req.method} is not supported here.")

    def upsert_role_definition(
        self,
        *,
        guid: str,
        role_name: str,
        description: str,
        permissions: list[dict[str, Any]],
        assignable_scopes: list[str],
        created_by: str | None,
        tenant_id: str | None,
    ) -> RoleDefinition:
        if not role_name:
            raise _bad_request("InvalidRoleDefinition", "The role name must not be empty.")
        from .rbac import BUILTIN_ROLES

        if guid in BUILTIN_ROLES:
            raise ArmError(
                403, "RoleDefinitionUpdateNotAllowed", "Built-in roles cannot be updated."
            )
        same_directory = [
            r for r in self.state.role_definitions.values()
            if tenant_id is None or r.tenant_id is None
            or r.tenant_id.lower() == tenant_id.lower()
        ]
        for other in list(BUILTIN_ROLES.values()) + same_directory:
            if other.guid != guid and other.role_name.lower() == role_name.lower():
                raise ArmError(
                    409, "RoleDefinitionWithSameNameExists",
                    "A custom role with the same name already exists in this directory. Use a "
                    "different name.",
                )
        actions: list[str] = []
        not_actions: list[str] = []
        data_actions: list[str] = []
        not_data_actions: list[str] = []
        for perm in permissions:
            perm = _lower_keys(perm)
            actions += perm.get("actions") or []
            not_actions += perm.get("notActions") or []
            data_actions += perm.get("dataActions") or []
            not_data_actions += perm.get("notDataActions") or []
        scopes = [normalize_scope(s) for s in assignable_scopes]
        existing = self.state.role_definitions.get(guid)
        role = RoleDefinition(
            guid=guid, role_name=role_name, description=description, actions=actions,
            not_actions=not_actions, data_actions=data_actions,
            not_data_actions=not_data_actions, assignable_scopes=scopes,
            role_type="CustomRole",
            created_on=existing.created_on if existing else now_iso(),
            updated_on=now_iso(),
            created_by=created_by,
            tenant_id=tenant_id,
        )
        self.state.role_definitions[guid] = role
        return role

    def _list_role_assignments(self, req: Request, caller: Caller, scope: str) -> Response:
        flt = req.query.get("$filter", "")
        at_scope = "atscope()" in flt.replace(" ", "").lower()
        principal = None
        match = re.search(r"(?:principalId\s+eq\s+|assignedTo\()\s*'([^']*)'", flt, re.IGNORECASE)
        if match:
            principal = match.group(1)
        # As Azure: listing needs roleAssignments/read at the scope, even for one's own
        # assignments (only the permissions API answers a caller about itself without a role).
        self._authorize(caller, "Microsoft.Authorization/roleAssignments/read", scope)
        items = []
        for assignment in self.state.role_assignments.values():
            above_or_at = scope_covers(assignment.scope, scope)
            below = scope_covers(scope, assignment.scope)
            if at_scope and not above_or_at:
                continue
            if not (above_or_at or below):
                continue
            if principal and assignment.principal_id.lower() != principal.lower():
                continue
            items.append(assignment.to_arm())
        return Response(200, {"value": items})

    def _role_assignment(self, req: Request, caller: Caller, scope: str, name: str) -> Response:
        key = (
            ("" if scope == "/" else scope) + f"/providers/Microsoft.Authorization/roleAssignments/{name}"
        ).lower()
        assignment = self.state.role_assignments.get(key)
        if req.method == "GET":
            self._authorize(caller, "Microsoft.Authorization/roleAssignments/read", scope)
            if assignment is None:
                raise ArmError(
                    404, "RoleAssignmentNotFound",
                    f"The role assignment '{name}' is not found.",
                )
            return Response(200, assignment.to_arm())
        if req.method == "DELETE":
            self._authorize(caller, "Microsoft.Authorization/roleAssignments/delete", scope)
            if assignment is None:
                return Response(204)
            self.state.role_assignments.pop(key, None)
            return Response(200, assignment.to_arm())
        if req.method == "PUT":
            self._authorize(caller, "Microsoft.Authorization/roleAssignments/write", scope)
            props = _lower_keys(_lower_keys(req.body).get("properties"))
            role_id = str(props.get("roleDefinitionId") or "")
            principal_id = str(props.get("principalId") or "")
            role = self.state.role(role_id) if role_id else None
            if role is None:
                raise _bad_request(
                    "RoleDefinitionDoesNotExist",
                    f"The specified role definition with ID '{role_guid(role_id)}' does not exist.",
                )
            if not principal_id:
                raise _bad_request("InvalidPrincipalId", "A valid principal ID must be provided.")
            for other in self.state.role_assignments.values():
                if (
                    other.id.lower() != key
                    and other.scope.lower() == scope.lower()
                    and other.principal_id.lower() == principal_id.lower()
                    and other.role_guid == role.guid
                ):
                    raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
            if assignment is not None:
                # What ``az role assignment update`` relies on: a PUT of an existing assignment
                # (same principal and role) replaces its description and condition.
                if "description" in props:
                    assignment.description = props.get("description")
                if "condition" in props:
                    assignment.condition = props.get("condition")
                assignment.updated_on = now_iso()
                assignment.updated_by = caller.object_id
                return Response(201, assignment.to_arm())
            created = self.state.add_role_assignment(
                scope=scope, principal_id=principal_id, role=role, tenant_id=caller.tenant_id,
                name=name, principal_type=str(props.get("principalType") or "ServicePrincipal"),
                created_by=caller.object_id,
            )
            created.description = props.get("description")
            return Response(201, created.to_arm())
        raise ArmError(405, "MethodNotAllowed", f"Method {req.method} is not supported here.")


@dataclass
class PutContext:
    req: Request
    caller: Caller
    aux: list[Caller]
    target: Target
    group: Resource
    parent: Resource | None
    rid: str
    existing: Resource | None


#: resource type -> an Arm method's name, or a function(arm, ctx) from a provider module.
PUT_HANDLERS: dict[str, str | Callable[[Arm, PutContext], Response]] = {
    VNET: "_put_vnet",
    PEERING: "_put_peering",
    ZONE: "_put_zone",
    ZONE_LINK: "_put_zone_link",
    RULESET: "_put_ruleset",
    RULE: "_put_rule",
    RULESET_LINK: "_put_ruleset_link",
}
#: resource type -> function(arm, req, caller, target) for a GET of something that is not a
#: resource of its own in the state (a VNet's subnet lives inside the VNet).
GET_HANDLERS: dict[str, Callable[[Arm, Request, Caller, Target], Response]] = {}
# Resource types served by their own modules (identity_msi.py): handler(arm, ctx).
EXTRA_PUT_HANDLERS: dict[str, Callable[[Arm, PutContext], Response]] = {}
SUPPORTED = set(PUT_HANDLERS)
RECORD_HANDLER_TYPES = {f"{ZONE}/{t}" for t in RECORD_TYPES}
#: POST .../providers/Microsoft.Network/locations/{location}/{action} -> function(arm, req,
#: caller, subscription, location), added by provider modules.
SUBSCRIPTION_ACTIONS: dict[str, Callable[[Arm, Request, Caller, str, str], Response]] = {}
LRO_STYLE = {
    VNET: "network",
    PEERING: "network",
    ZONE: "privatedns",
    ZONE_LINK: "privatedns",
    RULESET: "network",
    RULESET_LINK: "network",
}


def _authorization_index(low: list[str]) -> int | None:
    for i in range(len(low) - 2, -1, -1):
        if low[i] == "providers" and low[i + 1] == "microsoft.authorization":
            return i
    return None


def _name_for(rtype: str, name: str, depth: int) -> str:
    # Private DNS lower-cases zone and record-set names in ids.
    if rtype == "privateDnsZones" or rtype in RECORD_TYPES:
        return name.lower()
    return name


def _raw_id(target: Target) -> str:
    path = f"/subscriptions/{target.subscription}/resourceGroups/{target.resource_group}"
    path += f"/providers/{target.namespace}"
    for i, name in enumerate(target.names):
        path += f"/{target.types[i]}/{name}"
    return path


def _is_network_path(path: str) -> bool:
    low = path.lower()
    return "/providers/microsoft.network/" in low and "/privatednszones" not in low


def _norm_location(value: object) -> str:
    return str(value or "").replace(" ", "").lower()


def _rg_not_found(name: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def _resource_not_found(type_and_name: str, resource_group: str) -> ArmError:
    return ArmError(
        404, "ResourceNotFound",
        f"The Resource '{type_and_name}' under resource group '{resource_group}' was not found. "
        + NOT_FOUND_HELP,
    )


def _validate_prefixes(prefixes: list[str]) -> None:
    for prefix in prefixes:
        try:
            ipaddress.ip_network(prefix, strict=True)
        except ValueError as exc:
            raise _bad_request(
                "InvalidAddressPrefixFormat", f"Address prefix {prefix} has an invalid format."
            ) from exc


def _overlaps(left: list[str], right: list[str]) -> list[str]:
    found: list[str] = []
    for a in left:
        for b in right:
            net_a, net_b = ipaddress.ip_network(a, strict=False), ipaddress.ip_network(b, strict=False)
            if net_a.version == net_b.version and net_a.overlaps(net_b):
                for p in (a, b):
                    if p not in found:
                        found.append(p)
    return found


def _system_data(caller: Caller) -> dict[str, str]:
    stamp = now_iso()
    return {
        "createdBy": caller.app_id or caller.object_id,
        "createdByType": "Application",
        "createdAt": stamp,
        "lastModifiedBy": caller.app_id or caller.object_id,
        "lastModifiedByType": "Application",
        "lastModifiedAt": stamp,
    }


def build_vnet(
    rid: str,
    prefixes: list[str],
    *,
    location: str,
    subnets: list[dict[str, Any]],
    tags: dict[str, str] | None,
    subscription: str,
    resource_group: str,
    guid: str | None = None,
    has_gateway: bool = False,
) -> Resource:
    """A VNet resource; ``has_gateway`` adds a GatewaySubnet holding a gateway IP config."""
    normalized = []
    for subnet in subnets:
        subnet = dict(subnet)
        props = dict(subnet.get("properties") or {})
        if "addressPrefix" in subnet and "addressPrefix" not in props:
            props["addressPrefix"] = subnet.pop("addressPrefix")
        props.setdefault("provisioningState", "Succeeded")
        props.setdefault("privateEndpointNetworkPolicies", "Disabled")
        props.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
        normalized.append({
            "name": subnet["name"],
            "id": f"{rid}/subnets/{subnet['name']}",
            "etag": f'W/"{new_etag()}"',
            "type": "Microsoft.Network/virtualNetworks/subnets",
            "properties": props,
        })
    if has_gateway and not any(s["name"].lower() == "gatewaysubnet" for s in normalized):
        normalized.append(gateway_subnet(rid, prefixes))
    return Resource(
        id=rid, type=VNET, subscription=subscription, resource_group=resource_group,
        body={
            "id": rid,
            "name": rid.rsplit("/", 1)[-1],
            "type": VNET,
            "etag": f'W/"{new_etag()}"',
            "location": location,
            "tags": tags or {},
            "properties": {
                "provisioningState": "Succeeded",
                "resourceGuid": guid or str(uuid.uuid4()),
                "addressSpace": {"addressPrefixes": list(prefixes)},
                "subnets": normalized,
                "virtualNetworkPeerings": [],
                "enableDdosProtection": False,
                "privateEndpointVNetPolicies": "Disabled",
            },
        },
    )


def soa_record(zone: Resource) -> Resource:
    rid = f"{zone.id}/SOA/@"
    return Resource(
        id=rid, type=f"{ZONE}/SOA", subscription=zone.subscription,
        resource_group=zone.resource_group, parent=zone.key,
        body={
            "id": rid, "name": "@", "type": f"{ZONE}/SOA", "etag": new_etag(),
            "properties": {
                "ttl": 3600, "fqdn": f"{zone.body['name']}.", "isAutoRegistered": False,
                "metadata": {},
                "soaRecord": {
                    "email": "azureprivatedns-host.microsoft.com",
                    "expireTime": 2419200, "host": "azureprivatedns.net",
                    "minimumTtl": 10, "refreshTime": 3600, "retryTime": 300,
                    "serialNumber": 1,
                },
            },
        },
    )


# Provider modules beside this one register their resource types here.
from . import state as _state  # noqa: E402
from . import vwan as _vwan  # noqa: E402

PUT_HANDLERS.update(_vwan.PUT_HANDLERS)
LRO_STYLE.update(_vwan.LRO_STYLE)
SUPPORTED.update(_vwan.PUT_HANDLERS)
_state.ON_REMOVE.append(_vwan.on_remove)
_state.ON_SUCCEEDED.append(_vwan.on_succeeded)
_state.ON_RENDER.append(_vwan.render)
from . import identity_msi as _identity_msi  # noqa: E402

PUT_HANDLERS.update(_identity_msi.PUT_HANDLERS)
SUPPORTED.update(_identity_msi.PUT_HANDLERS)
