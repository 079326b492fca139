"""Property-based: inputs generated from our own OpenAPI schema, every answer as the schema says.

Schemathesis reads the schema /api/schema/ serves and calls the WSGI app (no server, no
network) with an owner's read-write token, running all its checks: no 5xx; status codes,
content types (problem+json for errors), bodies and headers as declared; schema-invalid input
refused; schema-valid input accepted; auth not ignored; 405 with Allow for a method a route
lacks. Its three phases run for every operation: the schema's examples, the coverage cases
(each boundary, each undeclared method) and MAX_EXAMPLES generated cases. Each case is sent
twice: as generated, and with its path pointed at a real request and cluster of the
organisation, so the bodies reach the services instead of stopping at a 404.

The budget keeps the suite fast: about 70 s on a shared 2-CPU machine (20 s of CPU).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from django.conf import LazySettings
from django.core.exceptions import ValidationError
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from schemathesis import checks

from connectivity import ratelimit, services
from connectivity.api.serializers import RequestCreateSerializer
from connectivity.models import Cluster, ConnectivityRequest, User
from tests.api.conftest import make_token
from tests.factories import PeeringRequestFactory

MAX_EXAMPLES = 25  # generated cases per operation (18), on top of the coverage phase
# To an organisation's token the staff API does not exist (404 for every method, by design:
# a 405 would tell a customer the route is there), so "405 for a method a route lacks" cannot
# hold there for this caller; tests/api/test_malformed_input.py checks staff sessions get 405.
STAFF_EXCLUDED = [checks.unsupported_method]
# Valid by the schema yet refused, by design, with a 400 naming the field: a new request's
# fields depend on its kind and follow Azure's naming rules (tests/api/test_requests.py covers
# each message), a webhook's URL must be https and resolve to a public address (checked when it
# is saved: tests/webhooks/test_addresses.py), and a cursor is valid only as a page's
# next/previous link gave it.
BEYOND_THE_SCHEMA = "POST /api/v1/requests/ bodies, webhook URLs, cursor values"
WEBHOOK_WRITES = {("POST", "/api/v1/webhooks/"), ("PATCH", "/api/v1/webhooks/{endpoint_id}/"),
                  ("PUT", "/api/v1/webhooks/{endpoint_id}/")}


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """The WSGI handler closes the database connection after each request, as a server should;
    in a test that would close the test transaction's connection (Django's test client does
    the same dance)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _generated_schema() -> dict:
    """The schema /api/schema/ serves, built in-process (building it needs no database)."""
    spec = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(spec))


schema = schemathesis.openapi.from_dict(_generated_schema())
APP = get_wsgi_application()
schema.app = APP  # every call, the checks' own extra calls included, goes to the WSGI app


@pytest.fixture
def fuzz_target(keep_test_connection: None, preflight_fails: None, customer: User,
                dedicated_cluster: Cluster, settings: LazySettings, monkeypatch: pytest.MonkeyPatch,
                no_enqueue: list[str]) -> dict[str, object]:
    # Throttles would turn most cases into 429s; the fuzzing is about what comes after them.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "api_token": "1000000/min", "api_user": "1000000/min"}}
    monkeypatch.setattr(ratelimit, "retry_after", lambda *args, **kwargs: None)
    request = PeeringRequestFactory(cluster=dedicated_cluster)
    return {"token": make_token(customer), "request": request, "cluster": dedicated_cluster}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_does_what_its_schema_says(case: schemathesis.Case, fuzz_target: dict) -> None:
    """Every check schemathesis has: no 5xx, statuses, content types, bodies and headers as
    declared, invalid input refused, valid input accepted, auth not ignored, 405 for methods a
    route lacks."""
    headers = {"Authorization": f"Bearer {fuzz_target['token']}"}
    excluded = list(STAFF_EXCLUDED) if case.path.startswith("/api/v1/staff/") else []
    beyond = (case.method, case.path) == ("POST", "/api/v1/requests/") or (
        case.method, case.path) in WEBHOOK_WRITES or "cursor" in (case.query or {})
    if beyond:
        excluded.append(checks.positive_data_acceptance)  # see BEYOND_THE_SCHEMA
    case.call_and_validate(headers=headers, app=APP, excluded_checks=excluded)

    request: ConnectivityRequest = fuzz_target["request"]
    if case.path_parameters:
        if "request_id" in case.path_parameters:
            case.path_parameters["request_id"] = str(request.pk)
        if "cluster_id" in case.path_parameters:
            case.path_parameters["cluster_id"] = str(fuzz_target["cluster"].pk)
        # The case now names a real object: whether its data was generated valid or invalid no
        # longer says what the answer should be, every other check still holds.
        case.call_and_validate(headers=headers, app=APP, excluded_checks=[
            *excluded, checks.positive_data_acceptance, checks.negative_data_rejection])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children,
                                                                       max_size=4),
    max_leaves=12,
)
create_bodies = st.fixed_dictionaries(
    {},
    optional={name: json_values | st.text(max_size=300) for name in (
        "cluster", "kind", "submit", "tenant_id", "subscription_id", "resource_group", "vnet_name",
        "vnet_id", "zone_name", "records", "domain_name", "dns_servers")},
) | json_values


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(body=create_bodies)
def test_create_serializer_and_service_answer_any_body_with_a_field_error(
    body: object, customer: User, dedicated_cluster: Cluster, preflight_fails: None,
) -> None:
    """Whatever JSON arrives, the serializer and the service either accept it or name a field."""
    rf = APIRequestFactory()
    request = Request(rf.post("/api/v1/requests/"))
    request.user = customer
    serializer = RequestCreateSerializer(data=body, context={"request": request})
    if not serializer.is_valid():
        assert serializer.errors
        return
    try:
        with transaction.atomic():
            services.request_create(actor=customer, organization=customer.organization,  # type: ignore[arg-type]
                                    cluster=serializer.validated_data["cluster"],
                                    kind=serializer.validated_data["kind"],
                                    fields=serializer.service_fields())
            transaction.set_rollback(True)
    except ValidationError as exc:
        assert exc.message_dict
