"""Fault injection and ARM-style throttling.

Random faults draw from one seedable RNG so a chaos run can be replayed. Scripted ``rules``
fire deterministically (``count`` times) for tests that need an exact sequence.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "latency_ms": 0,
    "lro_duration": 0.0,
    "throttle_rate": 0.0,
    "throttle_retry_after": 1.0,
    "error_rate": 0.0,
    "error_statuses": [500, 503],
    "lro_failure_rate": 0.0,
    "lro_failure_code": "InternalServerError",
    "lro_failure_message": "An error occurred while provisioning the resource.",
    # Operations that end Canceled because another operation on the same resource superseded
    # them (real traffic: a details code CanceledAndSupersededDueToAnotherOperation).
    "lro_cancel_rate": 0.0,
    # Seconds per resource type (last type segment, e.g. "virtualNetworkPeerings"), overriding
    # lro_duration; see ARM_DURATIONS for what real Azure takes.
    "lro_durations": {},
    # Real Azure's network and private DNS polls usually carry no Retry-After (the SDK then
    # waits its own polling interval); the simulator sends one by default to keep tests fast.
    "poll_retry_after": True,
    # Render injected and busy errors as real traffic often does: a generic top-level code
    # ("RetryableError") with the specific code and its retry hint in error.details[].
    "wrap_errors": False,
    # How a VNet busy with another operation answers: "retryable" (429
    # RetryableErrorDueToAnotherOperation), "another_operation" (409
    # AnotherOperationInProgress) or "not_provisioned" (400 ReferencedResourceNotProvisioned).
    "busy_style": "retryable",
    "propagation_delay": 0.0,
    "targets": "all",
    "path_contains": None,
    "busy_retry_after": 1.0,
    "limits": {"reads": [250, 25.0], "writes": [200, 10.0], "deletes": [200, 10.0]},
    "rules": [],
}
TARGETS = ("all", "reads", "writes", "polls", "non-polls")
BUSY_STYLES = ("retryable", "another_operation", "not_provisioned")

#: Operation durations seen in recorded real traffic, in seconds (AZURE.md): set
#: ``{"lro_durations": ARM_DURATIONS}`` (or a scaled copy) to run at Azure's own pace.
ARM_DURATIONS: dict[str, float] = {
    "virtualNetworkPeerings": 15.0,
    "privateDnsZones": 21.0,
    "virtualNetworkLinks": 65.0,
    "forwardingRules": 5.0,
    "virtualNetworks": 10.0,
    # Virtual WAN hub connections take minutes on real Azure.
    "hubVirtualNetworkConnections": 180.0,
}


def format_retry_after(seconds: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds as ARM sends it, plus ``retry-after-ms``.

    The generated clients parse ``Retry-After`` with ``int()``, so it is never fractional.
    A sub-second wait (fast test settings) is sent only as ``retry-after-ms``, which
    azure-core's retry and polling also honour; a zero would make azure-core fall back to its
    own (30 s) polling interval, so the minimum is 1 ms.
    """
    seconds = max(0.0, seconds)
    headers = {"retry-after-ms": str(max(1, round(seconds * 1000)))}
    if seconds >= 1:
        headers["Retry-After"] = str(math.ceil(seconds))
    return headers


@dataclass
class Injected:
    status: int
    code: str
    message: str
    retry_after: float | None = None
    wrap: str | None = None  # a generic top-level code; the specific one goes in details[]


class TokenBucket:
    def __init__(self, burst: float, rate: float) -> None:
        self.burst = burst
        self.rate = rate
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> tuple[bool, int, float]:
        """(allowed, tokens left, seconds until one token is back)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True, int(self.tokens), 0.0
        wait = (1 - self.tokens) / self.rate if self.rate > 0 else 60.0
        return False, 0, wait


class Faults:
    """Holds the fault configuration; thread-safe on its own lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.config: dict[str, Any] = {}
        self.rng = random.Random(0)
        self.buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.config = {k: (list(v) if isinstance(v, list) else v) for k, v in DEFAULTS.items()}
            self.config["limits"] = {k: list(v) for k, v in DEFAULTS["limits"].items()}
            self.config["lro_durations"] = {}
            self.rng = random.Random(self.config["seed"])
            self.buckets = {}

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        if "targets" in changes and changes["targets"] not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}")
        if "busy_style" in changes and changes["busy_style"] not in BUSY_STYLES:
            raise ValueError(f"busy_style must be one of {BUSY_STYLES}")
        durations = changes.get("lro_durations", {})
        if not isinstance(durations, dict) or not all(
                isinstance(v, int | float) and v >= 0 for v in durations.values()):
            raise ValueError("lro_durations maps a resource type to seconds (a number >= 0)")
        with self._lock:
            for key, value in changes.items():
                if key == "limits":
                    self.config["limits"].update({k: list(v) for k, v in value.items()})
                    self.buckets = {}
                elif key == "lro_durations":
                    self.config["lro_durations"] = dict(value)
                elif key == "rules":
                    self.config["rules"] = [dict(r) for r in value]
                else:
                    self.config[key] = value
            if "seed" in changes:
                self.rng = random.Random(changes["seed"])
            return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        return {
            k: ([dict(r) for r in v] if k == "rules" else (dict(v) if isinstance(v, dict) else v))
            for k, v in self.config.items()
        }

    def get(self, key: str) -> Any:
        return self.config[key]

    def _targeted(self, method: str, path: str, is_poll: bool) -> bool:
        target = self.config["targets"]
        contains = self.config["path_contains"]
        if contains and contains.lower() not in path.lower():
            return False
        is_write = method in ("PUT", "POST", "DELETE", "PATCH")
        return (
            target == "all"
            or (target == "writes" and is_write)
            or (target == "reads" and not is_write)
            or (target == "polls" and is_poll)
            or (target == "non-polls" and not is_poll)
        )

    def pick(self, method: str, path: str, is_poll: bool) -> Injected | None:
        """The fault to answer this request with, if any."""
        with self._lock:
            for rule in self.config["rules"]:
                if rule.get("count", 1) <= 0:
                    continue
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if rule.get("path_contains") and rule["path_contains"].lower() not in path.lower():
                    continue
                rule["count"] = rule.get("count", 1) - 1
                status = int(rule.get("status", 500))
                return Injected(
                    status=status,
                    code=rule.get("code") or _default_code(status),
                    message=rule.get("message") or _default_message(status),
                    retry_after=rule.get("retry_after"),
                    wrap=rule.get("wrap") or self._wrap(),
                )
            if not self._targeted(method, path, is_poll):
                return None
            throttle, error = self.config["throttle_rate"], self.config["error_rate"]
            if not throttle and not error:
                return None
            draw = self.rng.random()
            if draw < throttle:
                return Injected(429, "TooManyRequests", _default_message(429),
                                float(self.config["throttle_retry_after"]))
            if draw < throttle + error:
                status = int(self.rng.choice(self.config["error_statuses"]))
                return Injected(status, _default_code(status), _default_message(status),
                                wrap=self._wrap())
            return None

    def _wrap(self) -> str | None:
        return "RetryableError" if self.config["wrap_errors"] else None

    def lro_canceled(self) -> bool:
        """Whether a new operation will end Canceled, superseded by another one."""
        with self._lock:
            rate = self.config["lro_cancel_rate"]
            return bool(rate) and self.rng.random() < rate

    def lro_duration(self, resource_type: str) -> float:
        """Seconds an operation on ``resource_type`` takes (per-type setting, else the default)."""
        with self._lock:
            last = resource_type.rsplit("/", 1)[-1]
            durations = {k.lower(): v for k, v in self.config["lro_durations"].items()}
            return float(durations.get(last.lower(), self.config["lro_duration"]))

    def lro_fails(self) -> bool:
        with self._lock:
            rate = self.config["lro_failure_rate"]
            return bool(rate) and self.rng.random() < rate

    def take(self, principal: str, subscription: str, kind: str) -> tuple[bool, int, float]:
        with self._lock:
            key = (principal.lower(), subscription.lower(), kind)
            bucket = self.buckets.get(key)
            if bucket is None:
                burst, rate = self.config["limits"][kind]
                bucket = self.buckets[key] = TokenBucket(float(burst), float(rate))
            return bucket.take()


def _default_code(status: int) -> str:
    return {
        429: "TooManyRequests",
        500: "InternalServerError",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "GatewayTimeout",
    }.get(status, "InjectedFault")


def _default_message(status: int) -> str:
    return {
        429: "The request is being throttled.",
        500: "An error has occurred. Please retry the request later.",
        503: "The service is temporarily unavailable. Please retry the request later.",
    }.get(status, "Injected fault.")
