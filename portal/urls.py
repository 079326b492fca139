from __future__ import annotations

from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from connectivity.mfa import admin_login
from portal import auth as auth_views


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and compose health checks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/login/", admin_login, name="admin-login"),  # allauth's sign-in, not Django's
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.login, name="account_login"),  # 429 on lockout
    path("accounts/", include("allauth.urls")),
    path("console/", include("connectivity.console.urls")),
    path("api/", include("connectivity.api.urls")),
    path("", include("connectivity.urls")),
]
