"""The README's Python automation example, run as written against the real stack.

A live server, a real Celery worker, Postgres, Redis and the Azure simulator: the script files a
peering with a token, "runs" the grant (the simulator's control API does what `az` would),
verifies, polls to `active` and prints the revoke command.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from connectivity.models import Cluster, ConnectivityRequest, Organization, User
from tests.api.conftest import make_token

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.redis,
              pytest.mark.timeout(180)]
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_python_example() -> str:
    section = README.read_text().split("## Automation API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL)[1]  # type: ignore[index]


def test_readme_example_files_a_peering_polls_to_active_and_prints_the_revoke_command(
    stack_worker: Any, azure_stack: Any, live_server: Any, customer: User, sim_cluster: Cluster,
    organization: Organization, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
) -> None:
    Organization.objects.filter(pk=organization.pk).update(auto_approve=True)
    monkeypatch.setenv("PORTAL", live_server.url)
    monkeypatch.setenv("TOKEN", make_token(customer, name="readme"))
    script = (readme_python_example()
              .replace("input()", "run_grant_in_customer_tenant()")
              .replace("time.sleep(", "nap("))
    exec(compile(script, str(README), "exec"), {  # our own README, on purpose
        "__name__": "readme_example",
        # The demo customer runs the grant script: the role, with the request's proof.
        "run_grant_in_customer_tenant": lambda: azure_stack.grant(ConnectivityRequest.objects.get()),
        "nap": lambda seconds: time.sleep(min(seconds, 0.5)),
    })

    printed = capsys.readouterr().out
    request = ConnectivityRequest.objects.get()
    assert request.state == "active"
    assert f"Peering {request.pk} is active" in printed
    assert "az role assignment delete" in printed
    assert request.customer_vnet_id in printed.splitlines()[-1]
