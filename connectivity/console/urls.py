from __future__ import annotations

from django.urls import path

from connectivity.console import sso, views

app_name = "console"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("requests/<uuid:request_id>/", views.review, name="review"),
    path("requests/<uuid:request_id>/<slug:action>/", views.request_action, name="action"),
    path("organisations/", views.organizations, name="organizations"),
    path("organisations/<int:organization_id>/auto-approve/", views.organization_auto_approve,
         name="auto_approve"),
    path("organisations/tenant-claims/<int:claim_id>/<slug:action>/", sso.tenant_claim_action,
         name="tenant_claim"),
    path("audit/", views.audit, name="audit"),
    path("audit.csv", views.audit_csv, name="audit_csv"),
]
