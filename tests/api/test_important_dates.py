"""Dates that matter through the API, and the downtime flag on screening and appointments."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from booking.erasure import patient_erase
from booking.export import export_data
from clinic.clock import clinic_today
from patients.models import ImportantDate, Patient
from patients.services import IMPORTANT_DATES_MAX, important_date_add
from tests.factories import AppointmentFactory, TreatmentFactory, UserFactory
from treatments.models import Treatment

pytestmark = pytest.mark.django_db


@pytest.fixture
def co2() -> Treatment:
    return TreatmentFactory(
        slug="co2-fractional", name_en="Fractional CO2 laser", downtime_days_min=5, downtime_days_max=7
    )


def _in(days: int) -> str:
    return (clinic_today() + timedelta(days=days)).isoformat()


def _at(days: int) -> datetime:
    return timezone.make_aware(datetime.combine(clinic_today() + timedelta(days=days), time(11)))


def test_patient_adds_lists_and_removes_a_date(as_a: APIClient, patient_a: Patient) -> None:
    created = as_a.post("/api/v1/me/dates/", {"starts_on": _in(30), "label": "  Wedding "}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["starts_on"], body["ends_on"], body["label"]) == (_in(30), _in(30), "Wedding")
    trip = as_a.post("/api/v1/me/dates/", {"starts_on": _in(10), "ends_on": _in(17), "label": "Bali"}, format="json")
    assert trip.status_code == 201
    listed = as_a.get("/api/v1/me/dates/").json()["results"]
    assert [row["label"] for row in listed] == ["Bali", "Wedding"]  # soonest first
    assert as_a.delete(f"/api/v1/me/dates/{body['id']}/").status_code == 204
    assert list(ImportantDate.objects.filter(patient=patient_a).values_list("label", flat=True)) == ["Bali"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"starts_on": "PAST", "label": "Wedding"}, "starts_on"),
        ({"starts_on": "FAR", "label": "Wedding"}, "starts_on"),
        ({"starts_on": "SOON", "ends_on": "PAST", "label": "Trip"}, "ends_on"),
        ({"starts_on": "SOON", "label": "   "}, "label"),
        ({"starts_on": "SOON", "label": "x" * 81}, "label"),
    ],
)
def test_refused_dates_are_400_and_change_nothing(as_a: APIClient, payload: dict[str, str], field: str) -> None:
    days = {"PAST": -1, "FAR": 2 * 366 + 1, "SOON": 5}
    body = {key: _in(days[value]) if value in days else value for key, value in payload.items()}
    response = as_a.post("/api/v1/me/dates/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert not ImportantDate.objects.exists()


def test_at_most_twenty_dates(as_a: APIClient, patient_a: Patient) -> None:
    for n in range(IMPORTANT_DATES_MAX):
        important_date_add(patient=patient_a, starts_on=clinic_today() + timedelta(days=n), label=f"Day {n}")
    response = as_a.post("/api/v1/me/dates/", {"starts_on": _in(40), "label": "One more"}, format="json")
    assert response.status_code == 400
    assert ImportantDate.objects.filter(patient=patient_a).count() == IMPORTANT_DATES_MAX


def test_a_patient_never_reaches_another_patients_dates(as_a: APIClient, as_b: APIClient, patient_a: Patient) -> None:
    mine = important_date_add(patient=patient_a, starts_on=clinic_today(), label="Wedding")
    assert as_b.get("/api/v1/me/dates/").json()["results"] == []
    assert as_b.delete(f"/api/v1/me/dates/{mine.pk}/").status_code == 404
    assert as_b.get(f"/api/v1/patients/{patient_a.pk}/dates/").status_code == 403
    assert ImportantDate.objects.filter(pk=mine.pk).exists()


def test_staff_read_a_patients_dates(as_reception: APIClient, patient_a: Patient) -> None:
    important_date_add(patient=patient_a, starts_on=clinic_today(), label="Wedding")
    rows = as_reception.get(f"/api/v1/patients/{patient_a.pk}/dates/").json()["results"]
    assert [row["label"] for row in rows] == ["Wedding"]
    assert as_reception.post(f"/api/v1/patients/{patient_a.pk}/dates/", {}, format="json").status_code == 405


def test_treatments_list_their_downtime(co2: Treatment) -> None:
    rows = APIClient().get("/api/v1/treatments/").json()["results"]
    assert next(row for row in rows if row["slug"] == "co2-fractional")["downtime_days"] == {"min": 5, "max": 7}


def test_screening_flags_a_date_inside_the_downtime_but_does_not_refuse(
    as_a: APIClient, patient_a: Patient, co2: Treatment
) -> None:
    important_date_add(patient=patient_a, starts_on=clinic_today() + timedelta(days=16), label="Wedding")
    inside = as_a.post("/api/v1/screening/", {"treatment": co2.slug, "start": _at(10).isoformat()}, format="json")
    assert inside.status_code == 200, inside.content
    assert [c["label"] for c in inside.json()["downtime"]] == ["Wedding"]
    assert "Wedding" in inside.json()["downtime"][0]["detail"]
    clear = as_a.post("/api/v1/screening/", {"treatment": co2.slug, "start": _at(8).isoformat()}, format="json")
    assert clear.json()["downtime"] == []  # the visit day 8 + 7 days ends the day before the wedding
    assert "downtime" not in as_a.post("/api/v1/screening/", {"treatment": co2.slug}, format="json").json()


def test_appointments_carry_the_flag_for_the_patient_and_staff(
    as_a: APIClient, as_reception: APIClient, patient_a: Patient, co2: Treatment
) -> None:
    important_date_add(patient=patient_a, starts_on=clinic_today() + timedelta(days=12), label="Wedding")
    flagged = AppointmentFactory(patient=patient_a, treatment=co2, start=_at(7))
    clear = AppointmentFactory(patient=patient_a, treatment=co2, start=_at(3))
    for client in (as_a, as_reception):
        assert client.get(f"/api/v1/appointments/{flagged.pk}/").json()["downtime"][0]["label"] == "Wedding"
        assert client.get(f"/api/v1/appointments/{clear.pk}/").json()["downtime"] == []


def test_export_includes_the_dates_and_erasure_deletes_them(patient_a: Patient) -> None:
    important_date_add(patient=patient_a, starts_on=clinic_today() + timedelta(days=3), label="Wedding")
    data: dict[str, Any]
    data, _files = export_data(patient_a)
    assert [row["label"] for row in data["important_dates"]] == ["Wedding"]
    erasure = patient_erase(patient=patient_a, by=UserFactory(), now=timezone.now())
    assert not ImportantDate.objects.filter(patient=patient_a).exists()
    assert any(step["step"] == "important_dates_removed" and step["rows"] == 1 for step in erasure.steps)


def test_the_service_counts_a_single_day_when_ends_on_is_left_out(patient_a: Patient) -> None:
    noted = important_date_add(patient=patient_a, starts_on=clinic_today() + timedelta(days=2), label="Interview")
    assert noted.ends_on == noted.starts_on
