"""Private Link endpoints, more of the issue against the simulator: pre-flight's room in the
cluster's endpoint subnet, the same Azure cloud, no duplicate; a Private Link service with a
DNS zone and record of the customer's; reminders, the expiry notice and the expiry, in-process
(emails) and with a real worker (beat's reconciler, the timeline, emails written to files)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given

from connectivity import provisioning, services
from connectivity.models import ConnectivityRequest, RequestState, User
from tests.api.conftest import client_with, make_token
from tests.provisioning_helpers import step
from tests.security.test_hostile_input import CHECKS, HOSTILE
from tests.test_kind_private_endpoint import (
    connection_on,
    control,
    create,
    link_service,
    pending,
    run,
    storage_account,
)

pytestmark = pytest.mark.django_db
S = RequestState
OTHER_SUB = "99999999-9999-4999-8999-999999999999"


def failed(body: dict[str, Any]) -> dict[str, str]:
    return {c["key"]: c["message"] for c in body["preflight"] if c["status"] == "fail"}


def checks(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for c in body["preflight"]}


def endpoint_subnet(stack: Any) -> str:
    return f"{stack.cluster_vnet_id}/subnets/{django_settings.PRIVATE_ENDPOINT_SUBNET}"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- room in the endpoint subnet ------------------------------------------------------------------


def test_a_full_endpoint_subnet_fails_preflight_and_passes_once_there_is_room(
        sim_cluster, azure_stack, customer, approver) -> None:
    target = storage_account(azure_stack)
    # The demo's endpoints subnet is a /24: 251 addresses Azure hands out. Something else
    # (a VM's NIC) takes 250 of them: one left.
    nic = control(azure_stack, "platform/network-interface",
                  {"subnet_id": endpoint_subnet(azure_stack), "name": "nic-vm-1", "ip_count": 250})
    first = create(customer, sim_cluster, link_target=target, group_id="blob").json()
    room = checks(first)["endpoint_subnet"]
    assert room["status"] == "pass"
    assert "endpoints (10.100.254.0/24) has 1 of 251 addresses free" in room["message"]

    # That one approved request will take the last address: the next one must wait.
    services.request_approve(request=ConnectivityRequest.objects.get(pk=first["id"]),
                             actor=approver)
    second = create(customer, sim_cluster, link_target=target, group_id="dfs").json()
    assert second["state"] == "draft"
    message = failed(second)["endpoint_subnet"]
    assert "is full: 250 of its 251 addresses are in use" in message
    assert "1 approved endpoint of contoso-prod will take one first" in message
    assert "Nothing is wrong on your side" in message and "contact support" in message

    # The platform team makes room; the customer runs the checks again.
    control(azure_stack, "platform/network-interface/delete", {"id": nic["id"]})
    request = services.request_verify(
        request=ConnectivityRequest.objects.get(pk=second["id"]), actor=customer)
    assert request.state == S.PENDING_APPROVAL, request.preflight


def test_a_missing_endpoint_subnet_fails_preflight_as_the_platforms_to_fix(
        sim_cluster, azure_stack, customer, settings) -> None:
    target = storage_account(azure_stack)
    settings.PRIVATE_ENDPOINT_SUBNET = "no-such-subnet"
    body = create(customer, sim_cluster, link_target=target, group_id="blob").json()
    message = failed(body)["endpoint_subnet"]
    assert "contoso-prod's VNet has no subnet no-such-subnet for private endpoints" in message
    assert "the platform team must add it" in message


def test_an_endpoint_that_exists_counts_as_having_its_room(
        sim_cluster, azure_stack, customer, approver, scheduler,
        django_capture_on_commit_callbacks) -> None:
    target = storage_account(azure_stack)
    body = create(customer, sim_cluster, link_target=target, group_id="blob").json()
    request = services.request_approve(request=ConnectivityRequest.objects.get(pk=body["id"]),
                                       actor=approver)
    request = run(request, django_capture_on_commit_callbacks, scheduler, until=pending)
    # Fill every other address: a re-check now (e.g. Verify and repair) still passes.
    control(azure_stack, "platform/network-interface",
            {"subnet_id": endpoint_subnet(azure_stack), "name": "nic-vm-2", "ip_count": 250})
    from connectivity import kinds

    checks_now, _ = kinds.preflight(request)
    room = next(c for c in checks_now if c["key"] == "endpoint_subnet")
    assert room["status"] == "pass" and "already holds this request's endpoint" in room["message"]


# --- the same Azure cloud ---------------------------------------------------------------------


def test_a_resource_id_arm_does_not_know_in_this_cloud_fails(sim_cluster, azure_stack,
                                                             customer) -> None:
    target = (f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-gov/providers/"
              "Microsoft.Storage/storageAccounts/stgov")
    body = create(customer, sim_cluster, link_target=target, group_id="blob").json()
    assert body["state"] == "draft"
    message = failed(body)["same_cloud"]
    assert f"knows no subscription {OTHER_SUB}" in message
    assert "the Azure public cloud" in message and "Azure Government" in message


def test_a_known_subscription_passes_and_names_its_tenant(sim_cluster, azure_stack,
                                                          customer) -> None:
    from tests.stack import CUSTOMER_SUBSCRIPTION_ID, CUSTOMER_TENANT_ID

    body = create(customer, sim_cluster, link_target=storage_account(azure_stack),
                  group_id="blob").json()
    same = checks(body)["same_cloud"]
    assert same["status"] == "pass"
    assert CUSTOMER_SUBSCRIPTION_ID in same["message"] and CUSTOMER_TENANT_ID in same["message"]


@pytest.mark.parametrize(("region", "cloud"), [("usgovvirginia", "Azure Government"),
                                               ("chinanorth3", "China")])
def test_an_alias_in_a_sovereign_region_fails(sim_cluster, azure_stack, customer, region,
                                              cloud) -> None:
    alias = f"pls-api.2b7e5c1d-3f4a-4e6b-9c8d-7a6b5c4d3e2f.{region}.azure.privatelinkservice"
    body = create(customer, sim_cluster, link_target=alias).json()
    message = failed(body)["same_cloud"]
    assert f"region {region}, in {cloud}" in message or (
        f"region {region}" in message and cloud in message)
    assert "cannot reach a service in another Azure cloud" in message


def test_the_platforms_cloud_comes_from_the_setting(sim_cluster, azure_stack, customer,
                                                    settings) -> None:
    settings.AZURE_CLOUD = "AzureUSGovernment"
    service = link_service(azure_stack)  # its alias names westeurope
    body = create(customer, sim_cluster, link_target=service["alias"]).json()
    message = failed(body)["same_cloud"]
    assert "region westeurope, in the Azure public cloud" in message
    assert "the platform runs in Azure Government" in message


# --- no duplicate ---------------------------------------------------------------------------


def test_a_duplicate_is_the_same_target_and_group_whatever_the_case(
        sim_cluster, azure_stack, customer) -> None:
    target = storage_account(azure_stack)
    first = create(customer, sim_cluster, link_target=target, group_id="blob").json()
    assert first["state"] == "pending_approval", first
    shouted = target.replace("Microsoft.Storage/storageAccounts", "MICROSOFT.STORAGE/storageaccounts")
    again = create(customer, sim_cluster, link_target=shouted, group_id="Blob").json()
    assert [k for k in failed(again)] == ["no_duplicate"]


# --- a Private Link service with a zone and record of the customer's -----------------------------


def test_a_private_link_service_with_a_zone_of_yours_resolves_and_is_torn_down(
        sim_cluster, azure_stack, customer, approver, outsider, scheduler,
        django_capture_on_commit_callbacks) -> None:
    service = link_service(azure_stack)
    response = create(customer, sim_cluster, link_target=service["id"],
                      dns_zone_name="Contoso.Internal", dns_record_name="API")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["dns_zone_name"], body["dns_record_name"]) == ("contoso.internal", "api")
    assert checks(body)["dns_zone_free"]["status"] == "pass"
    assert body["state"] == "pending_approval", failed(body)
    request = ConnectivityRequest.objects.get(pk=body["id"])

    plan = [p.resource_id for p in request.kind_def.planned_resources(request)]
    assert plan[1].endswith("/privateDnsZones/contoso.internal")
    assert plan[3].endswith("/privateDnsZones/contoso.internal/A/api")

    request = services.request_approve(request=request, actor=approver)
    request = run(request, django_capture_on_commit_callbacks, scheduler, until=pending)
    control(azure_stack, "customer/private-endpoint-connection/approve",
            {"id": connection_on(azure_stack, service["id"])})
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.ACTIVE)
    zone_id = request.azure_resources["zone_id"]
    assert f"/resourceGroups/rg-cp-dns-org-{request.organization_id}/" in zone_id
    record = azure_stack.control.get_resource(f"{zone_id}/A/api")
    assert record["properties"]["aRecords"] == [{"ipv4Address": "10.100.254.4"}]
    link = azure_stack.control.get_resource(request.azure_resources["link_id"])
    assert link["properties"]["virtualNetwork"]["id"].lower() == request.cluster.vnet_id.lower()
    assert request.azure_resources["dns_names"] == ["api.contoso.internal → 10.100.254.4"]

    html = signed_in(customer).get(reverse("request_detail", args=[request.pk])).content.decode()
    assert "api.contoso.internal → 10.100.254.4" in html
    assert signed_in(outsider).get(reverse("request_detail", args=[request.pk])).status_code == 404

    # The record changed behind the platform's back: the health check tells.
    from connectivity.azure import gateway

    gateway.a_record_set_put(zone_id=zone_id, name="api", ips=["10.100.254.99"])
    provisioning.request_drift_check(request_id=str(request.pk))
    request.refresh_from_db()
    assert request.state == S.DEGRADED
    assert "points at 10.100.254.99, not at the endpoint's 10.100.254.4" in request.status_message

    client_with(make_token(customer)).post(f"/api/v1/requests/{request.pk}/teardown/",
                                           {"reason": "done"}, format="json")
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.REMOVED)
    assert azure_stack.control.get_resource(f"{zone_id}/A/api") is None
    assert azure_stack.control.get_resource(zone_id) is None
    assert azure_stack.resources("privateEndpoints") == []


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"dns_zone_name": "contoso.internal"}, "dns_record_name",
     "DNS record is required with a DNS zone"),
    ({"dns_record_name": "api"}, "dns_zone_name", "DNS zone is required with a DNS record"),
    ({"dns_zone_name": "privatelink.blob.core.windows.net", "dns_record_name": "api"},
     "dns_zone_name", "is a Private Link zone of Azure's"),
    ({"dns_zone_name": "login.microsoftonline.com", "dns_record_name": "api"}, "dns_zone_name",
     "is not allowed"),
    ({"dns_zone_name": "contoso.internal", "dns_record_name": "*"}, "dns_record_name",
     "not a wildcard"),
    ({"dns_zone_name": "contoso.internal", "dns_record_name": "bad name!"}, "dns_record_name",
     "DNS record: Record names are relative to the zone"),
])
def test_bad_dns_fields_name_the_field_and_the_rule(sim_cluster, azure_stack, customer, fields,
                                                    field, words) -> None:
    service = link_service(azure_stack)
    response = create(customer, sim_cluster, link_target=service["id"], **fields)
    assert response.status_code == 400, response.content
    messages = " ".join(str(e.get("detail", e)) if isinstance(e, dict) else str(e)
                        for e in response.json()["errors"][field])
    assert words in messages, response.json()


def test_a_zone_is_refused_for_a_paas_target(sim_cluster, azure_stack, customer) -> None:
    response = create(customer, sim_cluster, link_target=storage_account(azure_stack),
                      group_id="blob", dns_zone_name="contoso.internal", dns_record_name="st")
    assert response.status_code == 400
    assert "for a Private Link service only" in str(response.json()["errors"]["dns_zone_name"])
    assert "privatelink.blob.core.windows.net" in str(response.json()["errors"]["dns_zone_name"])


def test_a_zone_of_an_own_private_dns_request_is_not_free(
        sim_cluster, azure_stack, customer, approver) -> None:
    dns = services.request_create(actor=customer, organization=customer.organization,
                                  cluster=sim_cluster, kind="private_dns",
                                  fields={"zone_name": "contoso.internal",
                                          "records": [{"name": "db", "ip": "10.20.1.4"}]})
    dns = services.request_submit(request=dns, actor=customer)
    services.request_approve(request=dns, actor=approver)
    service = link_service(azure_stack)
    body = create(customer, sim_cluster, link_target=service["id"],
                  dns_zone_name="contoso.internal", dns_record_name="api").json()
    message = failed(body)["dns_zone_free"]
    assert f"private DNS zone request {dns.short_id} has the zone contoso.internal" in message


def test_the_wizard_shows_the_target_and_the_dns_fields(sim_cluster, azure_stack,
                                                         customer) -> None:
    page = signed_in(customer)
    html = page.get(reverse("request_new")).content.decode()
    form = html[html.index('data-kind="private_endpoint"'):]
    form = form[:form.index("</fieldset>")]
    for name in ("link_target", "group_id", "dns_zone_name", "dns_record_name"):
        assert f'name="private_endpoint-{name}"' in form, name
    service = link_service(azure_stack)
    response = page.post(reverse("request_new"), {
        "cluster": str(sim_cluster.pk), "kind": "private_endpoint",
        "private_endpoint-link_target": service["id"],
        "private_endpoint-dns_zone_name": "contoso.internal",
        "private_endpoint-dns_record_name": "api"})
    assert response.status_code == 302, response.content.decode()[:2000]
    request = ConnectivityRequest.objects.get(kind="private_endpoint")
    assert (request.dns_zone_name, request.dns_record_name) == ("contoso.internal", "api")
    detail = page.get(reverse("request_detail", args=[request.pk])).content.decode()
    assert "api in contoso.internal" in detail


# --- reminders, the expiry notice, the expiry ---------------------------------------------------


def test_reminders_then_one_expiry_notice_then_expiry_with_emails_and_timeline(
        sim_cluster, azure_stack, customer, approver, scheduler, settings,
        django_capture_on_commit_callbacks) -> None:
    settings.PRIVATE_ENDPOINT_REMINDER_EVERY = 0
    body = create(customer, sim_cluster, link_target=storage_account(azure_stack),
                  group_id="blob").json()
    request = services.request_approve(request=ConnectivityRequest.objects.get(pk=body["id"]),
                                       actor=approver)
    request = run(request, django_capture_on_commit_callbacks, scheduler, until=pending)
    mail.outbox.clear()
    step(request, django_capture_on_commit_callbacks, scheduler.last[2])
    assert [m.subject for m in mail.outbox] == [
        f"Reminder: your Private Link endpoint request {request.short_id} is waiting for you"]
    assert "az network private-endpoint-connection approve" in mail.outbox[0].body

    # Eleven and a half days on: inside the three days before expiry, the notice goes once.
    moved = timezone.now() - timedelta(days=11.5)
    ConnectivityRequest.objects.filter(pk=request.pk).update(azure_resources={
        **request.azure_resources, "requested_at": moved.isoformat()})
    mail.outbox.clear()
    step(request, django_capture_on_commit_callbacks, scheduler.last[2])
    step(request, django_capture_on_commit_callbacks, scheduler.last[2])
    subjects = [m.subject for m in mail.outbox]
    assert subjects[0] == (f"Expires soon: your Private Link endpoint request {request.short_id} "
                           "is waiting for your approval")
    assert subjects.count(subjects[0]) == 1
    notice = request.events.get(action="expiry_notice")
    expires = (moved + timedelta(days=14)).strftime("%Y-%m-%d %H:%M")
    assert f"unless you approve the connection by {expires} UTC" in notice.message
    assert "deletes its private endpoint" in mail.outbox[0].body

    # Past it: deleted, and the organisation told so.
    ConnectivityRequest.objects.filter(pk=request.pk).update(azure_resources={
        **ConnectivityRequest.objects.get(pk=request.pk).azure_resources,
        "requested_at": (timezone.now() - timedelta(days=14, minutes=1)).isoformat()})
    request = run(request, django_capture_on_commit_callbacks, scheduler,
                  until=lambda r: r.state == S.ACTION_NEEDED)
    assert azure_stack.resources("privateEndpoints") == []
    assert mail.outbox[-1].subject.startswith("Action needed")
    assert "within 14 days" in mail.outbox[-1].body
    assert request.events.filter(action="action_needed",
                                 message__contains="deleted the endpoint").exists()


@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(180)
def test_a_real_worker_reminds_gives_notice_and_expires_an_unapproved_endpoint(
        stack_worker, azure_stack, customer, approver, sim_cluster, tmp_path: Path) -> None:
    from tests.stack import wait_for, wait_for_state

    outbox = tmp_path / "mail"
    stack_worker.stop()
    # A ten-second expiry: a reminder every second, the notice for its last five seconds.
    stack_worker.start(env={
        "PRIVATE_ENDPOINT_REMINDER_EVERY": "1", "PRIVATE_ENDPOINT_EXPIRE_DAYS": f"{10 / 86400:.12f}",
        "PRIVATE_ENDPOINT_EXPIRY_NOTICE_DAYS": f"{5 / 86400:.12f}",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(outbox)})
    target = storage_account(azure_stack)
    request = services.request_create(actor=customer, organization=customer.organization,
                                      cluster=sim_cluster, kind="private_endpoint",
                                      fields={"link_target": target, "group_id": "blob"})
    request = services.request_submit(request=request, actor=customer)
    services.request_approve(request=request, actor=approver)

    request = wait_for_state(request, S.ACTION_NEEDED, timeout=60)
    actions = list(request.events.order_by("created_at", "id").values_list("action", flat=True))
    assert "approval_reminder" in actions
    assert actions.count("expiry_notice") == 1
    assert actions.index("approval_reminder") < actions.index("expiry_notice") < (
        actions.index("action_needed"))
    assert "within 10 seconds" in request.status_message
    assert azure_stack.resources("privateEndpoints") == []

    def mails() -> str:
        return "\n".join(p.read_text() for p in outbox.glob("*.log")) if outbox.exists() else ""

    wait_for(lambda: "Action needed" in mails(), timeout=10, what="the expiry email")
    text = mails()
    assert f"Reminder: your Private Link endpoint request {request.short_id}" in text
    assert text.count(f"Expires soon: your Private Link endpoint request {request.short_id}") == 1


@pytest.mark.parametrize("field", ["dns_zone_name", "dns_record_name"])
@CHECKS
@given(value=HOSTILE)
def test_hostile_dns_fields_are_refused_on_the_field(customer, dedicated_cluster, field,
                                                     value) -> None:
    alias = "pls-api.2b7e5c1d-3f4a-4e6b-9c8d-7a6b5c4d3e2f.westeurope.azure.privatelinkservice"
    payload = {"cluster": dedicated_cluster.pk, "kind": "private_endpoint", "submit": False,
               "link_target": alias, "dns_zone_name": "contoso.internal",
               "dns_record_name": "api", field: value}
    response = client_with(make_token(customer)).post("/api/v1/requests/", payload,
                                                      format="json")
    assert response.status_code == 400, (value, response.content[:300])
    assert response.json()["errors"].get(field), response.json()
    assert not ConnectivityRequest.objects.exists()
