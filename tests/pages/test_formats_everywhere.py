"""Issue 16: no page falls back to Django's own ways of writing a date, a time or money
("Dec. 7, 2026, midnight", "9 a.m.", "HKD 3500"): every one goes through
clinic/formats.py. Rendered against the demo clinic, every staff and patient page,
in both languages."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from booking.models import Appointment, ClinicClosure
from patients.models import Patient
from treatments.models import TreatmentPlan

pytestmark = pytest.mark.django_db

# What Django writes when a value skips the helper. ISO dates inside tags (URLs,
# <input type=date> values, datetime="") are machine formats and stay.
DJANGO_DEFAULTS = re.compile(
    r"\b(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\. \d{1,2}, \d{4}"
    r"|\b(?:January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}, \d{4}"
    r"|\bmidnight\b|\bnoon\b|\b\d{1,2}(?::\d{2})? ?[ap]\.m\."
    r"|HKD ?\d|\d{4}年\d{1,2}月\d{1,2}日 ?(?:上午|下午)"
)
ISO_DATE = re.compile(r"(?<![\w/=\"'-])\d{4}-\d{2}-\d{2}(?![\w\"'])")
TAG = re.compile(r"<[^>]*>|<script.*?</script>|<style.*?</style>", re.S)


def visible(html: str) -> str:
    return TAG.sub(" ", html)


@pytest.fixture
def demo(settings: Any) -> dict[str, Any]:
    settings.DEBUG = True  # seed_demo refuses otherwise
    call_command("seed_demo", stdout=StringIO())
    settings.DEBUG = False
    emily = Patient.objects.get(user__username="patient@example.com")
    today = Appointment.objects.filter(start__date__gte=timezone.localdate()).order_by("start").first()
    closure = ClinicClosure.objects.create(
        start=today.start, end=today.start + timezone.timedelta(hours=2), reason="Typhoon", kind="weather"
    )
    return {
        "emily": emily,
        "appointment": Appointment.objects.filter(patient=emily).order_by("-start").first(),
        "plan": TreatmentPlan.objects.filter(patient=emily).first(),
        "today": today,
        "closure": closure,
    }


def patient_paths(demo: dict[str, Any]) -> list[str]:
    return [
        "/",
        "/treatments/",
        "/treatments/pico-laser/",
        "/book/?treatment=pico-laser",
        "/appointments/",
        f"/appointments/{demo['appointment'].pk}/",
        "/me/",
        "/progress/",
        f"/plans/{demo['plan'].pk}/",
    ]


def staff_paths(demo: dict[str, Any]) -> list[str]:
    day = timezone.localtime(demo["today"].start).date()
    return [
        "/staff/",
        f"/staff/?date={day}&view=week",
        f"/staff/?date={day}&by=room",
        "/staff/book/",
        f"/staff/book/?date={day}",
        "/staff/closures/",
        f"/staff/closures/clinic/{demo['closure'].pk}/",
        "/staff/due/",
        "/staff/no-shows/",
        "/staff/notifications/failed/",
        "/staff/patients/",
        f"/staff/patients/{demo['emily'].pk}/",
        f"/staff/appointments/{demo['today'].pk}/",
        f"/staff/appointments/{demo['today'].pk}/reschedule/?date={day}",
    ]


def offenders(client: Client, paths: list[str], language: str) -> list[str]:
    client.cookies["django_language"] = language
    found = []
    for path in paths:
        response = client.get(path, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, path
        text = visible(response.content.decode())
        found += [f"{language} {path}: {m.group(0)!r}" for m in DJANGO_DEFAULTS.finditer(text)]
        found += [f"{language} {path}: ISO {m.group(0)!r}" for m in ISO_DATE.finditer(text)]
    return found


@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_patient_pages_write_dates_times_and_money_one_way(client: Client, demo: dict, language: str) -> None:
    client.force_login(demo["emily"].user)
    assert not offenders(client, patient_paths(demo), language)


@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_staff_pages_write_dates_times_and_money_one_way(client: Client, demo: dict, language: str) -> None:
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="reception@example.com"))
    assert not offenders(client, staff_paths(demo), language)
