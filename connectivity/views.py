"""Customer pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from connectivity import selectors


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "connectivity/dashboard.html", {
        "clusters": selectors.clusters_for(request.user),
        "requests": selectors.requests_for(request.user)[:50],
    })
