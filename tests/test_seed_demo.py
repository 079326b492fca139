from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from connectivity.models import Cluster, Organization, User


@pytest.fixture(autouse=True)
def _run_dir(settings, tmp_path) -> None:
    settings.RUN_DIR = tmp_path  # the demo's passwords file goes here, not into .run/


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_passwords_once(capsys) -> None:
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out
    assert "customer@contoso.example" in first and "already exist" in second
    assert Organization.objects.count() == 1
    assert User.objects.count() == 4
    assert set(Cluster.objects.values_list("tier", flat=True)) == {"standard", "dedicated"}
    approver = User.objects.get(email="approver@platform.example")
    assert approver.is_staff and approver.has_perm("connectivity.approve_request")
    customer = User.objects.get(email="customer@contoso.example")
    assert customer.organization.slug == "contoso" and not customer.is_staff


@pytest.mark.django_db
def test_seed_demo_says_who_is_who_and_show_prints_it_again(capsys, settings, tmp_path) -> None:
    settings.SITE_URL = "http://127.0.0.1:8123"
    call_command("seed_demo", "--quiet")
    quiet = capsys.readouterr().out
    assert "customer@contoso.example" not in quiet  # printed later, after the worker's banner
    call_command("seed_demo", "--show")
    shown = capsys.readouterr().out
    passwords = json.loads((tmp_path / "demo-users.json").read_text())
    assert oct((tmp_path / "demo-users.json").stat().st_mode & 0o777) == "0o600"
    for email, role in [("customer@contoso.example", "customer: owner"),
                        ("teammate@contoso.example", "teammate: member"),
                        ("approver@platform.example", "approver: platform staff"),
                        ("support@platform.example", "support: platform staff")]:
        line = next(line for line in shown.splitlines() if email in line)
        assert role in line and passwords[email] in line
    assert "http://127.0.0.1:8123/console/" in shown
    assert "http://127.0.0.1:8123/accounts/login/" in shown
    assert "must enrol an authenticator app" in shown and "manage.py totp_code" in shown


def test_totp_code_prints_the_code_an_authenticator_app_would(capsys) -> None:
    from allauth.mfa.totp.internal.auth import validate_totp_code

    secret = "JBSWY3DPEHPK3PXP"
    call_command("totp_code", secret)
    code = capsys.readouterr().out.strip()
    assert len(code) == 6 and validate_totp_code(secret, code)


def test_totp_code_explains_a_bad_secret() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="base32"):
        call_command("totp_code", "not a secret!")


def test_make_run_takes_addr_port_and_the_simulator_port() -> None:
    import subprocess

    out = subprocess.run(["make", "-n", "run", "ADDR=0.0.0.0", "PORT=8123",
                          "SIMULATOR_PORT=9443"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True).stdout
    assert "--addr 0.0.0.0:8123" in out and "--simulator-port 9443" in out
    assert "AZURE_SIMULATOR_PORT=9443" in out


def test_run_portal_derives_the_site_url_and_allowed_host_from_the_address() -> None:
    from connectivity.management.commands.run_portal import child_env, normalize_addr

    env = child_env({}, addr=normalize_addr("192.168.1.5:8123"), simulator_port=9443)
    assert env["PORTAL_SITE_URL"] == "http://192.168.1.5:8123"
    assert env["AZURE_SIMULATOR_PORT"] == "9443"
    assert "192.168.1.5" in env["DJANGO_ALLOWED_HOSTS"].split(",")
    assert child_env({}, addr=normalize_addr("8001"), simulator_port=8443)[
        "PORTAL_SITE_URL"] == "http://127.0.0.1:8001"
    assert child_env({}, addr="0.0.0.0:8001", simulator_port=8443)[
        "PORTAL_SITE_URL"] == "http://127.0.0.1:8001"
    kept = child_env({"PORTAL_SITE_URL": "https://portal.example"}, addr="127.0.0.1:8001",
                     simulator_port=8443)
    assert kept["PORTAL_SITE_URL"] == "https://portal.example"


def test_make_run_on_another_port_seeds_the_issuer_its_worker_signs_as() -> None:
    """`make run PORT=8123`: the worker's settings derive the workload identity issuer from the
    portal's address, and the simulator's seed must trust that very issuer (else every workload
    identity grant fails with AADSTS70021)."""
    import os
    import subprocess
    import sys

    from connectivity import demo
    from connectivity.management.commands.run_portal import child_env

    base = {k: v for k, v in os.environ.items()
            if k not in ("PORTAL_SITE_URL", "WORKLOAD_IDENTITY_ISSUER")}
    env = child_env(base, addr="127.0.0.1:8123", simulator_port=9123)
    assert env["WORKLOAD_IDENTITY_ISSUER"] == "http://127.0.0.1:8123/workload-identity"
    worker_issuer = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(settings.WORKLOAD_IDENTITY_ISSUER)"],
        env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings.local"}, capture_output=True,
        text=True, check=True, cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    seed = demo.simulator_seed(site_url=env["PORTAL_SITE_URL"],
                               workload_identity_issuer=env["WORKLOAD_IDENTITY_ISSUER"])
    trusted = {c["issuer"] for i in seed["managed_identities"] for c in i["federated_credentials"]}
    assert trusted == {worker_issuer}
    sso = next(a for a in seed["apps"] if a.get("redirect_uris"))
    assert "http://127.0.0.1:8123/accounts/microsoft/login/callback/" in sso["redirect_uris"]
    own = child_env({**base, "WORKLOAD_IDENTITY_ISSUER": "https://issuer.example/wi"},
                    addr="127.0.0.1:8123", simulator_port=9123)
    assert own["WORKLOAD_IDENTITY_ISSUER"] == "https://issuer.example/wi"
