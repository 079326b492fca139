"""VNet write leases: short, renewed while held, freed only by their holder.

With REDIS_URL the Redis store is exercised across real processes: a holder killed with
SIGKILL blocks the VNet only until its short lease runs out, while a live holder keeps it
however long it writes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from connectivity import leases


@pytest.fixture
def name() -> str:
    return f"vnet:/subscriptions/x/test-{uuid.uuid4()}"


@pytest.fixture(params=["local", "redis"])
def store(request: pytest.FixtureRequest, settings, monkeypatch) -> leases.LeaseStore:
    if request.param == "redis":
        url = os.environ.get("REDIS_URL")
        if not url:
            pytest.skip("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
        settings.REDIS_URL = url
    else:
        settings.REDIS_URL = ""
        leases._store_for.cache_clear()
    return leases.store()


def test_a_second_owner_is_refused_while_the_first_holds_it(store, name) -> None:
    with leases.held(name, "request-a", ttl=5), pytest.raises(leases.LeaseTaken), \
            leases.held(name, "request-b", ttl=5):
        pass
    with leases.held(name, "request-b", ttl=5):  # released at the end of the block
        assert store.holder(leases.KEY_PREFIX + name) == "request-b"


def test_a_live_holder_keeps_the_lease_past_its_ttl(store, name) -> None:
    with leases.held(name, "request-a", ttl=0.6):
        time.sleep(1.5)  # more than two lease lifetimes: the heartbeat renewed it
        with pytest.raises(leases.LeaseTaken), leases.held(name, "request-b", ttl=0.6):
            pass


def test_the_same_request_takes_its_own_lease_over(store, name) -> None:
    assert store.acquire(leases.KEY_PREFIX + name, "request-a", 30)  # a crashed run's lease
    with leases.held(name, "request-a", ttl=30):
        pass
    assert store.holder(leases.KEY_PREFIX + name) is None


def test_only_the_holder_frees_or_renews_it(store, name) -> None:
    key = leases.KEY_PREFIX + name
    assert store.acquire(key, "request-a", 30)
    store.release(key, "request-b")
    assert not store.renew(key, "request-b", 30)
    assert store.holder(key) == "request-a"


@pytest.mark.redis
def test_a_killed_holder_blocks_the_vnet_only_until_its_short_lease_ends(name) -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from connectivity import leases
        store = leases.RedisLeases({url!r})
        leases.store = lambda: store
        with leases.held({name!r}, "worker-that-dies", ttl=1.0):
            print("held", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test"})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        redis_leases = leases.RedisLeases(url)
        key = leases.KEY_PREFIX + name
        time.sleep(1.5)  # alive past its ttl: still held thanks to the heartbeat
        assert redis_leases.holder(key) == "worker-that-dies"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 5
        while redis_leases.holder(key) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert redis_leases.holder(key) is None  # expired within about one ttl of the kill
        assert redis_leases.acquire(key, "next-request", 30)
        redis_leases.release(key, "next-request")
    finally:
        if holder.poll() is None:
            holder.kill()
