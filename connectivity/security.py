"""The security log: audit rows, structured log lines, and alerts to staff.

Every security-relevant action becomes one `AuditEntry` row, and every new `AuditEntry` (written
here or by a service, e.g. API token creation) becomes one structured log line on the
`connectivity.security` logger: `security {"event": "auth.sign_in_failed", ...}` (JSON after the
word `security`, so a log shipper can parse it). Rows older than AUDIT_RETENTION_DAYS are purged
by the periodic task `connectivity.tasks.audit_purge`.

What is recorded: sign-ins, sign-outs, failed sign-ins, failed MFA codes, MFA changes, password
changes and resets, API token creation and revocation (by the services), approvals and
rejections, credential changes, and cross-organisation misses (a customer asking for another
organisation's object, answered 404).

Alerts: when failed sign-ins for one account, or cross-organisation misses by one user, reach (or,
with concurrent attempts, pass) a threshold inside a window, staff get one email per window
(STAFF_ALERT_EMAILS, else the active superusers) and an `security.alert` row is written. Counting
is done on the audit rows themselves, so it holds across processes without a shared cache.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import user_logged_in, user_logged_out, user_login_failed
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.http import HttpRequest
from django.utils import timezone

from connectivity.models import AuditEntry, Organization, RequestEvent, User

logger = logging.getLogger("connectivity.security")

SIGNED_IN = "auth.signed_in"
SIGNED_OUT = "auth.signed_out"
SIGN_IN_FAILED = "auth.sign_in_failed"
MFA_FAILED = "mfa.failed"
CROSS_ORG_MISS = "cross_org.not_found"
ALERT = "security.alert"
# The actions that say someone may be probing; logged at WARNING.
SUSPICIOUS = {SIGN_IN_FAILED, MFA_FAILED, CROSS_ORG_MISS, ALERT}
# Request timeline actions that are decisions about a customer's network: copied to the audit log.
DECISIONS = {"approved": "request.approved", "auto_approved": "request.auto_approved",
             "rejected": "request.rejected", "teardown_requested": "request.teardown_requested"}
MAX_TARGET = 300


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address, as allauth's per-address limits see it: behind
    ALLAUTH_TRUSTED_PROXY_COUNT proxies, taken from X-Forwarded-For; else REMOTE_ADDR."""
    if request is None:
        return None
    from allauth.core.internal.httpkit import get_client_ip
    from django.core.exceptions import ImproperlyConfigured

    try:
        value = get_client_ip(request) or ""
    except ImproperlyConfigured:  # fewer addresses than proxies: a request that skipped one
        value = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _label(actor: User | None) -> str:
    return actor.email if actor is not None and actor.is_authenticated else "anonymous"


def _clean_target(value: object) -> str:
    """What a user typed (an email at a failed sign-in) goes into a log line: keep it printable
    and short so it cannot forge extra lines or fill the disk."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value or ""))
    return text[:MAX_TARGET]


def record(
    action: str,
    *,
    actor: User | None = None,
    organization: Organization | None = None,
    target: object = "",
    request: HttpRequest | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit row (the log line follows from the row, see `_log_audit_entry`)."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    if organization is None and actor is not None:
        organization = actor.organization
    return AuditEntry.objects.create(
        actor=actor, actor_label=_label(actor), organization=organization, action=action,
        target=_clean_target(target), ip_address=client_ip(request), data=data or {},
    )


def log_line(entry: AuditEntry) -> str:
    payload = {
        "event": entry.action,
        "actor": entry.actor_label,
        "actor_id": entry.actor_id,
        "organization_id": entry.organization_id,
        "target": entry.target,
        "ip": entry.ip_address,
        "at": entry.created_at.isoformat(),
        "data": entry.data,
    }
    return json.dumps(payload, default=str, ensure_ascii=True, sort_keys=True)


def _log_audit_entry(sender: type[AuditEntry], instance: AuditEntry, created: bool, **_: Any) -> None:
    if not created:
        return
    level = logging.WARNING if instance.action in SUSPICIOUS else logging.INFO
    logger.log(level, "security %s", log_line(instance))


# --- Alerts -----------------------------------------------------------------------------------


def alert_recipients() -> list[str]:
    configured = list(getattr(settings, "STAFF_ALERT_EMAILS", []) or [])
    if configured:
        return configured
    return list(User.objects.filter(is_superuser=True, is_active=True)
                .exclude(email="").values_list("email", flat=True))


def _alert_if_threshold(*, kind: str, subject_label: str, count: int, threshold: int,
                        window: int, actor: User | None = None) -> None:
    # At or past the threshold (concurrent attempts may jump over it, so never "equals"), and
    # once per window: the first caller past it writes the alert row, under a lock so that two
    # concurrent callers cannot both see "no alert yet".
    if count < threshold:
        return
    with transaction.atomic():
        _lock(f"security-alert:{kind}:{subject_label}")
        if AuditEntry.objects.filter(action=ALERT, target=_clean_target(subject_label),
                                     data__kind=kind,
                                     created_at__gte=_window_start(window)).exists():
            return
        record(ALERT, actor=actor, target=subject_label,
               data={"kind": kind, "count": count, "window_seconds": window})
    minutes = max(1, window // 60)
    summary = f"{count} {kind} for {subject_label} in the last {minutes} minutes"
    recipients = alert_recipients()
    if not recipients:
        logger.error("security alert with nobody to email (set STAFF_ALERT_EMAILS): %s", summary)
        return

    def send() -> None:
        try:
            send_mail(
                f"[Connectivity Portal] Security alert: {summary}",
                f"{summary}.\n\nSee the audit log in the staff console or the Django admin "
                "(Audit entries) for the details: times, addresses and targets.\n",
                None, recipients,
            )
        except Exception:  # an alert that cannot be mailed must not break a sign-in
            logger.exception("security alert email not sent: %s", summary)

    transaction.on_commit(send)


def _lock(name: str) -> None:
    """A lock held until the transaction ends: PostgreSQL's advisory lock; SQLite's transactions
    already take the database's write lock up front (portal/settings/base.py)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])


def _window_start(window: int) -> Any:
    return timezone.now() - timedelta(seconds=window)


def note_failed_sign_in(identifier: str, *, request: HttpRequest | None = None,
                        action: str = SIGN_IN_FAILED, user: User | None = None) -> None:
    """A wrong password (or MFA code) for `identifier`; alerts when one account is hammered."""
    identifier = _clean_target(identifier).strip().lower()
    record(action, target=identifier, request=request,
           organization=user.organization if user is not None else None,
           data={"user_id": user.pk} if user is not None else None)
    window = _setting("SECURITY_ALERT_WINDOW", 900)
    threshold = _setting("SECURITY_ALERT_FAILED_SIGNINS", 10)
    count = AuditEntry.objects.filter(
        action__in=[SIGN_IN_FAILED, MFA_FAILED], target=identifier,
        created_at__gte=_window_start(window),
    ).count()
    _alert_if_threshold(kind="failed sign-ins", subject_label=identifier or "(no account)",
                        count=count, threshold=threshold, window=window)


def note_cross_org_miss(user: User, kind: str, object_id: object,
                        *, request: HttpRequest | None = None) -> None:
    """`user` asked for an object that exists in another organisation; they got a 404."""
    record(CROSS_ORG_MISS, actor=user, target=f"{kind} {object_id}", request=request,
           data={"kind": kind, "id": str(object_id)})
    window = _setting("SECURITY_ALERT_WINDOW", 900)
    threshold = _setting("SECURITY_ALERT_CROSS_ORG", 5)
    count = AuditEntry.objects.filter(
        action=CROSS_ORG_MISS, actor=user, created_at__gte=_window_start(window)).count()
    _alert_if_threshold(kind="cross-organisation requests", subject_label=user.email,
                        count=count, threshold=threshold, window=window, actor=user)


# --- Signal receivers (connected in ConnectivityConfig.ready) ----------------------------------


def _on_signed_in(sender: Any, request: HttpRequest | None, user: User, **_: Any) -> None:
    record(SIGNED_IN, actor=user, target=user.email, request=request)


def _on_signed_out(sender: Any, request: HttpRequest | None, user: User | None, **_: Any) -> None:
    if user is not None:
        record(SIGNED_OUT, actor=user, target=user.email, request=request)


def _on_sign_in_failed(sender: Any, credentials: dict[str, Any],
                       request: HttpRequest | None = None, **_: Any) -> None:
    # Django has already masked the password in `credentials`; only the identifier is used.
    identifier = credentials.get("email") or credentials.get("username") or ""
    note_failed_sign_in(str(identifier), request=request)


def _on_mfa_failed(sender: Any, request: HttpRequest | None = None, user: User | None = None,
                   authenticator: Any = None, **_: Any) -> None:
    if user is not None:
        note_failed_sign_in(user.email, request=request, action=MFA_FAILED, user=user)


def _mfa_receiver(action: str) -> Any:
    def receiver(sender: Any, request: HttpRequest | None = None, user: User | None = None,
                 authenticator: Any = None, **_: Any) -> None:
        record(action, actor=user, target=user.email if user else "", request=request,
               data={"type": getattr(authenticator, "type", "")})
    return receiver


def _account_receiver(action: str) -> Any:
    def receiver(sender: Any, request: HttpRequest | None = None, user: User | None = None,
                 **_: Any) -> None:
        record(action, actor=user, target=user.email if user else "", request=request)
    return receiver


def _on_request_event(sender: type[RequestEvent], instance: RequestEvent, created: bool,
                      **_: Any) -> None:
    action = DECISIONS.get(instance.action)
    if not created or action is None:
        return
    record(action, actor=instance.actor, organization=instance.request.organization,
           target=f"request {instance.request_id}",
           data={"from": instance.from_state, "to": instance.to_state,
                 "message": instance.message[:200]})


_RECEIVERS: list[Any] = []  # module-level so the weak references of the signals stay alive


def connect_signals() -> None:
    """Called once from ConnectivityConfig.ready()."""
    from allauth.account import signals as account_signals
    from allauth.mfa import signals as mfa_signals

    user_logged_in.connect(_on_signed_in, dispatch_uid="security.signed_in")
    user_logged_out.connect(_on_signed_out, dispatch_uid="security.signed_out")
    user_login_failed.connect(_on_sign_in_failed, dispatch_uid="security.sign_in_failed")
    mfa_signals.authentication_failed.connect(_on_mfa_failed, dispatch_uid="security.mfa_failed")
    for signal, action in [
        (mfa_signals.authenticator_added, "mfa.added"),
        (mfa_signals.authenticator_removed, "mfa.removed"),
        (mfa_signals.authenticator_reset, "mfa.reset"),
    ]:
        receiver = _mfa_receiver(action)
        _RECEIVERS.append(receiver)
        signal.connect(receiver, dispatch_uid=f"security.{action}")
    for signal, action in [
        (account_signals.password_changed, "auth.password_changed"),
        (account_signals.password_set, "auth.password_set"),
        (account_signals.password_reset, "auth.password_reset"),
    ]:
        receiver = _account_receiver(action)
        _RECEIVERS.append(receiver)
        signal.connect(receiver, dispatch_uid=f"security.{action}")
    post_save.connect(_log_audit_entry, sender=AuditEntry, dispatch_uid="security.audit_log")
    post_save.connect(_on_request_event, sender=RequestEvent, dispatch_uid="security.decisions")
