"""Issue 16: every appointment email holds on a 360 px phone, in both languages.

Each email's HTML is rendered in Chromium as a mail app would show it: nothing
wider than the screen, and every label (What, When, Where…) on a line of its own
at full width, never a narrow column wrapping one character a line. Screenshots at
360 and 1280 px go to test-results/ to be looked at.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from booking.emails import build_message
from booking.models import Appointment, Notification
from tests.factories import AppointmentFactory, PatientFactory, TreatmentFactory

LOGO = Path(__file__).resolve().parents[2] / "static" / "clinic" / "brand" / "logo.svg"
KINDS = ["confirmation", "reschedule", "cancellation", "reminder", "aftercare"]


def html_of(message: Any) -> str:
    return next(str(content) for content, kind in message.alternatives if kind == "text/html")


def appointment_for(language: str) -> Appointment:
    treatment = TreatmentFactory(
        slug="fractional-co2-laser-resurfacing",
        name_en="Fractional CO2 laser resurfacing for rolling and boxcar scars",
        name_zh_hant="點陣二氧化碳激光換膚（滾動型及箱型疤痕）",
        pre_care_en="Stop retinoid creams 48 hours before. Avoid sun for a week.",
        pre_care_zh_hant="療程前四十八小時停用A酸產品，一星期內避免曬太陽。",
    )
    patient = PatientFactory(full_name="Chan Tai Man" if language == "en" else "陳大文", preferred_language=language)
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(days=3)
    return AppointmentFactory(
        patient=patient,
        treatment=treatment,
        start=start,
        cancellation_reason="Typhoon signal No. 8: the clinic is closed all day.",
        cancelled_by=Appointment.CancelledBy.CLINIC,
    )


@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_every_email_holds_at_360px(page: Any, shot: Any, language: str) -> None:
    page.route("**/static/clinic/brand/logo.svg", lambda route: route.fulfill(path=str(LOGO)))
    appointment = appointment_for(language)
    now = timezone.now()
    for kind in KINDS:
        row = Notification(
            kind=kind,
            patient=appointment.patient,
            appointment=appointment,
            due_at=now,
            next_attempt_at=now,
            previous_start=appointment.start - timedelta(days=1),
            reason="Typhoon signal No. 8: the clinic is closed all day."
            if language == "en"
            else "八號風球，診所全日關閉。",
        )
        html = html_of(build_message(row, now=now))
        for width in (360, 1280):
            page.set_viewport_size({"width": width, "height": 800})
            page.set_content(html, wait_until="load")
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, f"{kind} at {width}px is {overflow}px wide"
            labels = page.locator("dt")
            content = page.evaluate("document.querySelector('body > div').getBoundingClientRect().width")
            for index in range(labels.count()):
                box = labels.nth(index).bounding_box()
                assert box is not None
                # A label has the message's full width and one line of its own.
                assert box["width"] >= content * 0.8, f"{kind}: label {index} is {box['width']}px wide"
                assert box["height"] < 30, f"{kind}: label {index} wraps ({box['height']}px tall)"
            shot(f"{kind}-{width}")
        assert labels.count() >= 2 or kind == "aftercare", kind


@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_the_inside_the_notice_warning_holds_at_360px(page: Any, shot: Any, language: str) -> None:
    page.route("**/static/clinic/brand/logo.svg", lambda route: route.fulfill(path=str(LOGO)))
    appointment = appointment_for(language)
    now = appointment.start - timedelta(hours=5)
    row = Notification(
        kind="confirmation", patient=appointment.patient, appointment=appointment, due_at=now, next_attempt_at=now
    )
    page.set_viewport_size({"width": 360, "height": 800})
    page.set_content(html_of(build_message(row, now=now)), wait_until="load")

    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    warning = page.get_by_text("+852 2123 4567").first
    assert warning.is_visible()
    shot("confirmation-inside-notice-360")
