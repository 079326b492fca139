"""One error shape for the whole API: RFC 9457 problem details.

    {"type": "urn:connectivity-portal:problem:validation", "title": "Invalid input",
     "status": 400, "detail": "Fix the fields named in errors.",
     "errors": {"tenant_id": ["Tenant ID must be a GUID like ..."]}}

`errors` appears only for validation problems; nested fields are named with dots
(`records.0.ip`). Everything the API raises — DRF's own exceptions, the services' Django
ValidationError and PermissionDenied, the lifecycle's TransitionError — passes through here.
"""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from connectivity.lifecycle import TransitionError

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:connectivity-portal:problem:"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the resource's current state."
    default_code = "conflict"


def problem(status_code: int, *, detail: str, kind: str | None = None,
            errors: dict[str, list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    """A problem-details body. `kind` names the problem type; plain HTTP errors use about:blank."""
    body: dict[str, Any] = {
        "type": f"{TYPE_PREFIX}{kind}" if kind else "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(status_code: int, *, detail: str, kind: str | None = None,
                     errors: dict[str, list[str]] | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return Response(problem(status_code, detail=detail, kind=kind, errors=errors, **extra),
                    status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field.sub.0": [messages]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flatten_errors(value, name).items():
                flat.setdefault(field, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            flat[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or "non_field_errors"] = [str(detail)]
    return flat


def _django_validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def _validation_detail(errors: dict[str, list[str]]) -> str:
    fields = [f for f in errors if f != "non_field_errors"]
    if not fields:
        return " ".join(errors.get("non_field_errors", ["The input is invalid."]))
    return f"Fix the field{'s' if len(fields) > 1 else ''} named in errors: {', '.join(fields)}."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, then the problem-details shape, naming the path called as `instance`."""
    response = _problem_for(exc, context)
    request = context.get("request")
    if response is not None and isinstance(response.data, dict) and request is not None:
        response.data["instance"] = request.path
    return response


def _problem_for(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The services' exceptions mapped first, then DRF's own."""
    if isinstance(exc, TransitionError):
        return problem_response(409, detail=exc.message, kind="transition",
                                current_state=exc.current_state)
    if isinstance(exc, DjangoValidationError):
        errors = _django_validation_detail(exc)
        return problem_response(400, detail=_validation_detail(errors), kind="validation",
                                errors=errors)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You may not do this.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found. It does not exist, or your organisation cannot see it.")

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    headers = {k: v for k, v in response.headers.items() if k in ("WWW-Authenticate", "Retry-After")}
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        body = problem(response.status_code, detail=_validation_detail(errors), kind="validation",
                       errors=errors)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        if isinstance(detail, dict | list):
            errors = flatten_errors(detail)
            detail_text = " ".join(m for messages in errors.values() for m in messages)
        else:
            detail_text = str(detail)
        kind = {
            exceptions.NotAuthenticated: "not-authenticated",
            exceptions.AuthenticationFailed: "authentication-failed",
            exceptions.PermissionDenied: "permission-denied",
            exceptions.NotFound: "not-found",
            exceptions.Throttled: "throttled",
            exceptions.UnsupportedMediaType: "unsupported-media-type",
            exceptions.ParseError: "parse-error",
            exceptions.MethodNotAllowed: "method-not-allowed",
            exceptions.NotAcceptable: "not-acceptable",
        }.get(type(exc))
        extra: dict[str, Any] = {}
        if isinstance(exc, exceptions.Throttled):
            retry_after = max(1, math.ceil(getattr(exc, "wait", None) or 1))
            headers["Retry-After"] = str(retry_after)
            extra["retry_after"] = retry_after
        body = problem(response.status_code, detail=detail_text,
                       kind=kind or getattr(exc, "default_code", None), **extra)
    return Response(body, status=response.status_code, headers=headers,
                    content_type=PROBLEM_CONTENT_TYPE)
