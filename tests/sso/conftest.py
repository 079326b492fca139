"""Sign in with Microsoft against the bundled simulator's Entra ID, over real HTTPS.

``entra`` points the portal's Microsoft app at the stack simulator (its demo app registration,
with this test's redirect URI) and returns an ``Entra`` that drives a whole sign-in: the
portal's redirect, the simulator's sign-in page, the pick of a person, the callback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client

from connectivity import demo
from connectivity.models import Organization, TenantClaim, User
from portal.settings import sso as sso_settings
from tests.stack import Stack

CALLBACK_PATH = "/accounts/microsoft/login/callback/"
PLATFORM_TENANT = "11111111-1111-4111-8111-111111111111"


@dataclass
class Flow:
    """One sign-in under way: the callback URL the simulator redirected to."""

    client: Client
    callback: str

    def finish(self) -> Any:
        parts = urlsplit(self.callback)
        return self.client.get(f"{parts.path}?{parts.query}")


@dataclass
class Entra:
    stack: Stack

    @property
    def control(self) -> Any:
        return self.stack.control

    def person(self, email: str, tenant_id: str | None = None) -> dict[str, Any]:
        people = self.control.state()["people"]
        return next(p for p in people if p["email"] == email
                    and (tenant_id is None or p["tenant_id"] == tenant_id))

    def add_person(self, email: str, tenant_id: str, name: str = "Test Person",
                   mfa: bool = False) -> None:
        self.control.seed({"people": [{"tenant_id": tenant_id, "email": email, "name": name,
                                       "mfa": mfa}]})

    def start(self, client: Client, email: str, tenant_id: str | None = None) -> Flow:
        """Click "Sign in with Microsoft", pick ``email`` on the simulator's page."""
        response = client.post("/accounts/microsoft/login/")
        assert response.status_code == 302, response.content[:500]
        authorize = response["Location"]
        assert authorize.startswith(self.stack.simulator.base_url)
        page = requests.get(authorize, verify=self.stack.simulator.ca_path, timeout=10)
        assert page.status_code == 200 and email in page.text, page.text[:500]
        picked = requests.post(authorize, data={"account": self.person(email, tenant_id)["oid"]},
                               verify=self.stack.simulator.ca_path, allow_redirects=False,
                               timeout=10)
        assert picked.status_code == 302, picked.text[:500]
        return Flow(client, picked.headers["Location"])

    def sign_in(self, client: Client, email: str, tenant_id: str | None = None) -> Any:
        return self.start(client, email, tenant_id).finish()

    def spoil_next_id_token(self, **changes: Any) -> None:
        self.control.next_id_token(**changes)


def microsoft_app(login_url: str) -> dict[str, Any]:
    return {**django_settings.SOCIALACCOUNT_PROVIDERS["microsoft"], "APPS": [{
        "client_id": sso_settings.SIMULATOR_CLIENT_ID,
        "secret": sso_settings.SIMULATOR_CLIENT_SECRET,
        "settings": {"tenant": "organizations", "login_url": login_url},
    }]}


@pytest.fixture
def entra(azure_stack: Stack, settings: Any) -> Iterator[Entra]:
    base = azure_stack.simulator.base_url
    settings.SOCIALACCOUNT_PROVIDERS = {"microsoft": microsoft_app(base)}
    settings.CONTENT_SECURITY_POLICY = sso_settings.with_form_action(
        settings.CONTENT_SECURITY_POLICY, settings.SOCIALACCOUNT_PROVIDERS)
    settings.SSO_STAFF_TENANT_ID = django_settings.AZURE_PLATFORM_TENANT_ID
    azure_stack.control.seed({"apps": [{
        "app_id": sso_settings.SIMULATOR_CLIENT_ID,
        "home_tenant": django_settings.AZURE_PLATFORM_TENANT_ID,
        "secret": sso_settings.SIMULATOR_CLIENT_SECRET,
        "redirect_uris": [f"http://testserver{CALLBACK_PATH}",
                          f"http://localhost:8000{CALLBACK_PATH}",
                          f"http://127.0.0.1:8000{CALLBACK_PATH}"],
    }]})
    yield Entra(azure_stack)


def confirm_tenant(organization: Organization, tenant_id: str = demo.CUSTOMER_TENANT_ID,
                   by: User | None = None) -> TenantClaim:
    from django.utils import timezone

    return TenantClaim.objects.create(organization=organization, tenant_id=tenant_id,
                                      confirmed_at=timezone.now(), confirmed_by=by)


def signed_in_user(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.filter(pk=user_id).first() if user_id else None
