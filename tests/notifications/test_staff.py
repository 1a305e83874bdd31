"""The notification log for staff: the API and the admin, failures visible."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from booking import notifications
from booking.models import Notification
from tests.api.conftest import client_for
from tests.factories import PatientFactory, UserFactory
from tests.notifications.conftest import NOW

pytestmark = pytest.mark.django_db

START = NOW.replace(day=14, hour=10)
URL = "/api/v1/notifications/"


@pytest.fixture
def log(clock: Any, book: Callable, patient: Any) -> dict[str, Any]:
    """Two patients' notifications, one of them failed."""
    mine = book(patient, START)
    other = book(PatientFactory(), START + timedelta(hours=2))
    failed = Notification.objects.get(appointment=other, kind="confirmation")
    Notification.objects.filter(pk=failed.pk).update(
        status="failed", attempts=6, last_error="SMTPRecipientsRefused: 550"
    )
    return {"mine": mine, "other": other, "failed": failed}


def test_staff_read_a_patients_notification_log(log: dict[str, Any], patient: Any) -> None:
    response = client_for(UserFactory(role="receptionist")).get(f"{URL}?patient={patient.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert {row["kind"] for row in body["results"]} == {"confirmation", "reminder"}
    row = next(r for r in body["results"] if r["kind"] == "confirmation")
    assert row["patient"] == patient.pk
    assert row["appointment"] == log["mine"].pk
    assert row["status"] == "pending"
    assert row["due_at"] == "2030-01-07T09:00:00+08:00"
    assert set(row) >= {
        "id",
        "sequence",
        "offset_minutes",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "skip_reason",
        "last_error",
        "message_id",
    }


def test_failures_are_visible_and_filterable(log: dict[str, Any]) -> None:
    client = client_for(UserFactory(role="manager"))
    body = client.get(f"{URL}?status=failed").json()

    assert [(r["id"], r["last_error"], r["attempts"]) for r in body["results"]] == [
        (log["failed"].pk, "SMTPRecipientsRefused: 550", 6)
    ]
    by_appointment = client.get(f"{URL}?appointment={log['other'].pk}&kind=reminder").json()
    assert by_appointment["count"] == 2


@pytest.mark.parametrize("query", ["status=lost", "patient=abc", "appointment=0", "kind=sms"])
def test_bad_filters_are_400(log: dict[str, Any], query: str) -> None:
    response = client_for(UserFactory(role="receptionist")).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_patients_and_strangers_may_not_read_the_log(log: dict[str, Any], patient: Any) -> None:
    assert client_for(None).get(URL).status_code == 401
    assert client_for(patient.user).get(URL).status_code == 403


def test_the_log_takes_the_same_queries_however_long(clock: Any, book: Callable) -> None:
    client = client_for(UserFactory(role="practitioner"))
    book(PatientFactory(), START)
    client.get(URL)  # a token's first request notes its device once (its "last used"), not per row
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    for hour in (11, 12, 14, 15):
        book(PatientFactory(), START.replace(hour=hour))
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL).json()["count"] == 15
    assert len(many) == len(few)


# --- the admin -----------------------------------------------------------------------------


@pytest.fixture
def manager(client: Client) -> User:
    user = UserFactory(role="manager", is_superuser=False)
    client.force_login(user)
    return user


def test_admin_lists_filters_and_searches_the_log(
    log: dict[str, Any], manager: User, client: Client, patient: Any
) -> None:
    url = reverse("admin:booking_notification_changelist")
    assert client.get(url).status_code == 200
    failed = client.get(f"{url}?status__exact=failed")
    assert failed.status_code == 200
    assert failed.context["cl"].result_count == 1
    found = client.get(f"{url}?q=Chan+Tai+Man")
    assert found.context["cl"].result_count == 3
    per_appointment = client.get(f"{url}?appointment__id__exact={log['mine'].pk}")
    assert per_appointment.context["cl"].result_count == 3
    assert client.get(reverse("admin:booking_notification_add")).status_code == 403


def test_admin_shows_an_appointments_notifications(log: dict[str, Any], manager: User, client: Client) -> None:
    response = client.get(reverse("admin:booking_appointment_change", args=[log["mine"].pk]))
    assert response.status_code == 200
    assert "Booking confirmation" in response.content.decode()


def test_admin_sends_failed_notifications_again(log: dict[str, Any], manager: User, client: Client) -> None:
    url = reverse("admin:booking_notification_changelist")
    response = client.post(url, {"action": "send_again", "_selected_action": [log["failed"].pk]}, follow=True)
    assert response.status_code == 200
    log["failed"].refresh_from_db()
    assert (log["failed"].status, log["failed"].attempts) == ("pending", 0)
    notifications.notifications_sweep(dispatch=notifications.deliver_here)
    log["failed"].refresh_from_db()
    assert log["failed"].status == "sent"
