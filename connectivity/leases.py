"""Short leases, renewed while held: one writer per VNet at a time, across worker processes.

A lease lives ``ttl`` seconds and the holder renews it every ``ttl / 3`` from a heartbeat
thread for as long as it holds it, so a worker killed mid-write blocks the VNet for at most
``ttl`` (VNET_LOCK_TTL, 30 s), not for the longest write it might have done. Renewing and
releasing compare the owner atomically, so only the live holder ever extends or frees a lease:
a holder whose lease expired (a long GC pause, a frozen VM) cannot free its successor's.

With Redis (REDIS_URL) the store is Redis itself (``SET NX PX`` and two small Lua scripts),
shared by every worker process. Without it (``make run``'s embedded default: one worker
process) a process-local store does the same under a lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "connectivity:lease:"

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaseStore(Protocol):
    def acquire(self, key: str, owner: str, ttl: float) -> bool: ...
    def renew(self, key: str, owner: str, ttl: float) -> bool: ...
    def release(self, key: str, owner: str) -> None: ...
    def holder(self, key: str) -> str | None: ...


class RedisLeases:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)

    def acquire(self, key: str, owner: str, ttl: float) -> bool:
        return bool(self.client.set(key, owner, nx=True, px=int(ttl * 1000)))

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        return bool(self._renew(keys=[key], args=[owner, int(ttl * 1000)]))

    def release(self, key: str, owner: str) -> None:
        self._release(keys=[key], args=[owner])

    def holder(self, key: str) -> str | None:
        value = self.client.get(key)
        return str(value) if value is not None else None


class LocalLeases:
    """One process's leases (the embedded default runs a single worker process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str, float]] = {}

    def _current(self, key: str) -> str | None:
        entry = self._held.get(key)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            del self._held[key]
            return None
        return entry[0]

    def acquire(self, key: str, owner: str, ttl: float) -> bool:
        with self._lock:
            if self._current(key) is not None:
                return False
            self._held[key] = (owner, time.monotonic() + ttl)
            return True

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        with self._lock:
            if self._current(key) != owner:
                return False
            self._held[key] = (owner, time.monotonic() + ttl)
            return True

    def release(self, key: str, owner: str) -> None:
        with self._lock:
            if self._current(key) == owner:
                del self._held[key]

    def holder(self, key: str) -> str | None:
        with self._lock:
            return self._current(key)


@cache
def _store_for(url: str) -> LeaseStore:
    return RedisLeases(url) if url else LocalLeases()


def store() -> LeaseStore:
    return _store_for(str(getattr(settings, "REDIS_URL", "") or ""))


class LeaseTaken(Exception):
    """Someone else holds the lease."""

    def __init__(self, key: str, holder: str | None) -> None:
        super().__init__(f"{key} is held by {holder or 'someone else'}")
        self.key = key
        self.holder = holder


@contextmanager
def held(name: str, owner: str, *, ttl: float, take_over_own: bool = True) -> Iterator[None]:
    """Hold the lease ``name`` for ``owner`` while the block runs, renewing it in the
    background; raise :class:`LeaseTaken` when another owner holds it. With ``take_over_own``
    an owner finds its own earlier lease (a killed worker's) and carries on under it."""
    key = KEY_PREFIX + name
    leases = store()
    if not leases.acquire(key, owner, ttl):
        holder = leases.holder(key)
        if not (take_over_own and holder == owner and leases.renew(key, owner, ttl)):
            raise LeaseTaken(key, holder)
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(ttl / 3):
            try:
                if not leases.renew(key, owner, ttl):
                    return  # lost (expired and taken): nothing left to renew
            except Exception:  # Redis away for a moment: try again at the next beat
                logger.warning("lease %s not renewed this beat", key, exc_info=True)

    beat = threading.Thread(target=heartbeat, name=f"lease-{name}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join(timeout=5)
        leases.release(key, owner)
