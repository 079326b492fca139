"""Input rules shared by forms, serializers and services. Each error names the rule broken.

The Azure naming rules follow Microsoft's "Naming rules and restrictions for Azure resources".
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError

MAX_RECORDS = 20
MAX_DNS_SERVERS = 6

_RESOURCE_GROUP = re.compile(r"^[-\w._()]{1,90}$")
# VNet: 2-64 chars, alphanumerics, underscores, periods and hyphens; starts alphanumeric,
# ends alphanumeric or underscore.
_VNET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$")
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_RECORD_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_RECORD_NAME = re.compile(rf"^(?:@|\*|(?:\*\.)?{_RECORD_LABEL}(?:\.{_RECORD_LABEL})*)$")
_VNET_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<resource_group>[^/]+)"
    r"/providers/Microsoft\.Network/virtualNetworks/(?P<vnet>[^/]+)/?$",
    re.IGNORECASE,
)


def _reject_control_chars(value: str, field: str) -> None:
    if any(ord(ch) < 32 or ch == "\x7f" for ch in value):
        raise ValidationError(f"{field} must not contain control characters.", code="control")


def validate_guid(value: str, field: str = "This value") -> str:
    """Tenant and subscription ids are GUIDs: 8-4-4-4-12 hexadecimal digits."""
    value = (value or "").strip()
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise ValidationError(
            f"{field} must be a GUID like 00000000-0000-0000-0000-000000000000.", code="guid"
        ) from None
    if len(value) != 36:
        raise ValidationError(
            f"{field} must be a GUID like 00000000-0000-0000-0000-000000000000.", code="guid")
    return str(parsed)


def validate_resource_group(value: str) -> str:
    value = (value or "").strip()
    _reject_control_chars(value, "Resource group")
    if not _RESOURCE_GROUP.match(value) or value.endswith("."):
        raise ValidationError(
            "Resource group names are 1-90 characters: letters, digits, underscores, hyphens, "
            "periods and parentheses, not ending in a period.",
            code="resource_group",
        )
    return value


def validate_vnet_name(value: str) -> str:
    value = (value or "").strip()
    _reject_control_chars(value, "VNet name")
    if not _VNET_NAME.match(value) or len(value) < 2:
        raise ValidationError(
            "VNet names are 2-64 characters: letters, digits, underscores, periods and hyphens; "
            "they start with a letter or digit and end with a letter, digit or underscore.",
            code="vnet_name",
        )
    return value


@dataclass(frozen=True)
class VNetReference:
    subscription_id: str
    resource_group: str
    vnet_name: str


def parse_vnet_id(value: str) -> VNetReference:
    """Split a full VNet resource id, as copied from the Azure portal's JSON view."""
    value = (value or "").strip()
    match = _VNET_ID.match(value)
    if not match:
        raise ValidationError(
            "A VNet resource id looks like /subscriptions/<subscription id>/resourceGroups/"
            "<group>/providers/Microsoft.Network/virtualNetworks/<name>.",
            code="vnet_id",
        )
    return VNetReference(
        subscription_id=validate_guid(match["subscription"], "The subscription in the VNet id"),
        resource_group=validate_resource_group(match["resource_group"]),
        vnet_name=validate_vnet_name(match["vnet"]),
    )


def validate_dns_name(value: str, field: str = "Domain name") -> str:
    """A fully qualified DNS name: at least two labels, 253 characters at most, no trailing dot."""
    value = (value or "").strip().lower().rstrip(".")
    _reject_control_chars(value, field)
    labels = value.split(".")
    if (
        len(value) > 253
        or len(labels) < 2
        or not all(_DNS_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValidationError(
            f"{field} must be a DNS name like corp.example.com: two or more labels of letters, "
            "digits and hyphens (1-63 characters each, not starting or ending with a hyphen).",
            code="dns_name",
        )
    return value


def validate_record_name(value: str) -> str:
    """A record set name relative to its zone: `@` for the apex, or labels like `db` or `api.eu`."""
    value = (value or "").strip().lower()
    _reject_control_chars(value, "Record name")
    if len(value) > 253 or not _RECORD_NAME.match(value):
        raise ValidationError(
            "Record names are relative to the zone, like db or api.eu (letters, digits, hyphens, "
            "underscores), or @ for the zone itself.",
            code="record_name",
        )
    return value


#: What "private" means for every IP a customer gives (A records, DNS servers): RFC 1918 only.
#: 100.64.0.0/10 (RFC 6598 shared address space) is deliberately refused: it is carrier-grade
#: NAT space, not a customer's private network, and Azure itself uses parts of it.
PRIVATE_IPV4_NETWORKS = (
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv4Network("172.16.0.0/12"),
    ipaddress.IPv4Network("192.168.0.0/16"),
)


def validate_private_ipv4(value: str, field: str = "IP address") -> str:
    """An RFC 1918 address, the only kind the message promises."""
    value = (value or "").strip()
    try:
        ip = ipaddress.IPv4Address(value)
    except (ipaddress.AddressValueError, ValueError):
        raise ValidationError(f"{field} must be an IPv4 address like 10.1.2.3.", code="ipv4") from None
    if not any(ip in network for network in PRIVATE_IPV4_NETWORKS):
        raise ValidationError(
            f"{field} must be a private address (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16).",
            code="private_ipv4",
        )
    return str(ip)


def validate_cidr(value: str, field: str = "Address prefix") -> str:
    value = (value or "").strip()
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        raise ValidationError(
            f"{field} must be an IPv4 CIDR like 10.1.0.0/16 with no host bits set.", code="cidr"
        ) from None
    return str(network)


def validate_records(value: object) -> list[dict[str, str]]:
    """A list of A records: [{"name": ..., "ip": ...}], 1 to MAX_RECORDS, no duplicate pairs."""
    if not isinstance(value, list) or not value:
        raise ValidationError("Add at least one A record (a name and a private IP).", code="records")
    if len(value) > MAX_RECORDS:
        raise ValidationError(f"At most {MAX_RECORDS} records per request.", code="records_max")
    cleaned: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for position, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise ValidationError(f"Record {position} must have a name and an ip.", code="records")
        name = validate_record_name(str(item.get("name", "")))
        ip = validate_private_ipv4(str(item.get("ip", "")), f"Record {position}'s IP")
        if (name, ip) in seen:
            raise ValidationError(f"Record {position} repeats {name} → {ip}.", code="records_dup")
        seen.add((name, ip))
        cleaned.append({"name": name, "ip": ip})
    return cleaned


def validate_dns_servers(value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one DNS server IP.", code="dns_servers")
    if len(value) > MAX_DNS_SERVERS:
        raise ValidationError(f"At most {MAX_DNS_SERVERS} DNS servers.", code="dns_servers_max")
    servers = [validate_private_ipv4(str(ip), "DNS server IP") for ip in value]
    if len(set(servers)) != len(servers):
        raise ValidationError("Each DNS server IP may appear once.", code="dns_servers_dup")
    return servers


def parse_prefixes(prefixes: list[str], field: str = "Address prefix") -> list[
        ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Every prefix as a network; one that does not parse is an error, never skipped, so an
    overlap check built on this fails closed."""
    networks = []
    for prefix in prefixes:
        try:
            networks.append(ipaddress.ip_network(str(prefix).strip(), strict=False))
        except (ValueError, TypeError):
            raise ValidationError(f"{field} {prefix!r} is not a CIDR like 10.1.0.0/16.",
                                  code="cidr") from None
    return networks


def prefixes_overlap(first: list[str], second: list[str]) -> list[tuple[str, str]]:
    """Every pair of overlapping CIDRs between two address spaces. Raises ValidationError when
    a prefix does not parse: an unknown address space is never taken for a disjoint one."""
    pairs = []
    nets_b = parse_prefixes(second)
    for a, net_a in zip(first, parse_prefixes(first), strict=True):
        for b, net_b in zip(second, nets_b, strict=True):
            if net_a.version == net_b.version and net_a.overlaps(net_b):
                pairs.append((a, b))
    return pairs


#: Addresses Azure keeps for itself in every VNet: link-local 169.254.0.0/16 (instance metadata
#: at 169.254.169.254, among others) and the platform's virtual public IP 168.63.129.16 (DNS,
#: DHCP, health probes). A VNet whose address space includes them cannot be peered safely.
AZURE_RESERVED_NETWORKS = (
    ipaddress.IPv4Network("169.254.0.0/16"),
    ipaddress.IPv4Network("168.63.129.16/32"),
)


def reserved_overlaps(prefixes: list[str]) -> list[str]:
    """The prefixes of an address space that include an Azure-reserved range (fails closed:
    an unparsable prefix is reported too)."""
    found = []
    for prefix in prefixes:
        try:
            network = ipaddress.ip_network(str(prefix).strip(), strict=False)
        except (ValueError, TypeError):
            found.append(f"{prefix} (not a CIDR)")
            continue
        for reserved in AZURE_RESERVED_NETWORKS:
            if network.version == reserved.version and network.overlaps(reserved):
                found.append(f"{prefix} includes {reserved}")
    return found


def _endpoint_host(url: str) -> str | None:
    from urllib.parse import urlparse

    host = (urlparse(url).hostname or "").lower()
    return host if host and not host.replace(".", "").isdigit() and "." in host else None


def _reserved_reason(name: str) -> str | None:
    from django.conf import settings

    from connectivity.reserved_dns import reserved_domain_for

    domain = reserved_domain_for(name)
    if domain is not None:
        return domain
    for setting in ("AZURE_ARM_ENDPOINT", "AZURE_AUTHORITY_HOST"):
        host = _endpoint_host(str(getattr(settings, setting, "") or ""))
        if host and (name == host or name.endswith("." + host) or host.endswith("." + name)):
            return host
    return None


def validate_zone_name(value: str, field: str = "Zone name") -> str:
    """A DNS name that captures no Microsoft or platform service, except the documented
    privatelink.* zones (see connectivity.reserved_dns)."""
    from connectivity.reserved_dns import is_private_link_zone

    name = validate_dns_name(value, field)
    if is_private_link_zone(name):
        return name
    domain = _reserved_reason(name)
    if domain is not None:
        raise ValidationError(
            f"{field} {name} is not allowed: it would take over {domain}, a Microsoft or Azure "
            "service domain. Zones at, below or above Azure and Microsoft service domains are "
            "refused, except the privatelink.* zones Private Link documents (e.g. "
            "privatelink.blob.core.windows.net).",
            code="reserved_dns_name",
        )
    return name


def validate_forwarding_domain(value: str, field: str = "Domain name") -> str:
    """A DNS name that captures no Microsoft or platform service. No privatelink exception: a
    forwarded domain is answered by the customer's server, whatever it says, for every name
    below it (every storage account's privatelink name, the platform's too)."""
    name = validate_dns_name(value, field)
    domain = _reserved_reason(name)
    if domain is not None:
        raise ValidationError(
            f"{field} {name} is not allowed: forwarding it would send queries for {domain}, a "
            "Microsoft or Azure service domain, to your DNS servers. Forwarding at, below or "
            "above Azure and Microsoft service domains (privatelink.* included) is refused.",
            code="reserved_dns_name",
        )
    return name


# --- Private Link targets -----------------------------------------------------------------------

PRIVATE_LINK_SERVICE_TYPE = "Microsoft.Network/privateLinkServices"

#: The PaaS types a private endpoint may target: group id (sub-resource) -> the ``privatelink.*``
#: private DNS zone its A record belongs in (Microsoft's "Azure Private Endpoint private DNS zone
#: values"; every zone here is on reserved_dns.PRIVATE_LINK_ZONES' allow list).
PRIVATE_LINK_GROUPS: dict[str, dict[str, str]] = {
    "Microsoft.Storage/storageAccounts": {
        "blob": "privatelink.blob.core.windows.net",
        "dfs": "privatelink.dfs.core.windows.net",
        "file": "privatelink.file.core.windows.net",
        "queue": "privatelink.queue.core.windows.net",
        "table": "privatelink.table.core.windows.net",
        "web": "privatelink.web.core.windows.net",
    },
    "Microsoft.Sql/servers": {"sqlServer": "privatelink.database.windows.net"},
    "Microsoft.KeyVault/vaults": {"vault": "privatelink.vaultcore.azure.net"},
    "Microsoft.DocumentDB/databaseAccounts": {
        "Sql": "privatelink.documents.azure.com",
        "MongoDB": "privatelink.mongo.cosmos.azure.com",
        "Cassandra": "privatelink.cassandra.cosmos.azure.com",
        "Gremlin": "privatelink.gremlin.cosmos.azure.com",
        "Table": "privatelink.table.cosmos.azure.com",
    },
    "Microsoft.EventHub/namespaces": {"namespace": "privatelink.servicebus.windows.net"},
}

#: Each target type's resource-name rule (Microsoft's naming rules), and how to say it.
_TARGET_NAMES: dict[str, tuple[re.Pattern[str], str]] = {
    PRIVATE_LINK_SERVICE_TYPE: (
        re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$"),
        "Private Link service names are 1-80 letters, digits, underscores, periods and hyphens, "
        "starting with a letter or digit and ending with a letter, digit or underscore"),
    "Microsoft.Storage/storageAccounts": (
        re.compile(r"^[a-z0-9]{3,24}$"),
        "storage account names are 3-24 lower-case letters and digits"),
    "Microsoft.Sql/servers": (
        re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$"),
        "SQL server names are 1-63 lower-case letters, digits and hyphens, not starting or "
        "ending with a hyphen"),
    "Microsoft.KeyVault/vaults": (
        re.compile(r"^(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$"),
        "key vault names are 3-24 letters, digits and hyphens, starting with a letter, ending "
        "with a letter or digit, without two hyphens in a row"),
    "Microsoft.DocumentDB/databaseAccounts": (
        re.compile(r"^(?!-)[a-z0-9-]{3,44}(?<!-)$"),
        "Cosmos DB account names are 3-44 lower-case letters, digits and hyphens, not starting "
        "or ending with a hyphen"),
    "Microsoft.EventHub/namespaces": (
        re.compile(r"^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$"),
        "Event Hubs namespace names are 6-50 letters, digits and hyphens, starting with a "
        "letter and ending with a letter or digit"),
}
_TARGET_TYPES = {t.lower(): t for t in _TARGET_NAMES}
_TARGET_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<resource_group>[^/]+)"
    r"/providers/(?P<namespace>[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)
_ALIAS = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,79})\.(?P<guid>[0-9A-Fa-f-]{36})"
    r"\.(?:(?P<region>[a-z0-9]+)\.)?azure\.privatelinkservice$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PrivateLinkTargetRef:
    """A customer's Private Link target: a resource id (``resource_type`` set) or an alias."""

    resource_id: str | None = None
    resource_type: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    name: str | None = None
    alias: str | None = None

    @property
    def group_ids(self) -> tuple[str, ...]:
        """The sub-resources this target offers (none for a Private Link service)."""
        return tuple(PRIVATE_LINK_GROUPS.get(self.resource_type or "", {}))


def parse_private_link_resource_id(value: str, field: str = "Target resource id") -> (
        PrivateLinkTargetRef):
    """A Private Link service's or supported PaaS resource's full id, in canonical casing."""
    value = (value or "").strip()
    _reject_control_chars(value, field)
    match = _TARGET_ID.match(value)
    if not match:
        raise ValidationError(
            f"{field} must be a resource id like /subscriptions/<subscription id>/resourceGroups/"
            "<group>/providers/<namespace>/<type>/<name>.", code="resource_id")
    full_type = _TARGET_TYPES.get(f"{match['namespace']}/{match['type']}".lower())
    if full_type is None:
        raise ValidationError(
            f"{field} must name a Private Link service or one of these resource types: "
            f"{', '.join(PRIVATE_LINK_GROUPS)}; {match['namespace']}/{match['type']} is not "
            "supported.", code="resource_type")
    subscription = validate_guid(match["subscription"], f"The subscription in the {field}")
    resource_group = validate_resource_group(match["resource_group"])
    pattern, rule = _TARGET_NAMES[full_type]
    if not pattern.match(match["name"]):
        raise ValidationError(f"{field}: {rule}.", code="resource_name")
    return PrivateLinkTargetRef(
        resource_id=(f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
                     f"{full_type}/{match['name']}"),
        resource_type=full_type, subscription_id=subscription, resource_group=resource_group,
        name=match["name"])


def validate_private_link_alias(value: str, field: str = "Alias") -> str:
    """A Private Link service alias: <service name>.<GUID>[.<region>].azure.privatelinkservice."""
    value = (value or "").strip()
    _reject_control_chars(value, field)
    match = _ALIAS.match(value)
    if not match:
        raise ValidationError(
            f"{field} must be a Private Link service alias like "
            "myservice.00000000-0000-0000-0000-000000000000.westeurope.azure.privatelinkservice.",
            code="alias")
    validate_guid(match["guid"], f"The GUID in the {field}")
    return value.lower()


def private_link_alias_region(alias: str) -> str | None:
    """The region an alias names (``….westeurope.azure.privatelinkservice``), if it names one."""
    match = _ALIAS.match((alias or "").strip())
    return match["region"].lower() if match and match["region"] else None


def parse_private_link_target(value: str, field: str = "Target") -> PrivateLinkTargetRef:
    """A resource id (starting with /subscriptions/) or a Private Link service alias."""
    value = (value or "").strip()
    if value.startswith("/"):
        return parse_private_link_resource_id(value, field)
    return PrivateLinkTargetRef(alias=validate_private_link_alias(value, field))


def validate_group_id(target: PrivateLinkTargetRef, value: str | None,
                      field: str = "Sub-resource") -> str | None:
    """The group id for ``target``, canonically cased; None for a Private Link service or alias,
    which take none."""
    value = (value or "").strip()
    if target.resource_type in PRIVATE_LINK_GROUPS:
        groups = PRIVATE_LINK_GROUPS[target.resource_type]
        canonical = {g.lower(): g for g in groups}.get(value.lower())
        if canonical is None:
            raise ValidationError(
                f"{field} must be one of {', '.join(groups)} for a {target.resource_type} "
                f"target{'' if not value else f', not {value}'}.", code="group_id")
        return canonical
    if value:
        raise ValidationError(
            f"{field} must be empty for a Private Link service: it has no sub-resources.",
            code="group_id")
    return None


def private_link_zone(resource_type: str, group_id: str) -> str:
    """The ``privatelink.*`` private DNS zone for a PaaS type's group id."""
    return PRIVATE_LINK_GROUPS[resource_type][group_id]


# --------------------------------------------------------------------------------------------
# Virtual WAN hubs

# Virtual hubs and their route tables: 1-80 characters, letters, digits, underscores, periods
# and hyphens; they start with a letter or digit and end with a letter, digit or underscore.
_HUB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$")
_HUB_ID = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<resource_group>[^/]+)"
    r"/providers/Microsoft\.Network/virtualHubs/(?P<hub>[^/]+)/?$",
    re.IGNORECASE,
)
MAX_ROUTE_TABLES = 20


@dataclass(frozen=True)
class HubReference:
    """A virtual hub the customer named: by name (``subscription_id`` and ``resource_group``
    None: take them from the request's other fields) or by its full resource id."""

    subscription_id: str | None
    resource_group: str | None
    hub_name: str


def validate_hub_name(value: str, field: str = "Virtual hub name") -> str:
    value = (value or "").strip()
    _reject_control_chars(value, field)
    if not _HUB_NAME.match(value):
        raise ValidationError(
            f"{field}: virtual hub names are 1-80 characters: letters, digits, underscores, "
            "periods and hyphens; they start with a letter or digit and end with a letter, "
            "digit or underscore.",
            code="hub_name",
        )
    return value


def parse_virtual_hub(value: str, field: str = "Virtual hub") -> HubReference:
    """The hub's name, or its full resource id as copied from the Azure portal's JSON view
    (``/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/virtualHubs/
    <name>``)."""
    value = (value or "").strip()
    _reject_control_chars(value, field)
    if not value:
        raise ValidationError(f"{field}: give the hub's name or its resource id.",
                              code="hub_required")
    if not value.startswith("/"):
        return HubReference(None, None, validate_hub_name(value, f"{field} name"))
    match = _HUB_ID.match(value)
    if not match:
        raise ValidationError(
            f"{field}: a virtual hub resource id looks like /subscriptions/<subscription id>/"
            "resourceGroups/<group>/providers/Microsoft.Network/virtualHubs/<name>.",
            code="hub_id",
        )
    return HubReference(
        subscription_id=validate_guid(match["subscription"], f"The subscription in the {field} id"),
        resource_group=validate_resource_group(match["resource_group"]),
        hub_name=validate_hub_name(match["hub"], f"{field} name"),
    )


def validate_route_table_name(value: str, field: str = "Route table") -> str:
    """A hub route table's name (``defaultRouteTable``, ``noneRouteTable`` or the customer's
    own), not its id: the table must be one of the hub's."""
    value = (value or "").strip()
    _reject_control_chars(value, field)
    if value.startswith("/"):
        raise ValidationError(
            f"{field}: give the route table's name (e.g. defaultRouteTable), not its id; it "
            "must be a route table of the same hub.",
            code="route_table_id",
        )
    if not _HUB_NAME.match(value):
        raise ValidationError(
            f"{field}: route table names are 1-80 characters: letters, digits, underscores, "
            "periods and hyphens; they start with a letter or digit and end with a letter, "
            "digit or underscore.",
            code="route_table_name",
        )
    return value


def validate_route_table_names(value: object, field: str = "Propagated route tables") -> list[str]:
    """A list of distinct hub route table names (at most ``MAX_ROUTE_TABLES``)."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{field} must be a list of route table names.",
                              code="route_tables_list")
    if len(value) > MAX_ROUTE_TABLES:
        raise ValidationError(f"{field}: at most {MAX_ROUTE_TABLES} route tables.",
                              code="route_tables_max")
    names = [validate_route_table_name(v, field) for v in value]
    lowered = [n.lower() for n in names]
    duplicate = next((n for i, n in enumerate(names) if n.lower() in lowered[:i]), None)
    if duplicate:
        raise ValidationError(f"{field}: {duplicate} is listed twice.", code="route_tables_unique")
    return names
