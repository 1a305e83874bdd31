"""The access log through the API: every staff read of clinical data writes
exactly its row, a patient's own reads write none, and who may read the log."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from booking.models import Appointment, SessionRecord
from patients.models import AccessEvent, Patient
from patients.services import access_record
from tests.api.clinical import picture
from tests.api.conftest import client_for
from tests.factories import AppointmentFactory, AssessmentFactory, PatientFactory, UserFactory
from treatments import services as clinical
from treatments.models import Assessment, AssessmentPhoto, Treatment, TreatmentPlan

pytestmark = pytest.mark.django_db


def _photo(assessment: Assessment, by: Any) -> AssessmentPhoto:
    data = picture()
    return clinical.photo_add(assessment=assessment, view="front", upload=io.BytesIO(data), size=len(data), by=by)


@pytest.fixture
def clinician() -> Any:
    return UserFactory(role="practitioner", first_name="Wing", last_name="Lam")


@pytest.fixture
def records(patient_a: Patient, clinician: Any, peel: Treatment) -> dict[str, Any]:
    assessment = AssessmentFactory(patient=patient_a)
    photo = _photo(assessment, clinician)
    plan = clinical.plan_create(patient=patient_a, treatment=peel, sessions=3, by=clinician)
    done = AppointmentFactory(patient=patient_a, status=Appointment.Status.COMPLETED)
    record = SessionRecord.objects.create(appointment=done, category="peel", parameters={})
    AccessEvent.objects.all()  # nothing logged by making them
    return {"assessment": assessment, "photo": photo, "plan": plan, "record": record}


def _rows() -> list[tuple[Any, ...]]:
    return list(AccessEvent.objects.order_by("id").values_list("actor_role", "patient_id", "what", "object_id", "door"))


def _staff_reads(patient: Patient, r: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    """(url, what, object id) of every API read of the patient's clinical data."""
    return [
        (f"/api/v1/patients/{patient.pk}/health-declarations/", "declarations", None),
        (f"/api/v1/assessments/?patient={patient.pk}", "assessment", None),
        (f"/api/v1/assessments/{r['assessment'].pk}/", "assessment", r["assessment"].pk),
        (f"/api/v1/assessments/{r['assessment'].pk}/history/", "history", r["assessment"].pk),
        (f"/api/v1/photos/{r['photo'].pk}/image", "photo", r["photo"].pk),
        (f"/api/v1/photos/{r['photo'].pk}/thumbnail", "photo", r["photo"].pk),
        (f"/api/v1/plans/?patient={patient.pk}", "plan", None),
        (f"/api/v1/plans/{r['plan'].pk}/", "plan", r["plan"].pk),
        (f"/api/v1/plans/{r['plan'].pk}/history/", "history", r["plan"].pk),
        (f"/api/v1/patients/{patient.pk}/progress/", "progress", None),
        (f"/api/v1/session-records/?patient={patient.pk}", "session_record", None),
        (f"/api/v1/session-records/{r['record'].pk}/", "session_record", r["record"].pk),
    ]


@pytest.mark.parametrize("index", range(12))
def test_each_staff_read_through_the_api_writes_exactly_its_row(
    index: int, patient_a: Patient, records: dict[str, Any], clinician: Any
) -> None:
    url, what, obj = _staff_reads(patient_a, records)[index]
    before = AccessEvent.objects.count()
    response = client_for(clinician).get(url, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200, response.content[:300]
    assert AccessEvent.objects.count() == before + 1
    event = AccessEvent.objects.latest("id")
    assert (event.actor_role, event.patient_id, event.what, event.object_id, event.door) == (
        "practitioner",
        patient_a.pk,
        what,
        obj,
        "api",
    )
    assert event.actor_id == clinician.pk
    assert event.actor_name == "Wing Lam"
    assert event.client_address == "203.0.113.9"
    assert abs((timezone.now() - event.at).total_seconds()) < 60


def test_a_receptionist_reading_declarations_is_logged_with_her_role(patient_a: Patient) -> None:
    reception = UserFactory(role="receptionist")
    assert client_for(reception).get(f"/api/v1/patients/{patient_a.pk}/health-declarations/").status_code == 200
    assert _rows() == [("receptionist", patient_a.pk, "declarations", None, "api")]


def test_a_patient_reading_their_own_record_writes_nothing(
    patient_a: Patient, as_a: APIClient, records: dict[str, Any]
) -> None:
    for url in [
        "/api/v1/me/health-declarations/",
        "/api/v1/assessments/",
        f"/api/v1/assessments/{records['assessment'].pk}/",
        f"/api/v1/photos/{records['photo'].pk}/image",
        f"/api/v1/photos/{records['photo'].pk}/thumbnail",
        "/api/v1/plans/",
        f"/api/v1/plans/{records['plan'].pk}/",
        "/api/v1/me/progress/",
        "/api/v1/me/access-log/",
    ]:
        assert as_a.get(url).status_code == 200, url
    assert AccessEvent.objects.count() == 0


def test_refused_and_missing_reads_write_nothing(patient_a: Patient, as_b: APIClient, records: dict[str, Any]) -> None:
    reception = client_for(UserFactory(role="receptionist"))
    assert reception.get(f"/api/v1/assessments/{records['assessment'].pk}/").status_code == 403
    assert as_b.get(f"/api/v1/photos/{records['photo'].pk}/image").status_code == 404
    assert client_for(UserFactory(role="practitioner")).get("/api/v1/assessments/999999/").status_code == 404
    assert AccessEvent.objects.count() == 0


def test_a_list_writes_one_row_per_patient_on_the_page(clinician: Any, patient_a: Patient, patient_b: Patient) -> None:
    for _ in range(3):
        AssessmentFactory(patient=patient_a)
    AssessmentFactory(patient=patient_b)
    assert client_for(clinician).get("/api/v1/assessments/").status_code == 200
    assert sorted(_rows()) == sorted(
        [
            ("practitioner", patient_a.pk, "assessment", None, "api"),
            ("practitioner", patient_b.pk, "assessment", None, "api"),
        ]
    )


def test_a_correction_is_a_write_not_a_read(clinician: Any, patient_a: Patient) -> None:
    assessment = AssessmentFactory(patient=patient_a)
    response = client_for(clinician).patch(
        f"/api/v1/assessments/{assessment.pk}/", {"notes": "Fixed", "reason": "Typo"}, format="json"
    )
    assert response.status_code == 200
    assert AccessEvent.objects.count() == 0


def test_listing_many_patients_costs_the_same_queries_as_one(clinician: Any) -> None:
    client = client_for(clinician)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/assessments/?page_size=200").status_code == 200
        return len(queries.captured_queries)

    AssessmentFactory(patient=PatientFactory())
    client.get("/api/v1/assessments/")  # warm-up
    one = count()
    for _ in range(30):
        AssessmentFactory(patient=PatientFactory())
    assert count() == one
    assert AccessEvent.objects.filter(what="assessment").values("patient_id").distinct().count() == 31


# --- reading the log ----------------------------------------------------------------------


def test_manager_reads_a_patients_log_newest_first(patient_a: Patient, patient_b: Patient, clinician: Any) -> None:
    manager = UserFactory(role="manager")
    access_record(clinician, patient_a, "assessment", "page", 7)
    access_record(clinician, patient_a, "photo", "api", 8)
    access_record(clinician, patient_b, "plan", "api")
    body = client_for(manager).get(f"/api/v1/patients/{patient_a.pk}/access-log/").json()
    assert body["count"] == 2
    assert [row["what"] for row in body["results"]] == ["photo", "assessment"]
    first = body["results"][0]
    assert set(first) == {
        "id",
        "at",
        "actor",
        "actor_role",
        "actor_name",
        "patient",
        "what",
        "object_id",
        "door",
        "client_address",
    }
    assert (first["actor"], first["actor_role"], first["actor_name"], first["patient"], first["door"]) == (
        clinician.pk,
        "practitioner",
        "Wing Lam",
        patient_a.pk,
        "api",
    )
    assert first["at"].endswith("+08:00")


def test_reading_the_log_is_not_itself_logged(patient_a: Patient) -> None:
    manager = UserFactory(role="manager")
    assert client_for(manager).get(f"/api/v1/patients/{patient_a.pk}/access-log/").status_code == 200
    assert AccessEvent.objects.count() == 0


@pytest.mark.parametrize("role", ["receptionist", "practitioner"])
def test_other_staff_may_not_read_the_log(role: str, patient_a: Patient) -> None:
    response = client_for(UserFactory(role=role)).get(f"/api/v1/patients/{patient_a.pk}/access-log/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_unknown_patient_is_404_for_a_manager() -> None:
    response = client_for(UserFactory(role="manager")).get("/api/v1/patients/999999/access-log/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_log_is_paginated(patient_a: Patient, clinician: Any) -> None:
    for number in range(5):
        access_record(clinician, patient_a, "photo", "api", number + 1)
    manager = client_for(UserFactory(role="manager"))
    body = manager.get(f"/api/v1/patients/{patient_a.pk}/access-log/?page_size=2&page=2").json()
    assert body["count"] == 5
    assert [row["object_id"] for row in body["results"]] == [3, 2]
    assert manager.get(f"/api/v1/patients/{patient_a.pk}/access-log/?page=99").status_code == 404


def test_a_patient_sees_who_opened_their_record(
    patient_a: Patient, patient_b: Patient, as_a: APIClient, clinician: Any
) -> None:
    reception = UserFactory(role="receptionist", first_name="Mei", last_name="Ho")
    access_record(reception, patient_a, "declarations", "page")
    access_record(clinician, patient_a, "assessment", "api", 3)
    access_record(clinician, patient_b, "plan", "api")
    body = as_a.get("/api/v1/me/access-log/").json()
    assert body["count"] == 2
    assert [set(row) for row in body["results"]] == [{"at", "actor_role", "actor_name", "what", "door"}] * 2
    newest, oldest = body["results"]
    assert (newest["actor_role"], newest["actor_name"], newest["what"], newest["door"]) == (
        "practitioner",
        "Wing Lam",
        "assessment",
        "api",
    )
    # A receptionist's or manager's name is not shown to patients: the role and the time are.
    assert (oldest["actor_role"], oldest["actor_name"], oldest["what"]) == ("receptionist", None, "declarations")


def test_a_practitioner_without_a_name_is_not_shown_by_email(patient_a: Patient, as_a: APIClient) -> None:
    nameless = UserFactory(role="practitioner", first_name="", last_name="")
    access_record(nameless, patient_a, "assessment", "api")
    row = as_a.get("/api/v1/me/access-log/").json()["results"][0]
    assert row["actor_role"] == "practitioner"
    assert row["actor_name"] is None


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_have_no_own_access_log(role: str) -> None:
    assert client_for(UserFactory(role=role)).get("/api/v1/me/access-log/").status_code == 403


def test_anonymous_is_401(anonymous: APIClient, patient_a: Patient) -> None:
    assert anonymous.get("/api/v1/me/access-log/").status_code == 401
    assert anonymous.get(f"/api/v1/patients/{patient_a.pk}/access-log/").status_code == 401


def test_logged_rows_survive_the_staff_account_being_removed(patient_a: Patient, as_a: APIClient) -> None:
    leaver = UserFactory(role="practitioner", first_name="Ka", last_name="Yan")
    access_record(leaver, patient_a, "assessment", "api")
    leaver.delete()
    event = AccessEvent.objects.get()
    assert event.actor_id is None
    assert (event.actor_name, event.actor_role) == ("Ka Yan", "practitioner")
    assert as_a.get("/api/v1/me/access-log/").json()["results"][0]["actor_name"] == "Ka Yan"


def test_plan_list_of_one_patient(clinician: Any, patient_a: Patient, peel: Treatment) -> None:
    clinical.plan_create(patient=patient_a, treatment=peel, sessions=3, by=clinician)
    assert TreatmentPlan.objects.count() == 1
    assert client_for(clinician).get("/api/v1/plans/").status_code == 200
    assert _rows() == [("practitioner", patient_a.pk, "plan", None, "api")]


def test_staff_screening_logs_the_declaration_it_reads(patient_a: Patient, as_a: APIClient, peel: Treatment) -> None:
    reception = client_for(UserFactory(role="receptionist"))
    response = reception.post("/api/v1/screening/", {"treatment": peel.slug, "patient": patient_a.pk}, format="json")
    assert response.status_code == 200
    assert _rows() == [("receptionist", patient_a.pk, "declarations", None, "api")]
    assert as_a.post("/api/v1/screening/", {"treatment": peel.slug}, format="json").status_code == 200
    assert len(_rows()) == 1, "a patient screening themselves is not logged"


@pytest.mark.parametrize("mine", [True, False], ids=["patient", "manager"])
def test_reading_the_log_costs_the_same_queries_for_many_rows(
    mine: bool, patient_a: Patient, as_a: APIClient, clinician: Any
) -> None:
    client = as_a if mine else client_for(UserFactory(role="manager"))
    url = "/api/v1/me/access-log/" if mine else f"/api/v1/patients/{patient_a.pk}/access-log/"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url + "?page_size=200").status_code == 200
        return len(queries.captured_queries)

    access_record(clinician, patient_a, "photo", "api", 1)
    client.get(url)  # warm-up
    one = count()
    for number in range(40):
        access_record(UserFactory(role="practitioner"), patient_a, "photo", "api", number + 2)
    assert count() == one
    assert client.get(url).json()["count"] == 41
