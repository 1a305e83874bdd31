"""The database itself refuses double bookings (PostgreSQL exclusion constraints)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from booking.models import Appointment
from tests.factories import (
    AppointmentFactory,
    DeviceFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def first() -> Appointment:
    treatment = TreatmentFactory(duration_minutes=30, buffer_minutes=15)
    return AppointmentFactory(treatment=treatment, device=DeviceFactory())


def _violates(constraint: str, **fields: object) -> None:
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        AppointmentFactory(**fields)
    assert error.value.__cause__.sqlstate == "23P01"
    assert error.value.__cause__.diag.constraint_name == constraint


def test_practitioner_cannot_be_double_booked_including_buffer(first: Appointment) -> None:
    # Starts after the first ends but inside its 15-minute buffer.
    _violates(
        "appointment_no_practitioner_overlap",
        practitioner=first.practitioner,
        treatment=first.treatment,
        start=first.end + timedelta(minutes=10),
    )


def test_room_cannot_be_double_booked_including_buffer(first: Appointment) -> None:
    _violates(
        "appointment_no_room_overlap",
        room=first.room,
        treatment=first.treatment,
        start=first.end + timedelta(minutes=5),
    )


def test_device_cannot_be_double_booked_including_buffer(first: Appointment) -> None:
    _violates(
        "appointment_no_device_overlap",
        device=first.device,
        treatment=first.treatment,
        start=first.end + timedelta(minutes=14),
    )


def test_patient_cannot_hold_two_overlapping_appointments(first: Appointment) -> None:
    _violates("appointment_no_patient_overlap", patient=first.patient, start=first.start + timedelta(minutes=29))


def test_patient_buffer_does_not_block_their_next_appointment(first: Appointment) -> None:
    # The buffer is for cleaning the room, not for the patient.
    second = AppointmentFactory(patient=first.patient, start=first.end)
    assert second.pk


def test_resources_free_again_after_the_buffer(first: Appointment) -> None:
    after = first.blocked_until
    second = AppointmentFactory(
        practitioner=first.practitioner, room=first.room, device=first.device, treatment=first.treatment, start=after
    )
    assert second.pk


@pytest.mark.parametrize("status", [Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW])
def test_cancelled_and_no_show_appointments_do_not_block(first: Appointment, status: str) -> None:
    first.status = status
    first.save(update_fields=["status"])
    again = AppointmentFactory(
        practitioner=first.practitioner,
        room=first.room,
        device=first.device,
        patient=first.patient,
        treatment=first.treatment,
        start=first.start,
    )
    assert again.pk


@pytest.mark.parametrize("status", [Appointment.Status.CHECKED_IN, Appointment.Status.COMPLETED])
def test_checked_in_and_completed_appointments_still_block(first: Appointment, status: str) -> None:
    first.status = status
    first.save(update_fields=["status"])
    _violates("appointment_no_room_overlap", room=first.room, treatment=first.treatment, start=first.start)


def test_reactivating_a_cancelled_appointment_into_a_taken_time_is_refused(first: Appointment) -> None:
    first.status = Appointment.Status.CANCELLED
    first.save(update_fields=["status"])
    AppointmentFactory(room=first.room, treatment=first.treatment, start=first.start)
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.filter(pk=first.pk).update(status=Appointment.Status.CONFIRMED)


def test_different_resources_may_share_a_time(first: Appointment) -> None:
    other = AppointmentFactory(
        practitioner=PractitionerFactory(), room=RoomFactory(), patient=PatientFactory(), start=first.start
    )
    assert other.pk
