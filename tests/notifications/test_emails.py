"""What the patient receives: both parts, their language, the clinic's local
time with its zone named, links to manage the booking, and calendar invites
with a stable UID and a growing SEQUENCE, naming the treatment and nothing more clinical."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from icalendar import Calendar

from booking import notifications, services
from booking.calendar import event_uid
from booking.emails import format_when
from booking.models import Notification
from tests.factories import PatientFactory
from tests.notifications.conftest import NOW

pytestmark = pytest.mark.django_db

START = NOW.replace(day=14, hour=10, minute=30)  # Monday 14 January 2030, 10:30 in Hong Kong


def deliver() -> list[mail.EmailMultiAlternatives]:
    mail.outbox.clear()
    notifications.notifications_sweep(dispatch=notifications.deliver_here)
    return list(mail.outbox)  # type: ignore[arg-type]


def alternative(message: mail.EmailMultiAlternatives, mimetype: str) -> str:
    for content, kind in message.alternatives:
        if kind.split(";")[0] == mimetype:
            return str(content)
    raise AssertionError(f"no {mimetype} alternative")


def event(message: mail.EmailMultiAlternatives) -> tuple[Calendar, Any]:
    calendar = Calendar.from_ical(alternative(message, "text/calendar"))
    return calendar, calendar.walk("VEVENT")[0]


def test_the_time_is_clinic_local_with_the_zone_named() -> None:
    assert format_when(START, "en") == "Mon, 14 Jan 2030, 10:30 (Hong Kong time, Asia/Hong_Kong)"
    assert format_when(START, "zh-hant") == "2030年1月14日週一 10:30（香港時間，Asia/Hong_Kong）"


def test_confirmation_in_english(clock: Any, book: Callable, patient: Any) -> None:
    appointment = book(patient, START)
    [message] = deliver()
    row = Notification.objects.get(kind="confirmation")

    assert message.to == [patient.email]
    assert message.subject == "Booked: Mon, 14 Jan, 10:30 at Clear Skin Clinic"
    assert message.extra_headers["X-Clinic-Notification"] == "confirmation"
    assert message.extra_headers["Message-ID"] == row.message_id
    assert message.extra_headers["Content-Language"] == "en"
    for part in (message.body, alternative(message, "text/html")):
        assert "Chan Tai Man" in part
        assert "Clear Skin Clinic" in part
        assert "Superficial chemical peel" in part
        assert "Mon, 14 Jan 2030, 10:30 (Hong Kong time, Asia/Hong_Kong)" in part
        assert "Stop retinoid creams 48 hours before." in part
        assert f"http://testserver/appointments/{appointment.pk}/" in part
        assert "Sun, 13 Jan 2030, 10:30 (Hong Kong time, Asia/Hong_Kong)" in part  # online changes until


def test_confirmation_in_traditional_chinese(clock: Any, book: Callable) -> None:
    patient = PatientFactory(full_name="陳大文", preferred_language="zh-hant")
    book(patient, START)
    [message] = deliver()

    assert message.subject == "預約確認：1月14日週一 10:30（清膚診所）"
    assert message.extra_headers["Content-Language"] == "zh-Hant"
    for part in (message.body, alternative(message, "text/html")):
        assert "陳大文，你好" in part
        assert "你在清膚診所的預約已確認" in part
        assert "香港中環皇后大道中1號12樓" in part
        assert "果酸換膚" in part
        assert "療程前四十八小時停用A酸產品。" in part
        assert "2030年1月14日週一 10:30（香港時間，Asia/Hong_Kong）" in part
    assert "Superficial chemical peel" not in message.body


def test_the_invite_is_a_request_for_a_stable_uid(clock: Any, book: Callable, patient: Any) -> None:
    appointment = book(patient, START)
    [message] = deliver()
    calendar, vevent = event(message)

    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(vevent["UID"]) == event_uid(appointment)
    assert vevent["SEQUENCE"] == 0
    assert vevent["DTSTART"].dt == START
    assert vevent.get("DTSTAMP") is not None
    assert str(vevent["ORGANIZER"]) == "mailto:bookings@example.com"
    assert str(vevent["ATTENDEE"]) == f"mailto:{patient.email}"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    # The summary names the treatment (so the visit is recognisable in a calendar);
    # nothing more clinical travels to calendar services: no pre-care, no practitioner.
    assert str(vevent["SUMMARY"]) == "Superficial chemical peel at Clear Skin Clinic"
    ics = alternative(message, "text/calendar")
    for clinical in ("retinoid", "Stop", appointment.practitioner.name):
        assert clinical not in ics
    assert [a.filename for a in message.attachments] == ["invite.ics"]


def test_a_reschedule_keeps_the_uid_and_raises_the_sequence(
    clock: Any, book: Callable, patient: Any, receptionist: Any
) -> None:
    appointment = book(patient, START)
    [confirmation] = deliver()
    services.appointment_reschedule(
        appointment=appointment, start=START + timedelta(days=1), by=receptionist, staff=True
    )
    [reschedule] = deliver()

    _, before = event(confirmation)
    calendar, after = event(reschedule)
    assert reschedule.extra_headers["X-Clinic-Notification"] == "reschedule"
    assert str(calendar["METHOD"]) == "REQUEST"
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after["DTSTART"].dt == START + timedelta(days=1)
    assert "Tue, 15 Jan 2030, 10:30 (Hong Kong time, Asia/Hong_Kong)" in reschedule.body


def test_a_cancellation_by_the_clinic_cancels_the_event_and_gives_the_reason(
    clock: Any, book: Callable, patient: Any, receptionist: Any
) -> None:
    appointment = book(patient, START)
    [confirmation] = deliver()
    services.appointment_cancel(appointment=appointment, by=receptionist, staff=True, reason="Typhoon signal No. 8")
    [cancellation] = deliver()

    _, before = event(confirmation)
    calendar, after = event(cancellation)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(after["STATUS"]) == "CANCELLED"
    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert "has had to cancel your appointment" in cancellation.body
    assert "Reason: Typhoon signal No. 8" in cancellation.body
    assert [a.filename for a in cancellation.attachments] == ["cancel.ics"]


def test_a_cancellation_by_the_patient_says_so(clock: Any, book: Callable, patient: Any) -> None:
    appointment = book(patient, START)
    deliver()
    services.appointment_cancel(appointment=appointment, by=patient.user, staff=False)
    [cancellation] = deliver()

    assert "As you asked, your appointment at Clear Skin Clinic is cancelled." in cancellation.body
    assert "Reason:" not in cancellation.body


def test_a_reminder_has_no_invite_and_says_how_to_stop_reminders(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, START)
    deliver()
    clock.move_to(START - timedelta(hours=2))
    [reminder] = deliver()

    assert reminder.extra_headers["X-Clinic-Notification"] == "reminder"
    assert reminder.subject == "Reminder: Mon, 14 Jan, 10:30 at Clear Skin Clinic"
    assert "http://testserver/me/" in reminder.body
    assert [kind for _, kind in reminder.alternatives] == ["text/html"]
    assert reminder.attachments == []


@pytest.mark.parametrize("language", ["en", "zh-hant"])
@pytest.mark.parametrize(
    "kind", ["confirmation", "reschedule", "cancellation", "reminder", "aftercare", "missed_visit"]
)
def test_every_appointment_kind_renders_in_both_languages(clock: Any, book: Callable, language: str, kind: str) -> None:
    from booking.emails import build_message

    appointment = book(PatientFactory(preferred_language=language), START)
    row = Notification(kind=kind, patient=appointment.patient, appointment=appointment, due_at=NOW, next_attempt_at=NOW)
    message = build_message(row)

    for part in (message.subject, message.body, alternative(message, "text/html")):
        assert part.strip()
        assert "{{" not in part and "{%" not in part
    assert message.extra_headers["X-Clinic-Notification"] == kind
