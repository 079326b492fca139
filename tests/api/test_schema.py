"""The OpenAPI schema builds without warnings (CI runs this), and its docs page works under CSP."""

from __future__ import annotations

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client


def test_schema_builds_and_validates_without_warnings(tmp_path: object) -> None:
    out = tmp_path / "schema.yaml"  # type: ignore[operator]
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/requests/{request_id}/verify-grant/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    create = schema["paths"]["/api/v1/requests/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])


@pytest.mark.django_db
def test_schema_is_served_to_anyone() -> None:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Connectivity Portal API"


@pytest.mark.django_db
def test_docs_page_loads_only_our_own_scripts_and_styles() -> None:
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<style" not in html
    assert "<script>" not in html  # every script has a src
    assert "script-src 'self'" in page["Content-Security-Policy"]
    for src in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/drf_spectacular_sidecar/swagger-ui-dist/{src}" in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert b"/api/schema/" in script.content
    # Served by whitenoise after collectstatic, like every other static file.
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def _schema(tmp_path: object) -> dict:
    out = tmp_path / "schema.yaml"  # type: ignore[operator]
    call_command("spectacular", "--file", str(out))
    return yaml.safe_load(out.read_text())


def test_every_error_response_is_declared_as_problem_json(tmp_path: object) -> None:
    schema = _schema(tmp_path)
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            errors = {code for code in responses if int(code) >= 400}
            assert {"401", "403", "404", "406", "429"} <= errors, (method, path)
            if method == "post":
                assert {"400", "409", "415"} <= errors, (method, path)
            for code in errors:
                assert responses[code]["content"] == {
                    "application/problem+json": {"schema": problem}}, (method, path, code)


def test_limits_are_in_the_schema(tmp_path: object) -> None:
    schema = _schema(tmp_path)
    listing = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/requests/"]["get"]["parameters"]}
    assert listing["page_size"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}
    assert listing["cursor"]["maxLength"] == 200
    header = next(p for p in schema["paths"]["/api/v1/requests/"]["post"]["parameters"]
                  if p["name"] == "Idempotency-Key")
    assert header["in"] == "header"
    assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 255,
                                "pattern": "^[!-~]+$"}
