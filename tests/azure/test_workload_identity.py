"""A cluster's workload identity in the simulator and the gateway: the identity and federated
credential shapes of the REST spec, a token as the identity for the platform's assertion, and
the permissions the customer's role assignment gives it on their storage account and key vault
(pending while the assignment propagates, gone after revocation)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from connectivity.azure import assertions, clients, gateway
from connectivity.azure.errors import CustomerActionRequired, PermanentAzureError
from connectivity.azure.simulator import AzureSimulator
from connectivity.azure.simulator.tokens import parse_token
from tests.azure.conftest import CUSTOMER_SUB, PLATFORM_SUB, PLATFORM_TENANT, raw_request
from tests.azure.gateway_fixtures import point_settings_at

ISSUER = "https://portal.example/workload-identity"
SUBJECT = "connectivity-portal:verifier"
IDENTITY_ID = (f"/subscriptions/{PLATFORM_SUB}/resourceGroups/rg-identities/providers/"
               "Microsoft.ManagedIdentity/userAssignedIdentities/id-cl1")
# A customer subscription in the identity's own tenant (a managed identity acts only there).
SAME_TENANT_SUB = "77777777-7777-4777-8777-777777777777"
STORAGE_ID = (f"/subscriptions/{SAME_TENANT_SUB}/resourceGroups/rg-data/providers/"
              "Microsoft.Storage/storageAccounts/contosodata")
VAULT_ID = (f"/subscriptions/{SAME_TENANT_SUB}/resourceGroups/rg-data/providers/"
            "Microsoft.KeyVault/vaults/kv-contoso")
READ_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
WRITE_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
GET_SECRET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"


def _seed(sim: AzureSimulator) -> dict[str, Any]:
    sim.control.seed({
        "tenants": [{"id": PLATFORM_TENANT, "subscriptions": [{"id": SAME_TENANT_SUB}]}],
        "managed_identities": [{"id": IDENTITY_ID, "federated_credentials": [
            {"name": "connectivity-portal", "issuer": ISSUER, "subject": SUBJECT}]}],
    })
    for kind, name in (("storage_account", "contosodata"), ("key_vault", "kv-contoso")):
        _control(sim, "/_simulator/customer/paas-resource", {
            "tenant_id": PLATFORM_TENANT, "subscription_id": SAME_TENANT_SUB,
            "resource_group": "rg-data", "type": kind, "name": name})
    resource = sim.control.get_resource(IDENTITY_ID)
    assert resource is not None
    return resource


def _control(sim: AzureSimulator, path: str, body: dict[str, Any], status: int = 200) -> Any:
    answer = raw_request(sim, "POST", path, body=body)
    assert answer.status == status, answer.body
    return answer.body


def _identity(resource: dict[str, Any]) -> gateway.WorkloadIdentity:
    props = resource["properties"]
    return gateway.WorkloadIdentity(resource_id=resource["id"], client_id=props["clientId"],
                                    principal_id=props["principalId"], tenant_id=props["tenantId"])


def _assertion(**claims: Any) -> str:
    import jwt

    now = int(time.time())
    body = {"iss": ISSUER, "sub": SUBJECT, "aud": "api://AzureADTokenExchange", "iat": now,
            "exp": now + 300, **claims}
    return jwt.encode(body, key=None, algorithm="none")


def _token_request(sim: AzureSimulator, client_id: str, assertion: str) -> Any:
    import http.client
    import json
    import ssl
    from urllib.parse import urlencode

    context = ssl.create_default_context(cafile=sim.ca_path)
    connection = http.client.HTTPSConnection("127.0.0.1", sim.port, context=context, timeout=10)
    form = urlencode({
        "grant_type": "client_credentials", "client_id": client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion, "scope": "https://management.azure.com/.default"})
    connection.request("POST", f"/{PLATFORM_TENANT}/oauth2/v2.0/token", body=form,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    status, data = response.status, json.loads(response.read())
    connection.close()
    return status, data


# ----- the simulator's shapes ---------------------------------------------------------------
def test_identity_and_federated_credential_have_the_rest_spec_shapes(sim: AzureSimulator) -> None:
    token = sim.control.token("55555555-5555-4555-8555-555555555555", PLATFORM_TENANT)
    sim.control.assign_role(scope=f"/subscriptions/{PLATFORM_SUB}", role="Owner",
                            tenant_id=PLATFORM_TENANT,
                            app_id="55555555-5555-4555-8555-555555555555")
    raw_request(sim, "PUT", f"/subscriptions/{PLATFORM_SUB}/resourcegroups/rg-identities"
                "?api-version=2021-04-01", token=token, body={"location": "westeurope"})
    created = raw_request(sim, "PUT", f"{IDENTITY_ID}?api-version=2023-01-31", token=token,
                          body={"location": "westeurope", "tags": {"cluster": "cl1"}})
    assert created.status == 201
    assert set(created.body) == {"id", "name", "type", "location", "tags", "properties"}
    assert created.body["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"
    props = created.body["properties"]
    assert set(props) == {"clientId", "principalId", "tenantId"}
    assert props["tenantId"] == PLATFORM_TENANT
    again = raw_request(sim, "PUT", f"{IDENTITY_ID}?api-version=2023-01-31", token=token,
                        body={"location": "westeurope"})
    assert again.status == 200 and again.body["properties"] == props  # ids never change

    fic_url = f"{IDENTITY_ID}/federatedIdentityCredentials/portal?api-version=2023-01-31"
    fic = raw_request(sim, "PUT", fic_url, token=token, body={"properties": {
        "issuer": ISSUER, "subject": SUBJECT, "audiences": ["api://AzureADTokenExchange"]}})
    assert fic.status == 201
    assert fic.body == {
        "id": f"{IDENTITY_ID}/federatedIdentityCredentials/portal", "name": "portal",
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        "properties": {"issuer": ISSUER, "subject": SUBJECT,
                       "audiences": ["api://AzureADTokenExchange"]}}
    listed = raw_request(sim, "GET", f"{IDENTITY_ID}/federatedIdentityCredentials"
                         "?api-version=2023-01-31", token=token)
    assert [c["name"] for c in listed.body["value"]] == ["portal"]
    bad = raw_request(sim, "PUT", fic_url.replace("/portal?", "/bad?"), token=token,
                      body={"properties": {"issuer": "http://insecure", "subject": "s",
                                           "audiences": ["api://AzureADTokenExchange"]}})
    assert bad.status == 400 and "https" in bad.body["error"]["message"]


def test_reading_an_identity_needs_a_role(sim: AzureSimulator) -> None:
    _seed(sim)
    outsider = sim.control.token("66666666-6666-4666-8666-666666666666", PLATFORM_TENANT)
    denied = raw_request(sim, "GET", f"{IDENTITY_ID}?api-version=2023-01-31", token=outsider)
    assert denied.status == 403 and denied.body["error"]["code"] == "AuthorizationFailed"


# ----- a token as the identity --------------------------------------------------------------
def test_the_platforms_assertion_buys_a_token_as_the_identity(sim: AzureSimulator) -> None:
    props = _seed(sim)["properties"]
    status, body = _token_request(sim, props["clientId"], _assertion())
    assert status == 200
    claims = parse_token(body["access_token"])
    assert claims is not None
    assert (claims["oid"], claims["appid"], claims["tid"]) == (
        props["principalId"], props["clientId"], PLATFORM_TENANT)


@pytest.mark.parametrize("claims, code", [
    ({"sub": "someone-else"}, 70021),
    ({"iss": "https://attacker.example"}, 70021),
    ({"aud": "api://other"}, 70021),
    ({"exp": int(time.time()) - 10}, 700024),
])
def test_an_assertion_the_credential_does_not_trust_is_refused(
    sim: AzureSimulator, claims: dict[str, Any], code: int,
) -> None:
    props = _seed(sim)["properties"]
    status, body = _token_request(sim, props["clientId"], _assertion(**claims))
    assert status == 400
    assert body["error"] == "invalid_client" and body["error_codes"] == [code]


# ----- verification through the gateway ----------------------------------------------------
@pytest.fixture
def msi_sim(sim: AzureSimulator, settings: Any, db: None) -> Iterator[AzureSimulator]:
    """The reset simulator with the gateway pointed at it."""
    point_settings_at(settings, sim)
    clients.clear_cache()
    yield sim
    clients.clear_cache()


@pytest.fixture
def identity(msi_sim: AzureSimulator) -> gateway.WorkloadIdentity:
    return _identity(_seed(msi_sim))


def _assign(sim: AzureSimulator, identity: gateway.WorkloadIdentity, role: str, scope: str,
            status: int = 200) -> Any:
    return _control(sim, "/_simulator/customer/assign-identity-role", {
        "scope": scope, "role": role, "assignee_object_id": identity.principal_id,
        "assignee_principal_type": "ServicePrincipal"}, status)


@override_settings(WORKLOAD_IDENTITY_ISSUER=ISSUER, WORKLOAD_IDENTITY_SUBJECT=SUBJECT)
def test_permissions_are_effective_after_the_customers_assignment_and_gone_after_revocation(
    msi_sim: AzureSimulator, identity: gateway.WorkloadIdentity,
) -> None:
    assert gateway.permissions_as_identity(scope=STORAGE_ID, identity=identity) == []
    assert gateway.missing_as_identity(scope=STORAGE_ID, identity=identity,
                                       data_actions=[READ_BLOBS]) == [READ_BLOBS]

    assignment = _assign(msi_sim, identity, "Storage Blob Data Reader", STORAGE_ID)
    assert assignment["properties"]["principalType"] == "ServicePrincipal"
    assert assignment["properties"]["roleDefinitionId"].endswith(
        "/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1")
    assert gateway.missing_as_identity(
        scope=STORAGE_ID, identity=identity,
        actions=["Microsoft.Storage/storageAccounts/blobServices/containers/read"],
        data_actions=[READ_BLOBS]) == []
    # Reader, not contributor; and nothing on the key vault.
    assert gateway.missing_as_identity(scope=STORAGE_ID, identity=identity,
                                       data_actions=[WRITE_BLOBS]) == [WRITE_BLOBS]
    assert gateway.missing_as_identity(scope=VAULT_ID, identity=identity,
                                       data_actions=[GET_SECRET]) == [GET_SECRET]

    _assign(msi_sim, identity, "Key Vault Secrets User", VAULT_ID)
    assert gateway.missing_as_identity(scope=VAULT_ID, identity=identity,
                                       data_actions=[GET_SECRET]) == []

    _control(msi_sim, "/_simulator/customer/revoke", {
        "tenant_id": PLATFORM_TENANT, "principal_id": identity.principal_id,
        "scope": STORAGE_ID})
    assert gateway.missing_as_identity(scope=STORAGE_ID, identity=identity,
                                       data_actions=[READ_BLOBS]) == [READ_BLOBS]
    assert gateway.missing_as_identity(scope=VAULT_ID, identity=identity,
                                       data_actions=[GET_SECRET]) == []


@override_settings(WORKLOAD_IDENTITY_ISSUER=ISSUER, WORKLOAD_IDENTITY_SUBJECT=SUBJECT)
def test_a_new_assignment_is_pending_while_it_propagates(
    msi_sim: AzureSimulator, identity: gateway.WorkloadIdentity,
) -> None:
    msi_sim.control.set_faults(propagation_delay=1.0)
    _assign(msi_sim, identity, "Storage Blob Data Contributor", STORAGE_ID)
    assert gateway.missing_as_identity(scope=STORAGE_ID, identity=identity,
                                       data_actions=[WRITE_BLOBS]) == [WRITE_BLOBS]
    time.sleep(1.1)
    assert gateway.missing_as_identity(scope=STORAGE_ID, identity=identity,
                                       data_actions=[READ_BLOBS, WRITE_BLOBS]) == []


@override_settings(WORKLOAD_IDENTITY_ISSUER="https://someone-else.example")
def test_an_issuer_the_identity_does_not_trust_cannot_act_as_it(
    msi_sim: AzureSimulator, identity: gateway.WorkloadIdentity,
) -> None:
    with pytest.raises(PermanentAzureError) as caught:
        gateway.permissions_as_identity(scope=STORAGE_ID, identity=identity)
    assert caught.value.code == "AADSTS70021"


@override_settings(WORKLOAD_IDENTITY_ISSUER=ISSUER, WORKLOAD_IDENTITY_SUBJECT=SUBJECT)
def test_a_resource_in_another_tenant_is_out_of_the_identitys_reach(
    msi_sim: AzureSimulator, identity: gateway.WorkloadIdentity,
) -> None:
    other = (f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/rg-customer/providers/"
             "Microsoft.Storage/storageAccounts/elsewhere")
    with pytest.raises(CustomerActionRequired) as caught:
        gateway.permissions_as_identity(scope=other, identity=identity)
    assert caught.value.reason == "identity_other_tenant"
    assert identity.tenant_id in caught.value.message


def test_the_control_route_refuses_a_missing_scope_or_an_unknown_role(
    sim: AzureSimulator,
) -> None:
    identity = _identity(_seed(sim))
    missing = STORAGE_ID.replace("contosodata", "nosuchaccount")
    assert "does not exist" in _assign(sim, identity, "Storage Blob Data Reader", missing,
                                       404)["error"]
    assert "unknown role" in _assign(sim, identity, "Storage Blob Data Owner?", STORAGE_ID,
                                     400)["error"]


def test_an_unsigned_assertion_is_refused_outside_the_simulator(settings: Any) -> None:
    settings.AZURE_SIMULATOR = False
    settings.WORKLOAD_IDENTITY_SIGNING_KEY_PATH = None
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="WORKLOAD_IDENTITY_SIGNING_KEY_PATH"):
        assertions.platform_assertion()


def test_a_signed_assertion_verifies_against_the_published_keys(settings: Any, tmp_path: Any) -> None:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "issuer.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    settings.WORKLOAD_IDENTITY_SIGNING_KEY_PATH = str(path)
    settings.WORKLOAD_IDENTITY_ISSUER = ISSUER
    token = assertions.platform_assertion()
    published = assertions.jwks()["keys"][0]
    assert jwt.get_unverified_header(token)["kid"] == published["kid"]
    public = jwt.PyJWK(published).key
    claims = jwt.decode(token, public, algorithms=["RS256"], audience="api://AzureADTokenExchange",
                        issuer=ISSUER)
    assert claims["sub"] == SUBJECT
