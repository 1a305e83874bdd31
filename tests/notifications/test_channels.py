"""The outbox on every channel: each message goes on the channel the patient
chose for its topic, falls back to the next one when a channel fails for good,
retries when it fails for a while, and the log says what happened."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail

from booking import channels, notifications, services
from booking.models import Appointment, Notification, NotificationDelivery
from patients.channels import channels_set
from tests.factories import PatientFactory
from tests.notifications.conftest import NOW

pytestmark = pytest.mark.django_db

Kind, Status = Notification.Kind, Notification.Status
MONDAY_NEXT_WEEK_10 = NOW.replace(day=14, hour=10)
LOCMEM = {"BACKEND": "booking.channels.LocmemBackend", "OPTIONS": {}}


@pytest.fixture(autouse=True)
def text_channels(settings: Any) -> Iterator[None]:
    settings.CLINIC_CHANNELS = {"sms": LOCMEM, "whatsapp": LOCMEM}
    channels.outbox.clear()
    channels.locmem_failures.clear()
    yield
    channels.outbox.clear()
    channels.locmem_failures.clear()


def sweep() -> Any:
    return notifications.notifications_sweep(dispatch=notifications.deliver_here)


def texts(kind_template: str | None = None) -> list[channels.Outgoing]:
    return [m for m in channels.outbox if kind_template is None or m.template == kind_template]


def log(notification: Notification) -> list[tuple[str, str, bool, str]]:
    return list(
        NotificationDelivery.objects.filter(notification=notification)
        .order_by("created_at", "pk")
        .values_list("channel", "status", "permanent", "fell_back_to")
    )


def confirmation_of(appointment: Appointment) -> Notification:
    return Notification.objects.get(appointment=appointment, kind=Kind.CONFIRMATION)


def choose(patient: Any, **topics: list[str]) -> None:
    channels_set(patient=patient, topics=topics)


# --- the channel chosen ---------------------------------------------------------------


def test_a_patient_who_chose_whatsapp_is_confirmed_on_whatsapp(clock: Any, book: Callable, patient: Any) -> None:
    choose(patient, confirmations=["whatsapp", "email"])
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    confirmation = confirmation_of(appointment)
    assert confirmation.channel == "whatsapp"  # chosen when written

    sweep()

    [message] = texts()
    assert (message.channel, message.to, message.template) == ("whatsapp", patient.phone, "appointment_confirmation")
    assert f"/appointments/{appointment.pk}/" in message.text
    assert mail.outbox == []
    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.channel) == ("sent", "whatsapp")
    delivery = NotificationDelivery.objects.get(notification=confirmation)
    assert (delivery.channel, delivery.status, delivery.provider_id) == (
        "whatsapp",
        "accepted",
        "locmem-whatsapp-" + delivery.provider_id.rsplit("-", 1)[1],
    )


def test_an_email_send_is_logged_with_its_message_id(clock: Any, book: Callable, patient: Any) -> None:
    confirmation = confirmation_of(book(patient, MONDAY_NEXT_WEEK_10))
    sweep()

    [message] = mail.outbox
    delivery = NotificationDelivery.objects.get(notification=confirmation)
    assert (delivery.channel, delivery.status) == ("email", "accepted")
    assert delivery.provider_id == confirmation.message_id == message.extra_headers["Message-ID"]


def test_a_whatsapp_reminder_carries_the_confirm_and_change_buttons(clock: Any, book: Callable, patient: Any) -> None:
    choose(patient, reminders=["whatsapp"])
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    clock.move_to(MONDAY_NEXT_WEEK_10 - timedelta(hours=24))
    sweep()

    [reminder] = texts("appointment_reminder")
    assert reminder.buttons == (f"confirm:{appointment.uid}", f"change:{appointment.uid}")
    assert reminder.language == "en"
    assert "Clear Skin Clinic" in reminder.params


def test_an_sms_reminder_asks_for_a_reply_in_the_patients_language(clock: Any, book: Callable) -> None:
    english, chinese = PatientFactory(), PatientFactory(preferred_language="zh-hant")
    for who in (english, chinese):
        choose(who, reminders=["sms"])
    book(english, MONDAY_NEXT_WEEK_10)
    book(chinese, MONDAY_NEXT_WEEK_10.replace(hour=12))
    clock.move_to(MONDAY_NEXT_WEEK_10.replace(hour=12) - timedelta(hours=24))
    sweep()

    by_phone = {m.to: m for m in texts("appointment_reminder")}
    assert by_phone[english.phone].text.endswith("Reply 1 to confirm, 2 to change")
    assert by_phone[english.phone].buttons == ()
    assert by_phone[chinese.phone].text.endswith("回覆 1 確認，回覆 2 更改")
    assert "果酸換膚" not in by_phone[chinese.phone].text  # a reminder names no treatment, as its email subject
    assert "提提你" in by_phone[chinese.phone].text
    assert by_phone[chinese.phone].language == "zh-hant"


def test_texts_stay_short_and_name_no_one(clock: Any, book: Callable, settings: Any, treatment: Any) -> None:
    settings.CLINIC_NAME = "The Very Long Named Aesthetic Dermatology and Laser Centre of Central"
    treatment.name_en = "Fractional CO2 laser resurfacing with platelet-rich plasma and a long name"
    treatment.save()
    patient = PatientFactory(full_name="Wong Siu Ming")
    choose(patient, confirmations=["sms"], care=["sms"])
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    sweep()
    services.appointment_cancel(appointment=appointment, by=patient.user, staff=False)
    sweep()

    assert [m.template for m in texts()] == ["appointment_confirmation", "appointment_cancelled"]
    for message in texts():
        assert len(message.text) <= 300
        assert "Wong" not in message.text


# --- choices changed before the message goes ---------------------------------------------


def test_a_channel_removed_from_the_list_before_sending_is_not_used(clock: Any, book: Callable, patient: Any) -> None:
    choose(patient, confirmations=["whatsapp"])
    confirmation = confirmation_of(book(patient, MONDAY_NEXT_WEEK_10))
    choose(patient, confirmations=["sms", "email"])
    sweep()

    assert [(m.channel, m.template) for m in texts()] == [("sms", "appointment_confirmation")]
    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.channel) == ("sent", "sms")


def test_a_channel_no_longer_configured_falls_to_the_next_choice(
    clock: Any, book: Callable, patient: Any, settings: Any
) -> None:
    choose(patient, confirmations=["whatsapp", "email"])
    confirmation = confirmation_of(book(patient, MONDAY_NEXT_WEEK_10))
    settings.CLINIC_CHANNELS = {"sms": LOCMEM}  # WHATSAPP_URL removed
    sweep()

    assert texts() == []
    assert len(mail.outbox) == 1
    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.channel) == ("sent", "email")


def test_a_confirmation_goes_by_email_when_no_chosen_channel_is_offered_any_more(
    clock: Any, book: Callable, patient: Any, settings: Any
) -> None:
    choose(patient, confirmations=["whatsapp"], reminders=["whatsapp"])
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    settings.CLINIC_CHANNELS = {}  # the clinic stopped offering WhatsApp
    clock.move_to(MONDAY_NEXT_WEEK_10 - timedelta(hours=24))
    sweep()

    assert [m.extra_headers["X-Clinic-Notification"] for m in mail.outbox] == ["confirmation"]
    reminder = Notification.objects.get(appointment=appointment, kind=Kind.REMINDER, offset_minutes=1440)
    assert (reminder.status, reminder.skip_reason) == ("skipped", "no_address")  # not a message they must get


def test_a_patient_without_any_usable_address_is_skipped_with_the_reason(clock: Any, book: Callable) -> None:
    walk_in = PatientFactory(user=None, email="", phone="+85221234567")  # a landline takes no texts
    book(walk_in, MONDAY_NEXT_WEEK_10)
    sweep()

    confirmation = Notification.objects.get(kind=Kind.CONFIRMATION)
    assert (confirmation.status, confirmation.skip_reason) == ("skipped", "no_address")


def test_reminders_turned_off_are_skipped_as_opted_out(clock: Any, book: Callable, patient: Any) -> None:
    choose(patient, reminders=[], confirmations=["sms"])
    book(patient, MONDAY_NEXT_WEEK_10)
    clock.move_to(MONDAY_NEXT_WEEK_10 - timedelta(hours=2))
    sweep()

    assert [m.template for m in texts()] == ["appointment_confirmation"]
    assert set(Notification.objects.filter(kind=Kind.REMINDER).values_list("skip_reason", flat=True)) == {"opted_out"}


# --- failures -----------------------------------------------------------------------------


def test_a_permanent_whatsapp_failure_falls_back_to_sms_then_email(clock: Any, book: Callable, patient: Any) -> None:
    choose(patient, confirmations=["whatsapp", "sms", "email"])
    confirmation = confirmation_of(book(patient, MONDAY_NEXT_WEEK_10))
    channels.locmem_failures[patient.phone] = channels.ChannelError("131026", permanent=True, detail=patient.phone)

    assert sweep().outcomes == {"sent": 1}

    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.channel, confirmation.attempts) == ("sent", "email", 1)
    assert log(confirmation) == [
        ("whatsapp", "failed", True, "sms"),
        ("sms", "failed", True, "email"),
        ("email", "accepted", False, ""),
    ]
    failures = NotificationDelivery.objects.filter(notification=confirmation, status="failed")
    assert {(d.error_code, d.error) for d in failures} == {("131026", "ChannelError: 131026 (permanent)")}
    assert len(mail.outbox) == 1


def test_a_permanent_failure_with_no_channel_left_fails_at_once(clock: Any, book: Callable, patient: Any) -> None:
    choose(patient, confirmations=["whatsapp", "sms"])
    confirmation = confirmation_of(book(patient, MONDAY_NEXT_WEEK_10))
    channels.locmem_failures[patient.phone] = channels.ChannelError("21211", permanent=True, detail=patient.phone)

    assert sweep().outcomes == {"failed": 1}

    confirmation.refresh_from_db()
    assert confirmation.status == "failed"
    assert confirmation.last_error == "ChannelError: 21211 (permanent); no other channel"
    assert patient.phone not in confirmation.last_error
    assert log(confirmation) == [("whatsapp", "failed", True, "sms"), ("sms", "failed", True, "")]


def test_a_temporary_failure_is_retried_on_the_same_channel_with_backoff(
    clock: Any, book: Callable, patient: Any
) -> None:
    choose(patient, confirmations=["sms", "email"])
    confirmation = confirmation_of(book(patient, MONDAY_NEXT_WEEK_10))
    channels.locmem_failures[patient.phone] = channels.ChannelError("20429", permanent=False)

    assert sweep().outcomes == {"retrying": 1}
    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.channel, confirmation.next_attempt_at) == (
        "pending",
        "sms",
        NOW + timedelta(minutes=1),
    )
    clock.move_to(NOW + timedelta(seconds=30))
    assert sweep().claimed == 0  # not before its time
    clock.move_to(NOW + timedelta(minutes=1))
    assert sweep().outcomes == {"retrying": 1}
    confirmation.refresh_from_db()
    assert confirmation.next_attempt_at == NOW + timedelta(minutes=3)  # 1, then 2 minutes

    del channels.locmem_failures[patient.phone]
    clock.move_to(NOW + timedelta(minutes=3))
    assert sweep().outcomes == {"sent": 1}
    assert [m.channel for m in texts()] == ["sms"]
    assert mail.outbox == []
    assert log(confirmation) == [
        ("sms", "failed", False, ""),
        ("sms", "failed", False, ""),
        ("sms", "accepted", False, ""),
    ]


def test_an_email_refused_for_good_falls_back_to_sms(
    clock: Any, book: Callable, patient: Any, monkeypatch: Any
) -> None:
    choose(patient, confirmations=["email", "sms"])
    confirmation = confirmation_of(book(patient, MONDAY_NEXT_WEEK_10))

    def refuse(self: Any, message: Any) -> None:
        raise smtplib.SMTPRecipientsRefused({patient.email: (550, b"5.1.1 no such user")})

    monkeypatch.setattr(notifications._Mailer, "send", refuse)
    sweep()

    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.channel) == ("sent", "sms")
    assert log(confirmation) == [("email", "failed", True, "sms"), ("sms", "accepted", False, "")]
    assert NotificationDelivery.objects.get(notification=confirmation, channel="email").error_code == "550"


def test_a_text_row_delivered_twice_sends_once(clock: Any, book: Callable, patient: Any) -> None:
    choose(patient, confirmations=["whatsapp"])
    book(patient, MONDAY_NEXT_WEEK_10)
    token, ids = notifications.notifications_claim_due(now=NOW)

    notifications.notifications_deliver(ids=ids, claim=token)
    notifications.notifications_deliver(ids=ids, claim=token)
    notifications.notifications_deliver(ids=ids)

    assert len(texts()) == 1
    assert NotificationDelivery.objects.count() == 1


def test_a_broken_mail_connection_does_not_hold_back_texts_in_the_same_batch(
    clock: Any, book: Callable, monkeypatch: Any
) -> None:
    by_email, by_sms = PatientFactory(), PatientFactory()
    choose(by_sms, confirmations=["sms"])
    book(by_email, MONDAY_NEXT_WEEK_10)
    book(by_sms, MONDAY_NEXT_WEEK_10.replace(hour=11))

    def broken(self: Any, message: Any) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(notifications._Mailer, "send", broken)
    assert sweep().outcomes == {"retrying": 1, "sent": 1}
    assert [m.to for m in texts()] == [by_sms.phone]


def test_a_backend_crash_is_retried_without_its_message(
    clock: Any, book: Callable, patient: Any, monkeypatch: Any
) -> None:
    choose(patient, confirmations=["sms"])
    confirmation = confirmation_of(book(patient, MONDAY_NEXT_WEEK_10))

    def crash(message: Any) -> str:
        raise ValueError(f"cannot send to {message.to}")

    monkeypatch.setattr(channels, "send", crash)
    assert sweep().outcomes == {"retrying": 1}
    confirmation.refresh_from_db()
    assert confirmation.last_error == "TextSendFailed: ValueError"


# --- receipts after sending: notification_channel_failed -------------------------------------


def sent_on_whatsapp(book: Callable, patient: Any, order: list[str]) -> tuple[Notification, NotificationDelivery]:
    choose(patient, confirmations=order)
    confirmation = confirmation_of(book(patient, MONDAY_NEXT_WEEK_10))
    sweep()
    return confirmation, NotificationDelivery.objects.get(notification=confirmation)


def test_a_failed_receipt_falls_back_to_the_next_channel_after_commit(
    clock: Any, book: Callable, patient: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    confirmation, delivery = sent_on_whatsapp(book, patient, ["whatsapp", "sms"])
    published: list[list[int]] = []
    monkeypatch.setattr(notifications, "publish", lambda ids, claim=None: published.append(list(ids)) or True)

    with django_capture_on_commit_callbacks(execute=True):
        notifications.notification_channel_failed(delivery=delivery, code="131047", permanent=True, now=NOW)
        assert published == []
    assert published == [[confirmation.pk]]

    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.channel, confirmation.attempts) == ("pending", "sms", 0)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code, delivery.permanent, delivery.fell_back_to) == (
        "failed",
        "131047",
        True,
        "sms",
    )
    notifications.notifications_deliver(ids=[confirmation.pk])
    assert [m.channel for m in texts()] == ["whatsapp", "sms"]
    assert log(confirmation) == [("whatsapp", "failed", True, "sms"), ("sms", "accepted", False, "")]


def test_a_replayed_failed_receipt_changes_nothing_twice(clock: Any, book: Callable, patient: Any) -> None:
    confirmation, delivery = sent_on_whatsapp(book, patient, ["whatsapp", "sms", "email"])
    notifications.notification_channel_failed(delivery=delivery, code="131047", permanent=True, now=NOW)
    notifications.notification_channel_failed(delivery=delivery, code="131047", permanent=True, now=NOW)

    confirmation.refresh_from_db()
    assert confirmation.channel == "sms"
    delivery.refresh_from_db()
    assert delivery.fell_back_to == "sms"


def test_a_failed_receipt_with_no_channel_left_fails_the_notification(clock: Any, book: Callable, patient: Any) -> None:
    confirmation, delivery = sent_on_whatsapp(book, patient, ["whatsapp"])
    notifications.notification_channel_failed(delivery=delivery, code="131026", permanent=True, now=NOW)

    confirmation.refresh_from_db()
    assert confirmation.status == "failed"
    assert confirmation.last_error == "whatsapp: 131026 (permanent); no other channel"


def test_a_temporary_failed_receipt_only_marks_the_delivery(clock: Any, book: Callable, patient: Any) -> None:
    confirmation, delivery = sent_on_whatsapp(book, patient, ["whatsapp", "sms"])
    notifications.notification_channel_failed(delivery=delivery, code="130472", permanent=False, now=NOW)

    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.channel) == ("sent", "whatsapp")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.permanent, delivery.fell_back_to) == ("failed", False, "")


def test_staff_retry_after_every_channel_failed_tries_them_again(clock: Any, book: Callable, patient: Any) -> None:
    choose(patient, confirmations=["whatsapp"])
    confirmation = confirmation_of(book(patient, MONDAY_NEXT_WEEK_10))
    channels.locmem_failures[patient.phone] = channels.ChannelError("131026", permanent=True)
    sweep()
    confirmation.refresh_from_db()
    assert confirmation.status == "failed"

    del channels.locmem_failures[patient.phone]  # reception fixed the number
    clock.move_to(NOW + timedelta(minutes=5))
    assert notifications.notification_retry(notification=confirmation)
    sweep()

    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.channel) == ("sent", "whatsapp")
    assert len(texts()) == 1


# --- the change link: notify_change_link -----------------------------------------------------


def test_the_change_link_goes_on_the_channel_asked_on_once_per_time(clock: Any, book: Callable, patient: Any) -> None:
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    sweep()

    first = notifications.notify_change_link(appointment=appointment, channel="whatsapp", now=NOW)
    second = notifications.notify_change_link(appointment=appointment, channel="whatsapp", now=NOW)
    assert first is not None and second is None
    assert (first.kind, first.channel, first.sequence) == ("change_link", "whatsapp", appointment.sequence)
    sweep()

    [message] = texts()
    assert message.template == "appointment_change"
    assert f"/appointments/{appointment.pk}/reschedule/" in message.text


def test_inside_the_notice_the_change_message_gives_the_phone(
    clock: Any, book: Callable, patient: Any, settings: Any
) -> None:
    settings.CLINIC_PHONE = "+852 2345 6789"
    appointment = book(patient, NOW + timedelta(hours=5))
    assert notifications.notify_change_link(appointment=appointment, channel="sms", now=NOW) is not None
    sweep()

    [message] = texts()
    assert message.template == "appointment_change_by_phone"
    assert "+852 2345 6789" in message.text
    assert "/reschedule/" not in message.text


def test_no_change_link_for_a_cancelled_visit(clock: Any, book: Callable, patient: Any, receptionist: Any) -> None:
    appointment = book(patient, MONDAY_NEXT_WEEK_10)
    services.appointment_cancel(appointment=appointment, by=receptionist, staff=True)
    appointment.refresh_from_db()
    assert notifications.notify_change_link(appointment=appointment, channel="sms", now=NOW) is None
    assert not Notification.objects.filter(kind=Kind.CHANGE_LINK).exists()
