"""Mounted at /api/ by portal/urls.py: the v1 endpoints, the schema, its docs, the tokens page."""

from __future__ import annotations

from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from connectivity.api import token_views, views, webhooks
from connectivity.api.converters import ClusterIdConverter, RequestIdConverter

app_name = "api"

register_converter(ClusterIdConverter, "cluster_id")
register_converter(RequestIdConverter, "request_id")
ID = "<request_id:request_id>"  # every route that names a request takes it through this

v1 = [
    path("clusters/", views.ClusterList.as_view(), name="cluster-list"),
    path("clusters/<cluster_id:cluster_id>/", views.ClusterDetail.as_view(), name="cluster-detail"),
    path("requests/", views.RequestListCreate.as_view(), name="request-list"),
    path(f"requests/{ID}/", views.RequestDetail.as_view(), name="request-detail"),
    path(f"requests/{ID}/submit/", views.RequestSubmit.as_view(), name="request-submit"),
    path(f"requests/{ID}/cancel/", views.RequestCancel.as_view(), name="request-cancel"),
    path(f"requests/{ID}/teardown/", views.RequestTeardown.as_view(), name="request-teardown"),
    path(f"requests/{ID}/grant/", views.RequestGrant.as_view(), name="request-grant"),
    path(f"requests/{ID}/verify-grant/", views.RequestVerifyGrant.as_view(),
         name="request-verify-grant"),
    path(f"requests/{ID}/events/", views.RequestEvents.as_view(), name="request-events"),
    path(f"requests/{ID}/comments/", views.RequestComments.as_view(), name="request-comments"),
    path("webhooks/", webhooks.WebhookList.as_view(), name="webhook-list"),
    path("webhooks/<str:endpoint_id>/", webhooks.WebhookDetail.as_view(), name="webhook-detail"),
    path("webhooks/<str:endpoint_id>/rotate-secret/", webhooks.WebhookRotateSecret.as_view(),
         name="webhook-rotate-secret"),
    path("webhooks/<str:endpoint_id>/deliveries/", webhooks.WebhookDeliveries.as_view(),
         name="webhook-deliveries"),
    path("webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/redeliver/",
         webhooks.WebhookRedeliver.as_view(), name="webhook-redeliver"),
    path("staff/requests/", views.StaffRequestList.as_view(), name="staff-request-list"),
    path(f"staff/requests/{ID}/", views.StaffRequestDetail.as_view(), name="staff-request-detail"),
    path(f"staff/requests/{ID}/approve/", views.StaffApprove.as_view(), name="staff-request-approve"),
    path(f"staff/requests/{ID}/reject/", views.StaffReject.as_view(), name="staff-request-reject"),
    path(f"staff/requests/{ID}/retry/", views.StaffRetry.as_view(), name="staff-request-retry"),
]

urlpatterns = [
    path("v1/", include(v1)),
    # [\s\S], not ".": a path may hold an encoded newline, which "." would not match.
    re_path(r"^v1(?:/[\s\S]*)?$", views.UnknownEndpoint.as_view(), name="unknown"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(
        url_name="api:schema", template_name="api/swagger_ui.html"), name="docs"),
    path("tokens/", token_views.token_list, name="tokens"),
    path("tokens/<int:token_id>/revoke/", token_views.token_revoke, name="token-revoke"),
]
