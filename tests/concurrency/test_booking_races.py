"""Real threads, each with its own PostgreSQL connection, released together by a
barrier: the booking services never double-book, and every loser gets a clean
SlotUnavailable. The last test shows the race is real without the constraints
and the locks (pretix keeps the same pair of tests)."""

from __future__ import annotations

import threading
import time as time_module
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.postgres.constraints import ExclusionConstraint
from django.db import connection, transaction
from django.test import override_settings

from booking.availability import check_start
from booking.models import Appointment
from booking.services import KEEP, appointment_book, appointment_reschedule
from clinic.errors import SlotUnavailable
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)

# The races run on SQLite too, where BEGIN IMMEDIATE serialises the writers;
# the test without constraints needs PostgreSQL (it drops them).
pytestmark = [pytest.mark.django_db(transaction=True)]

THREADS = 50
ZONE = ZoneInfo("Asia/Hong_Kong")
MONDAY = date(2030, 1, 7)
NOW = datetime.combine(MONDAY, time(7), tzinfo=ZONE)
SLOT = datetime.combine(MONDAY, time(10), tzinfo=ZONE)


@pytest.fixture(autouse=True)
def clinic_settings():
    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        TIME_ZONE="Asia/Hong_Kong",
        CLINIC_TIME_ZONE="Asia/Hong_Kong",
        CLINIC_SLOT_MINUTES=15,
        CLINIC_MIN_NOTICE=timedelta(hours=2),
        CLINIC_BOOKING_HORIZON=timedelta(days=90),
        CLINIC_STAFF_HORIZON=timedelta(days=400),
    ):
        yield


def race(count: int, work: Callable[[int], Any]) -> Counter[str]:
    """Runs ``work(0..count-1)`` in threads released at once; counts outcomes:
    "ok", "unavailable", or the name of any other exception."""
    barrier = threading.Barrier(count)
    outcomes: list[str] = ["not run"] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            work(index)
            outcomes[index] = "ok"
        except SlotUnavailable:
            outcomes[index] = "unavailable"
        except Exception as error:  # any other outcome is the failure we look for
            outcomes[index] = f"{type(error).__name__}: {error}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return Counter(outcomes)


def active_at(start: datetime) -> int:
    return Appointment.objects.filter(start=start, status__in=Appointment.ACTIVE_STATUSES).count()


@pytest.fixture
def treatment():
    return TreatmentFactory(duration_minutes=30, buffer_minutes=10)


def test_fifty_patients_race_for_one_slot_and_one_wins(treatment) -> None:
    RoomFactory(kind=treatment.room_kind)
    practitioner = PractitionerFactory(treatments=[treatment])
    patients = [PatientFactory() for _ in range(THREADS)]
    users = [patient.user for patient in patients]

    def book(index: int) -> None:
        appointment_book(
            patient=patients[index],
            treatment=treatment,
            start=SLOT,
            practitioner=practitioner,
            booked_by=users[index],
            staff=False,
            now=NOW,
        )

    began = time_module.monotonic()
    assert race(THREADS, book) == {"ok": 1, "unavailable": THREADS - 1}
    assert active_at(SLOT) == 1
    # Without the advisory locks, bursts of 40P01 deadlocks (each detected after
    # deadlock_timeout) stretch this to tens of seconds (booking/services.py, _lock).
    assert time_module.monotonic() - began < 20


def test_fifty_patients_asking_for_anyone_fill_exactly_the_rooms(treatment) -> None:
    """Three practitioners but two rooms: two win, whoever they are."""
    RoomFactory(kind=treatment.room_kind)
    RoomFactory(kind=treatment.room_kind)
    for _ in range(3):
        PractitionerFactory(treatments=[treatment])
    patients = [PatientFactory() for _ in range(THREADS)]
    users = [patient.user for patient in patients]

    def book(index: int) -> None:
        appointment_book(
            patient=patients[index],
            treatment=treatment,
            start=SLOT,
            practitioner=None,
            booked_by=users[index],
            staff=False,
            now=NOW,
        )

    assert race(THREADS, book) == {"ok": 2, "unavailable": THREADS - 2}
    winners = Appointment.objects.filter(start=SLOT)
    assert len({a.room_id for a in winners}) == len({a.practitioner_id for a in winners}) == 2


def test_fifty_reschedules_into_one_slot_and_one_wins(treatment) -> None:
    practitioner = PractitionerFactory(treatments=[treatment])
    room = RoomFactory(kind=treatment.room_kind)
    staff = UserFactory(role="receptionist")
    appointments = [
        AppointmentFactory(
            treatment=treatment, practitioner=practitioner, room=room, start=SLOT + timedelta(days=1 + index)
        )
        for index in range(THREADS)
    ]

    def move(index: int) -> None:
        appointment_reschedule(
            appointment=appointments[index], start=SLOT, practitioner=KEEP, by=staff, staff=True, now=NOW
        )

    assert race(THREADS, move) == {"ok": 1, "unavailable": THREADS - 1}
    assert active_at(SLOT) == 1
    assert Appointment.objects.filter(sequence=1).count() == 1
    assert Appointment.objects.count() == THREADS


def test_one_patient_cannot_take_two_overlapping_times_at_once(treatment) -> None:
    for _ in range(2):
        RoomFactory(kind=treatment.room_kind)
    first, second = PractitionerFactory(treatments=[treatment]), PractitionerFactory(treatments=[treatment])
    for trial in range(10):
        patient = PatientFactory()
        day = MONDAY + timedelta(days=trial + trial // 6)  # Monday to Saturday
        wanted = [
            (datetime.combine(day, time(10), tzinfo=ZONE), first),
            (datetime.combine(day, time(10, 15), tzinfo=ZONE), second),
        ]

        def book(index: int, patient=patient, wanted=wanted) -> None:
            start, practitioner = wanted[index]
            appointment_book(
                patient=patient,
                treatment=treatment,
                start=start,
                practitioner=practitioner,
                booked_by=patient.user,
                staff=False,
                now=NOW,
            )

        assert race(2, book) == {"ok": 1, "unavailable": 1}, trial
        assert Appointment.objects.filter(patient=patient).count() == 1


# --- without the constraints and the locks, the race is real ----------------------------------------


def _exclusion_constraints() -> list[ExclusionConstraint]:
    return [c for c in Appointment._meta.constraints if isinstance(c, ExclusionConstraint)]


def _existing_constraint_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass", [Appointment._meta.db_table])
        return {row[0] for row in cursor.fetchall()}


def _restore_constraints() -> None:
    """Puts back whatever exclusion constraint is missing, with the SQL the
    migrations use. The test database is shared by every later test."""
    missing = [c for c in _exclusion_constraints() if c.name not in _existing_constraint_names()]
    with connection.schema_editor() as editor:
        for constraint in missing:
            editor.add_constraint(Appointment, constraint)


@pytest.mark.postgres
def test_without_constraints_and_locks_check_then_insert_double_books(treatment) -> None:
    RoomFactory(kind=treatment.room_kind)
    practitioner = PractitionerFactory(treatments=[treatment])
    patients = [PatientFactory() for _ in range(THREADS)]
    assert {c.name for c in _exclusion_constraints()} <= _existing_constraint_names()
    winners_per_trial = []
    try:
        with connection.schema_editor() as editor:
            for constraint in _exclusion_constraints():
                editor.remove_constraint(Appointment, constraint)

        def naive_book(index: int, start: datetime) -> None:
            # The engine's check, then an insert: no advisory lock, no constraint.
            with transaction.atomic():
                allocations = check_start(
                    treatment=treatment, start=start, practitioner_id=practitioner.pk, staff=True, now=NOW
                )
                if not allocations:
                    raise SlotUnavailable()
                Appointment.objects.create(
                    patient=patients[index],
                    treatment=treatment,
                    practitioner_id=allocations[0].practitioner_id,
                    room_id=allocations[0].room_id,
                    start=start,
                    end=start + timedelta(minutes=30),
                    blocked_until=start + timedelta(minutes=40),
                )

        for trial in range(5):
            start = SLOT + timedelta(days=trial)
            outcomes = race(THREADS, lambda index, start=start: naive_book(index, start))
            assert set(outcomes) <= {"ok", "unavailable"}, outcomes
            winners_per_trial.append(outcomes["ok"])
            if outcomes["ok"] > 1:
                break
    finally:
        Appointment.objects.all().delete()
        _restore_constraints()
    assert {c.name for c in _exclusion_constraints()} <= _existing_constraint_names()
    assert max(winners_per_trial) > 1, winners_per_trial
