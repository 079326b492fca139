"""Private Link endpoint: a private endpoint in the cluster VNet's endpoint subnet (platform
subscription) with a manual-approval connection to one of the customer's resources.

No role in the customer's subscription: their approval of the connection is their consent. The
request waits, polling the endpoint's connection state, until they approve it; for a PaaS target
the organisation's own ``privatelink.*`` zone then gets the endpoint's A record (a private DNS
zone group) and is linked to the cluster's VNet. A Private Link service target may name a zone
and record of the customer's choosing (``dns_zone_name``, ``dns_record_name``): the
organisation's zone of that name gets the A record (written by the platform, as for a private
DNS zone) and is linked to the cluster's VNet the same way.
"""

from __future__ import annotations

import logging
import shlex
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

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
    Resource,
    SpecField,
    api_text,
    form_text,
    gateway,
    numbered,
    progress,
)
from connectivity.kinds.private_dns import (
    link_started_or_read,
    organization_dns_resource_group,
    zone_started_or_read,
)
from connectivity.models import ConnectionStatus, ConnectivityRequest, RequestKind, RequestState
from connectivity.preflight import Check, make_check, make_pending, transient_deadline

logger = logging.getLogger(__name__)
S = RequestState

TARGET_FIELD = "Target"
GROUP_FIELD = "Sub-resource"
ZONE_FIELD = "DNS zone"
RECORD_FIELD = "DNS record"
SUBNET_LABEL = "Room in the cluster's endpoint subnet"
CLOUD_LABEL = "Target in the platform's Azure cloud"
DNS_ZONE_LABEL = "Your DNS zone is free for the endpoint"
#: Azure's limit on a connection's request message.
REQUEST_MESSAGE_MAX = 140
ZONE_GROUP_NAME = "default"
#: Requests whose endpoint (or zone, or link) exists or is about to.
_HOLDING_STATES = frozenset({S.APPROVED, S.PROVISIONING, S.ACTION_NEEDED, S.FAILED, S.ACTIVE,
                             S.DEGRADED, S.COMPLETED})


# --- Names --------------------------------------------------------------------------------------


def target_ref(request: ConnectivityRequest) -> validators.PrivateLinkTargetRef:
    return validators.parse_private_link_target(request.link_target, TARGET_FIELD)


def is_paas(request: ConnectivityRequest) -> bool:
    ref = target_ref(request)
    return ref.resource_type in validators.PRIVATE_LINK_GROUPS


def endpoint_name(request: ConnectivityRequest) -> str:
    return f"pe-cp-{request.short_id}"


def endpoint_id(request: ConnectivityRequest) -> str:
    """In the cluster VNet's resource group, in the platform's subscription."""
    recorded = (request.azure_resources or {}).get("endpoint_id")
    if recorded:
        return str(recorded)
    from connectivity.azure import resource_ids

    vnet = resource_ids.parse(request.cluster.vnet_id)
    return (f"/subscriptions/{vnet.subscription_id}/resourceGroups/{vnet.resource_group}/providers/"
            f"Microsoft.Network/privateEndpoints/{endpoint_name(request)}")


def subnet_id(request: ConnectivityRequest) -> str:
    """The cluster reserves one subnet of its VNet for endpoints, by name (a setting)."""
    return f"{request.cluster.vnet_id.rstrip('/')}/subnets/{settings.PRIVATE_ENDPOINT_SUBNET}"


def custom_dns(request: ConnectivityRequest) -> bool:
    """A Private Link service target whose customer named a zone and record for it."""
    return bool(request.dns_zone_name) and not is_paas(request)


def has_dns(request: ConnectivityRequest) -> bool:
    return is_paas(request) or custom_dns(request)


def zone_name(request: ConnectivityRequest) -> str:
    """A PaaS target's ``privatelink.*`` zone, or the zone the customer named."""
    if custom_dns(request):
        return str(request.dns_zone_name).lower()
    ref = target_ref(request)
    return validators.private_link_zone(str(ref.resource_type), request.group_id)


def custom_fqdn(request: ConnectivityRequest) -> str:
    """The name the cluster uses for a Private Link service with a zone and record of yours."""
    record = str(request.dns_record_name or "@").lower()
    return zone_name(request) if record == "@" else f"{record}.{zone_name(request)}"


def zone_id(request: ConnectivityRequest) -> str:
    """The organisation's own ``privatelink.*`` zone, in its DNS resource group."""
    recorded = (request.azure_resources or {}).get("zone_id")
    if recorded:
        return str(recorded)
    from connectivity.azure import resource_ids

    return resource_ids.private_zone_id(
        settings.AZURE_PLATFORM_SUBSCRIPTION_ID,
        organization_dns_resource_group(request.organization_id), zone_name(request))


def zone_link_name(request: ConnectivityRequest) -> str:
    """One link per zone and VNet (Azure links a zone to a VNet once), shared by every endpoint
    of the organisation on that cluster whose target uses the zone."""
    return f"cp-{request.cluster.vnet_id.rstrip('/').rsplit('/', 1)[-1]}"[:80]


def request_message(request: ConnectivityRequest) -> str:
    message = (f"{request.organization.name}: Connectivity Portal request {request.short_id} "
               f"for cluster {request.cluster.name}")
    return message[:REQUEST_MESSAGE_MAX]


def record_name(fqdn: str, zone: str) -> str | None:
    """The A record a zone group writes for ``fqdn`` in ``zone``: stcontoso.blob.core.windows.net
    is ``stcontoso`` in privatelink.blob.core.windows.net."""
    public = zone.lower().removeprefix("privatelink.")
    fqdn = fqdn.lower().rstrip(".")
    for suffix in (public, zone.lower()):
        if fqdn.endswith("." + suffix):
            return fqdn[: -len(suffix) - 1]
    return None


def approve_command(request: ConnectivityRequest) -> str:
    """What the customer runs: find the connection the endpoint made on their resource, and
    approve it. The platform may not read their resource, so the lookup runs on their side."""
    ref = target_ref(request)
    description = f"Approved for {request.organization.name}, request {request.short_id}"
    query = f"[?ends_with(properties.privateEndpoint.id, '/{endpoint_name(request)}')].id | [0]"
    resource = ref.resource_id or "<your Private Link service's resource id>"
    # The query holds only fixed text and the endpoint's name ([a-z0-9-]): double quotes are safe.
    lookup = (f"az network private-endpoint-connection list --id {shlex.quote(resource)} "
              f'--query "{query}" -o tsv')
    return (f'az network private-endpoint-connection approve --id "$({lookup})" '
            f"--description {shlex.quote(description)}")


def portal_path(request: ConnectivityRequest) -> str:
    ref = target_ref(request)
    if ref.resource_id and ref.resource_type in validators.PRIVATE_LINK_GROUPS:
        where = f"your resource {ref.name} → Networking → Private endpoint connections"
    else:
        name = ref.name or "your service"
        where = f"Private Link Center → Private link services → {name} → Private endpoint connections"
    return f"Azure portal → {where} → {endpoint_name(request)} → Approve"


# --- Notes on the request (not resources) --------------------------------------------------------

def _note(request: ConnectivityRequest, **values: Any) -> None:
    """Write notes into ``azure_resources`` now, also when the step then raises (a refusal
    the customer is told about must be remembered for their re-check)."""
    resources = dict(request.azure_resources or {})
    resources.update(values)
    ConnectivityRequest.objects.filter(pk=request.pk).update(azure_resources=resources)
    request.azure_resources = resources


def _parse_time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _duration(days: float) -> str:
    """14 days, 6 hours, 10 seconds: the expiry setting as people say it."""
    seconds = days * 86400
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:g} {unit}{'' if value == 1 else 's'}"
    return f"{seconds:.0f} second{'' if round(seconds) == 1 else 's'}"


def _expires_at(request: ConnectivityRequest) -> datetime | None:
    requested = _parse_time((request.azure_resources or {}).get("requested_at"))
    if requested is None:
        return None
    return requested + timedelta(days=float(settings.PRIVATE_ENDPOINT_EXPIRE_DAYS))


# --- Steps --------------------------------------------------------------------------------------


def _customer_must_act(message: str, reason: str) -> Exception:
    from connectivity.azure.errors import CustomerActionRequired

    return CustomerActionRequired(message, reason=reason, code="PrivateEndpointConnection")


def _step_endpoint(request: ConnectivityRequest) -> Outcome:
    """Start the endpoint and return; later runs read it until Azure has provisioned it."""
    gw = gateway()
    eid = endpoint_id(request)
    endpoint = gw.private_endpoint_get(endpoint_id=eid)
    state = progress(endpoint.provisioning_state) if endpoint is not None else "missing"
    if state == "done":
        return Next("approval", f"Private endpoint {endpoint.name} provisioned in "
                                f"{request.cluster.name}'s VNet ({', '.join(endpoint.private_ips)}); "
                                f"its connection is {endpoint.connection_status}.",
                    {"endpoint_id": endpoint.id or eid})
    if state == "running":
        assert endpoint is not None
        doing = ("deleting the previous" if endpoint.provisioning_state.lower() == "deleting"
                 else "creating the")
        return Poll(f"Azure is {doing} private endpoint {endpoint_name(request)} "
                    f"({endpoint.provisioning_state}).")
    gw.private_endpoint_create(
        endpoint_id=eid, subnet_id=subnet_id(request), target=request.link_target,
        group_ids=[request.group_id] if request.group_id else [],
        request_message=request_message(request), location=request.cluster.region or "westeurope",
        wait=False)
    now = timezone.now()
    _note(request, endpoint_id=eid, requested_at=now.isoformat(), customer_note="",
          reminded_at="", expiry_noticed_at="", endpoint_approved=False,
          approve_command=approve_command(request),
          portal_path=portal_path(request),
          expires_at=(now + timedelta(days=float(settings.PRIVATE_ENDPOINT_EXPIRE_DAYS))
                      ).strftime("%Y-%m-%d %H:%M UTC"))
    return Poll(f"Started creating the private endpoint {endpoint_name(request)}"
                + (" again: Azure reported it Failed." if state == "failed" else "."))


def _recreate(request: ConnectivityRequest, why: str) -> Outcome:
    gateway().private_endpoint_delete(endpoint_id=endpoint_id(request), wait=False)
    _note(request, customer_note="")
    return Next("endpoint", numbered(
        request, f"{why} Deleting the endpoint and requesting a new connection."))


def _pending(request: ConnectivityRequest) -> Outcome:
    now = timezone.now()
    expires = _expires_at(request)
    if expires is not None and now >= expires:
        gateway().private_endpoint_delete(endpoint_id=endpoint_id(request), wait=False)
        _note(request, customer_note="expired")
        return Next("expired", f"Nobody approved the connection by {expires:%Y-%m-%d %H:%M} UTC; "
                               "deleting the private endpoint.")
    until = f" It expires on {expires:%Y-%m-%d %H:%M} UTC if not approved." if expires else ""
    command = request.azure_resources.get("approve_command") or approve_command(request)
    message = (f"Approval pending on your side: approve the private endpoint connection "
               f"{endpoint_name(request)} on {target_label(request)}.{until} Run: {command}")
    reminded = _parse_time(request.azure_resources.get("reminded_at"))
    since = reminded or _parse_time(request.azure_resources.get("requested_at")) or now
    notice_at = (expires - timedelta(days=float(settings.PRIVATE_ENDPOINT_EXPIRY_NOTICE_DAYS))
                 if expires is not None else None)
    if (notice_at is not None and now >= notice_at
            and not request.azure_resources.get("expiry_noticed_at")):
        # Once, in time to act: the next email after this one says it was deleted.
        _tell(request, "expiry_notice", "expiry_notice", message,
              f"Expiry notice: unless you approve the connection by {expires:%Y-%m-%d %H:%M} "
              f"UTC, the portal deletes the private endpoint {endpoint_name(request)} then. "
              f"{message}", expiry_noticed_at=now.isoformat(), reminded_at=now.isoformat())
    elif (now - since).total_seconds() >= settings.PRIVATE_ENDPOINT_REMINDER_EVERY:
        _tell(request, "customer_reminder", "approval_reminder", message, f"Reminder: {message}",
              reminded_at=now.isoformat())
    return Poll(message, every=float(settings.PRIVATE_ENDPOINT_POLL_EVERY))


def _tell(request: ConnectivityRequest, email: str, action: str, message: str, event: str,
          **notes: Any) -> None:
    """An email to the organisation and a line on the timeline, while the request waits."""
    from connectivity import notifications
    from connectivity.lifecycle import record_event

    _note(request, **notes)
    ConnectivityRequest.objects.filter(pk=request.pk).update(status_message=message)
    request.status_message = message
    record_event(request=request, actor=None, action=action, message=event)
    notifications.notify_customer(request, email)


def _step_approval(request: ConnectivityRequest) -> Outcome:
    """Read the connection's state: the customer approves, rejects or removes it on their side."""
    endpoint = gateway().private_endpoint_get(endpoint_id=endpoint_id(request))
    if endpoint is None:
        return Next("endpoint", numbered(
            request, "The private endpoint no longer exists; creating it again."))
    status = endpoint.connection_status.lower()
    note = str(request.azure_resources.get("customer_note") or "")
    said = f" (“{endpoint.connection_description}”)" if endpoint.connection_description else ""
    if endpoint.approved:
        found = {"private_ip": (endpoint.private_ips or ("",))[0], "customer_note": "",
                 "endpoint_approved": True}
        if has_dns(request):
            return Next("dns_zone", f"Connection approved on your side{said}.", found)
        return Active(f"Connection approved on your side; the cluster reaches "
                      f"{target_label(request)} at {found['private_ip']}.", found)
    if status == "pending":
        return _pending(request)
    # Told before and re-checked, or it worked and they chose Verify and repair: either way
    # they ask for a new connection (a fresh endpoint's refusal is reported again, no loop).
    worked = bool(request.azure_resources.get("endpoint_approved"))
    if status == "rejected":
        if note == "rejected" or worked:
            return _recreate(request, "You asked for a new connection after a rejected one.")
        _note(request, customer_note="rejected")
        raise _customer_must_act(
            f"The connection was rejected on your side{said}. If that was a mistake, choose "
            "Re-check: the portal deletes this endpoint and requests a new connection for you "
            "to approve. Otherwise remove the request.", "private_endpoint_rejected")
    # Disconnected: the owner removed the connection; Azure never reconnects it.
    if note == "disconnected" or worked:
        return _recreate(request, "The connection was removed on your side.")
    _note(request, customer_note="disconnected")
    raise _customer_must_act(
        f"The connection was removed on your side{said}. Choose Re-check to request a new one "
        "(then approve it), or remove the request.", "private_endpoint_disconnected")


def _step_expired(request: ConnectivityRequest) -> Outcome:
    """The unapproved endpoint is being deleted; once gone, the customer is told."""
    endpoint = gateway().private_endpoint_get(endpoint_id=endpoint_id(request))
    if endpoint is not None:
        if progress(endpoint.provisioning_state) != "running":
            gateway().private_endpoint_delete(endpoint_id=endpoint_id(request), wait=False)
        return Poll(f"Waiting for Azure to delete the unapproved endpoint {endpoint.name}.")
    if request.azure_resources.get("customer_note") == "expired_told":
        return Next("endpoint", numbered(request, "Requesting a new connection after the expired one."))
    _note(request, customer_note="expired_told")
    raise _customer_must_act(
        f"Nobody approved the private endpoint connection within "
        f"{_duration(float(settings.PRIVATE_ENDPOINT_EXPIRE_DAYS))}, so the portal "
        "deleted the endpoint. Choose Re-check to request a new connection (then approve it), "
        "or remove the request.", "private_endpoint_expired")


def _step_dns_zone(request: ConnectivityRequest) -> Outcome:
    zid = zone_id(request)
    zone, message = zone_started_or_read(request, zone_id=zid, zone_name=zone_name(request))
    if zone is None:
        return Poll(message)
    return Next("dns_link", message, {"zone_id": zone.id or zid})


def _step_dns_link(request: ConnectivityRequest) -> Outcome:
    link, message = link_started_or_read(request, zone_id=zone_id(request),
                                         zone_name=zone_name(request),
                                         link_name=zone_link_name(request))
    if link is None:
        return Poll(message)
    return Next("dns_record" if custom_dns(request) else "dns_group", message,
                {"link_id": link.id})


def _dns_records(request: ConnectivityRequest, fqdns: tuple[str, ...]) -> dict[str, str]:
    """FQDN the cluster uses → record name in the zone."""
    if custom_dns(request):
        return {custom_fqdn(request): str(request.dns_record_name).lower()}
    zone = zone_name(request)
    names = {f: record_name(f, zone) for f in fqdns}
    return {f: n for f, n in names.items() if n}


def _step_dns_record(request: ConnectivityRequest) -> Outcome:
    """A Private Link service with a zone and record of the customer's: the platform writes the
    A record itself (no zone group: Azure writes a zone group's records from the service's
    FQDNs, which are the provider's to choose). Done once the zone holds the endpoint's IP."""
    gw = gateway()
    eid = endpoint_id(request)
    endpoint = gw.private_endpoint_get(endpoint_id=eid)
    if endpoint is None:
        return Next("endpoint", numbered(
            request, "The private endpoint no longer exists; creating it again."))
    zid = zone_id(request)
    name = str(request.dns_record_name).lower()
    ip = (endpoint.private_ips or ("",))[0]
    record = gw.a_record_set_get(zone_id=zid, name=name)
    if record is None or list(record.ips) != [ip]:
        record = gw.a_record_set_put(zone_id=zid, name=name, ips=[ip])
    fqdn = custom_fqdn(request)
    return Active(f"Connection approved; the cluster resolves {fqdn} to {ip}.",
                  {"record_ids": [record.id], "dns_names": [f"{fqdn} → {ip}"],
                   "private_ip": ip})


def _step_dns_group(request: ConnectivityRequest) -> Outcome:
    """Attach the zone to the endpoint (Azure writes its A record and keeps it in step); done
    once the zone holds the endpoint's IP under each of its names."""
    gw = gateway()
    eid = endpoint_id(request)
    endpoint = gw.private_endpoint_get(endpoint_id=eid)
    if endpoint is None:
        return Next("endpoint", numbered(
            request, "The private endpoint no longer exists; creating it again."))
    zid = zone_id(request)
    records = _dns_records(request, endpoint.fqdns)
    ip = (endpoint.private_ips or ("",))[0]
    found = {n: gw.a_record_set_get(zone_id=zid, name=n) for n in records.values()}
    if records and all(r is not None and ip in r.ips for r in found.values()):
        names = [f"{fqdn} → {ip}" for fqdn in records]
        return Active(f"Connection approved; the cluster resolves {', '.join(records)} to {ip}.",
                      {"zone_group_id": f"{eid}/privateDnsZoneGroups/{ZONE_GROUP_NAME}",
                       "record_ids": [r.id for r in found.values() if r is not None],
                       "dns_names": names, "private_ip": ip})
    gw.private_dns_zone_group_put(endpoint_id=eid, name=ZONE_GROUP_NAME, zone_ids=[zid],
                                  wait=False)
    return Poll(f"Asked Azure to write {endpoint.name}'s A record into {zone_name(request)}.")


def _others_using(request: ConnectivityRequest, **lookup: Any) -> bool:
    """Another live request of the organisation that holds the same zone (or link)."""
    return ConnectivityRequest.objects.filter(
        organization_id=request.organization_id, state__in=_HOLDING_STATES | {S.REMOVING},
        **lookup).exclude(pk=request.pk).exists()


def _step_remove_endpoint(request: ConnectivityRequest) -> Outcome:
    """Start deleting the endpoint and return; later runs read it until it is gone (its zone
    group and A records go with it)."""
    if not request.azure_resources.get("endpoint_id"):
        return Removed("Nothing had been created in Azure.")
    gw = gateway()
    endpoint = gw.private_endpoint_get(endpoint_id=endpoint_id(request))
    if endpoint is None:
        return Next("remove_dns", "Deleted the private endpoint and its DNS zone group.")
    if endpoint.provisioning_state.lower() != "deleting":
        gw.private_endpoint_delete(endpoint_id=endpoint_id(request), wait=False)
        return Poll(f"Started deleting the private endpoint {endpoint.name}.")
    return Poll(f"Waiting for Azure to delete the private endpoint {endpoint.name}.")


def _step_remove_dns(request: ConnectivityRequest) -> Outcome:
    """The A records left with the endpoint; the link and the zone go once no other request of
    the organisation uses them."""
    zid = str(request.azure_resources.get("zone_id") or "")
    if not zid:
        return Removed("Deleted the private endpoint.")
    gw = gateway()
    if custom_dns(request):  # written by the platform: deleted by it
        gw.a_record_set_delete(zone_id=zid, name=str(request.dns_record_name).lower())
    for fqdn in request.azure_resources.get("dns_names") or []:
        name = record_name(str(fqdn).split(" ", 1)[0], zone_name(request))
        if name:  # normally gone with the zone group; a leftover would point nowhere
            gw.a_record_set_delete(zone_id=zid, name=name)
    kept = []
    same_zone = {"azure_resources__zone_id": zid}
    if _others_using(request, cluster_id=request.cluster_id, **same_zone):
        kept.append(f"the link to {request.cluster.name}'s VNet")
    else:
        gw.zone_link_delete(zone_id=zid, link_name=zone_link_name(request))
    if _others_using(request, **same_zone):
        kept.append(f"the zone {zone_name(request)}")
    else:
        gw.private_zone_delete(zone_id=zid)
    return Removed("Deleted the private endpoint and its DNS records"
                   + (f"; kept {' and '.join(kept)}, which other requests use." if kept else
                      f", the link and the zone {zone_name(request)}."))


# --- Pre-flight ---------------------------------------------------------------------------------


def _cloud_check(request: ConnectivityRequest, ref: validators.PrivateLinkTargetRef) -> Check:
    """A private endpoint reaches only resources in its own Azure cloud. A resource id is the
    same shape in every cloud, but ARM in the platform's cloud knows only its own subscriptions
    (it names their tenant to anyone who asks, ``gateway.subscription_tenant``); an alias
    carries its region, and the sovereign clouds have regions of their own."""
    from connectivity.azure import clouds, errors

    cloud = clouds.platform_cloud()
    if ref.alias:
        region = validators.private_link_alias_region(ref.alias)
        if region is None:
            return make_check("same_cloud", CLOUD_LABEL, True,
                              "The alias names no region; the visibility check asks Azure in "
                              f"{cloud.label}.")
        theirs = clouds.of_region(region)
        if theirs != cloud:
            return make_check(
                "same_cloud", CLOUD_LABEL, False,
                f"The alias names region {region}, in {theirs.label}; the platform runs in "
                f"{cloud.label}, and a private endpoint cannot reach a service in another Azure "
                "cloud. Use a Private Link service in a region of "
                f"{cloud.label}.")
        return make_check("same_cloud", CLOUD_LABEL, True,
                          f"The alias names region {region}, in {cloud.label}, as the platform.")
    subscription = str(ref.subscription_id)
    try:
        tenant = gateway().subscription_tenant(subscription_id=subscription)
    except errors.TransientAzureError as exc:
        return make_pending("same_cloud", CLOUD_LABEL,
                            f"Azure did not answer ({exc.message}); checking again shortly.",
                            retry_until=transient_deadline(request, "same_cloud"),
                            transient=True)
    if not tenant:
        return make_check(
            "same_cloud", CLOUD_LABEL, False,
            f"Azure Resource Manager in {cloud.label} ({cloud.arm_host}) knows no subscription "
            f"{subscription}: check the Target's subscription id. A resource in another Azure "
            "cloud (Azure Government, Azure China) cannot be reached from this platform.")
    return make_check("same_cloud", CLOUD_LABEL, True,
                      f"Subscription {subscription} is in {cloud.label} (tenant {tenant}), as the "
                      "platform is.")


def _alias_check(request: ConnectivityRequest, ref: validators.PrivateLinkTargetRef) -> Check:
    from connectivity.azure import errors

    visible = "Alias visible to the platform"
    try:
        found = gateway().private_link_target_get(
            target=request.link_target, location=request.cluster.region or "westeurope")
    except errors.TransientAzureError as exc:
        return make_pending(
            "alias_visible", visible, f"Azure did not answer ({exc.message}); checking "
            "again shortly.", retry_until=transient_deadline(request, "alias_visible"),
            transient=True)
    except errors.GatewayError as exc:
        return make_check("alias_visible", visible, False, exc.message)
    message = (f"{ref.alias} is visible to the platform's subscription." if found.visible else
               f"{ref.alias} is not visible to the platform's subscription: add "
               f"{settings.AZURE_PLATFORM_SUBSCRIPTION_ID} to the service's visibility "
               "(az network private-link-service update --visibility …), or check the alias.")
    return make_check("alias_visible", visible, bool(found.visible), message)


def _endpoints_to_come(request: ConnectivityRequest) -> int:
    """Approved endpoints of the same cluster whose creation has not started: each will take an
    address of the subnet before this one."""
    return (ConnectivityRequest.objects
            .filter(cluster_id=request.cluster_id, kind=request.kind,
                    state__in=[S.APPROVED, S.PROVISIONING])
            .exclude(pk=request.pk).exclude(azure_resources__has_key="endpoint_id").count())


def _subnet_check(request: ConnectivityRequest) -> Check:
    """The cluster's endpoint subnet (the platform's) must have an address left for this
    endpoint: its size less Azure's five, less the IP configurations using it. Nothing the
    customer can fix: the message says so."""
    from connectivity.azure import errors

    cluster = request.cluster
    name = settings.PRIVATE_ENDPOINT_SUBNET
    try:
        subnet = gateway().subnet_get(subnet_id=subnet_id(request))
    except errors.TransientAzureError as exc:
        return make_pending("endpoint_subnet", SUBNET_LABEL,
                            f"Azure did not answer ({exc.message}); checking again shortly.",
                            retry_until=transient_deadline(request, "endpoint_subnet"),
                            transient=True)
    except errors.GatewayError as exc:
        return make_check("endpoint_subnet", SUBNET_LABEL, False,
                          f"{exc.message} The platform team must fix this; contact support.")
    if subnet is None:
        return make_check(
            "endpoint_subnet", SUBNET_LABEL, False,
            f"{cluster.name}'s VNet has no subnet {name} for private endpoints. Nothing is "
            "wrong on your side: the platform team must add it; contact support.")
    where = f"{subnet.name} ({', '.join(subnet.address_prefixes)})"
    if subnet.holds_endpoint(endpoint_id(request)):
        return make_check("endpoint_subnet", SUBNET_LABEL, True,
                          f"{where} already holds this request's endpoint {endpoint_name(request)}.")
    coming = _endpoints_to_come(request)
    room = subnet.free - coming
    before = (f"; {coming} approved endpoint{'s' if coming != 1 else ''} of {cluster.name} "
              f"will take {'one each' if coming != 1 else 'one'} first" if coming else "")
    if room >= 1:
        return make_check("endpoint_subnet", SUBNET_LABEL, True,
                          f"{where} has {subnet.free} of {subnet.capacity} addresses free{before}.")
    return make_check(
        "endpoint_subnet", SUBNET_LABEL, False,
        f"{where} is full: {subnet.used} of its {subnet.capacity} addresses are in use{before}. "
        "Nothing is wrong on your side: the platform team must make room in the cluster's "
        "endpoint subnet; contact support, then run the checks again.")


def _dns_zone_check(request: ConnectivityRequest) -> Check:
    """The zone the customer named must be free for this endpoint: not a zone of one of the
    organisation's private DNS zone requests (whose removal would take the record with it),
    and not another zone of that name linked to the cluster's VNet (Azure links one per name).
    The organisation's other endpoints with the same zone share it."""
    from connectivity.azure import errors
    from connectivity.preflight import CLAIMING_STATES

    zone = zone_name(request)
    zid = zone_id(request)
    holder = ConnectivityRequest.objects.filter(
        organization_id=request.organization_id, kind=RequestKind.PRIVATE_DNS,
        spec__zone_name__iexact=zone, state__in=CLAIMING_STATES).first()
    if holder is not None:
        return make_check(
            "dns_zone_free", DNS_ZONE_LABEL, False,
            f"Your organisation's private DNS zone request {holder.short_id} has the zone {zone}. "
            "Add the endpoint's record to that request instead (its address shows here once "
            "the endpoint is approved), or choose another zone name.")
    try:
        linked = gateway().private_zones_linked_to(
            vnet_id=request.cluster.vnet_id,
            subscription_id=settings.AZURE_PLATFORM_SUBSCRIPTION_ID)
    except errors.TransientAzureError as exc:
        return make_pending("dns_zone_free", DNS_ZONE_LABEL,
                            f"Azure did not answer ({exc.message}); checking again shortly.",
                            retry_until=transient_deadline(request, "dns_zone_free"),
                            transient=True)
    except errors.GatewayError as exc:
        return make_check("dns_zone_free", DNS_ZONE_LABEL, False, exc.message)
    ours = (request.azure_resources or {}).get("zone_id") or _others_using(
        request, kind=request.kind, cluster_id=request.cluster_id, azure_resources__zone_id=zid)
    if zone in {n.lower().rstrip(".") for n in linked} and not ours:
        return make_check(
            "dns_zone_free", DNS_ZONE_LABEL, False,
            f"A zone named {zone} is already linked to {request.cluster.name}'s VNet, and Azure "
            "links one zone per name. Choose another zone name, or leave the zone empty and use "
            "the endpoint's address.")
    record = custom_fqdn(request)
    return make_check("dns_zone_free", DNS_ZONE_LABEL, True,
                      f"{zone} will hold {record}, linked to {request.cluster.name}'s VNet.")


# --- The spec -----------------------------------------------------------------------------------


def _clean_target(value: Any) -> str:
    ref = validators.parse_private_link_target(str(value or ""), TARGET_FIELD)
    return str(ref.resource_id or ref.alias)


def _clean_group(value: Any) -> str:
    value = str(value or "").strip()
    if len(value) > 64 or any(not (c.isalnum() or c in "_-") for c in value):
        raise ValidationError(f"{GROUP_FIELD} must be a group id such as blob, sqlServer or "
                              "vault: letters, digits, hyphens and underscores.")
    return value


def _clean_dns_zone(value: Any) -> str:
    value = str(value or "").strip()
    if not value:
        return ""
    zone = validators.validate_zone_name(value, ZONE_FIELD)
    if zone.startswith("privatelink."):
        raise ValidationError(
            f"{ZONE_FIELD} {zone} is a Private Link zone of Azure's; those are the portal's to "
            "use for PaaS targets. Name a zone of your own, like contoso.internal.")
    return zone


def _clean_dns_record(value: Any) -> str:
    value = str(value or "").strip()
    if not value:
        return ""
    try:
        name = validators.validate_record_name(value)
    except ValidationError as exc:
        raise ValidationError(f"{RECORD_FIELD}: {' '.join(exc.messages)}") from None
    if "*" in name:
        raise ValidationError(f"{RECORD_FIELD} must name one record, not a wildcard: the "
                              "endpoint has one address.")
    return name


_GROUP_HELP = "; ".join(f"{t.split('/', 1)[1]}: {', '.join(g)}"
                        for t, g in validators.PRIVATE_LINK_GROUPS.items())

SPEC = (
    SpecField("link_target", TARGET_FIELD,
              "The resource id of your Private Link service or PaaS resource (storage account, "
              "SQL server, key vault, Cosmos DB account, Event Hubs namespace), or a Private "
              "Link service alias.",
              validate=_clean_target, form=form_text(1024),
              api=api_text(1024, "Private Link endpoint: a resource id or a Private Link service "
                                 "alias.")),
    SpecField("group_id", GROUP_FIELD,
              f"For a PaaS resource, which of its services (group id): {_GROUP_HELP}. Empty for "
              "a Private Link service.",
              validate=_clean_group, form=form_text(64, required=False),
              api=api_text(64, "Private Link endpoint: the PaaS sub-resource (group id), e.g. "
                               "blob; empty for a Private Link service.")),
    SpecField("dns_zone_name", ZONE_FIELD,
              "Optional, for a Private Link service: a private DNS zone name of yours (e.g. "
              "contoso.internal). Your organisation's zone of that name gets the endpoint's A "
              "record and is linked to the cluster's VNet.",
              validate=_clean_dns_zone, form=form_text(253, required=False),
              api=api_text(253, "Private Link endpoint to a Private Link service: optional "
                                "private DNS zone name for the endpoint's A record.")),
    SpecField("dns_record_name", RECORD_FIELD,
              "With the zone: the record's name in it (e.g. api, for api.contoso.internal; @ "
              "for the zone's own name).",
              validate=_clean_dns_record, form=form_text(64, required=False),
              api=api_text(253, "Private Link endpoint: the A record's name in "
                                "dns_zone_name.")),
)


def target_label(request: ConnectivityRequest) -> str:
    try:
        ref = target_ref(request)
    except ValidationError:  # a row stored before a rule existed: shown as it is, escaped
        return str(request.link_target)
    if ref.alias:
        return ref.alias.split(".", 1)[0] + " (alias)"
    return f"{ref.name}{' (' + request.group_id + ')' if request.group_id else ''}"


class PrivateEndpoint(Kind):
    key = RequestKind.PRIVATE_ENDPOINT.value
    label = RequestKind.PRIVATE_ENDPOINT.label
    noun = "a Private Link endpoint"
    description = ("A private endpoint in the cluster's VNet to one resource of yours (a Private "
                   "Link service or a PaaS resource). You approve its connection; no role needed.")
    spec = SPEC
    identity_fields = ("link_target", "group_id")
    first_step = "endpoint"
    first_remove_step = "remove_endpoint"
    steps = {
        "endpoint": _step_endpoint,
        "approval": _step_approval,
        "expired": _step_expired,
        "dns_zone": _step_dns_zone,
        "dns_link": _step_dns_link,
        "dns_group": _step_dns_group,
        "dns_record": _step_dns_record,
        "remove_endpoint": _step_remove_endpoint,
        "remove_dns": _step_remove_dns,
    }
    resource_labels = {
        "endpoint_id": "Private endpoint in the cluster's VNet",
        "zone_id": "Your organisation's private DNS zone",
        "link_id": "Link to the cluster's VNet",
        "zone_group_id": "DNS zone group on the endpoint",
        "record_ids": "A record sets",
    }
    degraded_advice = ("Approve the connection again on your side, or choose Verify and repair "
                       "to request a new one.")

    def clean(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The group id must be one the target's type offers (none for a Private Link service)."""
        cleaned = super().clean(fields)
        ref = validators.parse_private_link_target(cleaned["link_target"], TARGET_FIELD)
        try:
            cleaned["group_id"] = validators.validate_group_id(
                ref, cleaned.get("group_id"), GROUP_FIELD) or ""
        except ValidationError as exc:
            raise ValidationError({"group_id": exc.messages}) from None
        zone, record = cleaned.get("dns_zone_name") or "", cleaned.get("dns_record_name") or ""
        if (zone or record) and ref.resource_type in validators.PRIVATE_LINK_GROUPS:
            field = "dns_zone_name" if zone else "dns_record_name"
            raise ValidationError({field: [
                f"{ZONE_FIELD} and {RECORD_FIELD} are for a Private Link service only: for a "
                f"{ref.resource_type} the portal uses its "
                f"{validators.private_link_zone(str(ref.resource_type), cleaned['group_id'])} "
                "zone. Leave both empty."]})
        if zone and not record:
            raise ValidationError({"dns_record_name": [
                f"{RECORD_FIELD} is required with a {ZONE_FIELD} (e.g. api; @ for the zone's "
                "own name)."]})
        if record and not zone:
            raise ValidationError({"dns_zone_name": [
                f"{ZONE_FIELD} is required with a {RECORD_FIELD} (e.g. contoso.internal)."]})
        return cleaned

    def create_errors(self, cleaned: dict[str, Any]) -> dict[str, list[str]]:
        from connectivity import scopes

        ref = validators.parse_private_link_target(cleaned["link_target"], TARGET_FIELD)
        if ref.subscription_id and scopes.is_platform_subscription(ref.subscription_id):
            return {"link_target": [f"{TARGET_FIELD} must be a resource of yours, not one in the "
                               "platform's own subscription."]}
        return {}

    def same_connection(self, queryset: QuerySet[ConnectivityRequest],
                        request: ConnectivityRequest) -> QuerySet[ConnectivityRequest]:
        return queryset.filter(spec__link_target__iexact=request.link_target,
                               spec__group_id__iexact=request.group_id or "")

    def target(self, request: ConnectivityRequest) -> str:
        return target_label(request)

    def describe(self, request: ConnectivityRequest) -> str:
        return f"{self.label} to {target_label(request)}"

    def customer_command(self, request: ConnectivityRequest) -> str:
        """While the endpoint's connection waits for the customer: the approve command (the
        API's ``customer_command``, ``cportal grant``)."""
        notes = request.azure_resources or {}
        if request.state == S.PROVISIONING and request.step == "approval":
            return str(notes.get("approve_command") or "")
        return ""

    def checks(self, request: ConnectivityRequest) -> list[Check]:
        """Target shape and type, the group id for it, the same Azure cloud as the platform's,
        an alias visible to the platform, room in the cluster's endpoint subnet, and (with a
        zone of the customer's) that zone free for it. No duplicate is the shared check's."""
        label = "Target and sub-resource"
        try:
            ref = target_ref(request)
            validators.validate_group_id(ref, request.group_id, GROUP_FIELD)
        except ValidationError as exc:
            return [make_check("target_valid", label, False, " ".join(exc.messages))]
        what = (f"{ref.resource_type} {ref.name}, sub-resource {request.group_id}"
                if request.group_id else
                f"Private Link service {ref.name or ref.alias}")
        checks = [make_check("target_valid", label, True, f"{what}."), _cloud_check(request, ref)]
        if ref.alias:
            checks.append(_alias_check(request, ref))
        checks.append(_subnet_check(request))
        if custom_dns(request):
            checks.append(_dns_zone_check(request))
        return checks

    def read_status(self, request: ConnectivityRequest) -> Reading | None:
        """The endpoint's connection state and, for a PaaS target, its A record."""
        from connectivity.azure.errors import GatewayError

        health = ConnectionStatus.Health
        try:
            endpoint = gateway().private_endpoint_get(endpoint_id=endpoint_id(request))
            record = None
            zid = str(request.azure_resources.get("zone_id") or "")
            names = list(_dns_records(request, endpoint.fqdns).values()) if (
                endpoint is not None and zid) else []
            if names:
                record = gateway().a_record_set_get(zone_id=zid, name=names[0])
        except GatewayError as exc:
            logger.info("health check for %s postponed: %s", request.pk, exc.message)
            return None
        if endpoint is None:
            return Reading(health.GONE, "Endpoint missing",
                           reason="The private endpoint no longer exists in Azure.")
        parts = [{"label": self.resource_labels["endpoint_id"], "name": endpoint.name,
                  "state": endpoint.connection_status or "unknown"}]
        if names:
            parts.append({"label": "A record", "name": names[0],
                          "state": ", ".join(record.ips) if record is not None else "missing"})
        said = f" (“{endpoint.connection_description}”)" if endpoint.connection_description else ""
        status = endpoint.connection_status or "unknown"
        if not endpoint.approved:
            reason = {
                "disconnected": "The endpoint's connection was removed on your side "
                                "(Disconnected).",
                "rejected": f"The connection was rejected on your side{said}.",
            }.get(status.lower(), f"The connection is {status} on your side{said}.")
            return Reading(health.DEGRADED, f"Connection {status}", parts=parts, reason=reason)
        if names and record is None:
            return Reading(health.DEGRADED, "A record missing", parts=parts,
                           reason=f"The A record {names[0]} is gone from {zone_name(request)}.")
        ip = (endpoint.private_ips or ("",))[0]
        if record is not None and ip and ip not in record.ips:
            return Reading(health.DEGRADED, "A record points elsewhere", parts=parts,
                           reason=f"The A record {names[0]} in {zone_name(request)} points at "
                                  f"{', '.join(record.ips) or 'nothing'}, not at the endpoint's "
                                  f"{ip}.")
        return Reading(health.OK, f"Connection {status}", parts=parts)

    def resources(self, request: ConnectivityRequest) -> list[Resource]:
        return [r for r in super().resources(request) if r.key in self.resource_labels]

    def planned_resources(self, request: ConnectivityRequest) -> list[PlannedResource]:
        plan = [PlannedResource(
            f"Private endpoint to {target_label(request)} in subnet "
            f"{settings.PRIVATE_ENDPOINT_SUBNET} of {request.cluster.name}'s VNet "
            "(manual approval by the customer)", endpoint_id(request), PLATFORM)]
        if not has_dns(request) or (is_paas(request) and not request.group_id):
            return plan
        zone = zone_id(request)
        plan += [
            PlannedResource(f"The organisation's private DNS zone {zone_name(request)} "
                            "(if not there yet; shared with its other endpoints using it)", zone,
                            PLATFORM),
            PlannedResource(f"Virtual network link to {request.cluster.name}'s VNet (if not "
                            "there yet)",
                            f"{zone}/virtualNetworkLinks/{zone_link_name(request)}", PLATFORM),
        ]
        if custom_dns(request):
            plan.append(PlannedResource(
                f"A record {custom_fqdn(request)} → the endpoint's address (written once the "
                "customer approves)", f"{zone}/A/{str(request.dns_record_name).lower()}",
                PLATFORM))
        else:
            plan.append(PlannedResource(
                "DNS zone group on the endpoint (Azure writes its A record once the customer "
                "approves)", f"{endpoint_id(request)}/privateDnsZoneGroups/{ZONE_GROUP_NAME}",
                PLATFORM))
        return plan

