"""`cportal grant ID --format cli|powershell|terraform|bicep [--revoke]` against the live API."""

from __future__ import annotations

import pytest

from connectivity.api.grants import grant_package
from connectivity.models import Cluster, ConnectivityRequest, User
from tests.api.conftest import SUBSCRIPTION, TENANT
from tests.cli.conftest import Cportal
from tests.factories import ClusterFactory, PeeringRequestFactory


@pytest.fixture
def peering(dedicated_cluster: Cluster) -> ConnectivityRequest:
    return PeeringRequestFactory(  # type: ignore[return-value]
        cluster=dedicated_cluster, tenant_id=TENANT, subscription_id=SUBSCRIPTION,
        resource_group="rg-contoso-network", vnet_name="vnet-contoso", state="awaiting_grant")


@pytest.mark.parametrize("key", ["cli", "powershell", "terraform"])
def test_a_single_file_format_prints_exactly_its_file(
    cportal: Cportal, peering: ConnectivityRequest, key: str,
) -> None:
    formats = grant_package(peering)["formats"]

    grant = cportal("grant", str(peering.pk), "--format", key)
    assert grant.exit_code == 0, grant.output
    assert grant.stdout == formats[key]["grant"][0]["content"]

    revoke = cportal("grant", str(peering.pk), "--format", key, "--revoke")
    assert revoke.exit_code == 0, revoke.output
    assert revoke.stdout == formats[key]["revoke"][0]["content"]


def test_bicep_prints_each_file_under_its_name(cportal: Cportal, peering: ConnectivityRequest) -> None:
    bicep = grant_package(peering)["formats"]["bicep"]

    grant = cportal("grant", str(peering.pk), "-f", "bicep")
    assert grant.exit_code == 0, grant.output
    assert grant.stdout == ("// ==> grant.bicep <==\n" + bicep["grant"][0]["content"]
                            + "\n# ==> bicep-deploy.sh <==\n" + bicep["grant"][1]["content"])
    assert peering.proof in grant.stdout

    revoke = cportal("grant", str(peering.pk), "-f", "bicep", "--revoke")
    assert "# ==> bicep-revoke.sh <==\n" in revoke.stdout
    assert "Remove-AzRoleAssignment" in revoke.stdout and "az role assignment delete" in revoke.stdout


def test_an_unknown_format_is_a_usage_error(cportal: Cportal, peering: ConnectivityRequest) -> None:
    result = cportal("grant", str(peering.pk), "--format", "pulumi")
    assert result.exit_code == 2
    assert "--format" in result.output and "cli or powershell or terraform or bicep" in result.output


def test_a_kind_that_needs_no_role_prints_a_harmless_comment(
    cportal: Cportal, dedicated_cluster: Cluster,
) -> None:
    dns = PeeringRequestFactory(cluster=dedicated_cluster, kind="private_dns",
                                zone_name="corp.contoso.internal", tenant_id="",
                                subscription_id="", resource_group="", vnet_name="")
    result = cportal("grant", str(dns.pk), "--format", "terraform")
    assert result.exit_code == 0
    assert result.stdout.startswith("# ") and result.stdout.count("\n") == 1


def test_another_organisations_request_is_not_found(cportal: Cportal, outsider: User) -> None:
    theirs = PeeringRequestFactory(cluster=ClusterFactory(organization=outsider.organization))
    result = cportal("grant", str(theirs.pk), "--format", "powershell")
    assert result.exit_code == 1 and result.stdout == ""
    assert "Error 404 Not Found" in result.stderr
