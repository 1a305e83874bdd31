"""Input limits and strict ids (issue 15, point 7): long lists are refused at
once with a short 400, and an id is a JSON integer, never 1.9 read as 1."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.http import QueryDict
from rest_framework.test import APIClient

from booking.models import Appointment, Practitioner
from patients.models import HealthDeclaration, Patient
from tests.api.clinical import DECLARATION
from tests.api.conftest import next_weekday_at
from tests.factories import PractitionerFactory
from treatments.models import Assessment, Treatment

pytestmark = pytest.mark.django_db

HUGE_LIST = ["lidocaine"] * 100_000
NOT_INTEGERS = [1.9, "1.9", True, "1e0", 1.0, "1"]


def test_a_hundred_thousand_allergies_are_refused_quickly_with_a_short_answer(
    as_a: APIClient, patient_a: Patient
) -> None:
    before = HealthDeclaration.objects.count()
    started = time.monotonic()
    response = as_a.post("/api/v1/me/health-declarations/", DECLARATION | {"allergies": HUGE_LIST}, format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["allergies"]
    assert len(response.content) < 500
    assert elapsed < 2
    assert HealthDeclaration.objects.count() == before


def test_allergies_up_to_the_limit_are_accepted(as_a: APIClient, patient_a: Patient) -> None:
    response = as_a.post(
        "/api/v1/me/health-declarations/", DECLARATION | {"allergies": ["lidocaine", "salicylate"]}, format="json"
    )
    assert response.status_code == 201, response.json()


def test_staff_declaration_allergies_are_bounded_too(as_reception: APIClient, patient_a: Patient) -> None:
    response = as_reception.post(
        f"/api/v1/patients/{patient_a.pk}/health-declarations/", DECLARATION | {"allergies": HUGE_LIST}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["allergies"]


def _assessment(patient: Patient, **changes: Any) -> dict[str, Any]:
    return {
        "patient": patient.pk,
        "fitzpatrick_type": 3,
        "qualitative_grade": 2,
        "pih": "none",
        "pie": "none",
    } | changes


def test_scar_types_and_lesion_keys_are_bounded(as_practitioner: APIClient, patient_a: Patient) -> None:
    response = as_practitioner.post(
        "/api/v1/assessments/", _assessment(patient_a, types_present=["rolling"] * 100_000), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["types_present"]
    assert len(response.content) < 500

    lesions = {f"key{n}": 1 for n in range(100_000)}
    response = as_practitioner.post("/api/v1/assessments/", _assessment(patient_a, lesions=lesions), format="json")
    assert response.status_code == 400
    assert len(response.content) < 5000  # at most ten unknown keys are named
    assert not Assessment.objects.exists()


@pytest.mark.parametrize("value", NOT_INTEGERS)
def test_a_patient_id_must_be_a_json_integer(as_practitioner: APIClient, patient_a: Patient, value: Any) -> None:
    body = _assessment(patient_a) | {"patient": value}
    response = as_practitioner.post("/api/v1/assessments/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "patient" in response.json()["fields"]
    assert not Assessment.objects.exists()


@pytest.mark.parametrize("value", [1.9, "1.9", True, "1e0", 3.0])
def test_whole_numbers_must_be_json_integers(as_practitioner: APIClient, patient_a: Patient, value: Any) -> None:
    response = as_practitioner.post(
        "/api/v1/assessments/", _assessment(patient_a, fitzpatrick_type=value), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["fitzpatrick_type"]


def test_a_huge_id_is_an_unknown_id_not_a_server_error(as_practitioner: APIClient, patient_a: Patient) -> None:
    response = as_practitioner.post("/api/v1/assessments/", _assessment(patient_a) | {"patient": 10**30}, format="json")
    assert response.status_code == 400
    assert "patient" in response.json()["fields"]


@pytest.mark.parametrize("value", [1.9, "1.9", True, "1e0"])
def test_booking_practitioner_1_9_is_refused_not_read_as_practitioner_1(
    as_a: APIClient, peel: Treatment, practitioner: Practitioner, value: Any
) -> None:
    # Whatever id 1.9 would have been read as, it exists and is qualified.
    PractitionerFactory(treatments=[peel])
    start = next_weekday_at(10)
    response = as_a.post(
        "/api/v1/appointments/",
        {"treatment": peel.slug, "start": start.isoformat(), "practitioner": value},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert "practitioner" in response.json()["fields"]
    assert not Appointment.objects.exists()


def test_booking_with_an_integer_practitioner_still_works(
    as_a: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    start = next_weekday_at(10)
    response = as_a.post(
        "/api/v1/appointments/",
        {"treatment": peel.slug, "start": start.isoformat(), "practitioner": practitioner.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()


def test_availability_reads_a_practitioner_id_from_the_query_string(
    anonymous: APIClient, peel: Treatment, practitioner: Practitioner
) -> None:
    day = next_weekday_at(10).date().isoformat()
    query = f"/api/v1/availability/?treatment={peel.slug}&from={day}&to={day}"
    assert anonymous.get(f"{query}&practitioner={practitioner.pk}").status_code == 200
    response = anonymous.get(f"{query}&practitioner={practitioner.pk}.9")
    assert response.status_code == 400
    assert "practitioner" in response.json()["fields"]


def test_the_pages_refuse_more_allergies_than_there_are() -> None:
    from portal.book.forms import QuestionnaireForm
    from workspace.chart.forms import DeclarationForm

    for form_class in (DeclarationForm, QuestionnaireForm):
        form = form_class(data=QueryDict(mutable=True))
        form.data.setlist("allergies", ["lidocaine"] * 500)
        assert not form.is_valid()
        assert "at most" in str(form.errors["allergies"])
