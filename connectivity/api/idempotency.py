"""Idempotent creates: a retried POST with the same `Idempotency-Key` gets the first response.

The key is scoped to the organisation. The stored fingerprint covers the method, the path and
the parsed body, so the same key sent with another body (or to another endpoint) is a 409 rather
than a silent replay of something else. Only successful responses are stored: a rejected create
changed nothing, so retrying it simply runs it again. Keys expire after
IDEMPOTENCY_KEY_RETENTION_HOURS (24) and a periodic task purges them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from connectivity import retention
from connectivity.api.errors import Conflict
from connectivity.models import IdempotencyKey, Organization

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class _LostRace(Exception):
    """Another call with the same key committed first; ours is rolled back and replays theirs."""


def _key_of(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(0x21 <= ord(ch) <= 0x7E for ch in key):
        raise ValidationError({HEADER: [
            f"{HEADER} must be 1-{MAX_KEY_LENGTH} visible ASCII characters (a UUID is a good key)."
        ]})
    return key


def _fingerprint(request: Request) -> str:
    payload = {"method": request.method, "path": request.path, "body": request.data}
    canonical = json.dumps(payload, sort_keys=True, cls=JSONEncoder, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(stored: IdempotencyKey, body_hash: str) -> Response:
    if stored.body_hash != body_hash:
        raise Conflict(
            f"This {HEADER} was already used with a different request body; use a new key for "
            "a new request.")
    headers = {"Idempotent-Replayed": "true"}
    if isinstance(stored.response_body, dict) and isinstance(stored.response_body.get("url"), str):
        headers["Location"] = stored.response_body["url"]
    return Response(stored.response_body, status=stored.response_status, headers=headers)


def idempotent(request: Request, organization: Organization,
               create: Callable[[], Response]) -> Response:
    """Run `create` once per (organisation, key); replay its response for a retry."""
    key = _key_of(request)
    if key is None:
        return create()
    body_hash = _fingerprint(request)
    stored = IdempotencyKey.objects.filter(organization=organization, key=key).first()
    if stored is not None and stored.created_at < retention.idempotency_cutoff():
        stored.delete()  # expired (the periodic purge had not reached it yet): a new create
        stored = None
    if stored is not None:
        return _replay(stored, body_hash)
    try:
        with transaction.atomic():
            response = create()
            if 200 <= response.status_code < 300:
                body = json.loads(json.dumps(response.data, cls=JSONEncoder))
                try:
                    with transaction.atomic():
                        IdempotencyKey.objects.create(
                            organization=organization, key=key, body_hash=body_hash,
                            response_status=response.status_code, response_body=body)
                except IntegrityError:
                    raise _LostRace from None
    except _LostRace:
        return _replay(IdempotencyKey.objects.get(organization=organization, key=key), body_hash)
    return response
