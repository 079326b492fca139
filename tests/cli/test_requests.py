"""`cportal requests list/show/create`: flags and files, idempotent retries, problem details."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import LazySettings

from connectivity.models import Cluster, ConnectivityRequest, User
from tests.api.conftest import SUBSCRIPTION, TENANT
from tests.cli.conftest import Cportal
from tests.factories import ClusterFactory, PeeringRequestFactory

VNET_ID = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-contoso-network/providers/"
           "Microsoft.Network/virtualNetworks/vnet-contoso-hub")


def peering_flags(cluster: Cluster) -> list[str]:
    return ["requests", "create", "--cluster", str(cluster.pk), "--kind", "vnet_peering",
            "--tenant-id", TENANT, "--vnet-id", VNET_ID]


def test_create_from_flags_files_and_submits_a_peering(
    cportal: Cportal, dedicated_cluster: Cluster, customer: User,
) -> None:
    result = cportal(*peering_flags(dedicated_cluster), "--allow-forwarded-traffic")

    assert result.exit_code == 0, result.output
    request = ConnectivityRequest.objects.get()
    assert (request.state, request.vnet_name, request.allow_forwarded_traffic) == (
        "awaiting_grant", "vnet-contoso-hub", True)
    assert request.created_by == customer
    assert f"Filed request {request.pk} (Awaiting grant)" in result.stderr
    assert f"cportal grant {request.pk} --script" in result.stderr
    assert "Awaiting grant (awaiting_grant)" in result.stdout


def test_create_from_a_yaml_file_with_flags_overriding_it(
    cportal: Cportal, dedicated_cluster: Cluster, tmp_path: Path,
) -> None:
    spec = tmp_path / "peering.yaml"
    spec.write_text(
        f"cluster: {dedicated_cluster.pk}\n"
        "kind: vnet_peering\n"
        f"tenant_id: {TENANT}\n"
        f"subscription_id: {SUBSCRIPTION}\n"
        "resource_group: rg-contoso-network\n"
        "vnet_name: vnet-from-file\n"
        "use_remote_gateways: true\n")

    result = cportal("requests", "create", "-f", str(spec), "--vnet-name", "vnet-from-flag",
                     "--output", "json")

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    request = ConnectivityRequest.objects.get()
    assert shown["id"] == str(request.pk)
    assert (request.vnet_name, request.use_remote_gateways) == ("vnet-from-flag", True)


def test_create_a_draft_from_json_on_stdin(cportal: Cportal, dedicated_cluster: Cluster) -> None:
    body = {"cluster": dedicated_cluster.pk, "kind": "dns_forwarding",
            "domain_name": "corp.contoso.internal", "dns_servers": ["10.50.0.4", "10.50.0.5"]}

    result = cportal("requests", "create", "--file", "-", "--draft", "-o", "json",
                     input=json.dumps(body))

    assert result.exit_code == 0, result.output
    request = ConnectivityRequest.objects.get()
    assert (request.state, request.dns_servers) == ("draft", ["10.50.0.4", "10.50.0.5"])


def test_a_retried_create_with_the_same_key_makes_one_request(
    cportal: Cportal, dedicated_cluster: Cluster,
) -> None:
    flags = [*peering_flags(dedicated_cluster), "--idempotency-key", "deploy-42", "-o", "json"]

    first, retry = cportal(*flags), cportal(*flags)

    assert first.exit_code == retry.exit_code == 0, retry.output
    assert json.loads(first.stdout)["id"] == json.loads(retry.stdout)["id"]
    assert ConnectivityRequest.objects.count() == 1

    other_body = cportal(*flags[:-4], "--vnet-id", VNET_ID.replace("hub", "spoke"),
                         "--idempotency-key", "deploy-42")
    assert other_body.exit_code == 1
    assert "Error 409 Conflict" in other_body.stderr
    assert ConnectivityRequest.objects.count() == 1


def test_a_throttled_create_waits_for_retry_after_and_goes_through(
    cportal: Cportal, dedicated_cluster: Cluster, settings: LazySettings,
) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "api_token": "1/s", "api_user": "100/min"}}
    assert cportal(*peering_flags(dedicated_cluster)).exit_code == 0
    # The budget counts per one-second window: start a fresh one, spend its one call on a quick
    # read, so that the create right after it is the call over the budget.
    time.sleep(1.0 - time.time() % 1.0 + 0.02)
    assert cportal("clusters", "-o", "json").exit_code == 0

    second = cportal(*peering_flags(dedicated_cluster), "--vnet-id", VNET_ID.replace("hub", "b"))

    assert second.exit_code == 0, second.output
    assert "throttled (429); retrying in 1s" in second.stderr
    assert ConnectivityRequest.objects.count() == 2


def test_a_validation_error_prints_the_problem_details_and_exits_non_zero(
    cportal: Cportal, dedicated_cluster: Cluster,
) -> None:
    result = cportal("requests", "create", "--cluster", str(dedicated_cluster.pk),
                     "--kind", "vnet_peering", "--tenant-id", "not-a-guid", "--vnet-id", VNET_ID)

    assert result.exit_code == 1
    assert "Error 400 Bad Request" in result.stderr
    assert "Fix the field named in errors: tenant_id." in result.stderr
    assert "tenant_id: Tenant ID must be a GUID" in result.stderr
    assert result.stdout == ""
    assert not ConnectivityRequest.objects.exists()


def test_a_bad_record_flag_and_a_bad_file_are_refused_before_any_call(
    cportal: Cportal, dedicated_cluster: Cluster, tmp_path: Path,
) -> None:
    bad_record = cportal("requests", "create", "--kind", "private_dns", "--record", "db")
    assert bad_record.exit_code == 2
    assert "give NAME=IP" in bad_record.output

    listy = tmp_path / "list.yaml"
    listy.write_text("- cluster: 1\n")
    bad_file = cportal("requests", "create", "-f", str(listy))
    assert bad_file.exit_code == 1
    assert "must hold one object" in bad_file.stderr


def test_list_follows_every_page_and_filters_as_the_api_does(
    cportal: Cportal, dedicated_cluster: Cluster, outsider: User,
) -> None:
    waiting = [PeeringRequestFactory(cluster=dedicated_cluster, state="awaiting_grant")
               for _ in range(5)]
    PeeringRequestFactory(cluster=dedicated_cluster, state="active", vnet_name="vnet-live")
    PeeringRequestFactory(cluster=ClusterFactory(organization=outsider.organization),
                          state="awaiting_grant", vnet_name="vnet-fabrikam")

    every = cportal("requests", "list", "--page-size", "2", "-o", "json")
    assert every.exit_code == 0, every.output
    assert len(json.loads(every.stdout)) == 6

    only_waiting = cportal("requests", "list", "--state", "awaiting_grant", "--page-size", "2",
                           "--kind", "vnet_peering", "--cluster", str(dedicated_cluster.pk),
                           "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(only_waiting.stdout)))
    assert sorted(r["id"] for r in rows) == sorted(str(r.pk) for r in waiting)
    assert "vnet-fabrikam" not in only_waiting.stdout

    several = json.loads(cportal("requests", "list", "--state", "awaiting_grant,active",
                                 "--limit", "3", "-o", "json").stdout)
    assert len(several) == 3

    table = cportal("requests", "list", "--state", "active")
    assert "vnet-live" in table.stdout and "active" in table.stdout

    bad_filter = cportal("requests", "list", "--state", "sleeping")
    assert bad_filter.exit_code == 1
    assert "state:" in bad_filter.stderr and "sleeping" in bad_filter.stderr


def test_show_prints_the_request_and_another_organisations_is_not_found(
    cportal: Cportal, dedicated_cluster: Cluster, outsider: User,
) -> None:
    request = PeeringRequestFactory(cluster=dedicated_cluster, state="awaiting_grant",
                                    tenant_id=TENANT, preflight=[{
                                        "key": "role_granted", "label": "Role granted",
                                        "status": "fail", "message": "Not assigned yet."}])
    theirs = PeeringRequestFactory(cluster=ClusterFactory(organization=outsider.organization))

    shown = cportal("requests", "show", str(request.pk))
    assert shown.exit_code == 0, shown.output
    assert "Awaiting grant (awaiting_grant)" in shown.stdout
    assert TENANT in shown.stdout
    assert "✗ Role granted: Not assigned yet." in shown.stdout
    assert json.loads(cportal("requests", "show", str(request.pk), "-o", "json").stdout)[
        "id"] == str(request.pk)

    hidden = cportal("requests", "show", str(theirs.pk))
    assert hidden.exit_code == 1
    assert "Error 404 Not Found" in hidden.stderr


@pytest.mark.parametrize("command", [["requests", "show"], ["watch"], ["grant"], ["remove", "--yes"]])
def test_an_unknown_id_is_a_404_problem_for_every_command(cportal: Cportal, command: list[str],
                                                          customer: Any) -> None:
    result = cportal(*command, "00000000-0000-4000-8000-000000000000")
    assert result.exit_code == 1
    assert "Error 404 Not Found" in result.stderr
