"""What a newcomer noticed on the customer pages, asserted as they would see it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from connectivity import services
from connectivity.lifecycle import record_event
from connectivity.models import ConnectivityRequest, Membership, RequestState, User
from tests.factories import PeeringRequestFactory

pytestmark = pytest.mark.django_db
S = RequestState

OVERLAP_FAILS = [
    {"key": "role_granted", "label": "Platform holds the role on your VNet", "status": "pass",
     "message": "Granted."},
    {"key": "address_space", "label": "Address spaces do not overlap", "status": "fail",
     "message": "10.100.0.0/16 overlaps contoso-prod's VNet."},
]


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_dashboard_names_the_failing_check_of_an_awaiting_request(customer: User,
                                                                  dedicated_cluster: Any) -> None:
    PeeringRequestFactory(cluster=dedicated_cluster, state=S.AWAITING_GRANT,
                          preflight=OVERLAP_FAILS)
    page = as_user(customer).get("/").content.decode()
    assert "Awaiting grant" in page
    assert "Failing: Address spaces do not overlap" in page


def test_dashboard_and_form_show_the_cluster_address_space(customer: User,
                                                           dedicated_cluster: Any) -> None:
    prefixes = ", ".join(dedicated_cluster.address_prefixes)
    client = as_user(customer)
    dashboard = client.get("/").content.decode()
    assert f"Address space <code>{prefixes}</code>" in dashboard
    assert "Your VNets must not overlap it" in dashboard
    form = client.get("/requests/new/").content.decode()
    assert f"Address space <code>{prefixes}</code>: your VNet must not overlap it." in form


def test_a_failed_preflight_is_a_short_list_and_comments_stay_in_the_thread(
    customer: User, dedicated_cluster: Any,
) -> None:
    request = PeeringRequestFactory(cluster=dedicated_cluster, state=S.AWAITING_GRANT)
    record_event(request=request, actor=None, action="preflight",
                 message=services.preflight_summary(
                     [c for c in OVERLAP_FAILS if c["status"] == "fail"] + [
                         {"label": "Remote gateway available", "message": "No gateway."}],
                     "Pre-flight"))
    services.comment_create(request=request, actor=customer, body="**Bold** ask")
    client = as_user(customer)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    timeline = page[page.index('id="timeline-heading"'):]
    assert "Pre-flight: 2 checks did not pass." in timeline
    assert "<li>Address spaces do not overlap: 10.100.0.0/16 overlaps" in timeline
    assert "<li>Remote gateway available: No gateway.</li>" in timeline
    assert ".;" not in timeline
    assert "**Bold** ask" not in timeline and "Message in the conversation" in timeline
    assert "<strong>Bold</strong> ask" in page  # in the thread, rendered
    status = json.loads(client.get(f"/requests/{request.pk}/status/").content)
    commented = next(e for e in status["events"] if e["action"] == "Commented")
    assert commented["message"] == "" and commented["lines"]["in_thread"]
    preflight_event = next(e for e in status["events"] if e["lines"]["items"])
    assert len(preflight_event["lines"]["items"]) == 2


def test_after_removal_the_leftover_delete_command_is_a_copyable_code_block(
    customer: User, dedicated_cluster: Any,
) -> None:
    request = PeeringRequestFactory(cluster=dedicated_cluster, state=S.REMOVED,
                                    azure_resources={"customer_peering_left": True})
    from connectivity.kinds.vnet_peering import customer_peering_delete_command

    command = customer_peering_delete_command(request)
    ConnectivityRequest.objects.filter(pk=request.pk).update(
        status_message=f"Deleted it. The peering on your side is now Disconnected and does "
                       f"nothing; delete it with: {command}")
    client = as_user(customer)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert f'<pre class="code" id="leftover-command" tabindex="0" data-leftover-command>{command}</pre>' \
        in page.replace("&#x27;", "'")
    assert 'data-copy-from="#leftover-command"' in page
    status = json.loads(client.get(f"/requests/{request.pk}/status/").content)
    assert status["leftover_command"] == command and command not in status["status_text"]


def test_the_grant_page_revoke_command_has_a_copy_button(customer: User,
                                                         dedicated_cluster: Any) -> None:
    request = PeeringRequestFactory(cluster=dedicated_cluster, state=S.AWAITING_GRANT)
    page = as_user(customer).get(f"/requests/{request.pk}/grant/").content.decode()
    later = page[page.index('id="later-heading"'):]
    assert 'id="later-revoke"' in later and 'data-copy-from="#later-revoke"' in later
    assert "az role assignment delete" in later


def test_the_teammate_token_page_names_the_owners(customer: User, teammate: User) -> None:
    response = as_user(teammate).get("/api/tokens/")
    assert response.status_code == 403
    page = response.content.decode()
    assert f'<a href="mailto:{customer.email}">{customer.email}</a>' in page
    assert teammate.email not in page.split('role="alert"', 1)[1]


def test_the_token_page_without_owners_says_whom_to_ask(teammate: User, customer: User) -> None:
    Membership.objects.filter(user=customer).update(role=Membership.Role.MEMBER)
    page = as_user(teammate).get("/api/tokens/").content.decode()
    assert "ask support to name one" in page
