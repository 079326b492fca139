"""Pre-flight: the checks a request must pass before approval and again before provisioning.

Each check is a dict {key, label, status, message} stored on the request, so the customer and
the approver read the same list. ``status`` is

- ``pass``;
- ``fail``: the customer (or support) must change something; ``message`` says what;
- ``pending``: not decidable yet (a role assignment Azure has not propagated, Azure busy).
  A pending check that the portal re-checks by itself carries ``retry_until`` (ISO time); the
  reconciler re-runs pre-flight with backoff until then (see ``provisioning.preflight_recheck``).

Anything but ``pass`` blocks approval. The Azure checks go through the gateway only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, NotRequired, TypedDict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from connectivity.models import ConnectivityRequest, RequestKind, RequestState
from connectivity.validators import (
    reserved_overlaps,
    validate_forwarding_domain,
    validate_records,
    validate_zone_name,
)

S = RequestState

PASS, FAIL, PENDING = "pass", "fail", "pending"


class Check(TypedDict):
    key: str
    label: str
    status: str
    message: str
    retry_until: NotRequired[str]
    transient: NotRequired[bool]


def _check(key: str, label: str, ok: bool, message: str) -> Check:
    return {"key": key, "label": label, "status": PASS if ok else FAIL, "message": message}


def _pending(key: str, label: str, message: str, *, retry_until: datetime | None = None,
             transient: bool = False) -> Check:
    from connectivity.azure.pacing import PACED_MESSAGE

    if transient and PACED_MESSAGE in message:  # the platform pacing itself: not an error
        message = "Azure is busy, checking again shortly."
    check: Check = {"key": key, "label": label, "status": PENDING, "message": message}
    if retry_until is not None:
        check["retry_until"] = retry_until.isoformat()
    if transient:
        check["transient"] = True  # Azure did not answer: nobody has anything to fix
    return check


def _previous(request: ConnectivityRequest, key: str) -> dict[str, Any] | None:
    for check in request.preflight or []:
        if isinstance(check, dict) and check.get("key") == key:
            return check
    return None


def _retry_until(request: ConnectivityRequest, key: str, window: float) -> datetime:
    """A pending check keeps the deadline it got when it first went pending, so repeated
    re-checks do not extend the wait forever; a check that was not pending starts a new one."""
    previous = _previous(request, key)
    if previous and previous.get("status") == PENDING and previous.get("retry_until"):
        try:
            return datetime.fromisoformat(previous["retry_until"])
        except ValueError:
            pass
    return timezone.now() + timedelta(seconds=window)


TRANSIENT_RECHECK_WINDOW = 600  # seconds: Azure being busy is not the customer's fault


def _transient_retry_until(request: ConnectivityRequest, key: str) -> datetime:
    return _retry_until(request, key, TRANSIENT_RECHECK_WINDOW)


# --- every kind -------------------------------------------------------------------------------


def cluster_checks(request: ConnectivityRequest) -> list[Check]:
    cluster = request.cluster
    return [_check(
        "cluster_dedicated", "Cluster is dedicated", cluster.is_dedicated,
        f"{cluster.name} is dedicated." if cluster.is_dedicated else
        f"{cluster.name} is a standard cluster; only dedicated clusters take this request.",
    )]


# A request that reached approval (or the live states) owns its connection; one still waiting
# for approval loses to an older one, so two drafts for the same pair never block each other.
_CLAIMING_STATES = frozenset({S.APPROVED, S.PROVISIONING, S.ACTION_NEEDED, S.FAILED, S.ACTIVE,
                              S.DEGRADED, S.COMPLETED, S.REMOVING})
_WAITING_STATES = frozenset({S.AWAITING_GRANT, S.PENDING_APPROVAL})


def duplicate_checks(request: ConnectivityRequest) -> list[Check]:
    same = ConnectivityRequest.objects.filter(
        cluster=request.cluster, kind=request.kind,
        state__in=_CLAIMING_STATES | _WAITING_STATES).exclude(pk=request.pk)
    if request.kind == RequestKind.VNET_PEERING:
        same = same.filter(subscription_id__iexact=request.subscription_id,
                           resource_group__iexact=request.resource_group,
                           vnet_name__iexact=request.vnet_name)
    elif request.kind == RequestKind.PRIVATE_DNS:
        same = same.filter(zone_name__iexact=request.zone_name)
    else:
        same = same.filter(domain_name__iexact=request.domain_name)
    other = None
    for candidate in same.order_by("created_at", "id"):
        older = (candidate.created_at, str(candidate.pk)) < (request.created_at, str(request.pk))
        if older or (candidate.state in _CLAIMING_STATES and request.state in _WAITING_STATES):
            other = candidate
            break
    return [_check(
        "no_duplicate", "No other request for the same connection", other is None,
        "No other open request covers this." if other is None else
        f"Request {other.short_id} ({other.get_state_display()}) already covers this; "
        "cancel one of the two.",
    )]


# --- VNet peering -----------------------------------------------------------------------------

ROLE_LABEL = "Platform holds the role on your VNet"
VNET_LABEL = "Your VNet exists and is readable"
OVERLAP_LABEL = "Address spaces do not overlap"
GATEWAY_LABEL = "Remote gateway available"
PAIR_LABEL = "No other peering between the two VNets"


def cluster_peering_name(request: ConnectivityRequest) -> str:
    """The cluster-side peering's name: fixed per request, so a repeated PUT finds it."""
    return _peering_name(request, request.vnet_name)


def customer_peering_name(request: ConnectivityRequest) -> str:
    return _peering_name(request, request.cluster.vnet_id.rstrip("/").rsplit("/", 1)[-1])


def _peering_name(request: ConnectivityRequest, towards: str) -> str:
    return f"cp-{request.short_id}-to-{towards}"[:80]


def _networks(prefixes: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for prefix in prefixes:
        try:
            networks.append(ipaddress.ip_network(prefix, strict=False))
        except ValueError:
            continue
    return networks


def _overlapping(mine: Iterable[str], theirs: Iterable[str]) -> list[str]:
    """Each overlap between two address spaces, and each prefix that does not parse (fails
    closed: an address space the portal cannot read is never taken for a disjoint one)."""
    def parsed(prefixes: Iterable[str]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for prefix in prefixes:
            try:
                out.append((prefix, ipaddress.ip_network(prefix, strict=False)))
            except (ValueError, TypeError):
                out.append((prefix, None))
        return out

    mine_nets, theirs_nets = parsed(mine), parsed(theirs)
    found = [f"{prefix} is not a CIDR the portal can check" for prefix, net in
             mine_nets + theirs_nets if net is None]
    for prefix, net in mine_nets:
        for _other_prefix, other in theirs_nets:
            if net is not None and other is not None and net.version == other.version \
                    and net.overlaps(other):
                found.append(f"{prefix} overlaps {other}")
    return found


RESERVED_LABEL = "Address space avoids Azure's reserved addresses"


def reserved_space_check(prefixes: Iterable[str], vnet_name: str) -> Check:
    """A VNet whose space includes 169.254.0.0/16 or 168.63.129.16 is refused."""
    found = reserved_overlaps(list(prefixes))
    return _check(
        "address_reserved", RESERVED_LABEL, not found,
        f"{vnet_name} uses none of Azure's reserved addresses." if not found else
        f"{vnet_name}'s address space {'; '.join(found)}. Azure reserves 169.254.0.0/16 "
        "(link-local, instance metadata) and 168.63.129.16 (its DNS and health probes) in every "
        "VNet; use a VNet whose address space leaves them out.")


def _role_check(request: ConnectivityRequest, gateway: Any, errors: Any) -> Check:
    from connectivity.azure import roles

    scope = request.customer_vnet_id
    required = roles.required_actions()
    try:
        permissions = gateway.permissions_at(scope=scope, tenant_id=request.tenant_id)
    except errors.TransientAzureError as exc:
        return _pending("role_granted", ROLE_LABEL,
                        f"Azure did not answer ({exc.message}); checking again shortly.",
                        retry_until=_transient_retry_until(request, "role_granted"),
                        transient=True)
    except errors.GatewayError as exc:
        return _check("role_granted", ROLE_LABEL, False, exc.message)
    missing = gateway.missing_from(permissions, required)
    if not missing:
        return _check("role_granted", ROLE_LABEL, True,
                      f"The platform holds every action of the role on {request.vnet_name}.")
    app_id = settings.AZURE_CLIENT_ID
    if permissions and any(p.actions for p in permissions):
        # Something is assigned and visible, so this is not propagation: the role is wrong.
        return _check(
            "role_granted", ROLE_LABEL, False,
            f"The role assigned to the platform at {scope} lacks {', '.join(missing)}. Update the "
            "custom role's Actions from this request's instructions, then verify again.")
    until = _retry_until(request, "role_granted", settings.GRANT_PROPAGATION_WINDOW)
    if timezone.now() < until:
        return _pending(
            "role_granted", ROLE_LABEL,
            f"No role for the platform (application {app_id}) is visible at {scope} yet. A role "
            "assigned in the last minutes may still be propagating in Azure (up to 30 minutes); "
            f"the portal re-checks by itself until {until:%H:%M} UTC. If you assigned it earlier, "
            "check it is assigned at exactly this scope.", retry_until=until)
    return _check(
        "role_granted", ROLE_LABEL, False,
        f"The platform (application {app_id}) holds none of {', '.join(required)} at {scope}. "
        f"Assign the custom role to the application at exactly this scope (az role assignment "
        f"create --assignee {app_id} --scope {scope} ...), then verify again.")


SCOPE_LABEL = "Not one of the platform's own networks"


def _scope_check(request: ConnectivityRequest) -> Check:
    """Also refused at create; checked again because clusters are added after requests."""
    from connectivity import scopes

    problems = scopes.platform_scope_errors(tenant_id=request.tenant_id,
                                            subscription_id=request.subscription_id,
                                            vnet_id=request.customer_vnet_id)
    return _check("not_platform_scope", SCOPE_LABEL, not problems,
                  "The VNet is outside the platform's tenant and subscriptions." if not problems
                  else " ".join(m for messages in problems.values() for m in messages))


def _control_check(request: ConnectivityRequest) -> Check:
    """The first customer-side check: nothing else reads the customer's VNet until it passes
    (see connectivity/proof.py for why the proof holds)."""
    from connectivity import proof

    answer = proof.inspect(request)
    if answer.proved:
        return _check("control_proved", proof.LABEL, True, answer.message)
    if answer.outcome == "transient":
        return _pending("control_proved", proof.LABEL, answer.message,
                        retry_until=_transient_retry_until(request, "control_proved"),
                        transient=True)
    if answer.outcome == "not_visible":
        # Right after granting, Azure may not show the new assignment yet: as for the role.
        until = _retry_until(request, "control_proved", settings.GRANT_PROPAGATION_WINDOW)
        if timezone.now() < until:
            return _pending(
                "control_proved", proof.LABEL,
                f"{answer.message} A role assigned in the last minutes may still be propagating "
                f"in Azure (up to 30 minutes); the portal re-checks by itself until "
                f"{until:%H:%M} UTC.", retry_until=until)
    return _check("control_proved", proof.LABEL, False, answer.message)


def peering_checks(request: ConnectivityRequest) -> list[Check]:
    from connectivity.azure import errors, gateway

    platform_tenant = settings.AZURE_PLATFORM_TENANT_ID
    cluster = request.cluster
    dependent = [("vnet_readable", VNET_LABEL), ("address_space", OVERLAP_LABEL),
                 ("pair_not_peered", PAIR_LABEL)]
    if request.use_remote_gateways:
        dependent.append(("remote_gateway", GATEWAY_LABEL))
    # The customer side is judged with the customer's grant alone: never in the platform's own
    # scopes (where the platform holds rights anyway), and only once this request proved
    # control; until then no check reads the VNet, so nothing about it is shown.
    from connectivity import proof

    scope = _scope_check(request)
    if scope["status"] != PASS:
        return [scope] + [_pending(key, label, f"Checked once the request targets your own "
                                   f"VNet (see: {SCOPE_LABEL}).")
                          for key, label in [("control_proved", proof.LABEL),
                                             ("role_granted", ROLE_LABEL), *dependent]]
    control = _control_check(request)
    if control["status"] != PASS:
        return [scope, control] + [
            _pending(key, label, f"Checked once your organisation proved control of "
                     f"{request.vnet_name} (see: {control['label']}).")
            for key, label in [("role_granted", ROLE_LABEL), *dependent]]
    role = _role_check(request, gateway, errors)
    checks = [scope, control, role]
    if role["status"] != PASS:
        return checks + [_pending(key, label, f"Checked once the platform can read "
                                  f"{request.vnet_name} (see: {ROLE_LABEL}).")
                         for key, label in dependent]
    try:
        customer = gateway.vnet_get(vnet_id=request.customer_vnet_id, tenant_id=request.tenant_id)
        cluster_vnet = gateway.vnet_get(vnet_id=cluster.vnet_id, tenant_id=platform_tenant)
    except errors.TransientAzureError as exc:
        until = _transient_retry_until(request, "vnet_readable")
        return checks + [_pending(key, label, f"Azure did not answer ({exc.message}); checking "
                                  "again shortly.", retry_until=until, transient=True)
                         for key, label in dependent]
    except errors.GatewayError as exc:
        return checks + [_check("vnet_readable", VNET_LABEL, False, exc.message)] + [
            _pending(key, label, "Checked once the VNet can be read.")
            for key, label in dependent[1:]]
    checks.append(_check("vnet_readable", VNET_LABEL, True,
                         f"{customer.name} ({', '.join(customer.address_prefixes)}) in "
                         f"{customer.location or 'its region'}."))

    own_names = {cluster_peering_name(request).lower(), customer_peering_name(request).lower()}
    conflicts: list[str] = []
    for prefix_owner, peerings in ((cluster_vnet, cluster_vnet.peerings),
                                   (customer, customer.peerings)):
        for peering in peerings:
            points_at_pair = peering.remote_vnet_id.lower() in (
                customer.id.lower(), cluster_vnet.id.lower())
            if points_at_pair and peering.name.lower() not in own_names:
                conflicts.append(f"{peering.name} on {prefix_owner.name}")
    checks.append(_check(
        "pair_not_peered", PAIR_LABEL, not conflicts,
        "No other peering connects the two VNets." if not conflicts else
        f"A peering between the two VNets already exists ({'; '.join(conflicts)}). Azure allows "
        "one per direction: delete it, or ask support to adopt it."))

    problems = [f"with {cluster.name}'s VNet: {o}"
                for o in _overlapping(customer.address_prefixes, cluster_vnet.address_prefixes)]
    for peering in cluster_vnet.peerings:
        if peering.remote_vnet_id.lower() == customer.id.lower():
            continue
        other = peering.remote_vnet_id.rstrip("/").rsplit("/", 1)[-1]
        problems += [f"with {other}, already peered to {cluster.name}: {o}" for o in
                     _overlapping(customer.address_prefixes, peering.remote_address_prefixes)]
    for peering in customer.peerings:
        if peering.remote_vnet_id.lower() == cluster_vnet.id.lower():
            continue
        other = peering.remote_vnet_id.rstrip("/").rsplit("/", 1)[-1]
        problems += [f"{cluster.name}'s VNet with {other}, already peered to yours: {o}" for o in
                     _overlapping(cluster_vnet.address_prefixes, peering.remote_address_prefixes)]
    checks.append(_check(
        "address_space", OVERLAP_LABEL, not problems,
        f"{', '.join(customer.address_prefixes)} overlaps nothing on {cluster.name}." if not problems
        else "Azure cannot peer overlapping networks. Overlaps " + "; ".join(problems)
        + ". Use a VNet with a different address space."))
    checks.append(reserved_space_check(customer.address_prefixes, customer.name))

    if request.use_remote_gateways:
        checks.append(_check(
            "remote_gateway", GATEWAY_LABEL, customer.has_gateway,
            f"{customer.name} has a gateway." if customer.has_gateway else
            f"'Use remote gateways' needs a VPN or ExpressRoute gateway in {customer.name}, and it "
            "has none. Add one, or turn the option off."))
    return checks


# --- Private DNS zone -------------------------------------------------------------------------


#: Each organisation's private DNS zones live in a resource group of their own in the platform's
#: subscription, so two organisations filing the same zone name get two separate zones.
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
        zone_name__iexact=request.zone_name.rstrip("."),
        state__in=_CLAIMING_STATES).exclude(pk=request.pk)
    return others.order_by("created_at").first()


def private_dns_checks(request: ConnectivityRequest) -> list[Check]:
    """Names, then clashes. The clash check looks only at what the organisation may know of:
    zones linked to its own cluster's VNet (Azure links one zone per name to a VNet) and its
    own zones; other organisations' zones live in other groups and never show here."""
    from connectivity.azure import errors, gateway

    checks = []
    try:
        validate_zone_name(request.zone_name, "Zone name")
        validate_records(request.records)
        checks.append(_check("names_valid", "Zone and record names, private IPs", True,
                             f"{request.zone_name} with {len(request.records)} A record(s)."))
    except ValidationError as exc:
        checks.append(_check("names_valid", "Zone and record names, private IPs", False,
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
        return [*checks, _pending("zone_clash", label, f"Azure did not answer ({exc.message}); "
                                  "checking again shortly.",
                                  retry_until=_transient_retry_until(request, "zone_clash"),
                                  transient=True)]
    except errors.GatewayError as exc:
        return [*checks, _check("zone_clash", label, False, exc.message)]
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
        message = (f"Your organisation already has a zone named {request.zone_name} that no "
                   "request owns; ask support to remove or adopt it.")
    ok = not clash and holder is None and existing is None
    checks.append(_check("zone_clash", label, ok, message))
    return checks


# --- DNS forwarding ---------------------------------------------------------------------------


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def forwarding_rule_name(request: ConnectivityRequest) -> str:
    return f"cp-{request.short_id}"


def dns_forwarding_checks(request: ConnectivityRequest) -> list[Check]:
    from connectivity.azure import errors, gateway

    cluster = request.cluster
    checks = []
    try:
        validate_forwarding_domain(request.domain_name, "Domain name")
        checks.append(_check("domain_valid", "Domain name is valid", True, request.domain_name))
    except ValidationError as exc:
        checks.append(_check("domain_valid", "Domain name is valid", False, " ".join(exc.messages)))
    ruleset = cluster.dns_forwarding_ruleset_id
    checks.append(_check(
        "ruleset", "Cluster has a DNS forwarding ruleset", bool(ruleset),
        "The cluster's ruleset is ready." if ruleset else
        f"{cluster.name} has no DNS forwarding ruleset yet; ask support to enable forwarding."))
    reach_label = "DNS servers are inside a peered VNet"
    clash_label = "No other rule for the domain"
    try:
        cluster_vnet = gateway.vnet_get(vnet_id=cluster.vnet_id,
                                        tenant_id=settings.AZURE_PLATFORM_TENANT_ID)
        rules = gateway.forwarding_rules_list(ruleset_id=ruleset) if ruleset else []
    except errors.TransientAzureError as exc:
        until = _transient_retry_until(request, "servers_reachable")
        return checks + [_pending(k, lbl, f"Azure did not answer ({exc.message}); checking again "
                                  "shortly.", retry_until=until, transient=True)
                         for k, lbl in (("servers_reachable", reach_label),
                                        ("rule_clash", clash_label))]
    except errors.GatewayError as exc:
        return [*checks, _check("servers_reachable", reach_label, False, exc.message)]
    peered = [p for p in cluster_vnet.peerings if p.connected]
    networks = _networks(prefix for p in peered for prefix in p.remote_address_prefixes)
    outside = []
    for server in request.dns_servers:
        try:
            address = ipaddress.ip_address(server)
        except ValueError:
            outside.append(server)
            continue
        if not any(address.version == n.version and address in n for n in networks):
            outside.append(server)
    peered_text = ", ".join(str(n) for n in networks) or "none"
    checks.append(_check(
        "servers_reachable", reach_label, not outside,
        f"{_joined(list(request.dns_servers))} "
        f"{'is' if len(request.dns_servers) == 1 else 'are'} inside a network peered with "
        f"{cluster.name}."
        if not outside else
        f"{_joined(outside)} {'is' if len(outside) == 1 else 'are'} not inside any VNet with an "
        f"active peering to {cluster.name} "
        f"(peered address space: {peered_text}). Peer the VNet that hosts the DNS servers first."))
    wanted = request.domain_name.lower().rstrip(".") + "."
    others = [r.name for r in rules
              if r.domain_name.lower() == wanted and r.name != forwarding_rule_name(request)]
    checks.append(_check(
        "rule_clash", clash_label, not others,
        f"No rule forwards {request.domain_name} yet." if not others else
        f"Rule {others[0]} already forwards {request.domain_name} on {cluster.name}; ask support."))
    return checks


KIND_CHECKS: dict[str, Callable[[ConnectivityRequest], list[Check]]] = {
    RequestKind.VNET_PEERING: peering_checks,
    RequestKind.PRIVATE_DNS: private_dns_checks,
    RequestKind.DNS_FORWARDING: dns_forwarding_checks,
}


def run(request: ConnectivityRequest) -> tuple[list[Check], list[str]]:
    """All checks for the request's kind, and the Azure request ids the checks made."""
    from connectivity.azure.clients import capture_request_ids

    checks = cluster_checks(request) + duplicate_checks(request)
    if not request.cluster.is_dedicated:
        return checks, []
    with capture_request_ids() as ids:
        checks += KIND_CHECKS[request.kind](request)
    return checks, list(ids)


def recheck_due(request: ConnectivityRequest, *, now: datetime | None = None) -> bool:
    """Whether a pending check asks to be re-run now: backoff doubles from 15 s up to 5 min
    since the check first went pending, and stops at its ``retry_until``."""
    now = now or timezone.now()
    ran = request.preflight_ran_at
    if ran is None:
        return False
    for check in request.preflight or []:
        until = check.get("retry_until") if isinstance(check, dict) else None
        if check.get("status") != PENDING or not until:
            continue
        try:
            deadline = datetime.fromisoformat(until)
        except ValueError:
            continue
        if now >= deadline:
            if ran < deadline:  # one last run turns it into a pass or a fail
                return True
            continue
        # The deadline was set a window after the first pending run, so the time pending so
        # far is known, and the wait between checks grows with it.
        propagating = check.get("key") in ("role_granted", "control_proved")
        window = (settings.GRANT_PROPAGATION_WINDOW if propagating and not check.get("transient")
                  else TRANSIENT_RECHECK_WINDOW)
        pending_for = max(0.0, (ran - (deadline - timedelta(seconds=window))).total_seconds())
        wait = min(300.0, max(15.0, pending_for))
        if (now - ran).total_seconds() >= wait:
            return True
    return False
