"""/api/v1/me/calendar-feed/: the caller's own private calendar feed, made,
reset, read and turned off through the API, and the address it gives working
(or not) at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from icalendar import Calendar
from rest_framework.test import APIClient

from booking.models import CalendarFeed
from patients.models import Patient
from tests.api.conftest import client_for
from tests.factories import PractitionerFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/calendar-feed/"


def fetch(url: str) -> Any:
    path = url.split("://", 1)[1].split("/", 1)[1]
    return Client().get(f"/{path}")


def test_a_patient_makes_reads_resets_and_turns_off_their_feed(patient_a: Patient, as_a: APIClient, settings) -> None:
    settings.CLINIC_BASE_URL = "https://clinic.example"
    assert as_a.get(URL).status_code == 404

    made = as_a.post(URL, {}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert set(body) == {"kind", "url", "webcal_url", "language", "created_at", "last_fetched_at"}
    assert body["kind"] == "patient"
    assert body["url"].startswith("https://clinic.example/calendar/") and body["url"].endswith(".ics")
    assert body["webcal_url"] == body["url"].replace("https://", "webcal://")
    assert body["last_fetched_at"] is None
    assert as_a.get(URL).json() == body
    assert Calendar.from_ical(fetch(body["url"]).content)

    reset = as_a.post(URL, {}, format="json").json()
    assert reset["url"] != body["url"]
    assert fetch(body["url"]).status_code == 404
    assert fetch(reset["url"]).status_code == 200
    assert as_a.get(URL).json()["last_fetched_at"] is not None

    assert as_a.delete(URL).status_code == 204
    assert fetch(reset["url"]).status_code == 404
    gone = as_a.get(URL)
    assert (gone.status_code, gone.json()["code"]) == (404, "not_found")
    assert as_a.delete(URL).status_code == 404
    assert CalendarFeed.objects.filter(user=patient_a.user, revoked_at__isnull=True).count() == 0


def test_a_patients_feed_speaks_their_preferred_language_whatever_they_send(as_a: APIClient, patient_a) -> None:
    Patient.objects.filter(pk=patient_a.pk).update(preferred_language="zh-hant")
    body = as_a.post(URL, {"language": "en"}, format="json").json()
    assert body["language"] == "zh-hant"


def test_a_practitioners_feed_takes_the_language_asked_or_the_requests() -> None:
    practitioner = PractitionerFactory()
    client = client_for(practitioner.user)
    chinese = client.post(URL, {}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hant").json()
    assert (chinese["kind"], chinese["language"]) == ("practitioner", "zh-hant")
    english = client.post(URL, {"language": "en"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hant").json()
    assert english["language"] == "en"
    assert fetch(chinese["url"]).status_code == 404


def test_each_patient_sees_only_their_own_feed(as_a: APIClient, as_b: APIClient) -> None:
    mine = as_a.post(URL, {}, format="json").json()
    assert as_b.get(URL).status_code == 404
    theirs = as_b.post(URL, {}, format="json").json()
    assert theirs["url"] != mine["url"]
    assert as_b.delete(URL).status_code == 204
    assert fetch(mine["url"]).status_code == 200


@pytest.mark.parametrize("role", ["receptionist", "manager"])
def test_staff_without_a_practitioner_profile_are_refused_with_a_reason(role: str) -> None:
    client = client_for(UserFactory(role=role))
    for method in ("get", "post", "delete"):
        response = getattr(client, method)(URL, format="json")
        assert response.status_code == 403
        assert response.json() == {
            "code": "permission_denied",
            "detail": "Only practitioners and patients have a calendar feed.",
        }
    assert not CalendarFeed.objects.exists()


def test_a_manager_who_is_also_a_practitioner_has_their_schedules_feed() -> None:
    manager = UserFactory(role="manager")
    PractitionerFactory(user=manager)
    response = client_for(manager).post(URL, {}, format="json")
    assert (response.status_code, response.json()["kind"]) == (201, "practitioner")


def test_signing_in_is_required(anonymous: APIClient) -> None:
    for method in ("get", "post", "delete"):
        assert getattr(anonymous, method)(URL).status_code == 401
