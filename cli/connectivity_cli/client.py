"""The portal's REST API over httpx: bearer token, problem details, retries, cursor pages.

A GET asked again within one command (`watch` polling a request) sends the `ETag` of the copy
it holds in `If-None-Match`; the portal's `304 Not Modified` then costs it no body.

Retries: a 429 is always retried after its Retry-After (the throttle answered before the
request was handled, so nothing was done). Network errors and 502/503/504 are retried only
where repeating is harmless: GETs, and POSTs that carry an Idempotency-Key (the portal answers
a repeat with the first response and creates nothing).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectivity_cli import __version__
from connectivity_cli.config import Credentials

API = "/api/v1"
RETRYABLE_STATUSES = {502, 503, 504}
MAX_RETRY_AFTER = 300.0
KEPT_COPIES = 16  # the last GET answers with an ETag, per command


class ApiError(Exception):
    """A failed call: the problem details the API sent, or what we know of the failure."""

    def __init__(self, status: int | None, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(problem.get("detail") or problem.get("title") or "API call failed")


def retry_after_seconds(value: str | None, default: float) -> float:
    """Retry-After is delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def _problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("title" in body or "detail" in body):
        return body
    excerpt = response.text.strip()[:300]
    return {"title": response.reason_phrase or f"HTTP {response.status_code}",
            "status": response.status_code,
            "detail": excerpt or f"The portal answered {response.status_code} without details."}


class Api:
    def __init__(self, credentials: Credentials, *, max_attempts: int = 6, timeout: float = 30.0,
                 on_wait: Callable[[str, float], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = credentials.url
        self.max_attempts = max_attempts
        self.on_wait = on_wait or (lambda reason, seconds: None)
        self.sleep = sleep
        self.copies: dict[tuple[str, str], tuple[str, Any]] = {}  # (url, query) -> (ETag, body)
        self.http = httpx.Client(
            base_url=credentials.url, timeout=timeout, follow_redirects=False,
            headers={"Authorization": f"Bearer {credentials.token}",
                     "Accept": "application/json",
                     "User-Agent": f"cportal/{__version__}"})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, *, json: Any = None, params: Any = None,
             idempotency_key: str | None = None) -> Any:
        """One API call, retried as the module docstring says; the decoded JSON body."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        repeatable = method == "GET" or idempotency_key is not None
        url = path if path.startswith(("http://", "https://")) else f"{API}{path}"
        copy_key = (url, str(sorted((params or {}).items()))) if method == "GET" else None
        copy = self.copies.get(copy_key) if copy_key else None
        if copy is not None:
            headers["If-None-Match"] = copy[0]
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            backoff = min(30.0, 2.0 ** (attempt - 1))
            try:
                response = self.http.request(method, url, json=json, params=params,
                                             headers=headers)
            except httpx.TransportError as exc:
                safe = repeatable or isinstance(exc, httpx.ConnectError)
                if last or not safe:
                    raise ApiError(None, {"title": "Cannot reach the portal",
                                          "detail": f"{self.url}: {exc or type(exc).__name__}"}) from None
                self.on_wait(f"{type(exc).__name__} talking to {self.url}", backoff)
                self.sleep(backoff)
                continue
            if response.status_code == 429 and not last:
                wait = retry_after_seconds(response.headers.get("Retry-After"), backoff)
                if wait <= MAX_RETRY_AFTER:
                    self.on_wait("throttled (429)", wait)
                    self.sleep(wait)
                    continue
            if response.status_code in RETRYABLE_STATUSES and repeatable and not last:
                wait = retry_after_seconds(response.headers.get("Retry-After"), backoff)
                self.on_wait(f"the portal answered {response.status_code}", wait)
                self.sleep(wait)
                continue
            if response.status_code >= 400:
                raise ApiError(response.status_code, _problem_of(response))
            if response.status_code == 304 and copy is not None:
                return copy[1]
            if response.is_redirect:
                raise ApiError(response.status_code, {
                    "title": "Redirected",
                    "detail": f"{self.url} redirects to {response.headers.get('Location')}: "
                              "log in with the portal's own address (e.g. https://)."})
            if response.status_code == 204 or not response.content:
                return None
            try:
                body = response.json()
            except ValueError:
                raise ApiError(response.status_code, {
                    "title": "Not an API answer",
                    "detail": f"{response.request.url} did not return JSON: is {self.url} the "
                              "portal's address?"}) from None
            etag = response.headers.get("ETag")
            if copy_key is not None and etag:
                self._keep(copy_key, etag, body)
            return body
        raise AssertionError("unreachable")  # pragma: no cover

    def _keep(self, key: tuple[str, str], etag: str, body: Any) -> None:
        self.copies.pop(key, None)
        self.copies[key] = (etag, body)
        while len(self.copies) > KEPT_COPIES:
            del self.copies[next(iter(self.copies))]

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        return self.call("POST", path, json=body if body is not None else {},
                         idempotency_key=idempotency_key)

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list, following `next` until there is none."""
        page = self.get(path, **params)
        while True:
            if isinstance(page, list):  # an unpaginated list
                yield from page
                return
            yield from page.get("results", [])
            if not page.get("next"):
                return
            page = self.call("GET", self._same_origin(page["next"]))

    def _same_origin(self, link: str) -> str:
        """A page link's path and query on our own portal URL: the token goes nowhere else,
        whatever host a proxy made the portal put in its links."""
        ours, parts = urlsplit(self.url), urlsplit(link)
        return f"{ours.scheme}://{ours.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
