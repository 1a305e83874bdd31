"""The availability engine: each rule alone, then together.

The clinic works Monday to Saturday 10:00-19:00 with lunch 13:00-14:00 (the
factory's hours); the treatment takes 30 minutes plus a 10-minute buffer; it is
Monday 2030-01-07 07:00 in Hong Kong unless a test says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pytest_django import Settings as SettingsWrapper

from booking.availability import Allocation, Slot, check_start, find_slots
from booking.models import Appointment, Practitioner, Room, WorkingHours
from clinic.errors import NotBookable
from tests.booking.conftest import MONDAY
from tests.factories import (
    AppointmentFactory,
    ClinicClosureFactory,
    DeviceFactory,
    DeviceKindFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    RoomKindFactory,
    TimeOffFactory,
    TreatmentFactory,
)
from treatments.models import Treatment

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
SUNDAY = MONDAY + timedelta(days=6)
MORNING = [f"{h:02d}:{m:02d}" for h in (10, 11, 12) for m in (0, 15, 30, 45) if (h, m) <= (12, 30)]
AFTERNOON = [f"{h:02d}:{m:02d}" for h in range(14, 19) for m in (0, 15, 30, 45) if (h, m) <= (18, 30)]
FULL_DAY = MORNING + AFTERNOON


def local(slots: list[Slot], practitioner: Practitioner | None = None) -> list[str]:
    """Slot starts as clinic-local HH:MM (of one practitioner)."""
    return [
        f"{slot.start.astimezone(ZoneInfo('Asia/Hong_Kong')):%H:%M}"
        for slot in slots
        if practitioner is None or slot.practitioner_id == practitioner.pk
    ]


def day_slots(treatment: Treatment, now: datetime, day: date = MONDAY, **kwargs: object) -> list[Slot]:
    return find_slots(treatment=treatment, first_date=day, last_date=day, now=now, **kwargs)


def book(
    treatment: Treatment, practitioner: Practitioner, room: Room, start: datetime, **fields: object
) -> Appointment:
    return AppointmentFactory(treatment=treatment, practitioner=practitioner, room=room, start=start, **fields)


# --- working hours, breaks, time off, closures ------------------------------------------


def test_slots_fill_working_hours_around_the_break(treatment, practitioner, now) -> None:
    slots = day_slots(treatment, now)
    assert local(slots) == FULL_DAY
    assert {slot.practitioner_id for slot in slots} == {practitioner.pk}
    assert all(slot.end - slot.start == timedelta(minutes=30) for slot in slots)


def test_the_appointment_must_fit_before_the_break_and_closing_but_its_buffer_may_not(
    treatment, practitioner, now
) -> None:
    starts = local(day_slots(treatment, now))
    assert "12:30" in starts  # ends 13:00, cleaning runs into lunch
    assert "12:45" not in starts
    assert "18:30" in starts  # ends 19:00, cleaning after closing
    assert "18:45" not in starts


def test_no_slots_on_a_day_without_hours(treatment, practitioner, now) -> None:
    assert day_slots(treatment, now, day=SUNDAY) == []


def test_several_working_periods_on_one_weekday(treatment, room, now) -> None:
    practitioner = PractitionerFactory(treatments=[treatment], hours=False)
    WorkingHours.objects.create(practitioner=practitioner, weekday=0, start=time(9), end=time(10))
    WorkingHours.objects.create(practitioner=practitioner, weekday=0, start=time(16), end=time(17))
    assert local(day_slots(treatment, now)) == ["09:00", "09:15", "09:30", "16:00", "16:15", "16:30"]


def test_time_off_removes_the_starts_it_overlaps(treatment, practitioner, now, at) -> None:
    TimeOffFactory(practitioner=practitioner, start=at(11), end=at(12))
    starts = local(day_slots(treatment, now))
    assert "10:30" in starts  # ends 11:00 as the time off begins
    assert not {"10:45", "11:00", "11:30", "11:45"} & set(starts)
    assert "12:00" in starts


def test_time_off_of_another_practitioner_changes_nothing(treatment, practitioner, now, at) -> None:
    TimeOffFactory(start=at(11), end=at(12))
    assert local(day_slots(treatment, now)) == FULL_DAY


def test_a_closure_removes_every_practitioners_starts(treatment, practitioner, now, at) -> None:
    other = PractitionerFactory(treatments=[treatment])
    ClinicClosureFactory(start=at(15), end=at(23))
    slots = day_slots(treatment, now)
    assert local(slots, practitioner) == local(slots, other) == [*MORNING, "14:00", "14:15", "14:30"]


def test_a_closure_spanning_days_removes_them_all(treatment, practitioner, now, at) -> None:
    ClinicClosureFactory(start=at(0), end=at(0, day=MONDAY + timedelta(days=2)))
    slots = find_slots(treatment=treatment, first_date=MONDAY, last_date=MONDAY + timedelta(days=2), now=now)
    assert {slot.start.astimezone(ZoneInfo("Asia/Hong_Kong")).date() for slot in slots} == {MONDAY + timedelta(days=2)}


# --- practitioners, rooms, devices ------------------------------------------------------


def test_a_busy_practitioner_is_held_with_both_buffers(treatment, practitioner, room, now, at) -> None:
    book(treatment, practitioner, RoomFactory(kind=treatment.room_kind), at(11))  # holds 11:00-11:40
    starts = local(day_slots(treatment, now))
    assert "10:15" in starts  # 10:15 + 30 + 10 = 10:55
    assert "10:30" not in starts  # its own buffer would run into 11:00
    assert not {"11:00", "11:15", "11:30"} & set(starts)  # the existing buffer runs to 11:40
    assert "11:45" in starts


def test_another_practitioner_is_free_while_one_is_busy(treatment, practitioner, room, now, at) -> None:
    other = PractitionerFactory(treatments=[treatment])
    RoomFactory(kind=treatment.room_kind)
    book(treatment, practitioner, room, at(11))
    slots = [slot for slot in day_slots(treatment, now) if slot.start == at(11)]
    assert [slot.practitioner_id for slot in slots] == [other.pk]


def test_the_practitioners_appointment_of_another_kind_still_holds_them(treatment, practitioner, now, at) -> None:
    consultation = TreatmentFactory(duration_minutes=60, room_kind=RoomKindFactory(slug="consultation"))
    book(consultation, practitioner, RoomFactory(kind=consultation.room_kind), at(10))
    starts = local(day_slots(treatment, now))
    assert starts[0] == "11:00"


def test_two_rooms_allow_two_parallel_bookings_but_not_a_third(treatment, practitioner, room, now, at) -> None:
    second_room = RoomFactory(kind=treatment.room_kind)
    second, third = PractitionerFactory(treatments=[treatment]), PractitionerFactory(treatments=[treatment])
    book(treatment, practitioner, room, at(10))
    assert {s.practitioner_id for s in day_slots(treatment, now) if s.start == at(10)} == {second.pk, third.pk}
    book(treatment, second, second_room, at(10))
    assert [s for s in day_slots(treatment, now) if s.start == at(10)] == []
    # The rooms are free again after the buffer: 10:40, so from 10:45.
    assert [s.practitioner_id for s in day_slots(treatment, now) if s.start == at(10, 45)] == [
        *sorted([practitioner.pk, second.pk, third.pk])
    ]


def test_a_room_of_another_kind_does_not_count(treatment, practitioner, room, now, at) -> None:
    RoomFactory(kind=RoomKindFactory(slug="laser"))
    book(treatment, PractitionerFactory(treatments=[treatment]), room, at(10))
    assert at(10) not in [slot.start for slot in day_slots(treatment, now)]


def test_the_one_pico_laser_cannot_run_twice_at_once(now, at) -> None:
    laser = RoomKindFactory(slug="laser")
    pico = TreatmentFactory(duration_minutes=30, buffer_minutes=10, room_kind=laser, device_kind=DeviceKindFactory())
    rooms = [RoomFactory(kind=laser), RoomFactory(kind=laser)]
    device = DeviceFactory(kind=pico.device_kind)
    first, second = PractitionerFactory(treatments=[pico]), PractitionerFactory(treatments=[pico])
    book(pico, first, rooms[0], at(10), device=device)
    slots = day_slots(pico, now)
    assert at(10) not in [slot.start for slot in slots]
    assert at(10, 30) not in [slot.start for slot in slots]  # the laser's buffer runs to 10:40
    assert {slot.practitioner_id for slot in slots if slot.start == at(10, 45)} == {first.pk, second.pk}
    with pytest.raises(NotBookable):  # nothing wrong with the time itself...
        check_start(treatment=pico, start=at(10, 5), practitioner_id=second.pk, staff=False, now=now)
    assert check_start(treatment=pico, start=at(10), practitioner_id=second.pk, staff=False, now=now) == []


def test_a_second_device_of_the_kind_allows_a_parallel_booking(now, at) -> None:
    laser = RoomKindFactory(slug="laser")
    pico = TreatmentFactory(duration_minutes=30, room_kind=laser, device_kind=DeviceKindFactory())
    rooms = [RoomFactory(kind=laser, name_en="Laser 1"), RoomFactory(kind=laser, name_en="Laser 2")]
    devices = [DeviceFactory(kind=pico.device_kind, name_en="Pico A"), DeviceFactory(kind=pico.device_kind)]
    first, second = PractitionerFactory(treatments=[pico]), PractitionerFactory(treatments=[pico])
    book(pico, first, rooms[0], at(10), device=devices[0])
    allocations = check_start(treatment=pico, start=at(10), practitioner_id=None, staff=False, now=now)
    assert allocations == [Allocation(practitioner_id=second.pk, room_id=rooms[1].pk, device_id=devices[1].pk)]


def test_a_device_treatment_needs_a_device_even_with_rooms_free(now, at) -> None:
    laser = RoomKindFactory(slug="laser")
    pico = TreatmentFactory(room_kind=laser, device_kind=DeviceKindFactory())
    RoomFactory(kind=laser)
    PractitionerFactory(treatments=[pico])
    assert day_slots(pico, now) == []
    with pytest.raises(NotBookable):
        check_start(treatment=pico, start=at(10), practitioner_id=None, staff=False, now=now)


def test_inactive_rooms_and_devices_are_not_offered(now, at) -> None:
    laser = RoomKindFactory(slug="laser")
    pico = TreatmentFactory(room_kind=laser, device_kind=DeviceKindFactory())
    room = RoomFactory(kind=laser)
    device = DeviceFactory(kind=pico.device_kind)
    PractitionerFactory(treatments=[pico])
    assert len(day_slots(pico, now)) == len(FULL_DAY)
    Room.objects.filter(pk=room.pk).update(active=False)
    assert day_slots(pico, now) == []
    Room.objects.filter(pk=room.pk).update(active=True)
    device.active = False
    device.save(update_fields=["active"])
    assert day_slots(pico, now) == []
    with pytest.raises(NotBookable):
        check_start(treatment=pico, start=at(10), practitioner_id=None, staff=True, now=now)


def test_unqualified_or_inactive_practitioners_are_not_offered(treatment, practitioner, now, at) -> None:
    unqualified = PractitionerFactory(treatments=[TreatmentFactory()])
    assert day_slots(treatment, now, practitioner_id=unqualified.pk) == []
    with pytest.raises(NotBookable):
        check_start(treatment=treatment, start=at(10), practitioner_id=unqualified.pk, staff=True, now=now)
    Practitioner.objects.filter(pk=practitioner.pk).update(active=False)
    assert day_slots(treatment, now) == []
    with pytest.raises(NotBookable):
        check_start(treatment=treatment, start=at(10), practitioner_id=None, staff=True, now=now)


def test_one_practitioner_can_be_asked_for(treatment, practitioner, room, now) -> None:
    other = PractitionerFactory(treatments=[treatment])
    assert {s.practitioner_id for s in day_slots(treatment, now, practitioner_id=other.pk)} == {other.pk}


@pytest.mark.parametrize("status", [Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW])
def test_cancelled_and_no_show_appointments_free_their_time(treatment, practitioner, room, now, at, status) -> None:
    book(treatment, practitioner, room, at(10), status=status)
    assert local(day_slots(treatment, now)) == FULL_DAY


@pytest.mark.parametrize("status", [Appointment.Status.CHECKED_IN, Appointment.Status.COMPLETED])
def test_checked_in_and_completed_appointments_hold_their_time(treatment, practitioner, room, at, status) -> None:
    book(treatment, practitioner, room, at(10), status=status)
    assert "10:00" not in local(day_slots(treatment, at(7), staff=True))


def test_an_excluded_appointment_is_as_if_absent(treatment, practitioner, room, now, at) -> None:
    existing = book(treatment, practitioner, room, at(11))
    assert "11:00" not in local(day_slots(treatment, now))
    assert local(day_slots(treatment, now, exclude_appointment_id=existing.pk)) == FULL_DAY
    assert check_start(
        treatment=treatment,
        start=at(11, 15),
        practitioner_id=practitioner.pk,
        staff=False,
        now=now,
        exclude_appointment_id=existing.pk,
        patient_id=existing.patient_id,
    ) == [Allocation(practitioner.pk, room.pk, None)]


# --- the grid, notice, horizons, windows --------------------------------------------------


def test_starts_are_on_the_grid(treatment, practitioner, now, at, settings: SettingsWrapper) -> None:
    for off_grid in (at(10, 5), at(10) + timedelta(seconds=1), at(10) + timedelta(microseconds=1)):
        with pytest.raises(NotBookable):
            check_start(treatment=treatment, start=off_grid, practitioner_id=None, staff=True, now=now)
    settings.CLINIC_SLOT_MINUTES = 20
    assert local(day_slots(treatment, now))[:4] == ["10:00", "10:20", "10:40", "11:00"]


def test_any_offset_may_name_a_start(treatment, practitioner, room, now, at) -> None:
    in_utc = at(10).astimezone(UTC)
    assert check_start(treatment=treatment, start=in_utc, practitioner_id=None, staff=False, now=now)


def test_patients_need_the_minimum_notice(treatment, practitioner, at) -> None:
    now = at(9, 50)  # notice 2 h: from 11:50
    assert local(day_slots(treatment, now))[0] == "12:00"
    with pytest.raises(NotBookable, match="too soon"):
        check_start(treatment=treatment, start=at(11, 45), practitioner_id=None, staff=False, now=now)


def test_staff_have_no_notice_but_cannot_book_the_past(treatment, practitioner, room, at) -> None:
    now = at(10, 7)
    assert local(day_slots(treatment, now, staff=True))[0] == "10:15"
    with pytest.raises(NotBookable, match="passed"):
        check_start(treatment=treatment, start=at(10), practitioner_id=None, staff=True, now=now)
    assert check_start(treatment=treatment, start=at(10, 15), practitioner_id=None, staff=True, now=now)
    # Exactly now is not the past.
    assert check_start(treatment=treatment, start=at(10, 15), practitioner_id=None, staff=True, now=at(10, 15))


def test_patients_book_up_to_the_horizon_and_staff_further(treatment, practitioner, room, now) -> None:
    day_90 = MONDAY + timedelta(days=91)  # a Monday-ish day beyond 90 days
    day_100 = MONDAY + timedelta(days=98)  # a Monday
    day_401 = MONDAY + timedelta(days=406)  # a Monday beyond 400 days
    assert day_slots(treatment, now, day=day_100) == []
    assert day_slots(treatment, now, day=day_90) == []
    assert local(day_slots(treatment, now, day=day_100, staff=True)) == FULL_DAY
    assert day_slots(treatment, now, day=day_401, staff=True) == []
    start = datetime.combine(day_100, time(10), tzinfo=ZoneInfo("Asia/Hong_Kong"))
    with pytest.raises(NotBookable, match="too far"):
        check_start(treatment=treatment, start=start, practitioner_id=None, staff=False, now=now)
    assert check_start(treatment=treatment, start=start, practitioner_id=None, staff=True, now=now)


def test_the_horizon_ends_at_the_same_time_of_day(treatment, practitioner, room, at) -> None:
    now = at(12, day=MONDAY - timedelta(days=1))  # horizon: 90 days later at 12:00, a Saturday
    last_day = now.date() + timedelta(days=90)
    assert last_day.weekday() == 5
    starts = local(find_slots(treatment=treatment, first_date=last_day, last_date=last_day, now=now))
    assert starts == [time for time in MORNING if time <= "12:00"]


def test_a_window_limits_the_dates(treatment, practitioner, room, now, at) -> None:
    slots = find_slots(
        treatment=treatment, first_date=MONDAY, last_date=MONDAY + timedelta(days=5), now=now, window=(TUESDAY, TUESDAY)
    )
    assert {slot.start.astimezone(ZoneInfo("Asia/Hong_Kong")).date() for slot in slots} == {TUESDAY}
    with pytest.raises(NotBookable, match="window"):
        check_start(
            treatment=treatment, start=at(10), practitioner_id=None, staff=True, now=now, window=(TUESDAY, TUESDAY)
        )


def test_dates_are_inclusive_and_sorted_by_start_then_practitioner(treatment, practitioner, room, now) -> None:
    other = PractitionerFactory(treatments=[treatment])
    RoomFactory(kind=treatment.room_kind)
    slots = find_slots(treatment=treatment, first_date=MONDAY, last_date=TUESDAY, now=now)
    assert len(slots) == 2 * 2 * len(FULL_DAY)
    assert slots == sorted(slots, key=lambda s: (s.start, s.practitioner_id))
    assert [s.practitioner_id for s in slots[:2]] == sorted([practitioner.pk, other.pk])


def test_an_inactive_treatment_is_offered_to_staff_only(treatment, practitioner, room, now, at) -> None:
    treatment.active = False
    treatment.save(update_fields=["active"])
    assert day_slots(treatment, now) == []
    assert day_slots(treatment, now, staff=True)
    with pytest.raises(NotBookable):
        check_start(treatment=treatment, start=at(10), practitioner_id=None, staff=False, now=now)


# --- check_start ---------------------------------------------------------------------------


def test_check_start_allocates_the_first_free_room_by_name(treatment, practitioner, room, now, at) -> None:
    room_b = RoomFactory(kind=treatment.room_kind, name_en="Treatment room B")
    book(treatment, PractitionerFactory(treatments=[treatment]), room, at(10))
    assert check_start(treatment=treatment, start=at(10), practitioner_id=None, staff=False, now=now) == [
        Allocation(practitioner.pk, room_b.pk, None)
    ]


def test_check_start_refuses_times_outside_hours_as_not_bookable(treatment, practitioner, room, now, at) -> None:
    TimeOffFactory(practitioner=practitioner, start=at(16), end=at(17))
    ClinicClosureFactory(start=at(17), end=at(18))
    for start in (at(9, 45), at(12, 45), at(13), at(16), at(17, 30), at(18, 45), at(10, day=SUNDAY)):
        with pytest.raises(NotBookable):
            check_start(treatment=treatment, start=start, practitioner_id=practitioner.pk, staff=True, now=now)


def test_check_start_sees_the_patients_own_appointments(treatment, practitioner, room, now, at) -> None:
    patient = PatientFactory()
    other_kind = TreatmentFactory(room_kind=RoomKindFactory(slug="consultation"))
    AppointmentFactory(patient=patient, treatment=other_kind, start=at(10, 15))
    assert check_start(treatment=treatment, start=at(10), practitioner_id=None, staff=False, now=now)
    assert (
        check_start(
            treatment=treatment, start=at(10), practitioner_id=None, staff=False, now=now, patient_id=patient.pk
        )
        == []
    )
    # The patient's own buffer does not hold them: 10:45 is after the 10:15-10:45 appointment.
    assert check_start(
        treatment=treatment, start=at(10, 45), practitioner_id=None, staff=False, now=now, patient_id=patient.pk
    )


def test_every_offered_slot_passes_check_start_and_no_other_grid_time_does(
    treatment, practitioner, room, now, at
) -> None:
    other = PractitionerFactory(treatments=[treatment])
    book(treatment, practitioner, room, at(10, 30))
    book(treatment, other, RoomFactory(kind=treatment.room_kind), at(11))
    TimeOffFactory(practitioner=other, start=at(15), end=at(16, 10))
    offered = {(slot.start, slot.practitioner_id) for slot in day_slots(treatment, now)}
    for minutes in range(0, 24 * 60, 15):
        start = at(0) + timedelta(minutes=minutes)
        for someone in (practitioner, other):
            try:
                allocations = check_start(
                    treatment=treatment, start=start, practitioner_id=someone.pk, staff=False, now=now
                )
            except NotBookable:
                allocations = []
            assert bool(allocations) == ((start, someone.pk) in offered), start


# --- daylight saving ------------------------------------------------------------------------

DST_CASES = [
    # zone, spring-forward date (skipped local hour), fall-back date (repeated local hour)
    ("Europe/London", date(2030, 3, 31), 1, date(2030, 10, 27), 1),
    ("America/New_York", date(2030, 3, 10), 2, date(2030, 11, 3), 1),
]


@pytest.fixture
def night_shift(settings: SettingsWrapper) -> Callable[[str, date], tuple[Treatment, Practitioner, ZoneInfo]]:
    def make(zone_name: str, day: date) -> tuple[Treatment, Practitioner, ZoneInfo]:
        settings.TIME_ZONE = settings.CLINIC_TIME_ZONE = zone_name
        treatment = TreatmentFactory(duration_minutes=30, buffer_minutes=0)
        RoomFactory(kind=treatment.room_kind)
        practitioner = PractitionerFactory(treatments=[treatment], hours=False)
        WorkingHours.objects.create(practitioner=practitioner, weekday=day.weekday(), start=time(0), end=time(4))
        return treatment, practitioner, ZoneInfo(zone_name)

    return make


@pytest.mark.parametrize(("zone_name", "spring", "skipped", "_fall", "_repeated"), DST_CASES)
def test_no_slot_in_the_hour_the_clocks_skip(night_shift, zone_name, spring, skipped, _fall, _repeated) -> None:
    treatment, _practitioner, zone = night_shift(zone_name, spring)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    slots = find_slots(treatment=treatment, first_date=spring, last_date=spring, now=now, staff=True)
    walls = [slot.start.astimezone(zone) for slot in slots]
    assert all(wall.hour != skipped for wall in walls)
    assert len({slot.start for slot in slots}) == len(slots)
    # 00:00 until the skipped hour, then from the hour after it until 03:30.
    expected = [f"{h:02d}:{m:02d}" for h in range(4) for m in (0, 15, 30, 45) if h != skipped and (h, m) <= (3, 30)]
    assert [f"{wall:%H:%M}" for wall in walls] == expected
    # Four hours of wall clock are three real hours: the last one ends at 04:00 local.
    assert slots[-1].end.astimezone(zone).time() == time(4)
    assert slots[-1].end - slots[0].start == timedelta(hours=3)
    for slot in slots:
        assert check_start(treatment=treatment, start=slot.start, practitioner_id=None, staff=True, now=now)


@pytest.mark.parametrize(("zone_name", "_spring", "_skipped", "fall", "repeated"), DST_CASES)
def test_no_slot_twice_in_the_hour_the_clocks_repeat(night_shift, zone_name, _spring, _skipped, fall, repeated) -> None:
    treatment, _practitioner, zone = night_shift(zone_name, fall)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    slots = find_slots(treatment=treatment, first_date=fall, last_date=fall, now=now, staff=True)
    walls = [f"{slot.start.astimezone(zone):%H:%M}" for slot in slots]
    assert len(walls) == len(set(walls))
    assert walls == [f"{h:02d}:{m:02d}" for h in range(4) for m in (0, 15, 30, 45) if (h, m) <= (3, 30)]
    assert all(slot.start.astimezone(zone).fold == 0 for slot in slots)
    # The second 01:15 is the same wall time again: not on the grid.
    second = datetime.combine(fall, time(repeated, 15), tzinfo=zone).replace(fold=1).astimezone(UTC)
    first = datetime.combine(fall, time(repeated, 15), tzinfo=zone).astimezone(UTC)
    assert second - first == timedelta(hours=1)
    assert first in [slot.start for slot in slots]
    with pytest.raises(NotBookable):
        check_start(treatment=treatment, start=second, practitioner_id=None, staff=True, now=now)


def test_slots_keep_their_duration_across_a_dst_change(night_shift) -> None:
    treatment, _practitioner, zone = night_shift("Europe/London", date(2030, 3, 31))
    slots = find_slots(
        treatment=treatment,
        first_date=date(2030, 3, 31),
        last_date=date(2030, 3, 31),
        now=datetime(2030, 1, 1, tzinfo=UTC),
    )
    crossing = next(slot for slot in slots if f"{slot.start.astimezone(zone):%H:%M}" == "00:45")
    assert crossing.end - crossing.start == timedelta(minutes=30)
    assert f"{crossing.end.astimezone(zone):%H:%M}" == "02:15"


# --- queries -------------------------------------------------------------------------------


def test_the_number_of_queries_does_not_grow_with_appointments_or_days(now, at, django_assert_num_queries) -> None:
    laser = RoomKindFactory(slug="laser")
    pico = TreatmentFactory(duration_minutes=30, buffer_minutes=10, room_kind=laser, device_kind=DeviceKindFactory())
    rooms = [RoomFactory(kind=laser) for _ in range(2)]
    devices = [DeviceFactory(kind=pico.device_kind) for _ in range(2)]
    practitioners = [PractitionerFactory(treatments=[pico]) for _ in range(3)]
    TimeOffFactory(practitioner=practitioners[0], start=at(15), end=at(16))
    ClinicClosureFactory(start=at(0, day=TUESDAY), end=at(12, day=TUESDAY))
    # Practitioners, hours, time off, closures, rooms, devices, appointments.
    queries = 7

    def slots(days: int) -> list[Slot]:
        with django_assert_num_queries(queries):
            return find_slots(treatment=pico, first_date=MONDAY, last_date=MONDAY + timedelta(days=days), now=now)

    book(pico, practitioners[0], rooms[0], at(10), device=devices[0])
    one = slots(60)
    for n in range(1, 50):
        book(pico, practitioners[n % 3], rooms[n % 2], at(10, day=MONDAY + timedelta(days=n)), device=devices[n % 2])
    assert Appointment.objects.count() == 50
    assert len(slots(60)) < len(one)
    slots(0)
    with django_assert_num_queries(queries + 1):  # and the patient's own appointments
        check_start(treatment=pico, start=at(11), practitioner_id=None, staff=False, now=now, patient_id=1)
