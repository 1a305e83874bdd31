"""The outage answers and /readyz/, in process: every layer a query can fail in, both
values of DEBUG, both languages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.handlers.exception import convert_exception_to_response
from django.db import OperationalError, connection
from django.test import RequestFactory

from clinic.outage import OutageMiddleware
from tests.factories import PatientFactory, TreatmentFactory
from tests.notifications.conftest import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down() -> Iterator[None]:
    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    with connection.execute_wrapper(refuse):
        yield


@pytest.mark.parametrize("debug", [True, False])
def test_api_answers_503_unavailable_in_the_error_shape(client, settings, debug: bool) -> None:
    settings.DEBUG = debug
    TreatmentFactory()
    patient = PatientFactory()
    client.force_login(patient.user)
    with connection.execute_wrapper(lambda *args: (_ for _ in ()).throw(OperationalError("down"))):
        for path in ("/api/v1/treatments/", "/api/v1/appointments/", "/api/v1/me/"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.json() == {
                "code": "unavailable",
                "detail": "The service is briefly unavailable. Please try again in a minute.",
            }
            assert response["Retry-After"] == "30"


@pytest.mark.parametrize("debug", [True, False])
def test_pages_answer_a_plain_well_be_back_page(client, settings, database_down, debug: bool) -> None:
    settings.DEBUG = debug
    response = client.get("/treatments/")
    assert response.status_code == 503
    text = response.text
    assert "We'll be back shortly" in text
    assert 'href="tel:+85221234567"' in text
    assert "Traceback" not in text
    client.cookies["django_language"] = "zh-hant"
    assert "我們很快回來" in client.get("/treatments/").text


def test_a_query_failing_inside_a_middleware_is_answered_503_too(settings) -> None:
    """The session middleware saves on the way out; Django turns its error into a 500
    before any outer middleware sees the exception."""
    settings.DEBUG = True

    def inner(request: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    middleware = OutageMiddleware(convert_exception_to_response(inner))
    response = middleware(RequestFactory().get("/api/v1/appointments/"))
    assert response.status_code == 503
    assert json.loads(response.content)["code"] == "unavailable"


def test_other_errors_are_not_mistaken_for_an_outage(client, settings) -> None:
    settings.DEBUG = False

    def inner(request: Any) -> Any:
        raise ValueError("a bug, not an outage")

    middleware = OutageMiddleware(convert_exception_to_response(inner))
    assert middleware(RequestFactory().get("/api/v1/appointments/")).status_code == 500


def test_readiness_is_ok_while_all_answer(client) -> None:
    response = client.get("/readyz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "storage": "ok"}}
    assert response["Cache-Control"] == "no-store"


def test_readiness_names_what_is_down(client, settings, database_down, tmp_path) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    (tmp_path / "a-file").write_text("")  # the media folder cannot be made under a file
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(tmp_path / "a-file" / "media")}},
    }
    response = client.get("/readyz/")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "unavailable"
    assert body["checks"] == {"database": "unavailable", "broker": "unavailable", "storage": "unavailable"}
    assert body["detail"] == "Not ready: broker, database, storage unavailable."


def test_a_probe_can_ask_about_some_services_only(client, settings) -> None:
    """A cluster's web probe leaves the broker out: a Redis outage must not take every web pod away."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    assert client.get("/readyz/").status_code == 503

    response = client.get("/readyz/?check=database,storage")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}

    broker = client.get("/readyz/?check=broker")
    assert broker.status_code == 503
    assert broker.json()["checks"] == {"broker": "unavailable"}


def test_an_unknown_check_is_a_400_naming_it(client) -> None:
    response = client.get("/readyz/?check=database,kafka")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "kafka" in response.json()["detail"]


def test_a_media_folder_not_made_yet_is_ready_where_it_can_be_made(client, settings, tmp_path) -> None:
    """A fresh install has no var/media/ until the first upload; FileSystemStorage makes it then."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(tmp_path / "not" / "yet")}},
    }
    assert client.get("/readyz/").json()["checks"]["storage"] == "ok"


def test_liveness_never_touches_the_database(client, database_down) -> None:
    assert client.get("/healthz/").json() == {"status": "ok"}
