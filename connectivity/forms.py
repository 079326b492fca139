"""Customer forms. They check the shape of the input with the shared validators so that each
error names the field and the rule; the services check everything again and decide."""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from connectivity import validators
from connectivity.models import Cluster, RequestKind, User


class PortalForm(forms.Form):
    """Required-field messages that name the field ("Tenant ID is required.")."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages["required"] = f"{field.label} is required."


class ClusterChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Cluster) -> str:  # type: ignore[override]
        return f"{obj.name} ({obj.get_tier_display()}, {obj.region})"

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except ValidationError:
            # A shared standard cluster is on everyone's dashboard: say why it cannot be used,
            # in the words the API uses.
            from connectivity.services import STANDARD_CLUSTER_MESSAGE

            if str(value).isdigit() and Cluster.objects.filter(
                    pk=int(value), tier=Cluster.Tier.STANDARD, organization__isnull=True).exists():
                raise ValidationError(STANDARD_CLUSTER_MESSAGE, code="standard") from None
            raise


class RequestStartForm(PortalForm):
    """Step one: which cluster, which kind."""

    cluster = ClusterChoiceField(queryset=Cluster.objects.none(), label="Cluster",
                                 empty_label=None, widget=forms.RadioSelect)
    kind = forms.ChoiceField(choices=RequestKind.choices, label="Kind of connection",
                             widget=forms.RadioSelect)

    def __init__(self, *args: Any, clusters: QuerySet[Cluster], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = clusters  # type: ignore[attr-defined]
        self.fields["cluster"].error_messages["invalid_choice"] = (
            "Cluster must be one of your organisation's dedicated clusters.")
        self.fields["kind"].error_messages["invalid_choice"] = (
            f"Kind of connection must be one of: {', '.join(RequestKind.labels)}.")


def _run(validator: Any, value: Any, *args: Any) -> Any:
    """Call a shared validator; a form's clean_<field> re-raises its message as is."""
    return validator(value, *args)


class PeeringForm(PortalForm):
    tenant_id = forms.CharField(
        label="Tenant ID", max_length=60,
        help_text="Your Microsoft Entra tenant (Directory) ID, a GUID.")
    vnet_resource_id = forms.CharField(
        label="VNet resource ID", required=False, max_length=400,
        help_text="Optional: paste the full ID from the VNet's JSON view in the Azure portal and "
                  "the three fields below are filled from it.")
    subscription_id = forms.CharField(label="Subscription ID", max_length=60, required=False,
                                      help_text="The subscription that holds your VNet, a GUID.")
    resource_group = forms.CharField(label="Resource group", max_length=120, required=False)
    vnet_name = forms.CharField(label="VNet name", max_length=80, required=False)
    allow_forwarded_traffic = forms.BooleanField(
        label="Allow forwarded traffic", required=False,
        help_text="Accept traffic forwarded by a network appliance in the other VNet.")
    use_remote_gateways = forms.BooleanField(
        label="Use remote gateways", required=False,
        help_text="Only if your VNet has a VPN or ExpressRoute gateway the cluster should use.")

    PARTS = ("subscription_id", "resource_group", "vnet_name")

    def clean_tenant_id(self) -> str:
        return _run(validators.validate_guid, self.cleaned_data["tenant_id"], "Tenant ID")

    def clean_vnet_resource_id(self) -> str:
        value = (self.cleaned_data.get("vnet_resource_id") or "").strip()
        if value:
            self._parsed = validators.parse_vnet_id(value)
        return value

    def clean_subscription_id(self) -> str:
        value = self.cleaned_data.get("subscription_id", "")
        return _run(validators.validate_guid, value, "Subscription ID") if value else ""

    def clean_resource_group(self) -> str:
        value = self.cleaned_data.get("resource_group", "")
        return _run(validators.validate_resource_group, value) if value else ""

    def clean_vnet_name(self) -> str:
        value = self.cleaned_data.get("vnet_name", "")
        return _run(validators.validate_vnet_name, value) if value else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        parsed = getattr(self, "_parsed", None)
        if parsed is not None:
            data.update(subscription_id=parsed.subscription_id,
                        resource_group=parsed.resource_group, vnet_name=parsed.vnet_name)
            for name in self.PARTS:
                self.errors.pop(name, None)
        elif not self.errors.get("vnet_resource_id"):
            for name in self.PARTS:
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, f"{self.fields[name].label} is required "
                                         "(or paste the VNet resource ID).")
        return data

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {name: data.get(name) for name in (
            "tenant_id", "subscription_id", "resource_group", "vnet_name",
            "allow_forwarded_traffic", "use_remote_gateways")}


_RECORD_LINE = re.compile(r"[\s,=]+")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class PrivateDnsForm(PortalForm):
    zone_name = forms.CharField(label="Zone name", max_length=253,
                                help_text="For example corp.contoso.internal.")
    records = forms.CharField(
        label="A records", widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"One per line: a name and a private IP, like “db 10.20.1.4”. "
                  f"Up to {validators.MAX_RECORDS}; use @ for the zone itself.")

    def clean_zone_name(self) -> str:
        return _run(validators.validate_zone_name, self.cleaned_data["zone_name"], "Zone name")

    def clean_records(self) -> list[dict[str, str]]:
        parsed = []
        for position, line in enumerate(_lines(self.cleaned_data["records"]), start=1):
            parts = _RECORD_LINE.split(line)
            if len(parts) != 2:
                raise ValidationError(
                    f"A records: line {position} (“{line[:60]}”) must be a name and an IP "
                    "separated by a space, like “db 10.20.1.4”.")
            parsed.append({"name": parts[0], "ip": parts[1]})
        try:
            return validators.validate_records(parsed)
        except ValidationError as exc:
            raise ValidationError(f"A records: {' '.join(exc.messages)}") from None

    def service_fields(self) -> dict[str, Any]:
        return {"zone_name": self.cleaned_data["zone_name"],
                "records": self.cleaned_data["records"]}


class DnsForwardingForm(PortalForm):
    domain_name = forms.CharField(label="Domain name", max_length=253,
                                  help_text="The domain to forward, for example corp.contoso.com.")
    dns_servers = forms.CharField(
        label="DNS server IPs", max_length=200,
        help_text=f"Private IPs of your DNS servers, separated by commas or spaces "
                  f"(up to {validators.MAX_DNS_SERVERS}). They must sit in a VNet peered with "
                  "the cluster.")

    def clean_domain_name(self) -> str:
        return _run(validators.validate_forwarding_domain, self.cleaned_data["domain_name"], "Domain name")

    def clean_dns_servers(self) -> list[str]:
        servers = [s for s in re.split(r"[\s,;]+", self.cleaned_data["dns_servers"]) if s]
        return validators.validate_dns_servers(servers)

    def service_fields(self) -> dict[str, Any]:
        return {"domain_name": self.cleaned_data["domain_name"],
                "dns_servers": self.cleaned_data["dns_servers"]}


KIND_FORMS: dict[str, type[PortalForm]] = {
    RequestKind.VNET_PEERING: PeeringForm,
    RequestKind.PRIVATE_DNS: PrivateDnsForm,
    RequestKind.DNS_FORWARDING: DnsForwardingForm,
}


def field_form(field_name: str) -> type[PortalForm] | None:
    """The kind form that owns a field, for inline validation of one field."""
    for form_class in KIND_FORMS.values():
        if field_name in form_class.base_fields:
            return form_class
    return None


class CommentForm(PortalForm):
    body = forms.CharField(
        label="Message", max_length=10000, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Markdown works: **bold**, `code`, lists and links. HTML is shown as text.")


def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class ProfileForm(forms.ModelForm):
    timezone = forms.TypedChoiceField(label="Time zone", choices=_timezone_choices,
                                      help_text="Times on every page are shown in this zone.")
    email_notifications = forms.BooleanField(
        label="Email me when a request needs my attention", required=False,
        help_text="Approved, action needed, active, revoke reminders, degraded and failed.")

    class Meta:
        model = User
        fields = ["timezone", "email_notifications"]
