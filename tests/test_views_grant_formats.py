"""The grant page's formats without a browser: each tool's files shown with copy and download,
the chosen format rendered without script, downloads exact, another organisation 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from connectivity.models import ConnectivityRequest, User
from connectivity.views import grant_formats_of
from tests.factories import PeeringRequestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def peering(dedicated_cluster: Any, customer: User) -> ConnectivityRequest:
    return PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer,
                                 state="awaiting_grant")


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_offers_every_format_with_copy_and_download(
    customer: User, peering: ConnectivityRequest,
) -> None:
    page = signed_in(customer).get(reverse("request_grant", args=[peering.pk])).content.decode()
    for label in ("Azure CLI", "Azure PowerShell", "Terraform", "Bicep"):
        assert f">{label}</a>" in page
    for fmt in grant_formats_of(peering).values():
        for file in fmt.files():
            assert reverse("request_grant_download", args=[peering.pk, file.filename]) in page
            assert f">Copy {file.filename}</button>" in page or fmt.key == "cli"
    # Only the Azure CLI shows until another format is chosen (no script needed for that).
    assert '<div data-format-panel="cli">' in page
    assert 'data-format-panel="terraform" aria-labelledby="fmt-terraform-heading" hidden' in page


def test_a_format_chosen_by_link_is_the_one_shown(customer: User, peering: ConnectivityRequest) -> None:
    page = signed_in(customer).get(reverse("request_grant", args=[peering.pk]),
                                   {"format": "terraform"}).content.decode()
    assert 'data-format-panel="terraform" aria-labelledby="fmt-terraform-heading">' in page
    assert '<div data-format-panel="cli" hidden>' in page
    assert 'data-format-tab="terraform" aria-current="true"' in page
    unknown = signed_in(customer).get(reverse("request_grant", args=[peering.pk]),
                                      {"format": "<script>"})
    assert unknown.status_code == 200 and '<div data-format-panel="cli">' in unknown.content.decode()


@pytest.mark.parametrize("filename", ["grant.ps1", "revoke.ps1", "main.tf", "terraform-revoke.sh",
                                      "grant.bicep", "bicep-deploy.sh", "bicep-revoke.sh"])
def test_every_file_downloads_exactly(customer: User, peering: ConnectivityRequest,
                                      filename: str) -> None:
    response = signed_in(customer).get(reverse("request_grant_download",
                                               args=[peering.pk, filename]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    expected = next(f for fmt in grant_formats_of(peering).values() for f in fmt.files()
                    if f.filename == filename)
    assert response.content.decode() == expected.content
    if filename in ("grant.ps1", "main.tf", "grant.bicep"):
        assert peering.proof in expected.content


def test_another_organisation_gets_404(outsider: User, peering: ConnectivityRequest) -> None:
    client = signed_in(outsider)
    assert client.get(reverse("request_grant", args=[peering.pk]),
                      {"format": "terraform"}).status_code == 404
    for filename in ("main.tf", "grant.ps1", "grant.bicep"):
        assert client.get(reverse("request_grant_download",
                                  args=[peering.pk, filename])).status_code == 404


def test_an_unknown_file_is_404(customer: User, peering: ConnectivityRequest) -> None:
    response = signed_in(customer).get(reverse("request_grant_download",
                                               args=[peering.pk, "secrets.tf"]))
    assert response.status_code == 404


# --- the hub connection's role: every format, in a virtual hub's words ------------------------


@pytest.fixture
def hub_request(dedicated_cluster: Any, customer: User) -> ConnectivityRequest:
    from tests.factories import HubConnectionRequestFactory

    return HubConnectionRequestFactory(cluster=dedicated_cluster, created_by=customer,
                                       state="awaiting_grant")


def test_the_hub_grant_page_offers_every_format_in_a_hubs_words(
    customer: User, hub_request: ConnectivityRequest,
) -> None:
    from connectivity.kinds import hub_connection

    hub_id = hub_connection.hub_id(hub_request)
    page = signed_in(customer).get(reverse("request_grant", args=[hub_request.pk])).content.decode()
    for label in ("Azure CLI", "Azure PowerShell", "Terraform", "Bicep"):
        assert f">{label}</a>" in page
    formats = grant_formats_of(hub_request)
    assert list(formats) == ["cli", "powershell", "terraform", "bicep"]
    for fmt in formats.values():
        for file in fmt.files():
            assert reverse("request_grant_download", args=[hub_request.pk, file.filename]) in page
    # The page speaks of the virtual hub, never of a VNet or a peering, outside the files.
    assert "Select the subscription that holds the virtual hub." in page
    assert "assignable only in the hub&#x27;s resource group" in page
    assert "Assign the role to the platform on this one virtual hub" in page
    assert "who may assign roles on the virtual hub" in page
    assert "Once the hub connection is active it keeps working without the role." in page
    assert "other hub connections of the cluster&#x27;s VNet" in page
    for vnet_words in ("on your VNet", "this VNet", "existing peerings", "five peering actions",
                       "Once the peering is active"):
        assert vnet_words not in page, vnet_words
    assert f"-Scope &#x27;{hub_id}&#x27;" in page


@pytest.mark.parametrize("filename", ["grant.ps1", "revoke.ps1", "main.tf", "terraform-revoke.sh",
                                      "grant.bicep", "bicep-deploy.sh", "bicep-revoke.sh"])
def test_every_hub_file_downloads_exactly_with_the_hub_scope(
    customer: User, outsider: User, hub_request: ConnectivityRequest, filename: str,
) -> None:
    from connectivity.kinds import hub_connection

    url = reverse("request_grant_download", args=[hub_request.pk, filename])
    response = signed_in(customer).get(url)
    assert response.status_code == 200
    expected = next(f for fmt in grant_formats_of(hub_request).values() for f in fmt.files()
                    if f.filename == filename)
    assert response.content.decode() == expected.content
    if filename in ("grant.ps1", "main.tf", "revoke.ps1", "bicep-revoke.sh"):
        assert hub_connection.hub_id(hub_request) in expected.content
    if filename in ("grant.ps1", "main.tf", "grant.bicep"):
        assert hub_request.proof in expected.content
        assert "Connectivity Portal Virtual Hub Connection" in expected.content
    assert signed_in(outsider).get(url).status_code == 404
