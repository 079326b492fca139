"""Single sign-on rules: tenant claims, who a Microsoft sign-in may be, SSO-required, sign-ins.

Services (writes, audited) and selectors (reads, scoped to the caller's organisation) for the
owner's "Single sign-on" page and the console, and the one decision the sign-in adapter asks
(``microsoft_verdict``): which account an Entra identity may be, or why it is refused.

- A tenant is an organisation's once one of its owners claimed it and an approver confirmed
  it; a tenant is confirmed for one organisation at most, and never the platform's own.
- A Microsoft sign-in from the staff tenant (the platform's) is a staff account with that
  email, or nothing. From a confirmed tenant it is that organisation's member with that email,
  or a new member; never an account elsewhere. From any other tenant it is refused.
- An organisation that requires SSO refuses its members' password sign-ins; staff are
  never refused (they are no organisation's members).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from connectivity import lifecycle, selectors
from connectivity.models import (
    AuditEntry,
    Membership,
    Organization,
    SignIn,
    TenantClaim,
    User,
)

SIGN_IN_METHODS = {"microsoft": SignIn.Method.MICROSOFT, "google": SignIn.Method.GOOGLE}


def staff_tenant_id() -> str:
    return str(getattr(settings, "SSO_STAFF_TENANT_ID", "")
               or settings.AZURE_PLATFORM_TENANT_ID).lower()


def normalize_tenant_id(value: str) -> str:
    """A tenant ID as stored (lower-case GUID), or ValidationError naming the field."""
    text = (value or "").strip()
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        parsed = None
    if parsed is None or len(text) != 36:
        raise ValidationError({"tenant_id": [
            "Tenant ID must be a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47 (Entra admin "
            "center, Overview, Tenant ID)."]})
    return str(parsed)


# --- selectors --------------------------------------------------------------------------------


def tenant_claims_for(user: User) -> QuerySet[TenantClaim]:
    org = selectors.organization_of(user)
    if org is None:
        return TenantClaim.objects.none()
    return TenantClaim.objects.filter(organization=org).select_related("claimed_by")


def sign_ins_for(user: User, limit: int = 50) -> QuerySet[SignIn]:
    """The latest sign-ins of the caller's organisation's members (owners' page)."""
    org = selectors.organization_of(user)
    if org is None:
        return SignIn.objects.none()
    return SignIn.objects.filter(organization=org).select_related("user")[:limit]


def pending_tenant_claims() -> QuerySet[TenantClaim]:
    """Staff only: claims waiting for an approver, oldest first."""
    return TenantClaim.objects.filter(confirmed_at__isnull=True).select_related(
        "organization", "claimed_by")


def confirmed_tenant_ids(organization: Organization) -> list[str]:
    return list(TenantClaim.objects.filter(organization=organization, confirmed_at__isnull=False)
                .values_list("tenant_id", flat=True))


# --- services ---------------------------------------------------------------------------------


def _audit(actor: User | None, organization: Organization, action: str, target: str,
           **data: object) -> None:
    AuditEntry.objects.create(actor=actor, actor_label=lifecycle.actor_label(actor),
                              organization=organization, action=action, target=target,
                              data=dict(data))


def _owner_org(actor: User) -> Organization:
    org = selectors.organization_of(actor)
    if org is None or not selectors.is_owner(actor):
        raise PermissionDenied("Only the organisation's owners manage single sign-on.")
    return org


@transaction.atomic
def tenant_claim_create(*, actor: User, tenant_id: str) -> TenantClaim:
    """An owner claims an Entra tenant for their organisation; it waits for staff."""
    org = _owner_org(actor)
    tid = normalize_tenant_id(tenant_id)
    if tid == staff_tenant_id():
        raise ValidationError({"tenant_id": ["Tenant ID is the platform's own tenant; claim "
                                             "your organisation's tenant."]})
    if TenantClaim.objects.filter(organization=org, tenant_id=tid).exists():
        raise ValidationError({"tenant_id": ["Tenant ID is already claimed by your "
                                             "organisation."]})
    if TenantClaim.objects.filter(tenant_id=tid, confirmed_at__isnull=False).exists():
        raise ValidationError({"tenant_id": ["Tenant ID cannot be claimed: it is linked to "
                                             "another organisation. Contact support if it is "
                                             "yours."]})
    claim = TenantClaim.objects.create(organization=org, tenant_id=tid, claimed_by=actor)
    _audit(actor, org, "sso.tenant_claimed", tid)
    return claim


@transaction.atomic
def tenant_claim_remove(*, actor: User, claim_id: int) -> None:
    """An owner withdraws a claim (pending or confirmed); its tenant's sign-ins stop working."""
    org = _owner_org(actor)
    claim = TenantClaim.objects.filter(pk=claim_id, organization=org).first()
    if claim is None:
        raise TenantClaim.DoesNotExist
    claim.delete()
    _audit(actor, org, "sso.tenant_removed", claim.tenant_id)


@transaction.atomic
def tenant_claim_confirm(*, actor: User, claim: TenantClaim) -> TenantClaim:
    """An approver confirms that the tenant belongs to the organisation that claimed it."""
    if not selectors.is_approver(actor):
        raise PermissionDenied("Only approvers may do this.")
    now = timezone.now()
    try:
        with transaction.atomic():
            changed = TenantClaim.objects.filter(pk=claim.pk, confirmed_at__isnull=True).update(
                confirmed_at=now, confirmed_by=actor)
    except IntegrityError:
        raise ValidationError({"tenant_id": [
            "Tenant ID is already confirmed for another organisation."]}) from None
    if not changed:
        raise ValidationError({"tenant_id": ["This claim was confirmed or withdrawn meanwhile."]})
    claim.confirmed_at, claim.confirmed_by = now, actor
    _audit(actor, claim.organization, "sso.tenant_confirmed", claim.tenant_id)
    return claim


@transaction.atomic
def tenant_claim_reject(*, actor: User, claim: TenantClaim) -> None:
    if not selectors.is_approver(actor):
        raise PermissionDenied("Only approvers may do this.")
    if not TenantClaim.objects.filter(pk=claim.pk, confirmed_at__isnull=True).delete()[0]:
        raise ValidationError({"tenant_id": ["This claim was confirmed or withdrawn meanwhile."]})
    _audit(actor, claim.organization, "sso.tenant_rejected", claim.tenant_id)


@transaction.atomic
def organization_set_sso_required(*, actor: User, required: bool) -> Organization:
    """An owner requires (or stops requiring) Microsoft sign-in for the organisation."""
    org = _owner_org(actor)
    if required and not confirmed_tenant_ids(org):
        raise ValidationError({"sso_required": [
            "Require SSO needs a confirmed tenant first, or nobody could sign in."]})
    Organization.objects.filter(pk=org.pk).update(sso_required=required)
    org.sso_required = required
    _audit(actor, org, "sso.required_on" if required else "sso.required_off", org.name)
    return org


def sign_in_record(*, user: User, method: str, tenant_id: str = "",
                   provider_mfa: bool = False) -> SignIn:
    return SignIn.objects.create(user=user, organization=selectors.organization_of(user),
                                 method=SIGN_IN_METHODS.get(method, method),
                                 tenant_id=tenant_id, provider_mfa=provider_mfa)


def sign_in_purge(*, now: datetime | None = None) -> int:
    """Sign-in records are security history: kept AUDIT_RETENTION_DAYS, like the audit log."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted, _ = SignIn.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def member_join(*, user: User, organization: Organization) -> Membership:
    """A first Microsoft sign-in from the organisation's confirmed tenant: a member."""
    membership = Membership.objects.create(user=user, organization=organization,
                                           role=Membership.Role.MEMBER)
    _audit(user, organization, "sso.member_joined", user.email)
    return membership


# --- the sign-in decision ---------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Who a Microsoft identity signs in as: ``user`` (existing), or a new member of
    ``organization``; or ``refusal``, the sentence to show."""

    user: User | None = None
    organization: Organization | None = None
    refusal: str = ""
    staff: bool = False


def microsoft_verdict(*, tenant_id: str, email: str, user: User | None) -> Verdict:
    """``user`` is the account already linked to this identity (or signed in and linking it);
    None for a first sign-in, which matches by email only inside the tenant's organisation."""
    tid = (tenant_id or "").lower()
    email = (email or "").strip().lower()
    if tid == staff_tenant_id():
        staff = user or User.objects.filter(email__iexact=email).first()
        if staff is None or not staff.is_staff or not staff.is_active:
            return Verdict(refusal="Sign-ins from the platform's tenant are for staff accounts, "
                                   f"and there is no staff account for {email or 'this person'}.")
        return Verdict(user=staff, staff=True)
    claim = (TenantClaim.objects.filter(tenant_id=tid, confirmed_at__isnull=False)
             .select_related("organization").first())
    if claim is None:
        return Verdict(refusal=f"Your Microsoft Entra tenant ({tid}) is not linked to an "
                               "organisation in this portal. An owner of your organisation "
                               "can claim it on the Single sign-on page; it works once the "
                               "platform's staff have confirmed it.")
    account = user or User.objects.filter(email__iexact=email).first()
    if account is None:
        if not email:
            return Verdict(refusal="Your Microsoft account has no email address, which the "
                                   "portal needs to create your account.")
        return Verdict(organization=claim.organization)
    if account.is_staff:
        return Verdict(refusal="Staff accounts sign in from the platform's tenant.")
    if not account.is_active or selectors.organization_of(account) != claim.organization:
        return Verdict(refusal=f"The portal account for {account.email} is not in the "
                               "organisation that owns your Entra tenant. Ask the platform's "
                               "support to move it.")
    return Verdict(user=account)


def password_refused(user: User) -> bool:
    """True when the user's organisation requires SSO (staff are never refused)."""
    if user.is_staff:
        return False
    org = selectors.organization_of(user)
    return bool(org and org.sso_required)
