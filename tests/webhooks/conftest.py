"""A real HTTP receiver on loopback that checks every delivery's signature with the
`standardwebhooks` library, as a customer's receiver would, and helpers to run deliveries."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from connectivity import services
from connectivity.models import User, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from connectivity.webhooks import delivery as sending
from connectivity.webhooks import services as webhook_services


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any = None  # the verified payload, or None
    error: str = ""  # why verification failed


@dataclass
class Receiver:
    url: str
    secrets: list[str] = field(default_factory=list)  # any one of them must verify
    statuses: list[int] = field(default_factory=list)  # answers in order; then 200
    received: list[Received] = field(default_factory=list)

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200

    def verify(self, body: bytes, headers: dict[str, str]) -> tuple[Any, str]:
        errors = []
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers), ""
            except WebhookVerificationError as exc:
                errors.append(str(exc))
        return None, "; ".join(errors) or "no secret to verify with"

    @property
    def verified(self) -> list[Any]:
        return [r.payload for r in self.received if r.payload is not None]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k: v for k, v in self.headers.items()}
            payload, error = state.verify(body, headers)
            state.received.append(Received(self.path, headers, body, payload, error))
            status = state.answer()
            reply = json.dumps({"ok": status < 300, "verified": payload is not None}).encode()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/portal"
    yield state
    server.shutdown()
    server.server_close()


def make_endpoint(owner: User, receiver: Receiver, events: list[str] | None = None,
                  ) -> tuple[WebhookEndpoint, str]:
    from connectivity.webhooks.events import EVENT_TYPES

    endpoint, secret = webhook_services.webhook_endpoint_create(
        actor=owner, organization=owner.organization,  # type: ignore[arg-type]
        url=receiver.url, events=events or list(EVENT_TYPES), description="test receiver")
    receiver.secrets.append(secret)
    return endpoint, secret


def run_due(now: datetime | None = None) -> list[WebhookAttempt]:
    """What a worker does: attempt every due delivery, oldest first."""
    now = now or timezone.now()
    attempts = []
    for pk in WebhookDelivery.objects.filter(
            state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now,
    ).order_by("created_at", "pk").values_list("pk", flat=True):
        attempt = sending.deliver(pk, now=now)
        if attempt is not None:
            attempts.append(attempt)
    return attempts


def api_client(user: User, *, scope: str = "write") -> APIClient:
    _, token = services.api_token_create(actor=user, organization=user.organization,  # type: ignore[arg-type]
                                         name=f"hooks-{user.pk}", scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
