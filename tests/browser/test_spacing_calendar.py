"""A signed-in patient with a HydraFacial booked opens the booking flow for a
peel: the calendar greys the days the gap rule refuses, marks them ×, and says
why under the month, on a phone and on a desktop, in both languages, with no
axe violation. Screenshots go to test-results/."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from booking.models import Appointment
from patients.models import Patient
from tests.booking.spacing_fixtures import make_gap_clinic
from tests.browser.test_every_page import axe_violations
from tests.factories import HealthDeclarationFactory, PatientFactory
from tests.pages.site_fixtures import PASSWORD

NAMES_ZH = {"hydrafacial": "水飛梭 HydraFacial", "peel-superficial": "淺層換膚"}


def _weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _booked_hydrafacial() -> tuple[Patient, Appointment]:
    clinic = make_gap_clinic()
    for slug, name in NAMES_ZH.items():
        clinic[slug].name_zh_hant = name
        clinic[slug].save(update_fields=["name_zh_hant"])
    patient = PatientFactory(full_name="Chan Tai Man")
    HealthDeclarationFactory(patient=patient)
    day = _weekday(timezone.localdate() + timedelta(days=10))
    start = timezone.make_aware(datetime.combine(day, time(11)))
    return patient, clinic.visit(patient, "hydrafacial", start)


def _sign_in(page: Page, base_url: str, patient: Patient, next_url: str) -> None:
    page.goto(f"{base_url}/accounts/login/?next={next_url}")
    page.get_by_label("Email").fill(patient.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _show_month_of(page: Page, day: date) -> None:
    """The calendar opens on the month of the first free day; the HydraFacial may be in the next."""
    if not page.locator(".day-blocked").count():
        page.get_by_role("link", name=re.compile("^Next month|^下個月")).click()
    expect(page.locator(".day-blocked").first).to_be_visible()


def test_the_peel_calendar_greys_the_days_around_a_booked_hydrafacial(
    page: Page, base_url: str, shot: Callable[[str], Any]
) -> None:
    patient, hydra = _booked_hydrafacial()
    hydra_day = timezone.localtime(hydra.start).date()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    _sign_in(page, base_url, patient, "/book/?treatment=peel-superficial")
    expect(page.get_by_role("heading", name="Who would you like to see?")).to_be_visible()
    page.get_by_role("link", name=re.compile("^Any practitioner")).click()
    expect(page.get_by_role("heading", name="Choose a day")).to_be_visible()
    _show_month_of(page, hydra_day)

    # The HydraFacial's own day and the 13 days either side cannot be booked: no link, a ×, the reason.
    calendar = page.locator(".calendar")
    for offset in (-1, 0, 1, 13):
        day = hydra_day + timedelta(days=offset)
        if day.month == hydra_day.month:
            expect(calendar.locator(f'a[href*="date={day.isoformat()}"]')).to_have_count(0)
    later = _weekday(hydra_day + timedelta(days=14))
    if later.month == hydra_day.month:
        expect(calendar.locator(f'a.day-free[href*="date={later.isoformat()}"]')).to_have_count(1)
    blocked = calendar.locator(".day-blocked")
    expect(blocked.first.locator(".day-cross")).to_have_text("×")
    expect(blocked.first).to_have_attribute("title", re.compile("Too close to your HydraFacial"))
    note = page.get_by_role("note")
    expect(note).to_contain_text("Days marked × cannot be booked for this treatment")
    expect(note).to_contain_text("Superficial peel must be at least 14 days after HydraFacial")

    for width, height in ((360, 740), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"no sideways scroll at {width}px"
        # Every reason stays inside the calendar's box: wrapped, not clipped or overflowing.
        box, note_box = calendar.bounding_box(), note.bounding_box()
        assert box and note_box and note_box["x"] + note_box["width"] <= box["x"] + box["width"] + 1
        shot(f"blocked-days-{width}")
        assert not axe_violations(page, f"peel calendar at {width}px")

    page.get_by_role("button", name="繁體中文").click()
    expect(page.get_by_role("heading", name="選擇日子")).to_be_visible()
    _show_month_of(page, hydra_day)
    expect(page.get_by_role("note")).to_contain_text("標有 × 的日子不能預約這項療程")
    expect(page.get_by_role("note").locator("li").first).to_contain_text("：與你")  # a Chinese colon
    expect(page.get_by_role("note")).to_contain_text("淺層換膚須在水飛梭 HydraFacial之後最少 14 天")
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot("blocked-days-zh-360")
    assert not axe_violations(page, "peel calendar in Chinese at 360px")
    assert not [e for e in errors if "Content Security Policy" in e], errors
