"""Booking through the API, as patients and as staff (docs/architecture.md, The HTTP API)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
import time_machine
from icalendar import Calendar
from rest_framework.test import APIClient

from booking.models import Appointment, Practitioner
from patients.models import Patient
from tests.api.conftest import next_weekday_at
from tests.factories import HealthDeclarationFactory, PatientFactory, PractitionerFactory
from treatments.models import Treatment

pytestmark = pytest.mark.django_db


def book(client: APIClient, treatment: Treatment, start, **extra) -> dict:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/v1/appointments/", {"treatment": treatment.slug, "start": start.isoformat(), **extra}, format="json"
    )
    return {**response.json(), "http": response.status_code}


def test_patient_books_an_offered_slot(as_a: APIClient, peel: Treatment, practitioner: Practitioner, patient_a) -> None:  # type: ignore[no-untyped-def]
    start = next_weekday_at(11)
    slots = as_a.get(f"/api/v1/availability/?treatment={peel.slug}&from={start.date()}&to={start.date()}").json()
    assert start.isoformat() in [s["start"] for s in slots["slots"]]
    created = book(as_a, peel, start)
    assert created["http"] == 201
    assert created["patient"] == patient_a.pk and created["practitioner"] == practitioner.pk
    assert created["start"] == start.isoformat() and created["end"] == (start + timedelta(minutes=30)).isoformat()
    assert created["http"] == 201 and Appointment.objects.get().status == "confirmed"
    after = as_a.get(f"/api/v1/availability/?treatment={peel.slug}&from={start.date()}&to={start.date()}").json()
    assert start.isoformat() not in [s["start"] for s in after["slots"]]


def test_times_in_any_offset_are_accepted_and_answered_in_the_clinic_zone(
    as_a: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    start = next_weekday_at(15)
    created = book(as_a, peel, start.astimezone(UTC))
    assert created["http"] == 201
    assert created["start"].endswith("+08:00")


def test_naive_start_is_refused(as_a: APIClient, peel: Treatment, practitioner: Practitioner) -> None:
    start = next_weekday_at(11).replace(tzinfo=None)
    created = book(as_a, peel, start)
    assert created["http"] == 400 and "start" in created["fields"]
    assert not Appointment.objects.exists()


def test_a_taken_slot_is_409_and_an_off_grid_one_400(
    as_a: APIClient, as_b: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    start = next_weekday_at(11)
    assert book(as_a, peel, start)["http"] == 201
    taken = book(as_b, peel, start)
    assert (taken["http"], taken["code"]) == (409, "slot_unavailable")
    off_grid = book(as_b, peel, start + timedelta(minutes=7))
    assert (off_grid["http"], off_grid["code"]) == (400, "not_bookable")
    assert Appointment.objects.count() == 1


def test_contraindicated_lists_every_reason_and_staff_may_override(
    as_reception: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient, active_skin_infection=True, pregnant_or_breastfeeding=True)
    start = next_weekday_at(12)
    refused = book(as_reception, peel, start, patient=patient.pk)
    assert (refused["http"], refused["code"]) == (422, "contraindicated")
    assert {r["code"]: r["severity"] for r in refused["reasons"]} == {"INF": "block", "PREG": "caution"}
    assert not Appointment.objects.exists()
    overridden = book(as_reception, peel, start, patient=patient.pk, override_reason="Infection healed, seen today")
    assert overridden["http"] == 201
    appointment = Appointment.objects.get()
    assert appointment.override_reason == "Infection healed, seen today"
    assert (
        appointment.overridden_by is not None and appointment.overridden_by.groups.filter(name="receptionist").exists()
    )


def test_patients_may_not_override_or_book_for_others(
    as_a: APIClient, patient_b: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    start = next_weekday_at(11)
    assert book(as_a, peel, start, patient=patient_b.pk)["http"] == 400
    assert book(as_a, peel, start, override_reason="please")["http"] == 400
    assert not Appointment.objects.exists()


def test_reschedule_keeps_the_id_and_grows_the_calendar_sequence(
    as_a: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    created = book(as_a, peel, next_weekday_at(11))
    ics = Calendar.from_ical(as_a.get(created["calendar_url"]).content)
    first = next(iter(ics.walk("VEVENT")))
    moved = as_a.post(
        f"/api/v1/appointments/{created['id']}/reschedule/",
        {"start": next_weekday_at(16).isoformat()},
        format="json",
    )
    assert moved.status_code == 200 and moved.json()["id"] == created["id"]
    assert moved.json()["start"] == next_weekday_at(16).isoformat()
    second = next(iter(Calendar.from_ical(as_a.get(created["calendar_url"]).content).walk("VEVENT")))
    assert str(second["UID"]) == str(first["UID"])
    assert int(second["SEQUENCE"]) > int(first["SEQUENCE"])


def test_calendar_names_the_treatment_and_nothing_more_clinical(
    as_a: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    """Issue 16: the summary names the treatment, so the visit is recognisable in a
    calendar; no practitioner, no title, no notes travel to calendar services."""
    created = book(as_a, peel, next_weekday_at(11))
    response = as_a.get(created["calendar_url"])
    assert response["Content-Type"].startswith("text/calendar")
    event = next(iter(Calendar.from_ical(response.content).walk("VEVENT")))
    assert str(event["SUMMARY"]).startswith(f"{peel.name_en} at ")
    text = response.content.decode()
    for clinical in (peel.slug, practitioner.name, "Dermatologist"):
        assert clinical.lower() not in text.lower()


def test_patient_cancels_until_the_notice_window(as_a: APIClient, peel: Treatment, practitioner: Practitioner) -> None:
    start = next_weekday_at(11)
    created = book(as_a, peel, start)
    with time_machine.travel(start - timedelta(hours=23)):
        late = as_a.post(f"/api/v1/appointments/{created['id']}/cancel/", {}, format="json")
    assert (late.status_code, late.json()["code"]) == (409, "cancellation_window_passed")
    cancelled = as_a.post(f"/api/v1/appointments/{created['id']}/cancel/", {"reason": "Travelling"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = as_a.post(f"/api/v1/appointments/{created['id']}/cancel/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")


def test_staff_check_in_on_the_day_and_no_show_after_start(
    as_reception: APIClient, peel: Treatment, practitioner: Practitioner, patient_a: Patient
) -> None:
    start = next_weekday_at(11)
    created = book(as_reception, peel, start, patient=patient_a.pk)
    early = as_reception.post(f"/api/v1/appointments/{created['id']}/check-in/")
    assert (early.status_code, early.json()["code"]) == (409, "invalid_state")
    with time_machine.travel(start - timedelta(hours=1)):
        assert as_reception.post(f"/api/v1/appointments/{created['id']}/no-show/").status_code == 409
        checked = as_reception.post(f"/api/v1/appointments/{created['id']}/check-in/")
    assert checked.status_code == 200 and checked.json()["status"] == "checked_in"
    late_patient = PatientFactory()
    HealthDeclarationFactory(patient=late_patient)
    later = start + timedelta(hours=4)
    other = book(as_reception, peel, later, patient=late_patient.pk)
    assert other["http"] == 201
    with time_machine.travel(later + timedelta(minutes=20)):
        missed = as_reception.post(f"/api/v1/appointments/{other['id']}/no-show/")
    assert missed.status_code == 200 and missed.json()["status"] == "no_show"
    # A no-show frees the slot for someone else.
    assert Appointment.objects.get(pk=other["id"]).status == "no_show"


def test_staff_list_filters_and_patient_sees_only_own(
    as_a: APIClient, as_b: APIClient, as_reception: APIClient, peel: Treatment, practitioner: Practitioner, patient_a
) -> None:  # type: ignore[no-untyped-def]
    mine = book(as_a, peel, next_weekday_at(11))
    theirs = book(as_b, peel, next_weekday_at(14))
    assert [a["id"] for a in as_a.get("/api/v1/appointments/").json()["results"]] == [mine["id"]]
    assert as_a.get(f"/api/v1/appointments/?patient={theirs['patient']}").json()["count"] == 0
    assert as_b.get(f"/api/v1/appointments/{mine['id']}/").status_code == 404
    assert as_b.get(f"/api/v1/appointments/{mine['id']}/calendar.ics").status_code == 404
    assert as_b.post(f"/api/v1/appointments/{mine['id']}/cancel/", {}, format="json").status_code == 404
    staff_view = as_reception.get(f"/api/v1/appointments/?patient={patient_a.pk}").json()
    assert [a["id"] for a in staff_view["results"]] == [mine["id"]]
    day = next_weekday_at(11).date()
    assert as_reception.get(f"/api/v1/appointments/?from={day}&to={day}").json()["count"] == 2
    assert as_reception.get("/api/v1/appointments/?status=cancelled").json()["count"] == 0


def test_any_practitioner_spreads_bookings(
    as_reception: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    second = PractitionerFactory(treatments=[peel])
    from tests.factories import RoomFactory

    RoomFactory(kind=peel.room_kind)
    patients = [PatientFactory() for _ in range(2)]
    for patient in patients:
        HealthDeclarationFactory(patient=patient)
    start = next_weekday_at(10)
    ids = {book(as_reception, peel, start, patient=p.pk)["practitioner"] for p in patients}
    assert ids == {practitioner.pk, second.pk}


def test_chinese_names_with_accept_language(anonymous: APIClient, peel: Treatment) -> None:
    for header in ("zh-hant", "zh-Hant", "zh-HK", "zh-TW,en;q=0.5"):
        body = anonymous.get(f"/api/v1/treatments/{peel.slug}/", HTTP_ACCEPT_LANGUAGE=header).json()
        assert body["name"] == peel.name_zh_hant, header
    for header in ("en", "zh-CN", "fr", ""):
        assert (
            anonymous.get(f"/api/v1/treatments/{peel.slug}/", HTTP_ACCEPT_LANGUAGE=header).json()["name"]
            == peel.name_en
        )


def test_inactive_treatments_are_hidden(anonymous: APIClient, peel: Treatment) -> None:
    peel.active = False
    peel.save(update_fields=["active"])
    assert anonymous.get("/api/v1/treatments/").json()["count"] == 0
    assert anonymous.get(f"/api/v1/treatments/{peel.slug}/").status_code == 404


def test_availability_range_limits(anonymous: APIClient, peel: Treatment) -> None:
    day = next_weekday_at(10).date()
    too_long = anonymous.get(f"/api/v1/availability/?treatment={peel.slug}&from={day}&to={day + timedelta(days=62)}")
    assert too_long.status_code == 400 and too_long.json()["code"] == "invalid"
    ok = anonymous.get(f"/api/v1/availability/?treatment={peel.slug}&from={day}&to={day + timedelta(days=61)}")
    assert ok.status_code == 200
    backwards = anonymous.get(f"/api/v1/availability/?treatment={peel.slug}&from={day}&to={day - timedelta(days=1)}")
    assert backwards.status_code == 400


def test_exclude_appointment_only_for_its_owner(
    as_a: APIClient, as_b: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    start = next_weekday_at(11)
    mine = book(as_a, peel, start)
    query = f"/api/v1/availability/?treatment={peel.slug}&from={start.date()}&to={start.date()}&exclude_appointment={mine['id']}"
    assert start.isoformat() in [s["start"] for s in as_a.get(query).json()["slots"]]
    assert as_b.get(query).status_code == 400
