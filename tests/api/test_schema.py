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
        # The catch-all is the JSON 404 for unknown API URLs, not an operation.
        if not route.startswith(("api/v1/schema/", "api/v1/docs/", "api/v1/^"))
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


def _operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_operation_documents_its_success(schema: dict) -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(schema)
        if not any(code.startswith("2") for code in operation["responses"])
    ]
    assert missing == []


def test_lists_document_their_success_as_a_page(schema: dict) -> None:
    appointments = schema["paths"]["/api/v1/appointments/"]["get"]["responses"]["200"]
    page = appointments["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"count", "next", "previous", "results"} <= set(schema["components"]["schemas"][page]["properties"])


def test_the_standard_errors_are_documented_where_they_can_happen(schema: dict) -> None:
    for path, method, operation in _operations(schema):
        codes = set(operation["responses"])
        where = f"{method.upper()} {path}"
        if method in {"post", "put", "patch"}:
            assert {"400", "413", "415"} <= codes, where
        if "{" in path:
            assert "404" in codes, where
        if any(requirement for requirement in operation.get("security", [])):
            assert "401" in codes, where
        for code in codes - {"200", "201", "202", "204"}:
            assert "application/json" in operation["responses"][code]["content"], where


def test_pages_are_whole_numbers_in_range(schema: dict) -> None:
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/appointments/"]["get"]["parameters"]}
    assert parameters["page"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 200}


def test_a_blank_skip_reason_is_in_the_schema(schema: dict) -> None:
    skip_reason = schema["components"]["schemas"]["Notification"]["properties"]["skip_reason"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in skip_reason["oneOf"]
