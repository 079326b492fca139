"""The SSRF guard, as production runs it: no loopback, private, link-local, multicast or
reserved address, whether given literally or behind a host name, and the checked address is the
one connected to."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from connectivity.models import Cluster, User, WebhookDelivery
from connectivity.webhooks import addresses
from connectivity.webhooks import services as webhook_services
from tests.security.conftest import load_production
from tests.webhooks.conftest import Receiver, api_client, make_endpoint, run_due

pytestmark = pytest.mark.django_db

REFUSED = ["127.0.0.1", "10.0.0.5", "10.255.1.1", "169.254.169.254", "::1", "172.16.0.1",
           "192.168.1.1", "100.64.0.1", "224.0.0.251", "0.0.0.0", "fd00::1", "fe80::1",
           "::ffff:10.0.0.1", "240.0.0.1"]


@pytest.fixture
def production_mode() -> Iterator[None]:
    with override_settings(WEBHOOK_ALLOW_LOOPBACK=False):
        yield


def test_production_settings_never_allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    values = load_production(monkeypatch, WEBHOOK_ALLOW_LOOPBACK="true")
    assert values["WEBHOOK_ALLOW_LOOPBACK"] is False
    assert values["WEBHOOK_TIMEOUT"] == 5


@pytest.mark.parametrize("address", REFUSED)
def test_literal_addresses_are_refused_when_the_endpoint_is_made(
    production_mode: None, customer: User, address: str,
) -> None:
    host = f"[{address}]" if ":" in address else address
    response = api_client(customer).post("/api/v1/webhooks/", {
        "url": f"https://{host}/hook", "events": ["request.created"]}, format="json")
    assert response.status_code == 400, response.content
    [message] = response.json()["errors"]["url"]
    assert "never sent to" in message


def test_localhost_is_refused_by_name(production_mode: None, customer: User) -> None:
    response = api_client(customer).post("/api/v1/webhooks/", {
        "url": "http://localhost:8080/hook", "events": ["request.created"]}, format="json")
    assert response.status_code == 400
    assert "loopback" in response.json()["errors"]["url"][0]


def _resolving(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Point host names at addresses, as a (hostile) DNS server would."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        if host not in answers:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in answers[host]]

    monkeypatch.setattr(addresses.socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1"])
def test_a_host_name_resolving_to_a_refused_address_is_never_called(
    production_mode: None, customer: User, dedicated_cluster: Cluster, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch, address: str,
) -> None:
    _resolving(monkeypatch, {"hooks.example.com": ["93.184.216.34", address]})
    port = receiver.url.split(":")[2].split("/")[0]
    webhook_services.webhook_endpoint_create(
        actor=customer, organization=customer.organization,  # type: ignore[arg-type]
        url=f"http://hooks.example.com:{port}/hook", events=["request.created"])
    from tests.webhooks.test_delivery import _one_event

    _one_event(customer, dedicated_cluster)
    [attempt] = run_due()
    assert not attempt.succeeded and attempt.status_code is None
    assert f"hooks.example.com resolves to {address}" in attempt.error
    assert receiver.received == []
    assert WebhookDelivery.objects.get().state == WebhookDelivery.State.PENDING  # retried later


def test_the_checked_address_is_the_one_connected_to(
    customer: User, dedicated_cluster: Cluster, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Resolved once and pinned: the Host header keeps the name, the connection goes to the
    address that was checked, so a second (rebinding) DNS answer is never asked for."""
    asked = _resolving(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})
    port = receiver.url.split(":")[2].split("/")[0]
    endpoint, _ = make_endpoint(customer, receiver, events=["request.created"])
    endpoint.url = f"http://hooks.example.com:{port}/hook?x=1"
    endpoint.save()
    from tests.webhooks.test_delivery import _one_event

    _one_event(customer, dedicated_cluster)
    [attempt] = run_due()
    assert attempt.succeeded, attempt.error
    [received] = receiver.received
    assert received.headers["Host"] == f"hooks.example.com:{port}"
    assert received.path == "/hook?x=1"
    # The name is looked up once; the connection only "resolves" the numeric address checked.
    assert asked == ["hooks.example.com", "127.0.0.1"]


@pytest.mark.parametrize("url, rule", [
    ("ftp://hooks.example.com/", "https://"),
    ("https://user:pw@hooks.example.com/", "user name or password"),
    ("https:///nohost", "name a host"),
    ("https://hooks.example.com/a b", "spaces"),
    ("https://hooks.example.com:99999/", "not valid"),
])
def test_malformed_urls_get_a_clear_message(customer: User, url: str, rule: str) -> None:
    response = api_client(customer).post("/api/v1/webhooks/", {
        "url": url, "events": ["request.created"]}, format="json")
    assert response.status_code == 400
    assert rule in response.json()["errors"]["url"][0]


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1"])
def test_numeric_and_odd_spellings_of_loopback_are_caught_when_resolved(
    production_mode: None, host: str,
) -> None:
    try:
        socket.getaddrinfo(host, 80)
    except socket.gaierror:
        pytest.skip(f"this resolver does not resolve {host}")
    with pytest.raises(addresses.AddressRefused, match="loopback"):
        addresses.resolve(f"http://{host}/hook")
