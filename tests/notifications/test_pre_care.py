"""Issue 17, point 4: the pre-care of domain.md reaches the patient at the right
time before the visit, through the outbox, once, in their language; a move
re-plans it, a cancellation or check-in stops it, and a passed offset is sent
at once unless the visit is too near."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from booking import notifications, precare, services
from booking.models import Appointment, Notification
from tests.factories import HealthDeclarationFactory, PatientFactory
from tests.notifications.conftest import NOW, sending
from tests.notifications.test_emails import alternative
from treatments.models import PreCareCondition, PreCareInstruction

pytestmark = pytest.mark.django_db

Kind, Status, Skip = Notification.Kind, Notification.Status, Notification.SkipReason
DAY = 24 * 60
VISIT = NOW.replace(day=28, hour=10, minute=30)  # Monday 28 January 2030, 10:30 Hong Kong; NOW is 7 January


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return NOW.replace(day=day, hour=hour, minute=minute)


@pytest.fixture
def instructions(treatment: Any) -> dict[str, PreCareInstruction]:
    def make(code: str, days: int, title_en: str, title_zh: str, **extra: Any) -> PreCareInstruction:
        instruction = PreCareInstruction.objects.create(
            code=code,
            days_before=days,
            title_en=title_en,
            title_zh_hant=title_zh,
            text_en=f"{title_en}: the details.",
            text_zh_hant=f"{title_zh}：詳情。",
            **extra,
        )
        instruction.treatments.add(treatment)
        return instruction

    return {
        "retinoids": make("retinoid-2w", 14, "Stop topical retinoids today", "今天起停用A酸類外用產品"),
        "numbing": make("numbing", 1, "Arrive 45 minutes early tomorrow", "明天請提早45分鐘到達"),
    }


def pre_care_rows(appointment: Appointment) -> list[tuple[int, int, str, str]]:
    return list(
        Notification.objects.filter(appointment=appointment, kind=Kind.PRE_CARE)
        .order_by("sequence", "-offset_minutes")
        .values_list("sequence", "offset_minutes", "status", "skip_reason")
    )


def sweep_pre_care() -> list[mail.EmailMultiAlternatives]:
    mail.outbox.clear()
    notifications.notifications_sweep(dispatch=notifications.deliver_here)
    return [m for m in mail.outbox if m.extra_headers["X-Clinic-Notification"] == "pre_care"]  # type: ignore[misc]


def test_pre_care_is_sent_once_at_the_clinics_hour_14_days_before_in_the_patients_language(
    clock: Any, book: Callable, instructions: Any
) -> None:
    patient = PatientFactory(full_name="陳大文", preferred_language="zh-hant")
    appointment = book(patient, VISIT)

    due = dict(
        Notification.objects.filter(appointment=appointment, kind=Kind.PRE_CARE).values_list("offset_minutes", "due_at")
    )
    assert due == {14 * DAY: at(14, 10), 1 * DAY: at(27, 10)}  # CLINIC_NOTIFICATION_HOUR = 10

    clock.move_to(at(14, 9, 59))
    assert sweep_pre_care() == []

    clock.move_to(at(14, 10))
    [message] = sweep_pre_care()
    assert message.to == [patient.email]
    assert message.extra_headers["Content-Language"] == "zh-Hant"
    assert "今天起停用A酸類外用產品" in message.subject
    assert "今天起停用A酸類外用產品" in message.body and "明天請提早45分鐘到達" not in message.body
    assert "Stop topical retinoids" not in message.body
    token = precare.token_for(appointment)
    assert f"/pre-care/{token}/" in message.body
    assert f"/pre-care/{token}/" in alternative(message, "text/html")

    assert sweep_pre_care() == []  # the sweep running again sends nothing more
    clock.move_to(at(20, 10))
    assert sweep_pre_care() == []

    clock.move_to(at(27, 10))
    [day_before] = sweep_pre_care()
    assert "明天請提早45分鐘到達" in day_before.subject
    assert Notification.objects.filter(appointment=appointment, kind=Kind.PRE_CARE, status=Status.SENT).count() == 2


def test_an_english_patient_reads_it_in_english(clock: Any, book: Callable, patient: Any, instructions: Any) -> None:
    book(patient, VISIT)
    clock.move_to(at(14, 10))

    [message] = sweep_pre_care()

    assert message.subject.startswith("Before your Superficial chemical peel on")
    assert "Stop topical retinoids today" in message.subject
    assert "Stop topical retinoids today: the details." in message.body
    assert "今天" not in message.body


def test_an_offset_already_passed_when_booked_is_sent_at_once(
    clock: Any, book: Callable, patient: Any, instructions: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        appointment = book(patient, at(12, 10, 30))  # five days ahead: the 14-day offset has passed

    assert pre_care_rows(appointment) == [(0, 14 * DAY, "pending", ""), (0, DAY, "pending", "")]
    retinoids = Notification.objects.get(appointment=appointment, kind=Kind.PRE_CARE, offset_minutes=14 * DAY)
    assert retinoids.due_at == NOW
    assert len(sending(callbacks)) == 2  # the confirmation and this one, published after commit

    [message] = sweep_pre_care()
    assert "Stop topical retinoids today" in message.subject


def test_a_visit_too_near_gets_no_pre_care_email(clock: Any, book: Callable, patient: Any, instructions: Any) -> None:
    appointment = book(patient, NOW + timedelta(hours=1, minutes=45))  # staff book a walk-in-like visit

    assert pre_care_rows(appointment) == [(0, 14 * DAY, "skipped", "too_late"), (0, DAY, "skipped", "too_late")]
    assert sweep_pre_care() == []


def test_a_move_replans_pre_care_and_does_not_repeat_what_was_sent(
    clock: Any, book: Callable, patient: Any, instructions: Any, receptionist: Any
) -> None:
    appointment = book(patient, VISIT)
    clock.move_to(at(14, 10))
    assert len(sweep_pre_care()) == 1

    clock.move_to(at(14, 11))
    moved = services.appointment_reschedule(
        appointment=appointment, start=at(25, 10, 30), by=receptionist, staff=True, now=timezone.now()
    )

    assert pre_care_rows(moved) == [
        (0, 14 * DAY, "sent", ""),
        (0, DAY, "skipped", "rescheduled"),
        (1, 14 * DAY, "skipped", "already_sent"),
        (1, DAY, "pending", ""),
    ]
    assert Notification.objects.get(appointment=moved, kind=Kind.PRE_CARE, sequence=1, offset_minutes=DAY).due_at == at(
        24, 10
    )
    assert sweep_pre_care() == []


def test_a_move_later_sends_the_pre_care_again_at_the_new_time(
    clock: Any, book: Callable, patient: Any, instructions: Any, receptionist: Any
) -> None:
    appointment = book(patient, VISIT)
    moved = services.appointment_reschedule(
        appointment=appointment, start=VISIT + timedelta(days=7), by=receptionist, staff=True, now=NOW
    )

    assert pre_care_rows(moved)[2:] == [(1, 14 * DAY, "pending", ""), (1, DAY, "pending", "")]
    clock.move_to(at(14, 10))
    assert sweep_pre_care() == []  # the old time's email is gone
    clock.move_to(at(21, 10))
    assert len(sweep_pre_care()) == 1


def test_cancelling_or_checking_in_skips_pending_pre_care(
    clock: Any, book: Callable, patient: Any, instructions: Any, receptionist: Any
) -> None:
    cancelled = book(patient, VISIT)
    services.appointment_cancel(appointment=cancelled, by=receptionist, staff=True)
    assert [row[2:] for row in pre_care_rows(cancelled)] == [("skipped", "cancelled")] * 2

    here = book(PatientFactory(), at(8, 10, 30))
    clock.move_to(at(8, 10))
    services.appointment_check_in(appointment=here, by=receptionist)
    assert [row[2:] for row in pre_care_rows(here)] == [("skipped", "not_confirmed")] * 2
    assert not Notification.objects.filter(appointment=here, kind=Kind.PRE_CARE, status=Status.PENDING).exists()
    assert sweep_pre_care() == []


def test_pre_care_is_sent_even_to_a_patient_who_turned_reminders_off(
    clock: Any, book: Callable, instructions: Any
) -> None:
    patient = PatientFactory(reminders_opt_out=True)
    book(patient, VISIT)
    clock.move_to(at(14, 10))

    assert len(sweep_pre_care()) == 1
    assert "reminder emails are turned off" in mail.outbox[-1].body


def test_an_instruction_for_cold_sores_goes_only_to_patients_who_have_had_them(
    clock: Any, book: Callable, treatment: Any
) -> None:
    antiviral = PreCareInstruction.objects.create(
        code="antiviral",
        days_before=7,
        title_en="Antiviral cover for cold sores",
        title_zh_hant="預防熱瘡的抗病毒藥物",
        text_en="Take the antiviral tablets.",
        text_zh_hant="服用抗病毒藥物。",
        condition=PreCareCondition.COLD_SORE_HISTORY,
    )
    antiviral.treatments.add(treatment)
    clear = PatientFactory()
    HealthDeclarationFactory(patient=clear, cold_sore_history=False)
    prone = PatientFactory()
    HealthDeclarationFactory(patient=prone, cold_sore_history=True)
    first, second = book(clear, VISIT), book(prone, VISIT + timedelta(hours=2))

    clock.move_to(at(21, 10))
    [message] = sweep_pre_care()

    assert message.to == [prone.email]
    assert pre_care_rows(first) == [(0, 7 * DAY, "skipped", "not_applicable")]
    assert pre_care_rows(second) == [(0, 7 * DAY, "sent", "")]


def test_a_treatment_without_pre_care_gets_no_pre_care_rows(clock: Any, book: Callable, patient: Any) -> None:
    appointment = book(patient, VISIT)

    assert pre_care_rows(appointment) == []


def test_confirmations_survive_a_move(
    clock: Any, book: Callable, patient: Any, instructions: Any, receptionist: Any
) -> None:
    appointment = book(patient, VISIT)
    precare.pre_care_acknowledge(appointment=appointment, via="portal", by=patient.user, now=NOW)

    moved = services.appointment_reschedule(
        appointment=appointment, start=VISIT + timedelta(days=3), by=receptionist, staff=True, now=NOW
    )

    assert [item.confirmed for item in precare.status(moved)] == [True, True]
    assert precare.unconfirmed(moved) == []
