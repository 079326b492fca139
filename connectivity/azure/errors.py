"""The gateway's own exceptions, classified once from Azure SDK exceptions.

Nothing above ``connectivity.azure`` catches ``azure.*`` exceptions: every gateway function is
wrapped with :func:`translate_errors`, which turns any SDK error into one of

- :class:`TransientAzureError` — try again later (throttling, 5xx, timeouts, a VNet busy with
  another operation); ``retry_after`` says when, if Azure said;
- :class:`CustomerActionRequired` — the customer must change something in their Azure
  (a role, an address space, a name); ``message`` tells them what, in plain words;
- :class:`PermanentAzureError` — anything else; ``message`` carries Azure's text.

Each keeps the ARM error ``code``, the raw ARM text in ``detail``, the HTTP ``status`` and
Azure's ``request_id`` for support.
"""

from __future__ import annotations

import email.utils
import functools
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

P = ParamSpec("P")
R = TypeVar("R")


class GatewayError(Exception):
    """Base class of every error the Azure gateway raises."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        detail: str = "",
        request_id: str | None = None,
        status: int | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail
        self.request_id = request_id
        self.status = status
        #: a stable, machine-readable key for what went wrong (e.g. ``permission_missing``)
        self.reason = reason

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"reason={self.reason!r}, message={self.message!r})"
        )


class TransientAzureError(GatewayError):
    """Azure is busy or unreachable; retrying later should work.

    ``retry_after`` is the number of seconds Azure asked us to wait (from ``Retry-After``), or
    None when it did not say.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CustomerActionRequired(GatewayError):
    """The customer has to change something in their Azure subscription before this can work.

    ``reason`` is one of: ``permission_missing``, ``cross_tenant_not_authorized``,
    ``address_space_overlap``, ``remote_peering_disconnected``, ``remote_gateway_missing``,
    ``not_found``, ``peering_conflict``, ``app_not_in_tenant``, ``wrong_tenant``,
    ``policy_denied``, ``resource_locked``, ``hub_connection_conflict``; for Private Link
    ``private_link_not_visible``, ``group_id_invalid``, ``invalid_target``. Facts parsed from
    Azure's text are kept in ``action``, ``scope``, ``resource`` and ``prefixes`` when present.
    """

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        scope: str | None = None,
        resource: str | None = None,
        prefixes: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.action = action
        self.scope = scope
        self.resource = resource
        self.prefixes = prefixes


class PermanentAzureError(GatewayError):
    """Azure refused the operation and retrying the same call will not help."""


# --------------------------------------------------------------------------------------------
# What we know about an error before deciding its class


@dataclass(frozen=True)
class _Raw:
    code: str
    text: str
    status: int | None
    request_id: str | None
    retry_after: float | None
    #: the subscription the failed call was made in (from its URL), when known
    subscription: str | None = None


_ACTION_SCOPE = re.compile(r"perform action '(?P<action>[^']+)' (?:over|on) scope '(?P<scope>[^']+)'")
_LINKED = re.compile(
    r"current tenant '(?P<tenant>[^']+)' is not authorized to access linked subscription"
    r" '(?P<sub>[^']+)'"
)
_LINKED_MISSING = re.compile(
    r"does not have permission to perform action(?:\(s\))? '(?P<action>[^']+)' on the linked "
    r"scope(?:\(s\))? '(?P<scope>[^']+)'"
)
_PREFIXES_MARKER = re.compile(r"[Oo]verlapping address prefixes?:")
_CIDR = re.compile(r"(?<![\w.:/])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:]+)/\d{1,3}(?![\w/])")
_RETRY_HINT = re.compile(r"[Rr]etry (?:in|after) (?P<seconds>\d+(?:\.\d+)?) ?s(?:ec(?:ond)?s?)?\b")
_HELP_TAIL = re.compile(
    r"\s*(?:(?:For more (?:information|details)|Please (?:see|refer to|visit)|Refer to|See)\b[^.]*"
    r"(?:https?://\S+)?[^.]*\.?\s*)+$", re.IGNORECASE)
_URL = re.compile(r"\s*\(?https?://\S+\)?")
_NOT_FOUND = re.compile(
    r"The Resource '(?P<resource>[^']+)' under resource group '(?P<rg>[^']+)' was not found"
)
_RG_NOT_FOUND = re.compile(r"Resource group '(?P<rg>[^']+)' could not be found")
_PARENT = re.compile(r"parent resource '(?P<parent>[^']+)' could not be found")
_ALREADY_REFERENCES = re.compile(r"Peering (?P<peering>\S+) already references")
_PEERING_IN_TEXT = re.compile(r"peering (?P<peering>/subscriptions/\S+?)[.\s]")


def _search(pattern: re.Pattern[str], text: str, group: str) -> str | None:
    match = pattern.search(text)
    return match.group(group).strip() if match else None


def _short(resource_id: str | None) -> str:
    """The last two segments of an id (``virtualNetworks/vnet-a``), for readable messages."""
    if not resource_id:
        return "the resource"
    parts = [p for p in resource_id.split("/") if p]
    return "/".join(parts[-2:]) if len(parts) >= 2 else resource_id


# --------------------------------------------------------------------------------------------
# One builder per customer-facing ARM code


def _authorization_failed(raw: _Raw) -> GatewayError:
    action = _search(_ACTION_SCOPE, raw.text, "action")
    scope = _search(_ACTION_SCOPE, raw.text, "scope")
    return CustomerActionRequired(
        _permission_message(action, scope),
        reason="permission_missing",
        action=action,
        scope=scope,
        **_common(raw),
    )


def _permission_message(action: str | None, scope: str | None) -> str:
    what = f"'{action}'" if action else "this operation"
    where = f" on {scope}" if scope else ""
    return (
        f"The platform is not allowed to perform {what}{where}. Check that the custom role from "
        "this request's instructions is assigned to the platform's application at that scope. "
        "If you assigned it in the last few minutes, Azure may still be applying it (this can "
        "take up to 30 minutes); no further action is needed in that case."
    )


def _linked_authorization_failed(raw: _Raw) -> GatewayError:
    if _LINKED_MISSING.search(raw.text):
        # Signed in to both tenants, but the role on the linked (remote) VNet is missing.
        action = _search(_LINKED_MISSING, raw.text, "action")
        scope = _search(_LINKED_MISSING, raw.text, "scope")
        return CustomerActionRequired(
            _permission_message(action, scope),
            reason="permission_missing",
            action=action,
            scope=scope,
            **_common(raw),
        )
    tenant = _search(_LINKED, raw.text, "tenant")
    sub = _search(_LINKED, raw.text, "sub")
    action = _search(_ACTION_SCOPE, raw.text, "action")
    scope = _search(_ACTION_SCOPE, raw.text, "scope")
    if tenant and sub:
        message = (
            f"Azure refused the cross-tenant call: tenant {tenant} is not authorised for "
            f"subscription {sub}. Check that the tenant ID on this request is the tenant that "
            "owns that subscription, and that the platform's application has been added to it "
            "(az ad sp create) and granted the role."
        )
    else:
        message = (
            "Azure refused the cross-tenant call because the platform could not prove access "
            "to both tenants. Check the tenant ID on this request and that the platform's "
            "application has been added to your tenant (az ad sp create) and granted the role."
        )
    return CustomerActionRequired(
        message,
        reason="cross_tenant_not_authorized",
        action=action,
        scope=scope,
        **_common(raw),
    )


def _prefixes(raw: _Raw) -> tuple[str, ...]:
    """Every CIDR Azure lists after "Overlapping address prefixes:" (both sides' prefixes,
    in order, once each), robust to the help text and links that follow."""
    marker = _PREFIXES_MARKER.search(raw.text)
    if marker is None:
        return ()
    found: list[str] = []
    for prefix in _CIDR.findall(raw.text[marker.end():]):
        if prefix not in found:
            found.append(prefix)
    return tuple(found)


def clean_text(text: str) -> str:
    """Azure's message without the trailing help text and links ("For more information please
    refer to https://aka.ms/..."), which say nothing a customer can act on here."""
    cleaned = _HELP_TAIL.sub("", text.strip())
    cleaned = _URL.sub("", cleaned).strip()
    return cleaned or text.strip()


def _retry_hint(texts: list[str]) -> float | None:
    """The "Retry in N seconds" hint some ARM messages carry instead of a Retry-After header."""
    for text in texts:
        match = _RETRY_HINT.search(text)
        if match:
            return float(match.group("seconds"))
    return None


def _overlap(raw: _Raw) -> GatewayError:
    prefixes = _prefixes(raw)
    listed = ", ".join(prefixes) if prefixes else "some address ranges"
    message = (
        f"The two networks' address spaces overlap ({listed}), and Azure cannot peer "
        "overlapping networks. Use a virtual network whose address space does not include "
        f"{listed}, or change its address space, then retry."
    )
    return CustomerActionRequired(message, reason="address_space_overlap", prefixes=prefixes, **_common(raw))


def _overlap_already_peered(raw: _Raw) -> GatewayError:
    prefixes = _prefixes(raw)
    listed = ", ".join(prefixes) if prefixes else "some address ranges"
    message = (
        f"Your virtual network's address space overlaps ({listed}) with another network that "
        "is already peered to the other side, and Azure cannot route overlapping ranges. "
        "Change the address space, or remove the other peering, then retry."
    )
    return CustomerActionRequired(message, reason="address_space_overlap", prefixes=prefixes, **_common(raw))


def _remote_disconnected(raw: _Raw) -> GatewayError:
    message = (
        "The peering on the other network was deleted, so this side is Disconnected and Azure "
        "will not reconnect it. Delete the disconnected peering and create both sides again."
    )
    return CustomerActionRequired(
        message,
        reason="remote_peering_disconnected",
        resource=_search(_PEERING_IN_TEXT, raw.text, "peering"),
        **_common(raw),
    )


def _remote_no_gateways(raw: _Raw) -> GatewayError:
    message = (
        "'Use remote gateways' was requested, but the remote virtual network has no VPN or "
        "ExpressRoute gateway. Turn the option off, or add a gateway to that network first."
    )
    return CustomerActionRequired(message, reason="remote_gateway_missing", **_common(raw))


def _not_found(raw: _Raw) -> GatewayError:
    resource = _search(_NOT_FOUND, raw.text, "resource")
    rg = _search(_NOT_FOUND, raw.text, "rg")
    if resource:
        message = (
            f"Azure cannot find {resource} in resource group {rg}. Check the subscription, "
            "resource group and name on this request; they must match your Azure resources "
            "exactly."
        )
    else:
        message = (
            "Azure cannot find the resource. Check the subscription, resource group and name "
            "on this request; they must match your Azure resources exactly."
        )
    return CustomerActionRequired(message, reason="not_found", resource=resource, **_common(raw))


def _rg_not_found(raw: _Raw) -> GatewayError:
    rg = _search(_RG_NOT_FOUND, raw.text, "rg")
    name = f"Resource group {rg}" if rg else "The resource group"
    message = (
        f"{name} does not exist in that subscription. Check the subscription ID and the "
        "resource group name on this request."
    )
    return CustomerActionRequired(message, reason="not_found", resource=rg, **_common(raw))


def _parent_not_found(raw: _Raw) -> GatewayError:
    parent = _search(_PARENT, raw.text, "parent")
    message = (
        f"Azure cannot find {parent or 'the parent resource'}. Check that it exists and that "
        "the names on this request match it exactly."
    )
    return CustomerActionRequired(message, reason="not_found", resource=parent, **_common(raw))


def _subscription_not_found(raw: _Raw) -> GatewayError:
    message = (
        "Azure cannot find that subscription in the given tenant. Check the subscription ID and "
        "the tenant ID on this request."
    )
    return CustomerActionRequired(message, reason="not_found", **_common(raw))


def _peering_conflict(raw: _Raw) -> GatewayError:
    peering = _search(_ALREADY_REFERENCES, raw.text, "peering")
    message = (
        f"A peering between these two networks already exists ({_short(peering)}). Azure allows "
        "one peering per pair of networks in each direction: delete the existing peering or "
        "ask support to reuse it."
    )
    return CustomerActionRequired(message, reason="peering_conflict", resource=peering, **_common(raw))


_CONNECTED_BY = re.compile(
    r"already connected to a virtual hub by (?P<connection>/subscriptions/\S+?)\.?(?:\s|$)")


def _hub_connection_conflict(raw: _Raw) -> GatewayError:
    connection = _search(_CONNECTED_BY, raw.text, "connection")
    message = (
        "The virtual network is already connected to a virtual hub"
        f"{f' ({_short(connection)})' if connection else ''}, and Azure connects a virtual "
        "network to one hub only. Remove that hub connection first, or use the existing one."
    )
    return CustomerActionRequired(message, reason="hub_connection_conflict",
                                  resource=connection, **_common(raw))


def _wrong_tenant(raw: _Raw) -> GatewayError:
    message = (
        "The subscription does not belong to the tenant given on this request. Check the tenant "
        "ID: it must be the Microsoft Entra tenant that owns the subscription."
    )
    return CustomerActionRequired(message, reason="wrong_tenant", **_common(raw))


def _policy_denied(raw: _Raw) -> GatewayError:
    message = (
        "An Azure Policy in your subscription blocks this operation. Ask your Azure "
        f"administrator to allow it. Azure said: {clean_text(raw.text)}"
    )
    return CustomerActionRequired(message, reason="policy_denied", **_common(raw))


def _scope_locked(raw: _Raw) -> GatewayError:
    message = (
        "A resource lock prevents this change. Remove the lock (or make it not apply to "
        f"peerings), then retry. Azure said: {clean_text(raw.text)}"
    )
    return CustomerActionRequired(message, reason="resource_locked", **_common(raw))


_REFERENCED = re.compile(r"Resource (?P<resource>/subscriptions/\S+) referenced by resource")
_REFERENCED_SUB = re.compile(r"^/subscriptions/(?P<sub>[^/]+)", re.IGNORECASE)


def _private_link_not_visible(raw: _Raw) -> GatewayError:
    message = (
        "Azure cannot find that Private Link service, or it is not visible to the platform's "
        "subscription. Check the resource id or alias, and add the platform's subscription to "
        "the service's visibility list (or make it visible to all)."
    )
    return CustomerActionRequired(message, reason="private_link_not_visible", **_common(raw))


def _group_id_invalid(raw: _Raw) -> GatewayError:
    message = (
        "The resource does not offer that sub-resource (group id), or more than one was given. "
        f"Choose one sub-resource the resource type supports. Azure said: {clean_text(raw.text)}"
    )
    return CustomerActionRequired(message, reason="group_id_invalid", **_common(raw))


def _invalid_target(raw: _Raw) -> GatewayError:
    message = (
        "The Private Link target is not a valid resource id. Copy the resource id from the "
        "resource's JSON view in the Azure portal."
    )
    return CustomerActionRequired(message, reason="invalid_target", **_common(raw))


def _reference_not_found(raw: _Raw) -> GatewayError:
    """A referenced resource is missing: the platform's (a subnet, a zone) or the customer's."""
    resource = _search(_REFERENCED, raw.text, "resource")
    sub = _search(_REFERENCED_SUB, resource or "", "sub")
    if sub and sub.lower() in _platform_subscriptions():
        message = (
            f"A resource the platform keeps in its own subscription is missing ({_short(resource)})."
            " This is for the platform team to fix, not you: support has been alerted."
        )
        return PermanentAzureError(message, reason="platform_resource_missing", **_common(raw))
    message = (
        f"Azure cannot find {resource or 'the target resource'}. Check that it exists and that "
        "the resource id on this request matches it exactly."
    )
    return CustomerActionRequired(message, reason="not_found", resource=resource, **_common(raw))


def _subnet_full(raw: _Raw) -> GatewayError:
    message = (
        "The cluster's endpoint subnet has no free address for another private endpoint. This "
        "is for the platform team to fix: support has been alerted."
    )
    return PermanentAzureError(message, reason="subnet_full", **_common(raw))


def _transient(raw: _Raw) -> GatewayError:
    reason = "unavailable"
    message = "Azure is temporarily unavailable; the operation will be retried."
    if raw.status == 429 or "throttl" in raw.code.lower() or raw.code == "TooManyRequests":
        reason = "throttled"
        message = "Azure is throttling requests; the operation will be retried."
    if raw.code.lower() in _BUSY_CODES:
        reason = "busy"
        message = (
            "The virtual network is being updated by another operation; this will be retried "
            "when it finishes."
        )
    if raw.code.lower() in _CANCELED_CODES:
        # Not a failure of the request: the resource is re-read and the step carries on.
        reason = "superseded"
        message = (
            "Azure cancelled the operation because another operation on the same resource "
            "superseded it; the step will re-read the resource and carry on."
        )
    return TransientAzureError(message, retry_after=raw.retry_after, reason=reason, **_common(raw))


_CANCELED_CODES = frozenset(
    {"canceledandsupersededduetoanotheroperation", "canceled", "operationcanceled"}
)


_BUSY_CODES = frozenset(
    {
        "referencedresourcenotprovisioned",
        "retryableerrorduetoanotheroperation",
        "anotheroperationinprogress",
    }
)


_CUSTOMER: dict[str, Callable[[_Raw], GatewayError]] = {
    "AuthorizationFailed": _authorization_failed,
    "LinkedAuthorizationFailed": _linked_authorization_failed,
    "VnetAddressSpacesOverlap": _overlap,
    "VnetAddressSpaceOverlapsWithAlreadyPeeredVnet": _overlap_already_peered,
    "RemotePeeringIsDisconnected": _remote_disconnected,
    "RemoteVnetHasNoGateways": _remote_no_gateways,
    "ResourceNotFound": _not_found,
    "NotFound": _not_found,
    "ResourceGroupNotFound": _rg_not_found,
    "ParentResourceNotFound": _parent_not_found,
    "SubscriptionNotFound": _subscription_not_found,
    "AnotherPeeringAlreadyReferencesRemoteVnet": _peering_conflict,
    "VirtualNetworkAlreadyConnectedToVirtualHub": _hub_connection_conflict,
    "InvalidAuthenticationTokenTenant": _wrong_tenant,
    "RequestDisallowedByPolicy": _policy_denied,
    "ScopeLocked": _scope_locked,
    "ThirdPartyPrivateLinkServiceProvidedDuringPrivateEndpointCreationDoesNotExistOrIsNotVisible":
        _private_link_not_visible,
    "OnlyOneGroupIdPermitted": _group_id_invalid,
    "InvalidValuesForRequestParameters": _group_id_invalid,
    "LinkedInvalidPropertyId": _invalid_target,
    "InvalidResourceReference": _reference_not_found,
}

#: Codes that are the platform's to fix, whatever the customer does.
_PLATFORM: dict[str, Callable[[_Raw], GatewayError]] = {"subnetisfull": _subnet_full}

TRANSIENT_CODES = frozenset(
    {
        "TooManyRequests",
        "SubscriptionRequestsThrottled",
        "TenantRequestsThrottled",
        "ResourceRequestsThrottled",
        "RetryableErrorDueToAnotherOperation",
        "ReferencedResourceNotProvisioned",
        "AnotherOperationInProgress",
        "RetryableError",
        "OperationPreempted",
        "InternalServerError",
        "ServiceUnavailable",
        "GatewayTimeout",
        "CanceledAndSupersededDueToAnotherOperation",
        "Canceled",
        "OperationCanceled",
    }
)

#: Codes that say only "something went wrong": when the specific code sits in
#: ``error.details[]`` (as real traffic often has it), the specific one decides.
_GENERIC_CODES = frozenset(
    code.lower() for code in (
        "RetryableError", "InternalServerError", "Canceled", "OperationCanceled", "Conflict",
        "BadRequest", "InvalidRequest", "DeploymentFailed", "Failed", "OperationFailed",
        "ServiceUnavailable", "ResourceOperationFailure", "",
    )
)

#: The one mapping table: ARM error code (compared case-insensitively) → builder.
MAPPING: dict[str, Callable[[_Raw], GatewayError]] = {
    **{code.lower(): builder for code, builder in _CUSTOMER.items()},
    **{code.lower(): _transient for code in TRANSIENT_CODES},
}

_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})

#: Entra ID (token endpoint) error codes that mean the customer must act.
_AADSTS_CUSTOMER = {
    "AADSTS700016": (
        "app_not_in_tenant",
        "The platform's application is not registered in your tenant yet. Run the "
        "'az ad sp create' command from this request's instructions in your tenant, then retry.",
    ),
    "AADSTS90002": (
        "wrong_tenant",
        "Microsoft Entra ID does not know that tenant. Check the tenant ID on this request.",
    ),
    "AADSTS900023": (
        "wrong_tenant",
        "The tenant ID on this request is not valid. Check it against your Azure portal.",
    ),
}
_AADSTS = re.compile(r"AADSTS\d+")


def _common(raw: _Raw) -> dict[str, Any]:
    return {
        "code": raw.code,
        "detail": raw.text,
        "request_id": raw.request_id,
        "status": raw.status,
    }


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _raw_from_http(exc: HttpResponseError) -> _Raw:
    response = exc.response
    headers: Any = getattr(response, "headers", None) or {}
    request_id = headers.get("x-ms-request-id") or headers.get("x-ms-correlation-request-id")
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if retry_after is None and headers.get("retry-after-ms"):
        ms = parse_retry_after(headers.get("retry-after-ms"))
        retry_after = ms / 1000 if ms is not None else None
    error = exc.error
    code = str((getattr(error, "code", None) or "") if error is not None else "")
    text = str((getattr(error, "message", None) or "") if error is not None else "")
    if not text:
        text = exc.message if isinstance(exc.message, str) else str(exc)
    details = _details(error)
    specific = next((d for d in details if d[0].lower() in MAPPING), None)
    if specific is not None and (code.lower() in _GENERIC_CODES or code.lower() not in MAPPING):
        code, text = specific  # the generic wrapper says less than what it wraps
    if retry_after is None:
        retry_after = _retry_hint([text, *(message for _, message in details)])
    return _Raw(
        code=code,
        text=text,
        status=exc.status_code,
        request_id=request_id,
        retry_after=retry_after,
        subscription=_subscription_of(response),
    )


def _details(error: Any) -> list[tuple[str, str]]:
    """``error.details[]`` as (code, message), depth first (details can nest)."""
    found: list[tuple[str, str]] = []
    for detail in getattr(error, "details", None) or []:
        code = getattr(detail, "code", None)
        if code is None and isinstance(detail, dict):
            code = detail.get("code")
        message = getattr(detail, "message", None)
        if message is None and isinstance(detail, dict):
            message = detail.get("message")
        found.append((str(code or ""), str(message or "")))
        found += _details(detail)
    return found


_SUBSCRIPTION_IN_URL = re.compile(r"/subscriptions/(?P<sub>[^/?#]+)", re.IGNORECASE)


def _subscription_of(response: Any) -> str | None:
    url = str(getattr(getattr(response, "request", None), "url", "") or "")
    match = _SUBSCRIPTION_IN_URL.search(url)
    return match.group("sub").lower() if match else None


def classify(exc: BaseException) -> GatewayError:
    """Turn any exception from the Azure SDK into the gateway's own error class."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, ServiceRequestTimeoutError | ServiceResponseTimeoutError | TimeoutError):
        return TransientAzureError(
            "Azure did not answer in time; the operation will be retried.",
            code="Timeout",
            detail=str(exc),
            reason="timeout",
        )
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return TransientAzureError(
            "Azure could not be reached; the operation will be retried.",
            code="ConnectionError",
            detail=str(exc),
            reason="connection",
        )
    if isinstance(exc, ClientAuthenticationError) and exc.response is None:
        return _classify_sign_in(exc)
    if isinstance(exc, HttpResponseError):
        return _classify_http(exc)
    if isinstance(exc, AzureError):
        return PermanentAzureError(
            f"Azure call failed: {exc.message}", code=type(exc).__name__, detail=str(exc)
        )
    return PermanentAzureError(f"Azure call failed: {exc}", code=type(exc).__name__, detail=repr(exc))


def _classify_sign_in(exc: ClientAuthenticationError) -> GatewayError:
    text = str(exc.message or exc)
    match = _AADSTS.search(text)
    code = match.group(0) if match else "ClientAuthenticationError"
    if code == "ClientAuthenticationError" and "Unable to get authority configuration" in text:
        # MSAL's wording when Entra ID does not know the tenant (AADSTS90002 on discovery).
        code = "AADSTS90002"
    if code in _AADSTS_CUSTOMER:
        reason, message = _AADSTS_CUSTOMER[code]
        return CustomerActionRequired(message, code=code, detail=text, reason=reason)
    return PermanentAzureError(
        "The platform could not sign in to Microsoft Entra ID; its credentials need attention "
        f"from the platform team. ({code})",
        code=code,
        detail=text,
        reason="platform_sign_in",
    )


def _classify_http(exc: HttpResponseError) -> GatewayError:
    raw = _raw_from_http(exc)
    if _platform_resource_missing(raw):
        return _platform_missing(raw)
    builder = MAPPING.get(raw.code.lower()) or _PLATFORM.get(raw.code.lower())
    if builder is not None:
        return builder(raw)
    if raw.status in _TRANSIENT_STATUS:
        return _transient(raw)
    if raw.status == 404:
        return _not_found(raw)
    label = f"{raw.code}: " if raw.code else ""
    return PermanentAzureError(f"Azure refused the operation. {label}{raw.text}".strip(), **_common(raw))


_MISSING_CODES = frozenset({"parentresourcenotfound", "resourcenotfound", "notfound",
                            "resourcegroupnotfound"})


def _platform_subscriptions() -> set[str]:
    from django.conf import settings

    configured = getattr(settings, "AZURE_PLATFORM_SUBSCRIPTION_ID", "") or ""
    return {configured.lower()} if configured else set()


def _platform_resource_missing(raw: _Raw) -> bool:
    """A 404 in the platform's own subscription: nothing the customer named is missing."""
    return (raw.code.lower() in _MISSING_CODES or (raw.status == 404 and not raw.code)) and bool(
        raw.subscription and raw.subscription in _platform_subscriptions())


def _platform_missing(raw: _Raw) -> GatewayError:
    missing = (_search(_PARENT, raw.text, "parent") or _search(_NOT_FOUND, raw.text, "resource")
               or _search(_RG_NOT_FOUND, raw.text, "rg"))
    what = f" ({_short(missing)})" if missing else ""
    message = (
        f"A resource the platform keeps in its own subscription is missing{what}. This is for "
        "the platform team to fix, not you: support has been alerted."
    )
    return PermanentAzureError(message, reason="platform_resource_missing", **_common(raw))


@contextmanager
def azure_errors() -> Iterator[None]:
    """Re-raise any Azure SDK exception raised inside the block as a :class:`GatewayError`."""
    try:
        yield
    except GatewayError:
        raise
    except AzureError as exc:
        raise classify(exc) from exc
    except TimeoutError as exc:
        raise classify(exc) from exc


def translate_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a gateway function so that it raises only :class:`GatewayError`s."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with azure_errors():
            return func(*args, **kwargs)

    return wrapper


def is_not_found(exc: GatewayError) -> bool:
    """True when ``exc`` says the resource (or its parent) does not exist."""
    return isinstance(exc, CustomerActionRequired) and exc.reason == "not_found"
