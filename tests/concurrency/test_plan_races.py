"""A plan session holds one active appointment, however many requests race for it.

Real threads with their own connections, released together: each tries to
book the same session at a different time (so no slot is contended). The plan
row lock makes exactly one win; the others see the session booked and get
InvalidState (409). Underneath, a partial unique index refuses a second active
appointment for the session even if the services were bypassed."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from django.db import IntegrityError, transaction

from booking.models import Appointment
from booking.services import appointment_book
from tests.concurrency.test_booking_races import NOW, ZONE, clinic_settings, race  # noqa: F401 - fixture
from tests.factories import (
    AppointmentFactory,
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments import services as clinical
from treatments.models import PlanSession

pytestmark = [pytest.mark.django_db(transaction=True)]

THREADS = 10
MONDAY = date(2030, 1, 7)


def test_racing_bookings_of_one_plan_session_book_it_once() -> None:
    treatment = TreatmentFactory(duration_minutes=30, buffer_minutes=0)
    RoomFactory(kind=treatment.room_kind)
    practitioner = PractitionerFactory(treatments=[treatment])
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    plan = clinical.plan_create(
        patient=patient, treatment=treatment, sessions=3, start_after=MONDAY, today=MONDAY, by=UserFactory()
    )
    session = plan.sessions.get(number=1)
    starts = [datetime.combine(MONDAY, time(14), tzinfo=ZONE) + timedelta(minutes=30 * n) for n in range(THREADS)]

    def book(index: int) -> None:
        appointment_book(
            patient=patient,
            treatment=treatment,
            start=starts[index],
            practitioner=practitioner,
            booked_by=patient.user,
            staff=False,
            plan_session_id=session.pk,
            now=NOW,
        )

    outcomes = race(THREADS, book)
    assert outcomes["ok"] == 1, outcomes
    refused = Counter({k: v for k, v in outcomes.items() if k != "ok"})
    assert sum(refused.values()) == THREADS - 1
    assert all(name.startswith("InvalidState") for name in refused), refused
    active = Appointment.objects.filter(plan_session=session, status__in=Appointment.ACTIVE_STATUSES)
    assert active.count() == 1
    session.refresh_from_db()
    assert session.status == PlanSession.Status.BOOKED
    assert session.booked_on == MONDAY


def test_the_database_refuses_a_second_active_appointment_for_a_session() -> None:
    patient = PatientFactory()
    treatment = TreatmentFactory()
    plan = clinical.plan_create(
        patient=patient, treatment=treatment, sessions=3, start_after=MONDAY, today=MONDAY, by=UserFactory()
    )
    session = plan.sessions.get(number=1)
    first = datetime.combine(MONDAY, time(10), tzinfo=ZONE)
    AppointmentFactory(patient=patient, treatment=treatment, plan_session=session, start=first)
    # A cancelled one beside it is fine: only active appointments count.
    AppointmentFactory(
        patient=patient,
        treatment=treatment,
        plan_session=session,
        start=first + timedelta(days=1),
        status=Appointment.Status.CANCELLED,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(patient=patient, treatment=treatment, plan_session=session, start=first + timedelta(days=2))
