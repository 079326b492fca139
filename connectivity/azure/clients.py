"""Azure SDK clients and credentials, built in one cached place from Django settings.

The platform signs in as its multi-tenant application: one credential per tenant (the
customer's tenant or the platform's own). A call that writes in one tenant and refers to a
resource in another (a cross-tenant peering) carries an auxiliary token for the other tenant in
``x-ms-authorization-auxiliary``; :func:`network` adds it when given ``aux_tenant_id``.

Every client has a pipeline policy that records Azure's ``x-ms-request-id`` of each response
into the lists opened by :func:`capture_request_ids`, so callers can store them in events, and
one that paces every ARM request against ARM's throttling (:mod:`connectivity.azure.pacing`).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

from azure.core.credentials import TokenCredential
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.identity import (
    AzureAuthorityHosts,
    CertificateCredential,
    ClientSecretCredential,
    WorkloadIdentityCredential,
)
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.core.policies import AuxiliaryAuthenticationPolicy
from azure.mgmt.dnsresolver import DnsResolverManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.privatedns import PrivateDnsManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from connectivity.azure.pacing import PacingPolicy

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
_KNOWN_ARM_HOSTS = {
    "management.azure.com",
    "management.usgovcloudapi.net",
    "management.chinacloudapi.cn",
}
_KNOWN_AUTHORITY_HOSTS = {
    AzureAuthorityHosts.AZURE_PUBLIC_CLOUD,
    AzureAuthorityHosts.AZURE_GOVERNMENT,
    AzureAuthorityHosts.AZURE_CHINA,
}


@dataclass(frozen=True)
class AzureConfig:
    """Everything the gateway reads from settings, except the client secret."""

    platform_tenant_id: str
    platform_subscription_id: str
    client_id: str
    arm_endpoint: str
    authority_host: str
    ca_bundle: str | None
    retry_total: int
    polling_interval: float
    custom_role_name: str
    certificate_path: str | None
    federated_token_file: str | None

    @property
    def credential_scope(self) -> str:
        """The token scope for ARM. A non-Azure endpoint (the simulator) still takes tokens
        for the public ARM audience, as the SDK would ask for them."""
        host = urlparse(self.arm_endpoint).hostname or ""
        if host in _KNOWN_ARM_HOSTS:
            return f"{self.arm_endpoint.rstrip('/')}/.default"
        return f"{DEFAULT_ARM_ENDPOINT}/.default"

    @property
    def is_public_authority(self) -> bool:
        """Whether the authority is a Microsoft cloud (instance discovery only works there)."""
        host = urlparse(self.authority_host).hostname or self.authority_host
        return host in _KNOWN_AUTHORITY_HOSTS


def _required(name: str) -> str:
    value = getattr(settings, name, None)
    if not value:
        raise ImproperlyConfigured(f"{name} must be set for the Azure gateway")
    return str(value)


def config() -> AzureConfig:
    """Read the gateway's settings (cheap; called on every client lookup)."""
    return AzureConfig(
        platform_tenant_id=_required("AZURE_PLATFORM_TENANT_ID"),
        platform_subscription_id=_required("AZURE_PLATFORM_SUBSCRIPTION_ID"),
        client_id=_required("AZURE_CLIENT_ID"),
        arm_endpoint=(getattr(settings, "AZURE_ARM_ENDPOINT", None) or DEFAULT_ARM_ENDPOINT),
        authority_host=(getattr(settings, "AZURE_AUTHORITY_HOST", None) or DEFAULT_AUTHORITY_HOST),
        ca_bundle=getattr(settings, "AZURE_CA_BUNDLE", None) or None,
        retry_total=int(getattr(settings, "AZURE_SDK_RETRY_TOTAL", 3)),
        polling_interval=float(getattr(settings, "AZURE_POLLING_INTERVAL", 5)),
        custom_role_name=(getattr(settings, "AZURE_CUSTOM_ROLE_NAME", None) or "Connectivity Portal Peering"),
        certificate_path=getattr(settings, "AZURE_CLIENT_CERTIFICATE_PATH", None) or None,
        federated_token_file=getattr(settings, "AZURE_FEDERATED_TOKEN_FILE", None) or None,
    )


def client_secret() -> str | None:
    """The platform application's client secret, or None when another credential is used.

    The only place the secret is read. When the AZURE_CLIENT_SECRET setting is empty (the
    production default), the encrypted credential ``azure_client_secret`` (see
    ``connectivity.credentials``) is decrypted here, only when a credential is built.
    """
    from connectivity import credentials

    return getattr(settings, "AZURE_CLIENT_SECRET", None) or credentials.get(
        credentials.AZURE_CLIENT_SECRET
    )


# --------------------------------------------------------------------------------------------
# Request ids

_REQUEST_ID_OPTION = "connectivity_request_id_sinks"
_sinks: ContextVar[tuple[list[str], ...]] = ContextVar("azure_request_id_sinks", default=())


@contextmanager
def capture_request_ids(*, apart: bool = False) -> Iterator[list[str]]:
    """Collect the ``x-ms-request-id`` of every Azure response inside the block.

    ``with capture_request_ids() as ids: gateway.peering_create(...)``; ``ids`` then lists the
    request ids in order, also when the block raised. Blocks nest: an outer block sees the ids
    of inner ones too, unless the inner one is ``apart`` (a call made now for a later step,
    which records them then with :func:`add_request_ids`).
    """
    ids: list[str] = []
    token = _sinks.set((ids,) if apart else (*_sinks.get(), ids))
    try:
        yield ids
    finally:
        _sinks.reset(token)


def add_request_ids(ids: list[str]) -> None:
    """Record request ids captured ``apart`` earlier in the blocks open now."""
    for sink in _sinks.get():
        sink.extend(ids)


def call_options() -> dict[str, Any]:
    """Keyword arguments to pass to every SDK operation so that requests made outside this
    thread (the SDK polls long-running operations from its own thread) are still recorded."""
    sinks = _sinks.get()
    return {_REQUEST_ID_OPTION: sinks} if sinks else {}


class RequestIdCapturePolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Appends each response's ``x-ms-request-id`` to the active capture lists."""

    def on_request(self, request: PipelineRequest[Any]) -> None:
        sinks = request.context.options.pop(_REQUEST_ID_OPTION, None)
        if sinks is None:
            sinks = _sinks.get()
        if sinks:
            request.context[_REQUEST_ID_OPTION] = sinks

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        sinks = request.context.get(_REQUEST_ID_OPTION)
        if not sinks:
            return
        request_id = response.http_response.headers.get("x-ms-request-id")
        if not request_id:
            return
        for sink in sinks:
            sink.append(request_id)


# --------------------------------------------------------------------------------------------
# The cache

_lock = threading.RLock()
_cache: dict[tuple[Any, ...], Any] = {}
T = TypeVar("T")


def _cached(key: tuple[Any, ...], build: Callable[[], T]) -> T:
    with _lock:
        if key not in _cache:
            _cache[key] = build()
        return _cache[key]  # type: ignore[no-any-return]


def clear_cache() -> None:
    """Forget every client and credential (after a settings or secret change, and in tests)."""
    with _lock:
        for value in _cache.values():
            close = getattr(value, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # noqa: S112 - closing a stale client must not break callers
                    continue
        _cache.clear()


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting.startswith("AZURE_"):
        clear_cache()


setting_changed.connect(_on_setting_changed, dispatch_uid="connectivity.azure.clients")


# --------------------------------------------------------------------------------------------
# Credentials


def credential(tenant_id: str) -> TokenCredential:
    """The platform application's credential for ``tenant_id`` (cached per tenant)."""
    cfg = config()
    return _cached(("credential", tenant_id.lower(), cfg), lambda: _build_credential(cfg, tenant_id))


def _build_credential(cfg: AzureConfig, tenant_id: str) -> TokenCredential:
    common: dict[str, Any] = {"authority": cfg.authority_host}
    if cfg.ca_bundle:
        common["connection_verify"] = cfg.ca_bundle
    if not cfg.is_public_authority:
        # Instance discovery asks login.microsoftonline.com about the authority, which a
        # private authority (the simulator, a sovereign proxy) does not pass.
        common["disable_instance_discovery"] = True
    secret = client_secret()
    if secret:
        return ClientSecretCredential(tenant_id, cfg.client_id, secret, **common)
    if cfg.certificate_path:
        return CertificateCredential(
            tenant_id, cfg.client_id, certificate_path=cfg.certificate_path, **common
        )
    if cfg.federated_token_file:
        return WorkloadIdentityCredential(
            tenant_id=tenant_id,
            client_id=cfg.client_id,
            token_file_path=cfg.federated_token_file,
            **common,
        )
    raise ImproperlyConfigured(
        "Set one of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or "
        "AZURE_FEDERATED_TOKEN_FILE for the Azure gateway"
    )


def token_claims(tenant_id: str) -> dict[str, Any]:
    """The claims of the platform's ARM access token in ``tenant_id`` (not verified: the token
    was just issued to us over TLS; we only read who we are)."""
    token = credential(tenant_id).get_token(config().credential_scope).token
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError) as exc:
        raise ValueError("The access token is not a JWT") from exc
    if not isinstance(claims, dict):
        raise ValueError("The access token is not a JWT")
    return claims


# --------------------------------------------------------------------------------------------
# Clients


def _client_kwargs(cfg: AzureConfig, aux_tenant_id: str | None) -> dict[str, Any]:
    per_call: list[Any] = [RequestIdCapturePolicy()]
    if aux_tenant_id:
        per_call.append(AuxiliaryAuthenticationPolicy([credential(aux_tenant_id)], cfg.credential_scope))
    kwargs: dict[str, Any] = {
        "base_url": cfg.arm_endpoint,
        "credential_scopes": [cfg.credential_scope],
        "retry_total": cfg.retry_total,
        "polling_interval": cfg.polling_interval,
        "per_call_policies": per_call,
        # After the SDK's retry policy, so its retries and long-running operations' polls are
        # paced and fed back too: each is an ARM request that ARM counts.
        "per_retry_policies": [PacingPolicy(cfg.client_id)],
    }
    if cfg.ca_bundle:
        kwargs["connection_verify"] = cfg.ca_bundle
    return kwargs


def _client(
    kind: str,
    factory: Callable[..., T],
    tenant_id: str,
    subscription_id: str,
    aux_tenant_id: str | None = None,
) -> T:
    cfg = config()
    if aux_tenant_id and aux_tenant_id.lower() == tenant_id.lower():
        aux_tenant_id = None
    key = (kind, tenant_id.lower(), subscription_id.lower(), (aux_tenant_id or "").lower(), cfg)
    return _cached(
        key,
        lambda: factory(credential(tenant_id), subscription_id, **_client_kwargs(cfg, aux_tenant_id)),
    )


def network(
    tenant_id: str, subscription_id: str, *, aux_tenant_id: str | None = None
) -> NetworkManagementClient:
    """A network client signed in to ``tenant_id``; with ``aux_tenant_id`` (another tenant)
    every call also carries an auxiliary token for that tenant."""
    return _client("network", NetworkManagementClient, tenant_id, subscription_id, aux_tenant_id)


def private_dns(tenant_id: str, subscription_id: str) -> PrivateDnsManagementClient:
    """A private DNS client signed in to ``tenant_id``."""
    return _client("privatedns", PrivateDnsManagementClient, tenant_id, subscription_id)


def authorization(tenant_id: str, subscription_id: str) -> AuthorizationManagementClient:
    """An authorization (RBAC) client signed in to ``tenant_id``."""
    return _client("authorization", AuthorizationManagementClient, tenant_id, subscription_id)


def dns_resolver(tenant_id: str, subscription_id: str) -> DnsResolverManagementClient:
    """A DNS Private Resolver client signed in to ``tenant_id``."""
    return _client("dnsresolver", DnsResolverManagementClient, tenant_id, subscription_id)


def resources(tenant_id: str, subscription_id: str) -> ResourceManagementClient:
    """A resource-manager client (resource groups) signed in to ``tenant_id``."""
    return _client("resources", ResourceManagementClient, tenant_id, subscription_id)


# --------------------------------------------------------------------------------------------
# Acting as a cluster's workload identity (connectivity/azure/assertions.py says how and why)


def identity_credential(client_id: str, tenant_id: str) -> TokenCredential:
    """A credential for the user-assigned managed identity ``client_id`` in ``tenant_id``: the
    platform's own assertion, exchanged through the identity's federated credential."""
    from azure.identity import ClientAssertionCredential

    from connectivity.azure import assertions

    cfg = config()

    def build() -> TokenCredential:
        common: dict[str, Any] = {"authority": cfg.authority_host}
        if cfg.ca_bundle:
            common["connection_verify"] = cfg.ca_bundle
        return ClientAssertionCredential(tenant_id, client_id, assertions.platform_assertion,
                                         **common)

    return _cached(("identity-credential", client_id.lower(), tenant_id.lower(), cfg), build)


def authorization_as_identity(client_id: str, tenant_id: str,
                              subscription_id: str) -> AuthorizationManagementClient:
    """An authorization client that signs in as the workload identity ``client_id``."""
    cfg = config()
    key = ("authorization-as-identity", client_id.lower(), tenant_id.lower(),
           subscription_id.lower(), cfg)
    return _cached(key, lambda: AuthorizationManagementClient(
        identity_credential(client_id, tenant_id), subscription_id,
        **_client_kwargs(cfg, None)))


# --------------------------------------------------------------------------------------------
# Unauthenticated ARM requests


@dataclass(frozen=True)
class AnonymousAnswer:
    status: int
    headers: dict[str, str]


def anonymous_get(path: str, *, api_version: str = "2022-12-01") -> AnonymousAnswer:
    """GET ``path`` on the platform's ARM endpoint without a token, as any client's first
    request does before it knows where to sign in. ARM answers 401 with a ``WWW-Authenticate``
    challenge; under ``/subscriptions/<id>`` the challenge names the subscription's tenant
    when ARM (in this cloud) knows the subscription. Raises azure-core's own errors when ARM
    cannot be reached (the gateway turns them into the project's)."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import HeadersPolicy, RetryPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    cfg = config()

    def build() -> PipelineClient[Any, Any]:
        # Asked while someone waits for a form to answer: one attempt with short timeouts, then
        # "not now" (pre-flight asks again). Retries would multiply the wait, and a 429's or a
        # 503's Retry-After would hold the form for as long as ARM says.
        transport = RequestsTransport(connection_verify=cfg.ca_bundle or True,
                                      connection_timeout=3, read_timeout=5)
        return PipelineClient(cfg.arm_endpoint, policies=[
            HeadersPolicy(), RequestIdCapturePolicy(), RetryPolicy.no_retries()],
            transport=transport)

    client = _cached(("anonymous", cfg), build)
    response = client.send_request(HttpRequest(
        "GET", f"{cfg.arm_endpoint.rstrip('/')}{path}", params={"api-version": api_version}))
    return AnonymousAnswer(response.status_code, dict(response.headers))
