"""Create the demo organisation, users and clusters. Safe to run again: it only fills gaps.

New users' passwords are printed once and kept in ``.run/demo-users.json`` (mode 0600, local
demo only) so that ``seed_demo --show`` can print who is who again later.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from connectivity import demo
from connectivity.models import Cluster, Membership, Organization, TenantClaim, User

DEMO_USERS = [
    # email, staff, group, organisation role, who they are
    ("customer@contoso.example", False, None, Membership.Role.OWNER,
     "customer: owner of Contoso Analytics, files requests, manages API tokens"),
    ("teammate@contoso.example", False, None, Membership.Role.MEMBER,
     "teammate: member of Contoso Analytics, files requests, cannot manage tokens"),
    ("approver@platform.example", True, "approver", None,
     "approver: platform staff, approves and rejects in the console"),
    ("support@platform.example", True, "support", None,
     "support: platform staff, replies and re-runs checks in the console"),
]


def credentials_file() -> Path:
    return Path(settings.RUN_DIR) / "demo-users.json"


def _remember(passwords: dict[str, str]) -> None:
    path = credentials_file()
    known: dict[str, str] = {}
    if path.exists():
        try:
            known = dict(json.loads(path.read_text()))
        except ValueError:
            known = {}
    known.update(passwords)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(known, handle, indent=2)


def _known_passwords() -> dict[str, str]:
    try:
        return dict(json.loads(credentials_file().read_text()))
    except (OSError, ValueError):
        return {}


def summary(site_url: str | None = None) -> str:
    """Who is who in the demo, where to sign in, and how staff enrol their authenticator."""
    site = (site_url or settings.SITE_URL).rstrip("/")
    passwords = _known_passwords()
    lines = ["", "Demo users (sign in at " + f"{site}/accounts/login/):"]
    for email, _staff, _group, _role, who in DEMO_USERS:
        if not User.objects.filter(email=email).exists():
            continue
        password = passwords.get(email, "(password not known here: manage.py changepassword "
                                        f"{email})")
        lines.append(f"  {email:28} {password:20} {who}")
    lines += [
        f"Customer portal: {site}/     Staff console: {site}/console/",
    ]
    if getattr(settings, "CONSOLE_REQUIRE_MFA", True):
        lines += [
            "Staff (approver, support) must enrol an authenticator app at their first sign-in.",
            "  Scan the QR code with any authenticator app, or, in this demo, copy the secret",
            "  shown under it and get the current code with:",
            "    .venv/bin/python manage.py totp_code <secret>",
            "  (CONSOLE_REQUIRE_MFA=false switches this off for a local demo.)",
        ]
    lines += [
        f"Demo customer VNet for peering: tenant {demo.CUSTOMER_TENANT_ID}, subscription "
        f"{demo.CUSTOMER_SUBSCRIPTION_ID}, resource group {demo.CUSTOMER_RESOURCE_GROUP}, "
        f"VNet {demo.CUSTOMER_VNET_NAME}",
        "Show this again: .venv/bin/python manage.py seed_demo --show",
        "",
    ]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Create a demo organisation with users and clusters (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", help="Use this password for new users instead of "
                                               "random ones (for scripted demos).")
        parser.add_argument("--show", action="store_true",
                            help="Only print who is who, their passwords and where to sign in.")
        parser.add_argument("--quiet", action="store_true",
                            help="Seed without printing the summary (make run prints it later).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("show"):
            self.stdout.write(summary())
            return
        created = self._seed(options.get("password"))
        if created:
            _remember(dict(created))
        if options.get("quiet"):
            if created:
                self.stdout.write(f"Created {len(created)} demo users; their passwords follow "
                                  "once everything has started.")
            return
        if created:
            self.stdout.write(self.style.SUCCESS(f"Created {len(created)} demo users."))
        else:
            self.stdout.write("Demo users already exist; their passwords are unchanged.")
        self.stdout.write(summary())

    @transaction.atomic
    def _seed(self, password: str | None) -> list[tuple[str, str]]:
        org, _ = Organization.objects.get_or_create(
            slug="contoso", defaults={"name": "Contoso Analytics"})
        created: list[tuple[str, str]] = []
        for email, staff, group, role, _who in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                new_password = password or secrets.token_urlsafe(12)
                user = User.objects.create_user(email=email, password=new_password,
                                                is_staff=staff)
                created.append((email, new_password))
            EmailAddress.objects.get_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True})
            if group:
                user.groups.add(Group.objects.get(name=group))
            if role:
                Membership.objects.get_or_create(
                    user=user, defaults={"organization": org, "role": role})
        for spec in demo.CLUSTERS:
            cluster, _ = Cluster.objects.get_or_create(
                organization=org if spec["tier"] == "dedicated" else None,
                name=spec["name"],
                defaults={
                    "region": spec["region"],
                    "tier": spec["tier"],
                    "vnet_id": demo.platform_vnet_id(spec["vnet_name"]),
                    "address_prefixes": spec["address_prefixes"],
                    "external_ips": spec["external_ips"],
                    "dns_forwarding_ruleset_id": demo.ruleset_id(spec["ruleset_name"]),
                    **demo.workload_identity_fields(spec["name"]),
                },
            )
            identity = demo.workload_identity_fields(spec["name"])
            if identity and not cluster.workload_identity_principal_id:  # seeded before it had one
                Cluster.objects.filter(pk=cluster.pk).update(**identity)
        # Contoso owns its Entra tenant, so its people may "Sign in with Microsoft".
        TenantClaim.objects.get_or_create(
            organization=org, tenant_id=demo.CUSTOMER_TENANT_ID,
            defaults={"confirmed_at": timezone.now()})
        return created
