"""Workers: a pool of threads whose size suits the database, and a clear error for a bad value."""

from __future__ import annotations

import runpy
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

pytestmark = [pytest.mark.filterwarnings("ignore:No directory at"),
              pytest.mark.filterwarnings("ignore:.portal.settings.base. found in sys.modules")]


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("CELERY_WORKER_POOL", "CELERY_WORKER_CONCURRENCY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_module("portal.settings.base", run_name="portal.settings.base")


def test_a_worker_on_postgresql_runs_sixteen_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load(monkeypatch, DATABASE_URL="postgres://portal@db:5432/portal")
    assert loaded["CELERY_WORKER_POOL"] == "threads"
    assert loaded["CELERY_WORKER_CONCURRENCY"] == 16


def test_a_worker_on_sqlite_runs_two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite lets one writer at a time: more threads would only queue for its lock.
    assert load(monkeypatch)["CELERY_WORKER_CONCURRENCY"] == 2


def test_the_variables_choose_pool_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load(monkeypatch, CELERY_WORKER_POOL="prefork", CELERY_WORKER_CONCURRENCY="4")
    assert (loaded["CELERY_WORKER_POOL"], loaded["CELERY_WORKER_CONCURRENCY"]) == ("prefork", 4)


@pytest.mark.parametrize("value", ["0", "-3", "lots", "2.5"])
def test_a_bad_size_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="CELERY_WORKER_CONCURRENCY must be a whole"):
        load(monkeypatch, CELERY_WORKER_CONCURRENCY=value)


def test_a_bad_pool_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="CELERY_WORKER_POOL must be threads"):
        load(monkeypatch, CELERY_WORKER_POOL="gevent")


def test_the_worker_loads_the_azure_sdk_when_it_starts() -> None:
    from django.conf import settings

    assert "connectivity.azure.gateway" in settings.CELERY_IMPORTS


@pytest.mark.django_db(transaction=True)
def test_a_task_keeps_a_healthy_connection_and_drops_an_obsolete_one() -> None:
    """Celery's Django fix-up would close the connection around every task (a new PostgreSQL
    process per task); the portal closes it only when Django would after a request."""
    from django.db import connection

    from connectivity import tasks
    from portal.celery import app, close_old_connections

    task = tasks.request_advance
    connection.ensure_connection()
    connection.close_at = None  # as with DATABASE_CONN_MAX_AGE unlimited
    kept = connection.connection
    close_old_connections(sender=task)
    assert connection.connection is kept  # healthy and young: reused by the next task
    connection.close_at = 0.0  # past DATABASE_CONN_MAX_AGE
    task.push_request(is_eager=True)  # run inside its caller's transaction: left alone
    try:
        close_old_connections(sender=task)
    finally:
        task.pop_request()
    assert connection.connection is kept
    close_old_connections(sender=task)
    assert connection.connection is None  # the next query opens a fresh one
    assert app.conf.get("CELERY_DB_REUSE_MAX") >= 1_000_000
