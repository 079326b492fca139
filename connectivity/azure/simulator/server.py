"""HTTPS listener: routes AAD, the control API and ARM, and injects latency and faults.

A real network server (not an in-process mock) because the Celery worker and the demo talk to
it from other processes. TLS handshakes happen on the handler threads, so a stalled client
cannot block ``accept``.
"""

from __future__ import annotations

import html
import json
import logging
import socket
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import control_api, identity_msi
from .arm import Arm, ArmError, Request, Response
from .certs import ensure_certificates
from .control import Control, load_seed
from .faults import Faults, format_retry_after
from .identity import MULTI_TENANT, Identity, aad_error
from .state import State
from .tokens import mint_token, openid_configuration

log = logging.getLogger("connectivity.azure.simulator")

POLL_MARKERS = ("/operations/", "/operationresults/", "privatednsoperation")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    simulator: AzureSimulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each response would wait
    # for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        sim = self.server.simulator
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = sim._respond(self.command, path, query, headers, raw)
        except Exception:  # a bug must not kill the connection silently
            log.exception("simulator error on %s %s", self.command, self.path)
            response = Response(
                500, {"error": {"code": "InternalServerError", "message": "Simulator bug."}}
            )
        self._send(response, headers)

    def _send(self, response: Response, request_headers: dict[str, str]) -> None:
        payload = b""
        content_type = "application/json; charset=utf-8"
        if isinstance(response.body, bytes | bytearray):
            payload = bytes(response.body)
        elif response.body is not None:
            payload = json.dumps(response.body).encode()
        self.send_response(response.status)
        correlation = request_headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        request_id = str(uuid.uuid4())
        base = {
            "x-ms-request-id": request_id,
            "x-ms-correlation-request-id": correlation,
            "x-ms-routing-request-id": f"WESTEUROPE:{time.strftime('%Y%m%dT%H%M%SZ')}:{request_id}",
            "Cache-Control": "no-cache",
        }
        client_request_id = request_headers.get("x-ms-client-request-id")
        if client_request_id:
            base["x-ms-client-request-id"] = client_request_id
        for key, value in {**base, **response.headers}.items():
            self.send_header(key, value)
        if payload and "Content-Type" not in response.headers:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)


class AzureSimulator:
    """The bundled ARM + Entra ID simulator.

    ``start()`` returns once the listener accepts connections; ``base_url`` and ``ca_path`` are
    then what clients need. ``control`` drives it in-process.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: dict[str, Any] | None = None,
        seed_file: str | Path | None = None,
        cert_dir: str | Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.cert_dir = cert_dir
        initial = load_seed(seed) if seed else {}
        if seed_file:
            file_seed = load_seed(Path(seed_file))
            for key, value in file_seed.items():
                initial.setdefault(key, [])
                initial[key] = list(initial[key]) + list(value)
        self.faults = Faults()
        self.state = State(self.faults)
        self.arm = Arm(self.state)
        self.control = Control(self.state, self.arm, initial or None)
        self.identity = Identity(self.state)
        self.control.reset()
        self.ca_path = ""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle --------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def start(self) -> AzureSimulator:
        if self._server is not None:
            return self
        paths = ensure_certificates(self.cert_dir, self.host)
        self.ca_path = paths.ca_path
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(paths.cert_path, paths.key_path)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        _Server.address_family = family
        server = _Server((self.host, self.port), _Handler)
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        server.simulator = self
        self.port = server.server_address[1]
        self.control.base_url = self.base_url
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"azure-simulator-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> AzureSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- request handling -------------------------------------------------------------
    def _respond(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Response:
        if path.startswith("/_simulator"):
            return self._control_api(method, path, query, raw)
        identity = self._identity(method, path, query, headers, raw)
        if identity is not None:
            return identity
        latency = float(self.faults.get("latency_ms") or 0)
        if latency > 0:
            time.sleep(latency / 1000)
        lower_path = path.lower()
        is_poll = any(marker in lower_path for marker in POLL_MARKERS)
        injected = self.faults.pick(method, path, is_poll)
        if injected is not None:
            extra = format_retry_after(injected.retry_after) if injected.retry_after is not None else {}
            return ArmError(injected.status, injected.code, injected.message, extra,
                            wrap=injected.wrap).response()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return Response(400, {"error": {
                    "code": "InvalidRequestContent",
                    "message": "The request content was invalid and could not be deserialized.",
                }})
        request = Request(method, path, query, headers, body, self.base_url)
        with self.state.lock:
            self.state.advance()
            return self.arm.handle(request)

    def _identity(self, method: str, path: str, query: dict[str, str],
                  headers: dict[str, str], raw: bytes) -> Response | None:
        """Entra ID endpoints: OpenID discovery, the client-credentials grant MSAL uses, and
        the people's sign-in (identity.py: authorize, authorization-code grant, JWKS)."""
        parts = [p for p in path.split("/") if p]
        low = [p.lower() for p in parts]
        if len(parts) == 4 and low[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            tenant = parts[0]
            if not (self._tenant_known(tenant) or tenant.lower() in MULTI_TENANT):
                return _aad_error(400, "invalid_tenant", 90002,
                                  f"Tenant '{tenant}' not found. Check to make sure you have the "
                                  "correct tenant ID and are signing into the correct cloud.")
            return Response(200, openid_configuration(self.base_url, tenant))
        if len(parts) == 2 and low[1] == "adminconsent" and method == "GET":
            return self._admin_consent(parts[0], query)
        endpoint = ""
        if len(parts) == 4 and low[1:] == ["discovery", "v2.0", "keys"]:
            endpoint = "keys"
        elif len(parts) in (3, 4) and low[1] == "oauth2" and low[-1] in ("token", "authorize"):
            endpoint = low[-1]
        if not endpoint:
            return None
        form = (dict(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
                if method == "POST" else {})
        answer = self.identity.handle(method, parts[0], endpoint, query, form, headers,
                                      self.base_url)
        if answer is not None:
            return answer
        if endpoint == "token" and method == "POST":
            return self._token(parts[0], form)
        return None

    def _admin_consent(self, tenant: str, query: dict[str, str]) -> Response:
        """Entra ID's admin-consent endpoint, as a tenant administrator sees it: the app's
        service principal is added to the tenant; with a redirect_uri the browser goes back
        with ``admin_consent=True`` (or an error), as Entra does."""
        from .control import SimulatorError

        client_id = query.get("client_id", "")
        try:
            self.control.add_service_principal(tenant_id=tenant, app_id=client_id)
        except SimulatorError as exc:
            return _aad_error(400, "invalid_request", 700016, str(exc))
        redirect = query.get("redirect_uri")
        if redirect:
            sep = "&" if "?" in redirect else "?"
            return Response(302, b"", {"Location": f"{redirect}{sep}admin_consent=True"
                                       f"&tenant={tenant}"})
        page = (f"<!doctype html><title>Permissions granted</title><h1>Permissions granted</h1>"
                f"<p>The application {html.escape(client_id)} was added to tenant "
                f"{html.escape(tenant)}. You can close this page.</p>").encode()
        return Response(200, page, {"Content-Type": "text/html; charset=utf-8"})

    def _tenant_known(self, tenant: str) -> bool:
        with self.state.lock:
            return tenant.lower() in self.state.tenants

    def _token(self, tenant: str, form: dict[str, str]) -> Response:
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", 70003,
                              "The app requested an unsupported grant type.")
        if not self._tenant_known(tenant):
            return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        client_id = form.get("client_id", "")
        with self.state.lock:
            as_identity = identity_msi.exchange(self.state, tenant, form)
            app = self.state.apps.get(client_id.lower())
            object_id = self.state.principal_id(client_id, tenant)
        if as_identity is not None:  # a managed identity's federated credential
            return Response(*as_identity)
        if app is None or not (app.get("tenants") is None or tenant.lower() in app["tenants"]):
            return _aad_error(400, "unauthorized_client", 700016,
                              f"Application with identifier '{client_id}' was not found in the "
                              f"directory '{tenant}'. This can happen if the application has not "
                              "been installed by the administrator of the tenant or consented to "
                              "by any user in the tenant.")
        if "client_assertion" not in form and form.get("client_secret") != app.get("secret"):
            return _aad_error(401, "invalid_client", 7000215,
                              "Invalid client secret provided. Ensure the secret being sent in "
                              f"the request is the client secret value, not the client secret "
                              f"ID, for a secret added to app '{client_id}'.")
        scope = form.get("scope", "https://management.azure.com/.default").split()[0]
        audience = scope.removesuffix("/.default")
        token = mint_token(tenant_id=tenant, object_id=object_id, app_id=app["app_id"],
                           audience=audience)
        return Response(200, {
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": token,
        })

    def _control_api(
        self, method: str, path: str, query: dict[str, str], raw: bytes
    ) -> Response:
        return control_api.handle(self.control, method, path, query, raw,
                                  base_url=self.base_url, ca_path=self.ca_path)


_aad_error = aad_error
