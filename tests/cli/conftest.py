"""The CLI against a live portal: a real HTTP server (pytest-django's live_server), a real API
token made by the services, and `cportal` run in-process with typer's CliRunner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from connectivity_cli.main import app
from django.core.cache import cache
from typer.testing import CliRunner, Result

from connectivity import lifecycle, services
from connectivity.models import ConnectivityRequest, User
from tests.api.conftest import make_token, preflight_passes  # noqa: F401  (a fixture)

Cportal = Callable[..., Result]


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    """Throttle counters live in the cache, which outlives each test's database."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config dir of the test's own (XDG_CONFIG_HOME), no credentials in the environment."""
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("CPORTAL_URL", raising=False)
    monkeypatch.delenv("CPORTAL_TOKEN", raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: no wrapping of ids in the assertions
    return home


@pytest.fixture
def token(customer: User) -> str:
    return make_token(customer, name="cli")


@pytest.fixture
def run_cli(config_home: Path) -> Callable[..., Result]:
    """`cportal ARGS` in-process, without credentials unless `env` gives them."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return run


@pytest.fixture
def cportal(run_cli: Callable[..., Result], live_server: Any, token: str) -> Cportal:
    """`cportal ARGS` logged in (CPORTAL_URL, CPORTAL_TOKEN) as the customer's organisation."""
    def run(*args: str, input: str | None = None, **env: str) -> Result:
        return run_cli(*args, input=input,
                       env={"CPORTAL_URL": live_server.url, "CPORTAL_TOKEN": token, **env})

    return run


def walk(request: ConnectivityRequest, *states: str, message: str = "") -> ConnectivityRequest:
    """Move a request along `states` as the worker would (the system as actor)."""
    for state in states:
        request = lifecycle.transition(request, to=state, actor=None, action=f"test_{state}",
                                       message=message, status_message=message)
    return request


def approved(request: ConnectivityRequest, *, customer: User, approver: User) -> ConnectivityRequest:
    """awaiting_grant → pending_approval (pre-flight passes) → approved, through the services."""
    request = services.request_verify(request=request, actor=customer)
    assert request.state == "pending_approval", request.preflight
    return services.request_approve(request=request, actor=approver)
