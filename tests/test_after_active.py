"""After active: the role left behind, connections, dependencies, corrections, stale facts.

The simulator runs in-process with the real azure-mgmt clients; the engine is driven step by
step (tests.provisioning_helpers.drive), as a worker would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectivity import dependencies, provisioning, services
from connectivity.kinds import dns_forwarding, vnet_peering
from connectivity.models import ConnectivityRequest, RequestState, User
from tests.api.conftest import client_with, make_token
from tests.factories import DnsForwardingRequestFactory, PeeringRequestFactory
from tests.provisioning_helpers import drive
from tests.stack import CUSTOMER_VNET_NAME, customer_vnet_id

pytestmark = pytest.mark.django_db
S = RequestState


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def active_peering(sim_cluster, azure_stack, scheduler, customer,
                   django_capture_on_commit_callbacks):
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.APPROVED, created_by=customer)
    azure_stack.grant(request)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    mail.outbox.clear()
    return request


@pytest.fixture
def active_rule(active_peering, sim_cluster, scheduler, customer,
                django_capture_on_commit_callbacks):
    """A forwarding rule whose DNS server sits in the peered customer VNet (10.20.0.0/16)."""
    rule = DnsForwardingRequestFactory(cluster=sim_cluster, state=S.APPROVED,
                                       dns_servers=["10.20.0.4", "10.20.0.5"], created_by=customer)
    rule = drive(rule, scheduler, django_capture_on_commit_callbacks)
    assert rule.state == S.ACTIVE
    return rule


def detail(client: Client, request: ConnectivityRequest) -> str:
    response = client.get(reverse("request_detail", args=[request.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- 1. the role left behind ----------------------------------------------------------------------


def test_removed_peering_keeps_the_revoke_reminder_until_the_role_is_gone(
        active_peering, azure_stack, scheduler, customer, settings,
        django_capture_on_commit_callbacks):
    request = services.request_teardown(request=active_peering, actor=customer)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.REMOVED
    client = as_user(customer)
    page = detail(client, request)
    command = vnet_peering.revoke_command(request)
    assert "Remove the platform's role now" in page
    assert 'data-revoke-reminder aria-labelledby="revoke-heading">' in page  # not hidden
    assert command.replace("'", "&#x27;") in page or command in page
    assert "The connection is removed, but the role you granted is still assigned." in page
    status = client.get(reverse("request_status", args=[request.pk])).json()
    assert status["revoke_reminder"] is True
    # What the page's script shows in place of the reason it was loaded with.
    assert status["revoke_reason"] == (
        "The connection is removed, but the role you granted is still assigned.")
    assert '<span data-revoke-reason-text>The connection is removed' in page

    # The periodic watch reminds by email for the removed request too.
    settings.REVOKE_REMINDER_FIRST_AFTER = 0
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.revoke_watch(now=timezone.now() + timedelta(minutes=1))
    assert [m.subject for m in mail.outbox] == [
        f"Reminder: revoke the platform's role for request {request.short_id}"]

    # The API says so as well, with the exact command.
    api = client_with(make_token(customer, name="ci"))
    body = api.get(f"/api/v1/requests/{request.pk}/").json()
    assert body["revoke_reminder"]["pending"] is True
    assert body["revoke_reminder"]["command"] == command

    azure_stack.revoke()
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.revoke_watch()
    request.refresh_from_db()
    assert request.state == S.REMOVED and request.grant_revoked_at is not None
    assert request.events.filter(action="grant_revoked").exists()
    page = detail(client, request)
    assert 'data-revoke-reminder aria-labelledby="revoke-heading" hidden' in page
    assert "The portal confirmed that the platform's role on your VNet is gone" in page
    assert api.get(f"/api/v1/requests/{request.pk}/").json()["revoke_reminder"]["pending"] is False


def test_check_again_on_a_removed_request_confirms_the_role_is_gone(
        active_peering, azure_stack, scheduler, customer, django_capture_on_commit_callbacks):
    request = drive(services.request_teardown(request=active_peering, actor=customer), scheduler,
                    django_capture_on_commit_callbacks)
    client = as_user(customer)
    url = reverse("request_check_revoke", args=[request.pk])
    still = client.post(url, HTTP_ACCEPT="application/json").json()
    assert still["revoked"] is False and "still holds the role" in still["message"]
    azure_stack.revoke()
    gone = client.post(url, HTTP_ACCEPT="application/json").json()
    assert gone == {"revoked": True, "message": "The role is gone: thank you.",
                    "state": S.REMOVED, "label": "Removed"}
    request.refresh_from_db()
    assert request.grant_revoked_at is not None


def test_cancelling_after_the_grant_says_the_role_must_still_be_revoked(
        sim_cluster, azure_stack, customer, no_enqueue):
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.AWAITING_GRANT, created_by=customer)
    client = as_user(customer)
    assert "Nothing has been created in Azure yet." in detail(client, request)
    azure_stack.grant(request)
    request = services.request_verify(request=request, actor=customer)
    assert request.state == S.PENDING_APPROVAL and request.grant_seen_at
    page = detail(client, request)
    assert "Nothing has been created in Azure yet." not in page
    assert "stays until you revoke it" in page
    client.post(reverse("request_cancel", args=[request.pk]))
    request.refresh_from_db()
    assert request.state == S.CANCELLED
    page = detail(client, request)
    assert "The request is cancelled, but the role you granted is still assigned." in page
    assert vnet_peering.revoke_command(request) in page.replace("&#x27;", "'")


def test_a_request_that_never_saw_a_grant_has_no_reminder(sim_cluster, customer):
    request = PeeringRequestFactory(cluster=sim_cluster, state=S.CANCELLED)
    status = as_user(customer).get(reverse("request_status", args=[request.pk])).json()
    assert status["revoke_reminder"] is False


# --- 2. connections -------------------------------------------------------------------------------


def test_dashboard_shows_each_clusters_connections_with_azures_status(
        active_rule, active_peering, customer, outsider):
    provisioning.drift_check()
    page = as_user(customer).get(reverse("dashboard")).content.decode()
    assert "Connections" in page
    row = page[page.index(f'data-connection-row="{active_peering.short_id}"'):]
    row = row[:row.index("</tr>")]
    assert "Working" in row
    assert "Connected, FullyInSync" in row
    assert reverse("request_detail", args=[active_peering.pk]) in row
    rule_row = page[page.index(f'data-connection-row="{active_rule.short_id}"'):]
    assert "DNS forwarding rule: Enabled" in rule_row[:rule_row.index("</tr>")]
    # Last checked, and the request history stays below.
    assert "Last checked" in page and page.index("Connections") < page.index("requests-heading")
    # Another organisation sees none of it.
    other = as_user(outsider).get(reverse("dashboard")).content.decode()
    assert active_peering.short_id not in other


def test_a_working_peering_is_not_just_completed(active_peering, azure_stack, customer):
    azure_stack.revoke()
    provisioning.revoke_watch()
    provisioning.drift_check()
    active_peering.refresh_from_db()
    assert active_peering.state == S.COMPLETED
    page = detail(as_user(customer), active_peering)
    assert "Connection in Azure: <span data-connection-health>Working</span>" in page
    assert "Connected, FullyInSync" in as_user(customer).get(reverse("dashboard")).content.decode()


# --- 3. dependencies ------------------------------------------------------------------------------


def test_removing_a_peering_with_dependents_refuses_or_removes_them_too(
        active_rule, active_peering, customer, scheduler, django_capture_on_commit_callbacks):
    assert dependencies.dependents_of(active_peering) == [active_rule]
    client = as_user(customer)
    page = detail(client, active_peering)
    assert "Removing this peering breaks other connections" in page
    assert active_rule.domain_name in page

    # Without the box ticked: refused, with the list, nothing changes.
    response = client.post(reverse("request_teardown", args=[active_peering.pk]), follow=True)
    assert "depends on this peering" in response.content.decode()
    active_peering.refresh_from_db()
    assert active_peering.state == S.ACTIVE

    # The API: a 409 problem listing them.
    api = client_with(make_token(customer, name="ci"))
    url = f"/api/v1/requests/{active_peering.pk}/teardown/"
    refused = api.post(url, {}, format="json")
    assert refused.status_code == 409
    body = refused.json()
    assert body["type"].endswith("dependents")
    assert [d["id"] for d in body["dependents"]] == [str(active_rule.pk)]

    with django_capture_on_commit_callbacks(execute=True):
        accepted = api.post(url, {"remove_dependents": True}, format="json")
    assert accepted.status_code == 200 and accepted.json()["state"] == S.REMOVING
    active_rule.refresh_from_db()
    assert active_rule.state == S.REMOVING


def test_console_force_teardown_lists_dependents(active_rule, active_peering, approver,
                                                scheduler):
    from tests.console.conftest import mfa_signed_in

    client = mfa_signed_in(approver)
    review = client.get(reverse("console:review", kwargs={"request_id": active_peering.pk}))
    page = review.content.decode()
    assert "1 connection depends on this peering" in page and active_rule.domain_name in page
    url = reverse("console:action", kwargs={"request_id": active_peering.pk,
                                            "action": "teardown"})
    refused = client.post(url, {"reason": "customer asked", "confirm": "on"})
    assert refused.status_code == 400 and "depends on this peering" in refused.content.decode()
    active_peering.refresh_from_db()
    assert active_peering.state == S.ACTIVE
    done = client.post(url, {"reason": "customer asked", "confirm": "on",
                             "remove_dependents": "on"})
    assert done.status_code == 302
    active_rule.refresh_from_db()
    assert active_rule.state == S.REMOVING


def test_a_disconnected_peering_degrades_its_dependents_and_they_recover(
        active_rule, active_peering, azure_stack, customer, scheduler,
        django_capture_on_commit_callbacks):
    azure_stack.control.delete_peering(vnet_id=customer_vnet_id(),
                                       name=vnet_peering.customer_peering_name(active_peering))
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.drift_check()
    active_peering.refresh_from_db()
    active_rule.refresh_from_db()
    assert active_peering.state == S.DEGRADED
    assert active_rule.state == S.DEGRADED
    assert f"The peering to {CUSTOMER_VNET_NAME}" in active_rule.status_message
    assert "10.20.0.4, 10.20.0.5 are not reachable" in active_rule.status_message
    page = detail(as_user(customer), active_rule)
    assert "DNS servers are inside a peered VNet" in page
    servers = next(c for c in active_rule.preflight if c["key"] == "servers_reachable")
    assert servers["status"] == "fail"

    # The customer repairs the peering; the rule recovers with it.
    resumed = services.request_verify(request=active_peering, actor=customer)
    drive(resumed, scheduler, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        provisioning.drift_check()
    active_rule.refresh_from_db()
    assert active_rule.state == S.ACTIVE
    assert active_rule.events.filter(action="restored").exists()
    servers = next(c for c in active_rule.preflight if c["key"] == "servers_reachable")
    assert servers["status"] == "pass" and "reachable again" in servers["message"]


def test_a_removed_peering_leaves_its_dependent_degraded(
        active_rule, active_peering, customer, scheduler, django_capture_on_commit_callbacks):
    # Staff or a script removed it regardless (the dependent was not picked up).
    ConnectivityRequest.objects.filter(pk=active_peering.pk).update(state=S.REMOVING,
                                                                    step="remove_start")
    active_peering.refresh_from_db()
    drive(active_peering, scheduler, django_capture_on_commit_callbacks)
    active_rule.refresh_from_db()
    assert active_rule.state == S.DEGRADED
    assert "was removed" in active_rule.status_message
    page = detail(as_user(customer), active_rule)
    assert "Passed</span>" not in page.split("DNS servers are inside a peered VNet")[0][-200:]


# --- 4. fix instead of refile ---------------------------------------------------------------------


def test_a_request_awaiting_the_grant_is_corrected_in_place(sim_cluster, azure_stack, customer,
                                                           outsider, no_enqueue):
    azure_stack.create_customer_vnet("vnet-contoso-spoke", ["10.40.0.0/16"])
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name="vnet-typo",
                                    state=S.AWAITING_GRANT, created_by=customer)
    proof = request.proof
    client = as_user(customer)
    url = reverse("request_edit", args=[request.pk])
    assert as_user(outsider).get(url).status_code == 404
    page = client.get(url).content.decode()
    assert 'value="vnet-typo"' in page
    bad = client.post(url, {"vnet_peering-tenant_id": request.tenant_id,
                            "vnet_peering-subscription_id": request.subscription_id,
                            "vnet_peering-resource_group": request.resource_group,
                            "vnet_peering-vnet_name": "-bad-"})
    assert bad.status_code == 400 and "VNet name" in bad.content.decode()
    response = client.post(url, {"vnet_peering-tenant_id": request.tenant_id,
                                 "vnet_peering-subscription_id": request.subscription_id,
                                 "vnet_peering-resource_group": request.resource_group,
                                 "vnet_peering-vnet_name": "vnet-contoso-spoke"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.vnet_name == "vnet-contoso-spoke" and request.proof == proof
    event = request.events.get(action="edited")
    assert "vnet name: vnet-typo → vnet-contoso-spoke" in event.message
    assert request.preflight_ran_at is not None


def test_a_request_failed_before_anything_was_created_is_corrected_and_resumed(
        sim_cluster, customer, no_enqueue):
    request = DnsForwardingRequestFactory(cluster=sim_cluster, state=S.FAILED, step="preflight",
                                          dns_servers=["10.99.0.4"], created_by=customer)
    client = as_user(customer)
    assert "Correct the details" in detail(client, request)
    response = client.post(reverse("request_edit", args=[request.pk]), {
        "dns_forwarding-domain_name": request.domain_name,
        "dns_forwarding-dns_servers": "10.20.0.4"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == S.PROVISIONING and request.step == "preflight"
    assert request.dns_servers == ["10.20.0.4"] and no_enqueue == [str(request.pk)]
    assert "dns servers: 10.99.0.4 → 10.20.0.4" in request.events.get(action="edited").message
    # Something created: no correcting, only removal.
    made = DnsForwardingRequestFactory(cluster=sim_cluster, state=S.FAILED, step="rule",
                                       azure_resources={"rule_id": "/x/rule"})
    assert "Correct the details" not in detail(client, made)


def test_an_active_request_cannot_be_edited_and_a_cancelled_one_is_filed_again(
        sim_cluster, customer):
    active = PeeringRequestFactory(cluster=sim_cluster, state=S.ACTIVE)
    client = as_user(customer)
    response = client.get(reverse("request_edit", args=[active.pk]))
    assert response.status_code == 302
    cancelled = DnsForwardingRequestFactory(cluster=sim_cluster, state=S.CANCELLED,
                                            domain_name="corp.contoso.com",
                                            dns_servers=["10.20.0.4"])
    page = detail(client, cancelled)
    assert "File again" in page
    wizard = client.get(reverse("request_new"), {"from": cancelled.pk}).content.decode()
    assert 'value="corp.contoso.com"' in wizard and "10.20.0.4" in wizard
    assert "Filed again from" in wizard


# --- 5. stale facts -------------------------------------------------------------------------------


def test_after_removal_checks_are_history_and_resources_are_labelled_and_deleted(
        active_peering, customer, scheduler, django_capture_on_commit_callbacks):
    request = drive(services.request_teardown(request=active_peering, actor=customer), scheduler,
                    django_capture_on_commit_callbacks)
    page = detail(as_user(customer), request)
    assert "Pre-flight checks, as of" in page
    assert "Passed then" in page and ">Passed<" not in page
    assert "Peering on the cluster&#x27;s VNet" in page
    assert "cluster_peering_id" not in page
    assert '<span class="tag">deleted</span>' in page


# --- 6. the degraded page's way out ---------------------------------------------------------------


def test_the_degraded_page_offers_the_grant_page_and_verify(active_peering, azure_stack,
                                                           customer):
    azure_stack.control.delete_peering(vnet_id=customer_vnet_id(),
                                       name=vnet_peering.customer_peering_name(active_peering))
    provisioning.drift_check()
    page = detail(as_user(customer), active_peering)
    assert "data-degraded-grant" in page and "data-degraded-verify" in page
    assert reverse("request_grant", args=[active_peering.pk]) in page


# --- 7. sentences ---------------------------------------------------------------------------------


def test_sentences_read_well_for_every_kind(sim_cluster, customer):
    from connectivity import connections
    from tests.factories import PrivateDnsRequestFactory

    zone = PrivateDnsRequestFactory(cluster=sim_cluster)
    response = as_user(customer).get(reverse("request_grant", args=[zone.pk]), follow=True)
    assert "A private DNS zone needs no role in your subscription." in response.content.decode()
    rule = DnsForwardingRequestFactory(cluster=sim_cluster)
    assert connections.kind_noun(rule, capital=True) == "A DNS forwarding rule"
    assert dns_forwarding._joined(["10.30.0.4", "10.30.0.5"]) == "10.30.0.4 and 10.30.0.5"


# --- 8. peering sync ------------------------------------------------------------------------------


def _resize_customer_vnet(azure_stack, prefixes):
    azure_stack.control.set_address_space(vnet_id=customer_vnet_id(), address_prefixes=prefixes)


def test_an_address_space_change_is_noticed_checked_and_synced(active_peering, azure_stack,
                                                              customer):
    provisioning.drift_check()
    _resize_customer_vnet(azure_stack, ["10.20.0.0/16", "10.21.0.0/16"])
    cluster_side = azure_stack.peerings_on(azure_stack.cluster_vnet_id)[0]
    state = azure_stack.control.get_resource(cluster_side["id"])
    assert state["properties"]["peeringSyncLevel"] == "LocalNotInSync"

    provisioning.drift_check()
    active_peering.refresh_from_db()
    assert active_peering.state == S.ACTIVE
    noticed = active_peering.events.get(action="peering_synced")
    assert "added 10.21.0.0/16" in noticed.message
    assert "Synced the platform's side" in noticed.message
    state = azure_stack.control.get_resource(cluster_side["id"])
    assert state["properties"]["peeringSyncLevel"] == "FullyInSync"
    assert "10.21.0.0/16" in state["properties"]["remoteAddressSpace"]["addressPrefixes"]
    status = active_peering.connection_status
    status.refresh_from_db()
    assert status.health == "ok" and "10.21.0.0/16" in status.address_prefixes


def test_without_the_grant_the_connection_shows_needs_sync_and_what_to_do(
        active_peering, azure_stack, customer):
    azure_stack.revoke()
    provisioning.revoke_watch()
    _resize_customer_vnet(azure_stack, ["10.20.0.0/16", "10.21.0.0/16"])
    provisioning.drift_check()
    active_peering.refresh_from_db()
    assert active_peering.state == S.COMPLETED
    page = as_user(customer).get(reverse("dashboard")).content.decode()
    row = page[page.index(f'data-connection-row="{active_peering.short_id}"'):]
    row = row[:row.index("</tr>")]
    assert "Needs sync" in row and "added 10.21.0.0/16" in row
    assert "grant page" in row
    assert active_peering.events.filter(action="needs_sync").count() == 1
    provisioning.drift_check()  # told once, not at every check
    assert active_peering.events.filter(action="needs_sync").count() == 1

    # The customer grants again: the next health check syncs.
    azure_stack.grant(active_peering)
    provisioning.drift_check()
    assert active_peering.events.filter(action="peering_synced").exists()


def test_new_prefixes_that_overlap_are_not_synced(active_peering, azure_stack):
    _resize_customer_vnet(azure_stack, ["10.20.0.0/16", "10.100.64.0/24"])
    provisioning.drift_check()
    status = active_peering.connection_status
    status.refresh_from_db()
    assert status.health == "needs_sync"
    assert "Not synced: the new address space overlaps" in status.reason
    assert "10.100.64.0/24 overlaps 10.100.0.0/16" in status.reason
    assert not active_peering.events.filter(action="peering_synced").exists()


def test_the_sync_command_for_the_customers_side(active_peering):
    from connectivity import connections

    command = connections.sync_command(active_peering)
    assert command.startswith("az network vnet peering sync --subscription ")
    assert f"--vnet-name {CUSTOMER_VNET_NAME}" in command
    assert vnet_peering.customer_peering_name(active_peering) in command
