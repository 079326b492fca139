"""The domain: organisations, clusters, connectivity requests and their history.

State lives in `ConnectivityRequest.state`; only `lifecycle.py` (through the services) changes it.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.db.models import F
from django.db.models.signals import post_save, pre_delete
from django.utils import timezone

# --- what the API's cached list pages show ---------------------------------------------------------
# The API caches a list page under its organisation's `api_version` (connectivity/api/pagecache.py).
# Every write to a row a page shows (a request, its connection status, its cluster, its creator's
# email) bumps the version of each organisation whose pages show that row, once the write has
# committed: `save()` and `delete()` by the signals at the end of this module, queryset updates
# and bulk writes by `ShownInPages`. A reader reads the version before the rows, so a page is
# never stored under a version newer than its rows.

def _after_commit(bump: Callable[[], None]) -> None:
    # One seam, so the test suite's never-committing transactions can bump at once.
    transaction.on_commit(bump, robust=True)


def pages_changed(organizations: Iterable[int | None]) -> None:
    """The API pages of these organisations change when the current transaction commits."""
    ids = sorted({pk for pk in organizations if pk is not None})
    if not ids:
        return

    def bump() -> None:
        Organization.objects.filter(pk__in=ids).update(api_version=F("api_version") + 1)

    _after_commit(bump)


class ShownInPages(models.QuerySet[Any]):
    """Rows the API's list pages show: `update()` and the bulk writes note the organisations
    whose pages they change (read before the write: an update may change what its filter
    matched). A subclass says which organisations show its rows."""

    def organizations_showing(self) -> list[int]:
        raise NotImplementedError

    def organizations_showing_rows(self, objs: list[Any]) -> list[int]:
        return self.filter(pk__in=[o.pk for o in objs if o.pk is not None]).organizations_showing()

    def update(self, **kwargs: Any) -> int:
        showing = self.organizations_showing()
        changed = super().update(**kwargs)
        if changed:
            pages_changed(showing)
        return changed

    def bulk_update(self, objs: Iterable[Any], fields: Iterable[str],
                    batch_size: int | None = None) -> int:
        objs = list(objs)
        changed = super().bulk_update(objs, fields, batch_size)
        pages_changed(self.organizations_showing_rows(objs))
        return changed

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        created = super().bulk_create(objs, *args, **kwargs)
        pages_changed(self.organizations_showing_rows(created))
        return created

    def _distinct(self, path: str) -> list[int]:
        rows = self.order_by()
        rows.query.select_for_update = False  # PostgreSQL refuses FOR UPDATE with DISTINCT
        return list(rows.exclude(**{path: None}).values_list(path, flat=True).distinct())


class RequestQuerySet(ShownInPages):
    def organizations_showing(self) -> list[int]:
        return self._distinct("organization_id")

    def organizations_showing_rows(self, objs: list[Any]) -> list[int]:
        return [o.organization_id for o in objs]


class ConnectionStatusQuerySet(ShownInPages):
    def organizations_showing(self) -> list[int]:
        return self._distinct("request__organization_id")


class ClusterQuerySet(ShownInPages):
    """A shared cluster's name shows in every organisation with a request on it."""

    def organizations_showing(self) -> list[int]:
        return self._distinct("requests__organization_id")


class UserQuerySet(ShownInPages):
    """A creator's email shows on the requests they filed."""

    def organizations_showing(self) -> list[int]:
        return (ConnectivityRequest.objects.filter(created_by__in=self.values("pk"))
                .organizations_showing())


class EmailUserManager(UserManager["User"].from_queryset(UserQuerySet)):  # type: ignore[misc]
    """Users sign in with their email address; there is no separate username."""

    use_in_migrations = True

    def _create_user_by_email(
        self, email: str, password: str | None, **extra: Any
    ) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user_by_email(email, password, **extra)

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user_by_email(email, password, **extra)


class User(AbstractUser):
    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    email_notifications = models.BooleanField(
        default=True, help_text="Send emails when a request needs my attention.")
    timezone = models.CharField(max_length=64, default="UTC")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = EmailUserManager()  # type: ignore[misc]

    def __str__(self) -> str:
        return self.email

    @property
    def organization(self) -> Organization | None:
        membership = getattr(self, "membership", None)
        return membership.organization if membership else None


class Organization(models.Model):
    name = models.CharField(max_length=200)
    # Bumped after every write to what its API list pages show (`pages_changed`).
    api_version = models.BigIntegerField(default=0, editable=False)
    slug = models.SlugField(max_length=60, unique=True)
    auto_approve = models.BooleanField(
        default=False,
        help_text="Approve requests automatically once every pre-flight check passes.",
    )
    sso_required = models.BooleanField(
        default=False,
        help_text="Members must sign in with Microsoft from a confirmed tenant (staff excepted).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # An instance read before a bump would write its older version back, and a page stored
        # under that version would be served again: only `pages_changed` writes it.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [f.name for f in self._meta.concrete_fields
                                       if not f.primary_key and f.name != "api_version"]
        super().save(*args, **kwargs)


class Membership(models.Model):
    """A user belongs to one organisation; owners manage API tokens and teammates."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MEMBER = "member", "Member"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="membership")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Cluster(models.Model):
    """A platform cluster. Its VNet lives in the platform's own subscription."""

    class Tier(models.TextChoices):
        STANDARD = "standard", "Standard"
        DEDICATED = "dedicated", "Dedicated"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="clusters", null=True, blank=True,
        help_text="Empty for a shared (multi-tenant) cluster.",
    )
    name = models.CharField(max_length=100)
    region = models.CharField(max_length=40)
    tier = models.CharField(max_length=10, choices=Tier.choices)
    vnet_id = models.CharField("VNet resource id", max_length=400)
    address_prefixes = models.JSONField(default=list, help_text="The cluster VNet's CIDRs.")
    external_ips = models.JSONField(default=list, help_text="Egress IPs customers allowlist.")
    dns_forwarding_ruleset_id = models.CharField(max_length=400, blank=True)
    # The user-assigned managed identity the cluster's workloads use (dedicated clusters).
    workload_identity_resource_id = models.CharField(
        "workload identity resource id", max_length=400, blank=True,
        help_text="Its Microsoft.ManagedIdentity/userAssignedIdentities id, in the platform's "
                  "subscription.")
    workload_identity_client_id = models.CharField("workload identity client id", max_length=36,
                                                   blank=True)
    workload_identity_principal_id = models.CharField(
        "workload identity principal id", max_length=36, blank=True,
        help_text="The object id customers assign roles to.")
    workload_identity_tenant_id = models.CharField("workload identity tenant", max_length=36,
                                                   blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="cluster_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dedicated(self) -> bool:
        return self.tier == self.Tier.DEDICATED

    @property
    def has_workload_identity(self) -> bool:
        return bool(self.workload_identity_principal_id)


def new_control_proof() -> str:
    """A per-request proof of control: random and unguessable (128 bits), shell-safe.

    The customer puts it into the description of the role assignment that grants the platform
    its role on their VNet; only someone who may write role assignments there can do that, so a
    matching description proves that the requesting organisation controls the VNet."""
    return f"cpp-{secrets.token_hex(16)}"


class RequestKind(models.TextChoices):
    VNET_PEERING = "vnet_peering", "VNet peering"
    PRIVATE_DNS = "private_dns", "Private DNS zone"
    DNS_FORWARDING = "dns_forwarding", "DNS forwarding"
    HUB_CONNECTION = "hub_connection", "Virtual WAN hub connection"
    PRIVATE_ENDPOINT = "private_endpoint", "Private Link endpoint"
    WORKLOAD_IDENTITY = "workload_identity", "Workload identity grant"


#: The kinds' implementations by key, installed by connectivity.kinds (which imports this module,
#: so this module never imports it).
_KINDS: dict[str, Any] = {}


def install_kind_registry(registry: dict[str, Any]) -> None:
    """Install the kinds, and each spec field as an attribute of a request that reads and
    writes its ``spec`` (so ``request.vnet_name`` and ``Request(vnet_name=...)`` work)."""
    _KINDS.clear()
    _KINDS.update(registry)
    for kind in registry.values():
        for field in kind.stored_fields():
            if not isinstance(getattr(ConnectivityRequest, field.name, None), property):
                setattr(ConnectivityRequest, field.name, _spec_attribute(field.name, field.default))


def _spec_attribute(name: str, default: Any) -> property:
    def read(request: ConnectivityRequest) -> Any:
        spec = request.spec or {}
        if name in spec:
            return spec[name]
        return default() if callable(default) else default

    def write(request: ConnectivityRequest, value: Any) -> None:
        request.spec = {**(request.spec or {}), name: value}

    return property(read, write, doc=f"The spec's {name}.")


class RequestState(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_GRANT = "awaiting_grant", "Awaiting grant"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    PROVISIONING = "provisioning", "Provisioning"
    ACTION_NEEDED = "action_needed", "Action needed"
    ACTIVE = "active", "Active"
    DEGRADED = "degraded", "Degraded"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"
    REMOVING = "removing", "Removing"
    REMOVED = "removed", "Removed"


class ConnectivityRequest(models.Model):
    """One customer ask: a VNet peering, a private DNS zone or a DNS forwarding rule."""

    Kind = RequestKind
    State = RequestState

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="requests")
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="requests")
    kind = models.CharField(max_length=20, choices=RequestKind.choices)
    state = models.CharField(max_length=20, choices=RequestState.choices,
                             default=RequestState.DRAFT, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the state last changed or a step last made progress: the reconciler reads this.
    state_changed_at = models.DateTimeField(default=timezone.now, db_index=True)

    # The kind's own fields (VNet, zone and records, domain and servers), validated by the kind
    # (connectivity/kinds/); each is also an attribute, request.vnet_name etc.
    spec = models.JSONField(default=dict, blank=True,
                            help_text="The kind's fields, validated by the kind.")
    if TYPE_CHECKING:  # the kinds' spec fields, attributes installed by install_kind_registry
        tenant_id: str
        subscription_id: str
        resource_group: str
        vnet_name: str
        allow_forwarded_traffic: bool
        use_remote_gateways: bool
        zone_name: str
        records: list[dict[str, str]]
        domain_name: str
        dns_servers: list[str]
        hub_name: str
        associated_route_table: str
        propagated_route_tables: list[str]
        link_target: str
        group_id: str
        dns_zone_name: str
        dns_record_name: str
        resource_id: str  # workload identity grant
        role: str
    proof = models.CharField(
        max_length=40, default=new_control_proof, editable=False,
        help_text="Proof of control: the customer's role assignment description must carry it.")

    # Workflow.
    preflight = models.JSONField(default=list, blank=True,
                                 help_text="The last pre-flight checklist: key, label, status, message.")
    preflight_ran_at = models.DateTimeField(null=True, blank=True)
    step = models.CharField(max_length=40, blank=True,
                            help_text="The provisioning or teardown step due next.")
    attempts = models.PositiveIntegerField(default=0)
    azure_resources = models.JSONField(default=dict, blank=True,
                                       help_text="Ids of the Azure resources this request created.")
    status_message = models.TextField(
        blank=True, help_text="What the customer or support must know now (action, failure).")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    grant_revoked_at = models.DateTimeField(null=True, blank=True)
    # When pre-flight first saw the platform's role on the customer's VNet: from then on the
    # grant may exist, whatever state the request ends in, until the revoke check sees it gone.
    grant_seen_at = models.DateTimeField(null=True, blank=True)
    revoke_checked_at = models.DateTimeField(null=True, blank=True)
    revoke_reminders_sent = models.PositiveIntegerField(default=0)
    revoke_reminded_at = models.DateTimeField(null=True, blank=True)

    objects = RequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["state", "state_changed_at"]),
        ]
        permissions = [
            ("approve_request", "Can approve, reject, retry and tear down requests"),
            ("support_request", "Can reply to customers and re-run pre-flight checks"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.short_id} ({self.state})"

    @property
    def short_id(self) -> str:
        return str(self.id)[:8]

    @property
    def kind_def(self) -> Any:
        """The request's kind (a ``connectivity.kinds.base.Kind``): ask it, never test kind."""
        if not _KINDS:  # connectivity.kinds installs them when the app is ready
            raise RuntimeError("The connection kinds are not loaded yet.")
        return _KINDS[self.kind]

    @property
    def target(self) -> str:
        """What the connection points at, in a few words (the kind says)."""
        return str(self.kind_def.target(self))

    @property
    def resources_created(self) -> list[Any]:
        """The Azure resources recorded on the request, with the kind's labels."""
        return list(self.kind_def.resources(self))

    @property
    def needs_grant(self) -> bool:
        """Whether the kind acts in the customer's subscription with a role they grant."""
        return bool(self.kind_def.needs_grant)

    @property
    def customer_vnet_id(self) -> str:
        if not (self.subscription_id and self.resource_group and self.vnet_name):
            return ""
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Network/virtualNetworks/{self.vnet_name}")

    @property
    def preflight_passed(self) -> bool:
        return bool(self.preflight) and all(c.get("status") == "pass" for c in self.preflight)


class ConnectionStatus(models.Model):
    """What the periodic health check last read in Azure for one request's resources, so the
    connections view needs no Azure call. One row per request that created something."""

    class Health(models.TextChoices):
        OK = "ok", "Working"
        NEEDS_SYNC = "needs_sync", "Needs sync"
        DEGRADED = "degraded", "Degraded"
        GONE = "gone", "Gone"

    request = models.OneToOneField(ConnectivityRequest, on_delete=models.CASCADE,
                                   related_name="connection_status")
    checked_at = models.DateTimeField(null=True, blank=True)
    health = models.CharField(max_length=20, choices=Health.choices, default=Health.OK)
    summary = models.CharField(max_length=300, blank=True,
                               help_text="Azure's own words, e.g. 'Connected, FullyInSync'.")
    reason = models.TextField(blank=True, help_text="Why it is not working, when it is not.")
    parts = models.JSONField(default=list, blank=True,
                             help_text="Per resource: label, name and the states Azure reports.")
    address_prefixes = models.JSONField(
        default=list, blank=True,
        help_text="A peering's remote address space as the cluster side last saw it.")

    objects = ConnectionStatusQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.request_id}: {self.health}"


class RequestEvent(models.Model):
    """The timeline and audit trail of a request. Never edited after it is written."""

    request = models.ForeignKey(ConnectivityRequest, on_delete=models.CASCADE,
                                related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                              null=True, blank=True, related_name="+")
    actor_label = models.CharField(max_length=200, help_text="Who, as shown: an email or 'system'.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    message = models.TextField(blank=True)
    azure_request_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}->{self.to_state} by {self.actor_label}"


class Comment(models.Model):
    """The ticket thread. Internal notes are for staff only."""

    request = models.ForeignKey(ConnectivityRequest, on_delete=models.CASCADE,
                                related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                               related_name="+")
    body = models.TextField(max_length=10000)
    internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Comment by {self.author} on {self.request_id}"


class ApiToken(models.Model):
    """A per-organisation API token. Only its SHA-256 is stored; the token is shown once."""

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        WRITE = "write", "Read and write"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="api_tokens")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, related_name="+")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to tell them apart.")
    token_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyKey(models.Model):
    """The first response to a create, replayed for a retried POST with the same key."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    body_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="idempotency_key_per_org"),
        ]

    def __str__(self) -> str:
        return self.key


class AuditEntry(models.Model):
    """Security-relevant actions outside a request's timeline: sign-ins, tokens, credentials."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+")
    actor_label = models.CharField(max_length=200)
    organization = models.ForeignKey(Organization, on_delete=models.SET_NULL, null=True,
                                     blank=True, related_name="+")
    action = models.CharField(max_length=60, db_index=True)
    target = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label}"


class IntegrationCredential(models.Model):
    """A secret the platform uses (Azure client secret, SMTP, SSO), encrypted at rest."""

    name = models.CharField(max_length=60, unique=True)
    ciphertext = models.TextField()
    last_four = models.CharField(max_length=4, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} (…{self.last_four})"


class WebhookEndpoint(models.Model):
    """Where an organisation wants its events POSTed, signed per Standard Webhooks.

    The signing secret is a Fernet token (FIELD_ENCRYPTION_KEYS), never stored in clear; after a
    rotation the previous secret keeps signing alongside the new one until
    `previous_secret_expires_at`, so receivers can switch without dropping a delivery.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="webhook_endpoints")
    url = models.CharField("URL", max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types sent to this endpoint.")
    secret_ciphertext = models.TextField()
    previous_secret_ciphertext = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    # The first failed attempt since the last success: persistent failure disables the endpoint.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint: the exact body, and where its retries stand.

    The database is the queue's source of truth: a delivery is due when it is pending and
    `next_attempt_at` has passed; the task only nudges, and a periodic sweep re-sends lost nudges.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries")
    message_id = models.CharField(max_length=40, db_index=True,
                                  help_text="The event's id, sent as webhook-id on every attempt.")
    event_type = models.CharField(max_length=60)
    body = models.TextField(help_text="The JSON body, byte for byte as signed.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    redelivery_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "next_attempt_at"]),
                   models.Index(fields=["endpoint", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} {self.message_id} → {self.endpoint_id} ({self.state})"


class WebhookAttempt(models.Model):
    """One POST of a delivery and what the receiver answered."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE,
                                 related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["number", "pk"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"


class TenantClaim(models.Model):
    """An organisation says an Entra tenant is its own; it counts once staff confirmed it.

    A first "Sign in with Microsoft" from a confirmed tenant joins its organisation. A tenant
    is confirmed for at most one organisation.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="tenant_claims")
    tenant_id = models.CharField("tenant ID", max_length=36)
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "tenant_id"],
                                    name="tenant_claim_once_per_organization"),
            models.UniqueConstraint(fields=["tenant_id"],
                                    condition=models.Q(confirmed_at__isnull=False),
                                    name="tenant_confirmed_for_one_organization"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} claimed by {self.organization}"

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


class SignIn(models.Model):
    """How someone signed in, for their organisation's owners (and staff) to see."""

    class Method(models.TextChoices):
        PASSWORD = "password", "Password"
        MICROSOFT = "microsoft", "Microsoft"
        GOOGLE = "google", "Google"
        OTHER = "other", "Other"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="sign_ins")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, null=True,
                                     blank=True, related_name="sign_ins")
    method = models.CharField(max_length=20, choices=Method.choices)
    tenant_id = models.CharField(max_length=36, blank=True)
    provider_mfa = models.BooleanField(default=False,
                                       help_text="The identity provider said it did MFA.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} by {self.method} at {self.created_at:%Y-%m-%d %H:%M}"


# --- the signals that keep the API's cached list pages fresh (see `pages_changed`) --------------

def _showing(instance: models.Model) -> list[int]:
    if isinstance(instance, ConnectivityRequest):
        return [instance.organization_id]
    manager: Any = type(instance)._default_manager
    return list(manager.filter(pk=instance.pk).organizations_showing())


def _saved(sender: type[models.Model], instance: models.Model, created: bool,
           update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
    if sender is User and (created or (update_fields is not None and "email" not in update_fields)):
        return  # a new user filed nothing yet; a sign-in writes last_login only
    if sender is Cluster and created:
        return
    pages_changed(_showing(instance))


def _deleting(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    # Before the delete, while the rows that lead to the organisations are still there.
    pages_changed(_showing(instance))


for _model in (ConnectivityRequest, ConnectionStatus, Cluster, User):
    post_save.connect(_saved, sender=_model, dispatch_uid=f"pages-saved-{_model.__name__}")
    pre_delete.connect(_deleting, sender=_model, dispatch_uid=f"pages-deleting-{_model.__name__}")
