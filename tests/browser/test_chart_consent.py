"""Completing a session without the patient's consent, in a real browser: the
session record page says who has not signed what; the manager gives a reason
and completes, and the record shows the override with their name."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from booking.models import SessionRecord
from tests.browser.test_chart_workflow import _sign_in
from tests.factories import ConsentFormFactory, ConsentVersionFactory, HealthDeclarationFactory, PatientFactory
from tests.pages.chart_fixtures import checked_in_plan_appointment, staff


def test_a_manager_completes_without_consent_giving_a_reason(page: Any, base_url: str, shot: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    manager = staff("manager")
    patient = PatientFactory(full_name="Chan Tai Man")
    HealthDeclarationFactory(patient=patient)
    form = ConsentFormFactory(slug="laser-resurfacing", title_en="laser and resurfacing", categories=["laser"])
    ConsentVersionFactory(form=form)
    appointment = checked_in_plan_appointment(patient, manager)

    _sign_in(page, base_url, manager.email)
    page.goto(f"{base_url}/staff/appointments/{appointment.pk}/record/")
    expect(page.locator(".consent-status")).to_contain_text(
        "Chan Tai Man has not signed the current consent for laser and resurfacing (version 1)."
    )
    page.get_by_label("Left cheek").check()
    shot("consent-missing")
    page.get_by_role("button", name="Complete session").click()
    expect(page.get_by_role("alert")).to_contain_text("has not signed the current consent")
    page.get_by_label("Reason for completing without the patient's consent").fill("Signed on paper; scan follows")
    page.get_by_role("button", name="Complete session").click()
    expect(page.get_by_text("The session was recorded and the appointment completed.")).to_be_visible()
    expect(page.get_by_text("Completed without the patient's consent by")).to_be_visible()
    shot("completed-with-override")
    page.set_viewport_size({"width": 390, "height": 844})
    shot("completed-with-override-phone")
    record = SessionRecord.objects.get(appointment=appointment)
    assert record.consent_override_reason == "Signed on paper; scan follows" and record.consent_override_by == manager
