"""Dates that matter on /me/ and at the confirm step, and the downtime flag the
patient and staff see (flagged, never refused)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from django.test import Client

from patients.models import ImportantDate, Patient
from tests.factories import AppointmentFactory, HealthDeclarationFactory, PatientFactory, UserFactory
from tests.pages.site_fixtures import Clinic, at, make_clinic

pytestmark = pytest.mark.django_db

# Monday 30 November 2026, 15:00 in Hong Kong; the visits are on Wednesday 2 December.
WEDNESDAY = "2026-12-02"
FLAG = "Your Wedding on 3 Dec falls within the usual 1–3 days of redness after Glycolic peel."


@pytest.fixture(autouse=True)
def _monday_afternoon() -> Any:
    with time_machine.travel("2026-11-30 15:00 +0800", tick=False):
        yield


@pytest.fixture
def clinic() -> Clinic:
    clinic = make_clinic()
    clinic.peel.downtime_days_min, clinic.peel.downtime_days_max = 1, 3
    clinic.peel.save(update_fields=["downtime_days_min", "downtime_days_max"])
    return clinic


@pytest.fixture
def patient() -> Patient:
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    return patient


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def wedding(patient: Patient, day: date = date(2026, 12, 3)) -> ImportantDate:
    return ImportantDate.objects.create(patient=patient, starts_on=day, ends_on=day, label="Wedding")


def test_a_patient_adds_and_removes_a_date_on_their_profile(patient: Patient) -> None:
    client = signed_in(patient.user)
    assert "Dates that matter" in client.get("/me/").content.decode()
    added = client.post("/me/dates/", {"date-label": "Wedding", "date-starts_on": "2026-12-24"})
    assert added.status_code == 302
    noted = ImportantDate.objects.get(patient=patient)
    assert (noted.label, noted.starts_on, noted.ends_on) == ("Wedding", date(2026, 12, 24), date(2026, 12, 24))
    page = client.get("/me/").content.decode()
    assert "Wedding" in page and "24 Dec 2026" in page
    assert client.post(f"/me/dates/{noted.pk}/remove/").status_code == 302
    assert not ImportantDate.objects.exists()


def test_a_refused_date_is_explained_in_place_and_nothing_is_saved(patient: Patient) -> None:
    page = signed_in(patient.user).post("/me/dates/", {"date-label": "Trip", "date-starts_on": "2026-11-01"})
    assert page.status_code == 200
    assert "Choose today or a later date." in page.content.decode()
    assert 'value="Trip"' in page.content.decode()  # the form stays filled in
    assert not ImportantDate.objects.exists()


def test_a_patient_cannot_remove_another_patients_date(patient: Patient) -> None:
    theirs = wedding(PatientFactory())
    signed_in(patient.user).post(f"/me/dates/{theirs.pk}/remove/")
    assert ImportantDate.objects.filter(pk=theirs.pk).exists()


def _confirm_step(patient: Patient) -> str:
    response = signed_in(patient.user).get(f"/book/?treatment=peel&practitioner=any&date={WEDNESDAY}&time=10:00")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'name="action" value="confirm"' in text  # flagged, never refused
    return text


def test_the_confirm_step_flags_a_date_inside_the_downtime(clinic: Clinic, patient: Patient) -> None:
    wedding(patient)
    page = _confirm_step(patient)
    assert FLAG in page
    assert "another time that day" in page


def test_the_confirm_step_says_nothing_for_a_date_after_the_downtime(clinic: Clinic, patient: Patient) -> None:
    wedding(patient, date(2026, 12, 6))  # Wednesday + 3 days is Saturday the 5th
    assert "falls within the usual" not in _confirm_step(patient)


def test_a_date_added_on_the_confirm_step_is_flagged_at_once(clinic: Clinic, patient: Patient) -> None:
    client = signed_in(patient.user)
    posted = client.post(
        "/book/",
        {
            "treatment": "peel",
            "practitioner": "any",
            "date": WEDNESDAY,
            "time": "10:00",
            "action": "add_date",
            "date-label": "Wedding",
            "date-starts_on": "2026-12-03",
        },
    )
    assert posted.status_code == 302
    assert ImportantDate.objects.filter(patient=patient, label="Wedding").exists()
    assert FLAG in client.get(posted["Location"]).content.decode()


def test_the_appointment_pages_show_the_flag(clinic: Clinic, patient: Patient) -> None:
    wedding(patient)
    visit = AppointmentFactory(
        patient=patient, treatment=clinic.peel, practitioner=clinic.first, start=at(date(2026, 12, 2), 10)
    )
    client = signed_in(patient.user)
    assert FLAG in client.get(f"/appointments/{visit.pk}/").content.decode()
    assert FLAG in client.get("/appointments/").content.decode()


def test_staff_see_the_badge_on_the_schedule_panel_and_the_chart(clinic: Clinic, patient: Patient) -> None:
    wedding(patient)
    visit = AppointmentFactory(
        patient=patient, treatment=clinic.peel, practitioner=clinic.first, start=at(date(2026, 12, 2), 10)
    )
    staff = signed_in(UserFactory(role="receptionist"))
    for url in (f"/staff/?date={WEDNESDAY}", f"/staff/appointments/{visit.pk}/"):
        page = staff.get(url).content.decode()
        assert "Downtime overlaps:" in page and "Wedding 3 Dec" in page, url
    booking = staff.get(f"/staff/book/?patient={patient.pk}&treatment={clinic.peel.pk}&date={WEDNESDAY}")
    assert "Wedding 3 Dec" in booking.content.decode()
    chart = signed_in(UserFactory(role="practitioner")).get(f"/staff/patients/{patient.pk}/")
    assert "Wedding" in chart.content.decode()
