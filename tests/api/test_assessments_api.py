"""Assessments through the API (docs/domain.md, The Goodman & Baron score)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from patients.models import Patient
from tests.api.clinical import ASSESSMENT
from tests.api.conftest import client_for
from tests.factories import AssessmentFactory, PatientFactory, UserFactory
from treatments.models import LESION_KEYS, Assessment, AssessmentPhoto

pytestmark = pytest.mark.django_db


def record(client: APIClient, owner: Patient, **changes: Any) -> Any:
    return client.post("/api/v1/assessments/", {**ASSESSMENT, "patient": owner.pk, **changes}, format="json")


def test_practitioner_records_an_assessment_and_the_server_scores_it(
    as_practitioner: APIClient, patient_a: Patient
) -> None:
    response = record(as_practitioner, patient_a)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["quantitative_score"] == 12  # docs/domain.md's worked example
    assert body["patient"] == patient_a.pk
    assert body["assessed_on"] == timezone.localdate().isoformat()
    assert body["lesions"] == {key: ASSESSMENT["lesions"].get(key, 0) for key in LESION_KEYS}
    assert body["keloid_area_cm2"] == 0
    assert body["types_present"] == ["pih", "icepick", "rolling"]  # canonical order (treatments.models.ScarType)
    assert (body["qualitative_grade"], body["pih"], body["pie"]) == (3, "moderate", "mild")
    assert body["notes"] == ASSESSMENT["notes"] and body["photos"] == []
    stored = Assessment.objects.get(pk=body["id"])
    assert (stored.macular, stored.punched_out_shallow, stored.quantitative_score) == (12, 25, 12)


def test_the_keloid_area_scores_and_is_echoed_with_two_decimals(as_manager: APIClient, patient_a: Patient) -> None:
    response = record(as_manager, patient_a, lesions={"hyperplastic_papular": 4}, keloid_area_cm2=6)
    assert response.status_code == 201
    assert response.json()["quantitative_score"] == 14  # worked example 2
    assert response.json()["keloid_area_cm2"] == 6.0
    refused = record(as_manager, patient_a, keloid_area_cm2="6.005")
    assert refused.status_code == 400 and "keloid_area_cm2" in refused.json()["fields"]


def test_recording_sets_the_patients_fitzpatrick_type_with_history(
    as_practitioner: APIClient, patient_a: Patient
) -> None:
    assert patient_a.fitzpatrick_type == 3
    assert record(as_practitioner, patient_a, fitzpatrick_type=5).status_code == 201
    patient_a.refresh_from_db()
    assert patient_a.fitzpatrick_type == 5
    versions = list(patient_a.history.order_by("history_date").values_list("fitzpatrick_type", flat=True))
    assert versions[-2:] == [3, 5]


def test_an_older_assessment_entered_later_does_not_overwrite_the_fitzpatrick_type(
    as_practitioner: APIClient, patient_a: Patient
) -> None:
    assert record(as_practitioner, patient_a, fitzpatrick_type=4).status_code == 201
    last_year = (timezone.localdate() - timedelta(days=365)).isoformat()
    assert record(as_practitioner, patient_a, fitzpatrick_type=2, assessed_on=last_year).status_code == 201
    patient_a.refresh_from_db()
    assert patient_a.fitzpatrick_type == 4


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lesions": {"icepick": 3}}, "lesions.icepick"),
        ({"lesions": {"macular": -1}}, "lesions.macular"),
        ({"lesions": {"macular": 10_000}}, "lesions.macular"),
        ({"lesions": {"macular": 1.5}}, "lesions.macular"),
        ({"lesions": {"macular": True}}, "lesions.macular"),
        ({"lesions": {"macular": "many"}}, "lesions.macular"),
        ({"lesions": [1, 2]}, "lesions.non_field_errors"),
        ({"keloid_area_cm2": -0.01}, "keloid_area_cm2"),
        ({"keloid_area_cm2": 10_000}, "keloid_area_cm2"),
        ({"keloid_area_cm2": "NaN"}, "keloid_area_cm2"),
        ({"types_present": ["acne"]}, "types_present.0"),
        ({"types_present": "rolling"}, "types_present"),
        ({"qualitative_grade": 0}, "qualitative_grade"),
        ({"qualitative_grade": 5}, "qualitative_grade"),
        ({"fitzpatrick_type": 0}, "fitzpatrick_type"),
        ({"fitzpatrick_type": 7}, "fitzpatrick_type"),
        ({"fitzpatrick_type": None}, "fitzpatrick_type"),
        ({"pih": "extreme"}, "pih"),
        ({"pie": ""}, "pie"),
        ({"notes": "x" * 5001}, "notes"),
        ({"notes": "a\x00b"}, "notes"),
        ({"assessed_on": "2999-01-01"}, "assessed_on"),
        ({"assessed_on": "1990-01-01"}, "assessed_on"),  # before the patient was born (1995)
        ({"assessed_on": "yesterday"}, "assessed_on"),
        ({"patient": 999_999_999}, "patient"),
    ],
)
def test_every_range_is_validated(as_practitioner: APIClient, patient_a: Patient, change: dict, field: str) -> None:
    response = record(as_practitioner, patient_a, **change)
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"], body
    assert not Assessment.objects.exists()


@pytest.mark.parametrize("missing", ["patient", "fitzpatrick_type", "qualitative_grade", "pih", "pie"])
def test_required_fields(as_practitioner: APIClient, patient_a: Patient, missing: str) -> None:
    body = {**ASSESSMENT, "patient": patient_a.pk}
    del body[missing]
    response = as_practitioner.post("/api/v1/assessments/", body, format="json")
    assert response.status_code == 400 and missing in response.json()["fields"]


def test_missing_lesion_keys_count_as_zero(as_practitioner: APIClient, patient_a: Patient) -> None:
    body = {key: value for key, value in ASSESSMENT.items() if key != "lesions"}
    response = as_practitioner.post("/api/v1/assessments/", {**body, "patient": patient_a.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["lesions"] == dict.fromkeys(LESION_KEYS, 0)
    assert response.json()["quantitative_score"] == 0


def test_correction_by_patch_recomputes_and_keeps_history(as_practitioner: APIClient, patient_a: Patient) -> None:
    created = record(as_practitioner, patient_a).json()
    response = as_practitioner.patch(
        f"/api/v1/assessments/{created['id']}/",
        {"lesions": {"punched_out_shallow": 15}, "notes": "Recounted the B2 scars.", "reason": " Recount "},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["lesions"]["punched_out_shallow"] == 15
    assert body["lesions"]["macular"] == 12  # the counts not named are kept
    assert body["quantitative_score"] == 2 + 1 + 4 + 3
    stored = Assessment.objects.get(pk=created["id"])
    assert stored.history.count() == 2
    history = as_practitioner.get(f"/api/v1/assessments/{created['id']}/history/")
    assert history.status_code == 200
    entries = history.json()
    assert [entry["type"] for entry in entries] == ["created", "changed"]
    changed = {change["field"]: (change["old"], change["new"]) for change in entries[1]["changes"]}
    assert changed["punched_out_shallow"] == (25, 15)
    assert changed["quantitative_score"] == (12, 10)
    assert changed["notes"] == (ASSESSMENT["notes"], "Recounted the B2 scars.")
    assert entries[1]["by"] is not None and entries[1]["at"]
    assert stored.history.first().history_change_reason == "Recount"


def test_a_correction_of_the_fitzpatrick_type_follows_to_the_patient(
    as_practitioner: APIClient, patient_a: Patient
) -> None:
    created = record(as_practitioner, patient_a, fitzpatrick_type=3).json()
    as_practitioner.patch(
        f"/api/v1/assessments/{created['id']}/", {"fitzpatrick_type": 6, "reason": "Type VI"}, format="json"
    )
    patient_a.refresh_from_db()
    assert patient_a.fitzpatrick_type == 6


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lesions": {"unknown": 1}}, "lesions.unknown"),
        ({"qualitative_grade": 9}, "qualitative_grade"),
        ({"patient": 1}, "patient"),
        ({"quantitative_score": 84}, None),  # read-only: ignored, the server computes it
        ({"reason": None}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": " \n "}, "reason"),
        ({"reason": "x" * 101}, "reason"),
        ({"version": "2026-01-01T10:00:00"}, "version"),  # naive: never a guess
        ({"version": "yesterday"}, "version"),
        ({"assessed_on": "1990-01-01"}, "assessed_on"),  # before the patient was born (1995)
        ({"assessed_on": "2999-01-01"}, "assessed_on"),
    ],
)
def test_corrections_are_validated(
    as_practitioner: APIClient, patient_a: Patient, change: dict, field: str | None
) -> None:
    created = record(as_practitioner, patient_a).json()
    body = {"reason": "Recount", **change}
    if body["reason"] is None:
        del body["reason"]  # left out altogether
    response = as_practitioner.patch(f"/api/v1/assessments/{created['id']}/", body, format="json")
    if field is None:
        assert response.status_code == 200 and response.json()["quantitative_score"] == 12
    else:
        assert response.status_code == 400 and field in response.json()["fields"]
        assert Assessment.objects.get(pk=created["id"]).history.count() == 1


def test_a_correction_made_on_an_outdated_copy_is_refused_with_409(
    as_practitioner: APIClient, as_manager: APIClient, patient_a: Patient
) -> None:
    created = record(as_practitioner, patient_a).json()
    url = f"/api/v1/assessments/{created['id']}/"
    read = as_practitioner.get(url).json()["updated_at"]
    theirs = as_manager.patch(url, {"notes": "Theirs", "reason": "Mine first", "version": read}, format="json")
    assert theirs.status_code == 200
    response = as_practitioner.patch(
        url, {"lesions": {"macular": 1}, "reason": "Recount", "version": read}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "edit_conflict" and "Someone else corrected this assessment" in body["detail"]
    stored = Assessment.objects.get(pk=created["id"])
    assert stored.macular == 12 and stored.notes == "Theirs" and stored.history.count() == 2
    fresh = as_practitioner.get(url).json()["updated_at"]
    again = as_practitioner.patch(
        url, {"lesions": {"macular": 1}, "reason": "Recount", "version": fresh}, format="json"
    )
    assert again.status_code == 200 and again.json()["lesions"]["macular"] == 1
    # Without a version the correction is saved whatever was saved before (the client chose to overwrite).
    assert as_practitioner.patch(url, {"notes": "Last", "reason": "Overwrite"}, format="json").status_code == 200


def test_a_stale_correction_with_bad_input_is_400_first(
    as_practitioner: APIClient, as_manager: APIClient, patient_a: Patient
) -> None:
    created = record(as_practitioner, patient_a).json()
    url = f"/api/v1/assessments/{created['id']}/"
    read = as_practitioner.get(url).json()["updated_at"]
    as_manager.patch(url, {"notes": "Theirs", "reason": "x"}, format="json")
    response = as_practitioner.patch(url, {"notes": "Mine", "reason": " ", "version": read}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["fields"]  # api-v1.md: 400 before 409


def test_assessments_are_never_deleted(as_manager: APIClient, patient_a: Patient) -> None:
    assessment = AssessmentFactory(patient=patient_a)
    response = as_manager.delete(f"/api/v1/assessments/{assessment.pk}/")
    assert response.status_code == 405
    assert Assessment.objects.filter(pk=assessment.pk).exists()


# --- who may see what --------------------------------------------------------------------


def test_patient_reads_their_own_assessments_but_never_another_patients(
    as_a: APIClient, as_b: APIClient, patient_a: Patient, patient_b: Patient
) -> None:
    mine = AssessmentFactory(patient=patient_a)
    theirs = AssessmentFactory(patient=patient_b)
    assert [a["id"] for a in as_a.get("/api/v1/assessments/").json()["results"]] == [mine.pk]
    assert as_a.get(f"/api/v1/assessments/?patient={patient_b.pk}").json()["count"] == 0
    assert as_a.get(f"/api/v1/assessments/{mine.pk}/").status_code == 200
    missing = as_a.get("/api/v1/assessments/999999999/")
    other = as_a.get(f"/api/v1/assessments/{theirs.pk}/")
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()
    assert as_b.get(f"/api/v1/assessments/{mine.pk}/").status_code == 404


def test_patients_cannot_write_or_read_history(as_a: APIClient, patient_a: Patient) -> None:
    mine = AssessmentFactory(patient=patient_a)
    assert record(as_a, patient_a).status_code == 403
    assert as_a.patch(f"/api/v1/assessments/{mine.pk}/", {"notes": "mine"}, format="json").status_code == 403
    assert as_a.get(f"/api/v1/assessments/{mine.pk}/history/").status_code == 403
    assert Assessment.objects.count() == 1


def test_receptionists_get_403_on_clinical_records(as_reception: APIClient, patient_a: Patient) -> None:
    assessment = AssessmentFactory(patient=patient_a)
    for response in (
        as_reception.get("/api/v1/assessments/"),
        as_reception.get(f"/api/v1/assessments/{assessment.pk}/"),
        as_reception.get(f"/api/v1/assessments/{assessment.pk}/history/"),
        as_reception.patch(f"/api/v1/assessments/{assessment.pk}/", {"notes": "x"}, format="json"),
        record(as_reception, patient_a),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


def test_anonymous_gets_401(anonymous: APIClient, patient_a: Patient) -> None:
    assert anonymous.get("/api/v1/assessments/").status_code == 401
    assert record(anonymous, patient_a).status_code == 401


def test_staff_filter_by_patient(as_practitioner: APIClient, patient_a: Patient, patient_b: Patient) -> None:
    AssessmentFactory(patient=patient_a)
    AssessmentFactory(patient=patient_b)
    assert as_practitioner.get("/api/v1/assessments/").json()["count"] == 2
    only_a = as_practitioner.get(f"/api/v1/assessments/?patient={patient_a.pk}").json()
    assert [a["patient"] for a in only_a["results"]] == [patient_a.pk]
    assert as_practitioner.get("/api/v1/assessments/?patient=abc").status_code == 400


# --- query budgets -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["patient", "practitioner"])
def test_assessment_list_queries_do_not_grow_with_rows(django_assert_num_queries: Callable, who: str) -> None:
    from tests.api.test_query_counts import assert_constant_queries

    patient = PatientFactory()
    client = client_for(patient.user if who == "patient" else UserFactory(role="practitioner"))

    def add(n: int) -> None:
        for _ in range(n):
            assessment = AssessmentFactory(patient=patient)
            for view in ("front", "left_45"):
                AssessmentPhoto.objects.create(
                    assessment=assessment,
                    view=view,
                    image="photos/not-read.jpg",
                    thumbnail="photos/not-read-thumb.jpg",
                    content_type="image/jpeg",
                    width=1,
                    height=1,
                )
        AssessmentFactory()  # another patient's: a patient never sees it

    url = "/api/v1/assessments/" if who == "patient" else f"/api/v1/assessments/?patient={patient.pk}"
    assert_constant_queries(django_assert_num_queries, client, url, add)
