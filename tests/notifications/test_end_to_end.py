"""End to end: the API, a real Celery worker (with beat) on Redis, and a real
SMTP server in this test. Nothing is eager or mocked; the worker reads this
test's PostgreSQL database, so the tests are transactional."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from icalendar import Calendar

from booking.calendar import event_uid
from booking.emails import format_when
from booking.models import Appointment, Notification
from tests.api.conftest import client_for
from tests.factories import PatientFactory
from tests.notifications.conftest import SmtpSink, Workers, short_reminder, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


def on_the_grid(after: timedelta) -> datetime:
    moment = timezone.localtime(timezone.now() + after).replace(second=0, microsecond=0)
    return moment + timedelta(minutes=-moment.minute % 15)


@pytest.fixture
def api(receptionist: Any, practitioner: Any) -> Any:
    return client_for(receptionist)


@pytest.fixture
def book_api(api: Any, treatment: Any) -> Callable[..., Appointment]:
    def book(patient: Any, start: datetime) -> Appointment:
        response = api.post(
            "/api/v1/appointments/",
            {"treatment": treatment.slug, "start": start.isoformat(), "patient": patient.pk},
            format="json",
        )
        assert response.status_code == 201, response.content
        return Appointment.objects.get(pk=response.json()["id"])

    return book


def invite(received: Any) -> tuple[Calendar, Any]:
    calendar = Calendar.from_ical(received.part("text/calendar"))
    return calendar, calendar.walk("VEVENT")[0]


def test_booking_sends_one_confirmation_with_a_parseable_invite(
    workers: Workers, smtp: SmtpSink, book_api: Callable, patient: Any
) -> None:
    worker = workers.start(beat=True)
    start = on_the_grid(timedelta(days=2))
    booked_at = time.time()
    appointment = book_api(patient, start)

    [received] = smtp.wait_for("confirmation", timeout=10)
    assert received.at - booked_at < 5  # published after commit, not left for the sweep
    worker.wait_for_sweeps(3)  # three whole sweeps later, still one
    assert len(smtp.of_kind("confirmation")) == 1

    calendar, event = invite(received)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == event_uid(appointment)
    assert event["SEQUENCE"] == 0
    assert event["DTSTART"].dt == start
    assert event.get("DTSTAMP") is not None
    assert str(event["ORGANIZER"]).startswith("mailto:")
    assert str(event["ATTENDEE"]) == f"mailto:{patient.email}"
    # The patient's calendar names the visit's treatment, and nothing more clinical (no practitioner).
    assert "SUMMARY:Superficial chemical peel at Clear Skin Clinic" in received.part("text/calendar")
    assert appointment.practitioner.name not in received.part("text/calendar")
    assert received.message["To"] == patient.email
    assert format_when(start, "en") in received.part("text/plain")
    assert "Stop retinoid creams 48 hours before." in received.part("text/html")
    row = Notification.objects.get(appointment=appointment, kind="confirmation")
    assert (row.status, row.attempts, row.message_id) == ("sent", 1, received.message_id)


def test_reschedule_keeps_the_uid_and_raises_the_sequence(
    workers: Workers, smtp: SmtpSink, api: Any, book_api: Callable, patient: Any
) -> None:
    workers.start(beat=True)
    appointment = book_api(patient, on_the_grid(timedelta(days=2)))
    [confirmation] = smtp.wait_for("confirmation")

    new_start = on_the_grid(timedelta(days=3))
    response = api.post(
        f"/api/v1/appointments/{appointment.pk}/reschedule/", {"start": new_start.isoformat()}, format="json"
    )
    assert response.status_code == 200, response.content
    [reschedule] = smtp.wait_for("reschedule")

    _, before = invite(confirmation)
    calendar, after = invite(reschedule)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["DTSTART"].dt == new_start
    assert reschedule.message_id != confirmation.message_id


def test_cancel_sends_a_cancel_and_no_reminder_afterwards(
    workers: Workers, smtp: SmtpSink, api: Any, book_api: Callable, patient: Any, settings: Any
) -> None:
    start, offset = short_reminder(timezone.now())
    settings.CLINIC_REMINDER_OFFSETS = [timedelta(minutes=offset)]
    worker = workers.start(beat=True)
    appointment = book_api(patient, start)
    [confirmation] = smtp.wait_for("confirmation")

    response = api.post(f"/api/v1/appointments/{appointment.pk}/cancel/", {"reason": "Doctor unwell"}, format="json")
    assert response.status_code == 200, response.content
    [cancellation] = smtp.wait_for("cancellation")
    _, before = invite(confirmation)
    calendar, after = invite(cancellation)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(after["STATUS"]) == "CANCELLED"
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert "Doctor unwell" in cancellation.part("text/plain")

    reminder = Notification.objects.get(appointment=appointment, kind="reminder")
    timeout = max(0.0, (reminder.due_at - timezone.now()).total_seconds()) + 10
    wait_until(lambda: timezone.now() > reminder.due_at, timeout=timeout, what="the reminder's time")
    worker.wait_for_sweeps(2)  # sweeps that ran after it was due
    assert smtp.of_kind("reminder") == []
    reminder.refresh_from_db()
    assert (reminder.status, reminder.skip_reason) == ("skipped", "cancelled")


def test_a_short_offset_reminder_arrives_once_at_its_time(
    workers: Workers, smtp: SmtpSink, book_api: Callable, patient: Any, settings: Any
) -> None:
    start, offset = short_reminder(timezone.now())
    settings.CLINIC_REMINDER_OFFSETS = [timedelta(minutes=offset)]
    worker = workers.start(beat=True)
    appointment = book_api(patient, start)
    due = Notification.objects.get(appointment=appointment, kind="reminder").due_at
    assert due > timezone.now()

    [reminder] = smtp.wait_for("reminder", timeout=(due - timezone.now()).total_seconds() + 20)
    assert reminder.at >= due.timestamp() - 0.5  # not early (clocks are the same machine's)
    assert reminder.at <= due.timestamp() + 6  # the sweep runs every second
    row = Notification.objects.get(appointment=appointment, kind="reminder")
    wait_until(lambda: row.refresh_from_db() or row.status == "sent", timeout=10, what="the reminder marked sent")
    worker.wait_for_sweeps(3)
    assert len(smtp.of_kind("reminder")) == 1
    assert format_when(start, "en") in reminder.part("text/plain")


def test_a_patient_who_reads_chinese_gets_chinese(workers: Workers, smtp: SmtpSink, book_api: Callable) -> None:
    patient = PatientFactory(full_name="陳大文", preferred_language="zh-hant")
    workers.start(beat=True)
    start = on_the_grid(timedelta(days=2))
    book_api(patient, start)

    [received] = smtp.wait_for("confirmation")
    text = received.part("text/plain")
    assert str(received.message["Subject"]).startswith("預約確認：")
    assert received.message["Content-Language"] == "zh-Hant"
    assert "陳大文，你好" in text
    assert "你在清膚診所的預約已確認" in text and "Clear Skin Clinic" not in text
    assert "療程前四十八小時停用A酸產品。" in text
    assert format_when(start, "zh-hant") in text
    # The zone in words: 香港時間, unless this run moved the clinic away from Hong Kong's midnight.
    assert format_when(start, "zh-hant") in received.part("text/html")
    if settings.CLINIC_TIME_ZONE == "Asia/Hong_Kong":
        assert "香港時間" in received.part("text/html")
