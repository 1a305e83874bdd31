"""Two visits completed at once never redeem more sessions than were bought.

Real threads with their own connections on PostgreSQL, released together:
each completes a different checked-in visit of the package's treatment. The
package row lock makes them take turns; with one session left exactly one
visit is credited. Underneath, the database's check refuses an overused
package even if the service were bypassed (tests/billing/test_packages.py)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from booking import packages, services
from booking.models import Appointment, LedgerEntry, Package, PackageOffer
from tests.concurrency.test_booking_races import ZONE, clinic_settings, race  # noqa: F401 - fixture
from tests.factories import AppointmentFactory, PatientFactory, TreatmentFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 6


def test_racing_completions_never_redeem_more_than_bought() -> None:
    treatment = TreatmentFactory(slug="pico-race", price=Decimal("3500"))
    offer = PackageOffer.objects.create(
        treatment=treatment, name_en="Pico x 2", name_zh_hant="皮秒 2次", sessions=2, price=Decimal("6000")
    )
    patient = PatientFactory()
    package = packages.package_sell(
        patient=patient, offer=offer, method="cash", by=UserFactory(role="receptionist"), key="race"
    )
    first = date(2030, 1, 7)
    visits = [
        AppointmentFactory(
            patient=patient,
            treatment=treatment,
            start=datetime.combine(first + timedelta(days=n), time(11), tzinfo=ZONE),
            status=Appointment.Status.CHECKED_IN,
        )
        for n in range(THREADS)
    ]
    practitioner = UserFactory(role="practitioner")

    def complete(index: int) -> None:
        services.appointment_complete(appointment=visits[index], by=practitioner, record={}, now=visits[index].start)

    outcomes = race(THREADS, complete)
    assert outcomes["ok"] == THREADS, outcomes  # every visit completes; only two are paid by the package
    package.refresh_from_db()
    assert (package.sessions_used, package.status) == (2, Package.Status.USED)
    credits = LedgerEntry.objects.filter(package=package, kind=LedgerEntry.Kind.PACKAGE_CREDIT)
    assert credits.count() == 2
    assert sum(c.amount for c in credits) == Decimal("6000.00")
