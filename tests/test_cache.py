"""The Redis cache backend reuses one client per connection pool and still does what a cache does."""

from __future__ import annotations

import os

import pytest

from connectivity.cache import RedisCache

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
