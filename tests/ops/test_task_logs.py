"""One request followed into the worker: the Celery task a booking queues logs, in
JSON, the request id of the booking's request and its own task id (clinic/logs.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import as_a, next_weekday_at, patient_a, peel, practitioner
from tests.notifications.conftest import smtp, smtp_server, wait_until, workers
from treatments.models import Treatment

__all__ = ["as_a", "patient_a", "peel", "practitioner", "smtp", "smtp_server", "workers"]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def test_the_task_a_request_queued_logs_that_requests_id(
    workers: Any, as_a: APIClient, peel: Treatment, practitioner: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    worker = workers.start(concurrency=1)

    start = next_weekday_at(11)
    booked = as_a.post(
        "/api/v1/appointments/",
        {"treatment": peel.slug, "start": start.isoformat()},
        format="json",
        HTTP_X_REQUEST_ID="book-trace-7",
    )
    assert booked.status_code == 201 and booked["X-Request-ID"] == "book-trace-7"

    def traced() -> list[dict[str, Any]]:
        return [line for line in json_lines(worker.output()) if line.get("request_id") == "book-trace-7"]

    lines = wait_until(traced, timeout=20, what="the worker's lines about the booking's task")
    assert all(line["task_id"] for line in lines)
    assert any("booking.tasks.deliver_notifications" in line["message"] for line in lines)
    assert {"timestamp", "level", "logger", "message"} <= set(lines[0])
    # Lines of tasks nobody's request queued carry no request id, never a stale one.
    others = [line for line in json_lines(worker.output()) if line.get("task_id") and line not in lines]
    assert all(line["request_id"] is None for line in others)
