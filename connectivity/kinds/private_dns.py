"""Private DNS zone: a zone of the organisation's own, its A records, and a link to the
cluster's VNet, all in the platform's subscription. No role in the customer's.

ARM call budget: pre-flight 2 (zones linked to the cluster, the zone itself), the zone 3-4 (its
resource group, the PUT, a read or two while Azure creates it: about 21 s on real Azure), 2 per
record name (read, PUT when it differs), the link 2-4 (PUT, reads while it completes: about 65 s
on real Azure). Teardown: the link, each record set, the zone (its deletes are followed to
the end)."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import serializers

from connectivity import validators
from connectivity.kinds.base import (
    PLATFORM,
    Active,
    Kind,
    Next,
    Outcome,
    PlannedResource,
    Poll,
    Reading,
    Removed,
    SpecField,
    api_text,
    form_text,
    gateway,
    progress,
)
from connectivity.models import ConnectionStatus, ConnectivityRequest, RequestKind
from connectivity.preflight import (
    CLAIMING_STATES,
    Check,
    make_check,
    make_pending,
    transient_deadline,
)

logger = logging.getLogger(__name__)

ORGANIZATION_DNS_GROUP_PREFIX = "rg-cp-dns-org-"


def organization_dns_resource_group(organization_id: object) -> str:
    return f"{ORGANIZATION_DNS_GROUP_PREFIX}{organization_id}"


def planned_zone_id(request: ConnectivityRequest) -> str:
    """Where this request's zone lives: the one recorded once provisioning started (requests
    from before zones were per organisation keep theirs), else the organisation's own group."""
    from connectivity.azure import resource_ids

    recorded = (request.azure_resources or {}).get("zone_id")
    if recorded:
        return str(recorded)
    return resource_ids.private_zone_id(
        settings.AZURE_PLATFORM_SUBSCRIPTION_ID,
        organization_dns_resource_group(request.organization_id), request.zone_name.lower())


def _same_zone_name(a: str, b: str) -> bool:
    return a.lower().rstrip(".") == b.lower().rstrip(".")


def _own_zone_holder(request: ConnectivityRequest) -> ConnectivityRequest | None:
    """Another live request of the same organisation that owns a zone of this name."""
    others = ConnectivityRequest.objects.filter(
        organization_id=request.organization_id, kind=RequestKind.PRIVATE_DNS,
        spec__zone_name__iexact=request.zone_name.rstrip("."),
        state__in=CLAIMING_STATES).exclude(pk=request.pk)
    return others.order_by("created_at").first()


def private_dns_checks(request: ConnectivityRequest) -> list[Check]:
    """Names, then clashes. The clash check looks only at what the organisation may know of:
    zones linked to its own cluster's VNet (Azure links one zone per name to a VNet) and its
    own zones; other organisations' zones live in other groups and never show here."""
    from connectivity.azure import errors, gateway

    checks = []
    try:
        validators.validate_zone_name(request.zone_name, "Zone name")
        validators.validate_records(request.records)
        checks.append(make_check("names_valid", "Zone and record names, private IPs", True,
                             f"{request.zone_name} with {len(request.records)} A record(s)."))
    except ValidationError as exc:
        checks.append(make_check("names_valid", "Zone and record names, private IPs", False,
                             " ".join(exc.messages)))
    label = "No clash with a zone linked to the cluster"
    ours = bool(request.azure_resources.get("zone_id"))
    zone_id = planned_zone_id(request)
    try:
        linked = gateway.private_zones_linked_to(
            vnet_id=request.cluster.vnet_id,
            subscription_id=settings.AZURE_PLATFORM_SUBSCRIPTION_ID)
        existing = None if ours else gateway.private_zone_get(zone_id=zone_id)
    except errors.TransientAzureError as exc:
        return [*checks, make_pending("zone_clash", label, f"Azure did not answer ({exc.message}); "
                                  "checking again shortly.",
                                  retry_until=transient_deadline(request, "zone_clash"),
                                  transient=True)]
    except errors.GatewayError as exc:
        return [*checks, make_check("zone_clash", label, False, exc.message)]
    clash = [] if ours else [n for n in linked if _same_zone_name(n, request.zone_name)]
    holder = None if ours else _own_zone_holder(request)
    message = f"No zone named {request.zone_name} is linked to {request.cluster.name}."
    if clash:
        message = (f"A zone named {request.zone_name} is already linked to {request.cluster.name}; "
                   "Azure allows one per name. Add the records to that zone via support, or "
                   "choose another zone name.")
    elif holder is not None:
        message = (f"Your organisation's request {holder.short_id} already has the zone "
                   f"{request.zone_name}. Remove that connection first, or choose another "
                   "zone name.")
    elif existing is not None:
        endpoint = ConnectivityRequest.objects.filter(
            organization_id=request.organization_id, kind=RequestKind.PRIVATE_ENDPOINT,
            state__in=CLAIMING_STATES, azure_resources__zone_id__iexact=zone_id).first()
        message = (f"Your organisation's Private Link endpoint request {endpoint.short_id} keeps "
                   f"its DNS record in the zone {request.zone_name}; choose another zone name."
                   if endpoint is not None else
                   f"Your organisation already has a zone named {request.zone_name} that no "
                   "request owns; ask support to remove or adopt it.")
    ok = not clash and holder is None and existing is None
    checks.append(make_check("zone_clash", label, ok, message))
    return checks


# --- DNS forwarding ---------------------------------------------------------------------------


def zone_link_name(request: ConnectivityRequest) -> str:
    return f"cp-{request.short_id}-{request.cluster.vnet_id.rstrip('/').rsplit('/', 1)[-1]}"[:80]


def _records_by_name(request: ConnectivityRequest) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for record in request.records or []:
        grouped.setdefault(str(record["name"]).lower(), []).append(str(record["ip"]))
    return grouped


def _zone_id(request: ConnectivityRequest) -> str:
    return str(request.azure_resources.get("zone_id") or planned_zone_id(request))


def zone_started_or_read(request: ConnectivityRequest, *, zone_id: str,
                         zone_name: str) -> tuple[Any, str]:
    """The organisation's zone once Azure has provisioned it, else ``(None, what is going
    on)``: being created, or its creation just started (never a waiting worker). Shared by
    every kind that puts records in a zone of the organisation's (this one, the Private Link
    endpoint's ``privatelink.*`` zones)."""
    gw = gateway()
    zone = gw.private_zone_get(zone_id=zone_id)
    state = progress(zone.provisioning_state) if zone is not None else "missing"
    if state == "done":
        return zone, f"Private DNS zone {zone.name}: {zone.provisioning_state}."
    if state == "running":
        return None, (f"Azure is creating the private DNS zone {zone_name} "
                      f"({zone.provisioning_state}).")
    from connectivity.azure import resource_ids

    parsed = resource_ids.parse(zone_id)
    # The organisation's own group (created once, idempotently): its zones never share a
    # resource with another organisation's zone of the same name.
    gw.resource_group_ensure(
        subscription_id=parsed.subscription_id, name=parsed.resource_group,
        location=request.cluster.region or "westeurope",
        tags={"connectivity-portal-organization": request.organization.slug})
    gw.private_zone_create(subscription_id=parsed.subscription_id,
                           resource_group=parsed.resource_group, zone_name=zone_name.lower(),
                           wait=False)
    return None, (f"Started creating the private DNS zone {zone_name}"
                  + (" again: Azure reported it Failed." if state == "failed" else "."))


def link_started_or_read(request: ConnectivityRequest, *, zone_id: str, zone_name: str,
                         link_name: str) -> tuple[Any, str]:
    """The zone's link to the cluster VNet once it is in place, else ``(None, what is going
    on)``: being made (about a minute on real Azure), or just started."""
    gw = gateway()
    link = gw.zone_link_get(zone_id=zone_id, link_name=link_name)
    state = progress(link.provisioning_state) if link is not None else "missing"
    vnet = f"{request.cluster.name}'s VNet"
    if state == "done" and (link.link_state or "Completed").lower() == "completed":
        return link, f"{zone_name} is linked to {vnet} ({link.link_state or 'Completed'})."
    if state in ("running", "done"):
        return None, (f"Azure is linking {zone_name} to {vnet} ({link.provisioning_state}, "
                      f"{link.link_state}).")
    gw.zone_link_create(zone_id=zone_id, link_name=link_name, vnet_id=request.cluster.vnet_id,
                        wait=False)
    return None, (f"Started linking {zone_name} to {vnet}"
                  + (" again: Azure reported the link Failed." if state == "failed" else "."))


def _step_zone(request: ConnectivityRequest) -> Outcome:
    zone_id = _zone_id(request)
    zone, message = zone_started_or_read(request, zone_id=zone_id, zone_name=request.zone_name)
    if zone is None:
        return Poll(message)
    return Next("records", message, {"zone_id": zone.id or zone_id})


def _step_records(request: ConnectivityRequest) -> Outcome:
    gw = gateway()
    zone_id = _zone_id(request)
    ids = []
    for name, ips in _records_by_name(request).items():
        current = gw.a_record_set_get(zone_id=zone_id, name=name)
        if current is None or sorted(current.ips) != sorted(ips):
            current = gw.a_record_set_put(zone_id=zone_id, name=name, ips=ips)
        ids.append(current.id)
    return Next("link", f"{len(ids)} A record set(s) in {request.zone_name}.", {"record_ids": ids})


def _step_link(request: ConnectivityRequest) -> Outcome:
    link, message = link_started_or_read(request, zone_id=_zone_id(request),
                                         zone_name=request.zone_name,
                                         link_name=zone_link_name(request))
    if link is None:
        return Poll(message)
    return Active(message, {"link_id": link.id})


def _step_remove_link(request: ConnectivityRequest) -> Outcome:
    if not request.azure_resources.get("zone_id"):  # never created: nothing of ours to delete
        return Removed("Nothing had been created in Azure.")
    gone = gateway().zone_link_delete(zone_id=_zone_id(request), link_name=zone_link_name(request))
    return Next("remove_records", "Removed the zone's link to the cluster VNet." if gone else
                "The zone's link was already gone.")


def _step_remove_records(request: ConnectivityRequest) -> Outcome:
    zone_id = _zone_id(request)
    deleted = sum(bool(gateway().a_record_set_delete(zone_id=zone_id, name=name))
                  for name in _records_by_name(request))
    return Next("remove_zone", f"Deleted {deleted} A record set(s).")


def _step_remove_zone(request: ConnectivityRequest) -> Outcome:
    gone = gateway().private_zone_delete(zone_id=_zone_id(request))
    return Removed(f"Deleted the private DNS zone {request.zone_name}." if gone else
                   f"The zone {request.zone_name} was already gone.")




# --- The spec ---------------------------------------------------------------------------------


class RecordSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=253, allow_blank=True,
                                 help_text="Relative to the zone, e.g. db, or @ for the apex.")
    ip = serializers.CharField(max_length=64, allow_blank=True, help_text="A private IPv4 address.")


_RECORD_LINE = re.compile(r"[\s,=]+")


def _parse_record_lines(text: Any) -> list[dict[str, str]]:
    """The form's textarea: one "name ip" per line; errors start with the field's label."""
    if isinstance(text, list):
        return text
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    parsed = []
    for position, line in enumerate(lines, start=1):
        parts = _RECORD_LINE.split(line)
        if len(parts) != 2:
            raise ValidationError(
                f"A records: line {position} (“{line[:60]}”) must be a name and an IP "
                "separated by a space, like “db 10.20.1.4”.")
        parsed.append({"name": parts[0], "ip": parts[1]})
    try:
        return validators.validate_records(parsed)
    except ValidationError as exc:
        raise ValidationError(f"A records: {' '.join(exc.messages)}") from None


def _records_form(s: SpecField) -> Any:
    from django import forms

    return forms.CharField(label=s.label, help_text=s.help_text,
                           widget=forms.Textarea(attrs={"rows": 4}))


SPEC = (
    SpecField("zone_name", "Zone name", "For example corp.contoso.internal.",
              validate=lambda v: validators.validate_zone_name(v, "Zone name"), form=form_text(253),
              api=api_text(253, "Private DNS: the zone, e.g. corp.contoso.internal.")),
    SpecField("records", "A records",
              f"One per line: a name and a private IP, like “db 10.20.1.4”. "
              f"Up to {validators.MAX_RECORDS}; use @ for the zone itself.",
              validate=validators.validate_records, default=list, form=_records_form,
              parse_form=_parse_record_lines,
              api=lambda s: RecordSerializer(
                  many=True, required=False, max_length=validators.MAX_RECORDS,  # type: ignore[call-arg]
                  help_text="Private DNS: A records.")),
)


class PrivateDns(Kind):
    key = RequestKind.PRIVATE_DNS.value
    label = RequestKind.PRIVATE_DNS.label
    description = "A private DNS zone with your A records, linked to the cluster's VNet. No role needed."
    spec = SPEC
    identity_fields = ("zone_name",)
    first_step = "zone"
    first_remove_step = "remove_link"
    steps = {
        "zone": _step_zone,
        "records": _step_records,
        "link": _step_link,
        "remove_link": _step_remove_link,
        "remove_records": _step_remove_records,
        "remove_zone": _step_remove_zone,
    }
    resource_labels = {
        "zone_id": "Private DNS zone",
        "record_ids": "A record sets",
        "link_id": "Link to the cluster's VNet",
    }

    noun = "a private DNS zone"

    def target(self, request: ConnectivityRequest) -> str:
        return request.zone_name

    def form_initial(self, request: ConnectivityRequest) -> dict[str, Any]:
        return {"zone_name": request.zone_name,
                "records": "\n".join(f"{r['name']} {r['ip']}" for r in request.records or [])}

    def read_status(self, request: ConnectivityRequest) -> Reading | None:
        """The zone and its link to the cluster's VNet."""
        from connectivity.azure.errors import GatewayError

        health = ConnectionStatus.Health
        zone_id = str((request.azure_resources or {}).get("zone_id") or "")
        if not zone_id:
            return Reading(health.GONE, "No zone recorded", reason="The request recorded no zone.")
        try:
            zone = gateway().private_zone_get(zone_id=zone_id)
            link = gateway().zone_link_get(zone_id=zone_id, link_name=zone_link_name(request))
        except GatewayError as exc:
            logger.info("health check for %s postponed: %s", request.pk, exc.message)
            return None
        link_state = (link.link_state or "") if link is not None else "missing"
        parts = [
            {"label": self.resource_labels["zone_id"], "name": request.zone_name,
             "state": (zone.provisioning_state or "") if zone is not None else "missing"},
            {"label": self.resource_labels["link_id"], "name": zone_link_name(request),
             "state": link_state},
        ]
        if zone is None or link is None:
            return Reading(health.DEGRADED, f"Link {link_state}", parts=parts,
                           reason=f"The {'zone' if zone is None else 'link'} no longer exists "
                                  "in Azure.")
        return Reading(health.OK, f"Link {link_state}", parts=parts)

    def checks(self, request: ConnectivityRequest) -> list[Check]:
        return private_dns_checks(request)

    def before_provisioning(self, request: ConnectivityRequest) -> dict[str, Any]:
        # Recorded before the zone exists, so that a later pre-flight knows the zone is ours.
        return {"zone_id": planned_zone_id(request)}

    def planned_resources(self, request: ConnectivityRequest) -> list[PlannedResource]:
        zone = planned_zone_id(request)
        plan = [PlannedResource(f"Private DNS zone {request.zone_name}", zone, PLATFORM)]
        by_name: dict[str, list[str]] = {}
        for record in request.records or []:
            by_name.setdefault(str(record.get("name", "")).lower(), []).append(
                str(record.get("ip", "")))
        plan += [PlannedResource(f"A record set {name} → {', '.join(ips)}", f"{zone}/A/{name}",
                                 PLATFORM) for name, ips in by_name.items()]
        plan.append(PlannedResource(
            f"Virtual network link to {request.cluster.name}'s VNet",
            f"{zone}/virtualNetworkLinks/{zone_link_name(request)}", PLATFORM))
        return plan
