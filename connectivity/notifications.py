"""Emails to the customer when a request needs them. Sent after commit; never fatal."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from connectivity.models import Comment, ConnectivityRequest

logger = logging.getLogger(__name__)

SUBJECTS = {
    "approved": "Approved: your {kind} request {id}",
    "rejected": "Rejected: your {kind} request {id}",
    "action_needed": "Action needed on your {kind} request {id}",
    "active": "Active: your {kind} request {id} is working",
    "revoke_reminder": "Reminder: revoke the platform's role for request {id}",
    "customer_reminder": "Reminder: your {kind} request {id} is waiting for you",
    "expiry_notice": "Expires soon: your {kind} request {id} is waiting for your approval",
    "degraded": "Degraded: your {kind} request {id} is disconnected",
    "failed": "Failed: your {kind} request {id}",
    "staff_reply": "Support replied on request {id}",
    "completed": "Completed: request {id}",
    "removed": "Removed: request {id}",
}


def request_url(request: ConnectivityRequest) -> str:
    try:
        path = reverse("request_detail", args=[request.pk])
    except NoReverseMatch:
        path = f"/requests/{request.pk}/"
    return settings.SITE_URL.rstrip("/") + path


def recipients(request: ConnectivityRequest) -> list[str]:
    return list(
        request.organization.memberships.filter(
            user__is_active=True, user__email_notifications=True
        ).values_list("user__email", flat=True)
    )


def notify_customer(request: ConnectivityRequest, what: str, *, comment: Comment | None = None) -> None:
    """Email the organisation's members who have not opted out, once the transaction commits."""
    to = recipients(request)
    if not to:
        return
    subject = SUBJECTS[what].format(kind=request.get_kind_display(), id=request.short_id)
    body = render_to_string("email/request_notification.txt", {
        "request": request, "what": what, "comment": comment, "url": request_url(request),
    })

    def send() -> None:
        try:
            send_mail(subject, body, None, to)
        except Exception:  # a mail outage must never undo or block the workflow
            logger.exception("notification %s for request %s not sent", what, request.pk)

    transaction.on_commit(send)


def notify_platform_team(request: ConnectivityRequest, *, step: str, detail: str) -> None:
    """Email staff (STAFF_ALERT_EMAILS, else the superusers) that a resource in the platform's
    own subscription is missing: the customer cannot fix it, so someone on the platform must."""
    from connectivity.security import alert_recipients

    to = alert_recipients()
    if not to:
        logger.error("platform resource missing for request %s with nobody to email", request.pk)
        return
    subject = f"[Connectivity Portal] Platform resource missing: request {request.short_id}"
    body = (f"Step {step} of {request.get_kind_display()} request {request.pk} "
            f"({request.organization.name}, cluster {request.cluster.name}) failed because a "
            f"resource in the platform's own subscription is missing.\n\nAzure said: {detail}\n\n"
            "Restore the resource (or fix the cluster's settings in the admin), then retry the "
            "request from the console.\n")

    def send() -> None:
        try:
            send_mail(subject, body, None, to)
        except Exception:  # a mail outage must never undo or block the workflow
            logger.exception("platform alert for request %s not sent", request.pk)

    transaction.on_commit(send)


def notify_vnet_claim_attempt(requests: list[ConnectivityRequest]) -> None:
    """Tell an organisation that another one filed a request for a VNet it has a request for.

    A security notice: it goes to the organisation's owners and the requests' creators even if
    they turned the workflow emails off, and says nothing about who the other organisation is."""
    first = requests[0]
    owners = first.organization.memberships.filter(
        user__is_active=True, role="owner").values_list("user__email", flat=True)
    creators = [r.created_by.email for r in requests
                if r.created_by is not None and r.created_by.is_active]
    to = sorted(set(owners) | set(creators))
    if not to:
        return
    subject = f"Security notice: another organisation asked to connect to {first.vnet_name}"
    body = render_to_string("email/vnet_claim_attempt.txt", {
        "requests": [(r, request_url(r)) for r in requests], "vnet_name": first.vnet_name,
        "organization": first.organization,
    })

    def send() -> None:
        try:
            send_mail(subject, body, None, to)
        except Exception:  # a mail outage must never undo or block the workflow
            logger.exception("VNet claim notice for request %s not sent", first.pk)

    transaction.on_commit(send)


def staff_recipients(request: ConnectivityRequest) -> list[str]:
    """Who on the platform's side hears of a customer's message: the staff who worked on this
    request (wrote in its thread, approved it, or acted on its timeline); else
    ``STAFF_COMMENT_EMAILS``; else everyone with a console role."""
    from connectivity.models import User

    involved = {c.author_id for c in request.comments.all() if c.author_id}
    involved |= {e.actor_id for e in request.events.all() if e.actor_id}
    if request.approved_by_id:
        involved.add(request.approved_by_id)
    active_staff = User.objects.filter(is_active=True, is_staff=True).exclude(email="")
    emails = sorted(active_staff.filter(pk__in=involved).values_list("email", flat=True))
    if emails:
        return emails
    configured = list(getattr(settings, "STAFF_COMMENT_EMAILS", []) or [])
    if configured:
        return configured
    return sorted(active_staff.filter(groups__name__in=["support", "approver"])
                  .values_list("email", flat=True).distinct())


def notify_staff_of_comment(request: ConnectivityRequest, comment: Comment) -> None:
    """Email support that a customer wrote, once the transaction commits; never fatal."""
    to = staff_recipients(request)
    if not to:
        logger.warning("customer message on request %s with no staff to email "
                       "(set STAFF_COMMENT_EMAILS)", request.pk)
        return
    author = comment.author.email if comment.author else "a customer"
    subject = f"Customer message on {request.get_kind_display()} request {request.short_id}"
    try:
        path = reverse("console:review", kwargs={"request_id": request.pk})
    except NoReverseMatch:
        path = f"/console/requests/{request.pk}/"
    body = render_to_string("email/staff_comment.txt", {
        "request": request, "comment": comment, "author": author,
        "url": settings.SITE_URL.rstrip("/") + path,
    })

    def send() -> None:
        try:
            send_mail(subject, body, None, to)
        except Exception:  # a mail outage must never undo or block the workflow
            logger.exception("staff notification for request %s not sent", request.pk)

    transaction.on_commit(send)
