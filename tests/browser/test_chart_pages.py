"""The chart's paged lists in a real browser: the count and the Previous/Next
links fit a phone and a desktop, pass axe's WCAG 2.2 AA checks, and the link
reaches the older assessments. Screenshots go under test-results/."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.axe import WCAG_AA
from tests.browser.test_chart_sections import _sign_in_staff
from tests.factories import PatientFactory
from tests.pages.chart_fixtures import staff
from tests.pages.test_chart_pages import MORE, _long_history
from workspace.chart.chart import PAGE_SIZE


def test_older_assessments_are_a_click_away_on_a_phone_and_a_desktop(page: Any, base_url: str, shot: Any) -> None:
    doctor = staff("practitioner")
    patient = PatientFactory(full_name="Ho Ka Yan")
    _long_history(patient, doctor)
    oldest = patient.assessments.order_by("assessed_on").first()
    _sign_in_staff(page, base_url, doctor.email)
    page.goto(f"{base_url}/staff/patients/{patient.pk}/assessments/")
    pages = page.get_by_role("navigation", name="Pages")
    expect(page.get_by_text(f"Showing 1–{PAGE_SIZE} of {MORE}, newest first.")).to_be_visible()
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 844 if width == 390 else 900})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
        pages.scroll_into_view_if_needed()
        shot(f"assessments-paged-{width}")
    violations = Axe().run(page, options=WCAG_AA).response["violations"]
    assert not violations, [f"{v['id']}: {v['help']}" for v in violations]
    pages.get_by_role("link", name="Next").click()
    expect(page.locator(f"#assessment-{oldest.pk}")).to_be_visible()
    expect(page.get_by_text(f"Showing {PAGE_SIZE + 1}–{MORE} of {MORE}, newest first.")).to_be_visible()
