"""The waitlist through its API (booking/waitlist_apis.py): joining, listing,
leaving, offers accepted, declined and made by hand, every refusal in the
contract's shape with nothing changed; and what surrounds it: erasure, the
patient's copy, new working hours reaching the waitlist, the admin, the beat.

The clock stands still on a Monday at 07:00; the practitioner works Mondays
10:00-10:30 only, so there is one slot (10:00) to wait for."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from booking import holds, services, waitlist
from booking.erasure import patient_erase
from booking.models import (
    Appointment,
    ClinicClosure,
    Practitioner,
    TimeOff,
    WaitlistEntry,
    WaitlistOffer,
    WorkingHours,
)
from patients.models import Patient
from tests.api.conftest import client_for
from tests.factories import (
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Treatment

pytestmark = pytest.mark.django_db

HK = ZoneInfo("Asia/Hong_Kong")
MONDAY = date(2030, 1, 7)
NOW = datetime.combine(MONDAY, time(7), tzinfo=HK)
ERROR_KEYS = {"code", "detail", "fields"}
ENTRY_KEYS = {
    "id",
    "treatment",
    "practitioner",
    "earliest",
    "latest",
    "parts",
    "status",
    "created_at",
    "patient",
    "offer",
}
OFFER_KEYS = {"id", "entry", "treatment", "start", "end", "practitioner", "expires_at", "status", "appointment"}


def at(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=HK)


@pytest.fixture(autouse=True)
def clock(settings: Any) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with time_machine.travel(NOW, tick=False):
        yield


class Worker:
    """Stands in for Celery: the freed times the engine would send after commit."""

    def __init__(self) -> None:
        self.freed: list[tuple[str, str]] = []

    def match(self) -> list[WaitlistOffer]:
        made: list[WaitlistOffer] = []
        while self.freed:
            start, end = self.freed.pop(0)
            made += waitlist.waitlist_match(start=datetime.fromisoformat(start), end=datetime.fromisoformat(end))
        return made


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Worker:
    running = Worker()
    monkeypatch.setattr(holds, "_publish_match", lambda start, end: running.freed.append((start, end)))
    monkeypatch.setattr(waitlist, "_schedule_expiry", lambda pk, eta: None)
    monkeypatch.setattr("booking.notifications.publish", lambda ids, claim=None: True)
    return running


@pytest.fixture
def practitioner(peel: Treatment, worker: Worker) -> Practitioner:
    RoomFactory(kind=peel.room_kind)
    practitioner = PractitionerFactory(treatments=[peel], hours=False)
    WorkingHours.objects.create(practitioner=practitioner, weekday=0, start=time(10), end=time(10, 30))
    return practitioner


@pytest.fixture
def full(practitioner: Practitioner, peel: Treatment) -> Appointment:
    """Monday's one slot, booked by someone else."""
    other = PatientFactory()
    HealthDeclarationFactory(patient=other)
    return services.appointment_book(
        patient=other, treatment=peel, start=at(10), practitioner=None, booked_by=other.user, staff=False
    )


@pytest.fixture
def reception() -> User:
    return UserFactory(role="receptionist")


def body_for(peel: Treatment, **extra: Any) -> dict[str, Any]:
    return {"treatment": peel.slug, "earliest": MONDAY.isoformat(), "latest": MONDAY.isoformat(), **extra}


def join(client: APIClient, peel: Treatment, **extra: Any) -> Any:
    return client.post("/api/v1/waitlist/", body_for(peel, **extra), format="json")


def assert_error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:400]
    body = response.json()
    assert set(body) <= ERROR_KEYS and body["code"] == code and body["detail"], body
    if field is not None:
        assert any(name == field or name.startswith(f"{field}.") for name in body.get("fields", {})), body
    return body


def state() -> dict[str, Any]:
    return {
        "entries": list(WaitlistEntry.objects.order_by("pk").values_list("pk", "status")),
        "offers": list(WaitlistOffer.objects.order_by("pk").values_list("pk", "status")),
        "appointments": list(Appointment.with_holds.order_by("pk").values_list("pk", "status")),
    }


def offered(as_a: APIClient, peel: Treatment) -> dict[str, Any]:
    response = join(as_a, peel)
    assert response.status_code == 201, response.content
    assert response.json()["offer"] is not None
    return response.json()


# --- joining -------------------------------------------------------------------------------


def test_a_patient_joins_and_a_free_slot_is_offered_at_once(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    response = join(as_a, peel, parts=["morning"])
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == ENTRY_KEYS
    assert (body["treatment"], body["patient"], body["status"], body["parts"]) == (
        peel.slug,
        patient_a.pk,
        "waiting",
        ["morning"],
    )
    assert body["practitioner"] is None
    offer = body["offer"]
    assert set(offer) == {"id", "start", "end", "practitioner", "expires_at", "status"}
    assert datetime.fromisoformat(offer["start"]) == at(10)
    assert offer["practitioner"] == practitioner.pk and offer["status"] == "open"
    assert datetime.fromisoformat(offer["expires_at"]) == NOW + timedelta(minutes=60)
    entry = WaitlistEntry.objects.get(pk=body["id"])
    assert (entry.patient, entry.created_by) == (patient_a, patient_a.user)
    assert Appointment.with_holds.filter(status=Appointment.Status.HELD).count() == 1


def test_joining_when_nothing_is_free_waits_without_an_offer(
    as_a: APIClient, peel: Treatment, full: Appointment
) -> None:
    response = join(as_a, peel, practitioner=full.practitioner_id, parts=["morning", "afternoon"])
    assert response.status_code == 201, response.content
    assert response.json()["offer"] is None
    assert response.json()["practitioner"] == full.practitioner_id


def test_a_patient_may_not_name_a_patient(
    as_a: APIClient, patient_b: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    before = state()
    assert_error(join(as_a, peel, patient=patient_b.pk), 400, "invalid", "patient")
    assert state() == before


def test_staff_join_for_a_patient_they_name(
    patient_a: Patient, peel: Treatment, full: Appointment, reception: User
) -> None:
    staff = client_for(reception)
    before = state()
    assert_error(join(staff, peel), 400, "invalid", "patient")
    assert state() == before
    # Staff may wait beyond the patients' 90-day horizon.
    later = MONDAY + timedelta(days=120)
    response = join(staff, peel, patient=patient_a.pk, earliest=later.isoformat(), latest=later.isoformat())
    assert response.status_code == 201, response.content
    entry = WaitlistEntry.objects.get(pk=response.json()["id"])
    assert (entry.patient, entry.created_by) == (patient_a, reception)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"treatment": "no-such-treatment"}, "treatment"),
        ({"practitioner": 999_999_999}, "practitioner"),
        ({"practitioner": 1.5}, "practitioner"),
        ({"earliest": "2030-01-06"}, "earliest"),
        ({"latest": "2030-01-06"}, "latest"),
        ({"latest": (MONDAY + timedelta(days=91)).isoformat()}, "latest"),
        ({"latest": (MONDAY + timedelta(days=62)).isoformat()}, "latest"),
        ({"parts": ["night"]}, "parts"),
        ({"parts": ["morning"] * 4}, "parts"),
        ({"earliest": "2030-01-07T10:00:00+08:00"}, "earliest"),
    ],
)
def test_bad_entries_are_refused_with_the_field_named(
    as_a: APIClient, peel: Treatment, full: Appointment, change: dict[str, Any], field: str
) -> None:
    before = state()
    assert_error(join(as_a, peel, **change), 400, "invalid", field)
    assert state() == before


def test_a_practitioner_who_does_not_offer_the_treatment_is_refused(
    as_a: APIClient, peel: Treatment, full: Appointment
) -> None:
    stranger = PractitionerFactory()
    assert_error(join(as_a, peel, practitioner=stranger.pk), 400, "invalid", "practitioner")
    assert not WaitlistEntry.objects.exists()


def test_overlapping_entries_are_409_already_waiting(as_a: APIClient, peel: Treatment, full: Appointment) -> None:
    assert join(as_a, peel, latest=(MONDAY + timedelta(days=3)).isoformat()).status_code == 201
    before = state()
    second = join(
        as_a, peel, earliest=(MONDAY + timedelta(days=2)).isoformat(), latest=(MONDAY + timedelta(days=9)).isoformat()
    )
    assert_error(second, 409, "already_waiting")
    assert state() == before


# --- listing and reading --------------------------------------------------------------------


def test_patients_list_their_own_and_staff_filter_everyone(
    as_a: APIClient,
    as_b: APIClient,
    patient_a: Patient,
    patient_b: Patient,
    peel: Treatment,
    full: Appointment,
    reception: User,
) -> None:
    mine = join(as_a, peel).json()
    theirs = join(as_b, peel).json()
    other = TreatmentFactory(slug="laser-fractional")
    assert [row["id"] for row in as_a.get("/api/v1/waitlist/").json()["results"]] == [mine["id"]]
    assert as_a.get(f"/api/v1/waitlist/?patient={patient_b.pk}").json()["count"] == 0
    staff = client_for(reception)
    assert [row["id"] for row in staff.get("/api/v1/waitlist/").json()["results"]] == [mine["id"], theirs["id"]]
    assert [r["id"] for r in staff.get(f"/api/v1/waitlist/?patient={patient_b.pk}").json()["results"]] == [theirs["id"]]
    assert staff.get(f"/api/v1/waitlist/?treatment={other.slug}").json()["count"] == 0
    assert staff.get(f"/api/v1/waitlist/?treatment={peel.slug}&status=waiting").json()["count"] == 2
    assert staff.get("/api/v1/waitlist/?status=left").json()["count"] == 0
    assert_error(staff.get("/api/v1/waitlist/?status=bogus"), 400, "invalid", "status")


def test_another_patients_entry_and_offer_look_missing(
    as_a: APIClient, as_b: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    entry = offered(as_a, peel)
    offer_id = entry["offer"]["id"]
    before = state()
    for path in (f"/api/v1/waitlist/{entry['id']}/", f"/api/v1/waitlist/offers/{offer_id}/"):
        real, missing = as_b.get(path), as_b.get(path.replace(f"/{entry['id']}/", "/999999999/"))
        if "offers" in path:
            missing = as_b.get("/api/v1/waitlist/offers/999999999/")
        assert_error(real, 404, "not_found")
        assert real.json() == missing.json()
    assert_error(as_b.delete(f"/api/v1/waitlist/{entry['id']}/"), 404, "not_found")
    assert_error(as_b.post(f"/api/v1/waitlist/offers/{offer_id}/accept/"), 404, "not_found")
    assert_error(as_b.post(f"/api/v1/waitlist/offers/{offer_id}/decline/"), 404, "not_found")
    assert state() == before
    assert as_a.get(f"/api/v1/waitlist/{entry['id']}/").json() == entry
    offer = as_a.get(f"/api/v1/waitlist/offers/{offer_id}/").json()
    assert set(offer) == OFFER_KEYS
    assert (offer["entry"], offer["treatment"], offer["status"], offer["appointment"]) == (
        entry["id"],
        peel.slug,
        "open",
        None,
    )


# --- leaving ----------------------------------------------------------------------------------


def test_leaving_withdraws_the_offer_and_passes_the_slot_on(
    as_a: APIClient,
    as_b: APIClient,
    peel: Treatment,
    practitioner: Practitioner,
    worker: Worker,
    django_capture_on_commit_callbacks: Any,
) -> None:
    entry = offered(as_a, peel)
    second = join(as_b, peel).json()
    assert second["offer"] is None  # the slot is held for the first
    with django_capture_on_commit_callbacks(execute=True):
        response = as_a.delete(f"/api/v1/waitlist/{entry['id']}/")
    assert response.status_code == 204
    assert WaitlistEntry.objects.get(pk=entry["id"]).status == WaitlistEntry.Status.LEFT
    assert WaitlistOffer.objects.get(pk=entry["offer"]["id"]).status == WaitlistOffer.Status.WITHDRAWN
    (passed,) = worker.match()
    assert passed.entry_id == second["id"]
    assert as_a.delete(f"/api/v1/waitlist/{entry['id']}/").status_code == 204  # again: nothing changes


def test_a_booked_entry_cannot_be_left(as_a: APIClient, peel: Treatment, practitioner: Practitioner) -> None:
    entry = offered(as_a, peel)
    assert as_a.post(f"/api/v1/waitlist/offers/{entry['offer']['id']}/accept/").status_code == 201
    before = state()
    assert_error(as_a.delete(f"/api/v1/waitlist/{entry['id']}/"), 409, "invalid_state")
    assert state() == before


# --- offers -----------------------------------------------------------------------------------


def test_accepting_books_and_answers_as_booking_does(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    entry = offered(as_a, peel)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        response = as_a.post(f"/api/v1/waitlist/offers/{entry['offer']['id']}/accept/")
    assert response.status_code == 201, response.content
    body = response.json()
    appointment = Appointment.objects.get(pk=body["id"])
    assert (appointment.patient, appointment.start, appointment.status) == (
        patient_a,
        at(10),
        Appointment.Status.CONFIRMED,
    )
    assert not Appointment.with_holds.filter(status=Appointment.Status.HELD).exists()
    # The same shape as POST /appointments/ gives.
    booked = as_a.get(f"/api/v1/appointments/{appointment.pk}/").json()
    assert body == booked
    offer = as_a.get(f"/api/v1/waitlist/offers/{entry['offer']['id']}/").json()
    assert (offer["status"], offer["appointment"]) == ("accepted", appointment.pk)
    assert as_a.get(f"/api/v1/waitlist/{entry['id']}/").json()["status"] == "booked"
    before = state()
    assert_error(as_a.post(f"/api/v1/waitlist/offers/{entry['offer']['id']}/accept/"), 409, "invalid_state")
    assert_error(as_a.post(f"/api/v1/waitlist/offers/{entry['offer']['id']}/decline/"), 409, "invalid_state")
    assert state() == before


def test_an_expired_offer_is_409_and_books_nothing(
    as_a: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    entry = offered(as_a, peel)
    expires = datetime.fromisoformat(entry["offer"]["expires_at"])
    with time_machine.travel(expires + timedelta(seconds=1), tick=False):
        before = state()
        assert_error(as_a.post(f"/api/v1/waitlist/offers/{entry['offer']['id']}/accept/"), 409, "invalid_state")
        assert state() == before
    assert not Appointment.objects.exists()


def test_screening_refuses_as_booking_does_and_the_offer_stays_open(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    HealthDeclarationFactory(patient=patient_a, active_skin_infection=True)
    entry = offered(as_a, peel)
    before = state()
    response = as_a.post(f"/api/v1/waitlist/offers/{entry['offer']['id']}/accept/")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "contraindicated" and response.json()["reasons"]
    assert state() == before


def test_staff_accept_for_the_patient(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner, reception: User
) -> None:
    entry = offered(as_a, peel)
    response = client_for(reception).post(f"/api/v1/waitlist/offers/{entry['offer']['id']}/accept/")
    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get(pk=response.json()["id"])
    assert (appointment.patient, appointment.booked_by) == (patient_a, reception)


def test_declining_passes_the_slot_to_the_next_in_line(
    as_a: APIClient,
    as_b: APIClient,
    peel: Treatment,
    practitioner: Practitioner,
    worker: Worker,
    django_capture_on_commit_callbacks: Any,
) -> None:
    entry = offered(as_a, peel)
    second = join(as_b, peel).json()
    with django_capture_on_commit_callbacks(execute=True):
        response = as_a.post(f"/api/v1/waitlist/offers/{entry['offer']['id']}/decline/")
    assert response.status_code == 200, response.content
    assert set(response.json()) == OFFER_KEYS
    assert response.json()["status"] == "declined"
    assert as_a.get(f"/api/v1/waitlist/{entry['id']}/").json()["status"] == "waiting"
    (passed,) = worker.match()
    assert passed.entry_id == second["id"]
    assert as_b.get(f"/api/v1/waitlist/{second['id']}/").json()["offer"]["id"] == passed.pk


def test_staff_offer_a_time_by_hand(
    as_a: APIClient, patient_a: Patient, peel: Treatment, full: Appointment, reception: User
) -> None:
    entry = join(as_a, peel).json()
    staff = client_for(reception)
    path = f"/api/v1/waitlist/{entry['id']}/offer/"
    before = state()
    assert_error(as_a.post(path, {"start": at(10, 15).isoformat()}, format="json"), 403, "permission_denied")
    assert_error(staff.post(path, {"start": at(10).isoformat()}, format="json"), 409, "slot_unavailable")
    assert_error(staff.post(path, {"start": "2030-01-07T10:15:00"}, format="json"), 400, "invalid", "start")
    assert_error(staff.post(path, {"start": at(22).isoformat()}, format="json"), 400, "not_bookable")
    assert_error(
        staff.post("/api/v1/waitlist/999999999/offer/", {"start": at(10).isoformat()}, format="json"), 404, "not_found"
    )
    assert state() == before
    services.appointment_cancel(appointment=full, by=reception, staff=True)
    response = staff.post(path, {"start": at(10).isoformat(), "practitioner": full.practitioner_id}, format="json")
    assert response.status_code == 201, response.content
    offer = WaitlistOffer.objects.get(pk=response.json()["id"])
    assert (offer.entry_id, offer.offered_by, offer.start) == (entry["id"], reception, at(10))
    assert_error(staff.post(path, {"start": at(10).isoformat()}, format="json"), 409, "invalid_state")


# --- query counts --------------------------------------------------------------------------


def _entries(patient: Patient, peel: Treatment, count: int, *, start: int) -> None:
    """``count`` entries of ``patient``, each for its own week and practitioner, one with an offer."""
    for week in range(start, start + count):
        day = MONDAY + timedelta(weeks=week % 12, days=week // 12)
        entry = WaitlistEntry.objects.create(
            patient=patient,
            treatment=peel,
            practitioner=PractitionerFactory(treatments=[peel], hours=False),
            earliest=day,
            latest=day,
        )
        WaitlistOffer.objects.create(
            entry=entry,
            practitioner=entry.practitioner,
            start=at(10, day=day),
            end=at(10, 30, day=day),
            status=WaitlistOffer.Status.DECLINED,
            expires_at=NOW,
        )


@pytest.mark.parametrize("who", ["patient", "staff"])
def test_the_list_costs_the_same_queries_for_one_entry_as_for_forty(
    who: str, patient_a: Patient, peel: Treatment, reception: User, django_assert_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(patient_a.user if who == "patient" else reception)
    _entries(patient_a, peel, 1, start=0)
    client.get("/api/v1/waitlist/")  # warm-up
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/waitlist/").json()["count"] == 1
    _entries(patient_a, peel, 39, start=1)
    with django_assert_num_queries(len(one)):
        assert client.get("/api/v1/waitlist/").json()["count"] == 40
    assert len(one) <= 12


# --- erasure and the patient's copy ----------------------------------------------------------


def test_erasure_withdraws_the_offer_frees_the_hold_and_ends_the_entries(
    as_a: APIClient,
    patient_a: Patient,
    peel: Treatment,
    practitioner: Practitioner,
    worker: Worker,
    django_capture_on_commit_callbacks: Any,
) -> None:
    entry = offered(as_a, peel)
    later = join(as_a, peel, earliest="2030-01-20", latest="2030-01-21").json()
    with django_capture_on_commit_callbacks(execute=True):
        erasure = patient_erase(patient=patient_a, by=UserFactory(role="manager"))
    assert WaitlistOffer.objects.get(pk=entry["offer"]["id"]).status == WaitlistOffer.Status.WITHDRAWN
    assert set(WaitlistEntry.objects.filter(patient=patient_a).values_list("status", flat=True)) == {"ended"}
    assert not Appointment.with_holds.filter(status=Appointment.Status.HELD).exists()
    assert any(step["step"] == "waitlist_ended" and step["count"] == 2 for step in erasure.steps)
    assert later["id"] in WaitlistEntry.objects.values_list("pk", flat=True)
    assert worker.freed, "the held slot went back to the waitlist"
    # The slot is anyone's again.
    other = PatientFactory()
    HealthDeclarationFactory(patient=other)
    services.appointment_book(
        patient=other, treatment=peel, start=at(10), practitioner=None, booked_by=other.user, staff=False
    )


def test_the_purge_deletes_the_waitlist_entries_and_offers(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner, settings: Any
) -> None:
    from booking.erasure import erasures_purge

    offered(as_a, peel)
    patient_erase(patient=patient_a, by=UserFactory(role="manager"))
    with time_machine.travel(NOW + settings.CLINIC_RECORD_RETENTION + timedelta(days=1), tick=False):
        assert erasures_purge() == 1
    assert not WaitlistEntry.objects.filter(patient=patient_a).exists()
    assert not WaitlistOffer.objects.exists()


def test_the_patients_copy_lists_their_waitlist_and_nobody_elses(
    as_a: APIClient, as_b: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    mine = offered(as_a, peel)
    join(as_b, peel, earliest="2030-01-14", latest="2030-01-14")
    response = as_a.get("/api/v1/me/export/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    data = json.loads(archive.read("data.json"))
    assert [row["id"] for row in data["waitlist"]] == [mine["id"]]
    assert data["waitlist"][0]["offer"]["id"] == mine["offer"]["id"]


# --- new hours, time off and closures reach the waitlist --------------------------------------


@pytest.fixture
def waiting(as_a: APIClient, peel: Treatment, full: Appointment, worker: Worker) -> dict[str, Any]:
    entry = join(as_a, peel).json()
    assert entry["offer"] is None
    worker.freed.clear()
    return entry


def test_added_hours_offer_the_new_time_to_a_waiting_entry(
    waiting: dict[str, Any], full: Appointment, worker: Worker, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        WorkingHours.objects.create(practitioner=full.practitioner, weekday=0, start=time(15), end=time(16))
    (offer,) = worker.match()
    assert (offer.entry_id, offer.start) == (waiting["id"], at(15))


def test_hours_taken_away_send_nothing(
    waiting: dict[str, Any], full: Appointment, worker: Worker, django_capture_on_commit_callbacks: Any
) -> None:
    hours = WorkingHours.objects.get(practitioner=full.practitioner)
    with django_capture_on_commit_callbacks(execute=True):
        hours.break_start, hours.break_end = time(10, 10), time(10, 20)
        hours.save()
        hours.end = time(10, 25)
        hours.save()
        WorkingHours.objects.create(practitioner=full.practitioner, weekday=2, start=time(10), end=time(11))
    assert worker.freed == []  # Wednesday: nobody waits for it
    with django_capture_on_commit_callbacks(execute=True):
        hours.break_start = hours.break_end = None
        hours.save()
    assert len(worker.freed) == 1


def test_time_off_removed_offers_its_time(
    as_a: APIClient,
    peel: Treatment,
    practitioner: Practitioner,
    worker: Worker,
    reception: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    off = TimeOff.objects.create(practitioner=practitioner, start=at(9), end=at(12), created_by=reception)
    entry = join(as_a, peel).json()
    assert entry["offer"] is None
    with django_capture_on_commit_callbacks(execute=True):
        off.end = at(10)
        off.save()
    (offer,) = worker.match()
    assert (offer.entry_id, offer.start) == (entry["id"], at(10))


def test_a_closure_removed_offers_its_time(
    as_a: APIClient,
    peel: Treatment,
    practitioner: Practitioner,
    worker: Worker,
    django_capture_on_commit_callbacks: Any,
) -> None:
    closure = ClinicClosure.objects.create(start=at(0), end=at(0, day=MONDAY + timedelta(days=1)), reason="Typhoon")
    entry = join(as_a, peel).json()
    assert entry["offer"] is None
    with django_capture_on_commit_callbacks(execute=True):
        ClinicClosure.objects.create(
            start=at(0, day=MONDAY + timedelta(days=30)), end=at(1, day=MONDAY + timedelta(days=30)), reason="Later"
        )
    assert worker.freed == []  # a closure added frees nothing
    with django_capture_on_commit_callbacks(execute=True):
        closure.delete()
    (offer,) = worker.match()
    assert (offer.entry_id, offer.start) == (entry["id"], at(10))


# --- the admin and the beat ---------------------------------------------------------------------


def test_the_admin_lists_the_waitlist_read_only(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner, client: Client
) -> None:
    entry = offered(as_a, peel)
    client.force_login(UserFactory(role="manager"))
    for model, pk in (("waitlistentry", entry["id"]), ("waitlistoffer", entry["offer"]["id"])):
        listing = client.get(
            f"/admin/booking/{model}/?q=Alice&status__exact=" + ("waiting" if model == "waitlistentry" else "open")
        )
        assert listing.status_code == 200
        assert "Alice Chan" in listing.content.decode()
        assert client.get(f"/admin/booking/{model}/{pk}/change/").status_code == 200
        assert client.get(f"/admin/booking/{model}/add/").status_code == 403
        assert client.post(f"/admin/booking/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert WaitlistEntry.objects.filter(pk=entry["id"]).exists()


def test_the_waitlist_sweep_is_scheduled_every_minute() -> None:
    from clinic.celery import app

    entry = app.conf.beat_schedule["waitlist-sweep"]
    assert entry["task"] == "booking.tasks.sweep_waitlist"
    assert entry["schedule"] == 60.0
