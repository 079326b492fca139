"""Rate limits per token and per user. Rates live in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]."""

from __future__ import annotations

import math
import time
from typing import Any, cast

from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from connectivity import ratelimit
from connectivity.api.authentication import token_of
from connectivity.cache import charge


def _rate(scope: str) -> tuple[int, int] | None:
    """(calls, seconds) for a scope, read at call time so tests and settings can change it."""
    rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
    rate = rates.get(scope)
    if not rate:
        return None
    calls, period = SimpleRateThrottle.parse_rate(cast(SimpleRateThrottle, None), rate)
    return cast(int, calls), cast(int, period)


class ApiRateThrottle(BaseThrottle):
    """Each token has its own budget (`api_token`), so one busy pipeline does not starve
    another; everything one user does, by session or through any of their tokens, adds up in
    theirs (`api_user`).

    Counted per fixed window (a minute for `600/min`) in the cache: both budgets in one Redis
    round trip (`connectivity.cache.charge`), whatever the rate, and a call refused by one
    budget counts against neither. DRF's SimpleRateThrottle keeps a list of every call's time
    per budget and reads and writes it twice per call, which cost a quarter of a detail call's
    CPU. On Redis the check and the count are atomic; on another cache calls racing each other
    may slip a few past the limit (a limit here is about fairness, not a security boundary).
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        self._wait: int | None = None
        budgets: list[tuple[str, int, int, int]] = []  # key, limit, period, seconds left
        now = time.time()
        token = token_of(request)
        for scope, ident in (("api_token", token.pk if token is not None else None),
                             ("api_user", request.user.pk if request.user
                              and request.user.is_authenticated else None)):
            rate = _rate(scope) if ident is not None else None
            if rate is None:
                continue
            limit, period = rate
            window = int(now // period)
            budgets.append((f"throttle:{scope}:{ident}:{period}:{window}", limit, period,
                            math.ceil((window + 1) * period - now)))
        if not budgets:
            return True
        over = set(charge({key: limit for key, limit, _, _ in budgets},
                          timeout=max(period for _, _, period, _ in budgets) + 1))
        if over:
            self._wait = max(1, max(left for key, _, _, left in budgets if key in over))
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


# The names views have used; both budgets are one throttle now.
TokenRateThrottle = UserRateThrottle = ApiRateThrottle


class _ActionThrottle(BaseThrottle):
    """A POST that costs Azure calls or staff time shares the portal's per-user budget
    (connectivity.ratelimit), so switching from the browser to the API buys no extra attempts."""

    action = ""
    limit = (0, 60)  # attempts, seconds

    def allow_request(self, request: Request, view: Any) -> bool:
        self._wait: int | None = None
        if request.method != "POST" or not request.user or not request.user.is_authenticated:
            return True
        self._wait = ratelimit.retry_after(f"{self.action}:{request.user.pk}",
                                           limit=self.limit[0], window=self.limit[1])
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class VerifyGrantThrottle(_ActionThrottle):
    """verify-grant runs pre-flight against Azure: six a minute, like the portal's button."""

    action = "verify"
    limit = (6, 60)


class CommentThrottle(_ActionThrottle):
    action = "comment"
    limit = (10, 60)


def charge_preflight(request: Request) -> None:
    """Count a create or submit that runs pre-flight (Azure calls) against the verify budget;
    raise Throttled (429 with Retry-After) when it is spent."""
    action, (limit, window) = VerifyGrantThrottle.action, VerifyGrantThrottle.limit
    wait = ratelimit.retry_after(f"{action}:{request.user.pk}", limit=limit, window=window)
    if wait is not None:
        raise Throttled(wait=wait, detail=f"Too many pre-flight checks in a short time; try "
                                          f"again in {wait} s.")
