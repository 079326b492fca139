"""`cportal`: the Connectivity Portal from a terminal or a pipeline.

Every command talks to the portal's REST API (/api/v1/) with the token `cportal login` stored
(or CPORTAL_URL and CPORTAL_TOKEN). Errors are the API's problem details, printed on stderr,
and a non-zero exit; the codes are in `watch.Exit`.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from connectivity_cli import __version__, config
from connectivity_cli.client import Api, ApiError
from connectivity_cli.output import Column, Output, print_json, print_problem, render, stderr, stdout
from connectivity_cli.watch import NEXT_STEP, Exit, watch

HELP = """The Connectivity Portal from the command line: clusters, requests, grants, watch.

Log in once with `cportal login` (or set CPORTAL_URL and CPORTAL_TOKEN).

Exit codes: 0 done, 1 error, 2 usage, 3 action needed, 4 failed, 5 rejected, 6 cancelled,
7 removed, 8 timeout.
"""

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
requests_app = typer.Typer(help="List, show and file connectivity requests.", no_args_is_help=True)
app.add_typer(requests_app, name="requests")

OutputOption = Annotated[Output, typer.Option("--output", "-o", help="table, json or csv.")]
RequestId = Annotated[str, typer.Argument(help="The request's id (a UUID).", show_default=False)]


def fail(message: str, code: Exit = Exit.ERROR) -> typer.Exit:
    stderr().print(f"[bold red]Error:[/] {escape(message)}")
    return typer.Exit(int(code))


def _say_wait(reason: str, seconds: float) -> None:
    stderr().print(f"[yellow]{escape(reason)}; retrying in {seconds:g}s[/]")


@contextmanager
def portal(idempotency_key: str | None = None) -> Iterator[Api]:
    """The logged-in API client; any API error becomes its problem details and exit 1."""
    try:
        credentials = config.load()
    except (config.NotLoggedIn, ValueError) as exc:
        raise fail(str(exc)) from None
    api = Api(credentials, on_wait=_say_wait)
    try:
        yield api
    except ApiError as exc:
        print_problem(exc.problem, exc.status)
        if idempotency_key and exc.status is None:
            stderr().print(f"Retry with --idempotency-key {idempotency_key} to be sure it is "
                           "filed once.")
        raise typer.Exit(int(Exit.ERROR)) from None
    finally:
        api.close()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cportal {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    pass


# --- login -------------------------------------------------------------------------------------


@app.command()
def login(
    url: Annotated[str | None, typer.Option(help="The portal, e.g. https://portal.example.com.")] = None,
    token: Annotated[str | None, typer.Option(
        help="An API token (cp_…) from the portal's API tokens page. Asked for when not given.")] = None,
) -> None:
    """Check a portal URL and API token against the API and store them (file mode 0600)."""
    if url is None:
        try:
            previous = config.stored().get("url")
        except config.NotLoggedIn:
            previous = None
        url = typer.prompt("Portal URL", default=previous)
    if token is None:
        token = typer.prompt("API token", hide_input=True)
    try:
        credentials = config.Credentials(url=config.normalise_url(url or ""), token=token.strip())
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not credentials.token:
        raise fail("The API token is empty.")
    with Api(credentials, on_wait=_say_wait) as api:
        try:
            clusters = api.get("/clusters/")
        except ApiError as exc:
            print_problem(exc.problem, exc.status)
            raise fail("Not logged in: the portal did not accept this token.") from None
    path = config.save(credentials)
    stdout().print(f"Logged in to {escape(credentials.url)}: {len(clusters)} cluster(s) visible. "
                   f"Token stored in {escape(str(path))} (mode 0600).")


@app.command()
def logout() -> None:
    """Forget the stored URL and token."""
    removed = config.forget()
    stdout().print(f"Removed {config.config_path()}." if removed else "Not logged in.")


# --- clusters ----------------------------------------------------------------------------------

CLUSTER_COLUMNS: list[Column] = [
    ("id", lambda c: c["id"]),
    ("name", lambda c: c["name"]),
    ("region", lambda c: c.get("region")),
    ("tier", lambda c: c.get("tier")),
    ("accepts_requests", lambda c: c.get("accepts_requests")),
    ("external_ips", lambda c: c.get("external_ips") or []),
    ("address_prefixes", lambda c: c.get("address_prefixes") or []),
]


@app.command()
def clusters(output: OutputOption = Output.table) -> None:
    """Your clusters and the shared ones, with the external IPs to allowlist."""
    with portal() as api:
        rows = api.get("/clusters/")
    render(rows, CLUSTER_COLUMNS, output, title="Clusters", empty="No clusters.")


# --- requests ----------------------------------------------------------------------------------


def _target(r: dict[str, Any]) -> str:
    return r.get("vnet_id") or r.get("zone_name") or r.get("domain_name") or ""


REQUEST_COLUMNS: list[Column] = [
    ("id", lambda r: r["id"]),
    ("kind", lambda r: r.get("kind")),
    ("state", lambda r: r.get("state")),
    ("cluster", lambda r: (r.get("cluster") or {}).get("name")),
    ("target", _target),
    ("created_at", lambda r: r.get("created_at")),
    ("status_message", lambda r: r.get("status_message")),
]


@requests_app.command("list")
def requests_list(
    state: Annotated[list[str] | None, typer.Option(
        help="Only these states (repeat, or separate with commas).")] = None,
    kind: Annotated[str | None, typer.Option(help="vnet_peering, private_dns or dns_forwarding.")] = None,
    cluster: Annotated[int | None, typer.Option(help="A cluster id.")] = None,
    created_after: Annotated[str | None, typer.Option(help="ISO 8601 date-time.")] = None,
    created_before: Annotated[str | None, typer.Option(help="ISO 8601 date-time.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many.")] = None,
    page_size: Annotated[int, typer.Option(min=1, max=100, help="Requests per API call.")] = 100,
    output: OutputOption = Output.table,
) -> None:
    """Your organisation's requests, newest first, following every page."""
    rows: list[dict[str, Any]] = []
    with portal() as api:
        for item in api.pages("/requests/", state=",".join(state) if state else None, kind=kind,
                              cluster=cluster, created_after=created_after,
                              created_before=created_before, page_size=page_size):
            rows.append(item)
            if limit and len(rows) >= limit:
                break
    render(rows, REQUEST_COLUMNS, output, title="Requests", empty="No requests.")


def show_request(request: dict[str, Any], output: Output) -> None:
    if output is not Output.table:
        if output is Output.json:
            print_json(request)
        else:
            render([request], REQUEST_COLUMNS, output)
        return
    console = stdout()
    table = Table(show_header=False, box=None, title=f"Request {request['id']}", title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    cluster = request.get("cluster") or {}
    fields = [
        ("kind", request.get("kind_label") or request.get("kind")),
        ("state", f"{request.get('state_label')} ({request.get('state')})"),
        ("status", request.get("status_message")),
        ("cluster", f"{cluster.get('name')} (id {cluster.get('id')})" if cluster else None),
        ("created by", request.get("created_by")),
        ("created", request.get("created_at")),
        ("tenant", request.get("tenant_id")),
        ("vnet", request.get("vnet_id")),
        ("zone", request.get("zone_name")),
        ("records", ", ".join(f"{r['name']} → {r['ip']}" for r in request.get("records") or [])),
        ("domain", request.get("domain_name")),
        ("dns servers", ", ".join(request.get("dns_servers") or [])),
        ("approved", request.get("approved_at")),
        ("active since", request.get("activated_at")),
        ("role revoked", request.get("grant_revoked_at")),
    ]
    for name, value in fields:
        if value:
            table.add_row(name, escape(str(value)))
    console.print(table)
    checks = request.get("preflight") or []
    if checks:
        marks = {"pass": "[green]✓[/]", "fail": "[red]✗[/]", "pending": "[yellow]…[/]"}
        console.print("Pre-flight:")
        for check in checks:
            console.print(f"  {marks.get(check['status'], '?')} {escape(check['label'])}: "
                          f"{escape(check.get('message') or '')}")


@requests_app.command("show")
def requests_show(request_id: RequestId, output: OutputOption = Output.table) -> None:
    """One request: state, what it connects, pre-flight checks."""
    with portal() as api:
        request = api.get(f"/requests/{request_id}/")
    show_request(request, output)


def _load_file(path: str) -> dict[str, Any]:
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise fail(f"Cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(raw)  # YAML 1.1 reads JSON too
    except yaml.YAMLError as exc:
        raise fail(f"{path} is neither YAML nor JSON: {exc}") from None
    if not isinstance(data, dict):
        raise fail(f"{path} must hold one object of request fields (cluster, kind, …).")
    return data


def _records(values: list[str]) -> list[dict[str, str]]:
    records = []
    for value in values:
        name, sep, ip = value.partition("=")
        if not sep:
            raise typer.BadParameter(f"{value!r}: give NAME=IP, e.g. db=10.1.0.4", param_hint="--record")
        records.append({"name": name.strip(), "ip": ip.strip()})
    return records


@requests_app.command("create")
def requests_create(
    file: Annotated[str | None, typer.Option("--file", "-f", metavar="PATH", help=(
        "A YAML or JSON file of request fields as the API takes them ('-' for stdin); "
        "flags override it."))] = None,
    cluster: Annotated[int | None, typer.Option(help="One of your dedicated clusters' ids.")] = None,
    kind: Annotated[str | None, typer.Option(help="vnet_peering, private_dns or dns_forwarding.")] = None,
    tenant_id: Annotated[str | None, typer.Option(help="Peering: your Entra tenant id.")] = None,
    vnet_id: Annotated[str | None, typer.Option(help="Peering: the VNet's full resource id.")] = None,
    subscription_id: Annotated[str | None, typer.Option(help="Peering, instead of --vnet-id.")] = None,
    resource_group: Annotated[str | None, typer.Option(help="Peering, instead of --vnet-id.")] = None,
    vnet_name: Annotated[str | None, typer.Option(help="Peering, instead of --vnet-id.")] = None,
    allow_forwarded_traffic: Annotated[bool | None, typer.Option(
        "--allow-forwarded-traffic/--no-allow-forwarded-traffic", help="Peering option.",
        show_default=False)] = None,
    use_remote_gateways: Annotated[bool | None, typer.Option(
        "--use-remote-gateways/--no-use-remote-gateways", help="Peering option.",
        show_default=False)] = None,
    zone_name: Annotated[str | None, typer.Option(help="Private DNS: the zone.")] = None,
    record: Annotated[list[str] | None, typer.Option(
        metavar="NAME=IP", help="Private DNS: an A record NAME=IP (repeat).")] = None,
    domain_name: Annotated[str | None, typer.Option(help="DNS forwarding: the domain.")] = None,
    dns_server: Annotated[list[str] | None, typer.Option(
        metavar="IP", help="DNS forwarding: a DNS server IP (repeat).")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Keep it a draft; do not submit.")] = False,
    idempotency_key: Annotated[str | None, typer.Option(
        help="Retrying? Give the key of the first try to get its request, not a second one. "
             "A new UUID by default.")] = None,
    output: OutputOption = Output.table,
) -> None:
    """File a request from flags or a YAML/JSON file; it is submitted unless --draft."""
    body: dict[str, Any] = _load_file(file) if file else {}
    flags: dict[str, Any] = {
        "cluster": cluster, "kind": kind, "tenant_id": tenant_id, "vnet_id": vnet_id,
        "subscription_id": subscription_id, "resource_group": resource_group,
        "vnet_name": vnet_name, "allow_forwarded_traffic": allow_forwarded_traffic,
        "use_remote_gateways": use_remote_gateways, "zone_name": zone_name,
        "records": _records(record) if record else None, "domain_name": domain_name,
        "dns_servers": list(dns_server) if dns_server else None,
    }
    body.update({k: v for k, v in flags.items() if v is not None})
    if draft:
        body["submit"] = False
    key = idempotency_key or str(uuid.uuid4())
    with portal(idempotency_key=key) as api:
        created = api.post("/requests/", body, idempotency_key=key)
    if output is Output.table:
        stderr().print(f"Filed request {created['id']} ({escape(created.get('state_label') or '')}).")
        hint = NEXT_STEP.get(created.get("state", ""))
        show_request(created, output)
        if hint:
            stderr().print("Next: " + escape(hint.format(id=created["id"])))
    else:
        show_request(created, output)


# --- watch, verify, grant ------------------------------------------------------------------------


@app.command("watch")
def watch_command(
    request_id: RequestId,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls.")] = 5.0,
    timeout: Annotated[float, typer.Option(min=0, help="Give up after this many seconds (exit 8).")] = 3600.0,
    output: Annotated[Output, typer.Option("--output", "-o", help=(
        "table: a summary line; json: the final request."))] = Output.table,
) -> None:
    """Follow a request live until it is done or waits on you; the exit code says which.

    0 active or completed, 3 waiting on you (draft, awaiting grant, action needed, degraded),
    4 failed, 5 rejected, 6 cancelled, 7 removed, 8 --timeout passed first.
    """
    with portal() as api:
        try:
            code, request = watch(lambda: api.get(f"/requests/{request_id}/"), console=stderr(),
                                  interval=interval, timeout=timeout)
        except KeyboardInterrupt:
            raise typer.Exit(int(Exit.INTERRUPTED)) from None
    _finish_watch(code, request, output)
    raise typer.Exit(int(code))


def _finish_watch(code: Exit, request: dict[str, Any], output: Output) -> None:
    if output is Output.json:
        print_json(request)
        return
    label = request.get("state_label") or request["state"]
    if code is Exit.TIMEOUT:
        line = f"Request {request['id']} is still {label} after the timeout."
    else:
        line = f"Request {request['id']} is {label}."
    if request.get("status_message") and code is not Exit.OK:
        line += f" {request['status_message']}"
    stdout().print(escape(line))
    hint = NEXT_STEP.get(request["state"])
    if request["state"] == "active" and (not request.get("tenant_id") or request.get("grant_revoked_at")):
        hint = None  # no role of the platform's to revoke
    if hint:
        stderr().print("Next: " + escape(hint.format(id=request["id"])))


@app.command()
def verify(request_id: RequestId, output: OutputOption = Output.table) -> None:
    """Run pre-flight now (after granting the role); exit 0 if it passed, 3 if not."""
    with portal() as api:
        result = api.post(f"/requests/{request_id}/verify-grant/")
    if output is Output.json:
        print_json(result)
    else:
        render(result.get("checks") or [], [
            ("check", lambda c: c.get("label")), ("status", lambda c: c.get("status")),
            ("message", lambda c: c.get("message"))], output, title="Pre-flight")
        if output is Output.table:
            stdout().print(f"{'Passed' if result['passed'] else 'Not passed'}; the request is "
                           f"{escape(result['state'])}.")
    raise typer.Exit(int(Exit.OK if result["passed"] else Exit.ACTION_NEEDED))


@app.command()
def grant(
    request_id: RequestId,
    script: Annotated[bool, typer.Option("--script", help=(
        "Print only the grant script (pipe it to bash in your tenant).") )] = False,
    revoke: Annotated[bool, typer.Option("--revoke", help=(
        "With --script or --format: the revoke counterpart instead."))] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json (the API's answer).")] = "text",
    format_: Annotated[str | None, typer.Option("--format", "-f", help=(
        "The grant in your own tool: cli, powershell, terraform or bicep (the files to save "
        "and run; several are separated by a comment naming each file)."),
        show_default=False)] = None,
) -> None:
    """The custom role JSON and the commands that grant it on your VNet, and that revoke it."""
    if output not in ("text", "json"):
        raise typer.BadParameter("text or json", param_hint="--output")
    if format_ is not None and format_ not in GRANT_FORMATS:
        raise typer.BadParameter(" or ".join(GRANT_FORMATS), param_hint="--format")
    with portal() as api:
        package = api.get(f"/requests/{request_id}/grant/")
    if output == "json":
        print_json(package)
        return
    if format_ is not None:
        _print_grant_format(package, format_, revoke=revoke)
        return
    if script:
        chosen = package.get("revoke_script" if revoke else "grant_script")
        if not package.get("needed") or not chosen:
            sys.stdout.write(f"# {package.get('detail') or 'Nothing to run.'}\n")
            return
        sys.stdout.write(chosen if chosen.endswith("\n") else chosen + "\n")
        return
    console = stdout()
    console.print(escape(package.get("detail") or ""))
    if not package.get("needed"):
        return
    console.print(f"\n[bold]Role[/] {escape(package['role_name'] or '')} on "
                  f"{escape(package['scope'] or '')}")
    console.print("\n[bold]Custom role definition (JSON):[/]")
    sys.stdout.write((package.get("role_definition_json")
                      or json.dumps(package.get("role_definition"), indent=2)) + "\n")
    console.print("\n[bold]Grant (run in your tenant):[/]")
    for command in package.get("grant_commands") or []:
        sys.stdout.write(command + "\n")
    console.print("\n[bold]Revoke once the request is active:[/]")
    for command in package.get("revoke_commands") or []:
        sys.stdout.write(command + "\n")


GRANT_FORMATS = ("cli", "powershell", "terraform", "bicep")
_COMMENT = {"shell": "#", "powershell": "#", "hcl": "#", "bicep": "//"}


def _print_grant_format(package: dict[str, Any], key: str, *, revoke: bool) -> None:
    """One format's grant (or revoke) files as they are; each of several files is introduced
    by a comment in its own language naming it, so one file alone pipes straight to a shell."""
    formats = package.get("formats") or {}
    if not package.get("needed") or key not in formats:
        sys.stdout.write(f"# {package.get('detail') or 'Nothing to run.'}\n")
        return
    files = formats[key]["revoke" if revoke else "grant"]
    for number, file in enumerate(files):
        if len(files) > 1:
            if number:
                sys.stdout.write("\n")
            sys.stdout.write(f"{_COMMENT.get(file['language'], '#')} ==> {file['filename']} <==\n")
        content = file["content"]
        sys.stdout.write(content if content.endswith("\n") else content + "\n")


# --- comment, remove, cancel -------------------------------------------------------------------


@app.command()
def comment(
    request_id: RequestId,
    text: Annotated[str | None, typer.Argument(help="The comment; '-' or nothing reads stdin.",
                                               show_default=False)] = None,
    output: OutputOption = Output.table,
) -> None:
    """Write to support in the request's thread."""
    body = sys.stdin.read() if text is None or text == "-" else text
    if not body.strip():
        raise fail("The comment is empty: give it as an argument or on stdin.")
    key = str(uuid.uuid4())
    with portal(idempotency_key=key) as api:
        posted = api.post(f"/requests/{request_id}/comments/", {"body": body.strip()},
                          idempotency_key=key)
    if output is Output.json:
        print_json(posted)
    else:
        stdout().print(f"Comment {posted['id']} posted on request {request_id}.")


def _confirm_then_post(request_id: str, action: str, path: str, *, yes: bool, reason: str,
                       question: str) -> dict[str, Any]:
    with portal() as api:
        request = api.get(f"/requests/{request_id}/")
        cluster = (request.get("cluster") or {}).get("name", "?")
        if not yes:
            prompt = (f"{question} {request.get('kind_label')} request {request['id']} on "
                      f"{cluster} ({_target(request) or 'no target'}, now "
                      f"{request.get('state_label')})?")
            if not typer.confirm(prompt, default=False):
                raise fail(f"Not {action}.")
        changed: dict[str, Any] = api.post(f"/requests/{request_id}/{path}/",
                                           {"reason": reason} if reason else {})
        return changed


@app.command()
def remove(
    request_id: RequestId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    reason: Annotated[str, typer.Option(help="Why (shown in the timeline).")] = "",
    wait: Annotated[bool, typer.Option("--wait", help="Watch until removed (exit 0 then).")] = False,
    timeout: Annotated[float, typer.Option(min=0, help="With --wait: give up after (exit 8).")] = 3600.0,
) -> None:
    """Tear down what a request created in Azure (peerings, zones, rules)."""
    request = _confirm_then_post(request_id, "removed", "teardown", yes=yes, reason=reason,
                                 question="Remove what was created for")
    stdout().print(f"Removal of request {request['id']} started: {escape(request['state_label'])}.")
    if not wait:
        return
    with portal() as api:
        code, request = watch(lambda: api.get(f"/requests/{request_id}/"), console=stderr(),
                              interval=2.0, timeout=timeout)
    _finish_watch(code, request, Output.table)
    raise typer.Exit(int(Exit.OK if code is Exit.REMOVED else code))


@app.command()
def cancel(
    request_id: RequestId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    reason: Annotated[str, typer.Option(help="Why (shown in the timeline).")] = "",
) -> None:
    """Withdraw a request before anything was created (up to approved)."""
    request = _confirm_then_post(request_id, "cancelled", "cancel", yes=yes, reason=reason,
                                 question="Cancel")
    stdout().print(f"Request {request['id']} is {escape(request['state_label'])}.")


def run() -> None:
    app()


if __name__ == "__main__":
    run()
