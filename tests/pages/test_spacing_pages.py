"""Gap rules on the pages: the signed-in patient's calendar greys the days a
block refuses and says why, in the booking flow and when moving a visit; the
confirm step and a refused move say why in words; and the staff booking page
shows the finding with the reason field to pass it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking.models import Appointment
from patients.models import Patient
from portal.book.flow import Span
from tests.booking.spacing_fixtures import GapClinic, make_gap_clinic
from tests.factories import HealthDeclarationFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gap_clinic() -> GapClinic:
    return make_gap_clinic()


@pytest.fixture
def patient() -> Patient:
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient, submitted_at=timezone.now() - timedelta(days=1))
    return patient


def weekday(on_or_after: date) -> date:
    while on_or_after.weekday() >= 5:
        on_or_after += timedelta(days=1)
    return on_or_after


def at(day: date, hour: int = 11) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


@pytest.fixture
def toxin_day() -> date:
    return weekday(timezone.localdate() + timedelta(days=7))


def test_the_calendar_greys_the_days_a_block_refuses_saying_why(
    client: Client, patient: Patient, gap_clinic: GapClinic, toxin_day: date
) -> None:
    gap_clinic.visit(patient, "botox", at(toxin_day))
    client.force_login(patient.user)
    month = toxin_day.strftime("%Y-%m")
    page = client.get(f"/book/?treatment=hydrafacial&practitioner=any&month={month}").text
    blocked = toxin_day + timedelta(days=1)
    assert f"date={blocked.isoformat()}" not in page
    assert "day-blocked" in page
    assert "Days marked × cannot be booked for this treatment" in page
    assert "Too close to your Botulinum toxin" in page
    free = weekday(toxin_day + timedelta(days=8))
    if free.strftime("%Y-%m") == month:
        assert f"date={free.isoformat()}" in page
    # The same treatment for someone without that visit: nothing greyed.
    client.force_login(PatientFactory().user)
    assert "day-blocked" not in client.get(f"/book/?treatment=hydrafacial&practitioner=any&month={month}").text


def test_a_blocked_day_reached_directly_is_refused_at_confirm_in_words(
    client: Client, patient: Patient, gap_clinic: GapClinic, toxin_day: date
) -> None:
    gap_clinic.visit(patient, "botox", at(toxin_day))
    client.force_login(patient.user)
    day = weekday(toxin_day + timedelta(days=1))
    url = f"/book/?treatment=hydrafacial&practitioner=any&date={day.isoformat()}&time=11%3A00"
    page = client.get(url).text
    assert "Please choose another day" in page
    assert "is too close to Botulinum toxin" in page
    choice = {"treatment": "hydrafacial", "practitioner": "any", "date": day.isoformat(), "time": "11:00"}
    response = client.post("/book/", {**choice, "action": "confirm"})
    assert response.status_code == 200
    assert "is too close to Botulinum toxin" in response.text
    assert not patient.appointments.filter(treatment=gap_clinic["hydrafacial"]).exists()


@pytest.fixture
def hydra_after_a_peel(patient: Patient, gap_clinic: GapClinic, toxin_day: date) -> Appointment:
    """A superficial peel on ``toxin_day`` and a HydraFacial three weeks later, to be moved."""
    gap_clinic.visit(patient, "peel-superficial", at(toxin_day))
    return gap_clinic.visit(patient, "hydrafacial", at(weekday(toxin_day + timedelta(days=21))))


def test_the_reschedule_calendar_greys_the_days_a_block_refuses_saying_why(
    client: Client, patient: Patient, hydra_after_a_peel: Appointment, toxin_day: date
) -> None:
    client.force_login(patient.user)
    month = toxin_day.strftime("%Y-%m")
    page = client.get(f"/appointments/{hydra_after_a_peel.pk}/reschedule/?month={month}").text
    assert "Choose a day" in page
    blocked = [toxin_day + timedelta(days=n) for n in range(-13, 14)]
    first = Span.for_patient(None).first  # the minimum notice may leave today bookable
    shown = [d for d in blocked if d.strftime("%Y-%m") == month and d >= first]
    assert shown
    for day in shown:
        assert f"date={day.isoformat()}" not in page
    assert page.count("day-blocked") == len(shown)
    assert "Days marked × cannot be booked for this treatment" in page
    assert "Too close to your Superficial peel" in page
    # The visit being moved is no reason against itself: its own day stays free.
    own = clinic_day(hydra_after_a_peel)
    if own.strftime("%Y-%m") == month:
        assert f"date={own.isoformat()}" in page
    free = weekday(toxin_day + timedelta(days=15))
    if free.strftime("%Y-%m") == month:
        assert f"date={free.isoformat()}" in page


def clinic_day(appointment: Appointment) -> date:
    return timezone.localtime(appointment.start).date()


def test_a_move_into_a_blocked_day_is_refused_in_place_with_the_calendar_again(
    client: Client, patient: Patient, hydra_after_a_peel: Appointment, toxin_day: date
) -> None:
    client.force_login(patient.user)
    day = weekday(toxin_day + timedelta(days=3))
    url = f"/appointments/{hydra_after_a_peel.pk}/reschedule/"
    response = client.post(url, {"date": day.isoformat(), "time": "11:00"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = response.text
    assert page.startswith('<div id="picker"')
    assert "This date is too close to another of your treatments. Please choose another day." in page
    assert "is too close to Superficial peel" in page
    assert "Choose a day" in page and "day-blocked" in page
    assert f"date={day.isoformat()}" not in page
    moved = Appointment.objects.get(pk=hydra_after_a_peel.pk)
    assert moved.start == hydra_after_a_peel.start


def test_the_reschedule_calendars_queries_do_not_grow_with_the_patients_visits(
    client: Client, patient: Patient, gap_clinic: GapClinic, hydra_after_a_peel: Appointment, toxin_day: date
) -> None:
    client.force_login(patient.user)
    url = f"/appointments/{hydra_after_a_peel.pk}/reschedule/?month={toxin_day.strftime('%Y-%m')}"

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url).text
        return len(queries), page.count("day-blocked")

    few, greyed = count()
    for n, slug in enumerate(["botox", "ha-filler", "pico-laser", "co2-fractional"]):
        gap_clinic.visit(patient, slug, at(weekday(toxin_day + timedelta(days=30 + 7 * n))))
    many, more_greyed = count()
    assert many == few
    assert more_greyed >= greyed


def test_the_staff_booking_page_shows_the_finding_and_passes_it_with_a_reason(
    client: Client, patient: Patient, gap_clinic: GapClinic, toxin_day: date
) -> None:
    gap_clinic.visit(patient, "botox", at(toxin_day))
    client.force_login(UserFactory(role="receptionist"))
    day = weekday(toxin_day + timedelta(days=1))
    hydra = gap_clinic["hydrafacial"]
    page = client.get(f"/staff/book/?patient={patient.pk}&treatment={hydra.pk}&date={day.isoformat()}").text
    assert "Spacing between treatments blocks this day." in page
    assert "Why go ahead despite the screening or the spacing" in page
    body = {"patient": patient.pk, "treatment": hydra.pk, "start": at(day).isoformat(), "practitioner": ""}
    refused = client.post("/staff/book/", body)
    assert refused.status_code == 422
    assert "too close to another of the patient" in refused.text
    booked = client.post("/staff/book/", {**body, "override_reason": "Forehead only"})
    assert booked.status_code == 302
    assert patient.appointments.get(treatment=hydra).override_reason == "Forehead only"
