"""Staff reads for the console: every organisation's requests, events and audit entries.

Each list is one query for its rows (plus a count), whatever the number of rows: related rows
come through select_related, and per-row facts (pre-flight summary, age) come from the row.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from connectivity import selectors
from connectivity.models import (
    AuditEntry,
    Cluster,
    Comment,
    ConnectivityRequest,
    Organization,
    RequestEvent,
    RequestState,
)

S = RequestState
_ID_PREFIX = re.compile(r"^[0-9a-fA-F-]{4,36}$")


@dataclass(frozen=True)
class QueueFilters:
    state: str = ""
    organization: Organization | None = None
    kind: str = ""
    cluster: Cluster | None = None
    q: str = ""


def _search(q: str) -> Q:
    """A request id (whole or its first characters), a subscription id or a VNet name."""
    q = q.strip()
    condition = Q(spec__subscription_id__iexact=q) | Q(spec__vnet_name__icontains=q)
    try:
        condition |= Q(pk=uuid.UUID(q))
    except ValueError:
        if _ID_PREFIX.match(q):
            condition |= Q(pk__istartswith=q)
    return condition


def _filtered(filters: QueueFilters, *, with_state: bool) -> QuerySet[ConnectivityRequest]:
    requests = ConnectivityRequest.objects.all()
    if with_state and filters.state:
        requests = requests.filter(state=filters.state)
    if filters.organization is not None:
        requests = requests.filter(organization=filters.organization)
    if filters.kind:
        requests = requests.filter(kind=filters.kind)
    if filters.cluster is not None:
        requests = requests.filter(cluster=filters.cluster)
    if filters.q.strip():
        requests = requests.filter(_search(filters.q))
    return requests


def queue(filters: QueueFilters) -> QuerySet[ConnectivityRequest]:
    """Requests awaiting approval first, then the rest; oldest first within each."""
    return (
        _filtered(filters, with_state=True)
        .select_related("organization", "cluster", "created_by")
        .annotate(awaiting=Case(When(state=S.PENDING_APPROVAL, then=Value(0)), default=Value(1),
                                output_field=IntegerField()))
        .order_by("awaiting", "state_changed_at", "created_at")
    )


def state_counts(filters: QueueFilters) -> list[tuple[str, str, int]]:
    """(state, label, count) for every state, under the other filters: one query."""
    counted = dict(
        _filtered(filters, with_state=False).order_by().values_list("state")
        .annotate(n=Count("pk")).values_list("state", "n")
    )
    return [(state, label, counted.get(state, 0)) for state, label in S.choices]


def request_for_staff(request_id: uuid.UUID | str) -> ConnectivityRequest | None:
    try:
        return selectors.all_requests().select_related("approved_by").get(pk=request_id)
    except (ConnectivityRequest.DoesNotExist, ValueError, TypeError):
        return None
    except Exception as exc:  # a malformed UUID raises ValidationError on some backends
        if exc.__class__.__name__ == "ValidationError":
            return None
        raise


def comments_for_staff(request: ConnectivityRequest) -> QuerySet[Comment]:
    return request.comments.select_related("author").order_by("created_at", "id")


def organizations() -> QuerySet[Organization]:
    """Every organisation with its open request count, in one query."""
    open_states = [S.AWAITING_GRANT, S.PENDING_APPROVAL, S.APPROVED, S.PROVISIONING,
                   S.ACTION_NEEDED, S.FAILED, S.REMOVING]
    return Organization.objects.annotate(
        open_requests=Count("requests", filter=Q(requests__state__in=open_states)),
        members=Count("memberships", distinct=True),
    ).order_by("name")


# --- audit -------------------------------------------------------------------------------------

AUDIT_COLUMNS = ("at", "source", "who", "org_name", "action", "ref", "from_state", "to_state",
                 "detail")


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    organization: Organization | None = None
    since: date | None = None
    until: date | None = None
    source: str = ""  # "", "request" or "security"


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _time_filter(filters: AuditFilters) -> Q:
    condition = Q()
    if filters.since is not None:
        condition &= Q(created_at__gte=_day_start(filters.since))
    if filters.until is not None:
        condition &= Q(created_at__lt=_day_start(filters.until + timedelta(days=1)))
    return condition


def audit_rows(filters: AuditFilters) -> QuerySet[Any]:
    """Request events and security audit entries as one list of dicts, newest first.

    One UNION query: both sides are narrowed by the same filters, then shaped into the same
    columns (AUDIT_COLUMNS), so the page and the CSV export stay one query however long.
    """
    events = RequestEvent.objects.filter(_time_filter(filters))
    entries = AuditEntry.objects.filter(_time_filter(filters))
    if filters.actor.strip():
        events = events.filter(actor_label__icontains=filters.actor.strip())
        entries = entries.filter(actor_label__icontains=filters.actor.strip())
    if filters.organization is not None:
        events = events.filter(request__organization=filters.organization)
        entries = entries.filter(organization=filters.organization)
    shaped_events = events.annotate(
        at=F("created_at"), source=Value("request", output_field=CharField()),
        who=F("actor_label"), org_name=F("request__organization__name"), act=F("action"),
        ref=Cast("request_id", output_field=CharField()), from_s=F("from_state"),
        to_s=F("to_state"), detail=Cast("message", output_field=TextField()),
    ).order_by().values_list("at", "source", "who", "org_name", "act", "ref", "from_s", "to_s",
                             "detail")
    shaped_entries = entries.annotate(
        at=F("created_at"), source=Value("security", output_field=CharField()),
        who=F("actor_label"), org_name=F("organization__name"), act=F("action"),
        ref=F("target"), from_s=Value("", output_field=CharField()),
        to_s=Value("", output_field=CharField()), detail=Cast("data", output_field=TextField()),
    ).order_by().values_list("at", "source", "who", "org_name", "act", "ref", "from_s", "to_s",
                             "detail")
    if filters.source == "request":
        return shaped_events.order_by("-at")
    if filters.source == "security":
        return shaped_entries.order_by("-at")
    return shaped_events.union(shaped_entries, all=True).order_by("-at")


def as_audit_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip(AUDIT_COLUMNS, row, strict=True))
    item["request_id"] = ""
    if item["source"] == "request" and item["ref"]:
        # SQLite keeps UUIDs as 32 hex digits; show and link them in the usual form.
        item["request_id"] = str(uuid.UUID(str(item["ref"])))
        item["ref"] = item["request_id"]
    return item
