"""The platform's own scopes are recognised however an id is cased or slashed, by a query that
reads no cluster rows (pre-flight runs it for every request, with thousands of clusters)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectivity import scopes
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db

CLUSTER_SUB = "44444444-4444-4444-8444-444444444444"
VNET = (f"/subscriptions/{CLUSTER_SUB}/resourceGroups/rg-clusters/providers/"
        "Microsoft.Network/virtualNetworks/vnet-a")


@pytest.fixture
def cluster_vnet() -> str:
    ClusterFactory(vnet_id=VNET)
    return VNET


@pytest.mark.parametrize("spelling", [
    VNET, VNET.upper(), VNET + "/", "/" + VNET.replace("/", "//"), VNET.lstrip("/"),
])
def test_a_cluster_vnet_is_recognised_in_any_spelling(cluster_vnet: str, spelling: str) -> None:
    assert scopes.is_cluster_vnet(spelling)
    assert "vnet_name" in scopes.platform_scope_errors(tenant_id="", subscription_id="",
                                                       vnet_id=spelling)


@pytest.mark.parametrize("other", [
    VNET + "2", VNET[:-1], VNET.replace("rg-clusters", "rg-cluster"), "", "/",
    VNET.replace("vnet-a", "vnet-.").replace("-a", "-."),  # a regex wildcard is matched literally
])
def test_other_vnets_are_not_cluster_vnets(cluster_vnet: str, other: str) -> None:
    assert not scopes.is_cluster_vnet(other)


def test_a_subscription_holding_a_cluster_vnet_is_the_platforms(cluster_vnet: str,
                                                                  settings) -> None:
    assert scopes.is_platform_subscription(CLUSTER_SUB)
    assert scopes.is_platform_subscription(CLUSTER_SUB.upper())
    assert scopes.is_platform_subscription(settings.AZURE_PLATFORM_SUBSCRIPTION_ID)
    assert not scopes.is_platform_subscription(CLUSTER_SUB[:-1])
    assert not scopes.is_platform_subscription(CLUSTER_SUB[:-1] + ".")
    assert not scopes.is_platform_subscription("")


def test_each_check_is_one_query_whatever_the_number_of_clusters(cluster_vnet: str) -> None:
    for n in range(30):
        ClusterFactory(vnet_id=VNET.replace("vnet-a", f"vnet-{n}"))
    with CaptureQueriesContext(connection) as queries:
        scopes.platform_scope_errors(tenant_id="t", subscription_id=CLUSTER_SUB, vnet_id=VNET)
    assert len(queries) == 2
    assert all("LIMIT 1" in q["sql"] for q in queries.captured_queries)
