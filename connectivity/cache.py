"""Django's Redis cache, building one redis-py client per connection pool instead of one per call,
and `charge`: counters that count a call only while none of them is at its limit.

Django's RedisCacheClient makes a new `redis.Redis` for every cache operation, and redis-py
fills in about 170 response callbacks each time: on an API call with two throttle round trips
that was a sixth of the CPU. A client is thread-safe and shares its pool's connections (and the
pool reconnects after a fork), so one per pool behaves the same.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

# KEYS: the counters; ARGV: their limits, then the counters' lifetime in seconds. Returns the
# positions (from 1) of the counters at their limit; when there are none, counts one in each.
_CHARGE = """
local over = {}
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i]) then over[#over + 1] = i end
end
if #over == 0 then
  for _, key in ipairs(KEYS) do
    redis.call('INCR', key)
    redis.call('EXPIRE', key, ARGV[#KEYS + 1])
  end
end
return over
"""


def charge(limits: dict[str, int], *, timeout: int) -> list[str]:
    """Count one call in each counter (a cache key → its limit) unless one is already at its
    limit; return those at their limit (none: the call was counted). Counters live `timeout`
    seconds from their last count.

    On Redis this is one round trip and atomic (a Lua script); on another cache it reads then
    writes, so calls racing each other may slip a few past a limit."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return backend.charge(limits, timeout=timeout)
    counts = backend.get_many(list(limits))
    over = [key for key, limit in limits.items() if counts.get(key, 0) >= limit]
    if not over:
        backend.set_many({key: counts.get(key, 0) + 1 for key in limits}, timeout=timeout)
    return over


class _ReusedClients(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._scripts: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client

    def charge_script(self) -> Any:
        """The `_CHARGE` script on the writing client (sent by hash, loaded when Redis lacks it)."""
        client = self.get_client(write=True)
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(_CHARGE)
        return script


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusedClients

    def charge(self, limits: dict[str, int], *, timeout: int) -> list[str]:
        """`charge` in one round trip; the counters are the integers `incr` and `get` read."""
        keys = {self.make_and_validate_key(key): key for key in limits}
        clients: _ReusedClients = self._cache  # type: ignore[attr-defined]  # Django's cached_property
        over = clients.charge_script()(keys=list(keys), args=[*limits.values(), timeout])
        names = list(keys.values())
        return [names[position - 1] for position in over]
