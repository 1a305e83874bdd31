"""End to end on SMS and WhatsApp: the API books, a real Celery worker (with
beat) on Redis sends through the Twilio and WhatsApp backends to the fake
providers (tests/fakes/providers.py, reached as twilio+http:// and
whatsapp+http://), and the fake posts signed webhooks back over HTTP to the
app (pytest-django's live server, which is CLINIC_BASE_URL here, as behind
a real proxy). Nothing is eager or mocked; the worker reads this test's
PostgreSQL database, so the tests are transactional."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from booking.models import Appointment, InboundEvent, Notification, NotificationDelivery
from patients.channels import channels_set
from tests.api.conftest import client_for
from tests.factories import PatientFactory
from tests.fakes.providers import FakeProviders, Sent
from tests.notifications.conftest import Worker, Workers, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

PHONE = "+85291234567"


@pytest.fixture
def app(live_server: Any, providers: FakeProviders, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The clinic at the live server's address, for this process and the
    workers; both providers point at the fake, and the fake's webhooks at it."""
    settings.CLINIC_BASE_URL = live_server.url
    providers.app_url = live_server.url
    monkeypatch.setenv("SMS_URL", providers.sms_url)
    monkeypatch.setenv("WHATSAPP_URL", providers.whatsapp_url)
    yield live_server.url


@pytest.fixture
def worker(app: str, workers: Workers) -> Worker:
    return workers.start(beat=True)


@pytest.fixture
def patient_on(treatment: Any) -> Callable[..., Any]:
    def make(**topics: list[str]) -> Any:
        patient = PatientFactory(full_name="Chan Tai Man", phone=PHONE)
        channels_set(patient=patient, topics=topics)
        return patient

    return make


@pytest.fixture
def booked(receptionist: Any, practitioner: Any, treatment: Any) -> Callable[[Any], Appointment]:
    """Books through the API for the day after tomorrow, then makes its first
    reminder due now (its offset stretched to the booking's lead, as a real
    24-hour reminder is due a day ahead), so the sweep sends it within a second."""
    api = client_for(receptionist)

    def book(patient: Any) -> Appointment:
        start = timezone.localtime(timezone.now() + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        response = api.post(
            "/api/v1/appointments/",
            {"treatment": treatment.slug, "start": start.isoformat(), "patient": patient.pk},
            format="json",
        )
        assert response.status_code == 201, response.content
        appointment = Appointment.objects.get(pk=response.json()["id"])
        due_now(appointment)
        return appointment

    return book


def due_now(appointment: Appointment) -> None:
    reminder = Notification.objects.filter(appointment=appointment, kind=Notification.Kind.REMINDER).earliest("due_at")
    minutes = -(-(appointment.start - timezone.now()) // timedelta(minutes=1))
    due = appointment.start - timedelta(minutes=minutes)
    Notification.objects.filter(pk=reminder.pk).update(offset_minutes=minutes, due_at=due, next_attempt_at=due)


def reminder_of(appointment: Appointment) -> Notification:
    return Notification.objects.filter(appointment=appointment, kind=Notification.Kind.REMINDER).earliest("due_at")


def deliveries(notification: Notification) -> list[tuple[str, str, str]]:
    return list(
        NotificationDelivery.objects.filter(notification=notification)
        .order_by("created_at", "pk")
        .values_list("channel", "status", "fell_back_to")
    )


def reminders_sent(providers: FakeProviders, channel: str, count: int = 1) -> list[Sent]:
    """Waits for ``count`` reminders accepted on ``channel`` (the booking's confirmation goes by email)."""
    return providers.wait_for(channel, count, to=PHONE, timeout=30)


def recorded(message: Sent) -> NotificationDelivery:
    """The delivery line of an accepted message, once the worker's commit is visible."""
    return wait_until(
        lambda: NotificationDelivery.objects.filter(provider_id=message.message_id).first(),
        timeout=10,
        what="the delivery recorded with the provider's id",
    )


def test_a_whatsapp_reminder_confirmed_by_its_button_shows_on_the_schedule(
    worker: Worker, providers: FakeProviders, patient_on: Callable, booked: Callable, receptionist: Any, client: Any
) -> None:
    appointment = booked(patient_on(reminders=["whatsapp"]))

    [message] = reminders_sent(providers, "whatsapp")
    assert message.template["name"] == "appointment_reminder"
    assert message.button_payloads == [f"confirm:{appointment.uid}", f"change:{appointment.uid}"]
    delivery = recorded(message)
    assert delivery.notification.appointment_id == appointment.pk

    # The patient taps "Confirm": Meta posts the button press, signed, to the clinic.
    press = providers.whatsapp_button(PHONE, message.button_payloads[0], context=message.message_id)
    assert press.send() == 200
    appointment.refresh_from_db()
    assert appointment.patient_confirmed_via == "whatsapp"

    client.force_login(receptionist)
    day = timezone.localtime(appointment.start).date()
    schedule = client.get(f"/staff/?date={day}").text
    assert "Confirmed by the patient (WhatsApp, " in schedule
    assert "✓ Coming" in schedule

    # Receipts arrive out of order: read, then the delivered that should have come first.
    assert providers.whatsapp_status(message.message_id, "read", recipient=PHONE).send() == 200
    assert providers.whatsapp_status(message.message_id, "delivered", recipient=PHONE).send() == 200
    delivery.refresh_from_db()
    assert delivery.status == "read"
    worker.wait_for_sweeps(2)
    assert len(providers.of("whatsapp", to=PHONE)) == 1  # sent once


def test_a_permanent_whatsapp_refusal_falls_back_to_sms(
    worker: Worker, providers: FakeProviders, patient_on: Callable, booked: Callable
) -> None:
    providers.fail("whatsapp", PHONE, 131026)  # not on WhatsApp
    appointment = booked(patient_on(reminders=["whatsapp", "sms"]))

    [sms] = reminders_sent(providers, "sms")
    assert sms.text.endswith("Reply 1 to confirm, 2 to change")
    [refused] = providers.of("whatsapp", to=PHONE, accepted=False)
    assert refused.answer_status == 400
    recorded(sms)
    reminder = reminder_of(appointment)
    assert deliveries(reminder) == [("whatsapp", "failed", "sms"), ("sms", "accepted", "")]
    worker.wait_for_sweeps(2)
    assert len(providers.of("sms", to=PHONE)) == 1


def test_a_failed_whatsapp_receipt_falls_back_to_sms(
    worker: Worker, providers: FakeProviders, patient_on: Callable, booked: Callable
) -> None:
    """Meta accepted the message, then reports it could not deliver it."""
    appointment = booked(patient_on(reminders=["whatsapp", "sms"]))
    [message] = reminders_sent(providers, "whatsapp")
    recorded(message)

    failed = providers.whatsapp_status(message.message_id, "failed", recipient=PHONE, error_code=131026)
    assert failed.send() == 200

    [sms] = reminders_sent(providers, "sms")  # published after the receipt's commit
    assert "Reply 1 to confirm, 2 to change" in sms.text
    recorded(sms)
    assert deliveries(reminder_of(appointment)) == [("whatsapp", "failed", "sms"), ("sms", "accepted", "")]
    assert failed.send() == 200  # Meta sends it again: nothing moves twice
    worker.wait_for_sweeps(2)
    assert len(providers.of("sms", to=PHONE)) == 1


def test_a_forged_webhook_is_refused_and_a_replayed_one_ignored(
    worker: Worker, providers: FakeProviders, patient_on: Callable, booked: Callable
) -> None:
    appointment = booked(patient_on(reminders=["whatsapp"]))
    [message] = reminders_sent(providers, "whatsapp")
    delivery = recorded(message)
    press = providers.whatsapp_button(PHONE, f"confirm:{appointment.uid}", context=message.message_id)
    receipt = providers.whatsapp_status(message.message_id, "read", recipient=PHONE)

    assert press.forged().send() == 403
    assert receipt.forged().send() == 403
    assert press.unsigned().send() == 403
    appointment.refresh_from_db()
    delivery.refresh_from_db()
    assert (appointment.patient_confirmed_at, delivery.status) == (None, "accepted")
    assert not InboundEvent.objects.exists()

    assert press.send() == 200
    appointment.refresh_from_db()
    first = appointment.patient_confirmed_at
    assert first is not None
    # Staff clear it (say the patient phoned to say they are not sure); the replay must not bring it back.
    Appointment.objects.filter(pk=appointment.pk).update(patient_confirmed_at=None, patient_confirmed_via="")
    assert press.send() == 200
    appointment.refresh_from_db()
    assert appointment.patient_confirmed_at is None
    assert InboundEvent.objects.filter(provider="whatsapp").count() == 1


def test_an_sms_reply_2_sends_the_change_link_once(
    worker: Worker, providers: FakeProviders, patient_on: Callable, booked: Callable
) -> None:
    appointment = booked(patient_on(reminders=["sms"]))
    [reminder] = reminders_sent(providers, "sms")
    recorded(reminder)

    answer = providers.twilio_sms(PHONE, "2")
    assert answer.send() == 200

    [_reminder, link] = reminders_sent(providers, "sms", 2)
    assert f"/appointments/{appointment.pk}/reschedule/" in link.text
    assert answer.send() == 200  # Twilio retries the webhook: no second link
    assert providers.twilio_sms(PHONE, "２").send() == 200  # the patient asks again: the first link stands
    worker.wait_for_sweeps(2)
    assert len(providers.of("sms", to=PHONE)) == 2
    appointment.refresh_from_db()
    assert appointment.patient_confirmed_at is None


def test_sms_status_callbacks_update_the_log_out_of_order(
    worker: Worker, providers: FakeProviders, patient_on: Callable, booked: Callable
) -> None:
    booked(patient_on(reminders=["sms"]))
    [message] = reminders_sent(providers, "sms")
    assert message.body["StatusCallback"] == f"{providers.app_url}/hooks/twilio/status/"
    delivery = recorded(message)

    for status in ("delivered", "sent", "queued"):  # "sent" and "queued" late: nothing goes back
        assert providers.twilio_status(message.message_id, status).send() == 200
    delivery.refresh_from_db()
    assert delivery.status == "delivered"

    # And an SMS reply "1" confirms the visit the reminder was about.
    assert providers.twilio_sms(PHONE, "1").send() == 200
    notification = Notification.objects.get(pk=delivery.notification_id)
    confirmed_at: datetime | None = Appointment.objects.get(pk=notification.appointment_id).patient_confirmed_at
    assert confirmed_at is not None
