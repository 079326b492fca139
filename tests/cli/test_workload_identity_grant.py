"""`cportal grant` for a workload identity grant prints the command the customer runs."""

from __future__ import annotations

from connectivity import services
from connectivity.models import Cluster, User
from tests.cli.conftest import Cportal
from tests.test_kind_workload_identity import PRINCIPAL, READER, STORAGE_ID, give_identity


def test_grant_prints_the_role_assignment_command(
    cportal: Cportal, customer: User, dedicated_cluster: Cluster,
) -> None:
    dedicated_cluster.name = "contoso-prod"  # the demo cluster that has an identity
    give_identity(dedicated_cluster)
    request = services.request_create(actor=customer, organization=customer.organization,
                                      cluster=dedicated_cluster, kind="workload_identity",
                                      fields={"resource_id": STORAGE_ID, "role": READER})
    shown = cportal("grant", str(request.pk))
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())  # the terminal may wrap the line
    assert (f"az role assignment create --assignee-object-id {PRINCIPAL} "
            "--assignee-principal-type ServicePrincipal --role 'Storage Blob Data Reader' "
            f"--scope {STORAGE_ID}") in text
    script = cportal("grant", str(request.pk), "--script")
    assert script.exit_code == 0
    assert all(line.startswith("#") for line in script.stdout.splitlines())  # nothing runs
