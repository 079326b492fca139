"""Never the platform's own scopes: a customer request may not target the platform's tenant, a
subscription the platform's clusters live in, or a cluster VNet.

The platform's identity holds rights there anyway (Network Contributor on the clusters'
subscription), so a check "does the platform hold the role on this VNet?" would pass for any
organisation naming, say, another organisation's cluster VNet. Such requests are refused at
create with a field error, and pre-flight checks again (clusters are added after requests).
"""

from __future__ import annotations

import re

from django.conf import settings

from connectivity.models import Cluster


def _path_pattern(*parts: str, prefix: bool = False) -> str:
    """A case-insensitive regular expression for resource ids made of ``parts``, with any
    number of slashes between and around them: matched in the database, so a check reads no
    cluster rows however many clusters there are."""
    body = "/+".join(re.escape(p) for p in parts)
    return f"^/*{body}" + ("(/|$)" if prefix else "/*$")


def is_platform_subscription(subscription_id: str) -> bool:
    """Whether ``subscription_id`` is the platform's or holds a cluster VNet (one query)."""
    sub = subscription_id.strip().lower()
    if not sub:
        return False
    return sub == settings.AZURE_PLATFORM_SUBSCRIPTION_ID.lower() or Cluster.objects.filter(
        vnet_id__iregex=_path_pattern("subscriptions", sub, prefix=True)).exists()


def is_cluster_vnet(vnet_id: str) -> bool:
    """Whether ``vnet_id`` names a cluster VNet, however it is cased or slashed (one query)."""
    parts = [p for p in vnet_id.lower().split("/") if p]
    return bool(parts) and Cluster.objects.filter(vnet_id__iregex=_path_pattern(*parts)).exists()


def platform_scope_errors(*, tenant_id: str, subscription_id: str, vnet_id: str
                          ) -> dict[str, list[str]]:
    """Field errors (field name → messages) for a customer side that is the platform's own."""
    errors: dict[str, list[str]] = {}
    if tenant_id and tenant_id.lower() == settings.AZURE_PLATFORM_TENANT_ID.lower():
        errors["tenant_id"] = [
            "Tenant ID must be your own organisation's tenant, not the platform's: a request "
            "connects a network you control to the platform."]
    if subscription_id and is_platform_subscription(subscription_id):
        errors["subscription_id"] = [
            "Subscription ID must be a subscription of yours: this one holds the platform's "
            "own networks."]
    if vnet_id and is_cluster_vnet(vnet_id):
        errors["vnet_name"] = [
            "VNet name must name your own VNet: this is a cluster VNet of the platform."]
    return errors
