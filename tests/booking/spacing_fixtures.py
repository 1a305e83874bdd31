"""The seeded gap rules over the treatments they name, for the spacing tests
of the services, the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from booking.models import Appointment, Practitioner, Room, SessionRecord
from patients.models import Patient
from tests.factories import AppointmentFactory, PractitionerFactory, RoomFactory, RoomKindFactory, TreatmentFactory
from treatments.gap_seed import seed_gap_rules
from treatments.models import GapRule, Treatment

# slug -> (category, English name)
SEEDED = {
    "punch-excision": ("punch", "Punch excision"),
    "co2-fractional": ("laser", "Fractional CO2 laser"),
    "fotona-laser-peel": ("laser", "Fotona laser peeling"),
    "nafl-1550": ("laser", "1550 laser"),
    "dermabrasion": ("resurfacing", "Dermabrasion"),
    "peel-tca-medium": ("peel", "TCA peel"),
    "peel-superficial": ("peel", "Superficial peel"),
    "pico-laser": ("laser", "Pico laser"),
    "botox": ("toxin", "Botulinum toxin"),
    "ha-filler": ("filler", "HA filler"),
    "hydrafacial": ("facial", "HydraFacial"),
}


@dataclass
class GapClinic:
    treatments: dict[str, Treatment]
    practitioner: Practitioner
    room: Room

    def __getitem__(self, slug: str) -> Treatment:
        return self.treatments[slug]

    def visit(self, patient: Patient, slug: str, start: datetime, *, status: str = "confirmed") -> Appointment:
        """A visit written as the database holds it (no booking rules)."""
        appointment = AppointmentFactory(
            patient=patient,
            treatment=self.treatments[slug],
            practitioner=self.practitioner,
            room=self.room,
            start=start,
            status=status,
        )
        if status == Appointment.Status.COMPLETED:
            SessionRecord.objects.create(appointment=appointment, category=self.treatments[slug].category)
        return appointment


def make_gap_clinic() -> GapClinic:
    """Every seeded treatment in one room kind, one practitioner for all, the seeded rules."""
    kind = RoomKindFactory()
    treatments = {
        slug: TreatmentFactory(
            slug=slug, category=category, name_en=name, duration_minutes=30, buffer_minutes=0, room_kind=kind
        )
        for slug, (category, name) in SEEDED.items()
    }
    room = RoomFactory(kind=kind)
    practitioner = PractitionerFactory(treatments=list(treatments.values()))
    seed_gap_rules(GapRule, Treatment)
    return GapClinic(treatments=treatments, practitioner=practitioner, room=room)
