"""Every event is written by the service that makes the change, in its transaction:
one delivery per subscription to it, with the payload as the event was, and
nothing at all when the change rolls back."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import transaction

from booking import services, webhooks
from booking.erasure import patient_erase
from booking.models import Appointment, WebhookDelivery
from clinic import events
from clinic.events import domain_event
from patients import services as patient_services
from patients.models import Patient
from tests.factories import UserFactory
from tests.webhooks.conftest import MONDAY, Clinic, at, subscribe
from treatments import services as clinical
from treatments.models import TreatmentPlan

pytestmark = pytest.mark.django_db

PUBLIC = "https://93.184.215.14/hooks"  # a public address: no name to look up, nothing is sent here


def bodies(event: str) -> list[dict[str, Any]]:
    return [
        json.loads(body) for body in WebhookDelivery.objects.filter(event_type=event).values_list("body", flat=True)
    ]


def only(event: str) -> dict[str, Any]:
    found = bodies(event)
    assert len(found) == 1, (event, found)
    return found[0]


def test_each_appointment_change_is_announced_by_its_service(clinic: Clinic) -> None:
    subscribe(PUBLIC)
    now = at(7)
    booked = clinic.book(at(11), now=now)
    services.appointment_reschedule(appointment=booked, start=at(15), by=clinic.reception, staff=True, now=now)
    cancelled = clinic.book(at(16), now=now)
    services.appointment_cancel(appointment=cancelled, by=clinic.reception, staff=True, reason="Flu", now=now)
    services.appointment_check_in(appointment=booked, by=clinic.reception, now=at(14))
    services.appointment_complete(appointment=booked, by=clinic.doctor, record={}, now=at(15, 30))
    missed = clinic.book(at(17), now=now)
    services.appointment_no_show(appointment=missed, by=clinic.reception, now=at(17, 10))

    created = bodies(events.APPOINTMENT_CREATED)
    assert sorted(body["data"]["id"] for body in created) == sorted([booked.pk, cancelled.pk, missed.pk])
    moved = only(events.APPOINTMENT_RESCHEDULED)["data"]
    assert (moved["id"], moved["start"], moved["previous_start"]) == (
        booked.pk,
        at(15).isoformat(),
        at(11).isoformat(),
    )
    assert only(events.APPOINTMENT_CANCELLED)["data"]["cancelled_by"] == "clinic"
    assert only(events.APPOINTMENT_CHECKED_IN)["data"]["checked_in_at"] == at(14).isoformat()
    assert only(events.APPOINTMENT_COMPLETED)["data"]["status"] == "completed"
    no_show = only(events.APPOINTMENT_NO_SHOW)["data"]
    assert (no_show["id"], no_show["no_show_auto"]) == (missed.pk, False)
    # Each is its own message, with its own id.
    assert WebhookDelivery.objects.values("message_id").distinct().count() == WebhookDelivery.objects.count() == 8


def test_the_missed_visit_sweep_announces_its_no_shows(clinic: Clinic) -> None:
    subscribe(PUBLIC, events=[events.APPOINTMENT_NO_SHOW])
    appointment = clinic.book(at(11), now=at(7))
    assert services.appointments_mark_missed(now=at(12)) == 1
    data = only(events.APPOINTMENT_NO_SHOW)["data"]
    assert (data["id"], data["status"], data["no_show_auto"]) == (appointment.pk, "no_show", True)


def test_accepting_a_waitlist_offer_is_announced_as_a_booking(clinic: Clinic) -> None:
    from booking import waitlist

    subscribe(PUBLIC, events=[events.APPOINTMENT_CREATED])
    now = at(7)
    entry = waitlist.waitlist_join(
        patient=clinic.patient,
        treatment=clinic.treatment,
        earliest=MONDAY,
        latest=MONDAY,
        by=clinic.reception,
        staff=True,
        now=now,
    )
    offer = waitlist.open_offer_for(entry)
    assert offer is not None
    booked = waitlist.offer_accept(offer=offer, by=clinic.reception, staff=True, now=now)
    assert only(events.APPOINTMENT_CREATED)["data"]["id"] == booked.pk


def test_new_patients_are_announced_whoever_registers_them(clinic: Clinic) -> None:
    subscribe(PUBLIC, events=[events.PATIENT_CREATED], clinical=True)
    registered = patient_services.patient_register(
        email="new@example.com",
        password="a-Strong-passphrase-42",
        full_name="Wong Siu Ming",
        date_of_birth=date(1990, 1, 1),
        phone="+85291234500",
        preferred_language="zh-hant",
    )
    by_staff = patient_services.patient_create(
        created_by=clinic.reception, full_name="Lee Ka Yan", date_of_birth=date(1988, 2, 2), phone="+85291234501"
    )
    found = {body["data"]["id"]: body["data"] for body in bodies(events.PATIENT_CREATED)}
    assert found[registered.pk] | {"created_at": None} == {
        "id": registered.pk,
        "created_at": None,
        "has_login": True,
        "source": "registration",
        "full_name": "Wong Siu Ming",
        "email": "new@example.com",
        "phone": "+85291234500",
        "preferred_language": "zh-hant",
    }
    assert (found[by_staff.pk]["source"], found[by_staff.pk]["has_login"]) == ("staff", False)


def test_a_plan_is_announced_when_created_and_when_its_last_session_is_done(clinic: Clinic) -> None:
    subscribe(PUBLIC, events=[events.PLAN_CREATED, events.PLAN_COMPLETED], clinical=True)
    plan = clinical.plan_create(
        patient=clinic.patient, treatment=clinic.treatment, sessions=1, by=clinic.doctor, today=MONDAY
    )
    created = only(events.PLAN_CREATED)["data"]
    assert created["sessions"] == [
        {
            "number": 1,
            "status": "pending",
            "window_start": MONDAY.isoformat(),
            "window_end": (MONDAY + timedelta(days=21)).isoformat(),
            "booked_on": None,
            "completed_on": None,
        }
    ]
    assert created["treatment"]["slug"] == "pico-laser"
    session = plan.sessions.get()
    visit = clinic.book(at(11), now=at(7), plan_session_id=session.pk)
    services.appointment_check_in(appointment=visit, by=clinic.reception, now=at(10, 50))
    assert not bodies(events.PLAN_COMPLETED)
    services.appointment_complete(appointment=visit, by=clinic.doctor, record={}, now=at(11, 30))
    completed = only(events.PLAN_COMPLETED)["data"]
    assert (completed["id"], completed["status"]) == (plan.pk, TreatmentPlan.Status.COMPLETED)
    assert completed["sessions"][0]["completed_on"] == MONDAY.isoformat()


def test_nothing_is_written_when_the_change_rolls_back(clinic: Clinic, django_capture_on_commit_callbacks: Any) -> None:
    """A listener after the webhooks' fails the booking: the appointment and
    its deliveries go together, and nothing is published."""
    subscribe(PUBLIC)

    def refuse(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("a later listener failed")

    domain_event.connect(refuse, dispatch_uid="tests.refuse")
    try:
        with django_capture_on_commit_callbacks() as published, pytest.raises(RuntimeError):
            clinic.book(at(11), now=at(7))
        with pytest.raises(RuntimeError), transaction.atomic():
            patient_services.patient_create(
                created_by=clinic.reception,
                full_name="Lee Ka Yan",
                date_of_birth=date(1988, 2, 2),
                phone="+85291234501",
            )
    finally:
        domain_event.disconnect(dispatch_uid="tests.refuse")
    assert not Appointment.objects.exists()
    assert not Patient.objects.filter(full_name="Lee Ka Yan").exists()
    assert not WebhookDelivery.objects.exists()
    assert published == []


def test_deliveries_are_published_after_commit(clinic: Clinic, django_capture_on_commit_callbacks: Any) -> None:
    subscribe(PUBLIC)
    with django_capture_on_commit_callbacks() as callbacks:
        clinic.book(at(11), now=at(7))
    delivery = WebhookDelivery.objects.get()
    assert any(getattr(callback, "args", None) == ([delivery.pk],) for callback in callbacks)


def test_an_event_nobody_subscribes_to_writes_nothing(clinic: Clinic) -> None:
    subscribe(PUBLIC, events=[events.PLAN_CREATED])
    inactive = subscribe(PUBLIC, events=[events.APPOINTMENT_CREATED])
    webhooks.subscription_update(subscription=inactive, by=clinic.reception, active=False)
    clinic.book(at(11), now=at(7))
    assert not WebhookDelivery.objects.exists()


def test_the_same_change_announced_twice_is_delivered_once(clinic: Clinic) -> None:
    subscription = subscribe(PUBLIC)
    appointment = clinic.book(at(11), now=at(7))
    with transaction.atomic():
        events.emit(event=events.APPOINTMENT_CREATED, instance=appointment, now=at(7))
    assert WebhookDelivery.objects.filter(subscription=subscription, event_type=events.APPOINTMENT_CREATED).count() == 1


# --- what a payload holds ---------------------------------------------------------------


def test_a_plain_subscription_gets_no_name_contact_or_treatment(clinic: Clinic) -> None:
    plain = subscribe(PUBLIC, events=[events.APPOINTMENT_CREATED])
    told = subscribe(PUBLIC, events=[events.APPOINTMENT_CREATED], clinical=True)
    appointment = clinic.book(at(11), now=at(7))
    sent_plain = WebhookDelivery.objects.get(subscription=plain).body
    sent_clinical = WebhookDelivery.objects.get(subscription=told).body
    for secret in ("Chan Tai Man", "tai.man@example.com", "+85291234567", "pico-laser", "Pico laser", "皮秒激光"):
        assert secret not in sent_plain
        assert secret in sent_clinical
    payload = json.loads(sent_plain)
    assert payload["type"] == "appointment.created"
    assert payload["timestamp"] == at(7).isoformat()
    assert payload["data"] | {"booked_at": None} == {
        "id": appointment.pk,
        "uid": str(appointment.uid),
        "status": "confirmed",
        "start": at(11).isoformat(),
        "end": at(11, 30).isoformat(),
        "practitioner": clinic.practitioner.pk,
        "room": appointment.room_id,
        "patient": {"id": clinic.patient.pk},
        "plan_session": None,
        "source": "staff",
        "sequence": 0,
        "booked_at": None,
        "checked_in_at": None,
        "completed_at": None,
        "cancelled_at": None,
        "cancelled_by": None,
        "no_show_auto": False,
    }
    clinical_data = json.loads(sent_clinical)["data"]
    assert clinical_data["treatment"] == {"slug": "pico-laser", "name": "Pico laser", "name_zh_hant": "皮秒激光"}
    assert clinical_data["patient"] == {
        "id": clinic.patient.pk,
        "full_name": "Chan Tai Man",
        "email": "tai.man@example.com",
        "phone": "+85291234567",
        "preferred_language": "en",
    }
    assert webhooks.strip_clinical(json.loads(sent_clinical)) == payload


def test_the_payload_is_frozen_at_the_time_of_the_event(clinic: Clinic) -> None:
    subscribe(PUBLIC, events=[events.APPOINTMENT_CREATED], clinical=True)
    clinic.book(at(11), now=at(7))
    Patient.objects.filter(pk=clinic.patient.pk).update(full_name="Someone Else")
    assert only(events.APPOINTMENT_CREATED)["data"]["patient"]["full_name"] == "Chan Tai Man"


def test_turning_clinical_off_strips_what_has_not_gone(clinic: Clinic) -> None:
    subscription = subscribe(PUBLIC, events=[events.APPOINTMENT_CREATED], clinical=True)
    clinic.book(at(11), now=at(7))
    webhooks.subscription_update(subscription=subscription, by=clinic.reception, clinical=False)
    body = WebhookDelivery.objects.get().body
    assert "Chan Tai Man" not in body and "pico-laser" not in body
    assert json.loads(body)["data"]["patient"] == {"id": clinic.patient.pk}


def test_erasure_removes_the_patients_details_from_every_delivery(clinic: Clinic) -> None:
    subscribe(PUBLIC, events=[events.APPOINTMENT_CREATED, events.APPOINTMENT_CANCELLED], clinical=True)
    clinic.book(at(11), now=at(7))
    WebhookDelivery.objects.update(status=WebhookDelivery.Status.SENT, sent_at=at(7))  # sent, or not: all of them
    patient_erase(patient=clinic.patient, by=UserFactory(role="manager"), now=at(8))
    # The booking's delivery keeps ids and times only; the cancellation erasure
    # made afterwards knows the patient only as "Erased patient #id".
    booked = WebhookDelivery.objects.get(event_type=events.APPOINTMENT_CREATED).body
    assert json.loads(booked)["data"]["patient"] == {"id": clinic.patient.pk}
    assert "pico-laser" not in booked
    cancelled = only(events.APPOINTMENT_CANCELLED)["data"]["patient"]
    assert cancelled["full_name"] == f"Erased patient #{clinic.patient.pk}"
    for body in WebhookDelivery.objects.values_list("body", flat=True):
        assert "Chan Tai Man" not in body and "tai.man@example.com" not in body and "+85291234567" not in body
