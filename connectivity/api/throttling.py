"""Rate limits per token and per user. Rates live in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from connectivity.api.authentication import token_of


class _LiveRateThrottle(SimpleRateThrottle):
    # DRF binds THROTTLE_RATES at import; reading at call time lets tests and settings change it.
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


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
