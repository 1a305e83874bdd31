"""Issue 18: the missed-visit email. Warm, never blaming, in the patient's
language, with the treatment, the day and time, a way to book again (that
plan session when the visit was one) and the clinic's phone; sent once,
whether the sweep or the button marked the visit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from booking import services
from booking.models import Notification
from tests.factories import HealthDeclarationFactory, PatientFactory, UserFactory
from tests.notifications.conftest import NOW
from tests.notifications.test_emails import alternative, deliver
from treatments import services as clinical

pytestmark = pytest.mark.django_db

START = NOW.replace(hour=11)  # Monday 7 January 2030, 11:00–11:30 in Hong Kong
AFTER = START + timedelta(hours=1)


@pytest.fixture(autouse=True)
def no_show_after(settings: Any) -> None:
    settings.CLINIC_NO_SHOW_AFTER = timedelta(minutes=30)


def missed(clock: Any) -> list[Any]:
    clock.move_to(AFTER)
    assert services.appointments_mark_missed() == 1
    return [m for m in deliver() if m.extra_headers["X-Clinic-Notification"] == Notification.Kind.MISSED_VISIT]


def test_the_english_email_is_kind_and_offers_the_same_treatment_again(
    clock: Any, book: Callable, patient: Any, treatment: Any
) -> None:
    book(patient, START)

    [message] = missed(clock)

    assert message.subject == "We missed you today: your Superficial chemical peel"
    html = alternative(message, "text/html")
    for part in (message.body, html):
        assert "We missed you at Clear Skin Clinic today" in part
        assert "Superficial chemical peel" in part
        assert "Mon, 7 Jan 2030, 11:00" in part
        assert "http://testserver/book/?treatment=peel-superficial" in part
        assert "+852 2123 4567" in part
        assert "no-show" not in part.lower()  # a word for staff, not for the patient
    assert "Book again" in html
    assert message.extra_headers["Content-Language"] == "en"
    assert [kind for _, kind in message.alternatives] == ["text/html"]  # no calendar invite


def test_the_chinese_email_reads_whole_in_chinese(clock: Any, book: Callable) -> None:
    book(PatientFactory(full_name="陳大文", preferred_language="zh-hant"), START)

    [message] = missed(clock)

    assert message.subject == "今天未能見到你：果酸換膚"
    html = alternative(message, "text/html")
    for part in (message.body, html):
        assert "陳大文，你好" in part
        assert "今天在清膚診所未能見到你" in part
        assert "2030年1月7日週一 11:00" in part
        assert "http://testserver/book/?treatment=peel-superficial" in part
        assert "Clear Skin Clinic" not in part
    assert "再次預約" in html
    assert message.extra_headers["Content-Language"] == "zh-Hant"


def test_a_missed_plan_session_links_to_booking_that_session(
    clock: Any, book: Callable, patient: Any, treatment: Any
) -> None:
    HealthDeclarationFactory(patient=patient)
    plan = clinical.plan_create(
        patient=patient, treatment=treatment, sessions=3, start_after=NOW.date(), today=NOW.date(), by=UserFactory()
    )
    session = plan.sessions.get(number=1)
    book(patient, START, plan_session_id=session.pk)

    [message] = missed(clock)

    html = alternative(message, "text/html")
    for part in (message.body, html):
        assert f"http://testserver/book/?plan_session={session.pk}" in part
        assert "book this session again" in part
    assert "Book this session again" in html


def test_the_button_sends_the_same_email_once(clock: Any, book: Callable, patient: Any, receptionist: Any) -> None:
    appointment = book(patient, START)
    deliver()  # the confirmation
    clock.move_to(START + timedelta(minutes=20))

    services.appointment_no_show(appointment=appointment, by=receptionist)
    first = deliver()
    clock.move_to(AFTER)
    assert services.appointments_mark_missed() == 0
    second = deliver()

    assert [m.extra_headers["X-Clinic-Notification"] for m in first] == ["missed_visit"]
    assert second == []


def test_a_visit_marked_days_later_names_its_day(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, START)
    deliver()  # the confirmation
    clock.move_to(START + timedelta(days=2))  # beat was stopped over the weekend, say

    assert services.appointments_mark_missed() == 1
    [message] = deliver()

    assert message.subject == "We missed you on Mon, 7 Jan 2030: your Superficial chemical peel"
    assert "today" not in message.body
