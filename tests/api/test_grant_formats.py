"""The grant package's `formats` over HTTP with a token: every format with the customer's ids and
the proof, the existing fields untouched, the schema documenting it, another organisation 404."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from connectivity.azure import grant_formats, roles
from connectivity.models import Cluster, ConnectivityRequest
from tests.factories import PeeringRequestFactory, PrivateDnsRequestFactory

pytestmark = pytest.mark.django_db

EXISTING_FIELDS = {"needed", "detail", "role_name", "scope", "role_definition",
                   "role_definition_json", "grant_commands", "grant_script", "revoke_command",
                   "revoke_commands", "revoke_script", "proof", "proof_update_command"}


def test_the_grant_package_offers_every_format_with_the_customers_ids(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    grant = owner_api.get(f"/api/v1/requests/{peering.pk}/grant/").json()

    assert set(grant) == EXISTING_FIELDS | {"formats"}
    formats = grant["formats"]
    assert list(formats) == ["cli", "powershell", "terraform", "bicep"]
    assert formats["cli"]["grant"] == [
        {"filename": "grant.sh", "language": "shell", "content": grant["grant_script"]}]
    assert formats["cli"]["revoke"][0]["content"] == grant["revoke_script"]
    description = roles.proof_description(peering.proof)
    by_name = {f["filename"]: f for fmt in formats.values() for f in [*fmt["grant"], *fmt["revoke"]]}
    assert f"-Description '{description}'" in by_name["grant.ps1"]["content"]
    assert f'description        = "{description}"' in by_name["main.tf"]["content"]
    assert f"var proofDescription = '{description}'" in by_name["grant.bicep"]["content"]
    for name in ("grant.ps1", "main.tf", "bicep-deploy.sh"):
        assert peering.tenant_id in by_name[name]["content"]
        assert peering.subscription_id in by_name[name]["content"]
    assert peering.customer_vnet_id in by_name["main.tf"]["content"]
    assert settings.AZURE_CLIENT_ID in by_name["grant.ps1"]["content"]
    assert "Remove-AzRoleAssignment" in by_name["revoke.ps1"]["content"]
    assert "terraform destroy -target=" in by_name["terraform-revoke.sh"]["content"]


def test_existing_fields_are_exactly_as_before(
    owner_api: APIClient, peering: ConnectivityRequest,
) -> None:
    grant = owner_api.get(f"/api/v1/requests/{peering.pk}/grant/").json()
    package = roles.instructions(roles.CustomerVNet(
        peering.tenant_id, peering.subscription_id, peering.resource_group, peering.vnet_name),
        app_id=settings.AZURE_CLIENT_ID, proof=peering.proof)
    assert grant["grant_script"] == package.grant_script
    assert grant["grant_commands"] == list(package.grant_commands)
    assert grant["revoke_commands"] == list(package.revoke_commands)
    assert grant["proof_update_command"] == package.proof_update_command


def test_a_request_that_needs_no_role_has_no_formats(
    owner_api: APIClient, dedicated_cluster: Cluster,
) -> None:
    dns = PrivateDnsRequestFactory(cluster=dedicated_cluster)
    grant = owner_api.get(f"/api/v1/requests/{dns.pk}/grant/").json()
    assert grant["needed"] is False and grant["formats"] is None


def test_another_organisation_gets_404(outsider_api: APIClient, peering: ConnectivityRequest) -> None:
    response = outsider_api.get(f"/api/v1/requests/{peering.pk}/grant/")
    assert response.status_code == 404
    assert peering.proof not in response.content.decode()


def test_the_schema_documents_the_formats(owner_api: APIClient) -> None:
    schema = owner_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    formats = components["Grant"]["properties"]["formats"]
    assert formats.get("nullable") is True or "oneOf" in formats or "allOf" in formats
    assert set(components["GrantFormats"]["properties"]) == set(grant_formats.FORMAT_KEYS)
    assert set(components["GrantFile"]["properties"]) == {"filename", "language", "content"}


def test_hostile_names_reach_the_formats_escaped(
    owner_api: APIClient, dedicated_cluster: Cluster,
) -> None:
    # Stored values are validated at create; the renderers escape even what slipped past.
    odd = PeeringRequestFactory(cluster=dedicated_cluster, resource_group="rg'; x ${y}",
                                vnet_name='vnet"}')
    by_name = {f["filename"]: f["content"] for fmt in owner_api.get(
        f"/api/v1/requests/{odd.pk}/grant/").json()["formats"].values() for f in fmt["grant"]}
    assert "rg''; x ${y}" in by_name["grant.ps1"]
    assert 'rg\'; x $${y}/providers/Microsoft.Network/virtualNetworks/vnet\\"}' in by_name["main.tf"]
    assert "name: 'vnet\"}'" in by_name["grant.bicep"]


def test_a_hub_connection_offers_every_format_on_the_hub(
    owner_api: APIClient, outsider_api: APIClient, dedicated_cluster: Cluster,
) -> None:
    from connectivity.kinds import hub_connection
    from tests.factories import HubConnectionRequestFactory

    hub = HubConnectionRequestFactory(cluster=dedicated_cluster, state="awaiting_grant")
    grant = owner_api.get(f"/api/v1/requests/{hub.pk}/grant/").json()
    hub_id = hub_connection.hub_id(hub)
    assert grant["scope"] == hub_id and grant["role_name"] == roles.DEFAULT_HUB_ROLE_NAME
    assert list(grant["formats"]) == ["cli", "powershell", "terraform", "bicep"]
    by_name = {f["filename"]: f["content"] for fmt in grant["formats"].values()
               for f in [*fmt["grant"], *fmt["revoke"]]}
    description = roles.proof_description(hub.proof)
    assert f"-Scope '{hub_id}' -Description '{description}'" in by_name["grant.ps1"]
    assert f'scope              = "{hub_id}"' in by_name["main.tf"]
    assert "resource hub 'Microsoft.Network/virtualHubs@2023-09-01' existing" in (
        by_name["grant.bicep"])
    assert f"Remove-AzRoleAssignment -ObjectId $sp.Id -RoleDefinitionName " \
           f"'{roles.DEFAULT_HUB_ROLE_NAME}' -Scope '{hub_id}'" in by_name["revoke.ps1"]
    assert "virtual hub" in grant["detail"] and "the hub connection keeps working" in (
        grant["detail"])
    assert outsider_api.get(f"/api/v1/requests/{hub.pk}/grant/").status_code == 404
