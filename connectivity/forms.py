"""Customer forms. They check the shape of the input with the shared validators so that each
error names the field and the rule; the services check everything again and decide."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from connectivity import kinds
from connectivity.models import Cluster, User


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
    kind = forms.ChoiceField(choices=kinds.choices, label="Kind of connection",
                             widget=forms.RadioSelect)

    def __init__(self, *args: Any, clusters: QuerySet[Cluster], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = clusters  # type: ignore[attr-defined]
        self.fields["cluster"].error_messages["invalid_choice"] = (
            "Cluster must be one of your organisation's dedicated clusters.")
        self.fields["kind"].error_messages["invalid_choice"] = (
            f"Kind of connection must be one of: {', '.join(k.label for k in kinds.all_kinds())}.")


#: Each kind's form, derived from its spec (connectivity/kinds/).
KIND_FORMS: dict[str, type[forms.Form]] = {k.key: k.form_class() for k in kinds.all_kinds()}


def field_form(field_name: str) -> type[forms.Form] | None:
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
