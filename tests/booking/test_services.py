"""Booking services: book, reschedule, cancel, check in, no-show, closures."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking import availability
from booking.availability import Allocation, find_slots
from booking.models import Appointment, ClinicClosure, Room, TimeOff
from booking.services import (
    KEEP,
    appointment_book,
    appointment_cancel,
    appointment_check_in,
    appointment_no_show,
    appointment_reschedule,
    appointments_cancel_for_closure,
    closure_add,
    closure_affected_appointments,
    time_off_add,
)
from clinic.errors import (
    CancellationWindowPassed,
    Contraindicated,
    InvalidInput,
    InvalidState,
    NotBookable,
    SlotUnavailable,
)
from tests.booking.conftest import MONDAY
from tests.factories import (
    AppointmentFactory,
    ContraindicationRuleFactory,
    DeviceFactory,
    DeviceKindFactory,
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    RoomKindFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def book(patient, treatment, practitioner, now):
    """``book(start, **overrides)`` as the patient, online."""

    def make(start, **kwargs):
        arguments = {
            "patient": patient,
            "treatment": treatment,
            "practitioner": practitioner,
            "booked_by": patient.user,
            "staff": False,
            "now": now,
        }
        arguments.update(kwargs)
        return appointment_book(start=start, **arguments)

    return make


@pytest.fixture
def declared(patient, now):
    """The patient declared being pregnant yesterday."""
    return HealthDeclarationFactory(
        patient=patient, pregnant_or_breastfeeding=True, submitted_at=now - timedelta(days=1)
    )


# --- booking --------------------------------------------------------------------------------


def test_booking_holds_the_practitioner_room_and_time(book, patient, treatment, practitioner, room, at) -> None:
    appointment = book(at(10))
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert (appointment.patient, appointment.practitioner, appointment.room) == (patient, practitioner, room)
    assert appointment.device is None
    assert (appointment.start, appointment.end) == (at(10), at(10, 30))
    assert appointment.blocked_until == at(10, 40)
    assert appointment.sequence == 0
    assert appointment.source == Appointment.Source.PATIENT_ONLINE
    assert appointment.booked_by == patient.user
    assert appointment.cautions == []
    assert appointment.override_reason == "" and appointment.overridden_by is None
    assert appointment.history.get().history_user == patient.user


def test_booking_takes_the_slot_off_the_list(book, treatment, practitioner, room, now, at) -> None:
    book(at(10))
    starts = [slot.start for slot in find_slots(treatment=treatment, first_date=MONDAY, last_date=MONDAY, now=now)]
    assert at(10) not in starts and at(10, 30) not in starts and at(10, 45) in starts


def test_staff_bookings_say_so_and_may_name_the_source(book, receptionist, room, at) -> None:
    assert book(at(10), booked_by=receptionist, staff=True).source == Appointment.Source.STAFF
    walk_in = book(at(11), booked_by=receptionist, staff=True, source=Appointment.Source.WALK_IN, notes="Walked in")
    assert (walk_in.source, walk_in.notes, walk_in.booked_by) == ("walk_in", "Walked in", receptionist)


def test_staff_may_book_without_notice(book, receptionist, room, at) -> None:
    with pytest.raises(NotBookable):
        book(at(10, 15), now=at(10, 5))
    assert book(at(10, 15), now=at(10, 5), booked_by=receptionist, staff=True).pk


def test_a_device_treatment_books_a_device(patient, now, at) -> None:
    laser = RoomKindFactory(slug="laser")
    pico = TreatmentFactory(room_kind=laser, device_kind=DeviceKindFactory(), buffer_minutes=10)
    room = RoomFactory(kind=laser)
    device = DeviceFactory(kind=pico.device_kind)
    practitioner = PractitionerFactory(treatments=[pico])
    appointment = appointment_book(
        patient=patient, treatment=pico, start=at(10), practitioner=None, booked_by=patient.user, staff=False, now=now
    )
    assert (appointment.practitioner, appointment.room, appointment.device) == (practitioner, room, device)


@pytest.mark.parametrize("start", [(10, 5), (9, 0), (13, 0), (18, 45)])
def test_a_time_the_engine_would_not_offer_is_not_bookable(book, room, at, start) -> None:
    with pytest.raises(NotBookable):
        book(at(*start))
    assert not Appointment.objects.exists()


def test_a_taken_time_is_unavailable(book, treatment, practitioner, room, at) -> None:
    AppointmentFactory(treatment=treatment, practitioner=practitioner, room=room, start=at(10, 15))
    with pytest.raises(SlotUnavailable) as error:
        book(at(10))  # its buffer would run into 10:15
    assert error.value.as_dict()["code"] == "slot_unavailable"
    assert Appointment.objects.count() == 1


def test_a_patient_cannot_hold_two_overlapping_appointments(book, patient, treatment, room, at) -> None:
    other = PractitionerFactory(treatments=[treatment])
    RoomFactory(kind=treatment.room_kind)
    book(at(10))
    with pytest.raises(SlotUnavailable, match="already an appointment for this patient"):
        book(at(10, 15), practitioner=other)
    assert book(at(10, 30), practitioner=other).pk  # the buffer is for the room, not the patient


# --- screening ----------------------------------------------------------------------------


def test_a_blocked_patient_cannot_book(book, treatment, room, declared, at) -> None:
    ContraindicationRuleFactory(treatment=treatment, code="PREG", severity="block")
    with pytest.raises(Contraindicated) as error:
        book(at(10))
    assert [reason["code"] for reason in error.value.reasons] == ["PREG"]
    assert error.value.as_dict()["reasons"][0]["severity"] == "block"
    assert not Appointment.objects.exists()


def test_patients_cannot_override_a_block(book, treatment, room, declared, at) -> None:
    ContraindicationRuleFactory(treatment=treatment, code="PREG", severity="block")
    with pytest.raises(Contraindicated):
        book(at(10), override_reason="I know")


def test_staff_override_stores_the_reason_who_and_every_finding(
    book, treatment, room, declared, receptionist, at
) -> None:
    ContraindicationRuleFactory(treatment=treatment, code="PREG", severity="block")
    ContraindicationRuleFactory(treatment=treatment, code="INF", severity="caution")
    with pytest.raises(Contraindicated):
        book(at(10), booked_by=receptionist, staff=True, override_reason="   ")
    appointment = book(at(10), booked_by=receptionist, staff=True, override_reason="Cleared by Dr Chan by phone")
    appointment.refresh_from_db()
    assert appointment.override_reason == "Cleared by Dr Chan by phone"
    assert appointment.overridden_by == receptionist
    assert [c["code"] for c in appointment.cautions] == ["PREG"]
    assert appointment.cautions[0]["severity"] == "block"


def test_cautions_are_stored_with_the_appointment(book, treatment, room, declared, at) -> None:
    ContraindicationRuleFactory(treatment=treatment, code="PREG", severity="caution")
    appointment = book(at(10))
    appointment.refresh_from_db()
    assert [(c["code"], c["severity"]) for c in appointment.cautions] == [("PREG", "caution")]
    assert appointment.cautions[0]["detail"]
    assert appointment.override_reason == ""


def test_not_bookable_comes_before_contraindicated(book, treatment, room, declared, at) -> None:
    ContraindicationRuleFactory(treatment=treatment, code="PREG", severity="block")
    with pytest.raises(NotBookable):
        book(at(10, 5))


def test_contraindicated_comes_before_slot_unavailable(book, treatment, practitioner, room, declared, at) -> None:
    ContraindicationRuleFactory(treatment=treatment, code="PREG", severity="block")
    AppointmentFactory(treatment=treatment, practitioner=practitioner, room=room, start=at(10))
    with pytest.raises(Contraindicated):
        book(at(10))


# --- any practitioner -------------------------------------------------------------------------


@pytest.fixture
def team(treatment, practitioner):
    """Three qualified practitioners and three rooms."""
    for _ in range(2):
        RoomFactory(kind=treatment.room_kind)
    return [practitioner, PractitionerFactory(treatments=[treatment]), PractitionerFactory(treatments=[treatment])]


def test_any_practitioner_goes_to_the_least_busy_that_day(book, treatment, team, at) -> None:
    busy, quieter, free = team
    for hour in (11, 15):
        AppointmentFactory(treatment=treatment, practitioner=busy, room=Room.objects.first(), start=at(hour))
    AppointmentFactory(treatment=treatment, practitioner=quieter, room=Room.objects.last(), start=at(16))
    # Yesterday's and tomorrow's appointments do not count.
    AppointmentFactory(treatment=treatment, practitioner=free, start=at(11, day=TUESDAY))
    assert book(at(10), practitioner=None).practitioner == free


def test_any_practitioner_spreads_bookings(treatment, team, now, at) -> None:
    for hour in (10, 11, 12, 14, 15, 16):
        patient = PatientFactory()
        appointment_book(
            patient=patient,
            treatment=treatment,
            start=at(hour),
            practitioner=None,
            booked_by=patient.user,
            staff=False,
            now=now,
        )
    assert sorted(Counter(Appointment.objects.values_list("practitioner_id", flat=True)).values()) == [2, 2, 2]


def test_any_practitioner_ties_are_broken_at_random(treatment, team, now, at) -> None:
    chosen = set()
    for day in range(12):
        patient = PatientFactory()
        start = at(10, day=MONDAY + timedelta(days=day if day < 6 else day + 1))
        chosen.add(
            appointment_book(
                patient=patient,
                treatment=treatment,
                start=start,
                practitioner=None,
                booked_by=patient.user,
                staff=True,
                now=now,
            ).practitioner_id
        )
    assert len(chosen) > 1


def test_any_practitioner_falls_back_to_whoever_is_free(book, treatment, team, at) -> None:
    first, second, third = team
    AppointmentFactory(treatment=treatment, practitioner=first, room=Room.objects.first(), start=at(10))
    AppointmentFactory(treatment=treatment, practitioner=second, room=Room.objects.last(), start=at(10))
    assert book(at(10), practitioner=None).practitioner == third
    with pytest.raises(SlotUnavailable):
        book(at(10), practitioner=None, patient=PatientFactory())


@pytest.mark.postgres
def test_a_lost_race_tries_the_next_practitioner(book, treatment, team, at, monkeypatch) -> None:
    """The engine's answer is stale (someone booked meanwhile): the exclusion
    constraint refuses the first candidate and the next one gets it."""
    first, second, _third = team
    taken = AppointmentFactory(treatment=treatment, practitioner=first, room=Room.objects.last(), start=at(10))
    room = Room.objects.first()
    stale = [Allocation(first.pk, room.pk, None), Allocation(second.pk, room.pk, None)]
    monkeypatch.setattr(availability, "check_start", lambda **kwargs: stale)
    monkeypatch.setattr("booking.services._fair_order", lambda ids, start: list(ids))
    appointment = book(at(10), practitioner=None)
    assert appointment.practitioner == second
    assert Appointment.objects.filter(practitioner=first).get() == taken


@pytest.mark.postgres
def test_an_exclusion_violation_is_slot_unavailable_not_an_error(book, treatment, practitioner, room, at, monkeypatch):
    AppointmentFactory(treatment=treatment, practitioner=practitioner, room=room, start=at(10))
    monkeypatch.setattr(availability, "check_start", lambda **kwargs: [Allocation(practitioner.pk, room.pk, None)])
    with pytest.raises(SlotUnavailable):
        book(at(10))
    assert Appointment.objects.count() == 1


def test_booking_uses_a_bounded_number_of_queries(book, treatment, team, at) -> None:
    with CaptureQueriesContext(connection) as few:
        book(at(10), practitioner=None)
    for hour in (11, 12, 14, 15, 16, 17):
        AppointmentFactory(treatment=treatment, practitioner=team[hour % 3], room=Room.objects.first(), start=at(hour))
    with CaptureQueriesContext(connection) as many:
        book(at(10, day=TUESDAY), practitioner=None)
    assert len(few) == len(many) < 40


# --- rescheduling -------------------------------------------------------------------------------


@pytest.fixture
def appointment(book, room, at):
    """Booked for Tuesday 11:00."""
    return book(at(11, day=TUESDAY))


def test_rescheduling_moves_the_same_appointment(appointment, patient, treatment, practitioner, now, at) -> None:
    moved = appointment_reschedule(
        appointment=appointment, start=at(15, day=TUESDAY), by=patient.user, staff=False, now=now
    )
    moved.refresh_from_db()
    assert moved.pk == appointment.pk and moved.uid == appointment.uid
    assert (moved.start, moved.end, moved.blocked_until) == (
        at(15, day=TUESDAY),
        at(15, 30, day=TUESDAY),
        at(15, 40, day=TUESDAY),
    )
    assert moved.practitioner == practitioner
    assert moved.sequence == 1
    assert Appointment.objects.count() == 1
    slots = find_slots(treatment=treatment, first_date=TUESDAY, last_date=TUESDAY, now=now)
    assert at(11, day=TUESDAY) in [slot.start for slot in slots]


def test_rescheduling_may_overlap_the_old_time(appointment, patient, now, at) -> None:
    # One practitioner, one room: only possible if the old time is ignored.
    moved = appointment_reschedule(
        appointment=appointment, start=at(11, 15, day=TUESDAY), by=patient.user, staff=False, now=now
    )
    assert moved.start == at(11, 15, day=TUESDAY)


def test_rescheduling_to_a_taken_time_keeps_the_old_one(appointment, patient, treatment, practitioner, room, now, at):
    AppointmentFactory(treatment=treatment, practitioner=practitioner, room=room, start=at(15, day=TUESDAY))
    with pytest.raises(SlotUnavailable):
        appointment_reschedule(
            appointment=appointment, start=at(15, day=TUESDAY), by=patient.user, staff=False, now=now
        )
    appointment.refresh_from_db()
    assert (appointment.start, appointment.sequence) == (at(11, day=TUESDAY), 0)


def test_rescheduling_can_change_or_free_the_practitioner(appointment, patient, treatment, now, at) -> None:
    other = PractitionerFactory(treatments=[treatment])
    moved = appointment_reschedule(
        appointment=appointment, start=at(16, day=TUESDAY), practitioner=other, by=patient.user, staff=False, now=now
    )
    assert moved.practitioner == other
    moved = appointment_reschedule(
        appointment=moved, start=at(17, day=TUESDAY), practitioner=KEEP, by=patient.user, staff=False, now=now
    )
    assert (moved.practitioner, moved.sequence) == (other, 2)
    moved = appointment_reschedule(
        appointment=moved, start=at(17, day=TUESDAY), practitioner=None, by=patient.user, staff=False, now=now
    )
    assert moved.sequence == 3


def test_rescheduling_picks_the_room_again(appointment, patient, treatment, room, now, at) -> None:
    room_b = RoomFactory(kind=treatment.room_kind, name_en="Treatment room B")
    AppointmentFactory(treatment=treatment, room=room, start=at(16, day=TUESDAY))
    moved = appointment_reschedule(
        appointment=appointment, start=at(16, day=TUESDAY), by=patient.user, staff=False, now=now
    )
    assert moved.room == room_b


def test_only_confirmed_appointments_move(appointment, patient, now, at) -> None:
    Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CHECKED_IN)
    with pytest.raises(InvalidState):
        appointment_reschedule(appointment=appointment, start=at(15, day=TUESDAY), by=patient.user, staff=True, now=now)


def test_patients_cannot_reschedule_inside_the_notice(appointment, patient, receptionist, at) -> None:
    late = at(11, 1)  # Monday 11:01: 23h59m before Tuesday 11:00
    with pytest.raises(CancellationWindowPassed):
        appointment_reschedule(
            appointment=appointment, start=at(16, day=TUESDAY), by=patient.user, staff=False, now=late
        )
    on_time = appointment_reschedule(
        appointment=appointment, start=at(16, day=TUESDAY), by=patient.user, staff=False, now=at(11)
    )
    moved = appointment_reschedule(
        appointment=on_time, start=at(17, day=TUESDAY), by=receptionist, staff=True, now=late
    )
    assert moved.start == at(17, day=TUESDAY)


def test_rescheduling_to_an_unbookable_time_is_not_bookable(appointment, patient, now, at) -> None:
    with pytest.raises(NotBookable):
        appointment_reschedule(
            appointment=appointment, start=at(13, day=TUESDAY), by=patient.user, staff=False, now=now
        )


def test_rescheduling_screens_again_for_the_new_date(appointment, patient, treatment, now, at, settings) -> None:
    settings.CLINIC_DECLARATION_MAX_AGE = timedelta(days=60)
    HealthDeclarationFactory(patient=patient, submitted_at=now - timedelta(days=1))
    ContraindicationRuleFactory(treatment=treatment, code="PREG", severity="block")
    later = at(11, day=MONDAY + timedelta(days=85))  # the declaration will be too old by then
    with pytest.raises(Contraindicated) as error:
        appointment_reschedule(appointment=appointment, start=later, by=patient.user, staff=False, now=now)
    assert [reason["code"] for reason in error.value.reasons] == ["health_declaration_required"]
    moved = appointment_reschedule(
        appointment=appointment, start=at(15, day=TUESDAY), by=patient.user, staff=False, now=now
    )
    assert moved.cautions == []


# --- cancelling ------------------------------------------------------------------------------------


def test_patients_cancel_their_appointment(appointment, patient, treatment, now, at) -> None:
    cancelled = appointment_cancel(appointment=appointment, by=patient.user, staff=False, reason="Busy", now=now)
    cancelled.refresh_from_db()
    assert cancelled.status == Appointment.Status.CANCELLED
    assert cancelled.cancelled_at == now
    assert cancelled.cancelled_by == Appointment.CancelledBy.PATIENT
    assert cancelled.cancelled_by_user == patient.user
    assert cancelled.cancellation_reason == "Busy"
    assert cancelled.sequence == 1
    slots = find_slots(treatment=treatment, first_date=TUESDAY, last_date=TUESDAY, now=now)
    assert at(11, day=TUESDAY) in [slot.start for slot in slots]


def test_cancelling_twice_is_an_invalid_state(appointment, patient, now) -> None:
    appointment_cancel(appointment=appointment, by=patient.user, staff=False, now=now)
    with pytest.raises(InvalidState):
        appointment_cancel(appointment=appointment, by=patient.user, staff=False, now=now)


def test_patients_cannot_cancel_inside_the_notice_but_staff_can(appointment, patient, receptionist, at) -> None:
    with pytest.raises(CancellationWindowPassed):
        appointment_cancel(appointment=appointment, by=patient.user, staff=False, now=at(11, 1))
    cancelled = appointment_cancel(appointment=appointment, by=receptionist, staff=True, now=at(11, 1))
    assert cancelled.cancelled_by == Appointment.CancelledBy.CLINIC


# --- check-in and no-show -------------------------------------------------------------------------


def test_check_in_on_the_day(appointment, receptionist, at) -> None:
    checked_in = appointment_check_in(appointment=appointment, by=receptionist, now=at(9, day=TUESDAY))
    checked_in.refresh_from_db()
    assert checked_in.status == Appointment.Status.CHECKED_IN
    assert checked_in.checked_in_at == at(9, day=TUESDAY)
    with pytest.raises(InvalidState):
        appointment_check_in(appointment=appointment, by=receptionist, now=at(10, day=TUESDAY))


def test_no_check_in_on_another_day(appointment, receptionist, at) -> None:
    for moment in (at(23, 59), at(0, day=TUESDAY + timedelta(days=1))):
        with pytest.raises(InvalidState, match="8 Jan 2030"):
            appointment_check_in(appointment=appointment, by=receptionist, now=moment)


def test_check_in_uses_the_clinic_day_not_utc(appointment, receptionist, at) -> None:
    # 00:30 Tuesday in Hong Kong is still Monday in UTC.
    assert appointment_check_in(appointment=appointment, by=receptionist, now=at(0, 30, day=TUESDAY)).pk


def test_no_show_only_after_the_start(appointment, receptionist, at) -> None:
    with pytest.raises(InvalidState):
        appointment_no_show(appointment=appointment, by=receptionist, now=at(10, 59, day=TUESDAY))
    marked = appointment_no_show(appointment=appointment, by=receptionist, now=at(11, 10, day=TUESDAY))
    marked.refresh_from_db()
    assert marked.status == Appointment.Status.NO_SHOW
    with pytest.raises(InvalidState):
        appointment_no_show(appointment=appointment, by=receptionist, now=at(11, 20, day=TUESDAY))


def test_a_checked_in_patient_is_not_a_no_show(appointment, receptionist, at) -> None:
    appointment_check_in(appointment=appointment, by=receptionist, now=at(10, day=TUESDAY))
    with pytest.raises(InvalidState):
        appointment_no_show(appointment=appointment, by=receptionist, now=at(12, day=TUESDAY))


# --- closures and time off ------------------------------------------------------------------------


def test_a_closure_lists_affected_appointments_and_cancels_none(appointment, treatment, receptionist, at) -> None:
    later = AppointmentFactory(treatment=treatment, start=at(16, day=TUESDAY))
    closure, affected = closure_add(
        start=at(10, day=TUESDAY),
        end=at(12, day=TUESDAY),
        reason="Typhoon signal No. 8",
        kind=ClinicClosure.Kind.WEATHER,
        by=receptionist,
    )
    assert list(affected) == [appointment]
    assert closure.created_by == receptionist
    assert Appointment.objects.filter(status=Appointment.Status.CONFIRMED).count() == 2
    assert later not in affected


def test_a_closure_only_touches_overlapping_active_appointments(treatment, at) -> None:
    inside = AppointmentFactory(treatment=treatment, start=at(10))
    checked_in = AppointmentFactory(treatment=treatment, start=at(10), status=Appointment.Status.CHECKED_IN)
    AppointmentFactory(treatment=treatment, start=at(10), status=Appointment.Status.CANCELLED)
    AppointmentFactory(treatment=treatment, start=at(10), status=Appointment.Status.COMPLETED)
    AppointmentFactory(treatment=treatment, start=at(11, 30))  # starts as the closure ends
    AppointmentFactory(treatment=treatment, start=at(9, 30))  # its buffer, not itself, overlaps
    affected = closure_affected_appointments(start=at(10), end=at(11, 30))
    assert set(affected) == {inside, checked_in}


def test_time_off_lists_only_that_practitioners_appointments(appointment, practitioner, treatment, receptionist, at):
    AppointmentFactory(treatment=treatment, start=at(11, day=TUESDAY))
    time_off, affected = time_off_add(
        practitioner=practitioner, start=at(0, day=TUESDAY), end=at(23, day=TUESDAY), reason="Sick", by=receptionist
    )
    assert list(affected) == [appointment]
    assert TimeOff.objects.get() == time_off and time_off.created_by == receptionist


def test_closures_need_an_ordered_span_and_a_known_kind(receptionist, at) -> None:
    with pytest.raises(InvalidInput):
        closure_add(start=at(12), end=at(10), reason="x", kind=ClinicClosure.Kind.OTHER, by=receptionist)
    with pytest.raises(InvalidInput):
        closure_add(start=at(10), end=at(12), reason="x", kind="holiday", by=receptionist)
    with pytest.raises(InvalidInput):
        time_off_add(practitioner=PractitionerFactory(), start=at(10), end=at(10), reason="", by=receptionist)


def test_cancelling_for_a_closure_cancels_as_the_clinic(appointment, treatment, practitioner, receptionist, at):
    checked_in = AppointmentFactory(
        treatment=treatment, start=at(10, day=TUESDAY), status=Appointment.Status.CHECKED_IN
    )
    _closure, affected = closure_add(
        start=at(0, day=TUESDAY), end=at(23, day=TUESDAY), reason="Black rainstorm", kind="weather", by=receptionist
    )
    cancelled, skipped = appointments_cancel_for_closure(
        appointments=affected, reason="Black rainstorm warning", by=receptionist, now=at(7, day=TUESDAY)
    )
    assert [a.pk for a in cancelled] == [appointment.pk] and [a.pk for a in skipped] == [checked_in.pk]
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancelled_by == Appointment.CancelledBy.CLINIC
    assert appointment.cancellation_reason == "Black rainstorm warning"
    assert appointment.cancelled_by_user == receptionist


def test_a_staff_override_still_stands_when_the_appointment_moves(book, treatment, room, declared, receptionist, at):
    ContraindicationRuleFactory(treatment=treatment, code="PREG", severity="block")
    appointment = book(at(10), booked_by=receptionist, staff=True, override_reason="Cleared by Dr Chan")
    moved = appointment_reschedule(appointment=appointment, start=at(11), by=receptionist, staff=True, now=at(7))
    assert moved.override_reason == "Cleared by Dr Chan"
    assert [c["code"] for c in moved.cautions] == ["PREG"]


def test_an_unknown_source_is_invalid(book, room, at) -> None:
    with pytest.raises(InvalidInput):
        book(at(10), source="fax")


def test_a_plan_session_and_a_separate_visit_together_are_invalid(book, treatment, room, declared, at) -> None:
    with pytest.raises(InvalidInput) as refused:
        book(at(10), plan_session_id=1, separate_visit=True)
    assert "separate_visit" in refused.value.fields
