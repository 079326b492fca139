"""Customer pages: who may see what (customer, teammate, outsider, anonymous), and what they see."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectivity import kinds
from connectivity.models import ConnectivityRequest, RequestState, User
from tests.factories import ClusterFactory, PeeringRequestFactory

S = RequestState
PASSING = [{"key": "role_granted", "label": "Platform holds the role on your VNet",
            "status": "pass", "message": "All good."}]
FAILING = [{"key": "role_granted", "label": "Platform holds the role on your VNet",
            "status": "fail", "message": "No role for the platform at the VNet yet."}]


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any) -> Iterator[None]:
    """Rate-limit counters live in the cache; each test starts with an empty local one."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "portal-view-tests"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """Pre-flight without Azure: the test sets what the checks say."""
    result = list(PASSING)
    monkeypatch.setattr(kinds, "preflight", lambda request: (list(result), ["req-1"]))
    return result


@pytest.fixture
def peering(dedicated_cluster: Any, customer: User) -> ConnectivityRequest:
    return PeeringRequestFactory(cluster=dedicated_cluster, created_by=customer,
                                 state=S.AWAITING_GRANT)


def as_user(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def page_urls(req: ConnectivityRequest) -> list[str]:
    return [
        reverse("request_detail", args=[req.pk]),
        reverse("request_grant", args=[req.pk]),
        reverse("request_grant_download", args=[req.pk, "role.json"]),
        reverse("request_status", args=[req.pk]),
    ]


def action_urls(req: ConnectivityRequest) -> list[str]:
    return [
        reverse("request_verify", args=[req.pk]),
        reverse("request_comment", args=[req.pk]),
        reverse("request_cancel", args=[req.pk]),
        reverse("request_teardown", args=[req.pk]),
        reverse("request_check_revoke", args=[req.pk]),
    ]


# --- access -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["customer", "teammate"])
def test_members_see_every_page_of_their_request(who: str, request: Any,
                                                 peering: ConnectivityRequest) -> None:
    client = as_user(request.getfixturevalue(who))
    for url in [reverse("dashboard"), reverse("request_new"), reverse("profile"),
                *page_urls(peering)]:
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_outsider_gets_404_for_every_request_page_and_action(
        outsider: User, peering: ConnectivityRequest, checks: list[Any]) -> None:
    client = as_user(outsider)
    for url in page_urls(peering):
        assert client.get(url).status_code == 404, url
    for url in action_urls(peering):
        assert client.post(url, {"body": "hello"}).status_code == 404, url
    peering.refresh_from_db()
    assert peering.state == S.AWAITING_GRANT
    assert not peering.comments.exists()


@pytest.mark.django_db
def test_outsider_sees_neither_the_request_nor_the_cluster(
        outsider: User, peering: ConnectivityRequest) -> None:
    client = as_user(outsider)
    page = client.get(reverse("dashboard")).content.decode()
    assert peering.short_id not in page
    assert "contoso-prod" not in page
    export = client.get(reverse("cluster_ips_export"),
                        {"format": "txt", "cluster": peering.cluster_id})
    assert export.status_code == 404


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(peering: ConnectivityRequest) -> None:
    client = Client()
    login = reverse("account_login")
    for url in [reverse("dashboard"), reverse("request_new"), reverse("profile"),
                reverse("cluster_ips_export"), *page_urls(peering)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(login), url
    for url in [*action_urls(peering), reverse("request_validate")]:
        response = client.post(url)
        assert response.status_code == 302 and response["Location"].startswith(login), url


@pytest.mark.django_db
def test_unknown_request_id_is_404(customer: User) -> None:
    client = as_user(customer)
    assert client.get("/requests/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/requests/not-a-uuid/").status_code == 404


@pytest.mark.django_db
def test_sign_in_page_offers_email_and_no_unconfigured_sso() -> None:
    page = Client().get(reverse("account_login")).content.decode()
    assert 'name="login"' in page and 'name="password"' in page
    assert '<label for="id_login">' in page
    # No SSO credentials are configured in the test settings, so no provider button.
    assert "Sign in with Microsoft" not in page and "Sign in with Google" not in page


@pytest.mark.django_db
def test_sign_in_with_email_and_password_lands_on_dashboard(customer: User) -> None:
    response = Client().post(reverse("account_login"),
                             {"login": customer.email, "password": "correct-horse-battery-staple"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


# --- staff need MFA ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_without_authenticator_app_are_sent_to_set_one_up(approver: User,
                                                                  settings: Any) -> None:
    settings.CONSOLE_REQUIRE_MFA = True
    response = as_user(approver).get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp") + "?next=%2F"


@pytest.mark.django_db
def test_staff_whose_session_passed_mfa_get_through(approver: User, settings: Any) -> None:
    from allauth.mfa.models import Authenticator

    from tests.console.conftest import pass_mfa

    settings.CONSOLE_REQUIRE_MFA = True
    Authenticator.objects.create(user=approver, type=Authenticator.Type.TOTP, data={})
    client = as_user(approver)
    assert client.get(reverse("dashboard"))["Location"] == (
        reverse("mfa_reauthenticate") + "?next=%2F")  # having an app is not enough
    page = pass_mfa(client, approver).get(reverse("dashboard"))
    assert page.status_code == 200
    assert "No organisation yet" in page.content.decode()


@pytest.mark.django_db
def test_customers_are_not_forced_into_mfa(customer: User, settings: Any) -> None:
    settings.CONSOLE_REQUIRE_MFA = True
    assert as_user(customer).get(reverse("dashboard")).status_code == 200


# --- dashboard and export ---------------------------------------------------------------------


@pytest.mark.django_db
def test_dashboard_lists_clusters_with_ips_and_requests_with_badges(
        customer: User, peering: ConnectivityRequest, standard_cluster: Any) -> None:
    page = as_user(customer).get(reverse("dashboard")).content.decode()
    assert "contoso-prod" in page and "shared-westeurope" in page
    assert "20.54.101.17" in page and 'data-copy="20.54.101.17"' in page
    assert "What does allowlisting mean?" in page
    assert peering.short_id in page
    assert 'class="badge state-awaiting_grant"' in page


@pytest.mark.django_db
def test_dashboard_filters_requests(customer: User, dedicated_cluster: Any) -> None:
    waiting = PeeringRequestFactory(cluster=dedicated_cluster, state=S.AWAITING_GRANT)
    live = PeeringRequestFactory(cluster=dedicated_cluster, state=S.ACTIVE)
    client = as_user(customer)
    page = client.get(reverse("dashboard"), {"state": "live"}).content.decode()
    assert live.short_id in page and waiting.short_id not in page
    page = client.get(reverse("dashboard"), {"state": "awaiting_grant"}).content.decode()
    assert waiting.short_id in page and live.short_id not in page
    page = client.get(reverse("dashboard"), {"kind": "private_dns"}).content.decode()
    assert "No request matches these filters" in page
    # Nonsense filters are ignored, not a 500.
    assert client.get(reverse("dashboard"), {"state": "<x>", "cluster": "abc"}).status_code == 200


@pytest.mark.django_db
def test_ip_export_in_three_formats(customer: User, dedicated_cluster: Any,
                                    standard_cluster: Any) -> None:
    client = as_user(customer)
    url = reverse("cluster_ips_export")
    text = client.get(url, {"format": "txt", "cluster": dedicated_cluster.pk})
    assert text.content.decode() == "20.54.101.17\n20.54.101.18\n"
    assert "attachment" in text["Content-Disposition"]
    csv_body = client.get(url, {"format": "csv"}).content.decode().splitlines()
    assert csv_body[0] == "cluster,region,tier,ip"
    assert "contoso-prod,westeurope,dedicated,20.54.101.17" in csv_body
    assert any(line.startswith("shared-westeurope,") for line in csv_body)
    data = json.loads(client.get(url, {"format": "json"}).content)
    assert {c["name"] for c in data["clusters"]} == {"contoso-prod", "shared-westeurope"}
    bad = client.get(url, {"format": "xml"})
    assert bad.status_code == 400 and b"format must be one of" in bad.content


@pytest.mark.django_db
@pytest.mark.parametrize("hostile", ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1",
                                     "-2+3", "@SUM(A1)", "\tcmd"])
def test_ip_csv_export_neutralises_spreadsheet_formulas(customer: User, organization: Any,
                                                        hostile: str) -> None:
    ClusterFactory(organization=organization, name=hostile, region="=cmd|' /C calc'!A0",
                   external_ips=["-1+1", "20.54.101.17"])
    body = as_user(customer).get(reverse("cluster_ips_export"), {"format": "csv"}).content.decode()
    rows = list(csv.reader(io.StringIO(body)))[1:]
    assert rows, body
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t")), row
    assert rows[0][0] == "'" + hostile and rows[0][1].startswith("'=cmd")
    assert {r[3] for r in rows} == {"'-1+1", "20.54.101.17"}


# --- the wizard -------------------------------------------------------------------------------


def peering_post(cluster: Any, **fields: str) -> dict[str, str]:
    data = {
        "cluster": str(cluster.pk), "kind": "vnet_peering",
        "vnet_peering-tenant_id": "44444444-4444-4444-8444-444444444444",
        "vnet_peering-subscription_id": "55555555-5555-4555-8555-555555555555",
        "vnet_peering-resource_group": "rg-contoso-network",
        "vnet_peering-vnet_name": "vnet-contoso-hub",
    }
    data.update({f"vnet_peering-{k}" if k not in ("cluster", "kind") else k: v
                 for k, v in fields.items()})
    return data


@pytest.mark.django_db
def test_wizard_files_a_peering_and_shows_the_grant_page(customer: User,
                                                         dedicated_cluster: Any) -> None:
    client = as_user(customer)
    response = client.post(reverse("request_new"), peering_post(dedicated_cluster))
    created = ConnectivityRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("request_grant", args=[created.pk])
    assert created.state == S.AWAITING_GRANT and created.created_by == customer
    page = client.get(response["Location"]).content.decode()
    assert "az login --tenant 44444444-4444-4444-8444-444444444444" in page
    assert "az account set --subscription 55555555-5555-4555-8555-555555555555" in page
    assert "/resourceGroups/rg-contoso-network/providers/Microsoft.Network/virtualNetworks/" \
           "vnet-contoso-hub" in page
    assert "Microsoft.Network/virtualNetworks/peer/action" in page
    assert "az role assignment delete" in page  # the revoke command, shown up front
    role = client.get(reverse("request_grant_download", args=[created.pk, "role.json"]))
    assert json.loads(role.content)["AssignableScopes"] == [
        "/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg-contoso-network"]


@pytest.mark.django_db
def test_wizard_parses_a_pasted_vnet_resource_id(customer: User, dedicated_cluster: Any) -> None:
    data = peering_post(dedicated_cluster, subscription_id="", resource_group="", vnet_name="",
                        vnet_resource_id="/subscriptions/55555555-5555-4555-8555-555555555555/"
                        "resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-a")
    assert as_user(customer).post(reverse("request_new"), data).status_code == 302
    created = ConnectivityRequest.objects.get()
    assert (created.subscription_id, created.resource_group, created.vnet_name) == (
        "55555555-5555-4555-8555-555555555555", "rg-net", "vnet-a")


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "expected"), [
    ({"tenant_id": "not-a-guid"}, "Tenant ID must be a GUID"),
    ({"subscription_id": "1234"}, "Subscription ID must be a GUID"),
    ({"resource_group": "bad/group"}, "Resource group names are 1-90 characters"),
    ({"vnet_name": "-vnet"}, "VNet names are 2-64 characters"),
    ({"tenant_id": ""}, "Tenant ID is required."),
    ({"vnet_name": ""}, "VNet name is required (or paste the VNet resource ID)."),
    ({"vnet_resource_id": "/subscriptions/x/whatever"}, "A VNet resource id looks like"),
])
def test_wizard_errors_name_the_field_and_the_rule(customer: User, dedicated_cluster: Any,
                                                   fields: dict[str, str], expected: str) -> None:
    response = as_user(customer).post(reverse("request_new"),
                                      peering_post(dedicated_cluster, **fields))
    assert response.status_code == 400
    assert expected in response.content.decode()
    assert not ConnectivityRequest.objects.exists()


@pytest.mark.django_db
def test_wizard_private_dns_goes_to_approval_when_checks_pass(
        customer: User, dedicated_cluster: Any, checks: list[Any]) -> None:
    response = as_user(customer).post(reverse("request_new"), {
        "cluster": dedicated_cluster.pk, "kind": "private_dns",
        "private_dns-zone_name": "corp.contoso.internal",
        "private_dns-records": "db 10.20.1.4\napi, 10.20.1.5\n",
    })
    created = ConnectivityRequest.objects.get()
    assert response["Location"] == reverse("request_detail", args=[created.pk])
    assert created.state == S.PENDING_APPROVAL
    assert created.records == [{"name": "db", "ip": "10.20.1.4"}, {"name": "api", "ip": "10.20.1.5"}]


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "expected"), [
    ({"kind": "private_dns", "private_dns-zone_name": "nodots", "private_dns-records": "db 10.0.0.1"},
     "Zone name must be a DNS name"),
    ({"kind": "private_dns", "private_dns-zone_name": "a.example", "private_dns-records": "db 8.8.8.8"},
     "Record 1&#x27;s IP must be a private address"),
    ({"kind": "private_dns", "private_dns-zone_name": "a.example", "private_dns-records": "db"},
     "A records: line 1"),
    ({"kind": "private_dns", "private_dns-zone_name": "a.example",
      "private_dns-records": "\n".join(f"r{i} 10.0.0.{i}" for i in range(1, 23))},
     "At most 20 records per request."),
    ({"kind": "dns_forwarding", "dns_forwarding-domain_name": "corp.example.com",
      "dns_forwarding-dns_servers": "10.0.0.4, 1.1.1.1"},
     "DNS server IP must be a private address"),
    ({"kind": "dns_forwarding", "dns_forwarding-domain_name": "-bad-.example",
      "dns_forwarding-dns_servers": "10.0.0.4"}, "Domain name must be a DNS name"),
    ({"kind": "teleport"}, "Kind of connection must be one of"),
])
def test_wizard_dns_errors_name_the_field_and_the_rule(customer: User, dedicated_cluster: Any,
                                                       data: dict[str, str], expected: str) -> None:
    response = as_user(customer).post(reverse("request_new"),
                                      {"cluster": dedicated_cluster.pk, **data})
    assert response.status_code == 400
    assert expected in response.content.decode()


@pytest.mark.django_db
def test_wizard_offers_only_own_dedicated_clusters(customer: User, dedicated_cluster: Any,
                                                   standard_cluster: Any, outsider: User) -> None:
    foreign = ClusterFactory(organization=outsider.organization, name="fabrikam-prod")
    client = as_user(customer)
    page = client.get(reverse("request_new")).content.decode()
    assert "contoso-prod" in page
    assert "shared-westeurope" not in page and "fabrikam-prod" not in page
    response = client.post(reverse("request_new"), peering_post(foreign))
    assert response.status_code == 400
    assert "Cluster must be one of your organisation&#x27;s dedicated clusters." in \
        response.content.decode()
    # A shared standard cluster gets the API's explanation, word for word.
    from connectivity.services import STANDARD_CLUSTER_MESSAGE

    response = client.post(reverse("request_new"), peering_post(standard_cluster))
    assert response.status_code == 400
    assert STANDARD_CLUSTER_MESSAGE.replace("'", "&#x27;") in response.content.decode()
    api = as_user(customer).post("/api/v1/requests/", {
        "cluster": standard_cluster.pk, "kind": "vnet_peering",
        "tenant_id": "44444444-4444-4444-8444-444444444444",
        "subscription_id": "55555555-5555-4555-8555-555555555555",
        "resource_group": "rg-x", "vnet_name": "vnet-x"}, content_type="application/json")
    assert api.json()["errors"]["cluster"] == [STANDARD_CLUSTER_MESSAGE]
    assert not ConnectivityRequest.objects.exists()


@pytest.mark.django_db
def test_wizard_explains_when_there_is_no_dedicated_cluster(customer: User,
                                                            standard_cluster: Any) -> None:
    page = as_user(customer).get(reverse("request_new")).content.decode()
    assert "need a <strong>dedicated</strong> cluster" in page


@pytest.mark.django_db
def test_wizard_survives_garbage(customer: User, dedicated_cluster: Any) -> None:
    client = as_user(customer)
    for data in ({}, {"cluster": "x' OR 1=1", "kind": "vnet_peering"},
                 peering_post(dedicated_cluster, tenant_id="\x00\x01", vnet_name="a" * 500),
                 peering_post(dedicated_cluster, resource_group="rg\nname")):
        assert client.post(reverse("request_new"), data).status_code == 400


@pytest.mark.django_db
def test_inline_validation_names_field_and_rule(customer: User) -> None:
    client = as_user(customer)
    url = reverse("request_validate")
    bad = client.post(url, {"field": "vnet_peering-tenant_id", "vnet_peering-tenant_id": "abc"})
    assert bad.json()["errors"] == [
        "Tenant ID must be a GUID like 00000000-0000-0000-0000-000000000000."]
    good = client.post(url, {"field": "dns_forwarding-dns_servers",
                             "dns_forwarding-dns_servers": "10.0.0.4 10.0.0.5"})
    assert good.json()["errors"] == []
    assert client.post(url, {"field": "nope"}).status_code == 400


# --- grant and verify -------------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_shows_each_check_and_submits_for_approval(customer: User,
                                                          peering: ConnectivityRequest,
                                                          checks: list[Any]) -> None:
    response = as_user(customer).post(reverse("request_verify", args=[peering.pk]),
                                      HTTP_ACCEPT="application/json")
    data = response.json()
    assert data["passed"] is True and data["state"] == S.PENDING_APPROVAL
    assert data["checks"][0]["label"] == "Platform holds the role on your VNet"
    assert "submitted for approval" in data["message"]


@pytest.mark.django_db
def test_verify_failure_keeps_the_request_waiting(customer: User, peering: ConnectivityRequest,
                                                  checks: list[Any]) -> None:
    checks[:] = FAILING
    client = as_user(customer)
    response = client.post(reverse("request_verify", args=[peering.pk]))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "No role for the platform at the VNet yet." in page
    assert "Some checks did not pass yet" in page
    peering.refresh_from_db()
    assert peering.state == S.AWAITING_GRANT


@pytest.mark.django_db
def test_teammate_reruns_the_checks_from_the_request_page(teammate: User, dedicated_cluster: Any,
                                                          checks: list[Any],
                                                          no_enqueue: list[str]) -> None:
    blocked = PeeringRequestFactory(cluster=dedicated_cluster, state=S.ACTION_NEEDED,
                                    status_message="Your VNet overlaps the cluster's.")
    client = as_user(teammate)
    response = client.post(reverse("request_verify", args=[blocked.pk]), {"from": "detail"})
    assert response["Location"] == reverse("request_detail", args=[blocked.pk])
    blocked.refresh_from_db()
    assert blocked.state == S.PROVISIONING and no_enqueue == [str(blocked.pk)]


@pytest.mark.django_db
def test_verify_in_the_wrong_state_says_why(customer: User, dedicated_cluster: Any,
                                            checks: list[Any]) -> None:
    done = PeeringRequestFactory(cluster=dedicated_cluster, state=S.CANCELLED)
    client = as_user(customer)
    response = client.post(reverse("request_verify", args=[done.pk]), HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert "this request is Cancelled" in response.json()["error"]


@pytest.mark.django_db
def test_verify_is_rate_limited_per_user(customer: User, peering: ConnectivityRequest,
                                         checks: list[Any]) -> None:
    checks[:] = FAILING
    client = as_user(customer)
    url = reverse("request_verify", args=[peering.pk])
    for _ in range(6):
        assert client.post(url, HTTP_ACCEPT="application/json").status_code == 200
    limited = client.post(url, HTTP_ACCEPT="application/json")
    assert limited.status_code == 429
    assert "try again in" in limited.json()["error"]
    assert int(limited["Retry-After"]) >= 1
    page = client.get(client.post(url)["Location"]).content.decode()
    assert "Too many checks in a short time; try again in" in page


@pytest.mark.django_db
def test_grant_page_of_a_dns_request_explains_no_role_is_needed(customer: User,
                                                                dedicated_cluster: Any) -> None:
    from tests.factories import PrivateDnsRequestFactory

    dns = PrivateDnsRequestFactory(cluster=dedicated_cluster)
    client = as_user(customer)
    response = client.get(reverse("request_grant", args=[dns.pk]), follow=True)
    assert "needs no role in your subscription" in response.content.decode()
    assert client.get(reverse("request_grant_download", args=[dns.pk, "role.json"])).status_code == 404


# --- request page -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_request_page_shows_timeline_checks_resources_and_actions(
        customer: User, dedicated_cluster: Any, checks: list[Any]) -> None:
    from connectivity import services

    client = as_user(customer)
    client.post(reverse("request_new"), peering_post(dedicated_cluster))
    req = ConnectivityRequest.objects.get()
    services.request_verify(request=req, actor=customer)
    ConnectivityRequest.objects.filter(pk=req.pk).update(
        azure_resources={"cluster_peering_id": "/subscriptions/x/peerings/cp-1"})
    page = client.get(reverse("request_detail", args=[req.pk])).content.decode()
    assert "Request created for contoso-prod" in page or "request created for contoso-prod" in page
    assert "Pending approval" in page and "by customer@contoso.example" in page
    assert "All good." in page
    assert "/subscriptions/x/peerings/cp-1" in page
    assert 'data-action="cancel"' in page and "Cancel request" in page


@pytest.mark.django_db
def test_times_are_shown_in_the_users_time_zone(customer: User, peering: ConnectivityRequest) -> None:
    from django.utils import timezone as tz

    from connectivity.lifecycle import record_event

    event = record_event(request=peering, actor=customer, action="commented", message="hi")
    customer.timezone = "Asia/Tokyo"
    customer.save()
    page = as_user(customer).get(reverse("request_detail", args=[peering.pk])).content.decode()
    tokyo = tz.localtime(event.created_at, tz.get_fixed_timezone(9 * 60))
    assert tokyo.strftime("%Y-%m-%d %H:%M") in page
    assert "Times in Asia/Tokyo" in page
    status = as_user(customer).get(reverse("request_status", args=[peering.pk])).json()
    assert status["events"][-1]["time"].endswith("+09:00")


@pytest.mark.django_db
def test_status_json_gives_state_new_events_and_the_revoke_flag(
        customer: User, peering: ConnectivityRequest) -> None:
    from connectivity.lifecycle import record_event

    client = as_user(customer)
    url = reverse("request_status", args=[peering.pk])
    first = record_event(request=peering, actor=None, action="preflight", message="checked")
    data = client.get(url).json()
    assert data["state"] == S.AWAITING_GRANT and data["label"] == "Awaiting grant"
    assert data["revoke_reminder"] is False
    assert [e["id"] for e in data["events"]] == [first.pk]
    ConnectivityRequest.objects.filter(pk=peering.pk).update(state=S.ACTIVE,
                                                             status_message="Connected.")
    second = record_event(request=peering, actor=None, action="activated", to_state=S.ACTIVE)
    data = client.get(url, {"since": first.pk}).json()
    assert [e["id"] for e in data["events"]] == [second.pk]
    assert data["events"][0]["to_label"] == "Active"
    assert data["revoke_reminder"] is True and data["status_message"] == "Connected."
    assert data["actions"]["teardown"] is True and data["actions"]["cancel"] is False
    assert client.get(url, {"since": "x"}).status_code == 400


@pytest.mark.django_db
def test_active_peering_shows_the_revoke_reminder_with_the_exact_command(
        customer: User, dedicated_cluster: Any) -> None:
    active = PeeringRequestFactory(cluster=dedicated_cluster, state=S.ACTIVE,
                                   vnet_name="vnet-contoso-hub")
    page = as_user(customer).get(reverse("request_detail", args=[active.pk])).content.decode()
    assert "Remove the platform's role now" in page
    assert ("az role assignment delete --assignee 33333333-3333-4333-8333-333333333333 "
            "--role &#x27;Connectivity Portal Peering&#x27; --scope /subscriptions/"
            "55555555-5555-4555-8555-555555555555/resourceGroups/rg-contoso-network/providers/"
            "Microsoft.Network/virtualNetworks/vnet-contoso-hub") in page
    assert "check again" in page
    marker = page.index("data-revoke-reminder")
    assert " hidden" not in page[marker:marker + 80]


@pytest.mark.django_db
def test_check_again_while_the_role_is_still_there(customer: User, dedicated_cluster: Any,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   no_enqueue: list[str]) -> None:
    from connectivity import provisioning

    active = PeeringRequestFactory(cluster=dedicated_cluster, state=S.ACTIVE)
    checked: list[str] = []
    monkeypatch.setattr(provisioning, "request_revoke_check",
                        lambda *, request_id: checked.append(request_id))
    response = as_user(customer).post(reverse("request_check_revoke", args=[active.pk]),
                                      HTTP_ACCEPT="application/json")
    assert response.json()["revoked"] is False
    assert "still holds the role" in response.json()["message"]
    assert checked == [str(active.pk)]


@pytest.mark.django_db
def test_check_again_after_revoking_completes_the_request(customer: User, dedicated_cluster: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from connectivity import lifecycle, provisioning

    active = PeeringRequestFactory(cluster=dedicated_cluster, state=S.ACTIVE)

    def role_gone(*, request_id: str) -> None:
        lifecycle.transition(ConnectivityRequest.objects.get(pk=request_id), to=S.COMPLETED,
                             actor=None, action="grant_revoked", grant_revoked_at=timezone.now())

    monkeypatch.setattr(provisioning, "request_revoke_check", role_gone)
    client = as_user(customer)
    response = client.post(reverse("request_check_revoke", args=[active.pk]), follow=True)
    page = response.content.decode()
    assert "The role is gone: thank you. The request is completed." in page
    assert 'class="badge state-completed"' in page


@pytest.mark.django_db
def test_check_again_when_nothing_is_left_to_revoke(customer: User,
                                                    peering: ConnectivityRequest) -> None:
    response = as_user(customer).post(reverse("request_check_revoke", args=[peering.pk]),
                                      HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert "no role to revoke" in response.json()["message"]


@pytest.mark.django_db
def test_cancel_and_teardown_where_the_state_allows(customer: User, dedicated_cluster: Any,
                                                    no_enqueue: list[str]) -> None:
    waiting = PeeringRequestFactory(cluster=dedicated_cluster, state=S.AWAITING_GRANT)
    live = PeeringRequestFactory(cluster=dedicated_cluster, state=S.ACTIVE)
    client = as_user(customer)
    client.post(reverse("request_cancel", args=[waiting.pk]))
    client.post(reverse("request_teardown", args=[live.pk]))
    waiting.refresh_from_db()
    live.refresh_from_db()
    assert waiting.state == S.CANCELLED and live.state == S.REMOVING
    assert no_enqueue == [str(live.pk)]
    # Now neither may happen again: a clear message, never a 500.
    page = client.post(reverse("request_cancel", args=[live.pk]), follow=True).content.decode()
    assert "cannot go to Cancelled" in page
    page = client.post(reverse("request_teardown", args=[waiting.pk]), follow=True).content.decode()
    assert "cannot go to Removing" in page


# --- comments ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_comments_render_markdown_and_escape_html(customer: User, teammate: User,
                                                  peering: ConnectivityRequest) -> None:
    client = as_user(customer)
    body = "**Hello** support\n<script>alert(1)</script> [x](javascript:alert(1))"
    response = client.post(reverse("request_comment", args=[peering.pk]), {"body": body},
                           follow=True)
    page = response.content.decode()
    assert "Message sent to support." in page
    assert "<strong>Hello</strong>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    # The teammate sees it too, and the JSON carries the same sanitised HTML.
    data = as_user(teammate).get(reverse("request_status", args=[peering.pk])).json()
    assert "<strong>Hello</strong>" in data["comments"][0]["html"]
    assert "<script>" not in data["comments"][0]["html"]


@pytest.mark.django_db
def test_internal_notes_stay_hidden_from_customers(customer: User, support: User,
                                                   peering: ConnectivityRequest) -> None:
    from connectivity import services

    services.comment_create(request=peering, actor=support, body="Internal: VIP", internal=True)
    services.comment_create(request=peering, actor=support, body="We are on it.")
    page = as_user(customer).get(reverse("request_detail", args=[peering.pk])).content.decode()
    assert "We are on it." in page and "VIP" not in page
    data = as_user(customer).get(reverse("request_status", args=[peering.pk])).json()
    assert [c["staff"] for c in data["comments"]] == [True]
    assert "VIP" not in json.dumps(data)


@pytest.mark.django_db
def test_empty_comment_says_so_and_comments_are_rate_limited(customer: User,
                                                             peering: ConnectivityRequest) -> None:
    client = as_user(customer)
    url = reverse("request_comment", args=[peering.pk])
    page = client.post(url, {"body": "   "}, follow=True).content.decode()
    assert "Message not sent: Message is required." in page
    for i in range(9):
        client.post(url, {"body": f"note {i}"})
    limited = client.post(url, {"body": "one too many"})
    assert limited.status_code == 303
    page = client.get(limited["Location"]).content.decode()
    assert "Too many messages in a short time; try again in" in page
    assert peering.comments.count() == 9


# --- profile and notifications ----------------------------------------------------------------


@pytest.mark.django_db
def test_profile_changes_time_zone_and_email_opt_out(customer: User) -> None:
    client = as_user(customer)
    response = client.post(reverse("profile"), {"timezone": "Europe/Berlin"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.timezone == "Europe/Berlin" and customer.email_notifications is False
    bad = client.post(reverse("profile"), {"timezone": "Mars/Olympus", "email_notifications": "on"})
    assert bad.status_code == 400
    assert "Select a valid choice. Mars/Olympus is not one of the available choices." in \
        bad.content.decode()


@pytest.mark.django_db
def test_opted_out_members_get_no_email(customer: User, teammate: User, approver: User,
                                        dedicated_cluster: Any, mailoutbox: list[Any],
                                        checks: list[Any], no_enqueue: list[str],
                                        django_capture_on_commit_callbacks: Any) -> None:
    from connectivity import services

    as_user(teammate).post(reverse("profile"), {"timezone": "UTC"})  # unticks the box
    req = PeeringRequestFactory(cluster=dedicated_cluster, state=S.AWAITING_GRANT)
    req = services.request_verify(request=req, actor=customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_approve(request=req, actor=approver)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["customer@contoso.example"]
    assert mailoutbox[0].subject.startswith("Approved:")
    assert reverse("request_detail", args=[req.pk]) in mailoutbox[0].body
