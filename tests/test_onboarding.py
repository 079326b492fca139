"""Cross-tenant onboarding: before the grant, the portal checks that the platform's application
is in the customer's tenant and offers the admin-consent link beside `az ad sp create`."""

from __future__ import annotations

import json
import ssl
import urllib.request

import pytest
from django.conf import settings
from django.test import Client

from connectivity import kinds
from connectivity.azure import clients, roles
from connectivity.models import RequestState
from tests.factories import PeeringRequestFactory
from tests.stack import CUSTOMER_TENANT_ID, CUSTOMER_VNET_NAME

pytestmark = pytest.mark.django_db
S = RequestState


@pytest.fixture
def app_not_in_customer_tenant(azure_stack):
    """The customer's directory does not know the platform's application yet."""
    state = azure_stack.simulator.state
    with state.lock:
        app = state.apps[settings.AZURE_CLIENT_ID.lower()]
        app["tenants"] = {settings.AZURE_PLATFORM_TENANT_ID.lower()}
    clients.clear_cache()
    yield azure_stack
    with state.lock:
        app["tenants"] = None
    clients.clear_cache()


def by_key(checks):
    return {c["key"]: c for c in checks}


def test_the_missing_application_is_the_first_failing_check_and_says_both_ways(
        sim_cluster, customer, app_not_in_customer_tenant):
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.AWAITING_GRANT)
    checks = by_key(kinds.preflight(request)[0])
    app = checks["app_in_tenant"]
    assert app["status"] == "fail"
    assert roles.admin_consent_url(CUSTOMER_TENANT_ID, settings.AZURE_CLIENT_ID) in app["message"]
    assert f"az ad sp create --id {settings.AZURE_CLIENT_ID}" in app["message"]
    # Nothing else is read in the customer's tenant until the application is there.
    assert all(checks[k]["status"] == "pending" for k in ("control_proved", "role_granted"))


def test_an_administrators_consent_adds_the_application(
        sim_cluster, customer, app_not_in_customer_tenant):
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.AWAITING_GRANT)
    stack = app_not_in_customer_tenant
    url = roles.admin_consent_url(CUSTOMER_TENANT_ID, settings.AZURE_CLIENT_ID,
                                  authority=stack.simulator.base_url)
    context = ssl.create_default_context(cafile=stack.simulator.ca_path)
    with urllib.request.urlopen(url, context=context, timeout=10) as page:
        assert page.status == 200 and b"Permissions granted" in page.read()
    clients.clear_cache()
    stack.grant(request)
    assert by_key(kinds.preflight(request)[0])["app_in_tenant"]["status"] == "pass"


def test_az_ad_sp_create_through_the_control_api_adds_it_too(
        sim_cluster, customer, app_not_in_customer_tenant):
    stack = app_not_in_customer_tenant
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    state=S.AWAITING_GRANT)
    body = json.dumps({"tenant_id": CUSTOMER_TENANT_ID, "app_id": settings.AZURE_CLIENT_ID})
    post = urllib.request.Request(f"{stack.simulator.base_url}/_simulator/customer/"
                                  "add-service-principal", data=body.encode(), method="POST")
    context = ssl.create_default_context(cafile=stack.simulator.ca_path)
    with urllib.request.urlopen(post, context=context, timeout=10) as answer:
        assert json.loads(answer.read())["tenant_id"] == CUSTOMER_TENANT_ID
    clients.clear_cache()
    assert by_key(kinds.preflight(request)[0])["app_in_tenant"]["status"] == "pass"


def test_the_grant_page_offers_the_consent_link_and_the_command(
        sim_cluster, customer, outsider, azure_stack):
    request = PeeringRequestFactory(cluster=sim_cluster, vnet_name=CUSTOMER_VNET_NAME,
                                    organization=customer.organization, state=S.AWAITING_GRANT)
    client = Client()
    client.force_login(customer)
    page = client.get(f"/requests/{request.pk}/grant/").content.decode()
    assert "adminconsent?client_id=" in page and "az ad sp create --id" in page
    assert "tenant administrator" in page
    other = Client()
    other.force_login(outsider)
    assert other.get(f"/requests/{request.pk}/grant/").status_code == 404
