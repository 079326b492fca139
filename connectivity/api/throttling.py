"""Rate limits per token and per user. Rates live in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from connectivity import ratelimit
from connectivity.api.authentication import token_of


class _LiveRateThrottle(SimpleRateThrottle):
    # DRF binds THROTTLE_RATES at import; reading at call time lets tests and settings change it.
    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates.get(self.scope or "")


class TokenRateThrottle(_LiveRateThrottle):
    """Each token has its own budget, so one busy pipeline does not starve another."""

    scope = "api_token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token = token_of(request)
        if token is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": token.pk}


class UserRateThrottle(_LiveRateThrottle):
    """Everything one user does, by session or through any of their tokens, adds up here."""

    scope = "api_user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


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
