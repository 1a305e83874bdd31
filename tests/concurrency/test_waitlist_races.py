"""Real threads on PostgreSQL: an offer's hold and the direct bookings of the
same slot; exactly one appointment ever exists, and nobody gets a 500."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from booking import waitlist
from booking.models import Appointment, WaitlistOffer
from booking.services import appointment_book
from clinic.errors import InvalidState, SlotUnavailable
from tests.concurrency.test_booking_races import NOW, SLOT, clinic_settings, race  # noqa: F401 (fixture)
from tests.factories import PatientFactory, PractitionerFactory, RoomFactory, TreatmentFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the race needs PostgreSQL's concurrency"),
]

CLIENTS = 20


@pytest.fixture
def offered() -> Any:
    """One slot (Monday 10:00) held by an offer to a waiting patient."""
    treatment = TreatmentFactory(duration_minutes=30, buffer_minutes=10)
    RoomFactory(kind=treatment.room_kind)
    PractitionerFactory(treatments=[treatment])
    patient = PatientFactory()
    entry = waitlist.waitlist_join(
        patient=patient,
        treatment=treatment,
        earliest=SLOT.date(),
        latest=SLOT.date(),
        by=patient.user,
        staff=False,
        now=NOW,
    )
    offer = waitlist.open_offer_for(entry)
    assert offer is not None
    assert offer.start == SLOT
    return offer


def _outcomes(offer: Any, now: Any) -> Counter[str]:
    entry = offer.entry
    others = [PatientFactory() for _ in range(2 * CLIENTS)]

    def work(index: int) -> None:
        if index == 0:
            waitlist.offer_accept(offer=offer, by=entry.patient.user, now=now)
        elif index < CLIENTS:
            # Another patient's offer is not found for them (the API's 404).
            if waitlist.offers_for(others[index]).filter(pk=offer.pk).exists():
                raise AssertionError("someone else's offer was visible")
            raise LookupError("not found")
        else:
            patient = others[index]
            appointment_book(
                patient=patient,
                treatment=entry.treatment,
                start=SLOT,
                practitioner=None,
                booked_by=patient.user,
                staff=False,
                now=now,
            )

    def tolerant(index: int) -> None:
        try:
            work(index)
        except InvalidState:
            raise SlotUnavailable() from None

    return race(2 * CLIENTS, tolerant)


def test_the_holder_wins_against_twenty_direct_bookings(offered: Any) -> None:
    outcomes = _outcomes(offered, NOW + timedelta(minutes=5))
    assert outcomes["ok"] == 1
    assert outcomes["LookupError: not found"] == CLIENTS - 1
    assert outcomes["unavailable"] == CLIENTS
    (appointment,) = Appointment.objects.filter(status=Appointment.Status.CONFIRMED)
    assert appointment.patient_id == offered.entry.patient_id
    assert not Appointment.with_holds.filter(status=Appointment.Status.HELD).exists()


def test_after_expiry_exactly_one_of_the_offer_and_the_bookings_wins(offered: Any) -> None:
    outcomes = _outcomes(offered, offered.expires_at)
    assert outcomes["ok"] == 1, outcomes
    assert outcomes["unavailable"] == CLIENTS
    assert Appointment.objects.filter(status=Appointment.Status.CONFIRMED).count() == 1
    assert not Appointment.with_holds.filter(status=Appointment.Status.HELD).exists()
    offered.refresh_from_db()
    assert offered.status == WaitlistOffer.Status.EXPIRED


def test_twenty_accepts_of_one_offer_book_once(offered: Any) -> None:
    patient = offered.entry.patient

    def accept(index: int) -> None:
        try:
            waitlist.offer_accept(offer=offered, by=patient.user, now=NOW + timedelta(minutes=5))
        except InvalidState:
            raise SlotUnavailable() from None

    outcomes = race(CLIENTS, accept)
    assert outcomes == Counter({"ok": 1, "unavailable": CLIENTS - 1})
    assert Appointment.objects.filter(status=Appointment.Status.CONFIRMED).count() == 1
