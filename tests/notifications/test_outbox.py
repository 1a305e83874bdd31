"""The outbox as the booking services write it and the sweep sends it:
each notification exists once, goes once, and only while it still applies."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, transaction

from booking import notifications, services
from booking.models import Appointment, Notification
from clinic.errors import SlotUnavailable
from tests.factories import PatientFactory
from tests.notifications.conftest import NOW, sending

pytestmark = pytest.mark.django_db

Kind, Status, Skip = Notification.Kind, Notification.Status, Notification.SkipReason
MONDAY_NEXT_WEEK_10 = NOW.replace(day=14, hour=10)


def rows(appointment: Appointment) -> list[tuple[str, int, int, str, str]]:
    return list(
        Notification.objects.filter(appointment=appointment)
        .order_by("kind", "sequence", "-offset_minutes")
        .values_list("kind", "sequence", "offset_minutes", "status", "skip_reason")
    )


def sweep() -> Any:
    return notifications.notifications_sweep(dispatch=notifications.deliver_here)


def sent(kind: str | None = None) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if kind is None or m.extra_headers["X-Clinic-Notification"] == kind]


# --- what the services write ------------------------------------------------------------


def test_booking_writes_a_confirmation_and_a_reminder_per_offset(clock: Any, book: Callable, patient: Any) -> None:
    appointment = book(patient, MONDAY_NEXT_WEEK_10)

    assert rows(appointment) == [
        ("confirmation", 0, 0, "pending", ""),
        ("reminder", 0, 1440, "pending", ""),
        ("reminder", 0, 120, "pending", ""),
    ]
    due = dict(
        Notification.objects.filter(appointment=appointment, kind=Kind.REMINDER).values_list("offset_minutes", "due_at")
    )
    assert due == {1440: MONDAY_NEXT_WEEK_10 - timedelta(hours=24), 120: MONDAY_NEXT_WEEK_10 - timedelta(hours=2)}
    assert Notification.objects.get(appointment=appointment, kind=Kind.CONFIRMATION).due_at == NOW


def test_an_offset_already_past_when_booked_is_skipped(clock: Any, book: Callable, patient: Any) -> None:
    appointment = book(patient, NOW + timedelta(hours=3))

    assert rows(appointment)[1:] == [
        ("reminder", 0, 1440, "skipped", "offset_passed"),
        ("reminder", 0, 120, "pending", ""),
    ]


def test_the_confirmation_is_published_after_commit_only(
    clock: Any, book: Callable, patient: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    published: list[list[int]] = []
    monkeypatch.setattr(notifications, "publish", lambda ids, claim=None: published.append(list(ids)) or True)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        appointment = book(patient, MONDAY_NEXT_WEEK_10)
        assert published == []

    confirmation = Notification.objects.get(appointment=appointment, kind=Kind.CONFIRMATION)
    assert len(sending(callbacks)) == 1
    assert published == [[confirmation.pk]]


def test_a_booking_that_fails_leaves_no_notification(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, MONDAY_NEXT_WEEK_10)
    with pytest.raises(SlotUnavailable):
        book(PatientFactory(), MONDAY_NEXT_WEEK_10)
    assert Notification.objects.count() == 3


def test_rescheduling_skips_the_old_reminders_and_plans_new_ones(
    clock: Any, book: Callable, patient: Any, receptionist: Any
) -> None:
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    services.appointment_reschedule(
        appointment=appointment, start=MONDAY_NEXT_WEEK_10 + timedelta(days=1), by=receptionist, staff=True
    )

    assert rows(appointment) == [
        ("confirmation", 0, 0, "skipped", "rescheduled"),
        ("reminder", 0, 1440, "skipped", "rescheduled"),
        ("reminder", 0, 120, "skipped", "rescheduled"),
        ("reminder", 1, 1440, "pending", ""),
        ("reminder", 1, 120, "pending", ""),
        ("reschedule", 1, 0, "pending", ""),
    ]
    new_due = Notification.objects.get(appointment=appointment, kind=Kind.REMINDER, sequence=1, offset_minutes=120)
    assert new_due.due_at == MONDAY_NEXT_WEEK_10 + timedelta(days=1) - timedelta(hours=2)


def test_a_sent_reminder_stays_sent_when_the_appointment_moves(
    clock: Any, book: Callable, patient: Any, receptionist: Any
) -> None:
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    clock.move_to(MONDAY_NEXT_WEEK_10 - timedelta(hours=23))
    sweep()
    services.appointment_reschedule(
        appointment=appointment, start=MONDAY_NEXT_WEEK_10 + timedelta(days=2), by=receptionist, staff=True
    )

    assert ("reminder", 0, 1440, "sent", "") in rows(appointment)
    assert ("reminder", 1, 1440, "pending", "") in rows(appointment)


def test_cancelling_skips_pending_notices_and_writes_the_cancellation(
    clock: Any, book: Callable, patient: Any, receptionist: Any
) -> None:
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    sweep()  # the confirmation goes
    services.appointment_cancel(appointment=appointment, by=receptionist, staff=True, reason="Typhoon signal No. 8")

    assert rows(appointment) == [
        ("cancellation", 1, 0, "pending", ""),
        ("confirmation", 0, 0, "sent", ""),
        ("reminder", 0, 1440, "skipped", "cancelled"),
        ("reminder", 0, 120, "skipped", "cancelled"),
    ]


def test_a_no_show_drops_the_reminders_left(clock: Any, book: Callable, patient: Any, receptionist: Any) -> None:
    appointment = book(patient, NOW + timedelta(hours=3))
    clock.move_to(NOW + timedelta(hours=3, minutes=5))
    services.appointment_no_show(appointment=appointment, by=receptionist)

    assert ("reminder", 0, 120, "skipped", "not_confirmed") in rows(appointment)


def test_each_notification_exists_once(clock: Any, book: Callable, patient: Any) -> None:
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            kind=Kind.REMINDER,
            patient=patient,
            appointment=appointment,
            sequence=0,
            offset_minutes=120,
            due_at=NOW,
            next_attempt_at=NOW,
        )


# --- sending ------------------------------------------------------------------------------


def test_the_sweep_sends_what_is_due_and_leaves_the_rest(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, MONDAY_NEXT_WEEK_10)

    result = sweep()
    assert (result.claimed, result.outcomes["sent"]) == (1, 1)
    assert [m.extra_headers["X-Clinic-Notification"] for m in mail.outbox] == ["confirmation"]

    clock.move_to(MONDAY_NEXT_WEEK_10 - timedelta(hours=24))
    sweep()
    clock.move_to(MONDAY_NEXT_WEEK_10 - timedelta(hours=2))
    sweep()
    sweep()
    assert [m.extra_headers["X-Clinic-Notification"] for m in mail.outbox] == ["confirmation", "reminder", "reminder"]
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_task_delivered_twice_sends_once(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, MONDAY_NEXT_WEEK_10)
    token, ids = notifications.notifications_claim_due(now=NOW)

    notifications.notifications_deliver(ids=ids, claim=token)
    notifications.notifications_deliver(ids=ids, claim=token)
    notifications.notifications_deliver(ids=ids)  # and the after-commit publish arriving late

    assert len(mail.outbox) == 1
    assert Notification.objects.get(pk=ids[0]).attempts == 1


def test_a_second_sweep_claims_nothing_already_claimed(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, MONDAY_NEXT_WEEK_10)
    _token, first = notifications.notifications_claim_due(now=NOW)
    _token, second = notifications.notifications_claim_due(now=NOW)
    assert len(first) == 1
    assert second == []


def test_the_message_id_is_the_rows_and_is_kept_across_retries(
    clock: Any, book: Callable, patient: Any, monkeypatch: Any
) -> None:
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    confirmation = Notification.objects.get(appointment=appointment, kind=Kind.CONFIRMATION)
    fail_once(monkeypatch, smtplib.SMTPDataError(451, b"Try again later"))
    sweep()
    clock.move_to(NOW + timedelta(minutes=2))
    sweep()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == confirmation.message_id
    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.attempts) == ("sent", 2)


def fail_once(monkeypatch: Any, error: Exception, times: int = 1) -> list[int]:
    calls: list[int] = []
    original = notifications._Mailer.send

    def send(self: Any, message: Any) -> None:
        calls.append(1)
        if len(calls) <= times:
            raise error
        original(self, message)

    monkeypatch.setattr(notifications._Mailer, "send", send)
    return calls


def test_failures_back_off_exponentially_then_fail(clock: Any, book: Callable, patient: Any, monkeypatch: Any) -> None:
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    confirmation = Notification.objects.get(appointment=appointment, kind=Kind.CONFIRMATION)
    fail_once(monkeypatch, smtplib.SMTPRecipientsRefused({patient.email: (450, b"mailbox busy")}), times=99)

    delays = []
    now = NOW
    for _attempt in range(6):
        clock.move_to(now)
        sweep()
        confirmation.refresh_from_db()
        delays.append(confirmation.next_attempt_at - now)
        now = confirmation.next_attempt_at

    assert delays[:5] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]
    assert (confirmation.status, confirmation.attempts) == ("failed", 6)
    assert confirmation.last_error == "SMTPRecipientsRefused: 450"
    clock.move_to(now + timedelta(days=1))
    assert sweep().claimed == 0
    assert mail.outbox == []


def test_last_error_never_holds_the_patients_address(
    clock: Any, book: Callable, patient: Any, monkeypatch: Any
) -> None:
    book(patient, MONDAY_NEXT_WEEK_10)
    fail_once(monkeypatch, smtplib.SMTPDataError(554, f"5.7.1 <{patient.email}>: rejected".encode()))
    sweep()

    error = Notification.objects.get(kind=Kind.CONFIRMATION).last_error
    assert patient.email not in error
    assert error == "SMTPDataError: 554 5.7.1 <<address>>: rejected"


def test_a_connection_failure_retries_the_whole_batch(clock: Any, book: Callable, monkeypatch: Any) -> None:
    for hour in (10, 11, 12):
        book(PatientFactory(), MONDAY_NEXT_WEEK_10.replace(hour=hour))
    calls = fail_once(monkeypatch, ConnectionRefusedError(111, "Connection refused"), times=99)

    result = sweep()

    assert result.outcomes == {"retrying": 3}
    assert len(calls) == 1  # one refused connection, not one per message
    assert set(Notification.objects.filter(kind=Kind.CONFIRMATION).values_list("status", "attempts")) == {
        ("pending", 1)
    }


def test_a_message_that_cannot_be_built_fails_alone(clock: Any, book: Callable, monkeypatch: Any) -> None:
    from booking import emails

    poison = book(PatientFactory(full_name="Line\nBreak"), MONDAY_NEXT_WEEK_10)
    book(PatientFactory(), MONDAY_NEXT_WEEK_10.replace(hour=11))
    original = emails.build_message

    def build(notification: Notification, **kwargs: Any) -> Any:
        if notification.appointment_id == poison.pk:
            raise ValueError(f"cannot encode {notification.patient.full_name!r}")
        return original(notification, **kwargs)

    monkeypatch.setattr(emails, "build_message", build)
    assert sweep().outcomes == {"sent": 1, "retrying": 1}
    failed = Notification.objects.get(appointment=poison, kind=Kind.CONFIRMATION)
    assert (failed.status, failed.last_error) == ("pending", "ValueError")  # no patient data


def test_an_expired_claim_goes_back_to_pending(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, MONDAY_NEXT_WEEK_10)
    notifications.notifications_claim_due(now=NOW)  # a worker claims, then dies

    clock.move_to(NOW + timedelta(seconds=299))
    assert sweep().released == 0
    clock.move_to(NOW + timedelta(seconds=301))
    result = sweep()

    assert (result.released, result.outcomes["sent"]) == (1, 1)
    assert len(mail.outbox) == 1


def test_an_expired_claim_on_the_last_attempt_fails(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, MONDAY_NEXT_WEEK_10)
    Notification.objects.filter(kind=Kind.CONFIRMATION).update(
        status=Status.SENDING, claim="00000000-0000-0000-0000-000000000001", claimed_at=NOW, attempts=6
    )
    clock.move_to(NOW + timedelta(minutes=10))
    sweep()

    assert Notification.objects.get(kind=Kind.CONFIRMATION).status == "failed"
    assert mail.outbox == []


def test_with_the_broker_down_the_booking_commits_and_the_sweep_sends_later(
    clock: Any, book: Callable, patient: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from booking import tasks

    class BrokerDown:
        def delay(self, *args: Any) -> None:
            raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(tasks, "deliver_notifications", BrokerDown())
    with django_capture_on_commit_callbacks(execute=True):
        appointment = book(patient, MONDAY_NEXT_WEEK_10)  # no exception escapes

    assert Appointment.objects.filter(pk=appointment.pk).exists()
    assert notifications.notifications_sweep().claimed == 1  # published nowhere: given back at once
    assert Notification.objects.get(kind=Kind.CONFIRMATION).status == "pending"
    assert sweep().outcomes["sent"] == 1


# --- what no longer applies is skipped at send time ----------------------------------------


def test_a_reminder_claimed_before_a_cancellation_is_skipped(
    clock: Any, book: Callable, patient: Any, receptionist: Any
) -> None:
    appointment = book(patient, NOW + timedelta(hours=26))
    sweep()
    clock.move_to(NOW + timedelta(hours=2, minutes=1))
    token, ids = notifications.notifications_claim_due(now=NOW + timedelta(hours=2, minutes=1))
    services.appointment_cancel(appointment=appointment, by=receptionist, staff=True)
    notifications.notifications_deliver(ids=ids, claim=token)

    reminder = Notification.objects.get(appointment=appointment, kind=Kind.REMINDER, offset_minutes=1440)
    assert (reminder.status, reminder.skip_reason) == ("skipped", "cancelled")
    assert sent("reminder") == []


def test_a_reminder_claimed_before_a_reschedule_is_skipped(
    clock: Any, book: Callable, patient: Any, receptionist: Any
) -> None:
    appointment = book(patient, NOW + timedelta(hours=26))
    sweep()
    clock.move_to(NOW + timedelta(hours=2, minutes=1))
    token, ids = notifications.notifications_claim_due(now=NOW + timedelta(hours=2, minutes=1))
    services.appointment_reschedule(
        appointment=appointment, start=NOW + timedelta(days=3, hours=1), by=receptionist, staff=True
    )
    notifications.notifications_deliver(ids=ids, claim=token)

    reminder = Notification.objects.get(appointment=appointment, kind=Kind.REMINDER, sequence=0, offset_minutes=1440)
    assert (reminder.status, reminder.skip_reason) == ("skipped", "rescheduled")


def test_a_reminder_too_late_to_help_is_skipped(clock: Any, book: Callable, patient: Any) -> None:
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    sweep()
    clock.move_to(MONDAY_NEXT_WEEK_10 - timedelta(hours=11))  # the 24 h reminder, 13 hours late
    sweep()

    reminder = Notification.objects.get(appointment=appointment, kind=Kind.REMINDER, offset_minutes=1440)
    assert (reminder.status, reminder.skip_reason) == ("skipped", "too_late")
    assert sent("reminder") == []


def test_opting_out_stops_reminders_but_not_transactional_messages(
    clock: Any, book: Callable, patient: Any, receptionist: Any
) -> None:
    patient.reminders_opt_out = True
    patient.save()
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    clock.move_to(MONDAY_NEXT_WEEK_10 - timedelta(hours=2))
    sweep()
    services.appointment_cancel(appointment=appointment, by=receptionist, staff=True)
    sweep()

    assert [m.extra_headers["X-Clinic-Notification"] for m in mail.outbox] == ["confirmation", "cancellation"]
    assert set(Notification.objects.filter(kind=Kind.REMINDER).values_list("skip_reason", flat=True)) == {"opted_out"}


def test_a_patient_without_email_is_skipped(clock: Any, book: Callable) -> None:
    walk_in = PatientFactory(user=None, email="")
    book(walk_in, MONDAY_NEXT_WEEK_10)
    sweep()

    confirmation = Notification.objects.get(kind=Kind.CONFIRMATION)
    assert (confirmation.status, confirmation.skip_reason) == ("skipped", "no_address")


# --- cron and staff -------------------------------------------------------------------------


def test_send_due_notifications_does_one_sweep(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, MONDAY_NEXT_WEEK_10)
    out = StringIO()
    call_command("send_due_notifications", stdout=out)

    assert len(mail.outbox) == 1
    assert out.getvalue().startswith("1 due: 1 sent, 0 skipped, 0 to retry, 0 failed;")


def test_staff_can_send_a_failed_notification_again(clock: Any, book: Callable, patient: Any) -> None:
    book(patient, MONDAY_NEXT_WEEK_10)
    confirmation = Notification.objects.get(kind=Kind.CONFIRMATION)
    Notification.objects.filter(pk=confirmation.pk).update(status=Status.FAILED, attempts=6, last_error="x")

    assert notifications.notification_retry(notification=confirmation)
    assert not notifications.notification_retry(notification=confirmation)  # pending now: nothing to retry
    sweep()
    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.attempts) == ("sent", 1)
