"""Gateway pieces that need no Azure: resource ids, permission matching, client configuration."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from connectivity.azure import clients, gateway
from connectivity.azure import resource_ids as rid
from connectivity.azure.gateway import Permission, missing_from
from connectivity.azure.roles import PEERING_ACTIONS

SUB = "44444444-4444-4444-8444-444444444444"
VNET = f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/Microsoft.Network/virtualNetworks/v1"


# ---- resource ids -------------------------------------------------------------------------


def test_parse_vnet_id() -> None:
    parsed = rid.parse(VNET)
    assert parsed.subscription_id == SUB
    assert parsed.resource_group == "rg-a"
    assert parsed.provider == "Microsoft.Network"
    assert parsed.type == "Microsoft.Network/virtualNetworks"
    assert parsed.name == "v1"
    assert str(parsed) == VNET


def test_parse_ignores_case_of_fixed_segments_and_builds_canonical() -> None:
    odd = f"/SUBSCRIPTIONS/{SUB}/resourcegroups/rg-a/PROVIDERS/microsoft.network/virtualnetworks/v1/"
    parsed = rid.parse(odd)
    assert parsed.resource_group == "rg-a"
    assert parsed.is_type("Microsoft.Network/virtualNetworks")
    assert str(parsed).startswith(f"/subscriptions/{SUB}/resourceGroups/rg-a/providers/")
    assert rid.same(odd, VNET)


def test_child_resource_and_parent() -> None:
    peering = rid.peering_id(VNET, "p1")
    parsed = rid.parse(peering)
    assert parsed.types == ("virtualNetworks", "virtualNetworkPeerings")
    assert parsed.name == "p1"
    assert str(parsed.parent) == VNET
    assert str(parsed.parent.parent) == rid.resource_group_id(SUB, "rg-a")


def test_build_helpers() -> None:
    assert rid.vnet_id(SUB, "rg-a", "v1") == VNET
    assert rid.private_zone_id(SUB, "rg", "corp.example").endswith(
        "/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/corp.example"
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "must start with"),
        ("subscriptions/x", "must start with"),
        ("/tenants/x", "must start with"),
        (f"/subscriptions/{SUB}/resourceGroups", "no resource group"),
        (f"/subscriptions/{SUB}/rg/x", "no resource group"),
        (f"/subscriptions/{SUB}/resourceGroups/rg/providers", "no provider"),
        (
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks",
            "type/name pairs",
        ),
        (f"/subscriptions/{SUB}//resourceGroups/rg", "empty segment"),
    ],
)
def test_malformed_ids_raise_clear_value_error(value: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        rid.parse(value)


def test_parse_typed_rejects_other_types() -> None:
    with pytest.raises(ValueError, match=r"Expected a Microsoft\.Network/privateDnsZones"):
        rid.parse_typed(VNET, "Microsoft.Network/privateDnsZones")


def test_gateway_rejects_malformed_vnet_id_before_calling_azure() -> None:
    with pytest.raises(ValueError):
        gateway.vnet_get(vnet_id="/subscriptions/x/resourceGroups/y", tenant_id="t")


# ---- permission matching -------------------------------------------------------------------


def test_custom_role_grants_everything_needed() -> None:
    assert missing_from([Permission(actions=PEERING_ACTIONS)], PEERING_ACTIONS) == []


def test_nothing_granted() -> None:
    assert missing_from([], PEERING_ACTIONS) == list(PEERING_ACTIONS)


def test_wildcards_and_case() -> None:
    perms = [Permission(actions=("microsoft.network/virtualnetworks/*",))]
    assert missing_from(perms, PEERING_ACTIONS) == []
    assert missing_from([Permission(actions=("*",))], PEERING_ACTIONS) == []
    assert missing_from([Permission(actions=("*/read",))], PEERING_ACTIONS) == [
        "Microsoft.Network/virtualNetworks/peer/action",
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write",
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete",
    ]
    middle = [Permission(actions=("Microsoft.Network/*/read",))]
    assert missing_from(middle, ["Microsoft.Network/virtualNetworks/virtualNetworkPeerings/read"]) == []


def test_not_actions_subtract_within_their_role_only() -> None:
    contributor_like = Permission(actions=("*",), not_actions=("Microsoft.Network/*/delete",))
    assert missing_from([contributor_like], PEERING_ACTIONS) == [
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete"
    ]
    other_role = Permission(actions=("Microsoft.Network/virtualNetworks/virtualNetworkPeerings/*",))
    assert missing_from([contributor_like, other_role], PEERING_ACTIONS) == []


def test_dot_in_pattern_is_literal() -> None:
    assert missing_from([Permission(actions=("MicrosoftXNetwork/*",))], ["Microsoft.Network/x"]) == [
        "Microsoft.Network/x"
    ]


# ---- clients -------------------------------------------------------------------------------


@pytest.fixture
def azure_settings(settings: Any, db: None) -> Any:
    settings.AZURE_PLATFORM_TENANT_ID = "11111111-1111-4111-8111-111111111111"
    settings.AZURE_PLATFORM_SUBSCRIPTION_ID = "22222222-2222-4222-8222-222222222222"
    settings.AZURE_CLIENT_ID = "55555555-5555-4555-8555-555555555555"
    settings.AZURE_CLIENT_SECRET = "s3cret"
    settings.AZURE_ARM_ENDPOINT = "https://management.azure.com"
    settings.AZURE_AUTHORITY_HOST = "https://login.microsoftonline.com"
    settings.AZURE_CA_BUNDLE = None
    yield settings
    clients.clear_cache()


def test_config_reads_settings(azure_settings: Any) -> None:
    azure_settings.AZURE_SDK_RETRY_TOTAL = 7
    azure_settings.AZURE_POLLING_INTERVAL = 0
    cfg = clients.config()
    assert cfg.retry_total == 7
    assert cfg.polling_interval == 0
    assert cfg.credential_scope == "https://management.azure.com/.default"
    assert cfg.is_public_authority


def test_private_endpoint_uses_the_public_arm_audience(azure_settings: Any) -> None:
    azure_settings.AZURE_ARM_ENDPOINT = "https://127.0.0.1:8443"
    azure_settings.AZURE_AUTHORITY_HOST = "https://127.0.0.1:8443"
    cfg = clients.config()
    assert cfg.credential_scope == "https://management.azure.com/.default"
    assert not cfg.is_public_authority


def test_missing_required_setting_names_it(azure_settings: Any) -> None:
    azure_settings.AZURE_CLIENT_ID = ""
    with pytest.raises(ImproperlyConfigured, match="AZURE_CLIENT_ID"):
        clients.config()


def test_no_credential_configured(azure_settings: Any, db: None) -> None:
    azure_settings.AZURE_CLIENT_SECRET = None
    azure_settings.AZURE_CLIENT_CERTIFICATE_PATH = None
    azure_settings.AZURE_FEDERATED_TOKEN_FILE = None
    with pytest.raises(ImproperlyConfigured, match="AZURE_CLIENT_SECRET"):
        clients.credential("t1")


def test_credential_kinds(azure_settings: Any, tmp_path: Any, db: None) -> None:
    from azure.identity import ClientSecretCredential, WorkloadIdentityCredential

    assert isinstance(clients.credential("t1"), ClientSecretCredential)
    token_file = tmp_path / "token"
    token_file.write_text("federated")
    azure_settings.AZURE_CLIENT_SECRET = None
    azure_settings.AZURE_FEDERATED_TOKEN_FILE = str(token_file)
    assert isinstance(clients.credential("t1"), WorkloadIdentityCredential)


def test_secret_is_read_through_one_function(azure_settings: Any, monkeypatch: Any) -> None:
    calls: list[int] = []

    def fake_secret() -> str:
        calls.append(1)
        return "from-the-vault"

    built: list[tuple[Any, ...]] = []
    monkeypatch.setattr(clients, "client_secret", fake_secret)
    monkeypatch.setattr(
        clients, "ClientSecretCredential", lambda *args, **kwargs: built.append(args) or object()
    )
    clients.clear_cache()
    clients.credential("t1")
    clients.credential("t1")
    assert built == [("t1", "55555555-5555-4555-8555-555555555555", "from-the-vault")]
    assert calls == [1]  # cached: the secret is decrypted once per credential


def test_clients_cached_per_tenant_and_subscription(azure_settings: Any) -> None:
    a = clients.network("t1", "s1")
    assert clients.network("T1", "S1") is a
    assert clients.network("t1", "s2") is not a
    assert clients.network("t2", "s1") is not a
    assert clients.network("t1", "s1", aux_tenant_id="t2") is not a
    assert clients.network("t1", "s1", aux_tenant_id="t1") is a  # same tenant: no aux token
    clients.clear_cache()
    assert clients.network("t1", "s1") is not a


def test_settings_change_clears_the_cache(azure_settings: Any) -> None:
    a = clients.private_dns("t1", "s1")
    azure_settings.AZURE_SDK_RETRY_TOTAL = 1
    assert clients.private_dns("t1", "s1") is not a


def test_cross_tenant_client_carries_auxiliary_policy(azure_settings: Any) -> None:
    from azure.mgmt.core.policies import AuxiliaryAuthenticationPolicy

    client = clients.network("t1", "s1", aux_tenant_id="t2")
    policies = [p for p in client._client._pipeline._impl_policies]  # type: ignore[attr-defined]
    kinds = {type(getattr(p, "_policy", p)) for p in policies}
    assert AuxiliaryAuthenticationPolicy in kinds
    plain = clients.network("t1", "s1")
    plain_kinds = {
        type(getattr(p, "_policy", p))
        for p in plain._client._pipeline._impl_policies  # type: ignore[attr-defined]
    }
    assert AuxiliaryAuthenticationPolicy not in plain_kinds


def test_capture_request_ids_nests() -> None:
    with clients.capture_request_ids() as outer:
        assert clients.call_options()
        with clients.capture_request_ids() as inner:
            sinks = clients._sinks.get()
            for sink in sinks:
                sink.append("r1")
    assert outer == ["r1"]
    assert inner == ["r1"]
    assert clients.call_options() == {}


# ---- independent calls at once ------------------------------------------------------------


def test_at_once_runs_calls_together_and_answers_in_order() -> None:
    import threading
    import time

    both_running = threading.Barrier(2, timeout=5)

    def call(answer: str) -> Any:
        def run() -> str:
            both_running.wait()  # only passes when the two calls run at the same time
            time.sleep(0.01)
            return answer
        return run

    assert gateway.at_once(call("first"), call("second")) == ["first", "second"]


def test_at_once_ends_every_call_then_raises_the_first_failure_in_order() -> None:
    import time

    ended: list[str] = []

    def fails(message: str, delay: float) -> Any:
        def run() -> None:
            time.sleep(delay)
            ended.append(message)
            raise ValueError(message)
        return run

    with pytest.raises(ValueError, match="earlier"):
        gateway.at_once(fails("earlier", 0.05), fails("later", 0.0))
    assert sorted(ended) == ["earlier", "later"]


def test_at_once_carries_the_request_id_capture_into_every_call() -> None:
    def records(request_id: str) -> Any:
        def run() -> None:
            for sink in clients._sinks.get():
                sink.append(request_id)
        return run

    with gateway.capture_request_ids() as ids:
        gateway.at_once(records("a"), records("b"), records("c"))
    assert sorted(ids) == ["a", "b", "c"]
    with gateway.capture_request_ids() as outer:
        with gateway.capture_request_ids(apart=True) as inner:
            records("kept apart")()
        assert inner == ["kept apart"] and outer == []
        gateway.add_request_ids(inner)
    assert outer == ["kept apart"]
