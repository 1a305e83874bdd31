"""Every page, as each kind of user sees it on a 360 px phone, against the demo clinic.

The demo data (``seed_demo`` with its history) gives each page something real
to show: Emily Cheung's assessments, photos and plan, today's appointments.
For each page: it answers 200, nothing is wider than the screen, the browser
reports no content-security-policy violation or failed request, and the page
is screenshotted (test-results/). The Traditional Chinese pass also checks that
no English is left on the patient's pages.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from booking.models import Appointment
from patients.models import Patient
from tests.pages.helpers import english_words
from treatments.models import TreatmentPlan

DEMO_PASSWORD = "clinic-demo"


@pytest.fixture
def demo(settings: Any) -> dict[str, Any]:
    settings.DEBUG = True  # seed_demo refuses otherwise; the live server's own settings are unaffected
    call_command("seed_demo", stdout=StringIO())
    settings.DEBUG = False
    emily = Patient.objects.get(user__username="patient@example.com")
    return {
        "emily": emily,
        "appointment": Appointment.objects.filter(patient=emily).order_by("-start").first(),
        "plan": TreatmentPlan.objects.filter(patient=emily).first(),
        "today": Appointment.objects.filter(start__date__gte=timezone.localdate()).order_by("start").first(),
    }


def _sign_in(page: Any, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_load_state()


def _visit_all(page: Any, base_url: str, shot: Any, paths: list[str], *, chinese: bool = False) -> None:
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    page.set_viewport_size({"width": 360, "height": 740})
    for path in paths:
        response = page.goto(f"{base_url}{path}")
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        expect(page.locator("h1").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 362, f"{path} is {width}px wide on a 360px screen"
        if chinese:
            names = [p.full_name for p in Patient.objects.all()]
            left = english_words(page.content(), allow=names)
            assert not left, f"{path}: English left: {sorted(left)}"
        shot(path.strip("/").replace("/", "_").replace("?", "_") or "home")
    assert not problems, problems


def test_every_patient_page_in_english_and_chinese(page: Any, base_url: str, shot: Any, demo: dict) -> None:
    _sign_in(page, base_url, "patient@example.com")
    paths = [
        "/",
        "/treatments/",
        "/treatments/pico-laser/",
        "/book/?treatment=pico-laser",
        "/appointments/",
        f"/appointments/{demo['appointment'].pk}/",
        "/me/",
        "/me/password/",
        "/me/devices/",
        "/me/health/",
        "/me/access-log/",
        "/progress/",
        f"/plans/{demo['plan'].pk}/",
    ]
    _visit_all(page, base_url, shot, paths)
    page.get_by_role("button", name="繁體中文").first.click()
    page.wait_for_load_state()
    _visit_all(page, base_url, shot, paths, chinese=True)


@pytest.mark.parametrize("who", ["reception@example.com", "doctor@example.com"])
def test_every_staff_page(page: Any, base_url: str, shot: Any, demo: dict, who: str) -> None:
    _sign_in(page, base_url, who)
    emily = demo["emily"]
    paths = [
        "/staff/",
        "/staff/book/",
        "/staff/closures/",
        "/staff/due/",
        "/staff/no-shows/",
        "/staff/notifications/failed/",
        "/staff/patients/",
        f"/staff/patients/{emily.pk}/",
        f"/staff/appointments/{demo['today'].pk}/",
    ]
    if who.startswith("doctor"):
        paths.append(f"/staff/patients/{emily.pk}/assessments/new/")
    _visit_all(page, base_url, shot, paths)
