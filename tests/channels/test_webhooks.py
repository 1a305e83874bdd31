"""The providers' webhooks through Django's test client, with webhooks the
fake providers build and sign as Twilio and Meta do: the patient's answers,
delivery receipts, signatures, replays. (Over HTTP with real workers:
test_end_to_end.py.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from booking import inbound, services
from booking.models import Appointment, InboundEvent, Notification, NotificationDelivery
from patients.channels import channels_set
from tests.factories import AppointmentFactory, NotificationFactory, PatientFactory, UserFactory
from tests.fakes.providers import FakeProviders

pytestmark = pytest.mark.django_db


def sent_reminder(appointment: Appointment, channel: str, provider_id: str, **delivery: Any) -> NotificationDelivery:
    """A reminder the outbox sent on ``channel``, as part "out" records it."""
    notification = NotificationFactory(
        appointment=appointment,
        kind=Notification.Kind.REMINDER,
        channel=channel,
        status=Notification.Status.SENT,
        sent_at=timezone.now(),
        offset_minutes=24 * 60,
        due_at=appointment.start - timedelta(hours=24),
    )
    return NotificationDelivery.objects.create(
        notification=notification, channel=channel, provider_id=provider_id, **delivery
    )


@pytest.fixture
def visit() -> Appointment:
    patient = PatientFactory(phone="+85291234567")
    return AppointmentFactory(patient=patient, start=timezone.now() + timedelta(days=1))


def reloaded(appointment: Appointment) -> Appointment:
    return Appointment.objects.get(pk=appointment.pk)


# --- the patient's answers ------------------------------------------------------------


def test_a_whatsapp_confirm_button_marks_the_visit_confirmed_by_the_patient(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    before = timezone.now()
    response = providers.whatsapp_button(visit.patient.phone, f"confirm:{visit.uid}").post(client)

    assert response.status_code == 200
    visit = reloaded(visit)
    assert visit.patient_confirmed_via == "whatsapp"
    assert visit.patient_confirmed_at is not None and visit.patient_confirmed_at >= before
    assert visit.status == Appointment.Status.CONFIRMED and visit.sequence == 0  # nothing else changed
    history = visit.history.first()
    assert history.patient_confirmed_via == "whatsapp"
    assert history.history_change_reason == "Confirmed by the patient (whatsapp)"


def test_an_interactive_button_reply_confirms_too(client: Any, providers: FakeProviders, visit: Appointment) -> None:
    webhook = providers._whatsapp_webhook(
        {
            "messages": [
                {
                    "from": visit.patient.phone.lstrip("+"),
                    "id": "wamid.interactive-1",
                    "timestamp": "1700000000",
                    "type": "interactive",
                    "interactive": {
                        "type": "button_reply",
                        "button_reply": {"id": f"confirm:{visit.uid}", "title": "OK"},
                    },
                }
            ]
        }
    )
    assert webhook.post(client).status_code == 200
    assert reloaded(visit).patient_confirmed_via == "whatsapp"


def test_a_button_from_another_number_changes_nothing(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    """Someone who learnt the payload (a forwarded message) cannot confirm another's visit."""
    response = providers.whatsapp_button("+85298765432", f"confirm:{visit.uid}").post(client)
    assert response.status_code == 200
    assert reloaded(visit).patient_confirmed_at is None
    assert InboundEvent.objects.count() == 1  # recorded, and ignored


def test_a_button_for_a_cancelled_or_past_visit_changes_nothing(client: Any, providers: FakeProviders) -> None:
    patient = PatientFactory(phone="+85291234567")
    cancelled = AppointmentFactory(patient=patient, status=Appointment.Status.CANCELLED)
    past = AppointmentFactory(patient=patient, start=timezone.now() - timedelta(hours=3))
    for visit in (cancelled, past):
        assert providers.whatsapp_button(patient.phone, f"confirm:{visit.uid}").post(client).status_code == 200
        assert reloaded(visit).patient_confirmed_at is None


@pytest.mark.parametrize("payload", ["confirm:", "confirm:not-a-uid", "cancel:{uid}", "", "confirm:{uid}:x"])
def test_an_unknown_payload_is_recorded_and_ignored(
    client: Any, providers: FakeProviders, visit: Appointment, payload: str
) -> None:
    response = providers.whatsapp_button(visit.patient.phone, payload.format(uid=visit.uid)).post(client)
    assert response.status_code == 200
    assert reloaded(visit).patient_confirmed_at is None


@pytest.mark.parametrize("body", ["1", " 1 ", "１", "Y", "yes", "YES!", "確認", "c", "Ok."])
def test_an_sms_reply_confirms_the_latest_sms_reminders_visit(
    client: Any, providers: FakeProviders, visit: Appointment, body: str
) -> None:
    later = AppointmentFactory(patient=visit.patient, start=visit.start + timedelta(days=7))
    sent_reminder(later, "sms", "SM" + "1" * 32)
    sent_reminder(visit, "sms", "SM" + "2" * 32)  # the latest reminder: the visit tomorrow

    response = providers.twilio_sms(visit.patient.phone, body).post(client)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert "<Response></Response>" in response.content.decode()  # no reply SMS
    assert reloaded(visit).patient_confirmed_via == "sms"
    assert reloaded(later).patient_confirmed_at is None


def test_an_sms_reply_skips_reminders_of_visits_no_longer_ahead(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    cancelled = AppointmentFactory(patient=visit.patient, start=visit.start + timedelta(hours=3))
    sent_reminder(visit, "sms", "SM" + "1" * 32)
    sent_reminder(cancelled, "sms", "SM" + "2" * 32)
    Appointment.objects.filter(pk=cancelled.pk).update(status=Appointment.Status.CANCELLED)

    providers.twilio_sms(visit.patient.phone, "1").post(client)

    assert reloaded(visit).patient_confirmed_via == "sms"


@pytest.mark.parametrize("body", ["3", "hello", "1 2", "STOP", "", "unsure, call me"])
def test_any_other_sms_is_recorded_and_ignored(
    client: Any, providers: FakeProviders, visit: Appointment, body: str
) -> None:
    sent_reminder(visit, "sms", "SM" + "1" * 32)
    assert providers.twilio_sms(visit.patient.phone, body).post(client).status_code == 200
    assert reloaded(visit).patient_confirmed_at is None
    assert not Notification.objects.filter(kind=Notification.Kind.CHANGE_LINK).exists()


def test_an_sms_from_a_number_without_a_reminder_is_ignored(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    sent_reminder(visit, "sms", "SM" + "1" * 32)
    assert providers.twilio_sms("+85298765432", "1").post(client).status_code == 200
    # And a reminder sent by WhatsApp is not answered by an SMS.
    other = AppointmentFactory(patient=PatientFactory(phone="+85290000001"))
    sent_reminder(other, "whatsapp", "wamid.x")
    assert providers.twilio_sms("+85290000001", "1").post(client).status_code == 200
    assert reloaded(visit).patient_confirmed_at is None
    assert reloaded(other).patient_confirmed_at is None


def test_a_typed_whatsapp_answer_confirms_the_latest_whatsapp_reminder(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    sent_reminder(visit, "whatsapp", "wamid.reminder")
    assert providers.whatsapp_text(visit.patient.phone, "確認").post(client).status_code == 200
    assert reloaded(visit).patient_confirmed_via == "whatsapp"


def test_confirming_twice_keeps_the_first_time(client: Any, providers: FakeProviders, visit: Appointment) -> None:
    sent_reminder(visit, "sms", "SM" + "1" * 32)
    providers.whatsapp_button(visit.patient.phone, f"confirm:{visit.uid}").post(client)
    first = reloaded(visit).patient_confirmed_at
    providers.twilio_sms(visit.patient.phone, "1").post(client)  # another event: not a replay
    visit = reloaded(visit)
    assert (visit.patient_confirmed_at, visit.patient_confirmed_via) == (first, "whatsapp")


def test_a_change_button_sends_the_change_link_on_whatsapp(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    response = providers.whatsapp_button(visit.patient.phone, f"change:{visit.uid}", text="I need to change").post(
        client
    )
    assert response.status_code == 200
    [link] = Notification.objects.filter(kind=Notification.Kind.CHANGE_LINK)
    assert (link.appointment_id, link.channel) == (visit.pk, "whatsapp")
    assert reloaded(visit).patient_confirmed_at is None


def test_an_sms_reply_2_sends_the_change_link_by_sms_once(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    sent_reminder(visit, "sms", "SM" + "1" * 32)
    providers.twilio_sms(visit.patient.phone, "2").post(client)
    providers.twilio_sms(visit.patient.phone, "２").post(client)  # asked again: one link per visit time
    [link] = Notification.objects.filter(kind=Notification.Kind.CHANGE_LINK)
    assert (link.appointment_id, link.channel) == (visit.pk, "sms")


# --- replays ----------------------------------------------------------------------------


def test_a_replayed_answer_changes_nothing_the_second_time(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    """The patient confirmed; staff moved the visit (which clears it); the
    provider then delivers the old webhook again: the new time stays unconfirmed."""
    sent_reminder(visit, "sms", "SM" + "1" * 32)
    answer = providers.twilio_sms(visit.patient.phone, "1")
    assert answer.post(client).status_code == 200
    assert reloaded(visit).patient_confirmed_at is not None
    Appointment.objects.filter(pk=visit.pk).update(patient_confirmed_at=None, patient_confirmed_via="")

    assert answer.post(client).status_code == 200

    assert reloaded(visit).patient_confirmed_at is None
    assert InboundEvent.objects.filter(provider="twilio").count() == 1


def test_a_replayed_receipt_is_recorded_once(client: Any, providers: FakeProviders, visit: Appointment) -> None:
    delivery = sent_reminder(visit, "whatsapp", "wamid.1")
    receipt = providers.whatsapp_status("wamid.1", "delivered", recipient=visit.patient.phone)
    assert receipt.post(client).status_code == 200
    assert receipt.post(client).status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert list(InboundEvent.objects.values_list("provider", "event_id")) == [("whatsapp", "wamid.1:delivered")]


# --- receipts -------------------------------------------------------------------------------


def test_whatsapp_receipts_move_the_delivery_forward_only(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    delivery = sent_reminder(visit, "whatsapp", "wamid.1")
    for status, expected in [("read", "read"), ("delivered", "read"), ("sent", "read")]:
        assert providers.whatsapp_status("wamid.1", status).post(client).status_code == 200
        delivery.refresh_from_db()
        assert delivery.status == expected, status


def test_twilio_status_callbacks_update_the_delivery(client: Any, providers: FakeProviders, visit: Appointment) -> None:
    delivery = sent_reminder(visit, "sms", "SM" + "1" * 32)
    for status, expected in [("sent", "accepted"), ("delivered", "delivered"), ("queued", "delivered")]:
        response = providers.twilio_status(delivery.provider_id, status).post(client)
        assert response.status_code == 200
        delivery.refresh_from_db()
        assert delivery.status == expected, status


def test_a_failed_whatsapp_receipt_falls_back_to_sms(client: Any, providers: FakeProviders, visit: Appointment) -> None:
    channels_set(patient=visit.patient, topics={"reminders": ["whatsapp", "sms"]})
    delivery = sent_reminder(visit, "whatsapp", "wamid.1")

    response = providers.whatsapp_status("wamid.1", "failed", error_code=131026).post(client)

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code, delivery.permanent) == ("failed", "131026", True)
    assert delivery.fell_back_to == "sms"
    notification = Notification.objects.get(pk=delivery.notification_id)
    assert (notification.status, notification.channel) == ("pending", "sms")


def test_a_temporary_failure_receipt_does_not_fall_back(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    channels_set(patient=visit.patient, topics={"reminders": ["whatsapp", "sms"]})
    delivery = sent_reminder(visit, "whatsapp", "wamid.1")
    providers.whatsapp_status("wamid.1", "failed", error_code=131000).post(client)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.permanent, delivery.fell_back_to) == ("failed", False, "")


def test_an_undelivered_sms_is_reported_failed(client: Any, providers: FakeProviders, visit: Appointment) -> None:
    delivery = sent_reminder(visit, "sms", "SM" + "1" * 32)
    providers.twilio_status(delivery.provider_id, "undelivered", error_code=30003).post(client)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.error_code) == ("failed", "30003")


def test_a_late_failure_after_delivery_changes_nothing(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    delivery = sent_reminder(visit, "whatsapp", "wamid.1", status="read")
    providers.whatsapp_status("wamid.1", "failed", error_code=131026).post(client)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.fell_back_to) == ("read", "")


def test_a_receipt_for_an_unknown_message_is_answered_200(client: Any, providers: FakeProviders) -> None:
    assert providers.whatsapp_status("wamid.unknown", "delivered").post(client).status_code == 200
    assert providers.twilio_status("SM" + "9" * 32, "failed", error_code=30005).post(client).status_code == 200


# --- signatures and configuration -------------------------------------------------------------


def test_forged_and_unsigned_webhooks_are_refused_and_change_nothing(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    delivery = sent_reminder(visit, "sms", "SM" + "1" * 32)
    webhooks = [
        providers.whatsapp_button(visit.patient.phone, f"confirm:{visit.uid}"),
        providers.whatsapp_status("wamid.1", "read"),
        providers.twilio_sms(visit.patient.phone, "1"),
        providers.twilio_status(delivery.provider_id, "delivered"),
    ]
    for webhook in webhooks:
        for bad in (webhook.forged(), webhook.unsigned()):
            response = bad.post(client)
            assert response.status_code == 403, bad.url
            assert response.content == b""  # nothing for a prober to learn
    assert reloaded(visit).patient_confirmed_at is None
    delivery.refresh_from_db()
    assert delivery.status == "accepted"
    assert not InboundEvent.objects.exists()


def test_a_signed_body_changed_on_the_way_is_refused(client: Any, providers: FakeProviders, visit: Appointment) -> None:
    other = AppointmentFactory(patient=visit.patient, start=visit.start + timedelta(days=1))
    webhook = providers.whatsapp_button(visit.patient.phone, f"confirm:{visit.uid}")
    tampered = type(webhook)(
        webhook.url,
        webhook.body.replace(str(visit.uid).encode(), str(other.uid).encode()),
        webhook.content_type,
        webhook.headers,
    )
    assert tampered.post(client).status_code == 403
    assert reloaded(other).patient_confirmed_at is None


def test_webhooks_of_a_channel_not_configured_with_that_provider_are_refused(
    client: Any, providers: FakeProviders, visit: Appointment, settings: Any
) -> None:
    button = providers.whatsapp_button(visit.patient.phone, f"confirm:{visit.uid}")
    sms = providers.twilio_sms(visit.patient.phone, "1")
    settings.CLINIC_CHANNELS = {"sms": {"BACKEND": "booking.channels.LocmemBackend", "OPTIONS": {}}}
    assert button.post(client).status_code == 403
    assert sms.post(client).status_code == 403
    settings.CLINIC_CHANNELS = {}
    assert client.get("/hooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": "x"}).status_code == 403
    assert reloaded(visit).patient_confirmed_at is None


def test_the_twilio_signature_is_checked_against_the_public_url_behind_a_proxy(
    client: Any, providers: FakeProviders, visit: Appointment, settings: Any
) -> None:
    """Twilio signs the URL it called (CLINIC_BASE_URL + path); the request the
    app sees may come from a proxy with another host, scheme and port."""
    settings.CLINIC_BASE_URL = "https://clinic.example.hk"
    providers.app_url = settings.CLINIC_BASE_URL
    sent_reminder(visit, "sms", "SM" + "1" * 32)
    webhook = providers.twilio_sms(visit.patient.phone, "1")
    response = webhook.post(client)  # Host: testserver, plain HTTP
    assert response.status_code == 200
    assert reloaded(visit).patient_confirmed_via == "sms"

    providers.app_url = "http://testserver"  # signed for the host the app happens to see: not what Twilio signs
    assert providers.twilio_sms(visit.patient.phone, "1").post(client).status_code == 403


def test_the_whatsapp_verification_handshake(client: Any, providers: FakeProviders) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": providers.whatsapp_verify_token,
        "hub.challenge": "1158201444",
    }
    response = client.get("/hooks/whatsapp/", query)
    assert (response.status_code, response.content) == (200, b"1158201444")
    assert client.get("/hooks/whatsapp/", {**query, "hub.verify_token": "guess"}).status_code == 403
    assert client.get("/hooks/whatsapp/", {**query, "hub.mode": "unsubscribe"}).status_code == 403
    assert client.get("/hooks/whatsapp/", {**query, "hub.verify_token": "令牌"}).status_code == 403
    assert client.get("/hooks/whatsapp/").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"null",
        b'{"entry": "x"}',
        b'{"entry": [{"changes": [{"value": []}]}]}',
        b'{"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": 5}, "messages": [1, null]}}]}]}',
        '{"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": "106540352242922"}, '
        '"messages": [{"id": "w1", "from": "無", "type": "button", "button": {"payload": 3}}], '
        '"statuses": [{"id": "w2", "status": "failed", "errors": [{"code": "x"}]}, {"id": 7}]}}]}]}'.encode(),
    ],
)
def test_a_signed_body_of_any_shape_is_answered_200(client: Any, providers: FakeProviders, body: bytes) -> None:
    response = client.post(
        "/hooks/whatsapp/",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=inbound.whatsapp_signature(providers.whatsapp_app_secret, body),
    )
    assert response.status_code == 200


def test_events_for_another_phone_number_of_the_app_are_ignored(
    client: Any, providers: FakeProviders, visit: Appointment
) -> None:
    theirs = FakeProviders(
        whatsapp_phone_number_id="999", whatsapp_app_secret=providers.whatsapp_app_secret, app_url=providers.app_url
    )
    assert theirs.whatsapp_button(visit.patient.phone, f"confirm:{visit.uid}").post(client).status_code == 200
    assert reloaded(visit).patient_confirmed_at is None


def test_webhooks_answer_only_post(client: Any, providers: FakeProviders) -> None:
    assert client.get("/hooks/twilio/sms/").status_code == 405
    assert client.put("/hooks/whatsapp/").status_code == 405


# --- the service -------------------------------------------------------------------------------


def test_patient_confirm_is_once_and_only_for_a_confirmed_visit_ahead(visit: Appointment) -> None:
    assert services.appointment_patient_confirm(appointment=visit, via="portal") is True
    assert services.appointment_patient_confirm(appointment=visit, via="sms") is False
    assert reloaded(visit).patient_confirmed_via == "portal"
    checked_in = AppointmentFactory(status=Appointment.Status.CHECKED_IN)
    assert services.appointment_patient_confirm(appointment=checked_in, via="sms") is False
    assert reloaded(checked_in).patient_confirmed_at is None


def test_patient_confirm_refuses_an_unknown_channel(visit: Appointment) -> None:
    from clinic.errors import InvalidInput

    with pytest.raises(InvalidInput):
        services.appointment_patient_confirm(appointment=visit, via="pigeon")


def test_moving_the_visit_clears_the_patients_confirmation(visit: Appointment, settings: Any) -> None:
    settings.CLINIC_MIN_NOTICE = timedelta(0)
    from booking.models import WorkingHours

    start = visit.start + timedelta(days=1)
    WorkingHours.objects.filter(practitioner=visit.practitioner).delete()
    visit.practitioner.treatments.add(visit.treatment)
    WorkingHours.objects.bulk_create(
        WorkingHours(practitioner=visit.practitioner, weekday=day, start="00:00", end="23:59") for day in range(7)
    )
    services.appointment_patient_confirm(appointment=visit, via="whatsapp")
    services.appointment_reschedule(
        appointment=visit,
        start=start.replace(minute=0, second=0, microsecond=0),
        by=UserFactory(role="receptionist"),
        staff=True,
    )
    visit = reloaded(visit)
    assert (visit.patient_confirmed_at, visit.patient_confirmed_via) == (None, "")


@pytest.mark.parametrize("role", ["patient", "receptionist", "practitioner", "manager"])
def test_a_signed_in_session_is_no_substitute_for_the_signature(
    client: Any, providers: FakeProviders, visit: Appointment, role: str
) -> None:
    user = visit.patient.user if role == "patient" else UserFactory(role=role)
    client.force_login(user)
    sent_reminder(visit, "sms", "SM" + "1" * 32)
    for webhook in (
        providers.whatsapp_button(visit.patient.phone, f"confirm:{visit.uid}"),
        providers.twilio_sms(visit.patient.phone, "1"),
    ):
        assert webhook.unsigned().post(client).status_code == 403
    assert reloaded(visit).patient_confirmed_at is None
