"""Properties of the engine and the services over random calendars (hypothesis).

Each example runs in its own transaction, rolled back afterwards
(``hypothesis.extra.django.TestCase``), on top of a small clinic made once:
two laser rooms and one Pico laser, one treatment room, three practitioners
with different skills and hours.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time, timedelta
from itertools import combinations
from zoneinfo import ZoneInfo

from django.test import override_settings
from hypothesis import Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from booking.availability import check_start, find_slots
from booking.models import Appointment, WorkingHours
from booking.services import KEEP, appointment_book, appointment_cancel, appointment_reschedule
from clinic.errors import ApplicationError, NotBookable, SlotUnavailable
from tests.factories import (
    AppointmentFactory,
    DeviceFactory,
    DeviceKindFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    RoomKindFactory,
    TreatmentFactory,
    UserFactory,
)

ZONE = ZoneInfo("Asia/Hong_Kong")
MONDAY = date(2030, 1, 7)
NOW = datetime.combine(MONDAY, time(7), tzinfo=ZONE)
DAYS = [MONDAY, MONDAY + timedelta(days=1)]
# Grid times from 09:00 to 19:45, some outside hours on purpose.
MINUTES = st.integers(min_value=9 * 4, max_value=19 * 4 + 3).map(lambda quarter: quarter * 15)
# 09:45 to 13:00 only, so random operations often collide.
BUSY_MINUTES = st.integers(min_value=39, max_value=52).map(lambda quarter: quarter * 15)

BOOKING_SETTINGS = override_settings(
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    TIME_ZONE="Asia/Hong_Kong",
    CLINIC_TIME_ZONE="Asia/Hong_Kong",
    CLINIC_SLOT_MINUTES=15,
    CLINIC_MIN_NOTICE=timedelta(hours=2),
    CLINIC_BOOKING_HORIZON=timedelta(days=90),
    CLINIC_STAFF_HORIZON=timedelta(days=400),
    CLINIC_CANCELLATION_NOTICE=timedelta(hours=24),
)


def at(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=ZONE)


@BOOKING_SETTINGS
class BookingProperties(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        laser, treatment_room = RoomKindFactory(slug="laser"), RoomKindFactory(slug="treatment")
        cls.pico = TreatmentFactory(
            slug="pico", duration_minutes=30, buffer_minutes=10, room_kind=laser, device_kind=DeviceKindFactory()
        )
        cls.peel = TreatmentFactory(slug="peel", duration_minutes=45, buffer_minutes=15, room_kind=treatment_room)
        cls.treatments = [cls.pico, cls.peel]
        RoomFactory(kind=laser, name_en="Laser 1")
        RoomFactory(kind=laser, name_en="Laser 2")
        RoomFactory(kind=treatment_room, name_en="Treatment 1")
        DeviceFactory(kind=cls.pico.device_kind)
        cls.practitioners = [
            PractitionerFactory(treatments=[cls.pico, cls.peel]),
            PractitionerFactory(treatments=[cls.pico]),
            PractitionerFactory(treatments=[cls.peel], hours=False),
        ]
        WorkingHours.objects.create(practitioner=cls.practitioners[2], weekday=0, start=time(9), end=time(12, 30))
        WorkingHours.objects.create(
            practitioner=cls.practitioners[2],
            weekday=1,
            start=time(12),
            end=time(20),
            break_start=time(15),
            break_end=time(15, 30),
        )
        cls.patients = [PatientFactory() for _ in range(6)]
        cls.staff = UserFactory(role="receptionist")

    # --- every offered slot is bookable, and only those ---------------------------------------

    def _existing(self, data: st.DataObject) -> None:
        """A random calendar of existing appointments (rows as the database holds them)."""
        for _ in range(data.draw(st.integers(min_value=0, max_value=6), label="existing")):
            treatment = data.draw(st.sampled_from(self.treatments))
            start = at(data.draw(st.sampled_from(DAYS)), data.draw(MINUTES))
            allocations = (
                check_start(treatment=treatment, start=start, practitioner_id=None, staff=True, now=NOW)
                if (self._bookable(treatment, start))
                else []
            )
            if allocations:
                allocation = data.draw(st.sampled_from(allocations))
                AppointmentFactory(
                    treatment=treatment,
                    practitioner_id=allocation.practitioner_id,
                    room_id=allocation.room_id,
                    device_id=allocation.device_id,
                    start=start,
                )

    def _bookable(self, treatment, start) -> bool:
        try:
            check_start(treatment=treatment, start=start, practitioner_id=None, staff=True, now=NOW)
        except NotBookable:
            return False
        return True

    @settings(max_examples=30, deadline=None)
    @given(data=st.data())
    def test_every_offered_slot_can_be_booked(self, data: st.DataObject) -> None:
        self._existing(data)
        treatment = data.draw(st.sampled_from(self.treatments), label="treatment")
        staff = data.draw(st.booleans(), label="staff")
        slots = find_slots(treatment=treatment, first_date=DAYS[0], last_date=DAYS[-1], staff=staff, now=NOW)
        if not slots:
            return
        slot = data.draw(st.sampled_from(slots), label="slot")
        anyone = data.draw(st.booleans(), label="any practitioner")
        practitioner = None if anyone else next(p for p in self.practitioners if p.pk == slot.practitioner_id)
        patient = PatientFactory()
        appointment = appointment_book(
            patient=patient,
            treatment=treatment,
            start=slot.start,
            practitioner=practitioner,
            booked_by=self.staff if staff else patient.user,
            staff=staff,
            now=NOW,
        )
        assert appointment.start == slot.start and appointment.end == slot.end
        if not anyone:
            assert appointment.practitioner_id == slot.practitioner_id

    @settings(max_examples=25, deadline=None)
    @given(data=st.data())
    def test_a_grid_time_passes_check_start_exactly_when_it_is_offered(self, data: st.DataObject) -> None:
        self._existing(data)
        treatment = data.draw(st.sampled_from(self.treatments), label="treatment")
        staff = data.draw(st.booleans(), label="staff")
        offered = {
            (slot.start, slot.practitioner_id)
            for slot in find_slots(treatment=treatment, first_date=DAYS[0], last_date=DAYS[-1], staff=staff, now=NOW)
        }
        for _ in range(10):
            start = at(data.draw(st.sampled_from(DAYS)), data.draw(MINUTES))
            for practitioner in self.practitioners:
                try:
                    allocations = check_start(
                        treatment=treatment, start=start, practitioner_id=practitioner.pk, staff=staff, now=NOW
                    )
                except NotBookable:
                    allocations = []
                assert bool(allocations) == ((start, practitioner.pk) in offered), (start, practitioner)

    # --- no sequence of operations double-books ------------------------------------------------

    operation = st.one_of(
        st.tuples(
            st.just("book"),
            st.integers(0, 5),  # patient
            st.integers(0, 1),  # treatment
            st.integers(0, 1),  # day
            BUSY_MINUTES,
            st.sampled_from([None, 0, 1, 2]),  # practitioner
            st.booleans(),  # staff
        ),
        st.tuples(
            st.just("reschedule"),
            st.integers(0, 20),  # appointment
            st.integers(0, 1),
            BUSY_MINUTES,
            st.sampled_from(["keep", None, 0, 1, 2]),
            st.booleans(),
        ),
        st.tuples(st.just("cancel"), st.integers(0, 20), st.booleans()),
        # Right before or after an existing appointment, where buffers matter.
        st.tuples(
            st.just("book_near"),
            st.integers(0, 5),  # patient
            st.integers(0, 1),  # treatment
            st.integers(0, 20),  # appointment
            st.integers(-6, 6),  # quarters from its start
            st.sampled_from([None, 0, 1, 2]),
            st.booleans(),
        ),
    )

    @settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
    @given(operations=st.lists(operation, min_size=1, max_size=14))
    def test_no_sequence_of_operations_double_books(self, operations: list[tuple]) -> None:
        for operation in operations:
            kind, *arguments = operation
            getattr(self, f"_{kind}")(*arguments)
        self._assert_no_overlaps()

    def _book_near(
        self, patient: int, treatment: int, index: int, quarters: int, practitioner: int | None, staff: bool
    ) -> None:
        appointments = list(Appointment.objects.order_by("pk"))
        if appointments:
            start = appointments[index % len(appointments)].start + timedelta(minutes=15 * quarters)
            self._book_at(patient, treatment, start, practitioner, staff)

    def _book(
        self, patient: int, treatment: int, day: int, minutes: int, practitioner: int | None, staff: bool
    ) -> None:
        self._book_at(patient, treatment, at(DAYS[day], minutes), practitioner, staff)

    def _book_at(self, patient: int, treatment: int, start: datetime, practitioner: int | None, staff: bool) -> None:
        who = self.patients[patient]
        chosen = None if practitioner is None else self.practitioners[practitioner]
        try:
            predicted = check_start(
                treatment=self.treatments[treatment],
                start=start,
                practitioner_id=chosen.pk if chosen else None,
                staff=staff,
                now=NOW,
                patient_id=who.pk,
            )
        except NotBookable:
            predicted = None
        try:
            appointment_book(
                patient=who,
                treatment=self.treatments[treatment],
                start=start,
                practitioner=chosen,
                booked_by=self.staff if staff else who.user,
                staff=staff,
                now=NOW,
            )
        except NotBookable:
            event("book: not bookable")
            assert predicted is None
        except SlotUnavailable:
            event("book: unavailable")
            assert predicted == []
        else:
            event("book: booked")
            assert predicted

    def _reschedule(self, index: int, day: int, minutes: int, practitioner: str | int | None, staff: bool) -> None:
        appointments = list(Appointment.objects.order_by("pk"))
        if not appointments:
            return
        appointment = appointments[index % len(appointments)]
        target = KEEP if practitioner == "keep" else None if practitioner is None else self.practitioners[practitioner]
        with contextlib.suppress(ApplicationError):
            appointment_reschedule(
                appointment=appointment,
                start=at(DAYS[day], minutes),
                practitioner=target,
                by=self.staff if staff else appointment.patient.user,
                staff=staff,
                now=NOW,
            )

    def _cancel(self, index: int, staff: bool) -> None:
        appointments = list(Appointment.objects.order_by("pk"))
        if not appointments:
            return
        appointment = appointments[index % len(appointments)]
        with contextlib.suppress(ApplicationError):
            appointment_cancel(
                appointment=appointment, by=self.staff if staff else appointment.patient.user, staff=staff, now=NOW
            )

    def _assert_no_overlaps(self) -> None:
        active = list(Appointment.objects.filter(status__in=Appointment.ACTIVE_STATUSES))
        for first, second in combinations(active, 2):
            held = first.start < second.blocked_until and second.start < first.blocked_until
            if held:
                assert first.practitioner_id != second.practitioner_id, (first, second)
                assert first.room_id != second.room_id, (first, second)
                assert first.device_id is None or first.device_id != second.device_id, (first, second)
            if first.start < second.end and second.start < first.end:
                assert first.patient_id != second.patient_id, (first, second)
        for appointment in active:
            assert appointment.end - appointment.start == timedelta(minutes=appointment.treatment.duration_minutes)
            assert appointment.blocked_until - appointment.end == timedelta(
                minutes=appointment.treatment.buffer_minutes
            )
