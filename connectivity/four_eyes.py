"""Four eyes: nobody decides about a request they created or that their own organisation filed.

Staff may also belong to a customer organisation (a platform engineer who is an owner of an
internal team's organisation, say). Approving, rejecting or retrying such a request is left to
an approver outside that organisation. The services enforce it; the console and the staff API
show the same sentence.
"""

from __future__ import annotations

from connectivity.models import ConnectivityRequest, User


def conflict(actor: User | None, request: ConnectivityRequest) -> str | None:
    """Why `actor` may not decide about `request`, or None when they may."""
    if actor is None or not actor.is_authenticated:
        return None  # the system (auto-approve) is not a person
    if request.created_by_id is not None and request.created_by_id == actor.pk:
        return ("Four eyes: you created this request, so another approver must decide it.")
    organization = actor.organization
    if organization is not None and organization.pk == request.organization_id:
        return (f"Four eyes: your own organisation ({organization.name}) filed this request, so "
                "an approver outside it must decide it.")
    return None
