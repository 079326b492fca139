"""The queue, the organisations list and the audit log: order, filters, search, counts, CSV,
and a number of queries that does not grow with the number of rows."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connectivity import services
from connectivity.console.views import csv_cell
from connectivity.lifecycle import record_event
from connectivity.models import AuditEntry, ConnectivityRequest, RequestEvent, RequestState
from tests.console.conftest import FAILING, PASSING
from tests.factories import (
    ClusterFactory,
    DnsForwardingRequestFactory,
    OrganizationFactory,
    PeeringRequestFactory,
    PrivateDnsRequestFactory,
)

pytestmark = pytest.mark.django_db
S = RequestState


def rows_of(response) -> list[str]:
    """The short ids in the queue's table, in order."""
    return [r.short_id for r in response.context["page"].object_list]


def aged(request: ConnectivityRequest, minutes: int) -> ConnectivityRequest:
    moment = timezone.now() - timedelta(minutes=minutes)
    ConnectivityRequest.objects.filter(pk=request.pk).update(state_changed_at=moment,
                                                             created_at=moment)
    return request


# --- queue ------------------------------------------------------------------------------------

def test_queue_puts_awaiting_approval_first_oldest_first(approver_client, dedicated_cluster) -> None:
    failed_old = aged(PeeringRequestFactory(cluster=dedicated_cluster, state=S.FAILED), 500)
    new = aged(PeeringRequestFactory(cluster=dedicated_cluster, state=S.PENDING_APPROVAL,
                                     preflight=PASSING), 5)
    old = aged(PeeringRequestFactory(cluster=dedicated_cluster, state=S.PENDING_APPROVAL,
                                     preflight=FAILING), 90)
    response = approver_client.get(reverse("console:queue"))
    assert rows_of(response) == [old.short_id, new.short_id, failed_old.short_id]
    text = response.content.decode()
    assert "Contoso Analytics" in text and "contoso-prod" in text and "VNet peering" in text
    assert "2/2 passed" in text and "1 failing: Role granted" in text and "not run" in text
    assert "1\xa0hour, 30\xa0minutes" in text  # how long the oldest has waited


def test_queue_filters_by_state_organisation_kind_and_cluster(approver_client, dedicated_cluster) -> None:
    other_cluster = ClusterFactory(organization=OrganizationFactory(name="Fabrikam", slug="fab"))
    peering = PeeringRequestFactory(cluster=dedicated_cluster, state=S.PENDING_APPROVAL)
    dns = PrivateDnsRequestFactory(cluster=dedicated_cluster, state=S.ACTIVE)
    elsewhere = DnsForwardingRequestFactory(cluster=other_cluster, state=S.PENDING_APPROVAL)
    url = reverse("console:queue")
    assert rows_of(approver_client.get(url, {"state": "active"})) == [dns.short_id]
    assert rows_of(approver_client.get(url, {"organization": other_cluster.organization_id})) == [
        elsewhere.short_id]
    assert rows_of(approver_client.get(url, {"kind": "vnet_peering"})) == [peering.short_id]
    assert set(rows_of(approver_client.get(url, {"cluster": dedicated_cluster.pk}))) == {
        peering.short_id, dns.short_id}
    assert rows_of(approver_client.get(url, {"cluster": dedicated_cluster.pk,
                                              "state": "pending_approval"})) == [peering.short_id]


def test_queue_search_by_request_id_subscription_or_vnet(approver_client, dedicated_cluster) -> None:
    target = PeeringRequestFactory(cluster=dedicated_cluster, vnet_name="vnet-payments",
                                   subscription_id="66666666-6666-4666-8666-666666666666")
    PeeringRequestFactory(cluster=dedicated_cluster, vnet_name="vnet-other")
    url = reverse("console:queue")
    for q in (str(target.pk), target.short_id, target.short_id.upper(),
              "66666666-6666-4666-8666-666666666666", "payments"):
        assert rows_of(approver_client.get(url, {"q": q})) == [target.short_id], q
    assert rows_of(approver_client.get(url, {"q": "no-such-thing"})) == []


def test_queue_counts_per_state_follow_the_other_filters(approver_client, dedicated_cluster) -> None:
    PeeringRequestFactory.create_batch(3, cluster=dedicated_cluster, state=S.PENDING_APPROVAL)
    PeeringRequestFactory(cluster=dedicated_cluster, state=S.FAILED)
    PrivateDnsRequestFactory(cluster=dedicated_cluster, state=S.FAILED)
    counts = {s: n for s, _label, n in approver_client.get(
        reverse("console:queue"), {"state": "failed"}).context["counts"]}
    assert counts["pending_approval"] == 3 and counts["failed"] == 2 and counts["active"] == 0
    counts = {s: n for s, _label, n in approver_client.get(
        reverse("console:queue"), {"kind": "private_dns"}).context["counts"]}
    assert counts["failed"] == 1 and counts["pending_approval"] == 0


def test_queue_bad_filter_values_are_explained_not_fatal(approver_client, dedicated_cluster) -> None:
    PeeringRequestFactory(cluster=dedicated_cluster)
    response = approver_client.get(reverse("console:queue"),
                                   {"state": "exploded", "organization": "abc", "cluster": "999999"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Select a valid choice. exploded is not one of the available choices." in text
    assert len(rows_of(response)) == 1  # the bad filters are ignored


def test_queue_pages_at_fifty(approver_client, dedicated_cluster) -> None:
    PeeringRequestFactory.create_batch(51, cluster=dedicated_cluster)
    first = approver_client.get(reverse("console:queue"))
    assert len(rows_of(first)) == 50
    assert len(rows_of(approver_client.get(reverse("console:queue"), {"page": 2}))) == 1
    assert "page 1 of 2" in first.content.decode()


def queries_for(client, url: str, params: dict | None = None) -> int:
    client.get(url, params or {})  # the first request of a session records the session itself
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def make_requests(n: int) -> None:
    """n requests across n organisations and clusters, with events and comments, so that any
    per-row lookup (organisation, cluster, creator) would show up as extra queries."""
    for i in range(n):
        request = PeeringRequestFactory(cluster=ClusterFactory(), state=S.PENDING_APPROVAL,
                                        preflight=PASSING, created_by=None)
        record_event(request=request, actor=None, action="created", to_state=S.DRAFT,
                     message=f"row {i}")
        AuditEntry.objects.create(actor_label=f"user{i}@example.com",
                                  organization=request.organization, action="signed_in")


def test_queue_queries_do_not_grow_with_rows(approver_client) -> None:
    make_requests(1)
    one = queries_for(approver_client, reverse("console:queue"))
    make_requests(49)
    fifty = queries_for(approver_client, reverse("console:queue"))
    assert one == fifty


def test_organisations_queries_do_not_grow_with_rows(approver_client) -> None:
    make_requests(1)
    one = queries_for(approver_client, reverse("console:organizations"))
    make_requests(49)
    fifty = queries_for(approver_client, reverse("console:organizations"))
    assert one == fifty


def test_audit_queries_do_not_grow_with_rows(approver_client) -> None:
    make_requests(1)
    one = queries_for(approver_client, reverse("console:audit"))
    make_requests(49)
    fifty = queries_for(approver_client, reverse("console:audit"))
    assert one == fifty
    assert len(approver_client.get(reverse("console:audit")).context["page"].object_list) == 50


def test_csv_export_queries_do_not_grow_with_rows(approver_client) -> None:
    make_requests(1)
    approver_client.get(reverse("console:queue"))  # the session's first request records it
    with CaptureQueriesContext(connection) as ctx:
        b"".join(approver_client.get(reverse("console:audit_csv")).streaming_content)
    one = len(ctx.captured_queries)
    make_requests(49)
    with CaptureQueriesContext(connection) as ctx:
        body = b"".join(approver_client.get(reverse("console:audit_csv")).streaming_content)
    assert len(ctx.captured_queries) == one
    lines = body.decode().splitlines()
    assert sum(",request,system," in line for line in lines) == 50
    assert sum(",signed_in," in line for line in lines) == 50


# --- audit ------------------------------------------------------------------------------------

@pytest.fixture
def history(approver, support, pending, organization, no_enqueue):
    """Events by two staff members on Contoso's request and one security entry elsewhere."""
    services.comment_create(request=pending, actor=support, body="Looking", internal=True)
    services.request_approve(request=pending, actor=approver)
    other = OrganizationFactory(name="Fabrikam", slug="fabrikam-audit")
    AuditEntry.objects.create(actor_label="owner@fabrikam.example", organization=other,
                              action="api_token.created", target="ci (cp_abc…)")
    old = AuditEntry.objects.create(actor_label="owner@fabrikam.example", organization=other,
                                    action="signed_in")
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    return other


def audit_actions(client, **params) -> list[str]:
    page = client.get(reverse("console:audit"), params).context["page"]
    return [row["action"] for row in page.object_list]


def test_audit_lists_request_events_and_security_entries_newest_first(approver_client, history) -> None:
    response = approver_client.get(reverse("console:audit"))
    rows = response.context["page"].object_list
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)
    actions = [r["action"] for r in rows]
    # Other modules add their own security entries (sign-ins, copies of decisions): only the
    # relative order of ours is fixed.
    ours = [a for a in actions if a in {"api_token.created", "approved", "internal_note", "signed_in"}]
    assert ours == ["api_token.created", "approved", "internal_note", "signed_in"]
    text = response.content.decode()
    assert "approver@platform.example" in text and "pending_approval → approved" in text


def test_audit_filters_by_actor_organisation_time_and_source(approver_client, history,
                                                             organization) -> None:
    assert audit_actions(approver_client, actor="support@", source="request") == ["internal_note"]
    assert audit_actions(approver_client, organization=organization.pk, source="request") == [
        "approved", "internal_note"]
    assert audit_actions(approver_client, organization=history.pk) == [
        "api_token.created", "signed_in"]
    today = timezone.localdate().isoformat()
    assert audit_actions(approver_client, organization=history.pk, since=today) == [
        "api_token.created"]
    five_days_ago = (timezone.localdate() - timedelta(days=5)).isoformat()
    assert audit_actions(approver_client, until=five_days_ago) == ["signed_in"]
    assert "approved" not in audit_actions(approver_client, source="security")
    assert "api_token.created" in audit_actions(approver_client, source="security")


def test_audit_rejects_an_upside_down_range_with_a_message(approver_client, history) -> None:
    response = approver_client.get(reverse("console:audit"),
                                   {"since": "2030-01-02", "until": "2030-01-01"})
    assert response.status_code == 200
    assert "To must be on or after From." in response.content.decode()


def test_audit_csv_export_is_filtered_and_safe(approver_client, history, pending, customer) -> None:
    services.comment_create(request=pending, actor=customer, body='=HYPERLINK("http://evil")')
    response = approver_client.get(reverse("console:audit_csv"),
                                   {"organization": pending.organization_id, "source": "request"})
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["time (UTC)", "source", "actor", "organisation", "action"]
    assert [r[4] for r in rows[1:]] == ["commented", "approved", "internal_note"]
    assert rows[1][8] == "'=HYPERLINK(\"http://evil\")"
    assert all(r[3] == "Contoso Analytics" for r in rows[1:])


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("plain", "plain"), (None, ""), ("a=b", "a=b"),
])
def test_csv_cells_cannot_start_a_formula(value, expected) -> None:
    assert csv_cell(value) == expected


def test_audit_is_staff_only(customer_client, outsider_client) -> None:
    for client in (customer_client, outsider_client):
        assert client.get(reverse("console:audit")).status_code == 404
        assert client.get(reverse("console:audit_csv")).status_code == 404


def test_events_for_a_deleted_actor_still_show(approver_client, pending, django_user_model) -> None:
    gone = django_user_model.objects.create_user(email="gone@platform.example", password="x" * 16)
    RequestEvent.objects.create(request=pending, actor=gone, actor_label=gone.email, action="note")
    gone.delete()
    assert "gone@platform.example" in approver_client.get(reverse("console:audit")).content.decode()
