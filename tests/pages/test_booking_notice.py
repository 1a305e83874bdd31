"""Issue 16: the confirm step says plainly when the visit already falls inside the
cancellation notice, instead of promising online changes the services will refuse
(booking/notice.py decides for both)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from patients.models import Patient
from tests.factories import HealthDeclarationFactory, PatientFactory
from tests.pages.site_fixtures import Clinic, make_clinic

pytestmark = pytest.mark.django_db

# Monday 30 November 2026, 15:00 in Hong Kong: Tuesday 10:00 is 19 hours away,
# inside the 24 hours' notice; Wednesday 10:00 is not.
TUESDAY, WEDNESDAY = "2026-12-01", "2026-12-02"


@pytest.fixture(autouse=True)
def _monday_afternoon(settings: Any) -> Any:
    settings.CLINIC_CANCELLATION_NOTICE = timedelta(hours=24)
    with time_machine.travel("2026-11-30 15:00 +0800", tick=False):
        yield


@pytest.fixture
def clinic() -> Clinic:
    return make_clinic()


@pytest.fixture
def patient() -> Patient:
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    return patient


def confirm_step(patient: Patient, day: str, **headers: str) -> str:
    client = Client()
    client.force_login(patient.user)
    response = client.get(f"/book/?treatment=peel&practitioner=any&date={day}&time=10:00", **headers)
    assert response.status_code == 200
    text = response.content.decode()
    assert 'name="action" value="confirm"' in text
    return text


def test_a_visit_inside_the_notice_is_told_before_confirming(clinic: Clinic, patient: Patient) -> None:
    page = confirm_step(patient, TUESDAY)

    assert "This visit is less than 24 hours away" in page
    assert "t be changed or cancelled online" in page
    assert "tel:+85221234567" in page
    assert "You can change or cancel online until" not in page


def test_a_visit_in_good_time_promises_online_changes(clinic: Clinic, patient: Patient) -> None:
    page = confirm_step(patient, WEDNESDAY)

    assert "You can change or cancel online until 24 hours before the appointment" in page
    assert "This visit is less than" not in page


def test_the_warning_is_in_chinese_for_a_chinese_reader(clinic: Clinic, patient: Patient) -> None:
    page = confirm_step(patient, TUESDAY, HTTP_ACCEPT_LANGUAGE="zh-Hant")

    assert "預約後不能於網上更改或取消" in page
    assert "如需更改，請致電診所" in page


def test_the_booked_page_promises_no_passed_deadline(clinic: Clinic, patient: Patient) -> None:
    client = Client()
    client.force_login(patient.user)
    response = client.post(
        "/book/",
        {"action": "confirm", "treatment": "peel", "practitioner": "any", "date": TUESDAY, "time": "10:00"},
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).content.decode()

    assert "You are booked" in page
    assert "You can change or cancel online up to" not in page  # until Monday 10:00, five hours ago
    assert "It is too late to change or cancel this appointment online" in page
