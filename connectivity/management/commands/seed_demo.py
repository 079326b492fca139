"""Create the demo organisation, users and clusters. Safe to run again: it only fills gaps."""

from __future__ import annotations

import secrets
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from connectivity import demo
from connectivity.models import Cluster, Membership, Organization, TenantClaim, User

DEMO_USERS = [
    # email, staff, group, organisation role
    ("customer@contoso.example", False, None, Membership.Role.OWNER),
    ("teammate@contoso.example", False, None, Membership.Role.MEMBER),
    ("approver@platform.example", True, "approver", None),
    ("support@platform.example", True, "support", None),
]


class Command(BaseCommand):
    help = "Create a demo organisation with users and clusters (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", help="Use this password for new users instead of "
                                               "random ones (for scripted demos).")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        org, _ = Organization.objects.get_or_create(
            slug="contoso", defaults={"name": "Contoso Analytics"})
        created: list[tuple[str, str]] = []
        for email, staff, group, role in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                password = options.get("password") or secrets.token_urlsafe(12)
                user = User.objects.create_user(email=email, password=password, is_staff=staff)
                created.append((email, password))
            EmailAddress.objects.get_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True})
            if group:
                user.groups.add(Group.objects.get(name=group))
            if role:
                Membership.objects.get_or_create(
                    user=user, defaults={"organization": org, "role": role})
        for spec in demo.CLUSTERS:
            Cluster.objects.get_or_create(
                organization=org if spec["tier"] == "dedicated" else None,
                name=spec["name"],
                defaults={
                    "region": spec["region"],
                    "tier": spec["tier"],
                    "vnet_id": demo.platform_vnet_id(spec["vnet_name"]),
                    "address_prefixes": spec["address_prefixes"],
                    "external_ips": spec["external_ips"],
                    "dns_forwarding_ruleset_id": demo.ruleset_id(spec["ruleset_name"]),
                },
            )
        # Contoso owns its Entra tenant, so its people may "Sign in with Microsoft".
        TenantClaim.objects.get_or_create(
            organization=org, tenant_id=demo.CUSTOMER_TENANT_ID,
            defaults={"confirmed_at": timezone.now()})
        self.stdout.write(self.style.SUCCESS(f"Demo organisation: {org.name}"))
        if created:
            self.stdout.write("New demo users (shown once; passwords are not stored in clear):")
            for email, password in created:
                self.stdout.write(f"  {email:32} {password}")
        else:
            self.stdout.write("Demo users already exist; their passwords are unchanged "
                              "(`manage.py changepassword EMAIL` to set one).")
        self.stdout.write(
            f"Demo customer VNet for peering: tenant {demo.CUSTOMER_TENANT_ID}, subscription "
            f"{demo.CUSTOMER_SUBSCRIPTION_ID}, resource group {demo.CUSTOMER_RESOURCE_GROUP}, "
            f"VNet {demo.CUSTOMER_VNET_NAME}")
