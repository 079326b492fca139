"""Customer pages, mounted at the site root."""

from __future__ import annotations

from django.urls import path

from connectivity import sso_views, views, webhook_views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("clusters/ips/export/", views.cluster_ips_export, name="cluster_ips_export"),
    path("profile/", views.profile, name="profile"),
    path("sso/", sso_views.sso_settings, name="sso_settings"),
    path("sso/required/", sso_views.sso_required, name="sso_required"),
    path("sso/claims/<int:claim_id>/remove/", sso_views.sso_claim_remove, name="sso_claim_remove"),
    path("requests/new/", views.request_new, name="request_new"),
    path("requests/new/validate/", views.request_validate, name="request_validate"),
    path("requests/<uuid:request_id>/", views.request_detail, name="request_detail"),
    path("requests/<uuid:request_id>/grant/", views.request_grant, name="request_grant"),
    path("requests/<uuid:request_id>/grant/<str:what>", views.request_grant_download,
         name="request_grant_download"),
    path("requests/<uuid:request_id>/verify/", views.request_verify, name="request_verify"),
    path("requests/<uuid:request_id>/status/", views.request_status, name="request_status"),
    path("requests/<uuid:request_id>/comments/", views.request_comment, name="request_comment"),
    path("requests/<uuid:request_id>/cancel/", views.request_cancel, name="request_cancel"),
    path("requests/<uuid:request_id>/teardown/", views.request_teardown, name="request_teardown"),
    path("requests/<uuid:request_id>/edit/", views.request_edit, name="request_edit"),
    path("requests/<uuid:request_id>/check-revoke/", views.request_check_revoke,
         name="request_check_revoke"),
    path("webhooks/", webhook_views.webhook_list, name="webhook_list"),
    path("webhooks/<int:endpoint_id>/", webhook_views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:endpoint_id>/rotate/", webhook_views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:endpoint_id>/delete/", webhook_views.webhook_delete, name="webhook_delete"),
    path("webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver/",
         webhook_views.webhook_redeliver, name="webhook_redeliver"),
]
