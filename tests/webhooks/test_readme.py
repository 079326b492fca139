"""The README's receiver example verifies a real delivery as it is written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from connectivity.models import Cluster, User
from tests.webhooks.conftest import Receiver, make_endpoint, run_due

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_receiver_accepts_a_delivery_and_refuses_a_forgery(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    section = README.read_text().split("## Webhooks", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    _, secret = make_endpoint(customer, receiver, events=["request.created"])
    from tests.webhooks.test_delivery import _one_event

    _one_event(customer, dedicated_cluster)
    run_due()
    [received] = receiver.received
    monkeypatch.setenv("PORTAL_WEBHOOK_SECRET", secret)
    handled: list[tuple[str, Any]] = []
    namespace: dict[str, Any] = {"already_seen": lambda event_id: False,
                                 "handle": lambda kind, request: handled.append((kind, request))}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    assert namespace["receive"](received.body, received.headers) == 200
    assert handled[0][0] == "request.created" and handled[0][1]["state"] == "draft"
    assert namespace["receive"](received.body.replace(b"draft", b"active"), received.headers) == 400
