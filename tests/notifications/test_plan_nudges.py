"""Plan nudges: "your next session is due" when a session's window opens and
its turn has come, and a last call a few days before the window closes while
it is still unbooked; aftercare once a session is completed. Scheduled by the
sweep, idempotently, and skipped when the session no longer needs them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from booking import notifications, services
from booking.models import Notification
from tests.factories import PatientFactory, UserFactory
from tests.notifications.conftest import NOW
from treatments import services as clinical
from treatments.models import PlanSession, TreatmentPlan

pytestmark = pytest.mark.django_db

HK = ZoneInfo("Asia/Hong_Kong")
TODAY = NOW.date()  # Monday 7 January 2030; NOW is 09:00


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=HK)


def sweep() -> Any:
    mail.outbox.clear()
    return notifications.notifications_sweep(dispatch=notifications.deliver_here)


def kinds() -> list[str]:
    return [m.extra_headers["X-Clinic-Notification"] for m in mail.outbox]


@pytest.fixture
def plan(clock: Any, treatment: Any, practitioner: Any, patient: Any) -> TreatmentPlan:
    """Three sessions, 14 to 35 days apart, from today: session 1's window is
    7–28 January, session 2's (projected) 21 January – 11 February."""
    return clinical.plan_create(patient=patient, treatment=treatment, sessions=3, by=practitioner.user, today=TODAY)


def session(plan: TreatmentPlan, number: int) -> PlanSession:
    return PlanSession.objects.get(plan=plan, number=number)


def nudges(plan: TreatmentPlan) -> list[tuple[int, str, date, str, str]]:
    return list(
        Notification.objects.filter(plan_session__plan=plan)
        .order_by("plan_session__number", "kind", "window_start")
        .values_list("plan_session__number", "kind", "window_start", "status", "skip_reason")
    )


def test_a_window_that_opens_gets_a_nudge_at_the_sending_hour(clock: Any, plan: TreatmentPlan, patient: Any) -> None:
    assert sweep().scheduled == 1
    first = Notification.objects.get(plan_session=session(plan, 1))
    assert (first.kind, first.due_at, first.window_start) == ("session_due", at(TODAY), TODAY)
    assert mail.outbox == []  # 09:00: not yet

    clock.move_to(at(TODAY))
    sweep()
    [message] = mail.outbox
    assert kinds() == ["session_due"]
    assert message.subject == "Time to book session 1 of your Superficial chemical peel"
    assert "Session 1 of 3 of your Superficial chemical peel course is due." in message.body
    assert "between Mon, 7 Jan 2030 and Mon, 28 Jan 2030" in message.body
    assert f"http://testserver/plans/{plan.pk}/" in message.body
    assert message.attachments == []


def test_a_session_whose_turn_has_not_come_gets_no_nudge(clock: Any, plan: TreatmentPlan) -> None:
    clock.move_to(at(date(2030, 1, 22)))  # session 2's projected window is open, session 1 unbooked
    sweep()
    assert [(n, kind) for n, kind, *_ in nudges(plan)] == [(1, "session_due")]


def test_sweeps_schedule_each_nudge_once(clock: Any, plan: TreatmentPlan) -> None:
    sweep()
    sweep()
    clock.move_to(at(TODAY))
    sweep()
    sweep()
    assert nudges(plan) == [(1, "session_due", TODAY, "sent", "")]


def test_a_last_call_goes_days_before_the_window_closes_while_unbooked(clock: Any, plan: TreatmentPlan) -> None:
    clock.move_to(at(TODAY))
    sweep()
    clock.move_to(at(date(2030, 1, 24)))  # four days before 28 January
    sweep()
    assert kinds() == []
    clock.move_to(at(date(2030, 1, 25), 9))
    assert sweep().scheduled == 1
    clock.move_to(at(date(2030, 1, 25)))
    sweep()

    [message] = mail.outbox
    assert kinds() == ["session_last_call"]
    assert "its window closes on Mon, 28 Jan 2030" in message.body


def test_booking_the_session_stops_its_nudges_and_opens_the_next_turn(
    clock: Any, plan: TreatmentPlan, book: Callable, patient: Any
) -> None:
    sweep()  # session 1's nudge, due at 10:00
    book(patient, at(date(2030, 1, 10)), plan_session_id=session(plan, 1).pk)
    clock.move_to(at(date(2030, 1, 24)))
    sweep()

    assert (1, "session_due", TODAY, "skipped", "session_changed") in nudges(plan)
    assert kinds().count("session_due") == 1  # session 2's: booked for 10 January, its window opened on the 24th
    assert (2, "session_due", date(2030, 1, 24), "sent", "") in nudges(plan)


def test_a_window_that_moves_gets_a_new_nudge_and_the_old_one_is_skipped(clock: Any, plan: TreatmentPlan) -> None:
    sweep()  # session 1's nudge for the window opening today, due at 10:00
    # The window moves before it goes out, as plan_recompute moves windows.
    PlanSession.objects.filter(pk=session(plan, 1).pk).update(window_start=date(2030, 1, 8))
    clock.move_to(at(date(2030, 1, 8)))
    sweep()

    assert nudges(plan) == [
        (1, "session_due", TODAY, "skipped", "session_changed"),
        (1, "session_due", date(2030, 1, 8), "sent", ""),
    ]


def test_opting_out_stops_plan_nudges(clock: Any, plan: TreatmentPlan, patient: Any) -> None:
    patient.reminders_opt_out = True
    patient.save()
    clock.move_to(at(TODAY))
    sweep()
    assert mail.outbox == []
    assert nudges(plan) == [(1, "session_due", TODAY, "skipped", "opted_out")]


def test_a_cancelled_plan_is_not_nudged(clock: Any, plan: TreatmentPlan, practitioner: Any) -> None:
    sweep()
    clinical.plan_cancel(plan=plan, by=practitioner.user)
    clock.move_to(at(TODAY))
    sweep()
    assert mail.outbox == []
    assert nudges(plan) == [(1, "session_due", TODAY, "skipped", "session_changed")]


def test_plan_nudges_in_chinese(clock: Any, treatment: Any, practitioner: Any) -> None:
    patient = PatientFactory(preferred_language="zh-hant")
    clinical.plan_create(patient=patient, treatment=treatment, sessions=3, by=practitioner.user, today=TODAY)
    clock.move_to(at(TODAY))
    sweep()

    [message] = mail.outbox
    assert message.subject == "果酸換膚：可以預約第1次療程了"
    assert "你的果酸換膚療程第1次（共3次）現在可以預約" in message.body
    assert "2030年1月7日週一至2030年1月28日週一" in message.body


def test_completing_a_session_sends_its_aftercare(clock: Any, book: Callable, patient: Any) -> None:
    appointment = book(patient, at(TODAY, 11))
    clock.move_to(at(TODAY, 11))
    services.appointment_check_in(appointment=appointment, by=UserFactory(role="receptionist"))
    clock.move_to(at(TODAY, 12))
    services.appointment_complete(appointment=appointment, by=UserFactory(role="practitioner"), record={})
    sweep()

    aftercare = [m for m in mail.outbox if m.extra_headers["X-Clinic-Notification"] == "aftercare"]
    [message] = aftercare
    assert "Use SPF 50 every day for two weeks." in message.body
    assert "for your Superficial chemical peel on Mon, 7 Jan 2030" in message.body
    assert Notification.objects.get(appointment=appointment, kind="aftercare").status == "sent"
