"""Kinds: one module each behind one interface; nothing outside them names a kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template.loader import get_template

from connectivity import kinds
from connectivity.kinds import vnet_peering
from connectivity.models import ConnectivityRequest, RequestKind, RequestState
from tests.factories import DnsForwardingRequestFactory, PeeringRequestFactory
from tests.stack import CUSTOMER_VNET_NAME, customer_vnet_id

ROOT = Path(__file__).resolve().parent.parent
S = RequestState

# Code that may name a kind: the kinds themselves, the model's choices and its migrations, and
# the simulator (whose "kind" is Azure's, not ours).
ALLOWED = ("connectivity/kinds/", "connectivity/models.py", "connectivity/migrations/",
           "connectivity/azure/simulator/")
NAMES_A_KIND = re.compile(
    r"RequestKind\.[A-Z_]+|\bkind\s*(==|!=)\s*[\"']|\bkind\s+(not\s+)?in\s*[\(\[{]\s*[\"']"
    r"|[\"'](vnet_peering|private_dns|dns_forwarding)[\"']\s*(==|!=)")


def test_no_code_outside_the_kinds_names_a_kind() -> None:
    offenders = []
    for path in sorted((ROOT / "connectivity").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(ALLOWED):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if NAMES_A_KIND.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    for path in sorted((ROOT / "templates").rglob("*.html")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("templates/connectivity/kinds/"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"\.kind\s*==\s*[\"']", line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], "ask the kind instead:\n" + "\n".join(offenders)


def test_the_grep_catches_a_kind_test(tmp_path: Path) -> None:
    for line in ('if request.kind == "vnet_peering":', "x = RequestKind.PRIVATE_DNS",
                 "if kind in ('private_dns', 'dns_forwarding'):"):
        assert NAMES_A_KIND.search(line), line


def test_every_kind_is_registered_complete_and_has_its_templates() -> None:
    assert [k.key for k in kinds.all_kinds()] == list(RequestKind.values)
    for kind in kinds.all_kinds():
        assert kind.label == RequestKind(kind.key).label
        assert kind.first_step in kind.steps and kind.first_remove_step in kind.steps
        assert kind.spec and kind.description
        for name in ("fields_template", "details_template", "review_template"):
            assert get_template(getattr(kind, name)).template.source.strip()
        assert kind.template_dir == f"connectivity/kinds/{kind.key}"
        form = kind.form_class()()
        for spec in kind.stored_fields():
            assert form.fields[spec.name].label == spec.label


def test_only_a_peering_and_a_hub_connection_need_a_grant_with_their_role_actions() -> None:
    assert {k.key for k in kinds.all_kinds() if k.needs_grant} == {"vnet_peering", "hub_connection"}
    assert ("Microsoft.Network/virtualHubs/hubVirtualNetworkConnections/write"
            in kinds.get("hub_connection").role_actions())
    assert "Microsoft.Network/virtualNetworks/peer/action" in kinds.get("vnet_peering").role_actions()
    assert kinds.get("private_dns").role_actions() == []


@pytest.mark.django_db
def test_resources_created_read_with_labels_not_raw_keys() -> None:
    request = PeeringRequestFactory(azure_resources={
        "cluster_peering_id": "/subscriptions/x/.../virtualNetworkPeerings/a",
        "customer_peering_id": "/subscriptions/y/.../virtualNetworkPeerings/b"})
    labels = [r.label for r in request.resources_created]
    assert labels == ["Peering on the cluster's VNet", "Peering on your VNet"]


@pytest.mark.django_db
def test_request_page_shows_resource_labels(client, customer) -> None:
    request = PeeringRequestFactory(organization=customer.organization, created_by=customer,
                                    state=S.ACTIVE, azure_resources={
                                        "cluster_peering_id": "/subscriptions/x/peering-a"})
    client.force_login(customer)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert "Peering on the cluster&#x27;s VNet" in page or "Peering on the cluster's VNet" in page
    assert "cluster_peering_id" not in page


@pytest.mark.django_db
def test_forwarding_depends_on_the_peering_whose_vnet_hosts_its_servers(sim_cluster, azure_stack):
    peering = PeeringRequestFactory(cluster=sim_cluster, organization=sim_cluster.organization,
                                    vnet_name=CUSTOMER_VNET_NAME, state=S.ACTIVE)
    other = PeeringRequestFactory(cluster=sim_cluster, organization=sim_cluster.organization,
                                  vnet_name="vnet-elsewhere", state=S.ACTIVE)
    rule = DnsForwardingRequestFactory(cluster=sim_cluster, organization=sim_cluster.organization,
                                       dns_servers=["10.20.0.4"])
    assert kinds.of(rule).depends_on(rule) == []  # nothing peered yet
    cluster_vnet = azure_stack.cluster_vnet_id
    azure_stack.control.seed({"peerings": [
        {"vnet_id": cluster_vnet, "name": vnet_peering.cluster_peering_name(peering),
         "remote_vnet_id": customer_vnet_id()},
        {"vnet_id": customer_vnet_id(), "name": vnet_peering.customer_peering_name(peering),
         "remote_vnet_id": cluster_vnet}]})
    assert kinds.of(rule).depends_on(rule) == [peering]
    assert other not in kinds.of(rule).depends_on(rule)
    assert kinds.of(peering).depends_on(peering) == []


def test_requests_know_their_kind() -> None:
    assert ConnectivityRequest(kind="private_dns").kind_def is kinds.get("private_dns")
    with pytest.raises(kinds.UnknownKind):
        kinds.get("nope")


@pytest.mark.django_db
def test_the_wizard_shows_every_field_of_every_kind(client, customer, dedicated_cluster) -> None:
    """Each kind's fields template names its form's fields by hand: a field it misspells
    renders as an empty label and the customer cannot file the request (the Private Link
    endpoint's Target once did)."""
    client.force_login(customer)
    html = client.get("/requests/new/").content.decode()
    for kind in kinds.all_kinds():
        form = kind.form_class()(prefix=kind.key)
        for name, field in form.fields.items():
            bound = form[name]
            assert f'name="{bound.html_name}"' in html, (
                f"{kind.key}'s wizard has no input for {name}: check {kind.fields_template}")
            assert f'<label for="{bound.id_for_label}">{field.label}' in html, (kind.key, name)
    assert 'data-field=""' not in html, "a fields template includes a field its form lacks"
