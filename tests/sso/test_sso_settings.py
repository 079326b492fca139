"""The SSO settings: the simulator for the demo, the real authority in production."""

from __future__ import annotations

import environ
import pytest

from portal.settings import sso


def env_with(monkeypatch: pytest.MonkeyPatch, **values: str) -> environ.Env:
    for name in ("MICROSOFT_CLIENT_ID", "MICROSOFT_CLIENT_SECRET", "MICROSOFT_TENANT",
                 "MICROSOFT_LOGIN_URL", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return environ.Env()


def test_the_demo_signs_in_against_the_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    providers = sso.providers(env_with(monkeypatch), simulator_url="https://127.0.0.1:8443")
    app = providers["microsoft"]["APPS"][0]
    assert app["client_id"] == sso.SIMULATOR_CLIENT_ID
    assert app["settings"] == {"tenant": "organizations", "login_url": "https://127.0.0.1:8443"}
    assert providers["microsoft"]["provider_class"] == "portal.entra.provider.EntraProvider"
    assert "google" not in providers


def test_production_points_at_the_real_authority(monkeypatch: pytest.MonkeyPatch) -> None:
    env = env_with(monkeypatch, MICROSOFT_CLIENT_ID="0d1f2e3c-0000-4000-8000-000000000001",
                   MICROSOFT_CLIENT_SECRET="s3cret", GOOGLE_CLIENT_ID="g.apps.example")
    providers = sso.providers(env, simulator_url=None)
    app = providers["microsoft"]["APPS"][0]
    assert app["client_id"] == "0d1f2e3c-0000-4000-8000-000000000001"
    assert app["secret"] == "s3cret"
    assert app["settings"]["login_url"] == "https://login.microsoftonline.com"
    csp = sso.with_form_action({"DIRECTIVES": {"form-action": ["'self'"]}}, providers)
    assert csp["DIRECTIVES"]["form-action"] == [
        "'self'", "https://login.microsoftonline.com", "https://accounts.google.com"]
    apps = sso.installed_apps(["allauth", "allauth.socialaccount", "connectivity"], providers)
    assert apps == ["allauth", "allauth.socialaccount",
                    "allauth.socialaccount.providers.microsoft",
                    "allauth.socialaccount.providers.google", "connectivity"]


def test_nothing_is_offered_in_production_without_credentials(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert sso.providers(env_with(monkeypatch), simulator_url=None) == {}


def test_the_simulator_ca_is_trusted_for_the_authority_only(settings: object) -> None:
    from portal.auth import SocialAccountAdapter

    settings.AZURE_CA_BUNDLE = "/tmp/simulator-ca.pem"  # type: ignore[attr-defined]
    settings.AZURE_AUTHORITY_HOST = "https://127.0.0.1:8443"  # type: ignore[attr-defined]
    with SocialAccountAdapter().get_requests_session() as session:
        def verify(url: str) -> object:
            return session.merge_environment_settings(url, {}, None, None, None)["verify"]

        assert verify("https://127.0.0.1:8443/organizations/discovery/v2.0/keys") == (
            "/tmp/simulator-ca.pem")
        # Everything else keeps the system's CAs (True, or REQUESTS_CA_BUNDLE).
        assert verify("https://oauth2.googleapis.com/token") != "/tmp/simulator-ca.pem"
        assert verify("https://127.0.0.1:84430/x") != "/tmp/simulator-ca.pem"
