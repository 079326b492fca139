"""Fixtures for tests that drive the real azure-mgmt clients against the bundled simulator.

``azure_simulator`` is started once per session on a free port; ``sim`` resets it before each
test so tests never see each other's resources, faults or role assignments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from connectivity.azure.simulator import AzureSimulator

ARM_SCOPE = "https://management.azure.com/.default"

PLATFORM_TENANT = "11111111-1111-4111-8111-111111111111"
PLATFORM_SUB = "22222222-2222-4222-8222-222222222222"
CUSTOMER_TENANT = "33333333-3333-4333-8333-333333333333"
CUSTOMER_SUB = "44444444-4444-4444-8444-444444444444"
PLATFORM_APP = "55555555-5555-4555-8555-555555555555"
PLATFORM_SECRET = "platform-secret"
CUSTOMER_ADMIN_APP = "66666666-6666-4666-8666-666666666666"
CLUSTER_RG = "rg-clusters"
CLUSTER_VNET = "vnet-cl1"
CUSTOMER_RG = "rg-customer"
CUSTOMER_VNET = "vnet-customer"
CLUSTER_VNET_ID = (
    f"/subscriptions/{PLATFORM_SUB}/resourceGroups/{CLUSTER_RG}"
    f"/providers/Microsoft.Network/virtualNetworks/{CLUSTER_VNET}"
)
CUSTOMER_VNET_ID = (
    f"/subscriptions/{CUSTOMER_SUB}/resourceGroups/{CUSTOMER_RG}"
    f"/providers/Microsoft.Network/virtualNetworks/{CUSTOMER_VNET}"
)

SEED: dict[str, Any] = {
    "tenants": [
        {
            "id": PLATFORM_TENANT,
            "name": "platform",
            "subscriptions": [{
                "id": PLATFORM_SUB,
                "resource_groups": [{
                    "name": CLUSTER_RG,
                    "location": "westeurope",
                    "virtual_networks": [
                        {"name": CLUSTER_VNET, "address_prefixes": ["10.100.0.0/16"]},
                        {"name": "vnet-hub", "address_prefixes": ["10.200.0.0/16"],
                         "has_gateway": True},
                    ],
                    "dns_forwarding_rulesets": [
                        {"name": "rs-cl1", "linked_vnets": [CLUSTER_VNET]},
                    ],
                }],
            }],
        },
        {
            "id": CUSTOMER_TENANT,
            "name": "customer",
            "subscriptions": [{
                "id": CUSTOMER_SUB,
                "resource_groups": [{
                    "name": CUSTOMER_RG,
                    "location": "westeurope",
                    "virtual_networks": [
                        {"name": CUSTOMER_VNET, "address_prefixes": ["10.1.0.0/16"]},
                    ],
                }],
            }],
        },
    ],
    "apps": [
        {"app_id": PLATFORM_APP, "home_tenant": PLATFORM_TENANT, "secret": PLATFORM_SECRET,
         "display_name": "platform"},
        {"app_id": CUSTOMER_ADMIN_APP, "home_tenant": CUSTOMER_TENANT, "secret": "admin",
         "display_name": "customer admin"},
    ],
    "role_assignments": [
        {"scope": f"/subscriptions/{PLATFORM_SUB}", "app_id": PLATFORM_APP,
         "tenant_id": PLATFORM_TENANT, "role": "Network Contributor"},
        {"scope": f"/subscriptions/{CUSTOMER_SUB}", "app_id": CUSTOMER_ADMIN_APP,
         "tenant_id": CUSTOMER_TENANT, "role": "Owner"},
    ],
}


class SimCredential:
    """A TokenCredential minting simulator tokens directly (no AAD round trip)."""

    def __init__(self, simulator: AzureSimulator, app_id: str, tenant_id: str) -> None:
        self._simulator = simulator
        self.app_id = app_id
        self.tenant_id = tenant_id

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token = self._simulator.control.token(self.app_id, self.tenant_id)
        return AccessToken(token, 2**31)

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        token = self._simulator.control.token(self.app_id, self.tenant_id)
        return AccessTokenInfo(token, 2**31)


@dataclass
class Clients:
    """Factories for the real management clients pointed at the simulator."""

    simulator: AzureSimulator

    def credential(self, app_id: str = PLATFORM_APP, tenant_id: str = PLATFORM_TENANT) -> Any:
        return SimCredential(self.simulator, app_id, tenant_id)

    def kwargs(self, aux: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
        options: dict[str, Any] = {
            "base_url": self.simulator.base_url,
            "credential_scopes": [ARM_SCOPE],
            "connection_verify": self.simulator.ca_path,
            "retry_total": 0,
            "polling_interval": 0,
        }
        if aux:
            from azure.mgmt.core.policies import AuxiliaryAuthenticationPolicy

            options["per_call_policies"] = [AuxiliaryAuthenticationPolicy(aux, ARM_SCOPE)]
        options.update(extra)
        return options

    def _make(self, cls: Callable[..., Any], subscription: str, credential: Any,
              aux: list[Any] | None, extra: dict[str, Any]) -> Any:
        return cls(credential or self.credential(), subscription, **self.kwargs(aux, **extra))

    def network(self, subscription: str = PLATFORM_SUB, credential: Any = None,
                aux: list[Any] | None = None, **extra: Any) -> Any:
        from azure.mgmt.network import NetworkManagementClient

        return self._make(NetworkManagementClient, subscription, credential, aux, extra)

    def privatedns(self, subscription: str = PLATFORM_SUB, credential: Any = None,
                   aux: list[Any] | None = None, **extra: Any) -> Any:
        from azure.mgmt.privatedns import PrivateDnsManagementClient

        return self._make(PrivateDnsManagementClient, subscription, credential, aux, extra)

    def dnsresolver(self, subscription: str = PLATFORM_SUB, credential: Any = None,
                    aux: list[Any] | None = None, **extra: Any) -> Any:
        from azure.mgmt.dnsresolver import DnsResolverManagementClient

        return self._make(DnsResolverManagementClient, subscription, credential, aux, extra)

    def resources(self, subscription: str = PLATFORM_SUB, credential: Any = None,
                  aux: list[Any] | None = None, **extra: Any) -> Any:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return self._make(ResourceManagementClient, subscription, credential, aux, extra)

    def authorization(self, subscription: str = PLATFORM_SUB, credential: Any = None,
                      aux: list[Any] | None = None, **extra: Any) -> Any:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return self._make(AuthorizationManagementClient, subscription, credential, aux, extra)


@pytest.fixture(scope="session")
def azure_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureSimulator]:
    simulator = AzureSimulator(
        host="127.0.0.1", port=0, seed=SEED, cert_dir=tmp_path_factory.mktemp("azure-sim")
    )
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def sim(azure_simulator: AzureSimulator) -> Iterator[AzureSimulator]:
    azure_simulator.control.reset()
    yield azure_simulator
    azure_simulator.control.reset()


@pytest.fixture
def clients(sim: AzureSimulator) -> Clients:
    return Clients(sim)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: Any


def raw_request(
    simulator: AzureSimulator,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """One HTTPS request to the simulator, for asserting on exact headers and bodies."""
    import http.client
    import json
    import ssl

    context = ssl.create_default_context(cafile=simulator.ca_path)
    connection = http.client.HTTPSConnection("127.0.0.1", simulator.port, context=context,
                                             timeout=10)
    send_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        send_headers["Authorization"] = f"Bearer {token}"
    payload = json.dumps(body).encode() if body is not None else None
    connection.request(method, path, body=payload, headers=send_headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return RawResponse(
        response.status,
        {k.lower(): v for k, v in response.getheaders()},
        json.loads(data) if data else None,
    )
