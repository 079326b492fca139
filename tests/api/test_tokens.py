"""Owners create and revoke API tokens in the browser; the token is shown once, stored hashed."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from connectivity import services
from connectivity.models import ApiToken, AuditEntry, User
from tests.api.conftest import client_with

pytestmark = pytest.mark.django_db


def browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_owner_creates_a_token_sees_it_once_and_it_works(customer: User) -> None:
    page = browser(customer).post("/api/tokens/", {"name": "terraform", "scope": "write",
                                                   "expires": "30"})
    assert page.status_code == 200
    plaintext = re.search(r'id="new-token">(cp_[\w-]+)<', page.content.decode())[1]  # type: ignore[index]
    assert "shown only once" in page.content.decode()
    assert "no-store" in page["Cache-Control"]

    token = ApiToken.objects.get(name="terraform")
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in str(ApiToken.objects.values().get(pk=token.pk))
    assert token.prefix == plaintext[:12]
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert AuditEntry.objects.get(action="api_token.created").actor == customer

    listing = browser(customer).get("/api/tokens/").content.decode()
    assert "terraform" in listing and token.prefix in listing and plaintext not in listing
    assert client_with(plaintext).get("/api/v1/clusters/").status_code == 200


def test_owner_revokes_and_the_token_stops_working(customer: User, write_token: str) -> None:
    token = ApiToken.objects.get(name="pipeline")
    owner = browser(customer)
    response = owner.post(f"/api/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    page = owner.get("/api/tokens/").content.decode()
    assert "Revoked “pipeline”" in page  # the message
    assert "Revoked 20" in page  # the token's status, with its date
    assert client_with(write_token).get("/api/v1/clusters/").status_code == 401
    assert AuditEntry.objects.filter(action="api_token.revoked").count() == 1


def test_a_blank_name_is_refused_with_a_message(customer: User) -> None:
    page = browser(customer).post("/api/tokens/", {"name": " ", "scope": "read", "expires": "never"})
    assert page.status_code == 400
    assert "This field is required" in page.content.decode()
    assert not ApiToken.objects.exists()


def test_members_are_told_only_owners_manage_tokens(teammate: User, write_token: str) -> None:
    page = browser(teammate).get("/api/tokens/")
    assert page.status_code == 403
    assert "Only your organisation's owners" in page.content.decode()
    token = ApiToken.objects.get(name="pipeline")
    assert browser(teammate).post(f"/api/tokens/{token.pk}/revoke/").status_code == 403
    assert browser(teammate).post("/api/tokens/", {"name": "x", "scope": "write",
                                                   "expires": "30"}).status_code == 403
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_outsiders_never_see_or_revoke_another_organisations_tokens(
    outsider: User, write_token: str,
) -> None:
    token = ApiToken.objects.get(name="pipeline")
    assert token.prefix not in browser(outsider).get("/api/tokens/").content.decode()
    assert browser(outsider).post(f"/api/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_signed_out_visitors_are_sent_to_sign_in() -> None:
    response = Client().get("/api/tokens/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_page_has_no_inline_script_or_style(customer: User) -> None:
    html = browser(customer).get("/api/tokens/").content.decode()
    assert "<script>" not in html and "<style" not in html and "style=" not in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))


def test_services_refuse_members_and_bad_input(customer: User, teammate: User) -> None:
    org = customer.organization
    with pytest.raises(PermissionDenied):
        services.api_token_create(actor=teammate, organization=org, name="x", scope="read")
    with pytest.raises(ValidationError) as raised:
        services.api_token_create(actor=customer, organization=org, name="", scope="admin",
                                  expires_at=timezone.now() - timedelta(days=1))
    assert set(raised.value.message_dict) == {"name", "scope", "expires_at"}


def test_revoking_twice_writes_one_audit_entry(customer: User, write_token: str) -> None:
    token = ApiToken.objects.get(name="pipeline")
    services.api_token_revoke(token=token, actor=customer)
    services.api_token_revoke(token=token, actor=customer)
    assert AuditEntry.objects.filter(action="api_token.revoked").count() == 1
