"""The reminder email's "I'm coming" link: an email patient confirms in one
click as a WhatsApp or SMS patient does, without signing in; a GET changes
nothing; a visit changed since the email no longer takes it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from booking import attendance
from booking.emails import build_message
from booking.models import Appointment, Notification
from tests.factories import AppointmentFactory, NotificationFactory, PatientFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+/visits/confirm/\S+/")


@pytest.fixture
def visit() -> Appointment:
    return AppointmentFactory(start=timezone.now() + timedelta(days=1))


def reminder(appointment: Appointment) -> Notification:
    return NotificationFactory(
        appointment=appointment,
        kind=Notification.Kind.REMINDER,
        offset_minutes=24 * 60,
        due_at=appointment.start - timedelta(hours=24),
    )


def url(appointment: Appointment) -> str:
    return f"/visits/confirm/{attendance.token_for(appointment)}/"


def reloaded(appointment: Appointment) -> Appointment:
    return Appointment.objects.get(pk=appointment.pk)


def parts(message: Any) -> tuple[str, str]:
    return message.body, message.alternatives[0].content


@pytest.mark.parametrize(("language", "words"), [("en", "Yes, I'm coming"), ("zh-hant", "我會準時出席")])
def test_the_reminder_email_carries_the_link_until_the_patient_confirmed(
    visit: Appointment, language: str, words: str, settings: Any
) -> None:
    visit.patient.preferred_language = language
    visit.patient.save(update_fields=["preferred_language"])
    notification = reminder(visit)

    text, html = parts(build_message(notification))
    [link] = set(LINK.findall(text))
    assert link.startswith(settings.CLINIC_BASE_URL + "/visits/confirm/")
    assert f'href="{link}"' in html
    assert words in html
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert attendance.appointment_for_token(token, now=timezone.now()) == visit

    Appointment.objects.filter(pk=visit.pk).update(patient_confirmed_at=timezone.now(), patient_confirmed_via="sms")
    notification.refresh_from_db()
    text, html = parts(build_message(notification))
    assert "/visits/confirm/" not in text + html


def test_a_confirmation_email_has_no_such_link(visit: Appointment) -> None:
    confirmation = NotificationFactory(appointment=visit, kind=Notification.Kind.CONFIRMATION)
    text, html = parts(build_message(confirmation))
    assert "/visits/confirm/" not in text + html


def test_opening_the_link_changes_nothing_and_the_button_confirms(client: Any, visit: Appointment) -> None:
    page = client.get(url(visit))
    assert page.status_code == 200
    assert "Are you coming?" in page.text and "Yes, I'm coming" in page.text
    assert reloaded(visit).patient_confirmed_at is None  # mail scanners open links first

    response = client.post(url(visit))
    assert response.status_code == 302
    visit = reloaded(visit)
    assert visit.patient_confirmed_via == "email"
    page = client.get(response["Location"]).text
    assert "You confirmed" in page and "Thank you: we look forward to seeing you." in page

    first = visit.patient_confirmed_at
    assert client.post(url(visit)).status_code == 302  # twice: the first time stays
    assert reloaded(visit).patient_confirmed_at == first


def test_the_page_in_traditional_chinese(client: Any, visit: Appointment) -> None:
    client.cookies["django_language"] = "zh-hant"
    page = client.get(url(visit)).text
    assert "你會出席嗎？" in page and "我會準時出席" in page


@pytest.mark.parametrize("token", ["nothing", "eyJhIjoxfQ:1tX:abc", "x" * 300])
def test_a_link_that_is_not_ours_is_a_404(client: Any, visit: Appointment, token: str) -> None:
    response = client.get(f"/visits/confirm/{token}/")
    assert response.status_code == 404
    assert "This link no longer works" in response.text
    assert client.post(f"/visits/confirm/{token}/").status_code == 404
    assert reloaded(visit).patient_confirmed_at is None


@pytest.mark.parametrize(
    "change",
    [
        {"sequence": 1},  # moved (or otherwise changed) since the email
        {"status": Appointment.Status.CANCELLED},
        {"status": Appointment.Status.CHECKED_IN},
    ],
)
def test_a_visit_changed_since_the_email_is_refused(client: Any, visit: Appointment, change: dict[str, Any]) -> None:
    link = url(visit)
    Appointment.objects.filter(pk=visit.pk).update(**change)
    response = client.post(link)
    assert response.status_code == 410
    assert "has changed since that email" in response.text
    assert reloaded(visit).patient_confirmed_at is None


def test_a_visit_already_begun_is_refused(client: Any) -> None:
    begun = AppointmentFactory(start=timezone.now() - timedelta(minutes=5))
    assert client.post(url(begun)).status_code == 410
    assert reloaded(begun).patient_confirmed_at is None


def test_the_link_works_whoever_is_signed_in(client: Any, visit: Appointment) -> None:
    """The token is the proof, as with the pre-care link: a shared family computer signed in as someone else."""
    client.force_login(PatientFactory().user)
    assert client.post(url(visit)).status_code == 302
    assert reloaded(visit).patient_confirmed_via == "email"


def test_other_methods_are_refused(client: Any, visit: Appointment) -> None:
    assert client.put(url(visit)).status_code == 405
    assert reloaded(visit).patient_confirmed_at is None
