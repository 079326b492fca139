"""The portal's own URLs plus the benchmark's baseline views under /bench/baseline/."""

from __future__ import annotations

from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns
from tests.bench import baseline

urlpatterns = [
    path("bench/baseline/requests/", baseline.request_list),
    path("bench/baseline/requests/<uuid:request_id>/", baseline.request_detail),
    *portal_urlpatterns,
]
