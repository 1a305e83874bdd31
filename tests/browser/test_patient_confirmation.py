"""The patient's "I'm coming" in Chromium: the tick on the schedule's block
stays inside it, the list of who has not confirmed opens the visit's panel,
and the reminder email's page confirms in one tap on a phone. Axe on each."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from booking import attendance, services
from booking.models import Appointment
from tests.browser.test_schedule_layout import axe_violations, book
from tests.browser.test_staff_workspace import sign_in, watch_console
from tests.pages.staff_fixtures import make_clinic, next_workday


def test_the_schedule_shows_who_confirmed_and_who_has_not(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    day = next_workday()
    confirmed = book(clinic, day, 10, clinic.practitioner, "Chan Tai Man")
    book(clinic, day, 11, clinic.practitioner, "Ho Ka Yan")
    book(clinic, day, 14, clinic.other, "Lee Siu Ming")
    assert services.appointment_patient_confirm(appointment=confirmed, via="whatsapp", now=timezone.now())
    errors = watch_console(page)
    sign_in(page, base_url, clinic.receptionist)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base_url}/staff/?date={day}")

    badge = page.locator(".day-grid .appt .confirmed-badge")
    expect(badge).to_have_count(1)
    expect(badge).to_be_visible()
    block = page.locator(f'.day-grid .appt[data-appointment="{confirmed.pk}"]').bounding_box()
    inside = badge.bounding_box()
    assert block is not None and inside is not None
    assert block["x"] <= inside["x"] and inside["x"] + inside["width"] <= block["x"] + block["width"] + 0.5
    awaiting = page.locator("details.awaiting-confirmation")
    expect(awaiting.locator("summary")).to_have_text("2 visits not confirmed by the patient yet")
    awaiting.locator("summary").click()
    shot("schedule")
    assert axe_violations(page) == []

    awaiting.get_by_role("link", name="Ho Ka Yan").click()
    panel = page.locator("#appointment-panel")
    expect(panel).to_contain_text("Not yet confirmed by the patient")
    shot("panel")
    page.keyboard.press("Escape")
    page.locator(f'.day-grid .appt[data-appointment="{confirmed.pk}"] .appt-open').click()
    expect(panel).to_contain_text("Confirmed by the patient (WhatsApp, ")
    assert errors == []


def test_the_email_link_confirms_in_one_tap_on_a_phone(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    visit = book(clinic, next_workday(), 10, clinic.practitioner, "Chan Tai Man")
    errors = watch_console(page)
    page.goto(f"{base_url}/visits/confirm/{attendance.token_for(visit)}/")
    expect(page.get_by_role("heading", name="Are you coming?")).to_be_visible()
    shot("question")
    assert axe_violations(page) == []

    page.get_by_role("button", name="Yes, I'm coming").click()
    expect(page.get_by_text("You confirmed")).to_be_visible()
    expect(page.get_by_text("Thank you: we look forward to seeing you.")).to_be_visible()
    shot("confirmed")
    assert axe_violations(page) == []
    assert Appointment.objects.get(pk=visit.pk).patient_confirmed_via == "email"
    assert errors == []
