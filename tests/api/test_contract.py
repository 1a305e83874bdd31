"""The contract's error shape where Django, not DRF, would answer: unknown
/api/v1/ URLs, bodies over the limits, wrong methods and media types, with
DEBUG on or off (issue 15, point 7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from patients.models import HealthDeclaration

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request: pytest.FixtureRequest, settings: Any) -> bool:
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v1/appointments/1/nope/", "/api/v1/x"])
def test_an_unknown_api_url_is_the_json_404(debug: bool, anonymous: APIClient, method: str, path: str) -> None:
    response = getattr(anonymous, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_the_json_404_speaks_chinese(debug: bool, anonymous: APIClient) -> None:
    response = anonymous.get("/api/v1/nothing-here/", HTTP_ACCEPT_LANGUAGE="zh-Hant")
    assert response.json()["code"] == "not_found"
    assert response.json()["detail"] != "Not found."


def test_an_unknown_page_is_still_the_html_404(client: Any) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_405_in_shape(debug: bool, as_a: APIClient) -> None:
    response = as_a.delete("/api/v1/me/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_wrong_media_type_is_415_in_shape(debug: bool, as_a: APIClient) -> None:
    response = as_a.patch("/api/v1/me/", data="full_name=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_a_json_body_over_the_limit_is_413_in_shape_before_it_is_read(
    debug: bool, as_a: APIClient, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = HealthDeclaration.objects.count()
    body = json.dumps({"allergies_other": "x" * 20_000})
    response = as_a.post("/api/v1/me/health-declarations/", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "detail": "The request is too large."}
    assert HealthDeclaration.objects.count() == before


def test_a_body_within_the_limit_is_read(as_a: APIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = as_a.post("/api/v1/me/health-declarations/", data="{}", content_type="application/json")
    assert response.status_code == 400  # read and validated: fields missing


def test_an_anonymous_oversized_body_is_413_too(debug: bool, anonymous: APIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = anonymous.post("/api/v1/auth/token/", data="x" * 20_000, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_a_multipart_body_over_its_own_limit_is_413(debug: bool, as_practitioner: APIClient, settings: Any) -> None:
    settings.CLINIC_MULTIPART_MAX_BYTES = 10_000
    response = as_practitioner.post(
        "/api/v1/assessments/1/photos/", {"view": "front", "image": "x" * 20_000}, format="multipart"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=b"])
def test_a_page_over_the_limit_gets_a_friendly_413_page(
    debug: bool, client: Any, settings: Any, content_type: str
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    settings.CLINIC_MULTIPART_MAX_BYTES = 10_000
    response = client.post("/accounts/login/", "x" * 20_000, content_type=content_type)
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "too much to send" in response.content.decode()


def test_a_form_field_over_the_limit_inside_a_small_enough_upload_gets_the_413_page(client: Any, settings: Any) -> None:
    """Django's own check (a field over DATA_UPLOAD_MAX_MEMORY_SIZE inside a
    multipart body that may be larger for its files). With DEBUG on, Django
    shows its debug page for this one instead."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = client.post("/accounts/login/", {"username": "a", "password": "x" * 20_000})
    assert response.status_code == 413
    assert "too much to send" in response.content.decode()


def test_a_form_read_past_the_field_limit_by_django_is_413(as_practitioner: APIClient, settings: Any) -> None:
    """No declared length (chunked): Django's own check still answers in shape."""
    from django.core.exceptions import RequestDataTooBig

    from clinic.errors import exception_handler

    response = exception_handler(RequestDataTooBig("too big"), {})
    assert response is not None
    assert response.status_code == 413
    assert response.data["code"] == "too_large"


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page_size=null",
        "page_size=0",
        "page_size=201",
        "page_size=1e1",
    ],
)
def test_a_page_out_of_range_or_not_a_number_is_400_invalid(as_a: APIClient, query: str) -> None:
    response = as_a.get(f"/api/v1/me/health-declarations/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == [query.split("=")[0]]


def test_a_page_past_the_last_is_404(as_a: APIClient) -> None:
    response = as_a.get("/api/v1/me/health-declarations/?page=2")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "There is no such page."}


def test_text_fields_take_text_not_numbers(as_a: APIClient) -> None:
    response = as_a.patch("/api/v1/me/", {"full_name": 0}, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["full_name"]


def test_pages_in_range_are_served(as_a: APIClient) -> None:
    response = as_a.get("/api/v1/me/health-declarations/?page=1&page_size=200")
    assert response.status_code == 200
    assert response.json()["count"] == 1
