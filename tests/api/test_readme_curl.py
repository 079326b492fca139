"""The README's curl example: no tool beyond curl, and a retry of the same command files nothing new."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from connectivity.models import Cluster, ConnectivityRequest, User
from tests.api.conftest import client_with, make_token

README = Path(__file__).resolve().parents[2] / "README.md"


def curl_block() -> str:
    section = README.read_text().split("File a peering with curl", 1)[1]
    return re.search(r"```\n(.*?)```", section, re.DOTALL)[1]  # type: ignore[index]


def test_the_curl_example_needs_only_curl() -> None:
    block = curl_block()
    assert "uuidgen" not in block and "$(" not in block


@pytest.mark.django_db
def test_running_the_curl_create_twice_files_one_request(customer: User,
                                                        dedicated_cluster: Cluster) -> None:
    block = curl_block()
    key = re.search(r'-H "Idempotency-Key: ([^"]+)"', block)[1]  # type: ignore[index]
    body = json.loads(re.search(r"-d '(.*?)'", block, re.DOTALL)[1])  # type: ignore[index]
    body["cluster"] = dedicated_cluster.pk
    client = client_with(make_token(customer))
    first = client.post("/api/v1/requests/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = client.post("/api/v1/requests/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 201, first.content
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert ConnectivityRequest.objects.count() == 1
