"""A list page costs the same queries whatever it holds: no query per row, for any kind or state.

A token call is two queries: the token (with its organisation, creator and membership) and the
page (with each request's cluster, creator and connection status). A detail call is the same two.
The list and the detail are counted with their page cache off; a page served from the cache is
the token's query alone (tests/api/test_pagecache.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from connectivity.models import Cluster, ConnectionStatus, ConnectivityRequest, RequestState, User
from tests.api.test_representation import FACTORIES, OTHER_KINDS
from tests.api.test_staff import session
from tests.factories import PeeringRequestFactory

pytestmark = pytest.mark.django_db


def _requests(cluster: Cluster, count: int) -> list[ConnectivityRequest]:
    made: list[ConnectivityRequest] = []
    states = RequestState.values
    kinds: list[Any] = [*FACTORIES, *OTHER_KINDS]
    for index in range(count):
        kind, state = kinds[index % len(kinds)], states[index % len(states)]
        extra = {"grant_seen_at": timezone.now()} if index % 2 else {}
        if isinstance(kind, dict):
            made.append(PeeringRequestFactory(cluster=cluster, state=state, **kind, **extra))
        else:
            made.append(kind(cluster=cluster, state=state, **extra))
        if index % 3:
            ConnectionStatus.objects.create(request=made[-1], checked_at=timezone.now(),
                                            summary="Connected, FullyInSync",
                                            parts=[{"label": "Peering", "state": "Connected"}])
    return made


def _queries(client: APIClient, path: str) -> list[str]:
    client.get(path)  # the first call of the minute records the token's last use: one write
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return [q["sql"] for q in captured.captured_queries]


def test_a_list_page_is_two_queries_however_many_rows(
    owner_api: APIClient, dedicated_cluster: Cluster, settings: Any,
) -> None:
    settings.API_PAGE_CACHE_SECONDS = 0
    _requests(dedicated_cluster, 2)
    small = _queries(owner_api, "/api/v1/requests/")
    _requests(dedicated_cluster, 40)
    assert len(owner_api.get("/api/v1/requests/?page_size=100").json()["results"]) == 42
    full = _queries(owner_api, "/api/v1/requests/?page_size=100")
    assert len(small) == len(full) == 2, full
    assert len(_queries(owner_api, "/api/v1/requests/?state=active&kind=vnet_peering")) == 2


def test_a_detail_is_two_queries_for_every_kind_and_state(
    owner_api: APIClient, dedicated_cluster: Cluster, settings: Any,
) -> None:
    settings.API_PAGE_CACHE_SECONDS = 0
    for made in _requests(dedicated_cluster, 2 * len(RequestState.values)):
        assert len(_queries(owner_api, f"/api/v1/requests/{made.pk}/")) == 2, (made.kind, made.state)


def test_the_staff_list_costs_the_same_queries_however_many_rows(
    approver: User, dedicated_cluster: Cluster,
) -> None:
    browser = session(approver)
    _requests(dedicated_cluster, 2)
    small = _queries(browser, "/api/v1/staff/requests/")
    _requests(dedicated_cluster, 40)
    full = _queries(browser, "/api/v1/staff/requests/?page_size=100")
    assert len(small) == len(full), full
