"""Console forms: queue and audit filters, and one small form per action."""

from __future__ import annotations

from django import forms

from connectivity import kinds
from connectivity.console.selectors import AuditFilters, QueueFilters
from connectivity.models import Cluster, Organization, RequestState


class ClusterChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Cluster) -> str:
        return f"{obj.name} ({obj.organization.name if obj.organization else 'shared'})"


class QueueFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search",
                        widget=forms.TextInput(attrs={
                            "placeholder": "Request id, subscription id or VNet name",
                            "type": "search"}))
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *RequestState.choices])
    organization = forms.ModelChoiceField(required=False, queryset=Organization.objects.order_by("name"),
                                          empty_label="Any organisation", label="Organisation")
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *kinds.choices()])
    cluster = ClusterChoiceField(required=False, empty_label="Any cluster",
                                     queryset=Cluster.objects.select_related("organization")
                                     .order_by("name"))

    def filters(self) -> QueueFilters:
        """The valid filters; an invalid one is dropped (and its error shown by the form)."""
        self.is_valid()  # cleaned_data then holds only the fields that passed
        data = self.cleaned_data
        return QueueFilters(
            state=data.get("state") or "", organization=data.get("organization"),
            kind=data.get("kind") or "", cluster=data.get("cluster"), q=data.get("q") or "")


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=200,
                            widget=forms.TextInput(attrs={"placeholder": "email or system"}))
    organization = forms.ModelChoiceField(required=False, queryset=Organization.objects.order_by("name"),
                                          empty_label="Any organisation", label="Organisation")
    since = forms.DateField(required=False, label="From",
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To",
                            widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.ChoiceField(required=False, label="Source", choices=[
        ("", "Everything"), ("request", "Request events"), ("security", "Security entries")])

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "To must be on or after From.")
        return cleaned

    def filters(self) -> AuditFilters:
        self.is_valid()  # cleaned_data then holds only the fields that passed
        data = self.cleaned_data
        return AuditFilters(
            actor=data.get("actor") or "", organization=data.get("organization"),
            since=data.get("since"), until=data.get("until"), source=data.get("source") or "")


class ApproveForm(forms.Form):
    override_reason = forms.CharField(
        required=False, max_length=2000, label="Override reason, for approving",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only when pre-flight has not passed: why approve anyway. Recorded on the timeline.")


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             label="Reason for rejecting",
                             help_text="Sent to the customer with the rejection.",
                             error_messages={"required": "Give the customer a reason for the rejection."})


class CancelForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class TeardownForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    confirm = forms.BooleanField(
        label="I understand this deletes the Azure resources this request created.",
        error_messages={"required": "Tick the box to confirm the teardown."})
    remove_dependents = forms.BooleanField(
        required=False, label="Also remove the connections that depend on it (listed above).")


class EmptyForm(forms.Form):
    """Actions with nothing to fill in (retry, re-run checks); the CSRF token is the form."""


class CommentForm(forms.Form):
    body = forms.CharField(max_length=10000, label="Message",
                           widget=forms.Textarea(attrs={"rows": 4}),
                           error_messages={"required": "Write a message before sending."})
    internal = forms.BooleanField(required=False, label="Internal note (staff only, not emailed)")


class AutoApproveForm(forms.Form):
    enabled = forms.BooleanField(required=False)
