"""Gap rules on the pages: the signed-in patient's calendar greys the days a
block refuses and says why, the confirm step refuses in words, and the staff
booking page shows the finding with the reason field to pass it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from patients.models import Patient
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
