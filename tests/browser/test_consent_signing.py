"""A patient signs their consent on the canvas with the mouse, and another
with the keyboard alone (Tab, Space, Enter): both end with a stored signature,
the first with its drawing, the second with the typed name instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.test_every_page import axe_violations
from tests.factories import (
    AppointmentFactory,
    ConsentFormFactory,
    ConsentVersionFactory,
    PatientFactory,
    TreatmentFactory,
)
from treatments.models import Category, ConsentSignature

PASSWORD = "correct-horse-battery"


def _visit() -> Any:
    version = ConsentVersionFactory(
        form=ConsentFormFactory(
            slug="chemical-peel", title_en="Chemical peel consent", categories=[Category.PEEL.value]
        ),
        risks_en="Redness, swelling and peeling for a few days. Rarely, darker or lighter patches.",
    )
    patient = PatientFactory(full_name="Chan Tai Man", preferred_language="en")
    visit = AppointmentFactory(patient=patient, treatment=TreatmentFactory(category=Category.PEEL, name_en="TCA peel"))
    return version, visit


def _sign_in(page: Page, base_url: str, email: str, next_url: str) -> None:
    page.goto(f"{base_url}/accounts/login/?next={next_url}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_patient_signs_on_the_canvas_with_the_mouse(page: Page, base_url: str, shot: Callable[[str], Any]) -> None:
    version, visit = _visit()
    url = f"/appointments/{visit.pk}/consent/"
    _sign_in(page, base_url, visit.patient.email, url)
    expect(page.get_by_role("heading", name="Consent before your treatment", level=1)).to_be_visible()
    expect(page.get_by_text("Rarely, darker or lighter patches.")).to_be_visible()
    assert not axe_violations(page, url)
    shot("consent-390")

    page.get_by_label("Your full name").fill("Chan Tai Man")
    canvas = page.locator("canvas.pad")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] >= 300, "the pad is wide enough on a phone"
    for start, points in (
        ((0.1, 0.6), [(0.2, 0.3), (0.3, 0.7), (0.45, 0.35)]),
        ((0.55, 0.5), [(0.7, 0.55), (0.85, 0.45)]),
    ):
        page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
        page.mouse.down()
        for x, y in points:
            page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y, steps=5)
        page.mouse.up()
    drawn = page.locator("input[name=signature_svg]").input_value()
    assert drawn.startswith("<svg") and drawn.count("<path") == 2
    page.get_by_label("Teaching").check()
    shot("drawn")

    page.get_by_role("button", name="Sign · Chemical peel consent").click()

    expect(page.get_by_text("All done: your consent is signed")).to_be_visible()
    expect(page.get_by_text("Signed by Chan Tai Man")).to_be_visible()
    signature = ConsentSignature.objects.get(patient=visit.patient)
    assert signature.version == version and signature.channel == "online"
    assert signature.signature_svg.count("<path") == 2 and signature.photo_use == ["clinical", "teaching"]
    page.set_viewport_size({"width": 1280, "height": 800})
    shot("signed-1280")


def _tab_to(page: Page, check: str, most: int = 60) -> None:
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const e = document.activeElement; return !!e && ({check}); }})()"):
            return
    raise AssertionError(f"Tab never reached {check}")


def test_a_patient_signs_with_the_keyboard_alone(page: Page, base_url: str, shot: Callable[[str], Any]) -> None:
    version, visit = _visit()
    url = f"/appointments/{visit.pk}/consent/"
    page.set_viewport_size({"width": 1280, "height": 800})
    _sign_in(page, base_url, visit.patient.email, url)
    expect(page.get_by_role("heading", name="Consent before your treatment", level=1)).to_be_visible()
    shot("consent-1280")

    _tab_to(page, "e.name === 'full_name'")
    page.keyboard.press("Control+A")
    page.keyboard.type("Chan Tai Man")
    _tab_to(page, "e.name === 'typed'")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focus is visible"
    page.keyboard.press("Space")
    expect(page.locator("canvas.pad")).to_be_hidden()  # no drawing needed now
    _tab_to(page, "e.name === 'photo_marketing'")
    page.keyboard.press("Space")
    _tab_to(page, "e.type === 'submit' && e.classList.contains('consent-submit')")
    shot("typed")
    page.keyboard.press("Enter")

    expect(page.get_by_text("All done: your consent is signed")).to_be_visible()
    signature = ConsentSignature.objects.get(patient=visit.patient)
    assert signature.version == version and signature.signature_svg == ""
    assert signature.full_name == "Chan Tai Man" and signature.photo_use == ["clinical", "marketing"]
