"""Shared fixtures: the four people of STYLE.md, and the rule for tests that need services.

Tests marked `postgres`, `redis`, `worker` or `browser` are skipped, with a reason naming the
missing service, when it is not configured. Under CI=true a missing service fails the run
instead: CI always runs everything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, Permission

from connectivity.models import Cluster, Membership, Organization, User
from tests.factories import ClusterFactory, MembershipFactory, OrganizationFactory, UserFactory

pytest_plugins = ["tests.stack"]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _missing_services() -> dict[str, str]:
    database_url = os.environ.get("DATABASE_URL", "")
    missing = {}
    if not database_url.startswith(("postgres://", "postgresql://")):
        missing["postgres"] = "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if not os.environ.get("REDIS_URL"):
        missing["redis"] = "needs Redis: set REDIS_URL=redis://..."
    if "postgres" in missing or "redis" in missing:
        missing["worker"] = "a real Celery worker needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)"
    if not shutil.which(CHROMIUM):
        missing["browser"] = f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    return missing


@pytest.fixture(autouse=True)
def _fresh_local_cache() -> Iterator[None]:
    """Without Redis the cache is this process's memory, and SQLite hands a rolled-back test's
    primary keys to the next test: clear it, or one test's rate-limit counters (per user pk)
    throttle another's. (Redis is left alone: running workers share it.)"""
    from django.conf import settings
    from django.core.cache import cache

    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def _page_versions_bump_in_test_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `db` test runs in a transaction that never commits, so the API's page versions
    (`models.pages_changed`) would never move and a test that lists, changes and lists again
    would read the first page twice. Inside such a transaction the test is the only reader:
    bump at once. Everywhere else (transactional tests, the worker) after the commit, as in
    production."""
    from django.db import connection, transaction

    from connectivity import models

    def after_commit(bump: object) -> None:
        assert callable(bump)
        blocks = connection.atomic_blocks
        if blocks and getattr(blocks[0], "_from_testcase", False):
            bump()
        else:
            transaction.on_commit(bump, robust=True)

    monkeypatch.setattr(models, "_after_commit", after_commit)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = _missing_services()
    needed = {m for item in items for m in missing if item.get_closest_marker(m)}
    if needed and os.environ.get("CI") == "true":
        raise pytest.UsageError(
            "CI runs every test, but these services are missing: "
            + "; ".join(missing[m] for m in sorted(needed)))
    for item in items:
        for marker, reason in missing.items():
            if item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def organization(db: None) -> Organization:
    return OrganizationFactory(name="Contoso Analytics", slug="contoso")


@pytest.fixture
def customer(organization: Organization) -> User:
    return MembershipFactory(organization=organization, role=Membership.Role.OWNER,
                             user__email="customer@contoso.example").user


@pytest.fixture
def teammate(organization: Organization) -> User:
    return MembershipFactory(organization=organization, role=Membership.Role.MEMBER,
                             user__email="teammate@contoso.example").user


@pytest.fixture
def outsider(db: None) -> User:
    other = OrganizationFactory(name="Fabrikam", slug="fabrikam")
    return MembershipFactory(organization=other, role=Membership.Role.OWNER,
                             user__email="outsider@fabrikam.example").user


STAFF_GROUPS = {"support": ["support_request"], "approver": ["support_request", "approve_request"]}


def staff_group(name: str) -> Group:
    """The group migration 0002 creates; made again when a transactional test's flush (which
    keeps permissions but not migration data) emptied the table before this test."""
    group, created = Group.objects.get_or_create(name=name)
    if created:
        group.permissions.set(Permission.objects.filter(
            content_type__app_label="connectivity", codename__in=STAFF_GROUPS[name]))
    return group


@pytest.fixture
def approver(db: None) -> User:
    user = UserFactory(email="approver@platform.example", is_staff=True)
    user.groups.add(staff_group("approver"))
    return user


@pytest.fixture
def support(db: None) -> User:
    user = UserFactory(email="support@platform.example", is_staff=True)
    user.groups.add(staff_group("support"))
    return user


@pytest.fixture
def dedicated_cluster(organization: Organization) -> Cluster:
    return ClusterFactory(organization=organization, name="contoso-prod")


@pytest.fixture
def standard_cluster(db: None) -> Cluster:
    return ClusterFactory(organization=None, name="shared-westeurope",
                          tier=Cluster.Tier.STANDARD, address_prefixes=["10.200.0.0/16"])


@pytest.fixture
def no_enqueue(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record the requests services would hand to a worker, without a broker."""
    enqueued: list[str] = []
    from connectivity import services

    monkeypatch.setattr(services, "enqueue_advance",
                        lambda request, countdown=0: enqueued.append(str(request.pk)))
    yield enqueued
