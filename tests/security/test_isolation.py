"""Tenant isolation, structurally: walk every URL pattern and API route and ask as an outsider
(another organisation's owner, by session and by API token) and as nobody.

Every route of the project must be classified in ROUTES below. A route nobody classified fails
`test_every_route_is_classified`, so a new page or endpoint cannot reach CI without someone saying
who may see it. The walker fills path parameters with the *customer's* objects (their requests,
one of every kind, each route asked once per request; cluster, token, organisation), so an
outsider must get 404 (never a 2xx, never a 403 that confirms the object exists), and an
anonymous visitor must be sent to sign in (401/403 for the API). The values that identify each
request (its VNet, zone, domain, target, hub, resource, the ids of what it created) are among the
secrets no outsider's page or answer may contain, on any route.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from connectivity import kinds, services
from connectivity.models import (
    ApiToken,
    Cluster,
    ConnectionStatus,
    ConnectivityRequest,
    RequestState,
    TenantClaim,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from connectivity.webhooks import services as webhook_services
from tests.factories import (
    CommentFactory,
    DnsForwardingRequestFactory,
    PeeringRequestFactory,
    PrivateDnsRequestFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at"),
              pytest.mark.usefixtures("private_cache")]

PUBLIC = "public"  # anyone, signed in or not (sign-in pages, health, API schema and docs)
CUSTOMER_LIST = "customer list"  # the caller's own organisation's data, no object in the path
CUSTOMER_OBJECT = "customer object"  # one object of an organisation, named in the path
STAFF = "staff"  # console and staff API: platform staff only

ROUTES: dict[str, str] = {
    "healthz": PUBLIC,
    "api/schema/": PUBLIC,
    "api/docs/": PUBLIC,
    "api/^v1(?:/[\\s\\S]*)?$": PUBLIC,  # the API's catch-all: a problem-details 404 for unknown paths
    # Customer pages
    "": CUSTOMER_LIST,
    "clusters/ips/export/": CUSTOMER_LIST,
    "profile/": CUSTOMER_LIST,
    "requests/new/": CUSTOMER_LIST,
    "requests/new/validate/": CUSTOMER_LIST,
    "requests/<uuid:request_id>/": CUSTOMER_OBJECT,
    "requests/<uuid:request_id>/grant/": CUSTOMER_OBJECT,
    "requests/<uuid:request_id>/grant/<str:what>": CUSTOMER_OBJECT,
    "requests/<uuid:request_id>/verify/": CUSTOMER_OBJECT,
    "requests/<uuid:request_id>/status/": CUSTOMER_OBJECT,
    "requests/<uuid:request_id>/comments/": CUSTOMER_OBJECT,
    "requests/<uuid:request_id>/cancel/": CUSTOMER_OBJECT,
    "requests/<uuid:request_id>/teardown/": CUSTOMER_OBJECT,
    "requests/<uuid:request_id>/edit/": CUSTOMER_OBJECT,
    "requests/<uuid:request_id>/check-revoke/": CUSTOMER_OBJECT,
    "sso/": CUSTOMER_LIST,
    "sso/required/": CUSTOMER_LIST,
    "sso/claims/<int:claim_id>/remove/": CUSTOMER_OBJECT,
    # Customer API
    "api/v1/clusters/": CUSTOMER_LIST,
    "api/v1/clusters/<cluster_id:cluster_id>/": CUSTOMER_OBJECT,
    "api/v1/requests/": CUSTOMER_LIST,
    "api/v1/requests/<request_id:request_id>/": CUSTOMER_OBJECT,
    "api/v1/requests/<request_id:request_id>/submit/": CUSTOMER_OBJECT,
    "api/v1/requests/<request_id:request_id>/cancel/": CUSTOMER_OBJECT,
    "api/v1/requests/<request_id:request_id>/teardown/": CUSTOMER_OBJECT,
    "api/v1/requests/<request_id:request_id>/grant/": CUSTOMER_OBJECT,
    "api/v1/requests/<request_id:request_id>/verify-grant/": CUSTOMER_OBJECT,
    "api/v1/requests/<request_id:request_id>/events/": CUSTOMER_OBJECT,
    "api/v1/requests/<request_id:request_id>/comments/": CUSTOMER_OBJECT,
    "api/v1/webhooks/": CUSTOMER_LIST,
    "api/v1/webhooks/<str:endpoint_id>/": CUSTOMER_OBJECT,
    "api/v1/webhooks/<str:endpoint_id>/rotate-secret/": CUSTOMER_OBJECT,
    "api/v1/webhooks/<str:endpoint_id>/deliveries/": CUSTOMER_OBJECT,
    "api/v1/webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/redeliver/": CUSTOMER_OBJECT,
    "webhooks/": CUSTOMER_LIST,
    "webhooks/<int:endpoint_id>/": CUSTOMER_OBJECT,
    "webhooks/<int:endpoint_id>/rotate/": CUSTOMER_OBJECT,
    "webhooks/<int:endpoint_id>/delete/": CUSTOMER_OBJECT,
    "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver/": CUSTOMER_OBJECT,
    "api/tokens/": CUSTOMER_LIST,
    "api/tokens/<int:token_id>/revoke/": CUSTOMER_OBJECT,
    # Staff
    "console/": STAFF,
    "console/requests/<uuid:request_id>/": STAFF,
    "console/requests/<uuid:request_id>/<slug:action>/": STAFF,
    "console/organisations/": STAFF,
    "console/organisations/<int:organization_id>/auto-approve/": STAFF,
    "console/organisations/tenant-claims/<int:claim_id>/<slug:action>/": STAFF,
    "console/audit/": STAFF,
    "console/audit.csv": STAFF,
    "api/v1/staff/requests/": STAFF,
    "api/v1/staff/requests/<request_id:request_id>/": STAFF,
    "api/v1/staff/requests/<request_id:request_id>/approve/": STAFF,
    "api/v1/staff/requests/<request_id:request_id>/reject/": STAFF,
    "api/v1/staff/requests/<request_id:request_id>/retry/": STAFF,
}
# Third-party apps mounted whole: checked by their own rules below, not route by route.
THIRD_PARTY_PREFIXES = {"admin/": "Django admin (superusers)", "accounts/": "django-allauth"}
# The catch-all has no concrete path of its own.
EXAMPLE_PATHS = {"api/^v1(?:/[\\s\\S]*)?$": "/api/v1/no-such-endpoint/"}
METHODS = ["get", "post", "put", "patch", "delete"]
CONTOSO_SECRET_TENANT = "abcdef01-2345-4678-9abc-def012345678"  # the customer's claimed tenant


@dataclass(frozen=True)
class Route:
    pattern: str  # the concatenated route, as in ROUTES
    name: str | None


def walk(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[Route]:
    """Every URL pattern, depth first, with the route strings of its resolvers joined."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield Route(prefix + str(entry.pattern), entry.name)


def project_routes() -> list[Route]:
    return [r for r in walk() if not r.pattern.startswith(tuple(THIRD_PARTY_PREFIXES))]


def build_path(pattern: str, fillers: dict[str, str]) -> str:
    if pattern in EXAMPLE_PATHS:
        return EXAMPLE_PATHS[pattern]

    def fill(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in fillers:
            raise AssertionError(
                f"The route {pattern!r} takes a parameter {name!r} this test cannot fill: add it "
                "to the fillers in tests/security/test_isolation.py.")
        return fillers[name]

    path = re.sub(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)", fill, pattern)
    path = path.replace("^", "").replace("$", "")
    return "/" + path


# --- The people and their objects -----------------------------------------------------------


@dataclass
class World:
    customer: User
    outsider: User
    request: ConnectivityRequest  # the peering, awaiting the grant (the one with a comment)
    requests: dict[str, ConnectivityRequest]  # one of every kind, by kind
    cluster: Cluster
    token: ApiToken
    claim: TenantClaim
    outsider_token: str
    endpoint: WebhookEndpoint
    delivery: WebhookDelivery
    secrets: list[str]  # strings that identify the customer's data: never in an outsider's page

    def fillers(self, request: ConnectivityRequest | None = None) -> dict[str, str]:
        return {
            "request_id": str((request or self.request).pk),
            "cluster_id": str(self.cluster.pk),
            "token_id": str(self.token.pk),
            "endpoint_id": str(self.endpoint.pk),
            "delivery_id": str(self.delivery.pk),
            "organization_id": str(self.cluster.organization_id),
            "claim_id": str(self.claim.pk),
            "action": "approve",
            "what": "role.json",
            # allauth's own regex routes: keys that look real but belong to nobody.
            "key": "MQ:1abcde:nokey", "uidb36": "1",
        }


# A request of every kind with the values that identify it (the secrets), and the states that
# show the most of it: the peering waits for its grant; the others are live, with the
# resources they created and what the health check read, as the connections view shows them.
SECRET_HUB_SUBSCRIPTION = "c0ffee00-5ec2-4e7a-8bad-000000000042"
SECRET_STORAGE = ("/subscriptions/55555555-5555-4555-8555-555555555555/resourceGroups/rg-contoso-"
                  "secret/providers/Microsoft.Storage/storageAccounts/stcontososecret")
SECRET_DATA = ("/subscriptions/77777777-7777-4777-8777-777777777777/resourceGroups/rg-data/"
               "providers/Microsoft.Storage/storageAccounts/contososecretdata")


def every_kind(customer: User, cluster: Cluster) -> tuple[dict[str, ConnectivityRequest], list[str]]:
    """One request of each kind for ``customer``'s organisation, and the strings that identify
    them (never on an outsider's page)."""
    live = {"cluster": cluster, "created_by": customer, "state": RequestState.ACTIVE}
    made: dict[str, ConnectivityRequest] = {
        "vnet_peering": PeeringRequestFactory(
            cluster=cluster, created_by=customer, state=RequestState.AWAITING_GRANT,
            vnet_name="vnet-contoso-secret-name"),
        "private_dns": PrivateDnsRequestFactory(
            **live, zone_name="secret-zone.contoso.internal",
            records=[{"name": "secretdb", "ip": "10.20.77.77"}]),
        "dns_forwarding": DnsForwardingRequestFactory(
            **live, domain_name="secret-corp.contoso.com", dns_servers=["10.20.66.66"]),
    }
    for kind, spec, resources, parts in [
        ("private_endpoint", {"link_target": SECRET_STORAGE, "group_id": "blob"},
         {"endpoint_id": f"{cluster.vnet_id.rsplit('/providers/', 1)[0]}/providers/"
                         "Microsoft.Network/privateEndpoints/pe-cp-secret",
          "dns_names": ["stcontososecret.blob.core.windows.net → 10.100.254.77"],
          "private_ip": "10.100.254.77"},
         [{"label": "Private endpoint", "name": "pe-cp-secret", "state": "Approved"}]),
        ("hub_connection", {"tenant_id": "44444444-4444-4444-8444-444444444444",
                            "subscription_id": SECRET_HUB_SUBSCRIPTION,
                            "resource_group": "rg-contoso-network",
                            "hub_name": "hub-contoso-secret"},
         {"hub_connection_id": f"/subscriptions/{SECRET_HUB_SUBSCRIPTION}/resourceGroups/"
                               "rg-contoso-network/providers/Microsoft.Network/virtualHubs/"
                               "hub-contoso-secret/hubVirtualNetworkConnections/cp-secret"},
         [{"label": "Connection on your virtual hub", "name": "cp-secret", "state": "Succeeded"}]),
        ("workload_identity", {"resource_id": SECRET_DATA, "role": "Storage Blob Data Reader"},
         {}, [{"label": "Role for the workload identity", "name": "contososecretdata",
               "state": "Storage Blob Data Reader effective"}]),
    ]:
        request = ConnectivityRequest.objects.create(
            organization=cluster.organization, cluster=cluster, kind=kind, spec=spec,
            azure_resources=resources, created_by=customer, state=RequestState.ACTIVE)
        ConnectionStatus.objects.create(request=request, parts=parts, summary="ok")
        made[kind] = request
    assert sorted(made) == sorted(k.key for k in kinds.all_kinds()), "a kind is missing here"
    secrets = [str(r.pk) for r in made.values()] + [r.short_id for r in made.values()] + [
        "vnet-contoso-secret-name", "secret-zone.contoso.internal", "secretdb", "10.20.77.77",
        "secret-corp.contoso.com", "10.20.66.66", "stcontososecret", "10.100.254.77",
        "pe-cp-secret", SECRET_HUB_SUBSCRIPTION, "hub-contoso-secret", "cp-secret",
        "contososecretdata"]
    return made, secrets


@pytest.fixture
def world(customer: User, outsider: User, dedicated_cluster: Cluster, no_enqueue: list[str]) -> World:
    requests, request_secrets = every_kind(customer, dedicated_cluster)
    request = requests["vnet_peering"]
    CommentFactory(request=request, author=customer, body="contoso private thread message")
    token, _ = services.api_token_create(
        actor=customer, organization=customer.organization, name="contoso-pipeline-token",
        scope="write")
    claim = TenantClaim.objects.create(organization=customer.organization,
                                       tenant_id=CONTOSO_SECRET_TENANT, claimed_by=customer)
    _, outsider_plaintext = services.api_token_create(
        actor=outsider, organization=outsider.organization, name="fabrikam", scope="write")
    endpoint, _ = webhook_services.webhook_endpoint_create(
        actor=customer, organization=customer.organization,
        url="https://hooks.contoso.example/contoso-secret-hook", events=["request.created"])
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, message_id="msg_contoso", event_type="request.created", body="{}",
        state=WebhookDelivery.State.FAILED)
    return World(
        customer=customer, outsider=outsider, request=request, requests=requests,
        cluster=dedicated_cluster, token=token, claim=claim, outsider_token=outsider_plaintext,
        endpoint=endpoint, delivery=delivery,
        secrets=[*request_secrets, "contoso private thread message",
                 "contoso-pipeline-token", dedicated_cluster.name, customer.email,
                 dedicated_cluster.external_ips[0], "contoso-secret-hook", "msg_contoso",
                 CONTOSO_SECRET_TENANT],
    )


def paths_of(world: World, pattern: str) -> Iterator[str]:
    """The route's path, once per kind's request when it names a request. The per-user limits
    (six checks a minute) start afresh for each: this asks about isolation, not throttling."""
    from django.core.cache import cache

    requests = list(world.requests.values()) if "request_id" in pattern else [world.request]
    for request in requests:
        cache.clear()
        yield build_path(pattern, world.fillers(request))


def states(world: World) -> dict[str, str]:
    return dict(ConnectivityRequest.objects.filter(
        pk__in=[r.pk for r in world.requests.values()]).values_list("kind", "state"))


def call(client: Client, method: str, path: str) -> Any:
    kwargs: dict[str, Any] = {}
    if method != "get":
        kwargs["content_type"] = "application/json" if path.startswith("/api/") else (
            "application/x-www-form-urlencoded")
        kwargs["data"] = "{}" if path.startswith("/api/") else ""
    return getattr(client, method)(path, **kwargs)


def leaked(response: Any, world: World, path: str = "") -> list[str]:
    """The other organisation's values in a body, beyond the caller's own path echoed back
    (problem details name it as `instance`)."""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content).decode(errors="replace")
    else:
        body = response.content.decode(errors="replace")
    if path:
        body = body.replace(path, "")
    return [s for s in world.secrets if s in body]


def outsider_clients(world: World, path: str) -> dict[str, Client]:
    by_session = Client(raise_request_exception=False)
    by_session.force_login(world.outsider)
    clients = {"outsider session": by_session}
    if path.startswith("/api/v1/"):  # /api/tokens/ is a browser page: sessions only
        clients["outsider token"] = Client(raise_request_exception=False,
                                           HTTP_AUTHORIZATION=f"Bearer {world.outsider_token}")
    return clients


# --- The tests ---------------------------------------------------------------------------------


def test_every_route_is_classified() -> None:
    unclassified = [r.pattern for r in project_routes() if r.pattern not in ROUTES]
    assert not unclassified, (
        "These routes are not classified in tests/security/test_isolation.py ROUTES; say who may "
        f"see them (PUBLIC, CUSTOMER_LIST, CUSTOMER_OBJECT, STAFF): {unclassified}")
    stale = set(ROUTES) - {r.pattern for r in project_routes()}
    assert not stale, f"ROUTES names routes that no longer exist: {sorted(stale)}"


def _routes(kind: str) -> list[str]:
    return [pattern for pattern, k in ROUTES.items() if k == kind]


@pytest.mark.parametrize("pattern", _routes(CUSTOMER_OBJECT))
def test_outsider_gets_404_for_the_customers_objects(world: World, pattern: str) -> None:
    before = states(world)
    for path in paths_of(world, pattern):
        for who, client in outsider_clients(world, path).items():
            statuses = {}
            for method in METHODS:
                response = call(client, method, path)
                statuses[method] = response.status_code
                assert response.status_code in (404, 405), (
                    f"{who} {method.upper()} {path} answered {response.status_code}, not 404")
                shown = leaked(response, world, path)
                assert not shown, f"{who} {method.upper()} {path} shows {shown}"
            assert 404 in statuses.values(), f"{who} never got a 404 from {path}: {statuses}"
    # Unchanged by all of that.
    assert states(world) == before
    world.request.refresh_from_db()
    assert world.request.state == RequestState.AWAITING_GRANT
    assert world.request.comments.count() == 1
    world.token.refresh_from_db()
    assert world.token.revoked_at is None
    world.endpoint.refresh_from_db()
    assert world.endpoint.deliveries.count() == 1


@pytest.mark.parametrize("pattern", _routes(CUSTOMER_OBJECT))
def test_the_customer_reaches_their_own_objects(world: World, pattern: str) -> None:
    """The positive control: the same path is not a 404 for its owner, so the 404s above are
    isolation, not a wrong filler."""
    client = Client(raise_request_exception=False)
    client.force_login(world.customer)
    for kind, request in world.requests.items():
        if "request_id" not in pattern and kind != "vnet_peering":
            continue
        if pattern.endswith("/grant/<str:what>") and not request.needs_grant:
            continue  # no role, so no role.json to download
        path = build_path(pattern, world.fillers(request))
        response = client.get(path)
        if response.status_code == 405:
            response = call(client, "post", path)
        assert response.status_code != 404, f"the customer got 404 from their own {path}"


# What the customer's own request page shows of each kind: proof that the secrets above are
# what those pages carry, so their absence from an outsider's answers means something.
SHOWN_ON_ITS_PAGE = {
    "vnet_peering": "vnet-contoso-secret-name", "private_dns": "secret-zone.contoso.internal",
    "dns_forwarding": "secret-corp.contoso.com", "private_endpoint": "stcontososecret",
    "hub_connection": "hub-contoso-secret", "workload_identity": "contososecretdata",
}


def test_the_customer_sees_each_kinds_secrets_on_its_own_pages(world: World) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(world.customer)
    dashboard = client.get("/").content.decode()
    api = client.get("/api/v1/requests/").content.decode()
    for kind, request in world.requests.items():
        page = client.get(f"/requests/{request.pk}/").content.decode()
        assert SHOWN_ON_ITS_PAGE[kind] in page, kind
        assert request.short_id in dashboard, kind
        assert str(request.pk) in api, kind


@pytest.mark.parametrize("pattern", _routes(CUSTOMER_LIST))
def test_outsider_lists_show_nothing_of_the_customer(world: World, pattern: str) -> None:
    path = build_path(pattern, world.fillers())
    for who, client in outsider_clients(world, path).items():
        response = client.get(path)
        assert response.status_code in (200, 302, 405), f"{who} GET {path}: {response.status_code}"
        assert not leaked(response, world, path), f"{who} GET {path} shows data"


@pytest.mark.parametrize("pattern", _routes(STAFF))
def test_customers_never_reach_staff_routes(world: World, pattern: str) -> None:
    before = states(world)
    for path in paths_of(world, pattern):
        for who, client in outsider_clients(world, path).items():
            for method in METHODS:
                response = call(client, method, path)
                assert response.status_code in (302, 403, 404, 405), (
                    f"{who} {method.upper()} {path} answered {response.status_code}")
                if response.status_code == 302:
                    assert "login" in response.headers["Location"]
                assert not leaked(response, world, path), (
                    f"{who} {method.upper()} {path} shows data")
    assert states(world) == before


@pytest.mark.parametrize("pattern", _routes(CUSTOMER_LIST) + _routes(CUSTOMER_OBJECT) + _routes(STAFF))
def test_anonymous_is_sent_to_sign_in(world: World, pattern: str) -> None:
    client = Client(raise_request_exception=False)
    for path in paths_of(world, pattern):
        for method in METHODS:
            response = call(client, method, path)
            if path.startswith("/api/") and not path.startswith("/api/tokens/"):
                assert response.status_code in (401, 403, 405), (
                    f"anonymous {method.upper()} {path}: {response.status_code}")
            else:
                assert response.status_code in (302, 405), (
                    f"anonymous {method.upper()} {path}: {response.status_code}")
                if response.status_code == 302:
                    assert "/login/" in response.headers["Location"]
            assert not leaked(response, world, path)


@pytest.mark.parametrize("pattern", _routes(PUBLIC))
def test_public_routes_show_no_customer_data(world: World, pattern: str) -> None:
    path = build_path(pattern, world.fillers())
    for client in [Client(raise_request_exception=False), *outsider_clients(world, path).values()]:
        response = client.get(path)
        assert response.status_code < 500, f"GET {path}: {response.status_code}"
        assert not leaked(response, world, path)


def _third_party_paths(prefix: str) -> list[str]:
    fillers = {"content_type_id": "1", "object_id": "1", "app_label": "connectivity",
               "url": "x", "key": "MQ:1abcde:nokey", "uidb36": "1"}
    paths = []
    for route in walk():
        if route.pattern.startswith(prefix):
            try:
                paths.append(build_path(route.pattern, fillers))
            except AssertionError:
                continue
    return sorted(set(paths))


def test_the_admin_is_closed_to_customers(world: World) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(world.outsider)
    paths = _third_party_paths("admin/")
    assert len(paths) > 20
    for path in paths:
        response = client.get(path)
        if path in ("/admin/login/", "/admin/logout/"):
            continue
        assert response.status_code in (302, 404), f"outsider GET {path}: {response.status_code}"
        assert not leaked(response, world)


def test_account_pages_show_only_the_callers_own_account(world: World) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(world.outsider)
    for path in _third_party_paths("accounts/"):
        if path == "/accounts/logout/":
            continue
        response = client.get(path)
        assert response.status_code < 500, f"outsider GET {path}: {response.status_code}"
        assert not leaked(response, world, path), f"outsider GET {path} shows data"
