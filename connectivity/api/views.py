"""The REST API, `/api/v1/`. Views parse, call a selector or a service, and shape the answer.

Authentication is an organisation API token (`Authorization: Bearer cp_...`), which acts as the
owner who created it, or the browser's session (with its CSRF token). Reads go through the
selectors, so another organisation's request is a 404; writes go through the services.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connectivity import selectors, services
from connectivity.api import pagecache
from connectivity.api import serializers as s
from connectivity.api.authentication import TokenAuthentication, token_of
from connectivity.api.converters import MAX_ID
from connectivity.api.errors import PROBLEM_CONTENT_TYPE, exception_handler, problem_response
from connectivity.api.grants import grant_package
from connectivity.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from connectivity.api.idempotency import MAX_KEY_LENGTH, idempotent
from connectivity.api.pagination import NewestFirstCursor, OldestFirstCursor
from connectivity.api.parsers import JSONParser
from connectivity.api.permissions import StaffSession, TokenScope
from connectivity.api.throttling import (
    ApiRateThrottle,
    CommentThrottle,
    VerifyGrantThrottle,
    charge_preflight,
)
from connectivity.models import Cluster, ConnectivityRequest, Organization, User

PROBLEM = OpenApiResponse(s.ProblemSerializer, description="A problem-details object (RFC 9457).")


def problems(*codes: int) -> dict[tuple[int, str], OpenApiResponse]:
    """Error responses as the API sends them: problem details, `application/problem+json`."""
    return {(code, PROBLEM_CONTENT_TYPE): PROBLEM for code in codes}


# Every operation: no or a bad token (401), a read-only token writing or a role missing (403),
# not found (404), Accept asking for something other than JSON (406), throttled (429).
COMMON_ERRORS = problems(401, 403, 404, 406, 429)
# Reads that take query parameters (filters, cursor, page_size) add 400.
READ_ERRORS = problems(400, 401, 403, 404, 406, 429)
# Writes add a bad body (400), a lifecycle or idempotency conflict (409), a non-JSON body (415).
WRITE_ERRORS = problems(400, 401, 403, 404, 406, 409, 415, 429)
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]+$"},
    OpenApiParameter.HEADER, required=False,
    description=f"1-{MAX_KEY_LENGTH} visible ASCII characters, e.g. a UUID, scoped to your "
                "organisation. Send the same key with a retried POST to get the first response "
                "(with `Idempotent-Replayed: true`) instead of a second request. The same key with "
                "a different body is a 409.")


class ApiView(generics.GenericAPIView):
    """Authentication, permissions, throttles, parsers and the error shape for every endpoint."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, TokenScope]
    throttle_classes = [ApiRateThrottle]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self) -> Any:
        return exception_handler

    def actor(self) -> User:
        """The signed-in user, or the owner a token acts as (IsAuthenticated let us this far)."""
        return cast(User, self.request.user)

    def organization(self) -> Organization | None:
        return selectors.organization_of(self.actor())

    def customer_request(self, request_id: str, *, to_show: bool = False) -> ConnectivityRequest:
        """`to_show`: only rendered, never changed, so its connection status comes in the same
        query (the representation's `connection` would read it row by row otherwise)."""
        found = selectors.request_for(self.actor(), request_id, with_connection=to_show)
        if found is None:
            raise NotFound("No such request in your organisation.")
        return found

    def via_token(self, default: str) -> str:
        token = token_of(self.request)
        return f"{default} (through API token “{token.name}”)" if token else default


def _reason(request: Request) -> str:
    serializer = s.ReasonSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["reason"]


def _as_request(view: ApiView, obj: ConnectivityRequest, code: int = 200) -> Response:
    return Response(s.RequestSerializer(obj, context={"request": view.request}).data, status=code)


# --- clusters ---------------------------------------------------------------------------------


@extend_schema(tags=["clusters"], responses={200: s.ClusterSerializer(many=True), **COMMON_ERRORS})
class ClusterList(ApiView, generics.ListAPIView):
    """Your organisation's clusters and the shared ones, with the egress IPs to allowlist."""

    serializer_class = s.ClusterSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Cluster]:
        return selectors.clusters_for(self.actor()).order_by("name", "pk")


@extend_schema(tags=["clusters"], responses={200: s.ClusterSerializer, **COMMON_ERRORS},
               parameters=[OpenApiParameter(
                   "cluster_id", {"type": "integer", "format": "int64", "minimum": 1,
                                  "maximum": MAX_ID}, OpenApiParameter.PATH)])
class ClusterDetail(ApiView):
    serializer_class = s.ClusterSerializer

    def get(self, request: Request, cluster_id: int) -> Response:
        # The route's converter (api/converters.py) admits only ids a cluster can have.
        cluster = selectors.clusters_for(self.actor()).filter(pk=cluster_id).first()
        if cluster is None:
            raise NotFound("No such cluster for your organisation.")
        return Response(s.ClusterSerializer(cluster, context={"request": request}).data)


# --- requests ---------------------------------------------------------------------------------


def _filtered(queryset: QuerySet[ConnectivityRequest], request: Request) -> QuerySet[ConnectivityRequest]:
    if not any(name in request.query_params for name in s.FILTER_NAMES):
        return queryset  # nothing to check or apply (other parameters are the pagination's)
    filters = s.RequestFilterSerializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    data = filters.validated_data
    if data.get("state"):
        queryset = queryset.filter(state__in=data["state"])
    if data.get("kind"):
        queryset = queryset.filter(kind=data["kind"])
    if data.get("cluster"):
        queryset = queryset.filter(cluster_id=data["cluster"])
    if data.get("created_after"):
        queryset = queryset.filter(created_at__gte=data["created_after"])
    if data.get("created_before"):
        queryset = queryset.filter(created_at__lt=data["created_before"])
    return queryset


# A request and a list page carry an ETag (connectivity/api/pagecache.py).
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER, required=False,
    description="The `ETag` of the copy you hold: while that copy is current the answer is "
                "304 Not Modified, with no body.")
NOT_MODIFIED = {304: OpenApiResponse(description="Not Modified: the copy whose ETag you sent "
                                                 "is current.")}
LIST_PARAMETERS: list[OpenApiParameter | type[serializers.Serializer]] = [
    s.RequestFilterSerializer,  # cursor and page_size come from the pagination class
    IF_NONE_MATCH,
]


class RequestListCreate(ApiView, generics.ListCreateAPIView):
    """Your organisation's connectivity requests, newest first; file a new one."""

    serializer_class = s.RequestSerializer
    pagination_class = NewestFirstCursor

    def get_queryset(self) -> QuerySet[ConnectivityRequest]:
        return _filtered(s.RequestSerializer.for_the_page(selectors.requests_for(self.actor())),
                         self.request)

    @extend_schema(tags=["requests"], parameters=LIST_PARAMETERS,
                   responses={200: s.RequestSerializer(many=True), **NOT_MODIFIED, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return pagecache.serve(request, self.organization(),
                               lambda: super(RequestListCreate, self).list(request, *args, **kwargs))

    @extend_schema(tags=["requests"], request=s.RequestCreateSerializer,
                   parameters=[IDEMPOTENCY_PARAMETER],
                   responses={201: s.RequestSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        organization = self.organization()
        if organization is None:
            return self._create(request, organization)
        return idempotent(request, organization, lambda: self._create(request, organization))

    def _create(self, request: Request, organization: Organization | None) -> Response:
        serializer = s.RequestCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if organization is None:  # staff without an organisation: no cluster passes validation
            raise NotFound("You do not belong to an organisation.")
        with transaction.atomic():
            created = services.request_create(
                actor=self.actor(), organization=organization, cluster=data["cluster"],
                kind=data["kind"], fields=serializer.service_fields())
            if data["submit"]:
                if not created.needs_grant:  # pre-flight runs now: the verify budget pays
                    charge_preflight(request)
                created = services.request_submit(request=created, actor=self.actor())
        response = _as_request(self, created, status.HTTP_201_CREATED)
        response["Location"] = response.data["url"]
        return response


REQUEST_ID = OpenApiParameter("request_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


@extend_schema(tags=["requests"], parameters=[REQUEST_ID, IF_NONE_MATCH],
               responses={200: s.RequestSerializer, **NOT_MODIFIED, **COMMON_ERRORS})
class RequestDetail(ApiView):
    serializer_class = s.RequestSerializer

    def get(self, request: Request, request_id: str) -> Any:
        return pagecache.serve(request, self.organization(), lambda: _as_request(
            self, self.customer_request(request_id, to_show=True)))


@extend_schema(tags=["requests"], parameters=[REQUEST_ID], request=None,
               responses={200: s.RequestSerializer, **WRITE_ERRORS})
class RequestSubmit(ApiView):
    """Submit a draft: a peering then waits for the role grant; the other kinds run pre-flight."""

    serializer_class = s.RequestSerializer

    def post(self, request: Request, request_id: str) -> Response:
        found = self.customer_request(request_id)
        if not found.needs_grant:  # pre-flight runs now: the verify budget pays
            charge_preflight(request)
        return _as_request(self, services.request_submit(request=found, actor=self.actor()))


@extend_schema(tags=["requests"], parameters=[REQUEST_ID], request=s.ReasonSerializer,
               responses={200: s.RequestSerializer, **WRITE_ERRORS})
class RequestCancel(ApiView):
    """Withdraw a request before anything was created in Azure (up to `approved`)."""

    serializer_class = s.RequestSerializer

    def post(self, request: Request, request_id: str) -> Response:
        found = self.customer_request(request_id)
        reason = _reason(request) or self.via_token("Cancelled")
        return _as_request(self, services.request_cancel(request=found, actor=self.actor(),
                                                         reason=reason))


@extend_schema(tags=["requests"], parameters=[REQUEST_ID], request=s.TeardownSerializer,
               responses={200: s.RequestSerializer, **WRITE_ERRORS})
class RequestTeardown(ApiView):
    """Remove what the request created (from active, completed, degraded, failed, action needed).
    A peering that other connections depend on answers 409 with `dependents` unless
    `remove_dependents` is true, which removes them too."""

    serializer_class = s.RequestSerializer

    def post(self, request: Request, request_id: str) -> Response:
        from connectivity import dependencies

        found = self.customer_request(request_id)
        body = s.TeardownSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data["reason"] or self.via_token("Removal requested")
        try:
            removed = services.request_teardown(
                request=found, actor=self.actor(), reason=reason,
                remove_dependents=body.validated_data["remove_dependents"])
        except dependencies.DependentsExist as exc:
            return problem_response(409, detail=exc.message, kind="dependents", dependents=[
                {"id": str(d.pk), "kind": d.kind, "state": d.state,
                 "summary": dependencies.describe(d),
                 "url": request.build_absolute_uri(reverse("api:request-detail", args=[d.pk]))}
                for d in exc.dependents])
        return _as_request(self, removed)


@extend_schema(tags=["requests"], parameters=[REQUEST_ID],
               responses={200: s.GrantSerializer, **COMMON_ERRORS})
class RequestGrant(ApiView):
    """The custom role JSON and the `az` commands that grant it, and those that revoke it."""

    serializer_class = s.GrantSerializer

    def get(self, request: Request, request_id: str) -> Response:
        return Response(s.GrantSerializer(grant_package(self.customer_request(request_id))).data)


@extend_schema(tags=["requests"], parameters=[REQUEST_ID], request=None,
               responses={200: s.VerifyResultSerializer, **WRITE_ERRORS})
class RequestVerifyGrant(ApiView):
    """Run pre-flight now (is the role granted? the VNet there? no overlap?) and move on if it passes."""

    serializer_class = s.VerifyResultSerializer
    throttle_classes = [*ApiView.throttle_classes, VerifyGrantThrottle]

    def post(self, request: Request, request_id: str) -> Response:
        verified = services.request_verify(request=self.customer_request(request_id),
                                           actor=self.actor())
        return Response(s.VerifyResultSerializer({
            "passed": verified.preflight_passed, "state": verified.state,
            "checks": verified.preflight, "request": verified,
        }, context={"request": request}).data)


@extend_schema(tags=["requests"], parameters=[REQUEST_ID],
               responses={200: s.EventSerializer(many=True), **READ_ERRORS})
class RequestEvents(ApiView, generics.ListAPIView):
    """The request's timeline, oldest first: who did what, when, from which state to which."""

    serializer_class = s.EventSerializer
    pagination_class = OldestFirstCursor

    def get_queryset(self) -> Any:
        return selectors.events_for(self.customer_request(self.kwargs["request_id"]),
                                    user=self.actor())


class RequestComments(ApiView, generics.ListCreateAPIView):
    """The request's conversation with support."""

    serializer_class = s.CommentSerializer
    pagination_class = OldestFirstCursor
    throttle_classes = [*ApiView.throttle_classes, CommentThrottle]

    def get_queryset(self) -> Any:
        found = self.customer_request(self.kwargs["request_id"])
        return selectors.comments_for(found, user=self.actor())

    @extend_schema(tags=["comments"], parameters=[REQUEST_ID],
                   responses={200: s.CommentSerializer(many=True), **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(tags=["comments"], parameters=[REQUEST_ID, IDEMPOTENCY_PARAMETER],
                   responses={201: s.CommentSerializer, **WRITE_ERRORS})
    def post(self, request: Request, request_id: str) -> Response:
        found = self.customer_request(request_id)

        def create() -> Response:
            serializer = s.CommentSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            comment = services.comment_create(request=found, actor=self.actor(),
                                              body=serializer.validated_data["body"])
            return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

        return idempotent(request, found.organization, create)


# --- staff ------------------------------------------------------------------------------------


class StaffView(ApiView):
    permission_classes = [IsAuthenticated, StaffSession]

    def staff_request(self, request_id: str, *, to_show: bool = False) -> ConnectivityRequest:
        try:
            pk = uuid.UUID(request_id)
        except ValueError:
            raise NotFound("No such request.") from None
        requests = selectors.all_requests()
        if to_show:  # as ApiView.customer_request
            requests = requests.select_related("connection_status")
        found = requests.filter(pk=pk).first()
        if found is None:
            raise NotFound("No such request.")
        return found


@extend_schema(tags=["staff"], parameters=LIST_PARAMETERS,
               responses={200: s.StaffRequestSerializer(many=True), **READ_ERRORS})
class StaffRequestList(StaffView, generics.ListAPIView):
    """Every organisation's requests (staff session only), newest first, with the same filters."""

    serializer_class = s.StaffRequestSerializer
    pagination_class = NewestFirstCursor

    def get_queryset(self) -> QuerySet[ConnectivityRequest]:
        return _filtered(s.StaffRequestSerializer.for_the_page(selectors.all_requests()),
                         self.request)


@extend_schema(tags=["staff"], parameters=[REQUEST_ID],
               responses={200: s.StaffRequestSerializer, **COMMON_ERRORS})
class StaffRequestDetail(StaffView):
    serializer_class = s.StaffRequestSerializer

    def get(self, request: Request, request_id: str) -> Response:
        return Response(s.StaffRequestSerializer(self.staff_request(request_id, to_show=True),
                                                 context={"request": request}).data)


def _as_staff_request(view: StaffView, obj: ConnectivityRequest) -> Response:
    return Response(s.StaffRequestSerializer(obj, context={"request": view.request}).data)


@extend_schema(tags=["staff"], parameters=[REQUEST_ID], request=s.ApproveSerializer,
               responses={200: s.StaffRequestSerializer, **WRITE_ERRORS})
class StaffApprove(StaffView):
    """Approve a pending request (approvers). Without passing pre-flight, give override_reason."""

    serializer_class = s.StaffRequestSerializer

    def post(self, request: Request, request_id: str) -> Response:
        body = s.ApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _as_staff_request(self, services.request_approve(
            request=self.staff_request(request_id), actor=self.actor(),
            override_reason=body.validated_data["override_reason"]))


@extend_schema(tags=["staff"], parameters=[REQUEST_ID], request=s.RejectSerializer,
               responses={200: s.StaffRequestSerializer, **WRITE_ERRORS})
class StaffReject(StaffView):
    """Reject a pending request with a reason the customer sees (approvers)."""

    serializer_class = s.StaffRequestSerializer

    def post(self, request: Request, request_id: str) -> Response:
        body = s.RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _as_staff_request(self, services.request_reject(
            request=self.staff_request(request_id), actor=self.actor(),
            reason=body.validated_data["reason"]))


@extend_schema(tags=["staff"], parameters=[REQUEST_ID], request=None,
               responses={200: s.StaffRequestSerializer, **WRITE_ERRORS})
class StaffRetry(StaffView):
    """Retry a failed request from the step that failed (approvers)."""

    serializer_class = s.StaffRequestSerializer

    def post(self, request: Request, request_id: str) -> Response:
        return _as_staff_request(self, services.request_retry(
            request=self.staff_request(request_id), actor=self.actor()))


# --- anything else under /api/v1/ -------------------------------------------------------------


@extend_schema(exclude=True)
class UnknownEndpoint(APIView):
    """A problem-details 404 rather than an HTML page for a path the API does not have."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self) -> Any:
        return exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise NotFound("The API has no such endpoint; see /api/docs/.")
