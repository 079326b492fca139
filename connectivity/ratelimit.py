"""A small per-user rate limit on the cache, for buttons that cost Azure calls or staff time."""

from __future__ import annotations

import time

from django.core.cache import cache


def retry_after(key: str, *, limit: int, window: int) -> int | None:
    """Count one attempt against ``key``; return the seconds to wait if over ``limit``, else None.

    A fixed window keeps it to one cache counter per key; bursts at a window's edge are
    acceptable for what it guards (a verify button, a comment form).
    """
    now = time.time()
    bucket = int(now // window)
    cache_key = f"ratelimit:{key}:{bucket}"
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        return max(1, int((bucket + 1) * window - now) + 1)
    return None
