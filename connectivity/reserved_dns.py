"""DNS names no customer may take over on a cluster's network.

A private DNS zone linked to a cluster VNet, or a forwarding rule in its ruleset, answers every
query for its name and everything below it. A zone or rule for a Microsoft or Azure service
domain would capture the cluster's (and the platform's) traffic to Entra ID sign-in, Azure
Resource Manager, storage, registries and so on; one for a parent of such a domain (``net``,
``windows.net``) captures even more. So those names, their subdomains and their parents are
refused, with one exception for private DNS zones: the ``privatelink.*`` zones that Microsoft
documents for private endpoints ("Azure Private Endpoint private DNS zone values"), because
Private Link needs exactly those names and a zone only holds the records the portal validated.

This module is the one place these lists live; validators.py applies them.
"""

from __future__ import annotations

import re

#: Public service domains of Microsoft and Azure (public cloud and the sovereign clouds).
#: Keep these registrable-level where the whole domain is Microsoft's (``windows.net``); a name
#: is refused when it equals one of these, lies below one, or is a parent of one.
MICROSOFT_SERVICE_DOMAINS: frozenset[str] = frozenset({
    # Identity and sign-in
    "microsoftonline.com", "microsoftonline-p.com", "microsoftonline.us", "microsoftonline.cn",
    "msauth.net", "msftauth.net", "msidentity.com", "onmicrosoft.com", "live.com",
    # Azure Resource Manager, portal and the service namespaces
    "azure.com", "azure.net", "azure.us", "azure.cn", "windows.net", "windowsazure.com",
    "microsoft.com", "microsoft.net", "azurecr.io", "azurewebsites.net", "cloudapp.net",
    "azure-api.net", "azureedge.net", "azurefd.net", "azure-devices.net", "azure-automation.net",
    "azure-mobile.net", "trafficmanager.net", "azurestaticapps.net", "azurecontainerapps.io",
    "azuresynapse.net", "azurehdinsight.net", "azuredatabricks.net", "azmk8s.io", "azconfig.io",
    "azureml.ms", "azurehealthcareapis.com", "azureiotcentral.com", "signalr.net",
    "botframework.com", "applicationinsights.io", "loganalytics.io", "msecnd.net",
    "visualstudio.com", "windowsupdate.com", "office.com", "office365.com", "sharepoint.com",
    "outlook.com",
    # Sovereign clouds
    "usgovcloudapi.net", "chinacloudapi.cn", "cloudapi.de",
})

#: The private endpoint zones from Microsoft's documented list that a customer may file as a
#: private DNS zone. Deliberately absent: ``privatelink.azure.com`` (Resource Management
#: private links: it would capture the platform's own calls to Azure Resource Manager).
PRIVATE_LINK_ZONES: frozenset[str] = frozenset({
    "privatelink.azure-automation.net", "privatelink.agentsvc.azure-automation.net",
    "privatelink.database.windows.net", "privatelink.sql.azuresynapse.net",
    "privatelink.dev.azuresynapse.net", "privatelink.azuresynapse.net",
    "privatelink.blob.core.windows.net", "privatelink.table.core.windows.net",
    "privatelink.queue.core.windows.net", "privatelink.file.core.windows.net",
    "privatelink.web.core.windows.net", "privatelink.dfs.core.windows.net",
    "privatelink.documents.azure.com", "privatelink.mongo.cosmos.azure.com",
    "privatelink.cassandra.cosmos.azure.com", "privatelink.gremlin.cosmos.azure.com",
    "privatelink.table.cosmos.azure.com", "privatelink.analytics.cosmos.azure.com",
    "privatelink.postgres.cosmos.azure.com", "privatelink.postgres.database.azure.com",
    "privatelink.mysql.database.azure.com", "privatelink.mariadb.database.azure.com",
    "privatelink.vaultcore.azure.net", "privatelink.managedhsm.azure.net",
    "privatelink.search.windows.net", "privatelink.azurecr.io", "privatelink.azconfig.io",
    "privatelink.siterecovery.windowsazure.com", "privatelink.servicebus.windows.net",
    "privatelink.azure-devices.net", "privatelink.eventgrid.azure.net",
    "privatelink.azurewebsites.net", "privatelink.api.azureml.ms", "privatelink.notebooks.azure.net",
    "privatelink.service.signalr.net", "privatelink.webpubsub.azure.com",
    "privatelink.monitor.azure.com", "privatelink.oms.opinsights.azure.com",
    "privatelink.ods.opinsights.azure.com", "privatelink.cognitiveservices.azure.com",
    "privatelink.openai.azure.com", "privatelink.afs.azure.net", "privatelink.datafactory.azure.net",
    "privatelink.adf.azure.com", "privatelink.redis.cache.windows.net",
    "privatelink.redisenterprise.cache.azure.net", "privatelink.purview.azure.com",
    "privatelink.purviewstudio.azure.com", "privatelink.digitaltwins.azure.net",
    "privatelink.azurehdinsight.net", "privatelink.his.arc.azure.com",
    "privatelink.guestconfiguration.azure.com", "privatelink.dp.kubernetesconfiguration.azure.com",
    "privatelink.media.azure.net", "privatelink.azurestaticapps.net",
    "privatelink.prod.migration.windowsazure.com", "privatelink.azure-api.net",
    "privatelink.developer.azure-api.net", "privatelink.analysis.windows.net",
    "privatelink.pbidedicated.windows.net", "privatelink.tip1.powerquery.microsoft.com",
    "privatelink.directline.botframework.com", "privatelink.token.botframework.com",
    "privatelink.workspace.azurehealthcareapis.com", "privatelink.fhir.azurehealthcareapis.com",
    "privatelink.dicom.azurehealthcareapis.com", "privatelink.azuredatabricks.net",
    "privatelink.batch.azure.com", "privatelink.wvd.microsoft.com",
    "privatelink-global.wvd.microsoft.com", "privatelink.grafana.azure.com",
    "privatelink.attest.azure.net",
})

#: Documented private endpoint zones that carry a region: privatelink.<region>.azmk8s.io etc.
PRIVATE_LINK_ZONE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^privatelink\.[a-z0-9]+\.azmk8s\.io$"),
    re.compile(r"^privatelink\.[a-z0-9]+\.azurecontainerapps\.io$"),
    re.compile(r"^privatelink\.[a-z0-9]+\.backup\.windowsazure\.com$"),
    re.compile(r"^[a-z0-9]+\.privatelink\.batch\.azure\.com$"),
)


def is_private_link_zone(name: str) -> bool:
    name = name.lower().rstrip(".")
    return name in PRIVATE_LINK_ZONES or any(p.match(name) for p in PRIVATE_LINK_ZONE_PATTERNS)


def reserved_domain_for(name: str) -> str | None:
    """The Microsoft service domain ``name`` would capture (``name`` itself, one it lies below,
    or one below ``name``), or None when ``name`` is free."""
    name = name.lower().rstrip(".")
    for domain in sorted(MICROSOFT_SERVICE_DOMAINS):
        if name == domain or name.endswith("." + domain) or domain.endswith("." + name):
            return domain
    return None
