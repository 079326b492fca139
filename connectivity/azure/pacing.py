"""Pacing of ARM calls against ARM's own throttling, so bursts queue here instead of 429ing there.

ARM throttles with a token bucket per principal and subscription for each kind of call: reads
250 burst / 25 per second, writes 200 / 10, deletes 200 / 10 (AZURE.md). The portal keeps the
same buckets on its side and takes a token before every ARM request, so a thousand requests
at once in one subscription are spread over ARM's budget instead of answered with 429s and
retried in storms.

- Where: :class:`PacingPolicy`, added by ``clients.py`` to every client's pipeline after the
  SDK's retry policy, so each HTTP request (an SDK retry and a long-running operation's poll
  too) takes a token.
- Shared: with ``REDIS_URL`` set the buckets live in Redis, updated by one Lua script per take
  on Redis's clock, so every worker process (and the web) draws on one budget; without Redis
  (``make run`` with no Redis, some tests) each process keeps its own buckets. Redis being away
  falls back to the process's own buckets rather than failing the call.
- Fed back: each response's ``x-ms-ratelimit-remaining-subscription-reads|writes|deletes``
  lowers the bucket when ARM says fewer remain (another client of the same principal, ARM's
  subscription-wide cap); a 429 throttle with ``Retry-After`` empties the bucket until then.
- Never a long sleep in a worker: a token due within ``AZURE_PACING_MAX_WAIT`` seconds is
  reserved and waited for; otherwise the call raises :class:`TransientAzureError` with reason
  ``paced`` and ``retry_after`` set to when the bucket has a token, which the engine turns into
  a rescheduled step and pre-flight into "Azure is busy, checking again shortly".

Settings: ``AZURE_PACING`` (on by default), ``AZURE_PACING_READS``, ``AZURE_PACING_WRITES``,
``AZURE_PACING_DELETES`` (``(burst, per_second)``), ``AZURE_PACING_RESERVE`` (the share of each
burst left to ARM, for requests that arrive late), ``AZURE_PACING_MAX_WAIT``.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy
from django.conf import settings

from connectivity.azure.errors import TransientAzureError

logger = logging.getLogger(__name__)

KINDS = ("reads", "writes", "deletes")
#: ARM's documented buckets: (burst, tokens per second).
ARM_LIMITS: dict[str, tuple[float, float]] = {
    "reads": (250, 25.0),
    "writes": (200, 10.0),
    "deletes": (200, 10.0),
}
PACED_REASON = "paced"
PACED_MESSAGE = "Azure is busy: the platform is pacing its calls to stay within Azure's limits."
REMAINING_HEADER = "x-ms-ratelimit-remaining-subscription-{kind}"
# 429s that are about one resource being busy, not about the subscription's budget.
_NOT_THROTTLE_CODES = frozenset({"retryableerrorduetoanotheroperation", "anotheroperationinprogress"})
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/?#]+)", re.IGNORECASE)
_KEY_PREFIX = "pacing:"


def is_paced(exc: TransientAzureError) -> bool:
    """Whether the error is the portal waiting for ARM's budget, also when a caller (pre-flight,
    the proof of control) passed it on in its own words."""
    return exc.reason == PACED_REASON or PACED_MESSAGE in exc.message


def kind_of(method: str) -> str:
    """ARM's kind of call for an HTTP method (as ARM counts them: POST and PATCH are writes)."""
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


@dataclass(frozen=True)
class Limit:
    """ARM's bucket for one kind of call, and how many of its tokens the portal leaves alone.

    The portal's bucket holds at most ``cap`` = ``burst - reserve``: a request reaches ARM a
    little after it took its token here (the network, a busy process), and ARM's extra
    ``reserve`` tokens absorb that much lateness (``reserve / rate`` seconds) without a 429.
    """

    burst: float
    rate: float  # tokens per second
    reserve: float = 0.0

    @property
    def cap(self) -> float:
        return max(1.0, self.burst - self.reserve)


def limits() -> dict[str, Limit]:
    """The configured bucket per kind (ARM's own by default)."""
    configured = {
        "reads": getattr(settings, "AZURE_PACING_READS", ARM_LIMITS["reads"]),
        "writes": getattr(settings, "AZURE_PACING_WRITES", ARM_LIMITS["writes"]),
        "deletes": getattr(settings, "AZURE_PACING_DELETES", ARM_LIMITS["deletes"]),
    }
    share = float(getattr(settings, "AZURE_PACING_RESERVE", 0.1))
    return {kind: Limit(float(burst), float(rate), float(burst) * share)
            for kind, (burst, rate) in configured.items()}


def enabled() -> bool:
    return bool(getattr(settings, "AZURE_PACING", True))


def max_wait() -> float:
    return float(getattr(settings, "AZURE_PACING_MAX_WAIT", 0.5))


# --------------------------------------------------------------------------------------------
# The buckets
#
# State: ``tokens`` (may go below zero: tokens reserved by callers waiting for them) and
# ``stamp``, the time from which tokens accrue (in the future while a 429's Retry-After runs).
# Three operations, each atomic: take (reserve a token due within max_wait, else say when one
# is due), lower (ARM says only N remain) and block (ARM said retry after S seconds).


def _refill(tokens: float, stamp: float, now: float, limit: Limit) -> tuple[float, float]:
    if now > stamp:
        return min(limit.cap, tokens + (now - stamp) * limit.rate), now
    return tokens, stamp


def _due(tokens: float, stamp: float, now: float, limit: Limit) -> float:
    """Seconds from ``now`` until the bucket holds a whole token."""
    shortfall = max(0.0, 1.0 - tokens)
    refill = shortfall / limit.rate if limit.rate > 0 else (math.inf if shortfall else 0.0)
    return max(0.0, stamp - now) + refill


class LocalBuckets:
    """This process's buckets, on its monotonic clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def _get(self, key: str, limit: Limit, now: float) -> tuple[float, float]:
        tokens, stamp = self._state.get(key, (limit.cap, now))
        return _refill(tokens, stamp, now, limit)

    def take(self, key: str, limit: Limit, wait_up_to: float) -> float:
        """0 or a positive wait: a token is reserved (sleep that long first). Negative: none
        is reserved; one is due in ``-result`` seconds."""
        with self._lock:
            now = time.monotonic()
            tokens, stamp = self._get(key, limit, now)
            due = _due(tokens, stamp, now, limit)
            if due <= wait_up_to:
                self._state[key] = (tokens - 1, stamp)
                return due
            self._state[key] = (tokens, stamp)
            return -due

    def lower(self, key: str, limit: Limit, remaining: float) -> None:
        with self._lock:
            now = time.monotonic()
            tokens, stamp = self._get(key, limit, now)
            self._state[key] = (min(tokens, remaining), stamp)

    def block(self, key: str, limit: Limit, seconds: float) -> None:
        with self._lock:
            now = time.monotonic()
            tokens, stamp = self._get(key, limit, now)
            self._state[key] = (min(tokens, 0.0), max(stamp, now + seconds))

    def tokens(self, key: str, limit: Limit) -> float:
        with self._lock:
            return self._get(key, limit, time.monotonic())[0]

    def clear(self) -> None:
        with self._lock:
            self._state.clear()


# The same three operations on Redis's clock, one script so that a take is atomic across
# processes. Numbers go back as strings: Redis truncates a Lua number to an integer.
_LUA = """
local burst, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local op, arg = ARGV[3], tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
if now > stamp then
  tokens = math.min(burst, tokens + (now - stamp) * rate)
  stamp = now
end
local result = tokens
if op == 'take' then
  local due = math.max(0, stamp - now)
  if tokens < 1 then
    if rate > 0 then due = due + (1 - tokens) / rate else due = 1e9 end
  end
  if due <= arg then
    tokens = tokens - 1
    result = due
  else
    result = -due
  end
elseif op == 'lower' then
  tokens = math.min(tokens, arg)
  result = tokens
elseif op == 'block' then
  tokens = math.min(tokens, 0)
  stamp = math.max(stamp, now + arg)
  result = tokens
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(stamp))
local ttl = math.ceil(math.max(0, stamp - now) + (rate > 0 and burst / rate or 3600)) + 60
redis.call('EXPIRE', KEYS[1], ttl)
return tostring(result)
"""


class RedisBuckets:
    """Buckets every process shares, in the Redis database ``url`` names."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._script = self._client.register_script(_LUA)

    def _run(self, key: str, limit: Limit, op: str, arg: float) -> float:
        return float(self._script(keys=[key], args=[limit.cap, limit.rate, op, arg]))

    def take(self, key: str, limit: Limit, wait_up_to: float) -> float:
        return self._run(key, limit, "take", wait_up_to)

    def lower(self, key: str, limit: Limit, remaining: float) -> None:
        self._run(key, limit, "lower", remaining)

    def block(self, key: str, limit: Limit, seconds: float) -> None:
        self._run(key, limit, "block", seconds)

    def tokens(self, key: str, limit: Limit) -> float:
        return self._run(key, limit, "peek", 0)

    def clear(self) -> None:
        keys = list(self._client.scan_iter(match=f"{_KEY_PREFIX}*", count=500))
        if keys:
            self._client.delete(*keys)


class Pacer:
    """Buckets keyed by (application, subscription, kind): Redis when configured, else local,
    and local for as long as Redis does not answer."""

    def __init__(self, redis_url: str | None) -> None:
        self.local = LocalBuckets()
        self.shared = RedisBuckets(redis_url) if redis_url else None

    def _call(self, op: str, *args: Any) -> Any:
        if self.shared is not None:
            try:
                return getattr(self.shared, op)(*args)
            except Exception as exc:
                logger.warning("ARM pacing falls back to this process's buckets: %s", exc)
        return getattr(self.local, op)(*args)

    def take(self, key: str, limit: Limit, wait_up_to: float) -> float:
        return float(self._call("take", key, limit, wait_up_to))

    def lower(self, key: str, limit: Limit, remaining: float) -> None:
        self._call("lower", key, limit, remaining)

    def block(self, key: str, limit: Limit, seconds: float) -> None:
        self._call("block", key, limit, seconds)

    def tokens(self, key: str, limit: Limit) -> float:
        return float(self._call("tokens", key, limit))

    def clear(self) -> None:
        self._call("clear")
        self.local.clear()


_pacer_lock = threading.Lock()
_pacers: dict[str, Pacer] = {}


def pacer() -> Pacer:
    """This process's pacer for the configured Redis (one per URL, so settings may change)."""
    url = getattr(settings, "REDIS_URL", "") or ""
    with _pacer_lock:
        if url not in _pacers:
            _pacers[url] = Pacer(url or None)
        return _pacers[url]


def bucket_key(app_id: str, subscription_id: str, kind: str) -> str:
    return f"{_KEY_PREFIX}{app_id.lower()}:{subscription_id.lower()}:{kind}"


def reset() -> None:
    """Forget every bucket (tests, and after changing the limits)."""
    pacer().clear()


# --------------------------------------------------------------------------------------------
# The pipeline policy


def _retry_after(headers: Any) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue  # an HTTP date: rare from ARM; the next header or the default applies
    return None


def _error_code(http_response: Any) -> str:
    try:
        http_response.read()  # a streamed body (long-running operations' first call) is not read yet
        body = json.loads(http_response.text() or "{}")
    except Exception:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code") or "") if isinstance(error, dict) else ""


class PacingPolicy(HTTPPolicy):  # type: ignore[type-arg]
    """Takes a token from the (application, subscription, kind) bucket before each ARM
    request, and feeds ARM's remaining-budget headers and 429s back into the buckets."""

    def __init__(self, app_id: str) -> None:
        super().__init__()
        self.app_id = app_id

    def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        match = _SUBSCRIPTION.search(request.http_request.url)
        if match is None or not enabled():
            return self.next.send(request)
        subscription = match.group(1)
        kind = kind_of(request.http_request.method)
        configured = limits()
        the_pacer = pacer()
        key = bucket_key(self.app_id, subscription, kind)
        wait = the_pacer.take(key, configured[kind], max_wait())
        if wait < 0:
            raise TransientAzureError(
                PACED_MESSAGE, code="Paced", reason=PACED_REASON, retry_after=round(-wait, 3),
                detail=f"No {kind[:-1]} token for subscription {subscription} for {-wait:.2f} s.")
        if wait > 0:
            time.sleep(wait)
        response = self.next.send(request)
        self._feed_back(response, subscription, kind, configured, the_pacer)
        return response

    def _feed_back(self, response: PipelineResponse[Any, Any], subscription: str, kind: str,
                   configured: dict[str, Limit], the_pacer: Pacer) -> None:
        http_response = response.http_response
        headers = http_response.headers
        for each in KINDS:
            value = headers.get(REMAINING_HEADER.format(kind=each))
            if value is None:
                continue
            try:
                remaining = float(value)
            except ValueError:
                continue
            limit = configured[each]
            the_pacer.lower(bucket_key(self.app_id, subscription, each), limit, remaining - limit.reserve)
        if http_response.status_code == 429 and _error_code(http_response).lower() not in _NOT_THROTTLE_CODES:
            seconds = _retry_after(headers)
            the_pacer.block(bucket_key(self.app_id, subscription, kind), configured[kind],
                            seconds if seconds is not None else 1.0)
