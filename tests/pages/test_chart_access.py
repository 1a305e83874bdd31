"""Who may open which page of the patient chart (the roles of patients/roles.py):
anonymous → sign in, patient → 403, receptionist → the non-clinical pages only,
practitioner and manager → everything. Photos are served to clinicians only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import PatientFactory
from tests.pages.chart_fixtures import assess, checked_in_plan_appointment, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict:
    doctor = staff("practitioner")
    patient = PatientFactory(full_name="Chan Tai Man")
    assessment = assess(patient, doctor, photos=1)
    appointment = checked_in_plan_appointment(patient, doctor)
    photo = assessment.photos.get()
    return {
        "doctor": doctor,
        "patient": patient,
        "assessment": assessment,
        "photo": photo,
        "appointment": appointment,
    }


def _pages(world: dict) -> dict[str, tuple[str, bool]]:
    """name → (url, clinical)."""
    pk = world["patient"].pk
    return {
        "patients": (reverse("chart:patients"), False),
        "patient_new": (reverse("chart:patient_new"), False),
        "patient": (reverse("chart:patient", args=[pk]), False),
        "patient_edit": (reverse("chart:patient_edit", args=[pk]), False),
        "appointments": (reverse("chart:appointments", args=[pk]), False),
        "history": (reverse("chart:history", args=[pk]), False),
        "assessments": (reverse("chart:assessments", args=[pk]), True),
        "photos": (reverse("chart:photos", args=[pk]), True),
        "plans": (reverse("chart:plans", args=[pk]), True),
        "records": (reverse("chart:records", args=[pk]), True),
        "declaration_new": (reverse("chart:declaration_new", args=[pk]), False),
        "assessment_new": (reverse("chart:assessment_new", args=[pk]), True),
        "assessment_correct": (reverse("chart:assessment_correct", args=[pk, world["assessment"].pk]), True),
        "plan_new": (reverse("chart:plan_new", args=[pk]), True),
        "photo": (reverse("chart:photo", args=[pk, world["photo"].pk, "thumbnail"]), True),
        "session_record": (reverse("chart:session_record", args=[world["appointment"].pk]), True),
    }


def test_anonymous_visitors_are_sent_to_sign_in(client, world) -> None:
    for name, (url, _clinical) in _pages(world).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response.headers["Location"].startswith("/accounts/login/?next="), name
    response = client.post(reverse("chart:assessment_score"), {"macular": "3"})
    assert response.status_code == 302


def test_a_patient_gets_no_staff_page(client, world) -> None:
    client.force_login(world["patient"].user)
    for name, (url, _clinical) in _pages(world).items():
        assert client.get(url).status_code == 403, name
    assert client.post(reverse("chart:assessment_score"), {"macular": "3"}).status_code == 403


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_roles(client, world, role) -> None:
    client.force_login(staff(role))
    for name, (url, clinical) in _pages(world).items():
        expected = 403 if clinical and role == "receptionist" else 200
        assert client.get(url).status_code == expected, (role, name)
    score = client.post(reverse("chart:assessment_score"), {"macular": "3"})
    assert score.status_code == (403 if role == "receptionist" else 200)


def test_receptionists_cannot_write_clinical_records(client, world) -> None:
    client.force_login(staff("receptionist"))
    pk = world["patient"].pk
    plan = world["appointment"].plan_session.plan
    assert client.post(reverse("chart:assessment_new", args=[pk]), {"fitzpatrick_type": "3"}).status_code == 403
    assert client.post(reverse("chart:plan_new", args=[pk]), {"sessions": "3"}).status_code == 403
    correct = reverse("chart:assessment_correct", args=[pk, world["assessment"].pk])
    assert client.post(correct, {"macular": "1", "reason": "x"}).status_code == 403
    assert client.post(reverse("chart:plan_cancel", args=[plan.pk]), {"reason": "x"}).status_code == 403
    record = reverse("chart:session_record", args=[world["appointment"].pk])
    assert client.post(record, {"notes": "x"}).status_code == 403
    world["appointment"].refresh_from_db()
    assert world["appointment"].status == "checked_in"


NON_CLINICAL = ("patient", "appointments", "history")
CLINICAL_SECTIONS = ("assessments", "photos", "plans", "records")


def test_the_receptionists_chart_holds_no_clinical_data(client, world) -> None:
    world["patient"].assessments.update(notes="Deep boxcar scars on the left cheek")
    client.force_login(staff("receptionist"))
    pk = world["patient"].pk
    for name in NON_CLINICAL:
        page = client.get(reverse(f"chart:{name}", args=[pk])).text
        assert "Chan Tai Man" in page, name
        for clinical in (
            "/photos/",
            "Deep boxcar",
            "Goodman",
            "New assessment",
            "Record session",
            "Treatment plan",
            "/correct/",
            *(reverse(f"chart:{section}", args=[pk]) for section in CLINICAL_SECTIONS),
        ):
            assert clinical not in page, (name, clinical)
    # The non-clinical sections are there, each on its own page.
    page = client.get(reverse("chart:patient", args=[pk])).text
    assert 'id="details"' in page and 'id="declarations"' in page
    page = client.get(reverse("chart:appointments", args=[pk])).text
    assert 'id="appointments"' in page and 'id="notifications"' in page
    assert 'id="history"' in client.get(reverse("chart:history", args=[pk])).text


def test_clinicians_see_the_clinical_sections(client, world) -> None:
    client.force_login(staff("manager"))
    pk = world["patient"].pk
    menu = client.get(reverse("chart:patient", args=[pk])).text
    for section in CLINICAL_SECTIONS:
        assert reverse(f"chart:{section}", args=[pk]) in menu, section
    assert '<svg class="chart' in client.get(reverse("chart:assessments", args=[pk])).text
    page = client.get(reverse("chart:photos", args=[pk])).text
    assert reverse("chart:photo", args=[pk, world["photo"].pk, "image"]) in page
    assert 'id="plans"' in client.get(reverse("chart:plans", args=[pk])).text
    assert 'id="records"' in client.get(reverse("chart:records", args=[pk])).text


def test_photos_are_private_and_only_through_their_own_patient(client, world) -> None:
    client.force_login(world["doctor"])
    pk, photo = world["patient"].pk, world["photo"]
    response = client.get(reverse("chart:photo", args=[pk, photo.pk, "image"]))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert "private" in response.headers["Cache-Control"] and "no-store" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    other = PatientFactory()
    assert client.get(reverse("chart:photo", args=[other.pk, photo.pk, "image"])).status_code == 404
    assert client.get(reverse("chart:photo", args=[pk, photo.pk + 1000, "image"])).status_code == 404
    assert client.get(reverse("chart:photo", args=[pk, photo.pk, "original"])).status_code == 404
    assert client.get(f"/staff/patients/{pk}/photos/{photo.pk}/../../../").status_code == 404


def test_unknown_ids_are_404(client, world) -> None:
    client.force_login(world["doctor"])
    for url in (
        reverse("chart:patient", args=[999999]),
        reverse("chart:photos", args=[999999]),
        reverse("chart:history", args=[999999]),
        reverse("chart:assessment_new", args=[999999]),
        reverse("chart:declaration_new", args=[999999]),
        reverse("chart:plan_new", args=[999999]),
        reverse("chart:session_record", args=[999999]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("chart:plan_cancel", args=[999999])).status_code == 404


def test_score_endpoint_takes_only_post(client, world) -> None:
    client.force_login(world["doctor"])
    assert client.get(reverse("chart:assessment_score")).status_code == 405
