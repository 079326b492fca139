"""Never the platform's own scopes: a customer request may not target the platform's tenant, a
subscription the platform's clusters live in, or a cluster VNet.

The platform's identity holds rights there anyway (Network Contributor on the clusters'
subscription), so a check "does the platform hold the role on this VNet?" would pass for any
organisation naming, say, another organisation's cluster VNet. Such requests are refused at
create with a field error, and pre-flight checks again (clusters are added after requests).
"""

from __future__ import annotations

from django.conf import settings

from connectivity.models import Cluster


def _subscription_of(resource_id: str) -> str:
    parts = [p for p in (resource_id or "").split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1].lower()
    return ""


def _norm(resource_id: str) -> str:
    return "/" + "/".join(p for p in (resource_id or "").lower().split("/") if p)


def platform_subscriptions() -> set[str]:
    """The platform's subscription and every subscription a cluster VNet lives in."""
    subscriptions = {settings.AZURE_PLATFORM_SUBSCRIPTION_ID.lower()}
    for vnet_id in Cluster.objects.values_list("vnet_id", flat=True):
        if sub := _subscription_of(vnet_id):
            subscriptions.add(sub)
    return subscriptions


def platform_scope_errors(*, tenant_id: str, subscription_id: str, vnet_id: str
                          ) -> dict[str, list[str]]:
    """Field errors (field name → messages) for a customer side that is the platform's own."""
    errors: dict[str, list[str]] = {}
    if tenant_id and tenant_id.lower() == settings.AZURE_PLATFORM_TENANT_ID.lower():
        errors["tenant_id"] = [
            "Tenant ID must be your own organisation's tenant, not the platform's: a request "
            "connects a network you control to the platform."]
    if subscription_id and subscription_id.lower() in platform_subscriptions():
        errors["subscription_id"] = [
            "Subscription ID must be a subscription of yours: this one holds the platform's "
            "own networks."]
    if vnet_id and _norm(vnet_id) in {_norm(v) for v in
                                      Cluster.objects.values_list("vnet_id", flat=True)}:
        errors["vnet_name"] = [
            "VNet name must name your own VNet: this is a cluster VNet of the platform."]
    return errors
