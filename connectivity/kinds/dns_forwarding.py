"""DNS forwarding: a rule in the cluster's DNS forwarding ruleset that sends queries for the
customer's domain to their DNS servers, which must be reachable through an active peering.

ARM call budget: pre-flight 2 (the cluster VNet with its peerings, the ruleset's rules), the
rule 2 (read, PUT; a forwarding rule is not a long-running operation, a few seconds on real
Azure), teardown 1-2."""

from __future__ import annotations

import ipaddress
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
    Outcome,
    PlannedResource,
    Reading,
    Removed,
    SpecField,
    api_text,
    form_text,
    gateway,
)
from connectivity.models import ConnectionStatus, ConnectivityRequest, RequestKind, RequestState
from connectivity.preflight import Check, make_check, make_pending, parse_networks, transient_deadline

S = RequestState
logger = logging.getLogger(__name__)


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def forwarding_rule_name(request: ConnectivityRequest) -> str:
    return f"cp-{request.short_id}"


def dns_forwarding_checks(request: ConnectivityRequest) -> list[Check]:
    from connectivity.azure import errors, gateway

    cluster = request.cluster
    checks = []
    try:
        validators.validate_forwarding_domain(request.domain_name, "Domain name")
        checks.append(make_check("domain_valid", "Domain name is valid", True, request.domain_name))
    except ValidationError as exc:
        checks.append(make_check("domain_valid", "Domain name is valid", False, " ".join(exc.messages)))
    ruleset = cluster.dns_forwarding_ruleset_id
    checks.append(make_check(
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
        until = transient_deadline(request, "servers_reachable")
        return checks + [make_pending(k, lbl, f"Azure did not answer ({exc.message}); checking again "
                                  "shortly.", retry_until=until, transient=True)
                         for k, lbl in (("servers_reachable", reach_label),
                                        ("rule_clash", clash_label))]
    except errors.GatewayError as exc:
        return [*checks, make_check("servers_reachable", reach_label, False, exc.message)]
    peered = [p for p in cluster_vnet.peerings if p.connected]
    networks = parse_networks(prefix for p in peered for prefix in p.remote_address_prefixes)
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
    checks.append(make_check(
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
    checks.append(make_check(
        "rule_clash", clash_label, not others,
        f"No rule forwards {request.domain_name} yet." if not others else
        f"Rule {others[0]} already forwards {request.domain_name} on {cluster.name}; ask support."))
    return checks


def _step_rule(request: ConnectivityRequest) -> Outcome:
    gw = gateway()
    ruleset_id = request.cluster.dns_forwarding_ruleset_id
    name = forwarding_rule_name(request)
    rule = gw.forwarding_rule_get(ruleset_id=ruleset_id, name=name)
    wanted_domain = request.domain_name.lower().rstrip(".") + "."
    wanted_servers = sorted(f"{ip}:53" for ip in request.dns_servers)
    if (rule is None or rule.domain_name.lower() != wanted_domain
            or sorted(rule.target_dns_servers) != wanted_servers):
        rule = gw.forwarding_rule_create(ruleset_id=ruleset_id, name=name,
                                         domain_name=request.domain_name,
                                         target_dns_servers=list(request.dns_servers))
    return Active(f"Queries for {request.domain_name} on {request.cluster.name} go to "
                  f"{', '.join(request.dns_servers)}.", {"rule_id": rule.id})


def _step_remove_rule(request: ConnectivityRequest) -> Outcome:
    ruleset_id = request.cluster.dns_forwarding_ruleset_id
    name = forwarding_rule_name(request)
    gone = bool(ruleset_id) and gateway().forwarding_rule_delete(ruleset_id=ruleset_id, name=name)
    return Removed(f"Deleted the forwarding rule for {request.domain_name}." if gone else
                   f"The forwarding rule for {request.domain_name} was already gone.")



# --- The spec ---------------------------------------------------------------------------------


def _split_servers(text: Any) -> list[str]:
    if isinstance(text, list):
        return text
    return [s for s in re.split(r"[\s,;]+", text or "") if s]


SPEC = (
    SpecField("domain_name", "Domain name", "The domain to forward, for example corp.contoso.com.",
              validate=lambda v: validators.validate_forwarding_domain(v, "Domain name"),
              form=form_text(253),
              api=api_text(253, "DNS forwarding: the domain to forward.")),
    SpecField("dns_servers", "DNS server IPs",
              f"Private IPs of your DNS servers, separated by commas or spaces "
              f"(up to {validators.MAX_DNS_SERVERS}). They must sit in a VNet peered with "
              "the cluster.",
              validate=validators.validate_dns_servers, default=list, form=form_text(200),
              parse_form=_split_servers,
              api=lambda s: serializers.ListField(
                  child=serializers.CharField(max_length=64), required=False,
                  max_length=validators.MAX_DNS_SERVERS,
                  help_text="DNS forwarding: your DNS servers' IPs.")),
)

_DEPENDABLE_STATES = (S.ACTIVE, S.COMPLETED, S.DEGRADED)


class DnsForwarding(Kind):
    key = RequestKind.DNS_FORWARDING.value
    label = RequestKind.DNS_FORWARDING.label
    description = ("Forward a domain to your DNS servers, reachable through an active peering. "
                   "No role needed.")
    spec = SPEC
    identity_fields = ("domain_name",)
    first_step = "rule"
    first_remove_step = "remove_rule"
    steps = {"rule": _step_rule, "remove_rule": _step_remove_rule}
    resource_labels = {"rule_id": "DNS forwarding rule"}
    noun = "a DNS forwarding rule"
    needs_peering = True

    def target(self, request: ConnectivityRequest) -> str:
        return f"{request.domain_name} → {', '.join(request.dns_servers)}"

    def form_initial(self, request: ConnectivityRequest) -> dict[str, Any]:
        return {"domain_name": request.domain_name, "dns_servers": ", ".join(request.dns_servers)}

    def describe(self, request: ConnectivityRequest) -> str:
        return f"DNS forwarding {self.target(request)} ({request.short_id})"

    def peering_ips(self, request: ConnectivityRequest) -> list[str]:
        return list(request.dns_servers or [])

    def read_status(self, request: ConnectivityRequest) -> Reading | None:
        """The forwarding rule in the cluster's ruleset."""
        from connectivity.azure.errors import GatewayError

        health = ConnectionStatus.Health
        try:
            rule = gateway().forwarding_rule_get(
                ruleset_id=request.cluster.dns_forwarding_ruleset_id,
                name=forwarding_rule_name(request))
        except GatewayError as exc:
            logger.info("health check for %s postponed: %s", request.pk, exc.message)
            return None
        state = (rule.state or "") if rule is not None else "missing"
        parts = [{"label": self.resource_labels["rule_id"], "name": forwarding_rule_name(request),
                  "state": state}]
        if rule is None:
            return Reading(health.DEGRADED, "Rule missing", parts=parts,
                           reason="The forwarding rule no longer exists in Azure.")
        return Reading(health.OK, f"Rule {state}", parts=parts)

    def checks(self, request: ConnectivityRequest) -> list[Check]:
        return dns_forwarding_checks(request)

    def depends_on(self, request: ConnectivityRequest) -> list[ConnectivityRequest]:
        """The live peerings of the same cluster and organisation whose customer VNet hosts
        one of the rule's DNS servers (read from the cluster VNet's peerings, as pre-flight
        does). Empty when Azure cannot be read now."""
        from connectivity import kinds
        from connectivity.azure.errors import GatewayError

        peering_kinds = [k.key for k in kinds.all_kinds() if k.has_dependents]
        candidates = list(ConnectivityRequest.objects.filter(
            organization_id=request.organization_id, cluster_id=request.cluster_id,
            kind__in=peering_kinds, state__in=_DEPENDABLE_STATES).exclude(pk=request.pk))
        if not candidates:
            return []
        try:
            cluster_vnet = gateway().vnet_get(vnet_id=request.cluster.vnet_id,
                                              tenant_id=settings.AZURE_PLATFORM_TENANT_ID)
        except GatewayError:
            return []
        by_remote = {p.remote_vnet_id.lower(): p for p in cluster_vnet.peerings}
        servers = []
        for server in request.dns_servers or []:
            try:
                servers.append(ipaddress.ip_address(server))
            except ValueError:
                continue
        found = []
        for candidate in candidates:
            peering = by_remote.get(candidate.customer_vnet_id.lower())
            if peering is None:
                continue
            networks = parse_networks(peering.remote_address_prefixes)
            if any(a.version == n.version and a in n for a in servers for n in networks):
                found.append(candidate)
        return found

    def planned_resources(self, request: ConnectivityRequest) -> list[PlannedResource]:
        ruleset = request.cluster.dns_forwarding_ruleset_id
        if not ruleset:
            return [PlannedResource(f"Forwarding rule {request.domain_name}",
                                    "(the cluster has no DNS forwarding ruleset configured)",
                                    PLATFORM)]
        return [PlannedResource(
            f"Forwarding rule {request.domain_name} → {', '.join(request.dns_servers)}",
            f"{ruleset}/forwardingRules/{forwarding_rule_name(request)}", PLATFORM)]
