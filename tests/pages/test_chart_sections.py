"""The chart's sections, each its own page under the same summary header: who
may open which, what the header says, and that no date on them is written the
ISO way (dates go through clinic/formats.py)."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.models import Appointment
from clinic import formats
from tests.factories import AppointmentFactory, HealthDeclarationFactory, PatientFactory
from tests.pages.chart_fixtures import checked_in_plan_appointment, full_history, staff

pytestmark = pytest.mark.django_db

SECTIONS = ("patient", "assessments", "photos", "plans", "records", "appointments", "history")
CLINICAL = {"assessments", "photos", "plans", "records"}
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


class _Text(HTMLParser):
    """The text a reader sees (attribute values and scripts left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture
def patient():
    doctor = staff("practitioner")
    found = PatientFactory(full_name="Wong Siu Lan")
    full_history(found, doctor, n=2)
    HealthDeclarationFactory(patient=found, isotretinoin_last_dose=timezone.localdate() - timedelta(days=20))
    checked_in_plan_appointment(found, doctor)
    return found


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_each_section_is_its_own_page_for_the_roles_that_may_see_it(client, patient, role) -> None:
    client.force_login(staff(role))
    for name in SECTIONS:
        url = reverse(f"chart:{name}", args=[patient.pk])
        response = client.get(url)
        if role == "receptionist" and name in CLINICAL:
            assert response.status_code == 403, name
            continue
        assert response.status_code == 200, (role, name)
        html = response.text
        # The section's own link in the menu is marked as the current page, and only it.
        assert html.count('aria-current="page"') == 2, name  # the main menu's Patients, and this section
        assert f'<a href="{url}" aria-current="page">' in html, name
        assert "Wong Siu Lan" in html and "Next appointment" in html


def test_patients_and_anonymous_visitors_get_no_section(client, patient) -> None:
    for name in SECTIONS:
        url = reverse(f"chart:{name}", args=[patient.pk])
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/accounts/login/"), name
    client.force_login(patient.user)
    for name in SECTIONS:
        assert client.get(reverse(f"chart:{name}", args=[patient.pk])).status_code == 403, name


def test_the_summary_names_the_next_appointment_and_the_risk_flags(client, patient) -> None:
    client.force_login(staff("receptionist"))
    upcoming = (  # the one checked in now, still running, comes before those booked for later days
        Appointment.objects.filter(patient=patient, end__gt=timezone.now(), status__in=["confirmed", "checked_in"])
        .order_by("start")
        .first()
    )
    AppointmentFactory(patient=patient, start=timezone.now() - timedelta(days=2))  # past: never "next"
    html = client.get(reverse("chart:history", args=[patient.pk])).text
    summary = _text(html[html.index('class="chart-summary"') : html.index('class="chart-sections"')])
    assert formats.datetime_text(upcoming.start) in summary
    assert upcoming.treatment.name_en in summary
    assert "Isotretinoin, last dose" in summary
    assert re.search(r"Age \d+ years", summary)


@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_no_date_on_the_chart_is_written_the_iso_way(client, patient, language) -> None:
    client.force_login(staff("manager"))
    for name in SECTIONS:
        html = client.get(reverse(f"chart:{name}", args=[patient.pk]), HTTP_ACCEPT_LANGUAGE=language).text
        text = _text(html[html.index("<main") :])
        assert not ISO_DATE.findall(text), (name, ISO_DATE.findall(text)[:3])
        if name == "assessments":
            assert formats.date_text(patient.assessments.first().assessed_on) in text
