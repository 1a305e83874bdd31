"""Issue 17, point 4: the patient confirms pre-care with one click from the email's
link (no sign-in; a GET changes nothing, since mail scanners open links), or from
their appointment's page, or the API; staff see what is not confirmed at check-in."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from booking import precare
from booking.models import Appointment, Notification, PreCareAcknowledgement
from tests.factories import (
    AppointmentFactory,
    HealthDeclarationFactory,
    NotificationFactory,
    PatientFactory,
    UserFactory,
)
from treatments.models import PreCareCondition, PreCareInstruction

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hant"}


@pytest.fixture
def visit() -> Appointment:
    appointment = AppointmentFactory(
        start=timezone.now() + timedelta(days=10), patient=PatientFactory(full_name="Chan Tai Man")
    )
    for code, days, en, zh, condition in [
        ("retinoid-2w", 14, "Stop topical retinoids today", "今天起停用A酸類外用產品", ""),
        ("numbing", 1, "Arrive 45 minutes early tomorrow", "明天請提早45分鐘到達", ""),
        ("antiviral", 7, "Antiviral cover for cold sores", "預防熱瘡的抗病毒藥物", PreCareCondition.COLD_SORE_HISTORY),
    ]:
        instruction = PreCareInstruction.objects.create(
            code=code, days_before=days, title_en=en, title_zh_hant=zh, text_en=f"{en}.", text_zh_hant=f"{zh}。",
            condition=condition,
        )  # fmt: skip
        instruction.treatments.add(appointment.treatment)
    HealthDeclarationFactory(patient=appointment.patient, cold_sore_history=False)
    return appointment


def link(appointment: Appointment) -> str:
    return f"/pre-care/{precare.token_for(appointment)}/"


def acknowledged(appointment: Appointment) -> set[str]:
    return set(
        PreCareAcknowledgement.objects.filter(appointment=appointment).values_list("instruction__code", flat=True)
    )


# --- the email's link ---------------------------------------------------------------------


def test_opening_the_link_shows_the_instructions_and_confirms_nothing(client: Client, visit: Appointment) -> None:
    for _scanner_and_patient in range(2):
        page = client.get(link(visit))
        assert page.status_code == 200
    text = page.text
    assert "Stop topical retinoids today" in text and "Arrive 45 minutes early tomorrow" in text
    assert "Antiviral cover" not in text  # the patient has never had cold sores
    assert "I have read these instructions" in text
    assert "Chan Tai Man" not in text  # a forwarded link names nobody
    assert acknowledged(visit) == set()


def test_one_press_confirms_every_instruction_and_the_page_says_so(client: Client, visit: Appointment) -> None:
    response = client.post(link(visit))

    assert response.status_code == 302 and response.headers["Location"] == link(visit)
    assert acknowledged(visit) == {"retinoid-2w", "numbing"}
    row = PreCareAcknowledgement.objects.filter(appointment=visit).first()
    assert row is not None and row.via == "link" and row.by is None
    page = client.get(link(visit)).text
    assert "You have confirmed these instructions" in page
    assert "I have read these instructions" not in page

    client.post(link(visit))  # a second press changes nothing
    assert PreCareAcknowledgement.objects.filter(appointment=visit).count() == 2


def test_the_link_page_speaks_chinese(client: Client, visit: Appointment) -> None:
    page = client.get(link(visit), **ZH).text
    assert "今天起停用A酸類外用產品" in page and "Stop topical retinoids" not in page


@pytest.mark.parametrize("token", ["nothing", "eyJhIjoxfQ:1tAmpered:forged", "a" * 300])
def test_a_bad_link_gets_a_friendly_404(client: Client, visit: Appointment, token: str) -> None:
    for method in (client.get, client.post):
        response = method(f"/pre-care/{token}/")
        assert response.status_code == 404
        assert "This link no longer works" in response.text
    assert acknowledged(visit) == set()


def test_a_link_cannot_be_turned_to_another_patients_visit(client: Client, visit: Appointment) -> None:
    other = AppointmentFactory(treatment=visit.treatment, start=visit.start + timedelta(hours=3))
    _payload, timestamp, signature = precare.token_for(visit).split(":")
    # The other visit's id under this visit's signature, and a token signed without the salt.
    payload = base64.urlsafe_b64encode(json.dumps({"a": other.pk}, separators=(",", ":")).encode()).decode().rstrip("=")
    for attempt in (f"{payload}:{timestamp}:{signature}", signing.dumps({"a": other.pk})):
        response = client.post(f"/pre-care/{attempt}/")
        assert response.status_code == 404
    assert not PreCareAcknowledgement.objects.exists()


def test_the_link_expires_when_the_visit_is_over_or_cancelled(client: Client, visit: Appointment) -> None:
    Appointment.objects.filter(pk=visit.pk).update(status=Appointment.Status.CANCELLED)
    response = client.post(link(visit))
    assert response.status_code == 410 and "This link no longer works" in response.text

    past = AppointmentFactory(start=timezone.now() - timedelta(hours=3))
    assert client.get(link(past)).status_code == 410
    assert not PreCareAcknowledgement.objects.exists()


# --- the patient's own pages --------------------------------------------------------------


def test_the_patient_sees_and_confirms_pre_care_from_their_appointments(client: Client, visit: Appointment) -> None:
    client.force_login(visit.patient.user)

    listing = client.get("/appointments/").text
    assert "Please read and confirm 2 pre-care instructions" in listing
    page = client.get(f"/appointments/{visit.pk}/").text
    assert "Stop topical retinoids today" in page and f'action="/appointments/{visit.pk}/pre-care/"' in page

    response = client.post(f"/appointments/{visit.pk}/pre-care/")
    assert response.status_code == 302
    assert acknowledged(visit) == {"retinoid-2w", "numbing"}
    assert PreCareAcknowledgement.objects.filter(appointment=visit, via="portal", by=visit.patient.user).count() == 2
    assert "pre-care instruction" not in client.get("/appointments/").text


def test_another_patients_visit_is_never_shown_or_confirmed(client: Client, visit: Appointment) -> None:
    client.force_login(PatientFactory().user)

    assert client.get(f"/appointments/{visit.pk}/").status_code == 404
    assert client.post(f"/appointments/{visit.pk}/pre-care/").status_code == 404
    assert acknowledged(visit) == set()


def test_a_get_on_the_confirm_address_changes_nothing(client: Client, visit: Appointment) -> None:
    client.force_login(visit.patient.user)
    assert client.get(f"/appointments/{visit.pk}/pre-care/").status_code == 405
    assert acknowledged(visit) == set()


# --- staff ----------------------------------------------------------------------------------


def test_reception_sees_what_is_not_confirmed_in_the_appointment_panel(client: Client, visit: Appointment) -> None:
    NotificationFactory(
        appointment=visit, kind=Notification.Kind.PRE_CARE, offset_minutes=14 * 24 * 60,
        status=Notification.Status.SENT, sent_at=datetime(2026, 11, 22, 2, 0, tzinfo=timezone.UTC),
    )  # fmt: skip
    client.force_login(UserFactory(role="receptionist"))

    panel = client.get(f"/staff/appointments/{visit.pk}/").text
    assert "Not confirmed: Stop topical retinoids today (sent 22 Nov)" in panel
    assert "Not confirmed: Arrive 45 minutes early tomorrow (not emailed)" in panel

    precare.pre_care_acknowledge(appointment=visit, via="portal", by=visit.patient.user, now=timezone.now())
    assert "Not confirmed" not in client.get(f"/staff/appointments/{visit.pk}/").text


def test_staff_read_it_in_chinese(client: Client, visit: Appointment) -> None:
    client.force_login(UserFactory(role="receptionist"))
    panel = client.get(f"/staff/appointments/{visit.pk}/", **ZH).text
    assert "今天起停用A酸類外用產品" in panel


# --- the API ----------------------------------------------------------------------------------


def test_the_api_lists_the_visits_pre_care_and_the_patient_acknowledges_it(visit: Appointment) -> None:
    api = APIClient()
    api.force_authenticate(visit.patient.user)
    url = f"/api/v1/appointments/{visit.pk}/pre-care/"

    body = api.get(url, HTTP_ACCEPT_LANGUAGE="zh-hant").json()
    assert body["appointment"] == visit.pk and body["all_confirmed"] is False
    assert [(i["code"], i["title"], i["acknowledged_at"]) for i in body["instructions"]] == [
        ("retinoid-2w", "今天起停用A酸類外用產品", None),
        ("numbing", "明天請提早45分鐘到達", None),
    ]

    done = api.post(url + "acknowledge/", format="json")
    assert done.status_code == 200 and done.json()["all_confirmed"] is True
    assert acknowledged(visit) == {"retinoid-2w", "numbing"}
    assert all(i["acknowledged_at"] for i in api.get(url).json()["instructions"])


def test_acknowledging_a_cancelled_visit_is_409(visit: Appointment) -> None:
    Appointment.objects.filter(pk=visit.pk).update(status=Appointment.Status.CANCELLED)
    api = APIClient()
    api.force_authenticate(visit.patient.user)

    response = api.post(f"/api/v1/appointments/{visit.pk}/pre-care/acknowledge/", format="json")

    assert response.status_code == 409 and response.json()["code"] == "invalid_state"
    assert acknowledged(visit) == set()


def test_a_cold_sore_history_adds_the_antiviral_instruction(visit: Appointment, client: Client) -> None:
    HealthDeclarationFactory(patient=visit.patient, cold_sore_history=True)
    assert "Antiviral cover for cold sores" in client.get(link(visit)).text


def test_the_schedule_block_says_how_much_pre_care_is_not_confirmed(client: Client, visit: Appointment) -> None:
    client.force_login(UserFactory(role="receptionist"))
    day = timezone.localtime(visit.start).date().isoformat()

    schedule = client.get(f"/staff/?date={day}").text
    assert 'Pre-care<span class="visually-hidden">: 2 not confirmed</span>' in schedule

    precare.pre_care_acknowledge(appointment=visit, via="portal", by=visit.patient.user, now=timezone.now())
    assert "pre-care-badge" not in client.get(f"/staff/?date={day}").text
