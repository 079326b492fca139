"""Which Azure cloud the platform runs in, and which cloud a region belongs to.

A resource id says nothing of its cloud (the same shape everywhere); a Private Link service
alias carries its region (``<name>.<guid>.<region>.azure.privatelinkservice``), and the sovereign
clouds have regions of their own. The platform's cloud is ``AZURE_CLOUD`` when set, else the
cloud of its ARM endpoint (the simulator, or any other endpoint, counts as the public cloud).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse


@dataclass(frozen=True)
class Cloud:
    name: str  # as the Azure CLI names it (az cloud list)
    label: str
    arm_host: str
    regions: frozenset[str] = frozenset()  # the regions only this cloud has (empty: the rest)


PUBLIC = Cloud("AzureCloud", "the Azure public cloud", "management.azure.com")
US_GOVERNMENT = Cloud("AzureUSGovernment", "Azure Government", "management.usgovcloudapi.net",
                      frozenset({"usgovvirginia", "usgovtexas", "usgovarizona", "usgoviowa",
                                 "usdodeast", "usdodcentral"}))
CHINA = Cloud("AzureChinaCloud", "Azure operated by 21Vianet (China)",
              "management.chinacloudapi.cn",
              frozenset({"chinaeast", "chinaeast2", "chinaeast3", "chinanorth", "chinanorth2",
                         "chinanorth3"}))
CLOUDS: tuple[Cloud, ...] = (PUBLIC, US_GOVERNMENT, CHINA)
_BY_NAME = {c.name.lower(): c for c in CLOUDS}


def by_name(name: str) -> Cloud | None:
    return _BY_NAME.get(name.strip().lower())


def of_region(region: str) -> Cloud:
    """The cloud a region belongs to (any region not of a sovereign cloud is public)."""
    region = region.strip().lower().replace(" ", "")
    return next((c for c in CLOUDS if region in c.regions), PUBLIC)


def platform_cloud() -> Cloud:
    """The platform's cloud: ``AZURE_CLOUD`` (a name as ``az cloud list`` shows it), else the
    cloud of ``AZURE_ARM_ENDPOINT``."""
    from django.conf import settings

    named = str(getattr(settings, "AZURE_CLOUD", "") or "")
    if named:
        found = by_name(named)
        if found is not None:
            return found
    host = urlparse(str(getattr(settings, "AZURE_ARM_ENDPOINT", "") or "")).hostname or ""
    return next((c for c in CLOUDS if c.arm_host == host), PUBLIC)
