"""Django admin for superusers. History (events, audit) is read-only."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from connectivity import credentials, kinds
from connectivity.models import (
    ApiToken,
    AuditEntry,
    Cluster,
    Comment,
    ConnectivityRequest,
    IdempotencyKey,
    IntegrationCredential,
    Membership,
    Organization,
    RequestEvent,
    User,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History must not be edited, not even by a superuser."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipInline(admin.StackedInline):
    model = Membership
    extra = 0


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "timezone",
                                      "email_notifications")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups",
                                    "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",),
                             "fields": ("email", "password1", "password2")}),)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "auto_approve", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["role", "organization"]
    list_select_related = ["user", "organization"]


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "tier", "region"]
    list_filter = ["tier", "region"]
    list_select_related = ["organization"]
    search_fields = ["name", "vnet_id", "workload_identity_client_id",
                     "workload_identity_principal_id"]
    fieldsets = [
        (None, {"fields": ["organization", "name", "region", "tier", "vnet_id",
                           "address_prefixes", "external_ips", "dns_forwarding_ruleset_id",
                           "created_at"]}),
        ("Workload identity", {
            "description": "The user-assigned managed identity the cluster's workloads use; "
                           "customers assign roles on their resources to its principal id.",
            "fields": ["workload_identity_resource_id", "workload_identity_client_id",
                       "workload_identity_principal_id", "workload_identity_tenant_id"]}),
    ]


class EventInline(admin.TabularInline):
    model = RequestEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "actor_label", "action", "from_state", "to_state",
                       "message", "azure_request_ids"]
    fields = tuple(readonly_fields)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConnectivityRequest)
class ConnectivityRequestAdmin(admin.ModelAdmin):
    list_display = ["short_id", "organization", "cluster", "kind", "state", "created_at"]
    list_filter = ["state", "kind"]
    list_select_related = ["organization", "cluster"]
    # The kinds' identifying spec fields (VNet, zone, domain), searched inside the JSON spec.
    search_fields = ["id", *dict.fromkeys(
        f"spec__{name}" for kind in kinds.all_kinds() for name in kind.identity_fields)]
    # State changes go through the services (the console), never through a form here.
    readonly_fields = ["state", "state_changed_at", "step", "attempts", "preflight",
                       "azure_resources", "approved_by", "approved_at", "activated_at",
                       "grant_revoked_at"]
    inlines = [EventInline]


@admin.register(RequestEvent)
class RequestEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "request", "actor_label", "action", "from_state", "to_state"]
    list_filter = ["action"]
    list_select_related = ["request"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["request", "author", "internal", "created_at"]
    list_select_related = ["request", "author"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "organization", "scope", "expires_at", "revoked_at"]
    readonly_fields = ["prefix", "token_hash", "last_used_at"]
    list_select_related = ["organization"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor_label", "organization", "target", "ip_address"]
    list_filter = ["action"]
    list_select_related = ["organization"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["key", "organization", "response_status", "created_at"]


class IntegrationCredentialForm(forms.ModelForm):
    """The secret is write-only: typed in, encrypted by `credentials.store`, never rendered back."""

    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        required=False, strip=True, max_length=credentials.MAX_SECRET_LENGTH,
        help_text="Write-only. Leave empty to keep the stored secret.",
    )

    class Meta:
        model = IntegrationCredential
        fields = ["name"]
        help_texts = {"name": "One of: " + ", ".join(credentials.KNOWN_NAMES)}

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]{1,59}", name):
            raise forms.ValidationError(
                "Names are 2-60 lowercase letters, digits and underscores, e.g. smtp_password.")
        return name

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if not secret and self.instance.pk is None:
            raise forms.ValidationError("Enter the secret.")
        if "\x00" in secret:
            raise forms.ValidationError("The secret must not contain NUL characters.")
        return secret


@admin.register(IntegrationCredential)
class IntegrationCredentialAdmin(admin.ModelAdmin):
    """Shows the last four characters only; the secret itself never comes back."""

    form = IntegrationCredentialForm
    list_display = ["name", "masked", "updated_at"]
    readonly_fields = ["masked", "updated_at"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # django-stubs types this as a union of field-spec shapes; a plain list of names is one.
        return ["name", "secret", "masked", "updated_at"] if obj else ["name", "secret"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A credential's name is what the code reads; renaming would silently orphan it.
        return ["name", "masked", "updated_at"] if obj else []

    @admin.display(description="secret")
    def masked(self, obj: IntegrationCredential) -> str:
        return f"…{obj.last_four}" if obj.last_four else "(hidden)"

    def save_model(self, request: HttpRequest, obj: IntegrationCredential, form: Any,
                   change: bool) -> None:
        secret = form.cleaned_data.get("secret")
        if secret:
            stored = credentials.store(obj.name, secret, actor=request.user)  # type: ignore[arg-type]
            obj.pk, obj.ciphertext, obj.last_four = stored.pk, stored.ciphertext, stored.last_four

    def delete_model(self, request: HttpRequest, obj: IntegrationCredential) -> None:
        credentials.delete(obj.name, actor=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for name in list(queryset.values_list("name", flat=True)):
            credentials.delete(name, actor=request.user)  # type: ignore[arg-type]
