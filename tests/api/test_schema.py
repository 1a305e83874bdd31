"""The OpenAPI schema describes every endpoint and validates without warnings."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db


def _api_routes() -> set[str]:
    found: set[str] = set()

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
                found.add(route)

    walk(get_resolver().url_patterns, "")
    return found


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory, django_db_blocker) -> dict:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("schema") / "schema.yml"
    with django_db_blocker.unblock():
        # --fail-on-warn turns any drf-spectacular warning into an error.
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_every_api_route_is_documented(schema: dict) -> None:
    documented = {path.lstrip("/") for path in schema["paths"]}
    expected = {
        route.replace("<int:pk>", "{id}").replace("<slug:slug>", "{slug}")
        for route in _api_routes()
        if not route.startswith(("api/v1/schema/", "api/v1/docs/"))
    }
    assert expected <= documented, expected - documented


def test_calendar_is_text_calendar(schema: dict) -> None:
    operation = schema["paths"]["/api/v1/appointments/{id}/calendar.ics"]["get"]
    assert "text/calendar" in operation["responses"]["200"]["content"]


def test_errors_are_documented_with_the_envelope(schema: dict) -> None:
    booking = schema["paths"]["/api/v1/appointments/"]["post"]["responses"]
    assert {"201", "400", "401", "403", "409", "422", "429"} <= set(booking)
    assert booking["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert booking["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ContraindicatedError")
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "detail"}


def test_schema_and_docs_are_served(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/schema/").status_code == 200
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    # Everything the docs page loads comes from this server (no CDN).
    page = docs.content.decode()
    assert "cdn." not in page and "https://" not in page.split("<body", 1)[-1]


def test_booking_documents_separate_visit(schema: dict) -> None:
    body = schema["components"]["schemas"]["BookRequest"]["properties"]
    assert body["separate_visit"]["type"] == "boolean" and body["separate_visit"]["default"] is False
    assert "separate_visit" not in schema["components"]["schemas"]["BookRequest"].get("required", [])


def test_an_assessment_correction_documents_its_reason_and_its_conflict(schema: dict) -> None:
    patch = schema["paths"]["/api/v1/assessments/{id}/"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    correction = schema["components"]["schemas"][body]
    assert correction["required"] == ["reason"] and "version" in correction["properties"]
    assert patch["responses"]["409"]["description"].startswith("edit_conflict")
    assert patch["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
