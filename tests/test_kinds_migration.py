"""The move of kind columns into the JSON spec keeps every existing row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from connectivity import kinds
from connectivity.models import ConnectivityRequest

BEFORE = [("connectivity", "0008_cluster_workload_identity")]
AFTER = [("connectivity", "0009_kinds_spec")]


def _migrate(targets: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_rows_written_with_the_old_columns_read_the_same_through_their_kind() -> None:
    old = _migrate(BEFORE)
    Organization = old.get_model("connectivity", "Organization")
    Cluster = old.get_model("connectivity", "Cluster")
    Request = old.get_model("connectivity", "ConnectivityRequest")
    org = Organization.objects.create(name="Contoso", slug="contoso-migration")
    cluster = Cluster.objects.create(organization=org, name="c1", region="westeurope",
                                     tier="dedicated", vnet_id="/subscriptions/x/vnet")
    peering = Request.objects.create(
        organization=org, cluster=cluster, kind="vnet_peering", state="active",
        tenant_id="44444444-4444-4444-8444-444444444444",
        subscription_id="55555555-5555-4555-8555-555555555555",
        resource_group="rg-net", vnet_name="vnet-hub", allow_forwarded_traffic=True,
        proof="cpp-0123", azure_resources={"cluster_peering_id": "/x/peering"})
    zone = Request.objects.create(
        organization=org, cluster=cluster, kind="private_dns", zone_name="corp.internal",
        records=[{"name": "db", "ip": "10.1.2.3"}])
    rule = Request.objects.create(
        organization=org, cluster=cluster, kind="dns_forwarding", domain_name="corp.example",
        dns_servers=["10.20.0.4", "10.20.0.5"])
    try:
        _migrate(AFTER)
        # Later migrations (if any) then run too when the test database goes back to latest.
        read = {r.kind: r for r in ConnectivityRequest.objects.filter(
            pk__in=[peering.pk, zone.pk, rule.pk])}
        p = read["vnet_peering"]
        assert (p.tenant_id, p.subscription_id, p.resource_group, p.vnet_name) == (
            "44444444-4444-4444-8444-444444444444", "55555555-5555-4555-8555-555555555555",
            "rg-net", "vnet-hub")
        assert p.allow_forwarded_traffic is True and p.use_remote_gateways is False
        assert p.proof == "cpp-0123" and p.state == "active"
        assert p.customer_vnet_id.endswith("/resourceGroups/rg-net/providers/"
                                           "Microsoft.Network/virtualNetworks/vnet-hub")
        assert kinds.of(p).target(p) == "vnet-hub"
        assert [r.label for r in p.resources_created] == ["Peering on the cluster's VNet"]
        assert read["private_dns"].zone_name == "corp.internal"
        assert read["private_dns"].records == [{"name": "db", "ip": "10.1.2.3"}]
        assert read["dns_forwarding"].dns_servers == ["10.20.0.4", "10.20.0.5"]
        assert read["dns_forwarding"].vnet_name == ""  # another kind's field reads empty
        # The kind validates what the spec holds, as at create.
        assert kinds.of(p).clean(p.spec)["vnet_name"] == "vnet-hub"
        # Filters and search still find rows by their spec.
        assert ConnectivityRequest.objects.filter(spec__vnet_name__iexact="VNET-HUB").get() == p
        # Back again: the columns get their values back.
        old_again = _migrate(BEFORE)
        back = old_again.get_model("connectivity", "ConnectivityRequest").objects.get(pk=zone.pk)
        assert back.zone_name == "corp.internal" and back.records == [{"name": "db",
                                                                        "ip": "10.1.2.3"}]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
