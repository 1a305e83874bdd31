"""A small clinic for the staff workspace's tests: one treatment with a screening
rule, two practitioners, a room, staff of every role and a patient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from booking.models import Practitioner, Room
from patients.models import Patient
from tests.factories import (
    ContraindicationRuleFactory,
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Treatment

PASSWORD = "correct-horse-battery"


@dataclass
class Clinic:
    treatment: Treatment
    practitioner: Practitioner
    other: Practitioner
    room: Room
    receptionist: User
    manager: User
    patient: Patient

    def user(self, role: str) -> User | None:
        return {
            "anonymous": None,
            "patient": self.patient.user,
            "receptionist": self.receptionist,
            "practitioner": self.practitioner.user,
            "manager": self.manager,
        }[role]


def make_clinic() -> Clinic:
    treatment = TreatmentFactory(slug="glycolic-peel", name_en="Glycolic peel", name_zh_hant="果酸換膚")
    ContraindicationRuleFactory(treatment=treatment, code="PREG", severity="block")
    room = RoomFactory(kind=treatment.room_kind, name_en="Treatment room 1", name_zh_hant="治療室一")
    practitioner = PractitionerFactory(
        treatments=[treatment], user=UserFactory(role="practitioner", first_name="Mei", last_name="Chan")
    )
    other = PractitionerFactory(
        treatments=[treatment], user=UserFactory(role="practitioner", first_name="Ka", last_name="Wong")
    )
    patient = PatientFactory(full_name="Wing Lee", phone="+85291234567")
    HealthDeclarationFactory(patient=patient)
    return Clinic(
        treatment=treatment,
        practitioner=practitioner,
        other=other,
        room=room,
        receptionist=UserFactory(role="receptionist", first_name="Rita", last_name="Ho"),
        manager=UserFactory(role="manager", first_name="Max", last_name="Lam"),
        patient=patient,
    )


def next_workday(after: date | None = None) -> date:
    """The next Monday to Friday after ``after`` (default today), clinic-local."""
    day = (after or timezone.localdate()) + timedelta(days=1)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_default_timezone())


def names(clinic: Clinic, *extra: Any) -> list[str]:
    people = [clinic.patient.full_name, clinic.practitioner.name, clinic.other.name]
    people += [clinic.receptionist.get_full_name(), clinic.manager.get_full_name()]
    return [*people, *[str(e) for e in extra]]


def overdue_plan(clinic: Clinic, patient: Patient | None = None, days_ago: int = 40) -> Any:
    """A plan whose first session's window ended some days ago, nothing booked."""
    from treatments.services import plan_create

    started = timezone.localdate() - timedelta(days=days_ago)
    return plan_create(
        patient=patient or clinic.patient,
        treatment=clinic.treatment,
        sessions=3,
        by=clinic.practitioner.user,
        start_after=started,
        today=started,
    )
