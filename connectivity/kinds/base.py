"""The interface every kind implements, and what its steps return to the engine.

A kind is a `Kind` subclass with class attributes (key, label, spec, grant, steps, resource
labels, templates) and a few methods (checks, read_status, dependencies, plan); the engine, services
and views ask it instead of testing ``kind == ...``. Like healthchecks' ``Transport``: a new kind
is one class, its templates, its simulator support and its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import serializers

from connectivity.azure.roles import VNET_TARGET, TargetKind

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from connectivity.models import ConnectivityRequest
    from connectivity.preflight import Check


# --- Outcomes of one step (the engine applies them) -------------------------------------------


@dataclass
class Next:
    """The step is done; go on to ``step`` now. ``follow``: in the same task, without a round
    trip through the broker (the step waited on nothing: it only started an operation)."""

    step: str
    message: str
    resources: dict[str, Any] = field(default_factory=dict)
    follow: bool = False
    #: Seconds before the next step is worth running (the Retry-After of the operation this
    #: step started; capped by PROVISIONING_POLL_MAX); without it, at once.
    after: float | None = None


@dataclass
class Poll:
    """Nothing wrong, but not there yet: run the same step again later (not a sleeping worker).

    ``every`` (seconds) marks a wait on a person rather than on Azure (a customer approving a
    private endpoint): the step runs again after that long and the wait does not count
    towards PROVISIONING_MAX_ATTEMPTS; the kind's step decides when it has waited enough."""

    message: str
    every: float | None = None


#: ARM ``provisioningState`` values of an operation still under way.
RUNNING_STATES = frozenset({"updating", "creating", "accepted", "deleting", "provisioning",
                            "inprogress", "running"})


def progress(provisioning_state: str | None) -> str:
    """``done``, ``running`` or ``failed``: what a step that started a long-running operation
    (and returned at once) learns from the resource's ``provisioningState`` on a later run.
    Workers never follow an operation to its end; they read the resource again after a while."""
    state = (provisioning_state or "").lower()
    if state == "succeeded":
        return "done"
    if state in RUNNING_STATES:
        return "running"
    return "failed"


@dataclass
class Busy:
    """Another request is writing to the same VNet; try again in a moment (not an attempt)."""

    vnet_id: str


@dataclass
class Active:
    """Provisioned. ``reading``: what the step just read in Azure, stored for the connections
    view as is (None: the engine asks the kind's probe, ``Kind.read_status``).
    ``grant_in_use``: the step saw the customer's grant in place moments ago (a write or read
    with it), so a revoke check now would find it there: the periodic revoke watch checks it
    instead of a check at activation."""

    message: str
    resources: dict[str, Any] = field(default_factory=dict)
    reading: Reading | None = None
    grant_in_use: bool = False


@dataclass
class Removed:
    message: str
    resources: dict[str, Any] = field(default_factory=dict)


Outcome = Next | Poll | Busy | Active | Removed
Step = Callable[["ConnectivityRequest"], Outcome]


class VNetBusy(Exception):
    def __init__(self, vnet_id: str) -> None:
        super().__init__(vnet_id)
        self.vnet_id = vnet_id


def vnet_lease_name(vnet_id: str) -> str:
    return "vnet:" + vnet_id.strip().rstrip("/").lower()


@contextmanager
def vnet_lock(vnet_id: str, request: ConnectivityRequest) -> Iterator[None]:
    """Hold the VNet for this request while it writes: a short lease renewed while held
    (connectivity/leases.py), so a killed worker blocks the VNet for at most VNET_LOCK_TTL.
    The same request takes its own lease over, so its retry after a crash need not wait."""
    from connectivity import leases

    try:
        with leases.held(vnet_lease_name(vnet_id), str(request.pk),
                         ttl=float(getattr(settings, "VNET_LOCK_TTL", 30))):
            yield
    except leases.LeaseTaken as taken:
        raise VNetBusy(vnet_id) from taken


def numbered(request: ConnectivityRequest, message: str, *, again: bool = True) -> str:
    """``message``, numbered when this request's timeline already has it and the work is done
    ``again`` on purpose (a resource created anew after Azure failed it), so that the timeline
    (and the chaos suite's duplicate check) tells it apart from one step done twice by mistake."""
    if not again:
        return message
    earlier = request.events.filter(action="step_done", message__startswith=message).count()
    return message if not earlier else f"{message} (again, {earlier + 1})"


def gateway() -> Any:
    from connectivity.azure import gateway as gw

    return gw


def platform_tenant() -> str:
    return str(settings.AZURE_PLATFORM_TENANT_ID)


# --- The spec: a kind's fields ----------------------------------------------------------------


@dataclass(frozen=True)
class SpecField:
    """One field of a kind's spec. ``validate`` is the shared rule (it returns the cleaned value
    and raises ValidationError naming the field); ``form`` and ``api`` build the portal's form
    field and the API serializer's field, so both carry the same label and help text."""

    name: str
    label: str
    help_text: str = ""
    validate: Callable[[Any], Any] | None = None
    default: Any = ""
    form: Callable[[SpecField], forms.Field] | None = None
    parse_form: Callable[[Any], Any] | None = None
    api: Callable[[SpecField], serializers.Field] | None = None
    api_only: bool = False  # an input convenience (vnet_id), never stored
    form_only: bool = False

    def clean(self, value: Any) -> Any:
        if self.validate is None:
            return self.default if value is None else value
        return self.validate(value)

    def form_field(self) -> forms.Field:
        if self.form is not None:
            return self.form(self)
        return forms.CharField(label=self.label, help_text=self.help_text, max_length=253)

    def api_field(self) -> serializers.Field:
        if self.api is not None:
            return self.api(self)
        return serializers.CharField(max_length=253, required=False, allow_blank=True,
                                     help_text=self.help_text or None)


def form_text(max_length: int, *, required: bool = True,
              **extra: Any) -> Callable[[SpecField], forms.Field]:
    """A spec field's text input in the portal: its label and help, at most ``max_length``."""
    return lambda s: forms.CharField(label=s.label, help_text=s.help_text, max_length=max_length,
                                     required=required, **extra)


def api_text(max_length: int,
             help_text: str | None = None) -> Callable[[SpecField], serializers.Field]:
    """A spec field's text in the API: optional to the serializer (the kind's rule and the
    service name a missing required field), at most ``max_length``."""
    return lambda s: serializers.CharField(max_length=max_length, required=False,
                                           allow_blank=True, help_text=help_text)


class SpecForm(forms.Form):
    """A kind's portal form, derived from its spec: one field per spec field, each cleaned with
    the spec's parser and rule, and required-field messages that name the field."""

    kind: ClassVar[Kind]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for form_field in self.fields.values():
            form_field.error_messages["required"] = f"{form_field.label} is required."

    def _clean_spec_field(self, spec: SpecField) -> Any:
        value = self.cleaned_data.get(spec.name)
        if spec.parse_form is not None:
            value = spec.parse_form(value)
        if value in ("", None) and not self.fields[spec.name].required:
            return value
        return spec.clean(value)

    def service_fields(self) -> dict[str, Any]:
        return {s.name: self.cleaned_data.get(s.name) for s in self.kind.stored_fields()}


def spec_form(kind: type[Kind], base: type[SpecForm] = SpecForm) -> type[SpecForm]:
    """Build the form class for ``kind`` from its spec (fields of ``base`` come first)."""
    attrs: dict[str, Any] = {"kind": kind, "__module__": kind.__module__}
    for spec in kind.spec:
        if spec.api_only:
            continue
        attrs[spec.name] = spec.form_field()
        if f"clean_{spec.name}" not in vars(base):
            attrs[f"clean_{spec.name}"] = (lambda s: lambda self: self._clean_spec_field(s))(spec)
    return type(f"{kind.__name__}Form", (base,), attrs)


# --- Resources, dependencies, health ----------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """An Azure resource a request created, as the request page shows it: labelled, and after
    removal marked deleted (or left behind, for what the platform could no longer delete)."""

    key: str
    label: str
    ids: tuple[str, ...]
    deleted: bool = False
    left_behind: bool = False

    @property
    def value(self) -> str:
        return ", ".join(self.ids)

    @property
    def name(self) -> str:
        return ", ".join(i.rstrip("/").rsplit("/", 1)[-1] for i in self.ids)


@dataclass(frozen=True)
class PlannedResource:
    what: str
    resource_id: str
    where: str  # whose subscription, as the approver should read it


PLATFORM = "platform subscription"


@dataclass
class Reading:
    """What a kind's health probe read in Azure: stored for the connections view
    (``ConnectionStatus``) and deciding degraded or restored. ``health`` is one of
    ``ConnectionStatus.Health``."""

    health: str
    summary: str
    reason: str = ""
    parts: list[dict[str, str]] = field(default_factory=list)
    address_prefixes: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    # A peering out of sync: which side must sync ("cluster", "customer") and what changed.
    unsynced: list[str] = field(default_factory=list)
    new_prefixes: list[str] = field(default_factory=list)


# --- The kind ---------------------------------------------------------------------------------


class Kind:
    """One kind of connection. Subclasses set the class attributes and implement the methods
    that raise NotImplementedError; the others have safe defaults."""

    key: ClassVar[str]
    label: ClassVar[str]
    #: The kind in a sentence, with its article ("a VNet peering").
    noun: ClassVar[str] = ""
    #: One sentence for the wizard's choice of kind.
    description: ClassVar[str] = ""
    #: The fields a customer gives, in the order the form and the API show them.
    spec: ClassVar[tuple[SpecField, ...]] = ()
    #: Whether the platform acts in the customer's subscription with a role they grant.
    needs_grant: ClassVar[bool] = False
    #: Provisioning steps (after the engine's shared pre-flight step), then teardown steps.
    steps: ClassVar[dict[str, Step]] = {}
    first_step: ClassVar[str]
    first_remove_step: ClassVar[str]
    #: Keys of ``request.azure_resources`` and the labels the request page shows for them.
    resource_labels: ClassVar[dict[str, str]] = {}
    #: Spec fields that say which connection this is (two open requests for the same are a clash).
    identity_fields: ClassVar[tuple[str, ...]] = ()
    form_base: ClassVar[type[SpecForm]] = SpecForm
    _form: ClassVar[type[SpecForm] | None] = None

    # --- spec ---
    @classmethod
    def stored_fields(cls) -> list[SpecField]:
        return [s for s in cls.spec if not s.api_only and not s.form_only]

    @classmethod
    def form_class(cls) -> type[SpecForm]:
        if cls.__dict__.get("_form") is None:
            cls._form = spec_form(cls, cls.form_base)
        assert cls._form is not None
        return cls._form

    def clean(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Validate the spec with the shared rules; errors are keyed by field name."""
        errors: dict[str, list[str]] = {}
        cleaned: dict[str, Any] = {}
        for spec in self.stored_fields():
            try:
                cleaned[spec.name] = spec.clean(fields.get(spec.name))
            except ValidationError as exc:
                errors[spec.name] = exc.messages
        if errors:
            raise ValidationError(errors)
        return cleaned

    def api_input(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Turn the API's input conveniences into spec fields (raise ValidationError by field)."""
        return attrs

    def create_errors(self, cleaned: dict[str, Any]) -> dict[str, list[str]]:
        """Refusals at create beyond the field rules (e.g. the platform's own scopes)."""
        return {}

    def target(self, request: ConnectivityRequest) -> str:
        """What the connection points at, in a few words (dashboard, connections, search)."""
        return ", ".join(str(getattr(request, f, "")) for f in self.identity_fields)

    def form_initial(self, request: ConnectivityRequest) -> dict[str, Any]:
        """The request's values as the kind's form shows them (correcting a request)."""
        return {s.name: getattr(request, s.name) for s in self.stored_fields()}

    def describe(self, request: ConnectivityRequest) -> str:
        """The request in a few words, in a list of other requests."""
        return f"{self.label} {request.short_id}"

    def noun_phrase(self, *, capital: bool = False) -> str:
        noun = self.noun or f"a {self.label.lower()}"
        return noun[0].upper() + noun[1:] if capital else noun

    # --- templates ---
    @property
    def template_dir(self) -> str:
        return f"connectivity/kinds/{self.key}"

    @property
    def details_template(self) -> str:
        return f"{self.template_dir}/details.html"

    @property
    def fields_template(self) -> str:
        return f"{self.template_dir}/fields.html"

    @property
    def review_template(self) -> str:
        return f"{self.template_dir}/review.html"

    #: The grant page's "Why a role" text, when the kind has its own (default: the peering's).
    grant_why_template: ClassVar[str] = ""
    #: What verifying the grant checks, as the grant page says it.
    grant_checks_summary: ClassVar[str] = ("the role, your VNet, overlapping address spaces and "
                                           "existing peerings")

    # --- grant ---
    #: The kind of resource the customer grants the platform a role on (``roles.VNET_TARGET``,
    #: ``roles.HUB_TARGET``): the grant's scripts, role and page sentences take its words.
    grant_target_kind: ClassVar[TargetKind] = VNET_TARGET

    @property
    def grant_target_noun(self) -> str:
        """Where the customer's role sits, in the request page's sentences ("the platform's
        role on your VNet is gone")."""
        return f"your {self.grant_target_kind.noun}"

    @property
    def grant_allows(self) -> str:
        """What the role still allows until revoked ("the platform can still change peerings
        on vnet-x")."""
        return self.grant_target_kind.allows

    def grant_target_name(self, request: ConnectivityRequest) -> str:
        """The name of the resource the role is assigned on (the last segment of its scope)."""
        scope = self.grant_scope(request)
        return scope.rstrip("/").rsplit("/", 1)[-1] if scope else ""

    def role_actions(self) -> list[str]:
        return []

    def grant_scope(self, request: ConnectivityRequest) -> str:
        return ""

    def grant_tenant(self, request: ConnectivityRequest) -> str:
        return ""

    def grant_instructions(self, request: ConnectivityRequest) -> Any:
        return None

    def grant_formats(self, request: ConnectivityRequest, *, role_name: str | None = None) -> Any:
        """The grant in the customer's own tools (CLI, PowerShell, Terraform, Bicep)."""
        return {}

    def revoke_command(self, request: ConnectivityRequest) -> str:
        return ""

    def grant_gone_message(self, request: ConnectivityRequest) -> str:
        return ""

    def role_gone_message(self, request: ConnectivityRequest) -> str:
        """The grant was seen gone after the request ended."""
        return ""

    def revoke_reminder_message(self, request: ConnectivityRequest) -> str:
        return ""

    def customer_command(self, request: ConnectivityRequest) -> str:
        """A command the customer runs on their own side for the connection to work, without
        granting the platform anything (shown with a copy button; the API's
        ``customer_command``). Empty for kinds that need none."""
        return ""

    def after_create(self, request: ConnectivityRequest) -> None:
        """Called once the draft exists (e.g. tell other organisations about a claimed VNet)."""

    # --- pre-flight ---
    def checks(self, request: ConnectivityRequest) -> list[Check]:
        raise NotImplementedError

    def same_connection(self, queryset: QuerySet[ConnectivityRequest],
                        request: ConnectivityRequest) -> QuerySet[ConnectivityRequest]:
        """Narrow ``queryset`` (same cluster and kind) to requests for the same connection."""
        for name in self.identity_fields:
            queryset = queryset.filter(**{f"spec__{name}__iexact": getattr(request, name)})
        return queryset

    def before_provisioning(self, request: ConnectivityRequest) -> dict[str, Any]:
        """Resources to record once pre-flight passed again, before the first step writes."""
        return {}

    # --- health, dependencies, resources ---
    #: Added to the reason when the connection degrades: what the customer can do.
    degraded_advice: ClassVar[str] = ""
    #: Other connections may reach their targets through this one (a peering).
    has_dependents: ClassVar[bool] = False
    #: This kind reaches IPs through a connection that has dependents (forwarding rule).
    needs_peering: ClassVar[bool] = False
    #: Notes in ``azure_resources`` that are not resources: note key -> the resource it says
    #: was left behind after removal.
    left_behind_notes: ClassVar[dict[str, str]] = {}

    def read_status(self, request: ConnectivityRequest) -> Reading | None:
        """The one health probe: Azure's view of a live connection, stored for the
        connections view and deciding degraded or restored. None when Azure cannot tell now
        (try later)."""
        return None

    def sync(self, request: ConnectivityRequest, reading: Reading, *, first_seen: bool) -> Reading:
        """A reading that says the connection needs a sync: sync it if the platform may, and
        return the reading to store."""
        return reading

    def sync_command(self, request: ConnectivityRequest) -> str:
        """What the customer runs to sync their side themselves."""
        return ""

    def peering_ips(self, request: ConnectivityRequest) -> list[str]:
        """The IPs this connection reaches through a peering (``needs_peering``)."""
        return []

    def depends_on(self, request: ConnectivityRequest) -> list[ConnectivityRequest]:
        """The live requests this one needs to keep working."""
        return []

    def resources(self, request: ConnectivityRequest) -> list[Resource]:
        """The Azure resources recorded on the request, with labels for people; after removal
        marked deleted, or left behind where a note says so."""
        from connectivity.models import RequestState

        found = dict(request.azure_resources or {})
        removed = request.state == RequestState.REMOVED
        left = {key for note, key in self.left_behind_notes.items() if found.get(note)}
        out = []
        for key, value in found.items():
            if key in self.left_behind_notes or not value:
                continue
            ids = tuple(str(v) for v in value) if isinstance(value, list | tuple) else (str(value),)
            left_here = removed and key in left
            out.append(Resource(key, self.resource_labels.get(key, key.replace("_", " ").capitalize()),
                                ids, deleted=removed and not left_here, left_behind=left_here))
        return out

    def planned_resources(self, request: ConnectivityRequest) -> list[PlannedResource]:
        raise NotImplementedError

    def leftover_command(self, request: ConnectivityRequest) -> str:
        """After removal, what the customer runs to delete what the platform had to leave."""
        return ""

    def completed_message(self, request: ConnectivityRequest) -> str:
        return (f"{self.noun_phrase(capital=True)} needs no role in your subscription, so "
                "there is nothing to revoke.")

    def __repr__(self) -> str:
        return f"<Kind {self.key}>"
