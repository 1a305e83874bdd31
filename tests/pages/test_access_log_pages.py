"""The access log through the pages: the chart, each photo and the session
record write their rows; managers read the log per patient and per staff
member; a patient sees who opened their record, in English and Chinese."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patients.models import AccessEvent
from patients.services import access_record
from tests.factories import PatientFactory, UserFactory
from tests.pages.chart_fixtures import assess, checked_in_plan_appointment, full_history, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    doctor = UserFactory(role="practitioner", first_name="Wing", last_name="Lam")
    patient = PatientFactory(full_name="Chan Tai Man")
    assessment = assess(patient, doctor, photos=2)
    appointment = checked_in_plan_appointment(patient, doctor)
    return {"doctor": doctor, "patient": patient, "assessment": assessment, "appointment": appointment}


def _rows() -> list[tuple[Any, ...]]:
    return list(AccessEvent.objects.order_by("id").values_list("actor_role", "patient_id", "what", "object_id", "door"))


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("patient", []),
        ("assessments", ["assessment"]),
        ("photos", ["assessment"]),
        ("plans", ["plan"]),
        ("records", ["session_record"]),
        ("appointments", []),
        ("history", ["assessment", "plan"]),
    ],
)
def test_a_clinician_opening_a_chart_section_logs_each_kind_it_shows(
    client: Client, world: dict[str, Any], name: str, kinds: list[str]
) -> None:
    client.force_login(world["doctor"])
    pk = world["patient"].pk
    assert client.get(reverse(f"chart:{name}", args=[pk]), REMOTE_ADDR="198.51.100.4").status_code == 200
    # Every section has the summary header: the chart itself and the declaration's risk flags.
    assert _rows() == [("practitioner", pk, what, None, "page") for what in ["chart", "declarations", *kinds]]
    assert set(AccessEvent.objects.values_list("client_address", flat=True)) == {"198.51.100.4"}


def test_a_receptionist_opening_the_chart_logs_only_what_she_sees(client: Client, world: dict[str, Any]) -> None:
    client.force_login(staff("receptionist"))
    pk = world["patient"].pk
    assert client.get(reverse("chart:patient", args=[pk])).status_code == 200
    assert _rows() == [("receptionist", pk, "chart", None, "page"), ("receptionist", pk, "declarations", None, "page")]


def test_every_photo_served_writes_its_own_row(client: Client, world: dict[str, Any]) -> None:
    client.force_login(world["doctor"])
    pk = world["patient"].pk
    photos = list(world["assessment"].photos.order_by("id"))
    for photo in photos:
        for variant in ("thumbnail", "image"):
            assert client.get(reverse("chart:photo", args=[pk, photo.pk, variant])).status_code == 200
    assert _rows() == [("practitioner", pk, "photo", photo.pk, "page") for photo in photos for _ in range(2)]


def test_a_photo_of_another_patient_is_404_and_not_logged(client: Client, world: dict[str, Any]) -> None:
    client.force_login(world["doctor"])
    other = PatientFactory()
    photo = world["assessment"].photos.first()
    assert client.get(reverse("chart:photo", args=[other.pk, photo.pk, "image"])).status_code == 404
    assert _rows() == []


def test_the_session_record_page_logs_the_record_the_declaration_and_the_plan(
    client: Client, world: dict[str, Any]
) -> None:
    client.force_login(world["doctor"])
    pk = world["patient"].pk
    assert client.get(reverse("chart:session_record", args=[world["appointment"].pk])).status_code == 200
    assert _rows() == [
        ("practitioner", pk, "session_record", None, "page"),
        ("practitioner", pk, "declarations", None, "page"),
        ("practitioner", pk, "plan", None, "page"),
    ]


def test_the_correction_page_logs_the_assessment(client: Client, world: dict[str, Any]) -> None:
    client.force_login(world["doctor"])
    pk, assessment = world["patient"].pk, world["assessment"]
    assert client.get(reverse("chart:assessment_correct", args=[pk, assessment.pk])).status_code == 200
    assert _rows() == [("practitioner", pk, "assessment", assessment.pk, "page")]


def test_the_chart_costs_the_same_queries_however_long_the_history(client: Client) -> None:
    doctor = staff("practitioner")
    client.force_login(doctor)
    small, big = PatientFactory(), PatientFactory()
    full_history(small, doctor, n=1)
    full_history(big, doctor, n=4)
    client.get(reverse("chart:patient", args=[small.pk]))  # warm-up

    def count(patient: Any) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("chart:patient", args=[patient.pk])).status_code == 200
        return sum("access" in query["sql"] for query in queries.captured_queries)

    assert count(small) == count(big) == 1  # one INSERT for every row of the page


# --- managers read the log ---------------------------------------------------------------


def test_a_manager_reads_a_patients_log_newest_first(client: Client, world: dict[str, Any]) -> None:
    patient = world["patient"]
    access_record(world["doctor"], patient, "assessment", "api", 5)
    access_record(staff("receptionist"), patient, "declarations", "page")
    manager = staff("manager")
    client.force_login(manager)
    response = client.get(reverse("chart:access_log_patient", args=[patient.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Who read this patient" in text
    assert text.index("Health declarations") < text.index("Scar assessments")
    assert "Wing Lam" in text
    assert AccessEvent.objects.count() == 2, "reading the log is not logged"
    assert (
        reverse("chart:access_log_patient", args=[patient.pk])
        in client.get(reverse("chart:patient", args=[patient.pk])).content.decode()
    )


def test_a_manager_reads_what_one_staff_member_read(client: Client, world: dict[str, Any]) -> None:
    other_patient = PatientFactory(full_name="Lee Siu Fung")
    access_record(world["doctor"], world["patient"], "assessment", "api")
    access_record(world["doctor"], other_patient, "photo", "page", 9)
    access_record(staff("receptionist"), other_patient, "declarations", "page")
    client.force_login(staff("manager"))
    picker = client.get(reverse("chart:access_log"))
    assert picker.status_code == 200
    assert "Wing Lam" in picker.content.decode()
    response = client.get(reverse("chart:access_log") + f"?actor={world['doctor'].pk}")
    text = response.content.decode()
    assert response.status_code == 200
    assert "Chan Tai Man" in text and "Lee Siu Fung" in text
    assert "Health declarations" not in text
    assert text.index("Lee Siu Fung") < text.index("Chan Tai Man")
    assert client.get(reverse("chart:access_log") + "?actor=987654").status_code == 404


@pytest.mark.parametrize("role", ["receptionist", "practitioner"])
def test_other_staff_cannot_open_the_log_pages(client: Client, world: dict[str, Any], role: str) -> None:
    client.force_login(staff(role))
    assert client.get(reverse("chart:access_log_patient", args=[world["patient"].pk])).status_code == 403
    assert client.get(reverse("chart:access_log")).status_code == 403


def test_patients_and_anonymous_visitors_cannot_open_the_log_pages(client: Client, world: dict[str, Any]) -> None:
    url = reverse("chart:access_log_patient", args=[world["patient"].pk])
    assert client.get(url).status_code == 302
    client.force_login(world["patient"].user)
    assert client.get(url).status_code == 403
    assert client.get(reverse("chart:access_log")).status_code == 403


def test_unknown_patient_log_is_404(client: Client) -> None:
    client.force_login(staff("manager"))
    assert client.get(reverse("chart:access_log_patient", args=[987654])).status_code == 404


# --- the patient's page ------------------------------------------------------------------


def test_a_patient_sees_who_opened_their_record(client: Client, world: dict[str, Any]) -> None:
    patient = world["patient"]
    reception = UserFactory(role="receptionist", first_name="Mei", last_name="Ho")
    access_record(reception, patient, "declarations", "page")
    access_record(world["doctor"], patient, "photo", "page", 1)
    access_record(world["doctor"], PatientFactory(), "plan", "page")
    client.force_login(patient.user)
    profile = client.get(reverse("account:profile")).content.decode()
    assert reverse("account:access_log") in profile
    response = client.get(reverse("account:access_log"))
    text = response.content.decode()
    assert response.status_code == 200
    assert "Who opened my record" in text
    assert "Practitioner — Wing Lam" in text
    assert "Receptionist" in text and "Mei Ho" not in text
    assert "Treatment plans" not in text, "another patient's rows are not shown"


def test_a_patients_own_reads_never_appear(client: Client, world: dict[str, Any]) -> None:
    client.force_login(world["patient"].user)
    client.get(reverse("account:progress"))
    response = client.get(reverse("account:access_log"))
    assert "Nobody at the clinic has opened your record yet." in response.content.decode()
    assert AccessEvent.objects.count() == 0


def test_the_patient_page_speaks_chinese(client: Client, world: dict[str, Any]) -> None:
    access_record(world["doctor"], world["patient"], "photo", "page", 1)
    client.force_login(world["patient"].user)
    response = client.get(reverse("account:access_log"), HTTP_ACCEPT_LANGUAGE="zh-hant")
    text = response.content.decode()
    assert "誰開啟了我的紀錄" in text
    assert "醫護人員" in text and "相片" in text


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_have_no_patient_access_log_page(client: Client, role: str) -> None:
    client.force_login(staff(role))
    assert client.get(reverse("account:access_log")).status_code == 403


def test_the_patient_page_needs_sign_in(client: Client) -> None:
    response = client.get(reverse("account:access_log"))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/")


def test_the_plan_form_logs_the_assessments_it_lists(client: Client, world: dict[str, Any]) -> None:
    client.force_login(world["doctor"])
    pk = world["patient"].pk
    assert client.get(reverse("chart:plan_new", args=[pk])).status_code == 200
    assert _rows() == [("practitioner", pk, "assessment", None, "page")]


def test_staff_booking_logs_the_declaration_its_screening_reads(client: Client, world: dict[str, Any]) -> None:
    client.force_login(staff("receptionist"))
    patient = world["patient"]
    treatment = world["appointment"].treatment
    assert client.get(f"/staff/book/?patient={patient.pk}&treatment={treatment.pk}").status_code == 200
    assert _rows() == [("receptionist", patient.pk, "declarations", None, "page")]
    assert client.get(f"/staff/book/?patient={patient.pk}").status_code == 200
    assert len(_rows()) == 1, "no screening without a treatment: nothing read"


def test_the_photo_comparison_swapped_in_logs_only_the_pictures_it_loads(client: Client, world: dict[str, Any]) -> None:
    client.force_login(world["doctor"])
    url = reverse("chart:photos", args=[world["patient"].pk])
    response = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="photos-compare")
    assert response.status_code == 200
    assert _rows() == []


def test_saving_a_session_record_is_a_write_not_a_read(client: Client, world: dict[str, Any]) -> None:
    client.force_login(world["doctor"])
    url = reverse("chart:session_record", args=[world["appointment"].pk])
    assert client.post(url, {"notes": "first"}).status_code == 302
    assert _rows() == []
    assert client.get(url).status_code == 200
    assert [row[2] for row in _rows()] == ["session_record", "declarations", "plan"]
