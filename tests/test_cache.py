"""The Redis cache backend reuses one client per connection pool and still does what a cache does."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.core.cache import caches

from connectivity.cache import RedisCache, charge

pytestmark = pytest.mark.redis


def test_one_client_serves_every_call_and_values_round_trip() -> None:
    cache = RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": "test-cache-backend"})
    try:
        cache.set_many({"a": 1, "b": [2, 3]}, timeout=30)
        assert cache.get_many(["a", "b", "missing"]) == {"a": 1, "b": [2, 3]}
        assert cache.add("a", 5) is False
        assert cache.incr("a") == 2
        cache.delete("a")
        assert cache.get("a") is None
        assert cache._cache.get_client() is cache._cache.get_client(write=True)
    finally:
        cache.delete_many(["a", "b"])


@pytest.mark.parametrize("backend", [
    {"BACKEND": "connectivity.cache.RedisCache", "KEY_PREFIX": "test-charge"},
    {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
], ids=["redis", "locmem"])
def test_charge_counts_a_call_only_while_no_counter_is_at_its_limit(
    settings: Any, backend: dict[str, str],
) -> None:
    settings.CACHES = {"default": {**backend, "LOCATION": os.environ["REDIS_URL"]}
                       if "Redis" in backend["BACKEND"] else backend}
    store = caches["default"]
    store.delete_many(["tight", "loose"])
    try:
        limits = {"tight": 2, "loose": 3}
        assert charge(limits, timeout=30) == []
        assert charge(limits, timeout=30) == []
        assert charge(limits, timeout=30) == ["tight"]  # refused: neither counter counts it
        assert store.get_many(["tight", "loose"]) == {"tight": 2, "loose": 2}
        assert charge({"loose": 3}, timeout=30) == []
        assert charge(limits, timeout=30) == ["tight", "loose"]
        assert store.get("loose") == 3 and store.incr("loose") == 4  # integers the cache reads
        if isinstance(store, RedisCache):
            client = store._cache.get_client()
            assert 0 < client.ttl(store.make_and_validate_key("tight")) <= 30
    finally:
        store.delete_many(["tight", "loose"])
