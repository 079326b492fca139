"""Demo data shared by `seed_demo` and the simulator seed, so the two always agree."""

from __future__ import annotations

from typing import Any

from django.conf import settings

CUSTOMER_TENANT_ID = "44444444-4444-4444-8444-444444444444"
CUSTOMER_SUBSCRIPTION_ID = "55555555-5555-4555-8555-555555555555"
CUSTOMER_RESOURCE_GROUP = "rg-contoso-network"
CUSTOMER_VNET_NAME = "vnet-contoso-hub"
CUSTOMER_VNET_PREFIXES = ["10.20.0.0/16"]
CUSTOMER_OVERLAPPING_VNET_NAME = "vnet-contoso-legacy"

PLATFORM_RESOURCE_GROUP = "rg-platform-clusters"
PLATFORM_GROUPS_ROLE = "Connectivity Portal resource groups"

# People the simulator's Entra ID sign-in page offers (README, "Single sign-on"): two from
# Contoso's tenant (an existing owner, and a newcomer who joins on first sign-in), a staff
# member from the platform's tenant whose sign-in did MFA, and someone from a tenant no
# organisation has claimed (refused).
UNCLAIMED_TENANT_ID = "66666666-6666-4666-8666-666666666666"
SSO_PEOPLE: list[dict[str, Any]] = [
    {"tenant": "customer", "email": "customer@contoso.example", "name": "Casey Customer"},
    {"tenant": "customer", "email": "ada@contoso.example", "name": "Ada Lovelace"},
    {"tenant": "platform", "email": "approver@platform.example", "name": "Avery Approver",
     "mfa": True},
    {"tenant": "unclaimed", "email": "mallory@fabrikam.example", "name": "Mallory Fabrikam"},
]

CLUSTERS: list[dict[str, Any]] = [
    {
        "name": "contoso-prod",
        "region": "westeurope",
        "tier": "dedicated",
        "vnet_name": "vnet-cluster-contoso-prod",
        "address_prefixes": ["10.100.0.0/16"],
        "external_ips": ["20.54.101.17", "20.54.101.18"],
        "ruleset_name": "ruleset-contoso-prod",
        # The subnet the cluster reserves for Private Link endpoints (PRIVATE_ENDPOINT_SUBNET).
        "endpoint_subnet": "10.100.254.0/24",
    },
    {
        "name": "contoso-analytics-std",
        "region": "westeurope",
        "tier": "standard",
        "vnet_name": "vnet-shared-westeurope",
        "address_prefixes": ["10.200.0.0/16"],
        "external_ips": ["20.54.99.4"],
        "ruleset_name": "",
    },
]


# Each dedicated cluster's workload identity: a user-assigned managed identity in the
# platform's subscription, with a federated credential that trusts the platform's own issuer
# (README, "Cluster workload identity"). Fixed ids, so the demo and the simulator agree.
PLATFORM_IDENTITY_RESOURCE_GROUP = "rg-platform-identities"
WORKLOAD_IDENTITIES: dict[str, dict[str, str]] = {
    "contoso-prod": {"name": "id-cluster-contoso-prod",
                     "client_id": "7a1c2e3f-4b5d-4c6e-8f70-8192a3b4c5d6",
                     "principal_id": "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"},
}


def workload_identity_id(name: str) -> str:
    return (f"/subscriptions/{settings.AZURE_PLATFORM_SUBSCRIPTION_ID}/resourceGroups/"
            f"{PLATFORM_IDENTITY_RESOURCE_GROUP}/providers/Microsoft.ManagedIdentity/"
            f"userAssignedIdentities/{name}")


def workload_identity_fields(cluster_name: str) -> dict[str, str]:
    """The Cluster fields of a demo cluster's workload identity (empty for the others)."""
    spec = WORKLOAD_IDENTITIES.get(cluster_name)
    if spec is None:
        return {}
    return {"workload_identity_resource_id": workload_identity_id(spec["name"]),
            "workload_identity_client_id": spec["client_id"],
            "workload_identity_principal_id": spec["principal_id"],
            "workload_identity_tenant_id": settings.AZURE_PLATFORM_TENANT_ID}


def platform_vnet_id(vnet_name: str) -> str:
    return (f"/subscriptions/{settings.AZURE_PLATFORM_SUBSCRIPTION_ID}/resourceGroups/"
            f"{PLATFORM_RESOURCE_GROUP}/providers/Microsoft.Network/virtualNetworks/{vnet_name}")


def ruleset_id(ruleset_name: str) -> str:
    if not ruleset_name:
        return ""
    return (f"/subscriptions/{settings.AZURE_PLATFORM_SUBSCRIPTION_ID}/resourceGroups/"
            f"{PLATFORM_RESOURCE_GROUP}/providers/Microsoft.Network/dnsForwardingRulesets/"
            f"{ruleset_name}")


def sso_redirect_uris(site_url: str | None = None) -> list[str]:
    """The portal's callback, at PORTAL_SITE_URL and on both loopback names (Entra ignores the
    port of a loopback redirect URI, so any `make run` port works)."""
    path = "/accounts/microsoft/login/callback/"
    site_url = site_url or settings.SITE_URL
    return list(dict.fromkeys([site_url.rstrip("/") + path,
                               f"http://127.0.0.1:8000{path}", f"http://localhost:8000{path}"]))


def simulator_seed(*, site_url: str | None = None,
                   workload_identity_issuer: str | None = None) -> dict[str, Any]:
    """The simulator's world for the demo: the platform's tenant with the cluster VNets, and
    the demo customer's tenant with a VNet to peer and one that overlaps (to show pre-flight).

    ``site_url`` and ``workload_identity_issuer`` default to this process's settings; `make run`
    passes the values its children (the web server and the worker) run with, so the identities'
    federated credentials trust the issuer the worker signs as."""
    issuer = workload_identity_issuer or settings.WORKLOAD_IDENTITY_ISSUER
    platform_vnets = [
        {"name": c["vnet_name"], "address_prefixes": c["address_prefixes"], "has_gateway": False,
         "subnets": [{"name": settings.PRIVATE_ENDPOINT_SUBNET, "address_prefix": c["endpoint_subnet"]}]
         if c.get("endpoint_subnet") else []}
        for c in CLUSTERS
    ]
    rulesets = [
        {"name": c["ruleset_name"], "linked_vnets": [platform_vnet_id(c["vnet_name"])]}
        for c in CLUSTERS if c["ruleset_name"]
    ]
    return {
        "tenants": [
            {"id": settings.AZURE_PLATFORM_TENANT_ID, "name": "platform", "subscriptions": [{
                "id": settings.AZURE_PLATFORM_SUBSCRIPTION_ID,
                "resource_groups": [{
                    "name": PLATFORM_RESOURCE_GROUP, "location": "westeurope",
                    "virtual_networks": platform_vnets,
                    "dns_forwarding_rulesets": rulesets,
                }],
            }]},
            {"id": CUSTOMER_TENANT_ID, "name": "contoso", "subscriptions": [{
                "id": CUSTOMER_SUBSCRIPTION_ID,
                "resource_groups": [{
                    "name": CUSTOMER_RESOURCE_GROUP, "location": "westeurope",
                    "virtual_networks": [
                        {"name": CUSTOMER_VNET_NAME, "address_prefixes": CUSTOMER_VNET_PREFIXES,
                         "has_gateway": False},
                        {"name": CUSTOMER_OVERLAPPING_VNET_NAME,
                         "address_prefixes": ["10.100.128.0/20"], "has_gateway": False},
                    ],
                }],
            }]},
            {"id": UNCLAIMED_TENANT_ID, "name": "fabrikam"},
        ],
        "apps": [{
            "app_id": settings.AZURE_CLIENT_ID,
            "home_tenant": settings.AZURE_PLATFORM_TENANT_ID,
            "secret": settings.AZURE_CLIENT_SECRET,
            "display_name": "Connectivity Portal",
        }, {
            # The portal's sign-in app registration ("Sign in with Microsoft").
            "app_id": settings.SSO_SIMULATOR_CLIENT_ID,
            "home_tenant": settings.AZURE_PLATFORM_TENANT_ID,
            "secret": settings.SSO_SIMULATOR_CLIENT_SECRET,
            "display_name": "Connectivity Portal sign-in",
            "redirect_uris": sso_redirect_uris(site_url),
        }],
        # Besides Network Contributor, the platform creates one resource group per
        # organisation for its private DNS zones (see README, "Private DNS per organisation").
        "role_definitions": [{
            "Name": PLATFORM_GROUPS_ROLE,
            "Description": "Create the per-organisation resource groups of the Connectivity Portal.",
            "Actions": ["Microsoft.Resources/subscriptions/resourceGroups/read",
                        "Microsoft.Resources/subscriptions/resourceGroups/write"],
            "AssignableScopes": [f"/subscriptions/{settings.AZURE_PLATFORM_SUBSCRIPTION_ID}"],
        }],
        "people": [{
            "tenant_id": {"customer": CUSTOMER_TENANT_ID, "unclaimed": UNCLAIMED_TENANT_ID,
                          "platform": settings.AZURE_PLATFORM_TENANT_ID}[p["tenant"]],
            "email": p["email"], "name": p["name"], "mfa": p.get("mfa", False),
        } for p in SSO_PEOPLE],
        "managed_identities": [{
            "id": workload_identity_id(spec["name"]), "client_id": spec["client_id"],
            "principal_id": spec["principal_id"],
            "federated_credentials": [{
                "name": "connectivity-portal-verifier",
                "issuer": issuer,
                "subject": settings.WORKLOAD_IDENTITY_SUBJECT,
                "audiences": ["api://AzureADTokenExchange"]}],
        } for spec in WORKLOAD_IDENTITIES.values()],
        "role_assignments": [{
            "scope": f"/subscriptions/{settings.AZURE_PLATFORM_SUBSCRIPTION_ID}",
            "app_id": settings.AZURE_CLIENT_ID,
            "tenant_id": settings.AZURE_PLATFORM_TENANT_ID,
            "role": "Network Contributor",
        }, {
            "scope": f"/subscriptions/{settings.AZURE_PLATFORM_SUBSCRIPTION_ID}",
            "app_id": settings.AZURE_CLIENT_ID,
            "tenant_id": settings.AZURE_PLATFORM_TENANT_ID,
            "role": PLATFORM_GROUPS_ROLE,
        }],
    }
