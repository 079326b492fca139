"""Reads. Everything a customer reaches goes through a function here that takes the user.

Another organisation's object is simply not in the queryset, so views answer 404, never 403.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet

from connectivity.models import (
    ApiToken,
    Cluster,
    Comment,
    ConnectivityRequest,
    Organization,
    RequestEvent,
    User,
)

APPROVER_PERMISSION = "connectivity.approve_request"
SUPPORT_PERMISSION = "connectivity.support_request"


def organization_of(user: User) -> Organization | None:
    if not user.is_authenticated:
        return None
    return user.organization


def clusters_for(user: User) -> QuerySet[Cluster]:
    """The user's organisation's clusters and the shared ones."""
    org = organization_of(user)
    if org is None:
        return Cluster.objects.none()
    return Cluster.objects.filter(Q(organization=org) | Q(organization__isnull=True))


def requestable_clusters_for(user: User) -> QuerySet[Cluster]:
    """Only the organisation's own dedicated clusters take peering, private DNS and forwarding."""
    org = organization_of(user)
    if org is None:
        return Cluster.objects.none()
    return Cluster.objects.filter(organization=org, tier=Cluster.Tier.DEDICATED)


def requests_for(user: User) -> QuerySet[ConnectivityRequest]:
    org = organization_of(user)
    if org is None:
        return ConnectivityRequest.objects.none()
    return ConnectivityRequest.objects.filter(organization=org).select_related(
        "cluster", "created_by"
    )


def request_for(user: User, request_id: uuid.UUID | str, *,
                with_connection: bool = False) -> ConnectivityRequest | None:
    """One request of the user's organisation, or None (the caller answers 404).

    `with_connection` reads its connection status (``connection_status``) in the same query:
    for showing the request, not for changing it (a service may rewrite the status after)."""
    requests = requests_for(user)
    if with_connection:
        requests = requests.select_related("connection_status")
    try:
        return requests.get(pk=request_id)
    except ConnectivityRequest.DoesNotExist:
        _note_if_other_organization(user, request_id)
        return None
    except (ValueError, TypeError):
        return None
    except Exception as exc:  # a malformed UUID raises ValidationError on some backends
        if exc.__class__.__name__ == "ValidationError":
            return None
        raise


def _note_if_other_organization(user: User, request_id: object) -> None:
    """A customer asking for a request that exists in another organisation is probing: the
    security log records it (and alerts staff past a threshold). They still get a plain 404."""
    if organization_of(user) is None:
        return
    if ConnectivityRequest.objects.filter(pk=str(request_id)).exists():
        from connectivity import security

        security.note_cross_org_miss(user, "request", request_id)


INTERNAL_NOTE_ACTION = "internal_note"  # the event services.comment_create writes for a staff note


def events_for(request: ConnectivityRequest, *, user: User) -> QuerySet[RequestEvent]:
    """The timeline. Customers never see that staff wrote an internal note."""
    events = request.events.select_related("actor").order_by("created_at", "id")
    if not is_staff_member(user):
        events = events.exclude(action=INTERNAL_NOTE_ACTION)
    return events


def comments_for(request: ConnectivityRequest, *, user: User) -> QuerySet[Comment]:
    """Staff see internal notes; customers never do."""
    comments = request.comments.select_related("author").order_by("created_at", "id")
    if not is_staff_member(user):
        comments = comments.filter(internal=False)
    return comments


def api_tokens_for(user: User) -> QuerySet[ApiToken]:
    org = organization_of(user)
    if org is None:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(organization=org)


def is_owner(user: User) -> bool:
    membership = getattr(user, "membership", None)
    return bool(membership and membership.role == membership.Role.OWNER)


def is_staff_member(user: User) -> bool:
    return bool(user.is_authenticated and user.is_staff)


def is_approver(user: User) -> bool:
    return is_staff_member(user) and user.has_perm(APPROVER_PERMISSION)


def is_support(user: User) -> bool:
    return is_staff_member(user) and (
        user.has_perm(SUPPORT_PERMISSION) or user.has_perm(APPROVER_PERMISSION)
    )


def all_requests() -> QuerySet[ConnectivityRequest]:
    """Staff only: every organisation's requests, for the console."""
    return ConnectivityRequest.objects.select_related("organization", "cluster", "created_by")
