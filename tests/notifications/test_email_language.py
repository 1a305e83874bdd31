"""Issue 16: every email reads whole in the patient's language (the clinic's name and
address included), never promises an online-change deadline that has passed, says
why and from when a visit moved, and its calendar event names the treatment."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from email.header import decode_header, make_header
from typing import Any

import pytest
from django.core import mail
from icalendar import Calendar

from booking import services
from booking.emails import build_message
from booking.models import Appointment, Notification
from tests.factories import PatientFactory
from tests.notifications.conftest import NOW
from tests.notifications.test_emails import alternative, deliver
from tests.pages.staff_fixtures import at, make_clinic, next_workday

pytestmark = pytest.mark.django_db

START = NOW.replace(day=14, hour=10, minute=30)  # Monday 14 January 2030, 10:30 in Hong Kong
ENGLISH_CLINIC = ("Clear Skin Clinic", "Queen's Road", "Queen&#x27;s Road", "Hong Kong time")
KINDS = ["confirmation", "reschedule", "cancellation", "reminder", "aftercare", "pre_care", "missed_visit"]
# What Django writes when a date or time skips clinic/formats.py: "Jan. 14, 2030",
# "midnight", "noon", "10:30 a.m.", "2030-01-14", or money as "HKD 3500".
DJANGO_DEFAULTS = re.compile(
    r"\b[A-Z][a-z]{2}\. \d{1,2}, \d{4}|\bmidnight\b|\bnoon\b|\b[ap]\.m\.|\b\d{4}-\d{2}-\d{2}\b(?![^<]*>)|HKD ?\d"
)


def parts(message: mail.EmailMultiAlternatives) -> list[str]:
    """Everything the patient reads: subject, sender's name, text, HTML and the invite."""
    sender = str(make_header(decode_header(message.message()["From"])))
    found = [message.subject, sender, message.body, alternative(message, "text/html")]
    for content, kind in message.alternatives:
        if kind.startswith("text/calendar"):  # PRODID names the software for machines, not the patient
            found.append("\n".join(line for line in str(content).splitlines() if not line.startswith("PRODID")))
    return found


def message_for(appointment: Appointment, kind: str, **fields: Any) -> mail.EmailMultiAlternatives:
    row = Notification(
        kind=kind, patient=appointment.patient, appointment=appointment, due_at=NOW, next_attempt_at=NOW, **fields
    )
    return build_message(row)


@pytest.mark.parametrize("kind", KINDS)
def test_chinese_emails_carry_no_english_clinic_name_or_address(clock: Any, book: Callable, kind: str) -> None:
    appointment = book(PatientFactory(full_name="陳大文", preferred_language="zh-hant"), START)
    message = message_for(appointment, kind, previous_start=START - timedelta(days=1), reason="八號風球")

    for part in parts(message):
        for english in ENGLISH_CLINIC:
            assert english not in part, (kind, english, part[:300])
    html = alternative(message, "text/html")
    assert "清膚診所" in message.body
    assert "清膚診所" in html and "香港中環皇后大道中1號12樓" in html
    assert "清膚診所" in parts(message)[1]  # the sender's display name


@pytest.mark.parametrize("language", ["en", "zh-hant"])
@pytest.mark.parametrize("kind", KINDS)
def test_no_email_falls_back_to_djangos_default_formats(clock: Any, book: Callable, language: str, kind: str) -> None:
    appointment = book(PatientFactory(preferred_language=language), START)
    message = message_for(appointment, kind, previous_start=START - timedelta(days=1))

    for part in parts(message)[:4]:
        assert not DJANGO_DEFAULTS.search(part), DJANGO_DEFAULTS.search(part)


def test_a_confirmation_inside_the_notice_says_so_and_promises_no_passed_deadline(
    clock: Any, book: Callable, patient: Any
) -> None:
    soon = NOW + timedelta(hours=5)  # Monday 14:00, booked Monday 09:00: inside the 24 hours
    book(patient, soon)
    [message] = deliver()

    for part in (message.body, alternative(message, "text/html")):
        assert "Online changes are possible until" not in part
        assert "Sun, 6 Jan 2030" not in part  # the deadline that had already passed
        assert "less than 24 hours away" in part
        assert "changed or cancelled online" in part
        assert "+852 2123 4567" in part
        assert "View, reschedule or cancel" not in part


def test_a_chinese_confirmation_inside_the_notice_says_so(clock: Any, book: Callable) -> None:
    book(PatientFactory(preferred_language="zh-hant"), NOW + timedelta(hours=5))
    [message] = deliver()

    for part in (message.body, alternative(message, "text/html")):
        assert "已不足24小時，不能於網上更改或取消" in part
        assert "或之前於網上更改預約" not in part


def test_a_confirmation_in_good_time_gives_the_deadline(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, START)
    [message] = deliver()

    assert "Online changes are possible until Sun, 13 Jan 2030, 10:30" in message.body
    assert "less than 24 hours away" not in message.body


def test_the_last_reminder_promises_no_online_change(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, START)
    deliver()
    clock.move_to(START - timedelta(hours=2))
    [reminder] = deliver()

    assert "Online changes are possible until" not in reminder.body
    assert "less than 24 hours away" in reminder.body


def test_a_move_for_a_closure_gives_the_reason_and_the_old_and_new_time(client: Any) -> None:
    """Through the staff closure page, as the clinic would on a typhoon morning."""
    clinic = make_clinic()
    clinic.patient.preferred_language = "zh-hant"
    clinic.patient.save(update_fields=["preferred_language"])
    day = next_workday()
    appointment = services.appointment_book(
        patient=clinic.patient,
        treatment=clinic.treatment,
        start=at(day, 10),
        practitioner=clinic.practitioner,
        booked_by=clinic.receptionist,
        staff=True,
    )
    closure = services.closure_add(
        start=at(day, 0), end=at(day, 23, 59), reason="八號風球", kind="weather", by=clinic.receptionist
    )[0]
    client.force_login(clinic.receptionist)
    response = client.post(
        f"/staff/closures/clinic/{closure.pk}/", {"action": "move", "appointments": [appointment.pk]}
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    row = Notification.objects.get(kind="reschedule", appointment=appointment)
    message = build_message(row)

    from booking.emails import format_when

    old, new = format_when(at(day, 10), "zh-hant"), format_when(appointment.start, "zh-hant")
    assert old != new
    for part in (message.body, alternative(message, "text/html")):
        assert "八號風球" in part
        assert old in part and new in part
        assert part.index(old) < part.index(new)
    assert "原定時間：" + old in message.body and "新時間：" + new in message.body


def test_a_move_by_staff_with_a_reason_says_why_in_english(
    clock: Any, book: Callable, patient: Any, receptionist: Any
) -> None:
    appointment = book(patient, START)
    deliver()
    services.appointment_reschedule(
        appointment=appointment,
        start=START + timedelta(days=1),
        by=receptionist,
        staff=True,
        reason="Your practitioner is at a conference",
    )
    [message] = deliver()

    assert "Reason: Your practitioner is at a conference" in message.body
    assert "Was:   Mon, 14 Jan 2030, 10:30" in message.body
    assert "Now:   Tue, 15 Jan 2030, 10:30" in message.body
    assert "<s>Mon, 14 Jan 2030, 10:30" in alternative(message, "text/html")


def test_the_calendar_summary_names_the_treatment_in_the_patients_language(clock: Any, book: Callable) -> None:
    book(PatientFactory(preferred_language="zh-hant"), START)
    [message] = deliver()
    vevent = Calendar.from_ical(alternative(message, "text/calendar")).walk("VEVENT")[0]

    assert str(vevent["SUMMARY"]) == "果酸換膚（清膚診所）"
    assert str(vevent["LOCATION"]) == "香港中環皇后大道中1號12樓"


def test_emails_carry_the_clinics_logo_and_accent(clock: Any, book: Callable, patient: Any, settings: Any) -> None:
    settings.CLINIC_ACCENT = "#7a1f5c"
    book(patient, START)
    [message] = deliver()
    html = alternative(message, "text/html")

    assert 'src="http://testserver/static/clinic/brand/logo.svg"' in html
    assert "background: #7a1f5c" in html
