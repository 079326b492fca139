"""`cportal login`, the stored credentials, and `cportal clusters` in its three outputs."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from connectivity.models import Cluster, User
from tests.cli.conftest import Cportal


def test_login_checks_the_token_and_stores_it_readable_by_the_owner_only(
    run_cli: Any, live_server: Any, token: str, config_home: Path, dedicated_cluster: Cluster,
) -> None:
    result = run_cli("login", input=f"{live_server.url}\n{token}\n")

    assert result.exit_code == 0, result.output
    path = config_home / "cportal" / "config.json"
    assert f"Token stored in {path}" in result.stdout
    assert "1 cluster(s) visible" in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {"url": live_server.url, "token": token}
    assert token not in result.output  # the prompt hid it

    listed = run_cli("clusters", "--output", "json")  # no env: the stored file is used
    assert listed.exit_code == 0, listed.output
    assert [c["name"] for c in json.loads(listed.stdout)] == ["contoso-prod"]


def test_login_tightens_an_existing_file_and_env_vars_override_it(
    run_cli: Any, live_server: Any, token: str, config_home: Path, dedicated_cluster: Cluster,
) -> None:
    path = config_home / "cportal" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    path.chmod(0o644)
    assert run_cli("login", "--url", live_server.url, "--token", token).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    path.write_text(json.dumps({"url": "http://127.0.0.1:9", "token": "cp_stale"}))
    listed = run_cli("clusters", "-o", "json",
                     env={"CPORTAL_URL": live_server.url, "CPORTAL_TOKEN": token})
    assert listed.exit_code == 0, listed.output


def test_login_with_a_bad_token_prints_the_problem_and_stores_nothing(
    run_cli: Any, live_server: Any, config_home: Path, customer: User,
) -> None:
    result = run_cli("login", "--url", live_server.url, "--token", "cp_not-a-real-token")

    assert result.exit_code == 1
    assert "Error 401 Unauthorized" in result.stderr
    assert "did not accept this token" in result.stderr
    assert not (config_home / "cportal" / "config.json").exists()


def test_commands_without_login_say_how_to_log_in(run_cli: Any) -> None:
    result = run_cli("clusters")
    assert result.exit_code == 1
    assert "run `cportal login`" in result.stderr


def test_clusters_lists_own_and_shared_clusters_with_external_ips_as_table_json_and_csv(
    cportal: Cportal, dedicated_cluster: Cluster, standard_cluster: Cluster, outsider: User,
) -> None:
    from tests.factories import ClusterFactory

    ClusterFactory(organization=outsider.organization, name="fabrikam-prod",
                   external_ips=["20.9.9.9"])

    table = cportal("clusters")
    assert table.exit_code == 0, table.output
    assert "contoso-prod" in table.stdout and "shared-westeurope" in table.stdout
    assert "20.54.101.17 20.54.101.18" in table.stdout
    assert "fabrikam-prod" not in table.stdout and "20.9.9.9" not in table.stdout

    as_json = json.loads(cportal("clusters", "--output", "json").stdout)
    by_name = {c["name"]: c for c in as_json}
    assert set(by_name) == {"contoso-prod", "shared-westeurope"}
    assert by_name["contoso-prod"]["external_ips"] == ["20.54.101.17", "20.54.101.18"]
    assert by_name["contoso-prod"]["accepts_requests"] is True
    assert by_name["shared-westeurope"]["accepts_requests"] is False

    rows = list(csv.DictReader(io.StringIO(cportal("clusters", "-o", "csv").stdout)))
    assert [r["name"] for r in rows] == ["contoso-prod", "shared-westeurope"]
    assert rows[0]["external_ips"] == "20.54.101.17 20.54.101.18"
    assert rows[0]["id"] == str(dedicated_cluster.pk)
    assert rows[1]["accepts_requests"] == "no"


def test_the_installed_console_script_talks_to_the_portal(
    live_server: Any, token: str, dedicated_cluster: Cluster, tmp_path: Path,
) -> None:
    script = Path(sys.executable).parent / "cportal"
    env = {**os.environ, "CPORTAL_URL": live_server.url, "CPORTAL_TOKEN": token,
           "XDG_CONFIG_HOME": str(tmp_path)}
    done = subprocess.run([str(script), "clusters", "-o", "json"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["vnet_id"] == dedicated_cluster.vnet_id
