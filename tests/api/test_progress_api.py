"""Progress for the patient and for staff (docs/domain.md, Treatment plans)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from booking.models import Appointment
from patients.models import Patient
from tests.api.conftest import client_for
from tests.factories import AppointmentFactory, AssessmentFactory, PatientFactory, TreatmentFactory, UserFactory
from treatments import services
from treatments.models import Assessment, AssessmentPhoto, TreatmentPlan

pytestmark = pytest.mark.django_db

D = timedelta


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(root)}},
    }
    yield root


def photo(assessment: Assessment, view: str, taken_at: Any) -> AssessmentPhoto:
    return AssessmentPhoto.objects.create(
        assessment=assessment,
        view=view,
        taken_at=taken_at,
        image=f"photos/{assessment.pk}-{view}.jpg",
        thumbnail=f"photos/{assessment.pk}-{view}-thumb.jpg",
        content_type="image/jpeg",
        width=10,
        height=10,
    )


def plan(patient: Patient, *, sessions: int = 3, slug: str | None = None) -> TreatmentPlan:
    treatment = TreatmentFactory(**({"slug": slug} if slug else {}))
    return services.plan_create(
        patient=patient,
        treatment=treatment,
        sessions=sessions,
        start_after=timezone.localdate() + D(3),
        by=UserFactory(role="practitioner"),
    )


def history_of(patient: Patient) -> dict[str, Any]:
    today = timezone.localdate()
    baseline = AssessmentFactory(
        patient=patient, assessed_on=today - D(90), macular=25, punched_out_shallow=25, qualitative_grade=4
    )
    middle = AssessmentFactory(patient=patient, assessed_on=today - D(45), macular=15, punched_out_shallow=15)
    latest = AssessmentFactory(
        patient=patient, assessed_on=today - D(1), macular=5, punched_out_shallow=5, qualitative_grade=2
    )
    now = timezone.now()
    first_front = photo(baseline, "front", now - D(90))
    photo(middle, "front", now - D(45))
    last_front = photo(latest, "front", now - D(1))
    only_left = photo(middle, "left_45", now - D(45))
    course = plan(patient)
    first = course.sessions.get(number=1)
    services.plan_session_booked(session=first, on=first.window_start, by=None)
    first.refresh_from_db()
    services.plan_session_completed(session=first, on=first.window_start, by=None)
    return {
        "assessments": [baseline, middle, latest],
        "front": (first_front, last_front),
        "left": only_left,
        "plan": course,
    }


def test_patient_sees_their_progress(patient_a: Patient, patient_b: Patient) -> None:
    made = history_of(patient_a)
    history_of(patient_b)
    response = client_for(patient_a.user).get("/api/v1/me/progress/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["patient"] == patient_a.pk
    assert [(a["id"], a["quantitative_score"], a["qualitative_grade"]) for a in body["assessments"]] == [
        (a.pk, a.quantitative_score, a.qualitative_grade) for a in made["assessments"]
    ]
    assert [a["assessed_on"] for a in body["assessments"]] == sorted(a["assessed_on"] for a in body["assessments"])
    baseline, _, latest = made["assessments"]
    assert body["change"]["quantitative_score"] == latest.quantitative_score - baseline.quantitative_score < 0
    assert body["change"]["qualitative_grade"] == -2
    assert body["change"]["quantitative_score_percent"] == round(
        100 * (latest.quantitative_score - baseline.quantitative_score) / baseline.quantitative_score, 1
    )
    [course] = body["plans"]
    assert (course["id"], course["sessions_total"], course["sessions_done"]) == (made["plan"].pk, 3, 1)
    assert [s["number"] for s in course["done"]] == [1]
    assert [(s["number"], s["status"]) for s in course["due"]] == [(2, "pending"), (3, "pending")]
    first_front, last_front = made["front"]
    assert body["photos"]["front"]["first"]["id"] == first_front.pk
    assert body["photos"]["front"]["latest"]["id"] == last_front.pk
    assert body["photos"]["front"]["latest"]["image_url"].endswith(f"/api/v1/photos/{last_front.pk}/image")
    assert body["photos"]["left_45"]["first"]["id"] == body["photos"]["left_45"]["latest"]["id"] == made["left"].pk
    assert set(body["photos"]) == {"front", "left_45"}


def test_staff_see_any_patients_progress(patient_a: Patient) -> None:
    made = history_of(patient_a)
    for role in ("practitioner", "manager"):
        body = client_for(UserFactory(role=role)).get(f"/api/v1/patients/{patient_a.pk}/progress/").json()
        assert [a["id"] for a in body["assessments"]] == [a.pk for a in made["assessments"]]


def test_progress_without_any_record(patient_a: Patient) -> None:
    body = client_for(patient_a.user).get("/api/v1/me/progress/").json()
    assert body["assessments"] == [] and body["change"] is None and body["plans"] == [] and body["photos"] == {}


def test_overdue_and_booked_sessions_are_due(patient_a: Patient) -> None:
    course = plan(patient_a)
    first = course.sessions.get(number=1)
    services.plan_session_booked(session=first, on=first.window_start, by=None)
    body = client_for(patient_a.user).get("/api/v1/me/progress/").json()
    assert [(s["number"], s["status"]) for s in body["plans"][0]["due"]] == [
        (1, "booked"),
        (2, "pending"),
        (3, "pending"),
    ]


def test_role_table_for_progress(patient_a: Patient, patient_b: Patient) -> None:
    history_of(patient_a)
    as_b = client_for(patient_b.user)
    assert as_b.get("/api/v1/me/progress/").json()["assessments"] == []
    assert as_b.get(f"/api/v1/patients/{patient_a.pk}/progress/").status_code == 403
    reception = client_for(UserFactory(role="receptionist"))
    assert reception.get(f"/api/v1/patients/{patient_a.pk}/progress/").status_code == 403
    assert reception.get("/api/v1/me/progress/").status_code == 403
    assert APIClient().get("/api/v1/me/progress/").status_code == 401
    practitioner = client_for(UserFactory(role="practitioner"))
    assert practitioner.get("/api/v1/me/progress/").status_code == 403
    assert practitioner.get("/api/v1/patients/999999999/progress/").status_code == 404


@pytest.mark.parametrize("who", ["patient", "practitioner"])
def test_progress_queries_do_not_grow_with_history(django_assert_num_queries: Any, who: str) -> None:
    patient = PatientFactory()
    client = client_for(patient.user if who == "patient" else UserFactory(role="practitioner"))
    url = "/api/v1/me/progress/" if who == "patient" else f"/api/v1/patients/{patient.pk}/progress/"
    counter = [0]

    def add(n: int) -> None:
        for _ in range(n):
            index = counter[0]
            counter[0] += 1
            assessment = AssessmentFactory(patient=patient, assessed_on=timezone.localdate() - D(index))
            for view in ("front", "left_45", "right_90"):
                photo(assessment, view, timezone.now() - D(index))
            course = plan(patient)
            session = course.sessions.get(number=1)
            AppointmentFactory(
                patient=patient,
                treatment=course.treatment,
                plan_session=session,
                start=timezone.now() + D(days=5 + index),
                status=Appointment.Status.CONFIRMED,
            )
        history_of(PatientFactory())  # another patient's

    add(1)
    client.get(url)  # warm-up
    one = _count(client, url)
    assert one <= 12, f"{one} queries"
    add(29)
    with django_assert_num_queries(one):
        response = client.get(url)
    assert len(response.json()["assessments"]) == 30 and len(response.json()["plans"]) == 30


def _count(client: APIClient, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


def test_progress_dates_are_clinic_local(patient_a: Patient) -> None:
    body = client_for(patient_a.user).get("/api/v1/me/progress/").json()
    assert date.fromisoformat(body["today"]) == timezone.localdate()
