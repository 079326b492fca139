"""How the client behaves when the portal, or something in front of it, misbehaves: real HTTP
servers on loopback that answer as a proxy or a wrong address would."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Answer = tuple[int, dict[str, str], bytes]


class Recorder:
    def __init__(self, answer: Callable[[str, int], Answer]) -> None:
        self.answer = answer
        self.seen: list[tuple[str, str | None]] = []  # (path, Authorization)
        self.if_none_match: list[str | None] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.seen.append((self.path, self.headers.get("Authorization")))
                recorder.if_none_match.append(self.headers.get("If-None-Match"))
                status, headers, body = recorder.answer(self.path, len(recorder.seen))
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[str, int], Answer]], Recorder]]:
    started: list[Recorder] = []

    def start(answer: Callable[[str, int], Answer]) -> Recorder:
        started.append(Recorder(answer))
        return started[-1]

    yield start
    for recorder in started:
        recorder.close()


def as_json(data: Any, status: int = 200, **headers: str) -> Answer:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(data).encode()


def request_row(n: int) -> dict[str, Any]:
    return {"id": f"00000000-0000-4000-8000-00000000000{n}", "kind": "vnet_peering",
            "state": "active", "cluster": {"id": 1, "name": "contoso-prod"}}


def test_page_links_to_another_host_never_get_the_token(serve: Any, run_cli: Any) -> None:
    elsewhere = serve(lambda path, n: as_json({"results": [], "next": None}))

    def portal(path: str, n: int) -> Answer:
        if "cursor=" in path:
            return as_json({"results": [request_row(2)], "next": None})
        return as_json({"results": [request_row(1)],
                        "next": f"{elsewhere.url}/api/v1/requests/?cursor=abc&page_size=100"})

    ours = serve(portal)
    result = run_cli("requests", "list", "-o", "json",
                     env={"CPORTAL_URL": ours.url, "CPORTAL_TOKEN": "cp_secret"})

    assert result.exit_code == 0, result.output
    assert [r["id"][-1] for r in json.loads(result.stdout)] == ["1", "2"]
    assert elsewhere.seen == []
    assert ours.seen[1] == ("/api/v1/requests/?cursor=abc&page_size=100", "Bearer cp_secret")


def test_a_503_is_retried_after_retry_after(serve: Any, run_cli: Any) -> None:
    flaky = serve(lambda path, n: as_json({"title": "Service Unavailable"}, 503, **{"Retry-After": "0"})
                  if n == 1 else as_json([]))

    result = run_cli("clusters", "-o", "json", env={"CPORTAL_URL": flaky.url, "CPORTAL_TOKEN": "cp_x"})

    assert result.exit_code == 0, result.output
    assert "the portal answered 503; retrying in 0s" in result.stderr
    assert len(flaky.seen) == 2


def test_a_redirect_or_an_html_page_says_the_address_is_wrong(serve: Any, run_cli: Any) -> None:
    moved = serve(lambda path, n: (301, {"Location": "https://portal.example.com" + path}, b""))
    redirected = run_cli("login", "--url", moved.url, "--token", "cp_x")
    assert redirected.exit_code == 1
    assert "redirects to https://portal.example.com/api/v1/clusters/" in redirected.stderr

    shop = serve(lambda path, n: (200, {"Content-Type": "text/html"}, b"<html>a shop</html>"))
    html = run_cli("clusters", env={"CPORTAL_URL": shop.url, "CPORTAL_TOKEN": "cp_x"})
    assert html.exit_code == 1
    assert "did not return JSON" in html.stderr


def test_an_error_without_problem_details_still_says_what_came_back(serve: Any, run_cli: Any) -> None:
    proxy = serve(lambda path, n: (403, {"Content-Type": "text/plain"}, b"Blocked by the firewall"))
    result = run_cli("clusters", env={"CPORTAL_URL": proxy.url, "CPORTAL_TOKEN": "cp_x"})
    assert result.exit_code == 1
    assert "Error 403 Forbidden" in result.stderr
    assert "Blocked by the firewall" in result.stderr


def test_watch_sends_back_the_etag_and_a_304_reuses_the_copy(serve: Any, run_cli: Any) -> None:
    """Two polls answered 304 (no body), then the request moves on and is active."""
    pending = {**request_row(1), "state": "pending_approval", "state_label": "Pending approval"}
    active = {**request_row(1), "state_label": "Active"}

    def portal(path: str, n: int) -> Answer:
        if n == 1:
            return as_json(pending, ETag='"one"')
        if n in (2, 3):
            return 304, {"ETag": '"one"'}, b""
        return as_json(active, ETag='"two"')

    polled = serve(portal)
    result = run_cli("watch", pending["id"], "--interval", "0.1", "-o", "json",
                     env={"CPORTAL_URL": polled.url, "CPORTAL_TOKEN": "cp_x"})

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "active"
    assert polled.if_none_match == [None, '"one"', '"one"', '"one"']
