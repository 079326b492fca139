"""The request list's page cache: a page asked for again costs the token's query alone, and every
write to what a page shows (in a service, a queryset update, a bulk write, a signal-free
cascade) is on the next call. One organisation's page never reaches another's caller."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from connectivity.api import pagecache
from connectivity.models import (
    Cluster,
    ConnectionStatus,
    ConnectivityRequest,
    Organization,
    RequestState,
    User,
)
from tests.api.conftest import client_with, make_token
from tests.factories import ClusterFactory, PeeringRequestFactory

pytestmark = pytest.mark.django_db
LIST = "/api/v1/requests/"


def _page(client: APIClient, path: str = LIST) -> list[dict[str, Any]]:
    response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def _only(client: APIClient) -> dict[str, Any]:
    (row,) = _page(client)
    return row


@pytest.fixture
def peering(dedicated_cluster: Cluster, customer: User) -> ConnectivityRequest:
    made: ConnectivityRequest = PeeringRequestFactory(
        cluster=dedicated_cluster, created_by=customer, state=RequestState.PENDING_APPROVAL)
    return made


def test_a_page_asked_for_again_is_the_same_bytes_for_the_token_query_alone(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    first = owner_api.get(LIST)
    with CaptureQueriesContext(connection) as captured:
        again = owner_api.get(LIST)
    assert again.status_code == 200
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"] == "application/json"
    assert again["Vary"] == first["Vary"] and again["Allow"] == first["Allow"]
    assert [q["sql"].split(" FROM ")[1].split()[0] for q in captured.captured_queries] == [
        '"connectivity_apitoken"']


def test_a_state_change_through_the_api_is_on_the_next_page(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    assert _only(owner_api)["state"] == "pending_approval"
    response = owner_api.post(f"{LIST}{peering.pk}/cancel/", {"reason": "not needed"},
                              format="json")
    assert response.status_code == 200, response.content
    assert _only(owner_api)["state"] == "cancelled"


def test_a_queryset_update_and_a_bulk_update_are_on_the_next_page(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    _page(owner_api)
    ConnectivityRequest.objects.filter(pk=peering.pk).update(status_message="Waiting for Azure")
    assert _only(owner_api)["status_message"] == "Waiting for Azure"
    peering.status_message = "Still waiting"
    ConnectivityRequest.objects.bulk_update([peering], ["status_message"])
    assert _only(owner_api)["status_message"] == "Still waiting"


def test_an_update_whose_filter_no_longer_matches_after_it_still_refreshes(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    """The organisations are read before the update: after it, `state=pending_approval`
    matches nothing."""
    _page(owner_api)
    ConnectivityRequest.objects.filter(state=RequestState.PENDING_APPROVAL).update(
        state=RequestState.APPROVED)
    assert _only(owner_api)["state"] == "approved"


def test_an_update_of_locked_rows_refreshes_the_page(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    _page(owner_api)
    with transaction.atomic():
        ConnectivityRequest.objects.select_for_update().filter(pk=peering.pk).update(
            status_message="locked and moved")
    assert _only(owner_api)["status_message"] == "locked and moved"


def test_new_and_deleted_requests_are_on_the_next_page(
    owner_api: APIClient, peering: ConnectivityRequest, dedicated_cluster: Cluster,
) -> None:
    assert len(_page(owner_api)) == 1
    other = PeeringRequestFactory(cluster=dedicated_cluster)
    assert len(_page(owner_api)) == 2
    other.delete()
    assert len(_page(owner_api)) == 1
    ConnectivityRequest.objects.bulk_create([PeeringRequestFactory.build(
        cluster=dedicated_cluster, organization=dedicated_cluster.organization)])
    assert len(_page(owner_api)) == 2
    ConnectivityRequest.objects.exclude(pk=peering.pk).delete()
    assert [row["id"] for row in _page(owner_api)] == [str(peering.pk)]


def test_a_connection_reading_is_on_the_next_page(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    assert _only(owner_api)["connection"] is None
    ConnectionStatus.objects.update_or_create(request=peering, defaults={
        "checked_at": timezone.now(), "summary": "Connected, FullyInSync"})
    assert _only(owner_api)["connection"]["summary"] == "Connected, FullyInSync"
    ConnectionStatus.objects.filter(request=peering).update(health=ConnectionStatus.Health.GONE)
    assert _only(owner_api)["connection"]["health"] == "gone"


def test_a_renamed_cluster_is_on_the_pages_of_every_organisation_on_it(
    owner_api: APIClient, outsider_token: str, outsider: User, standard_cluster: Cluster,
    dedicated_cluster: Cluster, peering: ConnectivityRequest,
) -> None:
    PeeringRequestFactory(cluster=standard_cluster, organization=peering.organization)
    PeeringRequestFactory(cluster=standard_cluster, organization=outsider.organization)
    theirs = client_with(outsider_token)
    _page(owner_api), _page(theirs)
    standard_cluster.name = "shared-northeurope"
    standard_cluster.save()
    assert "shared-northeurope" in {row["cluster"]["name"] for row in _page(owner_api)}
    assert _only(theirs)["cluster"]["name"] == "shared-northeurope"
    Cluster.objects.filter(pk=dedicated_cluster.pk).update(name="contoso-blue")
    assert "contoso-blue" in {row["cluster"]["name"] for row in _page(owner_api)}


def test_the_creators_new_email_and_their_deletion_are_on_the_next_page(
    owner_api: APIClient, teammate: User, dedicated_cluster: Cluster,
) -> None:
    PeeringRequestFactory(cluster=dedicated_cluster, created_by=teammate)
    assert _only(owner_api)["created_by"] == "teammate@contoso.example"
    teammate.email = "renamed@contoso.example"
    teammate.save()
    assert _only(owner_api)["created_by"] == "renamed@contoso.example"
    User.objects.filter(pk=teammate.pk).update(email="again@contoso.example")
    assert _only(owner_api)["created_by"] == "again@contoso.example"
    teammate.delete()  # the requests' created_by is set to NULL by the delete, not by a save
    assert _only(owner_api)["created_by"] is None


def test_a_sign_in_leaves_the_pages_alone(
    owner_api: APIClient, peering: ConnectivityRequest, customer: User,
) -> None:
    _page(owner_api)
    before = Organization.objects.get(pk=peering.organization_id).api_version
    customer.last_login = timezone.now()
    customer.save(update_fields=["last_login"])
    assert Organization.objects.get(pk=peering.organization_id).api_version == before


def test_saving_an_organisation_read_before_a_change_keeps_the_newer_version(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    """The settings form saves an organisation read at the start of its request; writing its
    version back would make the page stored under that version current again."""
    read_early = Organization.objects.get(pk=peering.organization_id)
    assert _only(owner_api)["status_message"] == ""
    ConnectivityRequest.objects.filter(pk=peering.pk).update(status_message="moved")
    read_early.auto_approve = True
    read_early.save()
    assert Organization.objects.get(pk=read_early.pk).api_version == read_early.api_version + 1
    assert _only(owner_api)["status_message"] == "moved"


def test_another_organisations_change_leaves_this_page_cached(
    owner_api: APIClient, outsider: User, peering: ConnectivityRequest,
) -> None:
    _page(owner_api)
    theirs = PeeringRequestFactory(cluster=ClusterFactory(organization=outsider.organization),
                                   organization=outsider.organization)
    ConnectivityRequest.objects.filter(pk=theirs.pk).update(status_message="theirs")
    with CaptureQueriesContext(connection) as captured:
        _page(owner_api)
    assert len(captured.captured_queries) == 1


def test_the_same_path_as_another_organisation_gets_its_own_rows(
    owner_api: APIClient, outsider_token: str, outsider: User, peering: ConnectivityRequest,
) -> None:
    """As an attacker would try: ask for the path another organisation's page is cached under,
    same query string, same host."""
    path = f"{LIST}?state=pending_approval&page_size=10"
    assert [row["id"] for row in _page(owner_api, path)] == [str(peering.pk)]
    assert _page(client_with(outsider_token), path) == []
    mine = PeeringRequestFactory(cluster=ClusterFactory(organization=outsider.organization),
                                 organization=outsider.organization,
                                 state=RequestState.PENDING_APPROVAL)
    assert [row["id"] for row in _page(client_with(outsider_token), path)] == [str(mine.pk)]
    assert [row["id"] for row in _page(owner_api, path)] == [str(peering.pk)]


def test_links_follow_the_host_asked_for(
    owner_api: APIClient, peering: ConnectivityRequest, settings: Any,
) -> None:
    settings.ALLOWED_HOSTS = ["portal.example", "other.example"]
    one = owner_api.get(LIST, HTTP_HOST="portal.example").json()["results"][0]["url"]
    two = owner_api.get(LIST, HTTP_HOST="other.example").json()["results"][0]["url"]
    assert one.startswith("http://portal.example/") and two.startswith("http://other.example/")


def test_bad_parameters_are_still_named_after_a_good_call(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    _page(owner_api, f"{LIST}?page_size=10")
    response = owner_api.get(f"{LIST}?page_size=0")
    assert response.status_code == 400
    assert "page_size" in response.json()["errors"]


def test_an_indented_answer_is_cached_apart(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    plain = owner_api.get(LIST).content
    indented = owner_api.get(LIST, HTTP_ACCEPT="application/json; indent=4").content
    assert plain != indented and indented.startswith(b"{\n    ")


def test_a_cache_that_fails_makes_pages_slower_not_wrong(
    owner_api: APIClient, peering: ConnectivityRequest, monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Down:
        def get(self, *args: Any) -> None:
            raise ConnectionError("cache down")

        set = get

    monkeypatch.setattr(pagecache, "cache", Down())  # the throttles' counters stay up
    assert _only(owner_api)["id"] == str(peering.pk)
    ConnectivityRequest.objects.filter(pk=peering.pk).update(status_message="moved")
    assert _only(owner_api)["status_message"] == "moved"


def test_pages_the_code_or_settings_before_a_deploy_rendered_are_not_served(
    owner_api: APIClient, peering: ConnectivityRequest, settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            _page(owner_api)
        return len(captured.captured_queries)

    _page(owner_api)
    assert queries() == 1
    settings.AZURE_PLATFORM_TENANT_ID = "99999999-9999-4999-8999-999999999999"  # in commands
    assert queries() == 2
    assert queries() == 1
    generation = pagecache.code_generation()
    monkeypatch.setattr(pagecache.Path, "read_bytes", lambda path: b"# the next release")
    pagecache.code_generation.cache_clear()
    assert pagecache.code_generation() != generation
    assert queries() == 2


def test_the_cache_can_be_turned_off(
    owner_api: APIClient, peering: ConnectivityRequest, settings: Any,
) -> None:
    settings.API_PAGE_CACHE_SECONDS = 0
    _page(owner_api)
    with CaptureQueriesContext(connection) as captured:
        _page(owner_api)
    assert len(captured.captured_queries) == 2


@pytest.mark.django_db(transaction=True)
def test_the_version_moves_when_the_write_commits_and_not_when_it_rolls_back(
    customer: User, dedicated_cluster: Cluster,
) -> None:
    """A reader that saw the new version before the rows committed would store the old rows
    under it: the bump waits for the commit."""
    client = client_with(make_token(customer))
    peering = PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer)
    organization = Organization.objects.get(pk=peering.organization_id)
    _page(client)

    def version() -> int:
        return Organization.objects.get(pk=organization.pk).api_version

    before = version()
    with transaction.atomic():
        ConnectivityRequest.objects.filter(pk=peering.pk).update(status_message="committed")
        assert version() == before
    assert version() == before + 1
    assert _only(client)["status_message"] == "committed"
    with pytest.raises(RuntimeError), transaction.atomic():
        ConnectivityRequest.objects.filter(pk=peering.pk).update(status_message="rolled back")
        raise RuntimeError
    assert version() == before + 1
    assert _only(client)["status_message"] == "committed"


def test_a_request_polled_again_is_the_token_query_alone_and_follows_its_changes(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    """What `cportal watch` and pipelines waiting on a request do."""
    path = f"{LIST}{peering.pk}/"
    first = owner_api.get(path)
    with CaptureQueriesContext(connection) as captured:
        again = owner_api.get(path)
    assert again.content == first.content and len(captured.captured_queries) == 1
    ConnectivityRequest.objects.filter(pk=peering.pk).update(state=RequestState.APPROVED)
    assert owner_api.get(path).json()["state"] == "approved"


def test_another_organisations_request_is_404_after_its_owner_polled_it(
    owner_api: APIClient, outsider_token: str, peering: ConnectivityRequest,
) -> None:
    path = f"{LIST}{peering.pk}/"
    assert owner_api.get(path).status_code == 200
    assert owner_api.get(path).status_code == 200  # now cached, under the owner's organisation
    response = client_with(outsider_token).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert "state" not in response.json()  # the problem, not the owner's request


@pytest.mark.parametrize("served", ["rendered", "stored"])
def test_the_etag_sent_back_is_a_304_without_a_body_until_the_page_changes(
    owner_api: APIClient, peering: ConnectivityRequest, served: str,
) -> None:
    for path in (LIST, f"{LIST}{peering.pk}/"):
        first = owner_api.get(path)
        etag = first["ETag"]
        assert etag.startswith('"') and owner_api.get(path)["ETag"] == etag  # the stored copy's
        if served == "rendered":
            cache.clear()  # the next answer is rendered again, with the same ETag
        unchanged = owner_api.get(path, HTTP_IF_NONE_MATCH=etag)
        assert unchanged.status_code == 304 and unchanged.content == b""
        assert unchanged["ETag"] == etag
        assert owner_api.get(path, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200
    ConnectivityRequest.objects.filter(pk=peering.pk).update(status_message="moved")
    changed = owner_api.get(LIST, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert changed.json()["results"][0]["status_message"] == "moved"


def test_another_organisations_etag_gets_this_organisations_page(
    owner_api: APIClient, outsider_token: str, peering: ConnectivityRequest,
) -> None:
    theirs = client_with(outsider_token)
    etag = theirs.get(LIST)["ETag"]  # their empty page
    answer = owner_api.get(LIST, HTTP_IF_NONE_MATCH=etag)
    assert answer.status_code == 200 and answer.json()["results"][0]["id"] == str(peering.pk)
