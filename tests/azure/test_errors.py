"""Every ARM error the gateway knows maps to one class, with a message a customer can act on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.mgmt.core.exceptions import ARMErrorFormat

from connectivity.azure import errors
from connectivity.azure.errors import (
    CustomerActionRequired,
    GatewayError,
    PermanentAzureError,
    TransientAzureError,
    classify,
    translate_errors,
)

VNET = (
    "/subscriptions/44444444-4444-4444-8444-444444444444/resourceGroups/rg-customer"
    "/providers/Microsoft.Network/virtualNetworks/vnet-customer"
)
CLUSTER = (
    "/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/rg-clusters"
    "/providers/Microsoft.Network/virtualNetworks/vnet-cl1"
)


class FakeResponse:
    """Just enough of azure.core's HttpResponse for HttpResponseError."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.reason = "reason"
        self.headers = {"x-ms-request-id": "req-1", **(headers or {})}
        self._text = body if isinstance(body, str) else json.dumps(body)

    def text(self, encoding: str | None = None) -> str:
        return self._text


def arm_error(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    cls: type[HttpResponseError] = HttpResponseError,
) -> HttpResponseError:
    response = FakeResponse(status, {"error": {"code": code, "message": message}}, headers)
    return cls(response=response, error_format=ARMErrorFormat)  # type: ignore[arg-type]


AUTH_FAILED = (
    "The client 'd80d9922-254e-5b8d-9769-79c19ea44bcb' with object id "
    "'d80d9922-254e-5b8d-9769-79c19ea44bcb' does not have authorization to perform action "
    f"'Microsoft.Network/virtualNetworks/peer/action' over scope '{VNET}' or the scope is "
    "invalid. If access was recently granted, please refresh your credentials."
)
LINKED = (
    "The client has permission to perform action 'Microsoft.Network/virtualNetworks/peer/action'"
    f" on scope '{CLUSTER}/virtualNetworkPeerings/p1', however the current tenant "
    "'11111111-1111-4111-8111-111111111111' is not authorized to access linked subscription "
    "'44444444-4444-4444-8444-444444444444'."
)
OVERLAP = (
    f"Cannot create or update peering {CLUSTER}/virtualNetworkPeerings/p1. Virtual networks "
    f"{CLUSTER} and {VNET} cannot be peered because their address spaces overlap. Overlapping "
    "address prefixes: 10.1.0.0/16, 10.2.0.0/24"
)
OVERLAP_PEERED = (
    f"Cannot create or update peering {CLUSTER}/virtualNetworkPeerings/p1. Virtual networks "
    f"{CLUSTER} and {VNET} cannot be peered because address space of the first virtual network "
    "overlaps with address space of virtual network /subscriptions/x/resourceGroups/y/providers/"
    "Microsoft.Network/virtualNetworks/z already peered with the second virtual network. "
    "Overlapping address prefixes: 10.29.0.0/21."
)


def test_authorization_failed_names_action_and_scope() -> None:
    err = classify(arm_error(403, "AuthorizationFailed", AUTH_FAILED))
    assert type(err) is CustomerActionRequired
    assert err.reason == "permission_missing"
    assert err.action == "Microsoft.Network/virtualNetworks/peer/action"
    assert err.scope == VNET
    assert "Microsoft.Network/virtualNetworks/peer/action" in err.message
    assert VNET in err.message
    assert "few minutes" in err.message  # "not yet" is told apart from "wrong"
    assert err.code == "AuthorizationFailed"
    assert err.status == 403
    assert err.request_id == "req-1"
    assert err.detail == AUTH_FAILED


def test_linked_authorization_failed_names_tenant_and_subscription() -> None:
    err = classify(arm_error(403, "LinkedAuthorizationFailed", LINKED))
    assert isinstance(err, CustomerActionRequired)
    assert err.reason == "cross_tenant_not_authorized"
    assert "11111111-1111-4111-8111-111111111111" in err.message
    assert "44444444-4444-4444-8444-444444444444" in err.message
    assert "az ad sp create" in err.message


def test_linked_authorization_failed_for_a_missing_remote_role() -> None:
    text = (
        "The client 'oid' with object id 'oid' has permission to perform action "
        "'Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write' on scope "
        f"'{CLUSTER}/virtualNetworkPeerings/p1'; however, it does not have permission to perform "
        "action(s) 'Microsoft.Network/virtualNetworks/peer/action' on the linked scope(s) "
        f"'{VNET}' (respectively) or the linked scope(s) are invalid."
    )
    err = classify(arm_error(403, "LinkedAuthorizationFailed", text))
    assert isinstance(err, CustomerActionRequired)
    assert err.reason == "permission_missing"
    assert err.action == "Microsoft.Network/virtualNetworks/peer/action"
    assert err.scope == VNET
    assert VNET in err.message


@pytest.mark.parametrize(
    ("code", "text", "prefixes"),
    [
        ("VnetAddressSpacesOverlap", OVERLAP, ("10.1.0.0/16", "10.2.0.0/24")),
        ("VnetAddressSpaceOverlapsWithAlreadyPeeredVnet", OVERLAP_PEERED, ("10.29.0.0/21",)),
    ],
)
def test_overlaps_name_the_prefixes(code: str, text: str, prefixes: tuple[str, ...]) -> None:
    err = classify(arm_error(400, code, text))
    assert isinstance(err, CustomerActionRequired)
    assert err.reason == "address_space_overlap"
    assert err.prefixes == prefixes
    for prefix in prefixes:
        assert prefix in err.message


def test_overlap_reported_by_a_failed_operation_body() -> None:
    """A long-running operation that fails answers 200 with status Failed and the error."""
    body = {
        "status": "Failed",
        "error": {"code": "VnetAddressSpaceOverlapsWithAlreadyPeeredVnet", "message": OVERLAP_PEERED},
    }
    err = classify(HttpResponseError(response=FakeResponse(200, body)))  # type: ignore[arg-type]
    assert isinstance(err, CustomerActionRequired)
    assert err.prefixes == ("10.29.0.0/21",)


@pytest.mark.parametrize(
    ("status", "code", "text", "reason", "words"),
    [
        (
            400,
            "RemotePeeringIsDisconnected",
            f"Cannot create or update peering {CLUSTER}/virtualNetworkPeerings/p1 because remote "
            f"peering {VNET}/virtualNetworkPeerings/p2 referencing parent virtual network "
            f"{CLUSTER} is in Disconnected state.",
            "remote_peering_disconnected",
            ["Delete", "create both sides again"],
        ),
        (
            400,
            "RemoteVnetHasNoGateways",
            "Peering cannot have UseRemoteGateways flag set to "
            "true because remote virtual network does not have any gateways.",
            "remote_gateway_missing",
            ["gateway", "Turn the option off"],
        ),
        (
            404,
            "ResourceNotFound",
            "The Resource 'Microsoft.Network/virtualNetworks/vnet-x' under "
            "resource group 'rg-customer' was not found. For more details please go to "
            "https://aka.ms/ARMResourceNotFoundFix",
            "not_found",
            ["Microsoft.Network/virtualNetworks/vnet-x", "rg-customer"],
        ),
        (
            404,
            "ResourceGroupNotFound",
            "Resource group 'rg-missing' could not be found.",
            "not_found",
            ["rg-missing", "subscription"],
        ),
        (
            404,
            "ParentResourceNotFound",
            "Failed to perform 'write' on resource(s) of type "
            "'virtualNetworks/virtualNetworkPeerings', because the parent resource "
            f"'{VNET}' could not be found.",
            "not_found",
            [VNET],
        ),
        (
            400,
            "AnotherPeeringAlreadyReferencesRemoteVnet",
            f"Peering {CLUSTER}/"
            f"virtualNetworkPeerings/old already references remote virtual network Id: {VNET}",
            "peering_conflict",
            ["virtualNetworkPeerings/old", "already exists"],
        ),
        (
            401,
            "InvalidAuthenticationTokenTenant",
            "The access token is from the wrong issuer.",
            "wrong_tenant",
            ["tenant ID"],
        ),
        (
            403,
            "RequestDisallowedByPolicy",
            "Resource 'p1' was disallowed by policy 'no-peering'.",
            "policy_denied",
            ["Azure Policy", "no-peering"],
        ),
        (
            409,
            "ScopeLocked",
            "The scope cannot perform write operation because it is locked.",
            "resource_locked",
            ["lock"],
        ),
    ],
)
def test_customer_action_codes(status: int, code: str, text: str, reason: str, words: list[str]) -> None:
    err = classify(arm_error(status, code, text))
    assert type(err) is CustomerActionRequired
    assert err.reason == reason
    assert err.code == code
    assert err.detail == text
    for word in words:
        assert word in err.message


def test_not_found_also_from_resource_not_found_error() -> None:
    exc = arm_error(
        404,
        "ResourceNotFound",
        "The Resource 'Microsoft.Network/virtualNetworks/v' under resource group 'rg' was not found.",
        cls=ResourceNotFoundError,
    )
    err = classify(exc)
    assert errors.is_not_found(err)
    assert err.resource == "Microsoft.Network/virtualNetworks/v"  # type: ignore[attr-defined]


def test_throttling_keeps_retry_after() -> None:
    err = classify(
        arm_error(429, "SubscriptionRequestsThrottled", "Too many requests.", headers={"Retry-After": "17"})
    )
    assert type(err) is TransientAzureError
    assert err.retry_after == 17
    assert err.reason == "throttled"


def test_retry_after_as_http_date() -> None:
    assert errors.parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == pytest.approx(30)
    assert errors.parse_retry_after("soon") is None
    assert errors.parse_retry_after(None) is None


def test_retry_after_ms_when_no_retry_after() -> None:
    err = classify(arm_error(429, "TooManyRequests", "slow down", headers={"retry-after-ms": "250"}))
    assert isinstance(err, TransientAzureError)
    assert err.retry_after == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "RetryableErrorDueToAnotherOperation"),
        (409, "ReferencedResourceNotProvisioned"),
        (400, "ReferencedResourceNotProvisioned"),
        (409, "AnotherOperationInProgress"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
        (502, "BadGateway"),
        (504, "SomethingNew"),
        (408, "RequestTimeout"),
    ],
)
def test_transient_codes_and_statuses(status: int, code: str) -> None:
    err = classify(arm_error(status, code, "Try later."))
    assert type(err) is TransientAzureError
    assert err.message


def test_busy_vnet_says_so() -> None:
    err = classify(arm_error(400, "ReferencedResourceNotProvisioned", "Resource is Updating."))
    assert isinstance(err, TransientAzureError)
    assert err.reason == "busy"
    assert "another operation" in err.message


@pytest.mark.parametrize(
    "exc",
    [
        ServiceRequestError("connection refused"),
        ServiceResponseError("connection reset"),
        ServiceResponseTimeoutError("read timed out"),
    ],
)
def test_connection_errors_and_timeouts_are_transient(exc: Exception) -> None:
    err = classify(exc)
    assert type(err) is TransientAzureError
    assert err.retry_after is None


def test_unknown_code_is_permanent_with_azure_text() -> None:
    err = classify(arm_error(400, "InvalidRequestFormat", "Cannot parse the request."))
    assert type(err) is PermanentAzureError
    assert "InvalidRequestFormat" in err.message
    assert "Cannot parse the request." in err.message


def test_conflict_without_known_code_is_permanent() -> None:
    err = classify(arm_error(409, "Conflict", "Some conflict.", cls=ResourceExistsError))
    assert type(err) is PermanentAzureError


def test_failed_operation_without_error_body_is_permanent() -> None:
    body = {"status": "Failed"}
    err = classify(HttpResponseError(response=FakeResponse(200, body)))  # type: ignore[arg-type]
    assert type(err) is PermanentAzureError
    assert err.message


def test_non_json_error_body() -> None:
    err = classify(HttpResponseError(response=FakeResponse(502, "<html>bad gateway</html>")))  # type: ignore[arg-type]
    assert type(err) is TransientAzureError
    assert err.status == 502


@pytest.mark.parametrize(
    ("text", "cls", "reason"),
    [
        (
            "AADSTS700016: Application with identifier 'x' was not found in the directory 'y'.",
            CustomerActionRequired,
            "app_not_in_tenant",
        ),
        ("AADSTS90002: Tenant 'z' not found.", CustomerActionRequired, "wrong_tenant"),
        (
            "Authentication failed: Unable to get authority configuration for https://login/x. "
            "Also please double check your tenant name or GUID is correct.",
            CustomerActionRequired,
            "wrong_tenant",
        ),
        ("AADSTS7000215: Invalid client secret provided.", PermanentAzureError, "platform_sign_in"),
    ],
)
def test_sign_in_errors(text: str, cls: type[GatewayError], reason: str) -> None:
    err = classify(ClientAuthenticationError(message=text))
    assert type(err) is cls
    assert err.reason == reason
    assert err.detail == text


def test_app_not_in_tenant_tells_the_command() -> None:
    err = classify(ClientAuthenticationError(message="AADSTS700016: not found in the directory"))
    assert "az ad sp create" in err.message


def test_every_mapped_code_builds_a_message() -> None:
    for code, builder in errors.MAPPING.items():
        err = builder(errors._Raw(code=code, text="", status=400, request_id=None, retry_after=None))
        assert isinstance(err, CustomerActionRequired | TransientAzureError)
        assert err.message and "None" not in err.message


def test_translate_errors_leaves_nothing_from_azure() -> None:
    @translate_errors
    def boom() -> None:
        raise arm_error(403, "AuthorizationFailed", AUTH_FAILED)

    with pytest.raises(CustomerActionRequired) as info:
        boom()
    assert isinstance(info.value.__cause__, HttpResponseError)


def test_translate_errors_passes_gateway_errors_and_others() -> None:
    original = PermanentAzureError("x")

    @translate_errors
    def gateway_error() -> None:
        raise original

    @translate_errors
    def value_error() -> None:
        raise ValueError("bad id")

    with pytest.raises(PermanentAzureError) as info:
        gateway_error()
    assert info.value is original
    with pytest.raises(ValueError):
        value_error()


def test_str_is_the_customer_message() -> None:
    err = classify(arm_error(403, "AuthorizationFailed", AUTH_FAILED))
    assert str(err) == err.message
    assert "AuthorizationFailed" in repr(err)
