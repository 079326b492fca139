"""The customer's Private Link target: resource id shape and type, group id, alias."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from connectivity import validators as v
from connectivity.azure.simulator import privatelink as simulated
from connectivity.reserved_dns import is_private_link_zone

SUB = "44444444-4444-4444-8444-444444444444"
BASE = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers"


def error(call: object, *args: object) -> str:
    with pytest.raises(ValidationError) as exc:
        call(*args)  # type: ignore[operator]
    return " ".join(exc.value.messages)


def test_a_storage_account_id_is_canonicalised_with_its_group_ids() -> None:
    ref = v.parse_private_link_target(f"{BASE}/microsoft.storage/STORAGEACCOUNTS/stcontoso")
    assert ref.resource_type == "Microsoft.Storage/storageAccounts"
    assert ref.resource_id == f"{BASE}/Microsoft.Storage/storageAccounts/stcontoso"
    assert ref.group_ids == ("blob", "dfs", "file", "queue", "table", "web")
    assert v.validate_group_id(ref, "BLOB") == "blob"
    assert v.private_link_zone(ref.resource_type, "blob") == "privatelink.blob.core.windows.net"


@pytest.mark.parametrize(("value", "says"), [
    ("/subscriptions/x", "Target must be a resource id like"),
    (f"{BASE}/Microsoft.Compute/virtualMachines/vm1", "Microsoft.Compute/virtualMachines is not "
     "supported"),
    ("/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.Sql/servers/sql1",
     "The subscription in the Target must be a GUID"),
    (f"{BASE}/Microsoft.Storage/storageAccounts/Has-Caps", "storage account names are 3-24"),
    (f"{BASE}/Microsoft.KeyVault/vaults/kv--x", "key vault names"),
    (f"{BASE}/Microsoft.Network/privateLinkServices/pl\x07s", "must not contain control"),
    ("contoso.not-a-guid.azure.privatelinkservice", "Target must be a Private Link service alias"),
    ("pls.00000000-0000-0000-0000-00000000000g.westeurope.azure.privatelinkservice",
     "Target must be a Private Link service alias"),
])
def test_bad_targets_name_the_field_and_the_rule(value: str, says: str) -> None:
    assert says in error(v.parse_private_link_target, value)


def test_group_ids_are_checked_against_the_type() -> None:
    sql = v.parse_private_link_target(f"{BASE}/Microsoft.Sql/servers/sql-contoso")
    assert v.validate_group_id(sql, "sqlserver") == "sqlServer"
    assert "Sub-resource must be one of sqlServer for a Microsoft.Sql/servers target, not blob" \
        in error(v.validate_group_id, sql, "blob")
    assert "Sub-resource must be one of" in error(v.validate_group_id, sql, "")
    pls = v.parse_private_link_target(f"{BASE}/Microsoft.Network/privateLinkServices/pls-api")
    assert v.validate_group_id(pls, "") is None
    assert "must be empty for a Private Link service" in error(v.validate_group_id, pls, "blob")
    alias = v.parse_private_link_target(
        "Pls-Api.6d4c9d2e-1b5e-4f0a-9d8e-2f3c4b5a6d7e.westeurope.azure.privatelinkservice")
    assert alias.alias == "pls-api.6d4c9d2e-1b5e-4f0a-9d8e-2f3c4b5a6d7e.westeurope.azure." \
        "privatelinkservice"
    assert v.validate_group_id(alias, None) is None


def test_the_table_agrees_with_the_dns_allow_list_and_the_simulator() -> None:
    for rtype, groups in v.PRIVATE_LINK_GROUPS.items():
        for group, zone in groups.items():
            assert is_private_link_zone(zone), zone
            assert simulated.GROUP_IDS[rtype][group][1] == zone
    assert set(v.PRIVATE_LINK_GROUPS) == set(simulated.GROUP_IDS)
