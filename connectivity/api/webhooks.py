"""The webhooks API, `/api/v1/webhooks/`: endpoints, their secrets, their delivery logs.

Everyone in the organisation may read; only owners (and tokens, which act as the owner who made
them) may change anything (403 for a member). Another organisation's endpoint or delivery is a
404. A signing secret appears in exactly two answers: the create and the rotate-secret.
"""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from connectivity.api.pagination import NewestFirstCursor
from connectivity.api.views import COMMON_ERRORS, READ_ERRORS, WRITE_ERRORS, ApiView
from connectivity.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from connectivity.webhooks import selectors as webhook_selectors
from connectivity.webhooks import services as webhook_services
from connectivity.webhooks.events import EVENT_TYPES
from connectivity.webhooks.services import MAX_DESCRIPTION, MAX_URL

# --- serializers ------------------------------------------------------------------------------


class WebhookLinksSerializer(serializers.Serializer):
    deliveries = serializers.URLField(read_only=True)
    rotate_secret = serializers.URLField(read_only=True)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    url = serializers.CharField(read_only=True, help_text="Where the events are POSTed.")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES),
                                   read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "enabled", "disabled_at",
                  "disabled_reason", "failing_since", "previous_secret_expires_at",
                  "created_at", "updated_at", "links"]
        read_only_fields = fields

    @extend_schema_field(WebhookLinksSerializer)
    def get_links(self, endpoint: WebhookEndpoint) -> dict[str, str]:
        request = self.context.get("request")

        def absolute(path: str) -> str:
            return request.build_absolute_uri(path) if request is not None else path

        return {"deliveries": absolute(reverse("api:webhook-deliveries", args=[endpoint.pk])),
                "rotate_secret": absolute(reverse("api:webhook-rotate-secret", args=[endpoint.pk]))}


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (whsec_…). Shown this once: store it now.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointWriteSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=MAX_URL, help_text="https://… (public addresses only).")
    description = serializers.CharField(max_length=MAX_DESCRIPTION, allow_blank=True,
                                        required=False, default="")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES),
                                   min_length=1, max_length=len(EVENT_TYPES),
                                   help_text="The event types to receive.")


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=MAX_URL, required=False)
    description = serializers.CharField(max_length=MAX_DESCRIPTION, allow_blank=True,
                                        required=False)
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES),
                                   min_length=1, max_length=len(EVENT_TYPES), required=False)
    enabled = serializers.BooleanField(
        required=False, help_text="true re-enables a disabled endpoint (and forgets its failures).")


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True, help_text="The new secret. Shown this once.")
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True, allow_null=True,
        help_text="Until then every delivery is also signed with the previous secret.")


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "started_at", "succeeded", "status_code", "response_ms",
                  "response_excerpt", "error"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)
    payload = serializers.SerializerMethodField()

    class Meta:
        model = WebhookDelivery
        fields = ["id", "message_id", "event_type", "state", "attempts", "next_attempt_at",
                  "last_attempt_at", "created_at", "redelivery_of", "attempt_log", "payload"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_payload(self, delivery: WebhookDelivery) -> Any:
        return json.loads(delivery.body)


# --- views ------------------------------------------------------------------------------------

ENDPOINT_ID = OpenApiParameter("endpoint_id", OpenApiTypes.INT, OpenApiParameter.PATH)
DELIVERY_ID = OpenApiParameter("delivery_id", OpenApiTypes.INT, OpenApiParameter.PATH)


class WebhookView(ApiView):
    def endpoint(self, endpoint_id: str) -> WebhookEndpoint:
        found = webhook_selectors.endpoint_for(self.actor(), endpoint_id)
        if found is None:
            raise NotFound("No such webhook endpoint in your organisation.")
        return found

    def shown(self, endpoint: WebhookEndpoint, **extra: Any) -> dict[str, Any]:
        data = dict(WebhookEndpointSerializer(endpoint, context={"request": self.request}).data)
        return {**data, **extra}


@extend_schema(tags=["webhooks"])
class WebhookList(WebhookView):
    """Your organisation's webhook endpoints; owners create them."""

    serializer_class = WebhookEndpointSerializer
    pagination_class = None

    @extend_schema(operation_id="v1_webhooks_list",
                   responses={200: WebhookEndpointSerializer(many=True), **COMMON_ERRORS})
    def get(self, request: Request) -> Response:
        endpoints = webhook_selectors.endpoints_for(self.actor()).order_by("created_at", "pk")
        return Response(WebhookEndpointSerializer(endpoints, many=True,
                                                  context={"request": request}).data)

    @extend_schema(request=WebhookEndpointWriteSerializer,
                   responses={201: WebhookEndpointCreatedSerializer, **WRITE_ERRORS})
    def post(self, request: Request) -> Response:
        serializer = WebhookEndpointWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = self.organization()
        if organization is None:
            raise NotFound("You do not belong to an organisation.")
        endpoint, secret = webhook_services.webhook_endpoint_create(
            actor=self.actor(), organization=organization, **serializer.validated_data)
        data = self.shown(endpoint, secret=secret)
        return Response(data, status=status.HTTP_201_CREATED,
                        headers={"Location": request.build_absolute_uri(
                            reverse("api:webhook-detail", args=[endpoint.pk]))})


@extend_schema(tags=["webhooks"], parameters=[ENDPOINT_ID])
class WebhookDetail(WebhookView):
    serializer_class = WebhookEndpointSerializer

    @extend_schema(responses={200: WebhookEndpointSerializer, **COMMON_ERRORS})
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(self.shown(self.endpoint(endpoint_id)))

    @extend_schema(request=WebhookEndpointUpdateSerializer,
                   responses={200: WebhookEndpointSerializer, **WRITE_ERRORS})
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        serializer = WebhookEndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        updated = webhook_services.webhook_endpoint_update(
            endpoint=endpoint, actor=self.actor(), **serializer.validated_data)
        return Response(self.shown(updated))

    @extend_schema(request=None, responses={204: None, **WRITE_ERRORS})
    def delete(self, request: Request, endpoint_id: str) -> Response:
        webhook_services.webhook_endpoint_delete(endpoint=self.endpoint(endpoint_id),
                                                 actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["webhooks"], parameters=[ENDPOINT_ID], request=None,
               responses={200: WebhookSecretSerializer, **WRITE_ERRORS})
class WebhookRotateSecret(WebhookView):
    """A new signing secret, shown once; the old one keeps signing for a day (a second
    signature in webhook-signature) so receivers can switch without missing a delivery."""

    serializer_class = WebhookSecretSerializer

    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        secret = webhook_services.webhook_secret_rotate(endpoint=endpoint, actor=self.actor())
        return Response({"secret": secret,
                         "previous_secret_expires_at": serializers.DateTimeField().to_representation(
                             endpoint.previous_secret_expires_at)
                         if endpoint.previous_secret_expires_at else None})


@extend_schema(tags=["webhooks"], parameters=[ENDPOINT_ID, OpenApiParameter(
    "page_size", OpenApiTypes.INT, description="1-100, default 25.")],
    responses={200: WebhookDeliverySerializer(many=True), **READ_ERRORS})
class WebhookDeliveries(WebhookView, generics.ListAPIView):
    """The endpoint's delivery log, newest first: each event, its state and every attempt."""

    serializer_class = WebhookDeliverySerializer
    pagination_class = NewestFirstCursor

    def get_queryset(self) -> Any:
        return webhook_selectors.deliveries_of(self.endpoint(self.kwargs["endpoint_id"]))


@extend_schema(tags=["webhooks"], parameters=[ENDPOINT_ID, DELIVERY_ID], request=None,
               responses={202: WebhookDeliverySerializer, **WRITE_ERRORS})
class WebhookRedeliver(WebhookView):
    """Send a delivery's event again (same webhook-id and body, a new delivery in the log)."""

    serializer_class = WebhookDeliverySerializer

    def post(self, request: Request, endpoint_id: str, delivery_id: str) -> Response:
        endpoint = self.endpoint(endpoint_id)
        delivery = webhook_selectors.delivery_for(endpoint, delivery_id)
        if delivery is None:
            raise NotFound("No such delivery for this webhook endpoint.")
        again = webhook_services.webhook_redeliver(delivery=delivery, actor=self.actor())
        return Response(WebhookDeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED)
