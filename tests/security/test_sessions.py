"""Session security: a new session key at sign-in, expiry after inactivity, and signing out of
every other session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from django.utils import timezone

from connectivity.models import User
from tests.factories import PASSWORD
from tests.security.helpers import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at")]


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def is_signed_in(client: Client) -> bool:
    response = client.get("/")
    return response.status_code == 200


def test_sign_in_rotates_the_session_key(customer: User) -> None:
    """A session fixed by an attacker before sign-in is worthless after it."""
    client = Client()
    anonymous = client.session
    anonymous["planted"] = "by someone else"
    anonymous.save()
    before = anonymous.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = before
    assert sign_in(client, customer.email).status_code == 302
    after = session_key(client)
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert is_signed_in(client)


@override_settings(SESSION_COOKIE_AGE=600)
def test_session_expires_after_inactivity_and_activity_extends_it(customer: User) -> None:
    client = Client()
    sign_in(client, customer.email)
    key = session_key(client)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(seconds=30))
    response = client.get("/")
    assert response.status_code == 200
    extended = Session.objects.get(session_key=key).expire_date
    assert extended > timezone.now() + timedelta(seconds=590)

    # Ten minutes with no request: the session is gone and the page asks to sign in again.
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/")


def test_inactivity_timeout_is_configured() -> None:
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert 0 < settings.SESSION_COOKIE_AGE <= 60 * 60 * 24


def test_user_signs_out_of_every_other_session(customer: User) -> None:
    laptop, phone = Client(), Client()
    sign_in(laptop, customer.email)
    sign_in(phone, customer.email)
    page = laptop.get("/accounts/sessions/")
    assert page.status_code == 200
    assert page.context["session_count"] == 2
    response = laptop.post("/accounts/sessions/")
    assert response.status_code == 302
    assert is_signed_in(laptop)
    assert not is_signed_in(phone)
    laptop.post("/accounts/logout/")
    assert not is_signed_in(laptop)
    assert not Session.objects.exists()


def test_outsider_sees_only_their_own_sessions(customer: User, outsider: User) -> None:
    mine, theirs = Client(), Client()
    sign_in(mine, customer.email)
    sign_in(theirs, outsider.email)
    mine.post("/accounts/sessions/")
    assert is_signed_in(theirs)
    page = theirs.get("/accounts/sessions/")
    assert page.context["session_count"] == 1


def test_changing_the_password_signs_out_other_sessions(customer: User) -> None:
    here, elsewhere = Client(), Client()
    sign_in(here, customer.email)
    sign_in(elsewhere, customer.email)
    here.post("/accounts/reauthenticate/", {"password": PASSWORD})
    response = here.post("/accounts/password/change/", {
        "oldpassword": PASSWORD, "password1": "a-new-long-passphrase-42",
        "password2": "a-new-long-passphrase-42"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)
