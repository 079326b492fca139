"""The portal's own URLs plus the benchmark's baseline views under /bench/baseline/, and the
request list without its page cache under /bench/uncached/ (what every call after a change
costs)."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework import mixins
from rest_framework.request import Request

from connectivity.api.views import RequestListCreate
from portal.urls import urlpatterns as portal_urlpatterns
from tests.bench import baseline


class UncachedRequestList(RequestListCreate):
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return mixins.ListModelMixin.list(self, request, *args, **kwargs)


urlpatterns = [
    path("bench/baseline/requests/", baseline.request_list),
    path("bench/baseline/requests/<uuid:request_id>/", baseline.request_detail),
    path("bench/uncached/requests/", UncachedRequestList.as_view()),
    *portal_urlpatterns,
]
