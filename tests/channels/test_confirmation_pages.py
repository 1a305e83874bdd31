"""Where staff and the patient see that the patient confirmed: the day
schedule's block and panel, the list of who has not, the appointment API and
the patient's own pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from booking import services
from booking.models import Appointment
from clinic import formats
from tests.api.conftest import client_for
from tests.factories import HealthDeclarationFactory, PatientFactory
from tests.pages.helpers import assert_translated
from tests.pages.staff_fixtures import Clinic, at, make_clinic, names, next_workday

pytestmark = pytest.mark.django_db

TEXT_CHANNELS = {
    "sms": {"BACKEND": "booking.channels.LocmemBackend", "OPTIONS": {}},
    "whatsapp": {"BACKEND": "booking.channels.LocmemBackend", "OPTIONS": {}},
}


@pytest.fixture
def clinic() -> Clinic:
    return make_clinic()


@pytest.fixture
def text_channels(settings: Any) -> None:
    settings.CLINIC_CHANNELS = TEXT_CHANNELS


def book(clinic: Clinic, day: Any, hour: int, patient: Any = None) -> Appointment:
    patient = patient or clinic.patient
    if not patient.health_declarations.exists():
        HealthDeclarationFactory(patient=patient)
    return services.appointment_book(
        patient=patient,
        treatment=clinic.treatment,
        start=at(day, hour),
        practitioner=clinic.practitioner,
        booked_by=clinic.receptionist,
        staff=True,
    )


def confirm(appointment: Appointment, via: str, when: datetime) -> None:
    assert services.appointment_patient_confirm(appointment=appointment, via=via, now=when)


def test_the_schedule_marks_visits_the_patient_confirmed(client: Any, clinic: Clinic, text_channels: None) -> None:
    day = next_workday()
    confirmed = book(clinic, day, 10)
    waiting = book(clinic, day, 11, patient=PatientFactory(full_name="Ho Ka Yan", phone="+85261234000"))
    when = timezone.now() - timedelta(minutes=5)
    confirm(confirmed, "whatsapp", when)
    client.force_login(clinic.receptionist)

    page = client.get(f"/staff/?date={day}").text

    sentence = f"Confirmed by the patient (WhatsApp, {formats.date_text(when, 'day_month')} {formats.time_text(when)})"
    assert page.count(sentence) == 2  # the badge's title and its text for screen readers
    assert page.count("✓ Coming") == 1
    # Who has not confirmed yet: one line with the time and a number to call.
    awaiting = page[page.index("awaiting-confirmation") :]
    awaiting = awaiting[: awaiting.index("</details>")]
    assert "1 visit not confirmed by the patient yet" in awaiting
    assert "Ho Ka Yan" in awaiting and 'href="tel:+85261234000"' in awaiting
    assert clinic.patient.full_name not in awaiting
    assert f"/staff/appointments/{waiting.pk}/" in awaiting


def test_the_panel_says_when_and_how_the_patient_confirmed(client: Any, clinic: Clinic) -> None:
    day = next_workday()
    appointment = book(clinic, day, 10)
    client.force_login(clinic.receptionist)
    assert "Not yet confirmed by the patient" in client.get(f"/staff/appointments/{appointment.pk}/").text

    when = timezone.now()
    confirm(appointment, "sms", when)
    page = client.get(f"/staff/appointments/{appointment.pk}/").text
    assert "Patient's answer" in page
    assert f"Confirmed by the patient (SMS, {formats.date_text(when, 'day_month')} {formats.time_text(when)})" in page
    assert "Not yet confirmed by the patient" not in page


def test_everyone_confirmed_says_so_and_past_days_say_nothing(client: Any, clinic: Clinic, text_channels: None) -> None:
    day = next_workday()
    confirm(book(clinic, day, 10), "whatsapp", timezone.now())
    client.force_login(clinic.receptionist)
    page = client.get(f"/staff/?date={day}").text
    assert "Every patient still to come has confirmed." in page
    assert "not confirmed by the patient yet" not in page
    yesterday = timezone.localdate() - timedelta(days=1)
    page = client.get(f"/staff/?date={yesterday}").text
    assert "Every patient still to come" not in page and "not confirmed by the patient" not in page


def test_confirmation_in_traditional_chinese(client: Any, clinic: Clinic, text_channels: None) -> None:
    day = next_workday()
    appointment = book(clinic, day, 10)
    book(clinic, day, 11, patient=PatientFactory(full_name="Ho Ka Yan"))
    when = timezone.now()
    confirm(appointment, "whatsapp", when)
    client.force_login(clinic.receptionist)
    client.cookies["django_language"] = "zh-hant"

    schedule = client.get(f"/staff/?date={day}").content
    panel = client.get(f"/staff/appointments/{appointment.pk}/").content

    with translation.override("zh-hant"):
        moment = f"{formats.date_text(when, 'day_month')} {formats.time_text(when)}"
    assert f"病人已確認出席（WhatsApp，{moment}）".encode() in schedule
    assert "✓ 會出席".encode() in schedule
    assert "1 個預約的病人尚未確認出席".encode() in schedule
    assert f"病人已確認出席（WhatsApp，{moment}）".encode() in panel
    assert_translated(schedule, allow=[*names(clinic, "Ho Ka Yan"), "WhatsApp"])


def test_the_schedules_queries_do_not_grow_with_confirmations(client: Any, clinic: Clinic, text_channels: None) -> None:
    day = next_workday()
    client.force_login(clinic.receptionist)
    book(clinic, day, 10)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/staff/?date={day}").status_code == 200
        return len(queries)

    before = count()
    for hour in (11, 12, 14, 15):
        appointment = book(clinic, day, hour, patient=PatientFactory())
        if hour % 2:
            confirm(appointment, "sms", timezone.now())
    assert count() == before


def test_the_appointment_api_shows_the_patients_confirmation(clinic: Clinic) -> None:
    appointment = book(clinic, next_workday(), 10)
    api = client_for(clinic.receptionist)
    body = api.get(f"/api/v1/appointments/{appointment.pk}/").json()
    assert (body["patient_confirmed_at"], body["patient_confirmed_via"]) == (None, "")

    when = timezone.now()
    confirm(appointment, "whatsapp", when)
    body = client_for(clinic.patient.user).get(f"/api/v1/appointments/{appointment.pk}/").json()
    assert datetime.fromisoformat(body["patient_confirmed_at"]) == when
    assert body["patient_confirmed_via"] == "whatsapp"
    listed = api.get("/api/v1/appointments/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["patient_confirmed_via"] for row in rows if row["id"] == appointment.pk] == ["whatsapp"]


def test_the_patient_sees_you_confirmed_on_their_own_pages(client: Any, clinic: Clinic) -> None:
    confirmed = book(clinic, next_workday(), 10)
    other = book(clinic, next_workday(), 14)
    confirm(confirmed, "sms", timezone.now())
    client.force_login(clinic.patient.user)

    assert client.get("/appointments/").text.count("You confirmed") == 1
    assert "You confirmed" in client.get(f"/appointments/{confirmed.pk}/").text
    assert "You confirmed" not in client.get(f"/appointments/{other.pk}/").text
    client.cookies["django_language"] = "zh-hant"
    assert "你已確認出席" in client.get(f"/appointments/{confirmed.pk}/").text
