"""The token lookup (`token_with_its_people`) loads what the ORM's select_related would, in one
query: the token, its organisation, its creator and the creator's membership, or none of them."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from connectivity.api.authentication import token_with_its_people
from connectivity.models import ApiToken, Membership, Organization, User
from connectivity.services import api_token_hash
from tests.api.conftest import make_token

pytestmark = pytest.mark.django_db


def _fields(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _orm(plaintext: str) -> ApiToken:
    return ApiToken.objects.select_related("organization", "created_by__membership").get(
        token_hash=api_token_hash(plaintext))


def test_the_token_its_organisation_creator_and_membership_as_the_orm_loads_them(
    customer: User,
) -> None:
    plaintext = make_token(customer)
    expected = _orm(plaintext)
    with CaptureQueriesContext(connection) as captured:
        token = token_with_its_people(api_token_hash(plaintext))
        assert token is not None and token.created_by is not None
        organization, creator = token.organization, token.created_by
        membership = creator.membership  # type: ignore[attr-defined]
    assert len(captured.captured_queries) == 1
    assert "ORDER BY" not in captured.captured_queries[0]["sql"]
    assert _fields(token) == _fields(expected)
    assert isinstance(organization, Organization)
    assert _fields(organization) == _fields(expected.organization)
    assert _fields(creator) == _fields(expected.created_by)  # type: ignore[arg-type]
    assert isinstance(membership, Membership)
    assert _fields(membership) == _fields(expected.created_by.membership)  # type: ignore[union-attr]
    assert not token._state.adding and token._state.db == "default"


def test_a_creator_gone_or_without_a_membership_is_loaded_as_such(
    customer: User, teammate: User,
) -> None:
    plaintext = make_token(customer)
    Membership.objects.filter(user=customer).delete()
    token = token_with_its_people(api_token_hash(plaintext))
    assert token is not None and token.created_by == customer
    assert not hasattr(token.created_by, "membership")
    customer.delete()
    token = token_with_its_people(api_token_hash(plaintext))
    assert token is not None and token.created_by is None


def test_an_unknown_hash_is_none(customer: User) -> None:
    make_token(customer)
    assert token_with_its_people(api_token_hash("cp_nothing")) is None
