"""Request ids and the request log (clinic.middleware.RequestIdMiddleware, clinic/logs.py):
what an operator following one request through the logs relies on, and what must
never be in them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.db import OperationalError, connection
from django.test import Client

from clinic.logs import ContextFilter, JsonFormatter, PlainFormatter
from tests.api.conftest import client_for
from tests.factories import PatientFactory, UserFactory


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything every logger writes, formatted as LOG_FORMAT=json writes it."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield output
    root.removeHandler(handler)
    root.setLevel(previous)


def records(output: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in output.getvalue().splitlines() if line.strip()]


def test_a_well_formed_request_id_is_echoed_and_any_other_replaced(client: Client) -> None:
    kept = client.get("/healthz/", headers={"X-Request-ID": "lb-7f3a.9_x-1"})
    assert kept["X-Request-ID"] == "lb-7f3a.9_x-1"

    made = client.get("/healthz/")["X-Request-ID"]
    again = client.get("/healthz/")["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0 and made != again

    for bad in ("two words", "x" * 65, "id\r\nX-Injected: 1", "trailing-newline\n", "<script>", "名字"):
        answered = client.get("/healthz/", headers={"X-Request-ID": bad})["X-Request-ID"]
        assert answered != bad and len(answered) == 32


@pytest.mark.django_db
def test_errors_and_middleware_answers_carry_the_request_id_too(client: Client) -> None:
    missing = client.get("/api/v1/no-such-thing/", headers={"X-Request-ID": "req-404"})
    assert missing.status_code == 404 and missing["X-Request-ID"] == "req-404"
    assert missing.json()["code"] == "not_found"
    # Refused by BodyLimitMiddleware before any view runs.
    too_big = client.generic(
        "POST", "/api/v1/appointments/", b"{}", content_type="application/json", CONTENT_LENGTH="999999999"
    )
    assert too_big.status_code == 413 and len(too_big["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_one_json_line_per_request_with_route_status_and_id_but_no_patient_data(json_lines: io.StringIO) -> None:
    PatientFactory(full_name="Chan Tai Man", user__username="chan.taiman@example.com", phone="+85291234567")
    staff = client_for(UserFactory(role="receptionist"))

    answer = staff.get(
        "/api/v1/patients/?q=Chan+Tai+Man&email=chan.taiman%40example.com",
        HTTP_X_REQUEST_ID="search-42",
        HTTP_COOKIE="sessionid=secret-cookie",
    )

    assert answer.status_code == 200 and "Chan Tai Man" in answer.content.decode()
    lines = records(json_lines)
    requests = [line for line in lines if line["logger"] == "clinic.request"]
    assert len(requests) == 1
    line = requests[0]
    assert line["request_id"] == "search-42" == answer["X-Request-ID"]
    assert line["method"] == "GET" and line["status"] == 200 and line["level"] == "INFO"
    assert line["route"] == "api/v1/patients/"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["timestamp"].endswith("+00:00")
    written = json_lines.getvalue()
    for private in ("Chan", "Tai Man", "chan.taiman", "example.com", "9123", "q=", "secret-cookie"):
        assert private not in written


@pytest.mark.django_db
def test_djangos_own_not_found_line_names_the_route_not_a_secret_path(client: Client, json_lines: io.StringIO) -> None:
    answer = client.get("/calendar/feed-token-that-is-a-secret.ics?x=1", headers={"X-Request-ID": "feed-1"})

    assert answer.status_code == 404
    lines = records(json_lines)
    assert {line["logger"] for line in lines} >= {"clinic.request", "django.request"}
    assert all(line["request_id"] == "feed-1" for line in lines)
    assert "feed-token-that-is-a-secret" not in json_lines.getvalue()
    assert any(line["message"] == "Not Found: calendar/<str:token>.ics" for line in lines)


def test_the_plain_format_shows_the_ids_for_development() -> None:
    formatter = PlainFormatter("%(levelname)s %(name)s%(ids)s %(message)s")
    record = logging.LogRecord("booking.tasks", logging.INFO, __file__, 1, "sent %d", (3,), None)
    record.request_id, record.task_id = "req-1", "task-9"
    assert formatter.format(record) == "INFO booking.tasks [req-1 task-9] sent 3"


@pytest.mark.django_db
def test_the_outage_answer_carries_the_request_id_and_metrics_still_scrape(client: Client) -> None:
    def refuse(*args: object) -> None:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    with connection.execute_wrapper(refuse):
        down = client.get("/api/v1/treatments/", headers={"X-Request-ID": "during-outage"})
        scraped = client.get("/metrics")

    assert down.status_code == 503 and down["X-Request-ID"] == "during-outage"
    assert down.json()["code"] == "unavailable"
    # The request metrics still arrive; the outboxes' series, which need the database, are left out.
    assert scraped.status_code == 200
    text = scraped.content.decode()
    assert 'route="api/v1/treatments/",status="5xx"' in text
    assert "clinic_outbox_depth{" not in text
