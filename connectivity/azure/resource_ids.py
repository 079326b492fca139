"""Parse and build Azure Resource Manager resource ids.

Ids look like ``/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{child
type}/{child name}...]``. Azure treats the fixed segments case-insensitively; so do we, and we
always build ids in the canonical casing.
"""

from __future__ import annotations

from dataclasses import dataclass

NETWORK = "Microsoft.Network"


@dataclass(frozen=True)
class ResourceId:
    """A parsed resource id. ``types``/``names`` hold the resource type chain below the provider
    (``("virtualNetworks", "virtualNetworkPeerings")`` for a peering)."""

    subscription_id: str
    resource_group: str | None = None
    provider: str | None = None
    types: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The last name segment (the resource's own name)."""
        if not self.names:
            return self.resource_group or self.subscription_id
        return self.names[-1]

    @property
    def group(self) -> str:
        """The resource group, for ids that must have one (raises ValueError otherwise)."""
        if self.resource_group is None:
            raise ValueError(f"Azure resource id has no resource group: {self}")
        return self.resource_group

    @property
    def type(self) -> str:
        """The full resource type, e.g. ``Microsoft.Network/virtualNetworks``."""
        if not self.provider:
            return "Microsoft.Resources/resourceGroups" if self.resource_group else ""
        return "/".join((self.provider, *self.types))

    @property
    def parent(self) -> ResourceId:
        """The id of the parent resource (resource group for a top-level resource)."""
        if len(self.names) > 1:
            return ResourceId(
                self.subscription_id,
                self.resource_group,
                self.provider,
                self.types[:-1],
                self.names[:-1],
            )
        if self.names:
            return ResourceId(self.subscription_id, self.resource_group)
        return ResourceId(self.subscription_id)

    def is_type(self, full_type: str) -> bool:
        """True when this id is of ``full_type`` (case-insensitive)."""
        return self.type.lower() == full_type.lower()

    def __str__(self) -> str:
        parts = ["", "subscriptions", self.subscription_id]
        if self.resource_group is not None:
            parts += ["resourceGroups", self.resource_group]
        if self.provider:
            parts += ["providers", self.provider]
            for type_, name in zip(self.types, self.names, strict=True):
                parts += [type_, name]
        return "/".join(parts)


def parse(resource_id: str) -> ResourceId:
    """Parse ``resource_id``; raise ``ValueError`` naming the problem if it is malformed."""
    if not isinstance(resource_id, str) or not resource_id.startswith("/"):
        raise ValueError(f"Not an Azure resource id (must start with /subscriptions/): {resource_id!r}")
    segments = resource_id.strip().rstrip("/").split("/")[1:]
    if any(not s for s in segments):
        raise ValueError(f"Azure resource id has an empty segment: {resource_id!r}")
    if len(segments) < 2 or segments[0].lower() != "subscriptions":
        raise ValueError(f"Not an Azure resource id (must start with /subscriptions/): {resource_id!r}")
    subscription_id = segments[1]
    rest = segments[2:]
    if not rest:
        return ResourceId(subscription_id)
    if rest[0].lower() != "resourcegroups" or len(rest) < 2:
        raise ValueError(f"Azure resource id has no resource group: {resource_id!r}")
    resource_group = rest[1]
    rest = rest[2:]
    if not rest:
        return ResourceId(subscription_id, resource_group)
    if rest[0].lower() != "providers" or len(rest) < 2:
        raise ValueError(f"Azure resource id has no provider after the resource group: {resource_id!r}")
    provider = rest[1]
    pairs = rest[2:]
    if not pairs or len(pairs) % 2:
        raise ValueError(f"Azure resource id must end in type/name pairs after the provider: {resource_id!r}")
    return ResourceId(subscription_id, resource_group, provider, tuple(pairs[0::2]), tuple(pairs[1::2]))


def parse_typed(resource_id: str, full_type: str) -> ResourceId:
    """Parse ``resource_id`` and check it is of ``full_type`` (e.g.
    ``Microsoft.Network/virtualNetworks``)."""
    parsed = parse(resource_id)
    if not parsed.is_type(full_type):
        raise ValueError(f"Expected a {full_type} resource id, got {resource_id!r}")
    return parsed


def build(
    *,
    subscription_id: str,
    resource_group: str | None = None,
    provider: str | None = None,
    types: tuple[str, ...] = (),
    names: tuple[str, ...] = (),
) -> str:
    """Build a resource id string from its parts."""
    if len(types) != len(names):
        raise ValueError("types and names must have the same length")
    if provider and resource_group is None:
        raise ValueError("a provider resource needs a resource group")
    return str(ResourceId(subscription_id, resource_group, provider, tuple(types), tuple(names)))


def resource_group_id(subscription_id: str, resource_group: str) -> str:
    """``/subscriptions/{sub}/resourceGroups/{rg}``."""
    return build(subscription_id=subscription_id, resource_group=resource_group)


def vnet_id(subscription_id: str, resource_group: str, name: str) -> str:
    """The id of a virtual network."""
    return build(
        subscription_id=subscription_id,
        resource_group=resource_group,
        provider=NETWORK,
        types=("virtualNetworks",),
        names=(name,),
    )


def peering_id(vnet: str, name: str) -> str:
    """The id of a peering named ``name`` on the VNet ``vnet``."""
    v = parse_typed(vnet, "Microsoft.Network/virtualNetworks")
    return str(
        ResourceId(
            v.subscription_id,
            v.resource_group,
            v.provider,
            (*v.types, "virtualNetworkPeerings"),
            (*v.names, name),
        )
    )


def private_zone_id(subscription_id: str, resource_group: str, zone_name: str) -> str:
    """The id of a private DNS zone."""
    return build(
        subscription_id=subscription_id,
        resource_group=resource_group,
        provider=NETWORK,
        types=("privateDnsZones",),
        names=(zone_name,),
    )


def same(a: str, b: str) -> bool:
    """Whether two resource ids name the same resource (Azure compares ids case-insensitively)."""
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def virtual_hub_id(subscription_id: str, resource_group: str, name: str) -> str:
    """The id of a Virtual WAN hub."""
    return build(
        subscription_id=subscription_id,
        resource_group=resource_group,
        provider=NETWORK,
        types=("virtualHubs",),
        names=(name,),
    )


def hub_route_table_id(hub: str, name: str) -> str:
    """The id of the route table ``name`` (e.g. ``defaultRouteTable``) of the hub ``hub``."""
    h = parse_typed(hub, "Microsoft.Network/virtualHubs")
    return str(ResourceId(h.subscription_id, h.resource_group, h.provider,
                          (*h.types, "hubRouteTables"), (*h.names, name)))
