"""What the API reads and writes. Serializers shape and pre-check input; services decide.

Every string field has a maximum length and every integer a range, so no input reaches the
database in a form it would refuse (that would be a 500).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db.models import F, QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from connectivity import kinds, selectors
from connectivity.api import fast
from connectivity.api.fast import FastRepresentation, Getter
from connectivity.kinds.private_dns import RecordSerializer
from connectivity.models import (
    Cluster,
    Comment,
    ConnectivityRequest,
    RequestEvent,
    RequestState,
)

MAX_ID = 2**63 - 1
#: The API fields of each kind, from its spec (connectivity/kinds/), in the documented order.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    k.key: tuple(f.name for f in k.spec if not f.form_only) for k in kinds.all_kinds()}


# What get_kind_display() and get_state_display() look up, without their per-call flattening.
KIND_LABELS = dict(kinds.choices())
STATE_LABELS = dict(RequestState.choices)

# The links every request carries: field name in `links` → route name.
LINKS = {
    "grant": "request-grant",
    "verify_grant": "request-verify-grant",
    "events": "request-events",
    "comments": "request-comments",
    "cancel": "request-cancel",
    "teardown": "request-teardown",
}


def _absolute(context: dict[str, Any], name: str, *args: object) -> str:
    path = reverse(f"api:{name}", args=args)
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class WorkloadIdentitySerializer(serializers.Serializer):
    resource_id = serializers.CharField(
        read_only=True, help_text="The user-assigned managed identity's resource id.")
    client_id = serializers.UUIDField(read_only=True,
                                      help_text="Its client (application) id.")
    principal_id = serializers.UUIDField(
        read_only=True, help_text="Its object id: assign roles on your resources to this "
                                  "(--assignee-object-id, principal type ServicePrincipal).")
    tenant_id = serializers.UUIDField(read_only=True, help_text="The tenant it lives in.")


WORKLOAD_IDENTITY_FIELDS = ("resource_id", "client_id", "principal_id", "tenant_id")


def workload_identity(cluster: Cluster) -> dict[str, str] | None:
    """A cluster's workload identity as the API shows it; None when it has none."""
    if not cluster.workload_identity_principal_id:
        return None
    return {name: str(getattr(cluster, f"workload_identity_{name}"))
            for name in WORKLOAD_IDENTITY_FIELDS}


class ClusterSerializer(FastRepresentation, serializers.ModelSerializer):
    workload_identity = serializers.SerializerMethodField(
        help_text="The managed identity the cluster's workloads use (dedicated clusters; null "
                  "otherwise). Authorize it on your own resources instead of handing the "
                  "platform secrets.")
    shared = serializers.SerializerMethodField(
        help_text="A multi-tenant cluster: offers external IPs for allowlisting only.")
    accepts_requests = serializers.SerializerMethodField(
        help_text="Whether connectivity requests may be filed against it (own dedicated cluster).")
    external_ips = serializers.ListField(child=serializers.IPAddressField(), read_only=True,
                                         help_text="Egress IPs to allowlist in your firewalls.")
    address_prefixes = serializers.ListField(child=serializers.CharField(), read_only=True,
                                             help_text="The cluster VNet's CIDRs.")

    class Meta:
        model = Cluster
        fields = ["id", "name", "region", "tier", "vnet_id", "address_prefixes", "external_ips",
                  "shared", "accepts_requests", "created_at", "workload_identity"]
        read_only_fields = fields

    def fast_fields(self) -> dict[str, Getter]:
        return {"workload_identity": workload_identity}

    @extend_schema_field(WorkloadIdentitySerializer(allow_null=True))
    def get_workload_identity(self, cluster: Cluster) -> dict[str, str] | None:
        return workload_identity(cluster)

    def get_shared(self, cluster: Cluster) -> bool:
        return cluster.organization_id is None

    def get_accepts_requests(self, cluster: Cluster) -> bool:
        return cluster.organization_id is not None and cluster.is_dedicated


class ClusterRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class CheckSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]  # a field, not Field.label
    status = serializers.ChoiceField(choices=["pass", "fail", "pending"], read_only=True,
                                     help_text="pending: not decidable yet; re-checked later.")
    message = serializers.CharField(read_only=True)


class RequestLinksSerializer(serializers.Serializer):
    grant = serializers.URLField(read_only=True)
    verify_grant = serializers.URLField(read_only=True)
    events = serializers.URLField(read_only=True)
    comments = serializers.URLField(read_only=True)
    cancel = serializers.URLField(read_only=True)
    teardown = serializers.URLField(read_only=True)


class RevokeReminderSerializer(serializers.Serializer):
    pending = serializers.BooleanField(help_text="The platform's role may still be assigned.")
    reason = serializers.CharField()
    command = serializers.CharField(allow_null=True, help_text="The exact az command to run.")
    grant_revoked_at = serializers.DateTimeField(allow_null=True)


class ConnectionSerializer(serializers.Serializer):
    health = serializers.CharField(help_text="ok, needs_sync, degraded or gone.")
    summary = serializers.CharField(help_text="Azure's own status, e.g. 'Connected, FullyInSync'.")
    reason = serializers.CharField()
    checked_at = serializers.DateTimeField(allow_null=True)
    parts = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


# A list page reads its creators' emails alone (an annotation) rather than whole users.
CREATOR_EMAIL = "created_by_email"
_NO_ANNOTATION = object()


def _creator_email(obj: ConnectivityRequest) -> str | None:
    email = obj.__dict__.get(CREATOR_EMAIL, _NO_ANNOTATION)
    if email is not _NO_ANNOTATION:
        return email  # type: ignore[return-value]
    return obj.created_by.email if obj.created_by else None


class RequestSerializer(FastRepresentation, serializers.ModelSerializer):
    """A request as the API shows it. The declared fields are the schema; `fast_fields` renders
    the hot ones without DRF's per-field machinery (tests/api/test_representation.py holds them
    equal to the declared fields' output). A new field needs only its declaration and a name in
    Meta.fields: without a fast getter it is rendered by its DRF field."""

    url_name = "request-detail"
    #: What the representation reads besides the request, joined in a list page's query.
    joins: tuple[str, ...] = ("cluster", "connection_status")

    url = serializers.SerializerMethodField()
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    cluster = ClusterRefSerializer(read_only=True)
    created_by = serializers.SerializerMethodField()
    vnet_id = serializers.CharField(source="customer_vnet_id", read_only=True,
                                    help_text="The customer's VNet resource id (peering only).")
    # The kinds' spec, flattened into the documented fields (empty for the other kinds).
    tenant_id = serializers.CharField(read_only=True)
    subscription_id = serializers.CharField(read_only=True)
    resource_group = serializers.CharField(read_only=True)
    vnet_name = serializers.CharField(read_only=True)
    allow_forwarded_traffic = serializers.BooleanField(read_only=True)
    use_remote_gateways = serializers.BooleanField(read_only=True)
    zone_name = serializers.CharField(read_only=True)
    records = RecordSerializer(many=True, read_only=True)
    domain_name = serializers.CharField(read_only=True)
    dns_servers = serializers.ListField(child=serializers.CharField(), read_only=True)
    link_target = serializers.CharField(read_only=True)
    group_id = serializers.CharField(read_only=True)
    dns_zone_name = serializers.CharField(
        read_only=True, help_text="Private Link endpoint to a Private Link service: the private "
                                  "DNS zone of yours that holds its A record (empty: none).")
    dns_record_name = serializers.CharField(
        read_only=True, help_text="Private Link endpoint: the A record's name in dns_zone_name.")
    hub_name = serializers.CharField(
        read_only=True, help_text="Hub connection: your virtual hub's name (in subscription_id "
                                  "and resource_group; empty for the other kinds).")
    associated_route_table = serializers.CharField(
        read_only=True, help_text="Hub connection: the route table you named for the connection "
                                  "to be associated with (empty: defaultRouteTable).")
    propagated_route_tables = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="Hub connection: the route tables you named for it to propagate to (empty: "
                  "defaultRouteTable).")
    resource_id = serializers.CharField(
        read_only=True, help_text="Workload identity grant: your resource (empty for the others).")
    role = serializers.CharField(read_only=True,
                                 help_text="Workload identity grant: the built-in role.")
    customer_command = serializers.SerializerMethodField(
        help_text="What you run on your own side, if the kind needs it: for a workload identity "
                  "grant the exact `az role assignment create` for the cluster's identity (once "
                  "removed, the `az role assignment delete` that undoes it); for a Private Link "
                  "endpoint waiting for your approval, the `az network "
                  "private-endpoint-connection approve` for it; null otherwise.")
    preflight = CheckSerializer(many=True, read_only=True)
    preflight_passed = serializers.BooleanField(read_only=True)
    links = serializers.SerializerMethodField()
    revoke_reminder = serializers.SerializerMethodField()
    connection = serializers.SerializerMethodField()

    class Meta:
        model = ConnectivityRequest
        fields = [
            "id", "url", "kind", "kind_label", "state", "state_label", "status_message", "cluster",
            "created_by", "created_at", "updated_at", "state_changed_at",
            "tenant_id", "subscription_id", "resource_group", "vnet_name", "vnet_id",
            "allow_forwarded_traffic", "use_remote_gateways",
            "zone_name", "records", "domain_name", "dns_servers", "link_target", "group_id",
            "dns_zone_name", "dns_record_name", "hub_name", "associated_route_table",
            "propagated_route_tables", "resource_id", "role", "customer_command",
            "preflight", "preflight_passed", "preflight_ran_at",
            "approved_at", "activated_at", "grant_revoked_at", "revoke_reminder", "connection",
            "links",
        ]
        read_only_fields = fields

    @classmethod
    def for_the_page(cls, requests: QuerySet[ConnectivityRequest]) -> QuerySet[ConnectivityRequest]:
        """Requests as a list page renders them, in its one query: what the representation
        reads joined, and of the creator only the email (an annotation, not the whole user)."""
        return (requests.select_related(None).select_related(*cls.joins)
                .annotate(**{CREATOR_EMAIL: F("created_by__email")}))

    def get_url(self, obj: ConnectivityRequest) -> str:
        return _absolute(self.context, self.url_name, obj.pk)

    def get_created_by(self, obj: ConnectivityRequest) -> str | None:
        return _creator_email(obj)

    def get_customer_command(self, obj: ConnectivityRequest) -> str | None:
        return obj.kind_def.customer_command(obj) or None

    @extend_schema_field(RevokeReminderSerializer)
    def get_revoke_reminder(self, obj: ConnectivityRequest) -> dict[str, Any]:
        from connectivity import connections

        pending = connections.grant_may_remain(obj)
        return {"pending": pending, "reason": connections.revoke_reason(obj) if pending else "",
                "command": obj.kind_def.revoke_command(obj) if pending else None,
                "grant_revoked_at": obj.grant_revoked_at}

    @extend_schema_field(ConnectionSerializer(allow_null=True))
    def get_connection(self, obj: ConnectivityRequest) -> dict[str, Any] | None:
        from connectivity import connections

        status = connections.status_of(obj)
        if status is None:
            return None
        return {"health": status.health, "summary": status.summary, "reason": status.reason,
                "checked_at": status.checked_at, "parts": status.parts}

    @extend_schema_field(RequestLinksSerializer)
    def get_links(self, obj: ConnectivityRequest) -> dict[str, str]:
        return {name: _absolute(self.context, route, obj.pk) for name, route in LINKS.items()}

    def fast_fields(self) -> dict[str, Getter]:
        url = fast.absolute_link(self.context, self.url_name)
        links = fast.absolute_links(self.context, LINKS)
        when = fast.datetime_renderer()
        return {
            "id": lambda o: str(o.pk),
            "url": lambda o: url(o.pk),
            "kind": lambda o: fast.choice(o.kind),
            "kind_label": lambda o: str(KIND_LABELS.get(o.kind, o.kind)),
            "state": lambda o: fast.choice(o.state),
            "state_label": lambda o: str(STATE_LABELS.get(o.state, o.state)),
            "status_message": lambda o: o.status_message,
            "cluster": lambda o: {"id": o.cluster.pk, "name": o.cluster.name},
            "created_by": _creator_email,
            "created_at": lambda o: when(o.created_at),
            "updated_at": lambda o: when(o.updated_at),
            "state_changed_at": lambda o: when(o.state_changed_at),
            "tenant_id": lambda o: o.tenant_id,
            "subscription_id": lambda o: o.subscription_id,
            "resource_group": lambda o: o.resource_group,
            "vnet_name": lambda o: o.vnet_name,
            "vnet_id": lambda o: o.customer_vnet_id,
            "allow_forwarded_traffic": lambda o: bool(o.allow_forwarded_traffic),
            "use_remote_gateways": lambda o: bool(o.use_remote_gateways),
            "zone_name": lambda o: o.zone_name,
            "records": lambda o: fast.rows(o.records, ("name", "ip")),
            "domain_name": lambda o: o.domain_name,
            "dns_servers": lambda o: fast.strings(o.dns_servers),
            "link_target": lambda o: o.link_target,
            "group_id": lambda o: o.group_id,
            "dns_zone_name": lambda o: fast.text(o.dns_zone_name),
            "dns_record_name": lambda o: fast.text(o.dns_record_name),
            "hub_name": lambda o: fast.text(o.hub_name),
            "associated_route_table": lambda o: fast.text(o.associated_route_table),
            "propagated_route_tables": lambda o: fast.strings(o.propagated_route_tables),
            "resource_id": lambda o: fast.text(o.resource_id),
            "role": lambda o: fast.text(o.role),
            # Method fields: their methods are already plain getters.
            "customer_command": self.get_customer_command,
            "preflight": lambda o: fast.rows(o.preflight, ("key", "label", "status", "message")),
            "preflight_passed": lambda o: o.preflight_passed,
            "preflight_ran_at": lambda o: when(o.preflight_ran_at),
            "approved_at": lambda o: when(o.approved_at),
            "activated_at": lambda o: when(o.activated_at),
            "grant_revoked_at": lambda o: when(o.grant_revoked_at),
            "revoke_reminder": self.get_revoke_reminder,
            "connection": self.get_connection,
            "links": lambda o: links(o.pk),
        }


class StaffRequestSerializer(RequestSerializer):
    url_name = "staff-request-detail"
    joins = ("organization", *RequestSerializer.joins)

    organization = serializers.CharField(source="organization.slug", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta(RequestSerializer.Meta):
        fields = ["organization", *RequestSerializer.Meta.fields]
        read_only_fields = fields

    def get_url(self, obj: ConnectivityRequest) -> str:
        return _absolute(self.context, self.url_name, obj.pk)

    def fast_fields(self) -> dict[str, Getter]:
        return {**super().fast_fields(), "organization": lambda o: o.organization.slug}


class RequestCreateSerializer(serializers.Serializer):
    """A new request. Give the fields of its kind only; the others are refused."""

    cluster = serializers.IntegerField(min_value=1, max_value=MAX_ID,
                                       help_text="The id of one of your dedicated clusters.")
    kind = serializers.ChoiceField(choices=kinds.choices())
    submit = serializers.BooleanField(
        default=True, help_text="Submit at once (the default); false keeps a draft.")
    # Each kind's fields, built from its spec (a class body's namespace is its locals()).
    locals().update({f.name: f.api_field() for k in kinds.all_kinds() for f in k.spec
                     if not f.form_only})

    def validate_cluster(self, value: int) -> Cluster:
        cluster = selectors.clusters_for(self.context["request"].user).filter(pk=value).first()
        if cluster is None:
            raise serializers.ValidationError(
                f"No cluster with id {value} is visible to your organisation; list them at "
                "/api/v1/clusters/.")
        return cluster

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["kind"]
        allowed = KIND_FIELDS[kind]
        stray = [name for fields in KIND_FIELDS.values() for name in fields
                 if name in self.initial_data and name not in allowed]
        if stray:
            raise serializers.ValidationError({
                name: [f"{name} does not apply to a {kinds.get(kind).label} request."]
                for name in stray})
        try:
            attrs = kinds.get(kind).api_input(attrs)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs

    def service_fields(self) -> dict[str, Any]:
        """The kind's fields as `services.request_create` takes them."""
        data = self.validated_data
        return {name: data[name] for name in KIND_FIELDS[data["kind"]] if name in data}


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class TeardownSerializer(ReasonSerializer):
    remove_dependents = serializers.BooleanField(
        required=False, default=False,
        help_text="Also remove the connections that depend on this one; without it, a peering "
                  "with dependents answers 409 listing them.")


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, allow_blank=True,
                                   help_text="Shown to the customer.")


class ApproveSerializer(serializers.Serializer):
    override_reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="",
        help_text="Required when pre-flight has not passed: why approve anyway.")


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, the shape of every error."""

    type = serializers.CharField(read_only=True, help_text="urn:connectivity-portal:problem:<kind> "
                                 "or about:blank.")
    title = serializers.CharField(read_only=True)
    status = serializers.IntegerField(read_only=True)
    detail = serializers.CharField(read_only=True, help_text="What went wrong, for a person.")
    instance = serializers.CharField(read_only=True, help_text="The path that was called.")
    # Optional members are not read_only: drf-spectacular lists every read-only field of a
    # response as required, and these appear only on some problems.
    # A declared field, not Serializer.errors: the metaclass moves it into the fields.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Validation problems only: field name (nested as records.0.ip) → messages.")
    current_state = serializers.CharField(required=False,
                                          help_text="Lifecycle conflicts (409) only.")
    retry_after = serializers.IntegerField(required=False,
                                           help_text="429 only: seconds, as in Retry-After.")


class VerifyResultSerializer(serializers.Serializer):
    passed = serializers.BooleanField(read_only=True)
    state = serializers.ChoiceField(choices=RequestState.choices, read_only=True)
    checks = CheckSerializer(many=True, read_only=True)
    request = RequestSerializer(read_only=True)


class GrantFileSerializer(serializers.Serializer):
    filename = serializers.CharField(read_only=True, help_text="Save it under this name.")
    language = serializers.ChoiceField(
        choices=["shell", "powershell", "hcl", "bicep"], read_only=True)
    content = serializers.CharField(read_only=True, help_text="Your ids are filled in.")


class GrantFormatSerializer(serializers.Serializer):
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]  # a field, not Field.label
    grant = GrantFileSerializer(
        many=True, read_only=True,
        help_text="The files that grant the role, in the order to use them.")
    revoke = GrantFileSerializer(
        many=True, read_only=True,
        help_text="The files that remove it again once the request is active.")


class GrantFormatsSerializer(serializers.Serializer):
    cli = GrantFormatSerializer(read_only=True, help_text="Azure CLI (`grant_script`).")
    powershell = GrantFormatSerializer(
        read_only=True, help_text="Azure PowerShell: `New-AzRoleDefinition`, "
        "`New-AzRoleAssignment` (or `Set-AzRoleAssignment` to add the proof to an existing "
        "assignment); revoke with `Remove-AzRoleAssignment`, `Remove-AzRoleDefinition`.")
    terraform = GrantFormatSerializer(
        read_only=True, help_text="Terraform: `azurerm_role_definition`, "
        "`azurerm_role_assignment`; revoke with `terraform destroy -target=...`.")
    bicep = GrantFormatSerializer(
        read_only=True, help_text="Bicep and the `az deployment group create` that deploys it; "
        "Bicep has no delete, so revoke with the Azure CLI or PowerShell.")


class GrantSerializer(serializers.Serializer):
    needed = serializers.BooleanField(
        read_only=True, help_text="Only VNet peering needs a role; the other kinds need nothing.")
    detail = serializers.CharField(read_only=True)
    role_name = serializers.CharField(read_only=True, allow_null=True)
    scope = serializers.CharField(read_only=True, allow_null=True,
                                  help_text="Where the role is assigned: your VNet.")
    role_definition = serializers.JSONField(
        read_only=True, allow_null=True,
        help_text="The custom role, as `az role definition create` takes it.")
    role_definition_json = serializers.CharField(read_only=True, allow_null=True)
    grant_commands = serializers.ListField(child=serializers.CharField(), read_only=True)
    grant_script = serializers.CharField(read_only=True, allow_null=True)
    revoke_command = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="The one command that removes the platform's access once the request is active.")
    revoke_commands = serializers.ListField(child=serializers.CharField(), read_only=True)
    revoke_script = serializers.CharField(read_only=True, allow_null=True)
    proof = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="This request's proof of control: the description of the platform's role "
                  "assignment on your VNet must carry it.")
    proof_update_command = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="Adds this request's proof to the platform's existing role assignment on the "
                  "VNet (when another request already granted it).")
    formats = GrantFormatsSerializer(
        read_only=True, allow_null=True,
        help_text="The same grant in your own tools, each with its revoke counterpart and the "
                  "proof in the role assignment's description.")


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label", read_only=True)
    azure_request_ids = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = RequestEvent
        fields = ["id", "created_at", "actor", "action", "from_state", "to_state", "message",
                  "azure_request_ids"]
        read_only_fields = fields


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    from_staff = serializers.SerializerMethodField()
    # Blank (or only spaces) reaches the service, which says "Write a message"; the pattern tells
    # the schema the same (validators never see a blank value).
    body = serializers.CharField(max_length=10000, allow_blank=True, validators=[
        RegexValidator(r"\S", message="Write a message before sending.")])

    class Meta:
        model = Comment
        fields = ["id", "created_at", "author", "from_staff", "body"]
        read_only_fields = ["id", "created_at", "author", "from_staff"]

    def get_author(self, comment: Comment) -> str | None:
        return comment.author.email if comment.author else None

    def get_from_staff(self, comment: Comment) -> bool:
        return bool(comment.author and comment.author.is_staff)


class RequestFilterSerializer(serializers.Serializer):
    """Query parameters of the request lists; a bad value is a 400 naming the parameter."""

    state = serializers.MultipleChoiceField(
        choices=RequestState.choices, required=False,
        help_text="One or more states; repeat the parameter or separate with commas.")
    kind = serializers.ChoiceField(choices=kinds.choices(), required=False)
    cluster = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False,
                                       help_text="A cluster id.")
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "getlist"):
            given = "state" in data
            states = [s for v in data.getlist("state") for s in v.split(",")]
            if given and not all(states):
                raise serializers.ValidationError({"state": [
                    "state must name a state (repeat it or separate with commas), not be empty: "
                    f"one of {', '.join(RequestState.values)}."]})
            data = {k: data.get(k) for k in data if k != "state"} | (
                {"state": states} if given else {})
        return super().to_internal_value(data)


#: The list filters' parameter names: a list call with none of them skips the filter serializer.
FILTER_NAMES = tuple(RequestFilterSerializer._declared_fields)
