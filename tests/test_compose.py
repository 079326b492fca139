"""docker-compose.yml, .env.example and the Dockerfile agree with what the project reads.

No Docker engine runs here, so these tests read the files the way compose would (YAML merge
keys, ``${VAR}`` interpolation from ``.env``) and check each service against the code: the
settings' environment names, the Celery app, the WSGI module, the simulator's management
command and ``/healthz``.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shlex
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat", "simulator")
LONG_RUNNING = ("web", "worker", "beat", "postgres", "redis", "simulator")
# Names in .env.example that configure compose itself or the postgres image, not the project.
COMPOSE_ONLY_PREFIXES = ("COMPOSE_", "POSTGRES_")
# Read by Django itself rather than by portal/settings/.
READ_BY_DJANGO = {"DJANGO_SETTINGS_MODULE"}

_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\})")


def read_dotenv(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


DOTENV = read_dotenv(ROOT / ".env.example")
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's substitution: ${VAR}, ${VAR:-default}, and $$ for a literal dollar."""
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group("name")
            if name in env:
                return env[name]
            if match.group("default") is not None:
                return match.group("default")
            raise AssertionError(f"docker-compose.yml uses ${{{name}}}, which .env.example lacks")
        return _VARIABLE.sub(substitute, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def service_environment(name: str) -> dict[str, str]:
    """What a service's process sees: env_file (.env, from .env.example), then `environment`."""
    service = SERVICES[name]
    env: dict[str, str] = {}
    env_files = service.get("env_file") or []
    for env_file in [env_files] if isinstance(env_files, str) else env_files:
        assert env_file == ".env", f"{name} reads {env_file}; the project documents .env only"
        env.update(DOTENV)
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    env.update({k: str(v) for k, v in interpolate(environment, DOTENV).items()})
    return env


def command(name: str) -> list[str]:
    value = interpolate(SERVICES[name]["command"], DOTENV)
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def settings_environment_names() -> set[str]:
    """Every variable portal/settings/*.py reads: env.<type>("NAME"), env("NAME"), required("NAME")."""
    names: set[str] = set()
    for path in (ROOT / "portal" / "settings").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            reads = (
                (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                 and func.value.id == "env")
                or (isinstance(func, ast.Name) and func.id in ("env", "required"))
            )
            first = node.args[0]
            if reads and isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def production_required_names() -> set[str]:
    tree = ast.parse((ROOT / "portal" / "settings" / "production.py").read_text())
    names = {
        node.args[0].value for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id == "required" and node.args and isinstance(node.args[0], ast.Constant)
    }
    # Read with env.list(...) and no default, so production cannot start without them either.
    names.add("DJANGO_ALLOWED_HOSTS")
    return names


def load_settings(env: dict[str, str]) -> dict[str, Any]:
    """Import the service's settings module in a fresh process with exactly this environment."""
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'module': s.SETTINGS_MODULE, 'debug': s.DEBUG, "
        "'db': {k: s.DATABASES['default'][k] "
        "for k in ('ENGINE', 'NAME', 'USER', 'PASSWORD', 'HOST', 'PORT')}, "
        "'broker': s.CELERY_BROKER_URL, 'cache': s.CACHES['default']['BACKEND'], "
        "'simulator': s.AZURE_SIMULATOR, 'arm': s.AZURE_ARM_ENDPOINT, "
        "'authority': s.AZURE_AUTHORITY_HOST, 'ca': s.AZURE_CA_BUNDLE, "
        "'allowed_hosts': s.ALLOWED_HOSTS, 'keys': len(s.FIELD_ENCRYPTION_KEYS)}))"
    )
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    result = subprocess.run(
        [sys.executable, "-c", script], env={**base, **env}, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, f"settings failed to load:\n{result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_stack_has_every_service_and_postgres_keeps_its_data_in_a_volume() -> None:
    assert set(LONG_RUNNING) | {"migrate"} <= set(SERVICES)
    volumes = SERVICES["postgres"]["volumes"]
    named = [v.split(":")[0] for v in volumes if v.split(":")[1] == "/var/lib/postgresql/data"]
    assert named and named[0] in COMPOSE["volumes"], "postgres data must live in a named volume"


def test_every_variable_reaches_a_setting_the_project_reads() -> None:
    known = settings_environment_names() | READ_BY_DJANGO
    for name in APP_SERVICES:
        unread = {
            key for key in service_environment(name)
            if key not in known and not key.startswith(COMPOSE_ONLY_PREFIXES)
        }
        assert not unread, f"{name} sets variables nothing reads: {sorted(unread)}"
    postgres_env = interpolate(SERVICES["postgres"]["environment"], DOTENV)
    assert set(postgres_env) <= {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}


def test_env_example_holds_every_production_requirement() -> None:
    missing = production_required_names() - set(DOTENV)
    assert not missing, f".env.example lacks {sorted(missing)}, which production requires"
    assert all(DOTENV[name] for name in production_required_names())


def test_every_compose_reference_is_defined_in_env_example() -> None:
    interpolate(COMPOSE, DOTENV)  # raises naming any ${VAR} without a value or default


@pytest.mark.parametrize("azure_simulator", ["true", "false"])
def test_production_settings_load_from_the_compose_environment(azure_simulator: str) -> None:
    env = service_environment("web")
    for name in ("worker", "beat", "migrate"):
        assert service_environment(name) == env, f"{name} must see the same settings as web"
    env["AZURE_SIMULATOR"] = azure_simulator
    loaded = load_settings(env)

    assert loaded["module"] == "portal.settings.production"
    assert loaded["debug"] is False
    assert loaded["db"]["ENGINE"].endswith("postgresql")
    assert loaded["db"]["HOST"] == "postgres"
    assert loaded["db"]["NAME"] == DOTENV["POSTGRES_DB"]
    assert loaded["db"]["USER"] == DOTENV["POSTGRES_USER"]
    assert loaded["db"]["PASSWORD"] == DOTENV["POSTGRES_PASSWORD"]
    assert urlsplit(loaded["broker"]).hostname == "redis"
    assert loaded["cache"].endswith("RedisCache")
    assert loaded["keys"] >= 1
    assert "localhost" in loaded["allowed_hosts"]
    if azure_simulator == "true":
        assert loaded["simulator"] is True
        assert urlsplit(loaded["arm"]).hostname == "simulator"
        assert urlsplit(loaded["authority"]).hostname == "simulator"
    else:
        assert loaded["simulator"] is False


def test_web_runs_gunicorn_on_the_wsgi_app_and_checks_healthz(client: Any, db: None) -> None:
    argv = command("web")
    assert argv[0] == "gunicorn"
    assert "portal.wsgi" in argv
    from django.conf import settings

    assert settings.WSGI_APPLICATION == "portal.wsgi.application"
    bind = argv[argv.index("--bind") + 1]
    container_port = bind.rsplit(":", 1)[1]
    assert any(str(p).endswith(f":{container_port}") for p in SERVICES["web"]["ports"])

    check = " ".join(SERVICES["web"]["healthcheck"]["test"])
    assert f"127.0.0.1:{container_port}/healthz" in check
    response = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("name,role", [("worker", "worker"), ("beat", "beat")])
def test_worker_and_beat_run_the_portal_celery_app(name: str, role: str) -> None:
    from celery.app.utils import find_app

    argv = command(name)
    assert argv[:4] == ["celery", "-A", "portal", role]
    app = find_app(argv[2])
    assert app.main == "portal"
    assert "connectivity.tasks.request_advance" in app.tasks or _autodiscovered(app)


def _autodiscovered(app: Any) -> bool:
    app.loader.import_default_modules()
    return "connectivity.tasks.request_advance" in app.tasks


def test_simulator_runs_the_bundled_command_where_the_others_look_for_it() -> None:
    from django.core.management import get_commands, load_command_class

    script = command("simulator")
    assert script[:2] == ["sh", "-c"]
    steps = script[2].split(" && ")
    run = shlex.split(steps[-1])
    assert run[:4] == ["exec", "python", "manage.py", "azure_simulator"]
    assert get_commands()["azure_simulator"] == "connectivity"
    parser = load_command_class("connectivity", "azure_simulator").create_parser(
        "manage.py", "azure_simulator")
    options = parser.parse_args(run[4:])

    env = service_environment("web")
    arm = urlsplit(env["AZURE_ARM_ENDPOINT"])
    assert (options.host, options.port) == (arm.hostname, arm.port)
    assert env["AZURE_AUTHORITY_HOST"] == env["AZURE_ARM_ENDPOINT"]
    # The CA the simulator writes is the bundle web, worker and beat trust, on a shared volume.
    ca_dir = str(Path(env["AZURE_CA_BUNDLE"]).parent)
    assert options.cert_dir == ca_dir
    sim_volume = next(v.split(":")[0] for v in SERVICES["simulator"]["volumes"]
                      if v.split(":")[1] == ca_dir)
    for name in ("web", "worker", "beat"):
        assert any(v.split(":")[:2] == [sim_volume, ca_dir] for v in SERVICES[name]["volumes"])

    # The seed step prints the demo's simulator world; run its Python as the shell would.
    seed_step = shlex.split(steps[0])
    assert seed_step[:4] == ["python", "manage.py", "shell", "-c"]
    assert seed_step[5:] == [">", options.seed]
    output = io.StringIO()
    with redirect_stdout(output):
        exec(seed_step[4], {})
    seed = json.loads(output.getvalue())
    # fabrikam: a tenant no organisation claimed, for the SSO demo's refusal.
    assert {t["name"] for t in seed["tenants"]} == {"platform", "contoso", "fabrikam"}


def test_every_long_running_service_has_a_health_check_and_waits_for_what_it_needs() -> None:
    for name in LONG_RUNNING:
        test = SERVICES[name].get("healthcheck", {}).get("test")
        assert test, f"{name} has no health check"
    for name, service in SERVICES.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
    for name in ("web", "worker", "beat"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
    assert command("migrate") == ["python", "manage.py", "migrate", "--noinput"]
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["simulator"]["profiles"] == ["demo"]
    assert DOTENV["COMPOSE_PROFILES"] == "demo", "the demo runs the simulator out of the box"


def test_the_image_installs_the_project_collects_static_and_serves_with_gunicorn() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert "pip install" in dockerfile
    assert "manage.py collectstatic --noinput" in dockerfile
    cmd = json.loads(re.search(r"^CMD (.+)$", dockerfile, re.MULTILINE).group(1))
    assert cmd[:2] == ["gunicorn", "portal.wsgi"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git"} <= set(ignored), "secrets and local state stay out of the image"
