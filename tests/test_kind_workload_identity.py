"""The workload identity grant kind against the simulator: the customer assigns a built-in role on
their resource to the demo cluster's workload identity (the control API does what their
`az role assignment create` does), pre-flight verifies it signed in as the identity (pending while
it propagates, refused for another tenant's resource or a cluster without an identity), the
request goes active without creating anything, the health check marks it degraded when the
customer revokes the assignment and restores it when it is back, and removal deletes nothing and
tells the customer the revoke command. Also the API (customer, outsider), the grant endpoint, the
request page and hostile input."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from hypothesis import given

from connectivity import demo, kinds, provisioning, services
from connectivity.kinds import workload_identity as wi
from connectivity.models import Cluster, ConnectivityRequest, RequestState, User
from tests.azure.conftest import raw_request
from tests.provisioning_helpers import drive
from tests.security.test_hostile_input import CHECKS, HOSTILE, shows_unescaped
from tests.stack import CUSTOMER_SUBSCRIPTION_ID, CUSTOMER_TENANT_ID

pytestmark = pytest.mark.django_db
S = RequestState

# A subscription of the platform's tenant that is not one of the platform's own (a managed
# identity acts only on resources in its own tenant: README, "Cluster workload identity").
SAME_TENANT_SUB = "77777777-7777-4777-8777-777777777777"
GROUP = "rg-data"
STORAGE_ID = (f"/subscriptions/{SAME_TENANT_SUB}/resourceGroups/{GROUP}/providers/"
              "Microsoft.Storage/storageAccounts/contosodata")
VAULT_ID = (f"/subscriptions/{SAME_TENANT_SUB}/resourceGroups/{GROUP}/providers/"
            "Microsoft.KeyVault/vaults/kv-contoso")
OTHER_TENANT_ID = (f"/subscriptions/{CUSTOMER_SUBSCRIPTION_ID}/resourceGroups/{GROUP}/providers/"
                   "Microsoft.Storage/storageAccounts/contosoelsewhere")
READER = "Storage Blob Data Reader"
PRINCIPAL = demo.WORKLOAD_IDENTITIES["contoso-prod"]["principal_id"]


# --- fixtures ---------------------------------------------------------------------------------


def control(stack: Any, path: str, body: dict[str, Any], status: int = 200) -> Any:
    """The simulator's control API over HTTP, as the README's curl lines call it."""
    answer = raw_request(stack.simulator, "POST", f"/_simulator{path}", body=body)
    assert answer.status == status, answer.body
    return answer.body


def give_identity(cluster: Cluster) -> Cluster:
    """The demo's contoso-prod with its workload identity (seeded in the simulator too)."""
    for name, value in demo.workload_identity_fields(cluster.name).items():
        setattr(cluster, name, value)
    cluster.save()
    return cluster


@pytest.fixture
def identity_cluster(sim_cluster: Cluster) -> Cluster:
    return give_identity(sim_cluster)


def prepare(stack: Any, cluster: Cluster) -> None:
    """Everything a grant needs before it is filed (tests/integration uses it too): the
    cluster's identity, the customer's resources, and their assignment of the role."""
    give_identity(cluster)
    seed_resources(stack)
    assign(stack)


@pytest.fixture
def resources(azure_stack: Any) -> Any:
    return seed_resources(azure_stack)


def seed_resources(azure_stack: Any) -> Any:
    """The customer's storage account and key vault in a subscription of the platform's tenant,
    and a storage account in their own tenant."""
    azure_stack.control.seed({"tenants": [{"id": django_settings.AZURE_PLATFORM_TENANT_ID,
                                           "subscriptions": [{"id": SAME_TENANT_SUB}]}]})
    for tenant, subscription, kind, name in (
            (django_settings.AZURE_PLATFORM_TENANT_ID, SAME_TENANT_SUB, "storage_account",
             "contosodata"),
            (django_settings.AZURE_PLATFORM_TENANT_ID, SAME_TENANT_SUB, "key_vault", "kv-contoso"),
            (CUSTOMER_TENANT_ID, CUSTOMER_SUBSCRIPTION_ID, "storage_account", "contosoelsewhere")):
        control(azure_stack, "/customer/paas-resource", {
            "tenant_id": tenant, "subscription_id": subscription, "resource_group": GROUP,
            "type": kind, "name": name})
    return azure_stack


def assign(stack: Any, scope: str = STORAGE_ID, role: str = READER, status: int = 200) -> Any:
    """What the request page's `az role assignment create --assignee-object-id ...` does."""
    return control(stack, "/customer/assign-identity-role", {
        "scope": scope, "role": role, "assignee_object_id": PRINCIPAL,
        "assignee_principal_type": "ServicePrincipal"}, status)


def revoke(stack: Any, scope: str = STORAGE_ID) -> Any:
    return control(stack, "/customer/revoke", {
        "tenant_id": django_settings.AZURE_PLATFORM_TENANT_ID, "principal_id": PRINCIPAL,
        "scope": scope})


def new_request(customer: User, cluster: Cluster, resource_id: str = STORAGE_ID,
                role: str = READER) -> ConnectivityRequest:
    return services.request_create(actor=customer, organization=customer.organization,
                                   cluster=cluster, kind="workload_identity",
                                   fields={"resource_id": resource_id, "role": role})


def check(request: ConnectivityRequest, key: str) -> dict[str, Any]:
    request.refresh_from_db()
    return next(c for c in request.preflight if c["key"] == key)


# --- the spec's rules -------------------------------------------------------------------------


@pytest.mark.parametrize("given_id, canonical", [
    (STORAGE_ID.replace("Microsoft.Storage/storageAccounts", "microsoft.storage/STORAGEACCOUNTS"),
     STORAGE_ID),
    (f"{STORAGE_ID}/blobServices/default/containers/raw-events",
     f"{STORAGE_ID}/blobServices/default/containers/raw-events"),
    (VAULT_ID + "/", VAULT_ID),
])
def test_a_storage_account_a_container_or_a_key_vault_is_accepted(given_id: str,
                                                                  canonical: str) -> None:
    assert wi.parse_resource(given_id) == canonical


@pytest.mark.parametrize("value, words", [
    ("contosodata", "must be a resource id like /subscriptions/"),
    ("/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-a",
     "subscription in the Resource ID must be a GUID"),
    (STORAGE_ID.replace("Microsoft.Storage/storageAccounts/contosodata",
                        "Microsoft.Network/virtualNetworks/vnet-a"),
     "Microsoft.Network/virtualNetworks is not one of them"),
    (STORAGE_ID.replace("contosodata", "Contoso_Data"), "storage account names are 3-24"),
    (f"{STORAGE_ID}/blobServices/other/containers/raw", "always called default"),
    (f"{STORAGE_ID}/blobServices/default/containers/A", "blob container names"),
    (f"{STORAGE_ID}/queueServices/default/queues/q", "is not one of them"),
    (VAULT_ID.replace("kv-contoso", "kv--x"), "key vault names"),
    ("", "Resource ID is required"),
])
def test_a_bad_resource_id_names_the_field_and_the_rule(value: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        kinds.get("workload_identity").clean({"resource_id": value, "role": READER})
    assert words in " ".join(caught.value.message_dict["resource_id"])


def test_the_role_must_be_offered_and_fit_the_resource() -> None:
    kind = kinds.get("workload_identity")
    assert kind.clean({"resource_id": VAULT_ID, "role": "key vault secrets user"})["role"] == (
        "Key Vault Secrets User")
    with pytest.raises(ValidationError) as caught:
        kind.clean({"resource_id": STORAGE_ID, "role": "Owner"})
    assert caught.value.message_dict["role"] == [
        "Role must be one of: Storage Blob Data Reader, Storage Blob Data Contributor, "
        "Key Vault Secrets User."]
    with pytest.raises(ValidationError) as caught:
        kind.clean({"resource_id": STORAGE_ID, "role": "Key Vault Secrets User"})
    assert caught.value.message_dict["role"] == [
        "Role Key Vault Secrets User does not apply to a Microsoft.Storage/storageAccounts; for "
        "it choose Storage Blob Data Reader or Storage Blob Data Contributor."]


def test_the_platforms_own_subscription_is_refused(customer: User, identity_cluster: Cluster,
                                                   ) -> None:
    own = STORAGE_ID.replace(SAME_TENANT_SUB, django_settings.AZURE_PLATFORM_SUBSCRIPTION_ID)
    with pytest.raises(ValidationError) as caught:
        new_request(customer, identity_cluster, own)
    assert "platform's own resources" in caught.value.message_dict["resource_id"][0]


# --- pre-flight, provisioning, health, removal against the simulator ---------------------------


def test_from_assignment_to_active_degraded_restored_and_removed(
        customer: User, approver: User, identity_cluster: Cluster, resources: Any, scheduler: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    request = new_request(customer, identity_cluster)
    command = request.kind_def.customer_command(request)
    assert command == (f"az role assignment create --assignee-object-id {PRINCIPAL} "
                       "--assignee-principal-type ServicePrincipal --role 'Storage Blob Data "
                       f"Reader' --scope {STORAGE_ID}")
    request = services.request_submit(request=request, actor=customer)
    # Not assigned yet: pending (it may be propagating), with the command and a deadline.
    effective = check(request, wi.EFFECTIVE_KEY)
    assert effective["status"] == "pending" and effective.get("retry_until")
    assert command in effective["message"]
    assert request.state == S.DRAFT and not request.needs_grant

    assign(resources)  # the customer runs the command
    # The reconciler's re-check (with its backoff) finds it and moves the request on.
    later = timezone.now() + timedelta(seconds=20)
    assert provisioning.preflight_recheck(now=later) == [str(request.pk)]
    request.refresh_from_db()
    assert request.state == S.PENDING_APPROVAL
    assert [c["status"] for c in request.preflight] == ["pass"] * len(request.preflight)

    services.request_approve(request=request, actor=approver)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    assert request.azure_resources == {}  # nothing created
    assert request.events.filter(action="activated", message__contains="verified as the "
                                 "identity").exists()

    revoke(resources)  # the customer takes the assignment away
    provisioning.request_drift_check(request_id=str(request.pk))
    request.refresh_from_db()
    assert request.state == S.DEGRADED
    degraded = request.events.get(action="degraded")
    assert "role assignment is gone" in degraded.message and command in degraded.message

    assign(resources)
    provisioning.request_drift_check(request_id=str(request.pk))
    request.refresh_from_db()
    assert request.state == S.ACTIVE

    services.request_teardown(request=request, actor=customer)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.REMOVED
    removed = request.events.get(action="removed").message
    revoke_command = (f"az role assignment delete --assignee {PRINCIPAL} --role 'Storage Blob "
                      f"Data Reader' --scope {STORAGE_ID}")
    assert "Nothing to delete in Azure" in removed and revoke_command in removed
    assert request.kind_def.customer_command(request) == revoke_command


def test_a_new_assignment_stays_pending_while_it_propagates(
        customer: User, identity_cluster: Cluster, resources: Any) -> None:
    resources.set_faults(propagation_delay=1.0)
    assign(resources, VAULT_ID, "Key Vault Secrets User")
    request = services.request_submit(
        request=new_request(customer, identity_cluster, VAULT_ID, "Key Vault Secrets User"),
        actor=customer)
    assert check(request, wi.EFFECTIVE_KEY)["status"] == "pending"
    assert preflight_backoff_is_the_grants(request)
    time.sleep(1.1)
    request = services.request_verify(request=request, actor=customer)
    assert check(request, wi.EFFECTIVE_KEY)["status"] == "pass"
    assert request.state == S.PENDING_APPROVAL


def preflight_backoff_is_the_grants(request: ConnectivityRequest) -> bool:
    """The pending check is re-run on the grant's backoff: not again 15 s after it first went
    pending... but within the grant window."""
    from connectivity import preflight

    ran = request.preflight_ran_at
    assert ran is not None
    return (preflight.recheck_due(request, now=ran + timedelta(seconds=16))
            and not preflight.recheck_due(request, now=ran + timedelta(seconds=5)))


def test_after_the_propagation_window_the_check_fails_with_the_command(
        customer: User, identity_cluster: Cluster, resources: Any, settings: Any) -> None:
    settings.GRANT_PROPAGATION_WINDOW = 0
    request = services.request_submit(request=new_request(customer, identity_cluster),
                                      actor=customer)
    effective = check(request, wi.EFFECTIVE_KEY)
    assert effective["status"] == "fail"
    assert "still does not hold" in effective["message"]
    assert request.kind_def.customer_command(request) in effective["message"]


def test_a_resource_in_another_tenant_is_refused_at_create_naming_the_field(
        customer: User, identity_cluster: Cluster, resources: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        new_request(customer, identity_cluster, OTHER_TENANT_ID)
    message = caught.value.message_dict["resource_id"][0]
    assert f"subscription {CUSTOMER_SUBSCRIPTION_ID}, of tenant {CUSTOMER_TENANT_ID}" in message
    assert django_settings.AZURE_PLATFORM_TENANT_ID in message
    assert "granted roles only on resources in its own tenant" in message
    assert not ConnectivityRequest.objects.exists()

    api = _api(customer).post("/api/v1/requests/", {
        "cluster": identity_cluster.pk, "kind": "workload_identity",
        "resource_id": OTHER_TENANT_ID, "role": READER}, content_type="application/json")
    assert api.status_code == 400
    assert "cannot work" in api.json()["errors"]["resource_id"][0]
    wizard = _api(customer).post("/requests/new/", {
        "cluster": str(identity_cluster.pk), "kind": "workload_identity",
        "workload_identity-resource_id": OTHER_TENANT_ID, "workload_identity-role": READER})
    assert wizard.status_code == 400
    assert "cannot work" in " ".join(
        wizard.context["kind_forms"]["workload_identity"].errors["resource_id"])
    assert not ConnectivityRequest.objects.exists()


def test_an_other_tenants_resource_filed_before_the_rule_fails_preflight(
        customer: User, identity_cluster: Cluster, resources: Any) -> None:
    """A request ARM could not be asked about at create (or filed before the rule) is refused
    by pre-flight, which signs in as the identity."""
    request = ConnectivityRequest.objects.create(
        organization=customer.organization, cluster=identity_cluster, kind="workload_identity",
        created_by=customer, spec={"resource_id": OTHER_TENANT_ID, "role": READER})
    request = services.request_submit(request=request, actor=customer)
    effective = check(request, wi.EFFECTIVE_KEY)
    assert effective["status"] == "fail"
    assert "not in the tenant of the cluster's workload identity" in effective["message"]
    assert django_settings.AZURE_PLATFORM_TENANT_ID in effective["message"]
    assert request.state == S.DRAFT


def test_a_resource_arm_cannot_be_asked_about_is_left_to_preflight(
        customer: User, identity_cluster: Cluster, settings: Any) -> None:
    settings.AZURE_ARM_ENDPOINT = "https://127.0.0.1:9"  # nothing listens: not refused at create
    request = new_request(customer, identity_cluster, OTHER_TENANT_ID)
    assert request.state == S.DRAFT


def test_a_cluster_without_an_identity_fails_clearly(
        customer: User, sim_cluster: Cluster, resources: Any) -> None:
    request = services.request_submit(request=new_request(customer, sim_cluster), actor=customer)
    identity = check(request, "cluster_identity")
    assert identity["status"] == "fail" and "has no workload identity" in identity["message"]
    assert check(request, wi.EFFECTIVE_KEY)["status"] == "pending"  # never asked Azure
    assert request.kind_def.customer_command(request) == ""


@pytest.mark.parametrize("reuse", [0, 60], ids=["preflight-again", "preflight-reused"])
def test_a_revoked_assignment_before_provisioning_needs_the_customer(
        customer: User, approver: User, identity_cluster: Cluster, resources: Any,
        scheduler: Any, django_capture_on_commit_callbacks: Any, settings: Any,
        reuse: int) -> None:
    assign(resources)
    request = services.request_submit(request=new_request(customer, identity_cluster),
                                      actor=customer)
    services.request_approve(request=request, actor=approver)
    revoke(resources)
    # Pre-flight runs again before provisioning, or is reused and the verify step reads again.
    settings.PREFLIGHT_REUSE_SECONDS = reuse
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTION_NEEDED
    assert request.kind_def.customer_command(request) in request.status_message
    assign(resources)  # assigned again: the re-check resumes it by itself
    provisioning.preflight_recheck(now=timezone.now() + timedelta(seconds=20))
    request.refresh_from_db()
    assert request.state == S.PROVISIONING
    assert drive(request, scheduler, django_capture_on_commit_callbacks).state == S.ACTIVE


# --- the API, the grant endpoint and the request page -----------------------------------------


def _api(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_api_creates_and_shows_the_command_and_an_outsider_gets_404(
        customer: User, outsider: User, identity_cluster: Cluster, resources: Any) -> None:
    assign(resources)
    api = _api(customer)
    created = api.post("/api/v1/requests/", {
        "cluster": identity_cluster.pk, "kind": "workload_identity",
        "resource_id": STORAGE_ID, "role": "storage blob data reader"},
        content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["kind"], body["kind_label"]) == ("workload_identity", "Workload identity grant")
    assert (body["resource_id"], body["role"]) == (STORAGE_ID, READER)
    assert body["state"] == "pending_approval"  # pre-flight ran at once and passed
    assert body["customer_command"].startswith(
        f"az role assignment create --assignee-object-id {PRINCIPAL} ")
    path = f"/api/v1/requests/{body['id']}/"
    assert api.get(path).json()["customer_command"] == body["customer_command"]

    grant = api.get(f"{path}grant/").json()
    assert grant["needed"] is False
    assert grant["grant_commands"] == [body["customer_command"]]
    assert body["customer_command"] in grant["detail"]

    other = _api(outsider)
    for url in (path, f"{path}grant/"):
        assert other.get(url).status_code == 404
    assert other.post("/api/v1/requests/", {
        "cluster": identity_cluster.pk, "kind": "workload_identity",
        "resource_id": STORAGE_ID, "role": READER},
        content_type="application/json").status_code == 400  # not their cluster


def test_the_api_names_the_field_for_a_role_that_does_not_fit(
        customer: User, identity_cluster: Cluster) -> None:
    response = _api(customer).post("/api/v1/requests/", {
        "cluster": identity_cluster.pk, "kind": "workload_identity", "submit": False,
        "resource_id": STORAGE_ID, "role": "Key Vault Secrets User"},
        content_type="application/json")
    assert response.status_code == 400
    assert "does not apply to a Microsoft.Storage/storageAccounts" in (
        response.json()["errors"]["role"][0])


def test_the_request_page_shows_the_command_with_a_copy_button(
        customer: User, outsider: User, identity_cluster: Cluster) -> None:
    request = new_request(customer, identity_cluster)
    page = _api(customer).get(f"/requests/{request.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="identity-command"' in html and 'data-copy-from="#identity-command"' in html
    assert ("az role assignment create --assignee-object-id "
            f"{PRINCIPAL} --assignee-principal-type ServicePrincipal --role "
            "&#x27;Storage Blob Data Reader&#x27;") in html
    assert _api(outsider).get(f"/requests/{request.pk}/").status_code == 404


def test_the_wizard_creates_a_grant(customer: User, identity_cluster: Cluster) -> None:
    response = _api(customer).post("/requests/new/", {
        "cluster": str(identity_cluster.pk), "kind": "workload_identity",
        "workload_identity-resource_id": VAULT_ID,
        "workload_identity-role": "Storage Blob Data Reader"})
    assert response.status_code == 400
    form = response.context["kind_forms"]["workload_identity"]
    assert "does not apply to a Microsoft.KeyVault/vaults" in form.errors["role"][0]
    assert not ConnectivityRequest.objects.exists()


# --- hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["resource_id", "role"])
@CHECKS
@given(value=HOSTILE)
def test_api_refuses_hostile_values_with_a_field_message(
        customer: User, dedicated_cluster: Cluster, field: str, value: str) -> None:
    payload = {"cluster": dedicated_cluster.pk, "kind": "workload_identity", "submit": False,
               "resource_id": STORAGE_ID, "role": READER, field: value}
    response = _api(customer).post("/api/v1/requests/", payload, content_type="application/json")
    assert response.status_code == 400, (value, response.content[:500])
    assert response.json()["errors"].get(field), response.json()
    assert not ConnectivityRequest.objects.exists()


@pytest.mark.parametrize("field", ["resource_id", "role"])
@CHECKS
@given(value=HOSTILE)
def test_wizard_refuses_hostile_values_with_a_field_message(
        customer: User, dedicated_cluster: Cluster, field: str, value: str) -> None:
    data = {"cluster": str(dedicated_cluster.pk), "kind": "workload_identity",
            "workload_identity-resource_id": STORAGE_ID, "workload_identity-role": READER,
            f"workload_identity-{field}": value}
    response = _api(customer).post("/requests/new/", data)
    assert response.status_code == 400
    assert response.context["kind_forms"]["workload_identity"].errors.get(field)
    assert not ConnectivityRequest.objects.exists()
    assert not shows_unescaped(response.content.decode(), value)


# --- the console, the connections view, completion --------------------------------------------


def test_the_console_review_says_approval_creates_nothing(
        customer: User, approver: User, identity_cluster: Cluster, resources: Any) -> None:
    from django.urls import reverse

    from tests.console.conftest import mfa_signed_in

    assign(resources)
    request = services.request_submit(request=new_request(customer, identity_cluster),
                                      actor=customer)
    assert request.state == S.PENDING_APPROVAL
    page = mfa_signed_in(approver).get(reverse("console:review",
                                                kwargs={"request_id": request.pk}))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Workload identity grant" in html and STORAGE_ID in html
    assert "Nothing in Azure: the customer assigns the role themselves" in html
    assert request.kind_def.planned_resources(request) == []
    plan = html.split('aria-labelledby="plan-h"', 1)[1].split("</section>", 1)[0]
    assert "Approval will create" in plan and "creates no resource in Azure" in plan
    assert "<table" not in plan  # not an empty table with only its headings


def test_completed_grant_shows_in_connections_and_degrades_when_revoked(
        customer: User, outsider: User, approver: User, identity_cluster: Cluster,
        resources: Any, scheduler: Any, django_capture_on_commit_callbacks: Any) -> None:
    from django.urls import reverse

    assign(resources)
    request = services.request_submit(request=new_request(customer, identity_cluster),
                                      actor=customer)
    services.request_approve(request=request, actor=approver)
    request = drive(request, scheduler, django_capture_on_commit_callbacks)
    assert request.state == S.ACTIVE
    provisioning.revoke_watch()  # nothing of the platform's to revoke: completed at once
    request.refresh_from_db()
    assert request.state == S.COMPLETED
    completed = request.events.get(action="completed").message
    assert "nothing to revoke" in completed and "az role assignment delete" in completed

    provisioning.drift_check()
    page = _api(customer).get(reverse("dashboard")).content.decode()
    row = page[page.index(f'data-connection-row="{request.short_id}"'):]
    row = row[:row.index("</tr>")]
    assert "Working" in row, row
    assert "Role for the workload identity: Storage Blob Data Reader effective" in row
    assert request.short_id not in _api(outsider).get(reverse("dashboard")).content.decode()

    revoke(resources)
    provisioning.drift_check()
    request.refresh_from_db()
    assert request.state == S.DEGRADED
    page = _api(customer).get(f"/requests/{request.pk}/").content.decode()
    assert "Degraded" in page and "role assignment is gone" in page
    api = _api(customer).get(f"/api/v1/requests/{request.pk}/").json()
    assert api["connection"]["health"] == "degraded"

    assign(resources)  # back: the next check restores it to where it was
    provisioning.drift_check()
    request.refresh_from_db()
    assert request.state == S.COMPLETED


def test_the_wizard_offers_the_kind_and_checks_fields_as_you_leave_them(
        customer: User, identity_cluster: Cluster, resources: Any) -> None:
    client = _api(customer)
    html = client.get("/requests/new/").content.decode()
    assert 'data-kind="workload_identity"' in html and "Workload identity grant" in html
    assert '<option value="Key Vault Secrets User">' in html
    answer = client.post("/requests/new/validate/", {
        "field": "workload_identity-resource_id",
        "workload_identity-resource_id": "/subscriptions/x"}).json()
    assert "Resource ID must be a resource id like" in " ".join(answer["errors"])
    answer = client.post("/requests/new/validate/", {
        "field": "workload_identity-role", "workload_identity-role": "Owner"}).json()
    assert answer["errors"] == ["Role must be one of: Storage Blob Data Reader, Storage Blob "
                                "Data Contributor, Key Vault Secrets User."]
    created = client.post("/requests/new/", {
        "cluster": str(identity_cluster.pk), "kind": "workload_identity",
        "workload_identity-resource_id": STORAGE_ID, "workload_identity-role": READER})
    assert created.status_code == 302
    request = ConnectivityRequest.objects.get()
    assert (request.kind, request.resource_id, request.role) == (
        "workload_identity", STORAGE_ID, READER)
    # Its checks ran at once: not assigned yet, so pending with the command to run.
    assert check(request, wi.EFFECTIVE_KEY)["status"] == "pending"
