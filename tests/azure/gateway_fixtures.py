"""Fixtures pointing the gateway (via Django settings) at the bundled simulator.

Import the fixture into a test module: ``from tests.azure.gateway_fixtures import gateway_sim``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectivity.azure import clients, pacing
from connectivity.azure.simulator import AzureSimulator
from tests.azure.conftest import PLATFORM_APP, PLATFORM_SECRET, PLATFORM_SUB, PLATFORM_TENANT


def point_settings_at(settings: Any, simulator: AzureSimulator) -> None:
    """What a deployment using the simulator sets: ARM and Entra ID on the simulator's URL."""
    settings.AZURE_PLATFORM_TENANT_ID = PLATFORM_TENANT
    settings.AZURE_PLATFORM_SUBSCRIPTION_ID = PLATFORM_SUB
    settings.AZURE_CLIENT_ID = PLATFORM_APP
    settings.AZURE_CLIENT_SECRET = PLATFORM_SECRET
    settings.AZURE_CLIENT_CERTIFICATE_PATH = None
    settings.AZURE_FEDERATED_TOKEN_FILE = None
    settings.AZURE_ARM_ENDPOINT = simulator.base_url
    settings.AZURE_AUTHORITY_HOST = simulator.base_url
    settings.AZURE_CA_BUNDLE = simulator.ca_path
    settings.AZURE_SDK_RETRY_TOTAL = 0
    settings.AZURE_POLLING_INTERVAL = 0
    settings.AZURE_CUSTOM_ROLE_NAME = "Connectivity Portal Peering"


@pytest.fixture
def gateway_sim(sim: AzureSimulator, settings: Any, db: None) -> Iterator[AzureSimulator]:
    """The reset simulator, with the gateway's settings pointing at it. ``db``: the client
    secret may be kept encrypted in the database, so building a credential may read it."""
    point_settings_at(settings, sim)
    clients.clear_cache()
    pacing.reset()  # the simulator's buckets are full again; so are the portal's
    yield sim
    clients.clear_cache()
