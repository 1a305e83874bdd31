"""Completing an appointment writes its session record (POST /api/v1/appointments/<id>/complete/;
docs/domain.md, Session records)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from booking.models import Appointment, SessionRecord
from patients.models import Patient
from tests.api.conftest import client_for, next_weekday_at
from tests.factories import (
    AppointmentFactory,
    HealthDeclarationFactory,
    PatientFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Category

pytestmark = pytest.mark.django_db

LASER = {
    "device": "PicoWay",
    "wavelength_nm": 1064,
    "mode": "fractional",
    "fluence_j_cm2": 1.2,
    "spot_size_mm": 6,
    "pulse_duration": "450 ps",
    "density_percent": 15,
    "passes": 2,
}
BODY = {
    "areas": ["left_cheek", "forehead", "right_cheek"],
    "anaesthesia": "Topical lidocaine 5%, 45 minutes",
    "pain_score": 4,
    "adverse_events": "",
    "notes": "Mild erythema at the end.",
    "parameters": LASER,
}


def checked_in(category: str = Category.LASER, **extra: Any) -> Appointment:
    """A checked-in appointment today, of a treatment of ``category``."""
    treatment = TreatmentFactory(slug=f"{category}-treatment", category=category)
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time(10)))
    return AppointmentFactory(
        treatment=treatment,
        start=start,
        status=Appointment.Status.CHECKED_IN,
        checked_in_at=start - timedelta(minutes=10),
        **extra,
    )


def complete(client: APIClient, appointment: Appointment, body: dict[str, Any] | None = None) -> Any:
    return client.post(
        f"/api/v1/appointments/{appointment.pk}/complete/", BODY if body is None else body, format="json"
    )


def test_a_practitioner_completes_and_the_record_keeps_what_was_done(as_practitioner: APIClient) -> None:
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    newest = HealthDeclarationFactory(patient=patient, active_acne=True)
    appointment = checked_in(patient=patient)
    response = complete(as_practitioner, appointment)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == appointment.pk and body["status"] == "completed"
    record = SessionRecord.objects.get(pk=body["session_record"])
    assert record.appointment_id == appointment.pk
    assert record.areas == ["forehead", "left_cheek", "right_cheek"]  # treatments.parameters.AREAS order
    assert record.parameters == LASER
    assert (record.pain_score, record.anaesthesia, record.notes) == (4, BODY["anaesthesia"], BODY["notes"])
    assert record.health_declaration_id == newest.pk  # the declaration used: the newest
    assert record.category == "laser"
    assert record.recorded_by is not None and record.recorded_by.groups.filter(name="practitioner").exists()
    appointment.refresh_from_db()
    assert appointment.status == "completed" and appointment.completed_at is not None
    assert record.history.count() == 1 and record.history.get().history_user_id == record.recorded_by_id


def test_the_body_is_optional(as_manager: APIClient) -> None:
    appointment = checked_in(Category.CONSULTATION)
    response = complete(as_manager, appointment, {})
    assert response.status_code == 200
    record = SessionRecord.objects.get(pk=response.json()["session_record"])
    assert (record.areas, record.parameters, record.pain_score) == ([], {}, None)


def test_only_a_checked_in_appointment_completes(as_practitioner: APIClient) -> None:
    confirmed = AppointmentFactory(start=next_weekday_at(11))
    response = complete(as_practitioner, confirmed, {})
    assert (response.status_code, response.json()["code"]) == (409, "invalid_state")
    done = checked_in()
    assert complete(as_practitioner, done).status_code == 200
    again = complete(as_practitioner, done)
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
    assert SessionRecord.objects.count() == 1


def test_bad_input_is_400_before_the_state_is_checked(as_practitioner: APIClient) -> None:
    confirmed = AppointmentFactory(start=next_weekday_at(11), treatment=TreatmentFactory(category="laser"))
    response = complete(as_practitioner, confirmed, {"parameters": {"fluence_j_cm2": 500}})
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_receptionists_and_patients_may_not_complete(as_reception: APIClient) -> None:
    patient = PatientFactory()
    appointment = checked_in(patient=patient)
    for client in (as_reception, client_for(patient.user)):
        response = complete(client, appointment)
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert complete(APIClient(), appointment).status_code == 401
    appointment.refresh_from_db()
    assert appointment.status == "checked_in" and not SessionRecord.objects.exists()


def test_an_unknown_appointment_is_404(as_practitioner: APIClient) -> None:
    response = as_practitioner.post("/api/v1/appointments/999999999/complete/", {}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("category", "parameters", "field"),
    [
        ("laser", {"fluence": 1.2}, "parameters.fluence"),  # the unit belongs in the key
        ("laser", {"fluence_j_cm2": 101}, "parameters.fluence_j_cm2"),
        ("laser", {"fluence_j_cm2": -1}, "parameters.fluence_j_cm2"),
        ("laser", {"fluence_j_cm2": "1.2"}, "parameters.fluence_j_cm2"),
        ("laser", {"fluence_j_cm2": True}, "parameters.fluence_j_cm2"),
        ("laser", {"fluence_j_cm2": 1.2, "energy_mj": 20}, "parameters"),  # one or the other
        ("laser", {"spot_size_mm": 31}, "parameters.spot_size_mm"),
        ("laser", {"density_percent": 100.5}, "parameters.density_percent"),
        ("laser", {"passes": 0}, "parameters.passes"),
        ("laser", {"passes": 21}, "parameters.passes"),
        ("laser", {"passes": 2.5}, "parameters.passes"),
        ("laser", {"device": "x" * 201}, "parameters.device"),
        ("laser", {"device": 5}, "parameters.device"),
        ("laser", {"needle_depth_mm": 1}, "parameters.needle_depth_mm"),  # a microneedling key
        ("laser", [1, 2], "parameters"),
        ("microneedling", {"needle_depth_mm": 5.5}, "parameters.needle_depth_mm"),
        ("rf_microneedling", {"needle_depth_mm": -0.1}, "parameters.needle_depth_mm"),
        ("filler", {"volume_ml": 21}, "parameters.volume_ml"),
        ("filler", {"needle_or_cannula": "spoon"}, "parameters.needle_or_cannula"),
        ("toxin", {"units": 501}, "parameters.units"),
        ("punch", {"suture_removal_date": "next week"}, "parameters.suture_removal_date"),
        ("peel", {"concentration_percent": 120}, "parameters.concentration_percent"),
        ("consultation", {"notes": "none"}, "parameters.notes"),
    ],
)
def test_parameters_are_validated_per_category(
    as_practitioner: APIClient, category: str, parameters: Any, field: str
) -> None:
    appointment = checked_in(category)
    response = complete(as_practitioner, appointment, {"parameters": parameters})
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid" and field in response.json()["fields"], response.json()
    appointment.refresh_from_db()
    assert appointment.status == "checked_in" and not SessionRecord.objects.exists()


@pytest.mark.parametrize(
    ("category", "parameters"),
    [
        ("laser", {"energy_mj": 25, "wavelength_nm": 10600, "passes": 1}),
        (
            "rf_microneedling",
            {"device": "Secret RF", "tip": "25-pin", "energy_mj_per_pin": 40, "needle_depth_mm": 2.5, "passes": 2},
        ),
        ("microneedling", {"device": "Dermapen", "needle_depth_mm": 1.5, "passes": 3}),
        ("resurfacing", {"device": "Diamond tip", "passes": 2, "endpoint": "pinpoint bleeding"}),
        (
            "peel",
            {
                "agent": "glycolic acid",
                "concentration_percent": 35,
                "coats": 2,
                "contact_time_min": 3,
                "endpoint": "erythema",
            },
        ),
        ("tca_cross", {"concentration_percent": 70, "applicator": "toothpick", "scars_treated": 24}),
        (
            "filler",
            {
                "volume_ml": 1,
                "sites": 6,
                "depth": "subdermal",
                "needle_or_cannula": "cannula",
            },
        ),
        ("steroid", {"concentration_mg_ml": 10, "total_dose_mg": 5}),
        (
            "toxin",
            {"dilution": "2.5 ml per 100 U", "units": 20, "units_per_site": 2.5},
        ),
        ("subcision", {"instrument": "Nokor 18G", "scars_treated": 12}),
        (
            "punch",
            {
                "technique": "elevation",
                "punch_size_mm": 2,
                "closure": "steri-strips",
                "suture_removal_date": "2026-12-01",
            },
        ),
        ("facial", {"device": "HydraFacial", "serums": "Britenol"}),
        ("consultation", {}),
    ],
)
def test_each_category_records_its_own_keys(as_practitioner: APIClient, category: str, parameters: dict) -> None:
    body: dict[str, Any] = {"parameters": parameters}
    if category in ("filler", "steroid", "toxin"):  # their product and lot are rows (tests/api/test_lots.py)
        body["injectables"] = [{"product": "Product", "lot": "L1", "expiry": "2099-01-31"}]
    response = complete(as_practitioner, checked_in(category), body)
    assert response.status_code == 200, response.json()
    assert SessionRecord.objects.get(pk=response.json()["session_record"]).parameters == parameters


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"areas": ["face"]}, "areas"),
        ({"areas": "forehead"}, "areas"),
        ({"pain_score": 11}, "pain_score"),
        ({"pain_score": -1}, "pain_score"),
        ({"pain_score": 2.5}, "pain_score"),
        ({"anaesthesia": "x" * 201}, "anaesthesia"),
        ({"notes": "bad\x00text"}, "notes"),
        ({"adverse_events": "x" * 2001}, "adverse_events"),
    ],
)
def test_common_fields_are_validated(as_practitioner: APIClient, body: dict, field: str) -> None:
    appointment = checked_in()
    response = complete(as_practitioner, appointment, body)
    assert response.status_code == 400 and field in response.json()["fields"], response.json()
    assert not SessionRecord.objects.exists()


def test_session_records_are_readable_by_clinicians_only(as_practitioner: APIClient, as_reception: APIClient) -> None:
    patient = PatientFactory()
    appointment = checked_in(patient=patient)
    record_id = complete(as_practitioner, appointment).json()["session_record"]
    detail = as_practitioner.get(f"/api/v1/session-records/{record_id}/")
    assert detail.status_code == 200
    assert detail.json()["appointment"] == appointment.pk and detail.json()["parameters"] == LASER
    listed = as_practitioner.get(f"/api/v1/session-records/?patient={patient.pk}").json()
    assert [r["id"] for r in listed["results"]] == [record_id]
    for client in (as_reception, client_for(patient.user)):
        assert client.get(f"/api/v1/session-records/{record_id}/").status_code == 403
        assert client.get("/api/v1/session-records/").status_code == 403
    assert as_practitioner.delete(f"/api/v1/session-records/{record_id}/").status_code == 405


def test_session_record_list_queries_do_not_grow(django_assert_num_queries: Any) -> None:
    from tests.api.test_query_counts import assert_constant_queries

    patient: Patient = PatientFactory()
    clinician = UserFactory(role="practitioner")
    counter = [0]

    def add(n: int) -> None:
        from booking.models import SessionRecord as Record

        for _ in range(n):
            index = counter[0]
            counter[0] += 1
            appointment = AppointmentFactory(
                patient=patient,
                start=timezone.now() - timedelta(days=index + 1),
                status=Appointment.Status.COMPLETED,
            )
            Record.objects.create(
                appointment=appointment,
                category="peel",
                recorded_by=clinician,
                health_declaration=HealthDeclarationFactory(patient=patient),
                parameters={"agent": "glycolic acid"},
            )

    assert_constant_queries(
        django_assert_num_queries, client_for(clinician), f"/api/v1/session-records/?patient={patient.pk}", add
    )
