"""The chart in Traditional Chinese, with no English left, and its query
counts flat as a patient's history grows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import HealthDeclarationFactory, PatientFactory
from tests.pages.chart_fixtures import checked_in_plan_appointment, full_history, staff
from tests.pages.helpers import assert_translated

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hant"}


SECTION_URLS = ("patient", "assessments", "photos", "plans", "records", "appointments", "history")


def _names(*users) -> list[str]:
    """Names people typed: every user's (staff and patients on the page), and eponyms."""
    from django.contrib.auth.models import User

    found = ["Fitzpatrick"]
    for user in User.objects.all():
        found += [user.first_name, user.last_name, user.username]
    return found


def test_every_chart_page_is_fully_translated(client) -> None:
    doctor = staff("practitioner")
    client.force_login(doctor)
    patient = PatientFactory(full_name="陳大文")
    HealthDeclarationFactory(patient=patient, anticoagulants=True, allergies=["lidocaine"])
    full_history(patient, doctor, n=2)
    appointment = checked_in_plan_appointment(patient, doctor)
    allow = [*_names(), "III", "PicoSure", "zzz", "Baseline"]  # Baseline: notes typed on an assessment
    pages = [
        reverse("chart:patients"),
        reverse("chart:patients") + "?q=zzz",
        *(reverse(f"chart:{name}", args=[patient.pk]) for name in SECTION_URLS),
        reverse("chart:patient_new"),
        reverse("chart:patient_edit", args=[patient.pk]),
        reverse("chart:declaration_new", args=[patient.pk]),
        reverse("chart:assessment_new", args=[patient.pk]),
        reverse("chart:assessment_correct", args=[patient.pk, patient.assessments.first().pk]),
        reverse("chart:plan_new", args=[patient.pk]),
        reverse("chart:session_record", args=[appointment.pk]),
    ]
    for url in pages:
        response = client.get(url, **ZH)
        assert response.status_code == 200, url
        assert 'lang="zh-Hant-HK"' in response.text
        assert_translated(response.content, allow=allow)
    # Errors in place, the live score and the completed record are translated too.
    response = client.post(reverse("chart:assessment_new", args=[patient.pk]), {"macular": "-1"}, **ZH)
    assert response.status_code == 400
    assert_translated(response.content, allow=allow)
    score = client.post(reverse("chart:assessment_score"), {"macular": "12", "keloid_area_cm2": "3"}, **ZH)
    assert_translated(score.content, allow=allow)
    record = reverse("chart:session_record", args=[appointment.pk])
    response = client.post(record, {"fluence_j_cm2": "500", "device": "PicoSure"}, **ZH)
    assert response.status_code == 400
    assert_translated(response.content, allow=allow)
    assert client.post(record, {"fluence_j_cm2": "2", "device": "PicoSure", "areas": ["nose"]}, **ZH).status_code == 302
    response = client.get(record, **ZH)
    assert "皮秒激光" in response.text
    assert_translated(response.content, allow=allow)


def test_the_receptionists_chart_is_translated(client) -> None:
    desk = staff("receptionist")
    client.force_login(desk)
    patient = PatientFactory(full_name="陳大文")
    full_history(patient, staff("practitioner"), n=1)
    response = client.get(reverse("chart:patient", args=[patient.pk]), **ZH)
    assert_translated(response.content, allow=[*_names(), "III"])


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", ["practitioner", "receptionist"])
def test_the_charts_queries_do_not_grow_with_the_history(client, role) -> None:
    doctor = staff("practitioner")
    client.force_login(staff(role) if role != "practitioner" else doctor)
    small, large = PatientFactory(), PatientFactory()
    full_history(small, doctor, n=1)
    full_history(large, doctor, n=5)
    checked_in_plan_appointment(large, doctor)
    names = SECTION_URLS if role == "practitioner" else ("patient", "appointments", "history")
    for name in names:  # every section of the chart, each its own page
        first = _count(client, reverse(f"chart:{name}", args=[small.pk]))
        assert first <= 25, name
        assert _count(client, reverse(f"chart:{name}", args=[large.pk])) == first, name


def test_the_patient_lists_queries_do_not_grow(client) -> None:
    client.force_login(staff("receptionist"))
    PatientFactory()
    first = _count(client, reverse("chart:patients"))
    for _ in range(30):
        PatientFactory()
    assert _count(client, reverse("chart:patients")) == first
    assert _count(client, reverse("chart:patients") + "?q=a&page=2") <= first


def test_the_session_forms_queries_are_bounded(client, django_assert_max_num_queries) -> None:
    doctor = staff("practitioner")
    client.force_login(doctor)
    patient = PatientFactory()
    full_history(patient, doctor, n=3)
    appointment = checked_in_plan_appointment(patient, doctor)
    with django_assert_max_num_queries(15):
        client.get(reverse("chart:session_record", args=[appointment.pk]))
