"""`cportal grant`, `comment`, `remove` and `cancel` against the live API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectivity.api.grants import grant_package
from connectivity.models import Cluster, Comment, ConnectivityRequest, User
from tests.api.conftest import SUBSCRIPTION, TENANT
from tests.cli.conftest import Cportal
from tests.factories import ClusterFactory, PeeringRequestFactory


@pytest.fixture
def peering(dedicated_cluster: Cluster) -> ConnectivityRequest:
    return PeeringRequestFactory(  # type: ignore[return-value]
        cluster=dedicated_cluster, tenant_id=TENANT, subscription_id=SUBSCRIPTION,
        resource_group="rg-contoso-network", vnet_name="vnet-contoso", state="awaiting_grant")


@pytest.fixture
def theirs(outsider: User) -> ConnectivityRequest:
    return PeeringRequestFactory(  # type: ignore[return-value]
        cluster=ClusterFactory(organization=outsider.organization), state="active")


def test_grant_script_prints_exactly_the_apis_script(
    cportal: Cportal, peering: ConnectivityRequest,
) -> None:
    package = grant_package(peering)

    script = cportal("grant", str(peering.pk), "--script")
    assert script.exit_code == 0, script.output
    assert script.stdout == package["grant_script"].rstrip("\n") + "\n"
    assert peering.customer_vnet_id in script.stdout

    revoke = cportal("grant", str(peering.pk), "--script", "--revoke")
    assert revoke.stdout == package["revoke_script"].rstrip("\n") + "\n"


def test_grant_prints_the_role_json_and_the_grant_and_revoke_commands(
    cportal: Cportal, peering: ConnectivityRequest,
) -> None:
    package = grant_package(peering)

    shown = cportal("grant", str(peering.pk))

    assert shown.exit_code == 0, shown.output
    assert package["role_definition_json"] in shown.stdout
    for command in [*package["grant_commands"], *package["revoke_commands"]]:
        assert command in shown.stdout
    as_json = json.loads(cportal("grant", str(peering.pk), "-o", "json").stdout)
    assert as_json["role_definition"] == package["role_definition"]


def test_grant_for_a_kind_that_needs_no_role_says_so_and_the_script_is_harmless(
    cportal: Cportal, dedicated_cluster: Cluster,
) -> None:
    dns = PeeringRequestFactory(cluster=dedicated_cluster, kind="private_dns",
                                zone_name="corp.contoso.internal", tenant_id="",
                                subscription_id="", resource_group="", vnet_name="")
    script = cportal("grant", str(dns.pk), "--script")
    assert script.exit_code == 0, script.output
    assert script.stdout.startswith("# ") and "needs no role" in script.stdout
    assert script.stdout.count("\n") == 1


def test_grant_of_another_organisations_request_is_not_found(
    cportal: Cportal, theirs: ConnectivityRequest,
) -> None:
    result = cportal("grant", str(theirs.pk), "--script")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Error 404 Not Found" in result.stderr


def test_comment_from_an_argument_and_from_stdin(
    cportal: Cportal, peering: ConnectivityRequest, customer: User,
) -> None:
    said = cportal("comment", str(peering.pk), "Is the hub VNet fine?")
    assert said.exit_code == 0, said.output
    piped = cportal("comment", str(peering.pk), input="Line one\nline two\n")
    assert piped.exit_code == 0, piped.output

    bodies = list(Comment.objects.filter(request=peering).order_by("created_at")
                  .values_list("body", flat=True))
    assert bodies == ["Is the hub VNet fine?", "Line one\nline two"]
    assert Comment.objects.filter(author=customer).count() == 2
    first = Comment.objects.filter(request=peering).order_by("created_at").first()
    assert f"Comment {first.pk} posted on request {peering.pk}." in said.stdout  # type: ignore[union-attr]


def test_an_empty_comment_is_refused_and_another_organisations_request_is_not_found(
    cportal: Cportal, peering: ConnectivityRequest, theirs: ConnectivityRequest,
) -> None:
    empty = cportal("comment", str(peering.pk), input="  \n")
    assert empty.exit_code == 1
    assert "The comment is empty" in empty.stderr

    hidden = cportal("comment", str(theirs.pk), "hello")
    assert hidden.exit_code == 1
    assert "Error 404 Not Found" in hidden.stderr
    assert not Comment.objects.exists()


@pytest.mark.usefixtures("no_enqueue")
def test_remove_asks_first_then_starts_the_teardown(
    cportal: Cportal, dedicated_cluster: Cluster, customer: User,
) -> None:
    active = PeeringRequestFactory(cluster=dedicated_cluster, state="active",
                                   vnet_name="vnet-contoso-hub")

    declined = cportal("remove", str(active.pk), input="n\n")
    assert declined.exit_code == 1
    assert "vnet-contoso-hub" in declined.stdout  # the question names what would go
    assert "Not removed." in declined.stderr
    active.refresh_from_db()
    assert active.state == "active"

    accepted = cportal("remove", str(active.pk), "--reason", "Moving to the new hub", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert f"Removal of request {active.pk} started: Removing." in accepted.stdout
    active.refresh_from_db()
    assert active.state == "removing"
    assert active.events.filter(action="teardown_requested",
                                message="Moving to the new hub").exists()


@pytest.mark.usefixtures("no_enqueue")
def test_remove_with_yes_does_not_ask_and_a_conflict_prints_the_current_state(
    cportal: Cportal, peering: ConnectivityRequest,
) -> None:
    refused = cportal("remove", str(peering.pk), "--yes")

    assert refused.exit_code == 1
    assert "Error 409 Conflict" in refused.stderr
    assert "current state: awaiting_grant" in refused.stderr
    assert "?" not in refused.stdout  # no question was asked

    cancelled = cportal("cancel", str(peering.pk), "-y")
    assert cancelled.exit_code == 0, cancelled.output
    peering.refresh_from_db()
    assert peering.state == "cancelled"


def test_remove_of_another_organisations_request_is_not_found_and_changes_nothing(
    cportal: Cportal, theirs: ConnectivityRequest, customer: Any,
) -> None:
    result = cportal("remove", str(theirs.pk), "--yes")
    assert result.exit_code == 1
    assert "Error 404 Not Found" in result.stderr
    theirs.refresh_from_db()
    assert theirs.state == "active"
