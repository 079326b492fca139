from __future__ import annotations

import pytest
from django.core.management import call_command

from connectivity.models import Cluster, Organization, User


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_passwords_once(capsys) -> None:
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out
    assert "customer@contoso.example" in first and "already exist" in second
    assert Organization.objects.count() == 1
    assert User.objects.count() == 4
    assert set(Cluster.objects.values_list("tier", flat=True)) == {"standard", "dedicated"}
    approver = User.objects.get(email="approver@platform.example")
    assert approver.is_staff and approver.has_perm("connectivity.approve_request")
    customer = User.objects.get(email="customer@contoso.example")
    assert customer.organization.slug == "contoso" and not customer.is_staff
