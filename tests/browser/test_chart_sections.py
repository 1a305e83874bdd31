"""The patient chart in a real browser: a summary header that stays at the top,
sections with their own URLs, photos compared at one view on two chosen dates,
and several photos uploaded at once with a preview (file chooser and drag and
drop). Screenshots at 390, 1280 and 1920 px go under test-results/."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import expect

from clinic import formats
from tests.browser.axe import WCAG_AA
from tests.browser.test_every_page import _sign_in, demo  # noqa: F401 - the demo clinic fixture
from tests.factories import PatientFactory
from tests.pages.chart_fixtures import assess, staff
from treatments.models import Assessment

SECTIONS = [
    ("Details", "", "Details and contact"),
    ("Assessments", "assessments/", "Assessments"),
    ("Photos", "photos/", "Photos compared"),
    ("Plans", "plans/", "Treatment plans"),
    ("Session records", "records/", "Session records"),
    ("Appointments", "appointments/", "Appointments"),
    ("History", "history/", "Change history"),
]
WIDTHS = (390, 1280, 1920)


def _png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), color=color).save(buffer, format="PNG")
    return buffer.getvalue()


def _sign_in_staff(page: Any, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill("correct-horse-battery")
    page.locator("#id_password").press("Enter")
    page.wait_for_url(f"{base_url}/staff/")


def _images_loaded(page: Any, selector: str) -> bool:
    script = f"[...document.querySelectorAll('{selector}')].every(i => i.complete && i.naturalWidth > 0)"
    for _ in range(50):  # polled from Python: wait_for_function would need eval, which the CSP forbids
        if page.evaluate(script):
            return True
        page.wait_for_timeout(100)
    return False


def test_each_section_has_its_own_url_and_the_summary_stays(page: Any, base_url: str, demo: dict, shot: Any) -> None:  # noqa: F811
    errors: list[str] = []
    # The favicon is another change's (issue 16, brand); anything else failing to load is ours.
    page.on("response", lambda r: r.status >= 400 and "favicon" not in r.url and errors.append(f"{r.status} {r.url}"))
    page.set_viewport_size({"width": 1280, "height": 800})
    _sign_in(page, base_url, "doctor@example.com")
    emily = demo["emily"]
    tall = 0
    chart = f"{base_url}/staff/patients/{emily.pk}/"
    page.goto(chart)
    menu = page.get_by_role("navigation", name="Sections of the chart")
    summary = page.locator(".chart-summary")
    expect(summary).to_contain_text(emily.full_name)
    expect(summary).to_contain_text("Next appointment")
    found = []
    for label, path, heading in SECTIONS:
        menu.get_by_role("link", name=label, exact=True).click()
        page.wait_for_url(chart + path)
        expect(page.get_by_role("heading", name=heading, level=2).first).to_be_visible()
        expect(menu.get_by_role("link", name=label, exact=True)).to_have_attribute("aria-current", "page")
        expect(menu.locator("[aria-current]")).to_have_count(1)
        page.reload()  # the section survives a reload: it is its own page
        expect(page.get_by_role("heading", name=heading, level=2).first).to_be_visible()
        # Scrolled to the end, the summary and the menu are still at the top of the window.
        top = page.locator(".chart-top").bounding_box()["y"]
        page.mouse.wheel(0, 20000)
        page.wait_for_timeout(150)
        scrolled = page.evaluate("window.scrollY")
        box = page.locator(".chart-top").bounding_box()
        assert box is not None and abs(box["y"] - max(0, top - scrolled)) < 1, (label, box, scrolled)
        tall += scrolled > top  # the sections long enough to scroll past the summary
        expect(summary.get_by_role("heading", name=emily.full_name)).to_be_in_viewport()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 844 if width == 390 else 900})
            page.evaluate("window.scrollTo(0, 0)")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (label, width)
            shot(f"{path.strip('/') or 'details'}-{width}")
        page.set_viewport_size({"width": 1280, "height": 800})
        results = Axe().run(page, options=WCAG_AA)
        found += [f"{path}: {v['id']}: {v['help']}" for v in results.response["violations"]]
    assert tall >= 2, "no section was long enough to show the summary staying"
    # The keyboard reaches the menu and follows it.
    page.goto(chart)
    menu.get_by_role("link", name="History", exact=True).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(chart + "history/")
    assert not found, "\n".join(found)
    assert not errors, errors


def test_photos_are_compared_at_one_view_on_two_chosen_dates(page: Any, base_url: str, shot: Any) -> None:
    doctor = staff("practitioner")
    patient = PatientFactory(full_name="Lam Ka Yee")
    old = assess(patient, doctor, days_ago=90, photos=2)
    middle = assess(patient, doctor, days_ago=45, photos=2, macular=8)
    assess(patient, doctor, days_ago=0, photos=2, macular=3)
    _sign_in_staff(page, base_url, doctor.email)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base_url}/staff/patients/{patient.pk}/photos/")
    # From the keyboard: choose, then the Compare button (a plain GET: the choice is in the URL).
    page.get_by_label("View", exact=True).focus()
    page.get_by_label("View", exact=True).select_option(label="Left 45°")
    page.get_by_label("Left: assessment of").select_option(str(old.pk))
    page.get_by_label("Right: assessment of").select_option(str(middle.pk))
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"view=left_45&a={old.pk}&b={middle.pk}"))
    photos = page.locator(".compare-pair img")
    expect(photos).to_have_count(2)
    left_photo = old.photos.get(view="left_45").pk
    right_photo = middle.photos.get(view="left_45").pk
    expect(photos.nth(0)).to_have_attribute("src", re.compile(rf"/photos/{left_photo}/image/$"))
    expect(photos.nth(1)).to_have_attribute("src", re.compile(rf"/photos/{right_photo}/image/$"))
    day = formats.date_text(old.assessed_on)
    expect(photos.nth(0)).to_have_attribute("alt", f"Left 45° view, {day}")
    assert _images_loaded(page, ".compare-pair img"), "the photos did not load"
    # Side by side even on a phone, and nothing wider than the screen.
    first, second = photos.nth(0).bounding_box(), photos.nth(1).bounding_box()
    assert first and second and first["x"] + first["width"] <= second["x"] and abs(first["y"] - second["y"]) < 2
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot("compare-390")
    page.reload()  # the choice is in the URL
    expect(page.get_by_label("Left: assessment of")).to_have_value(str(old.pk))
    # With the pointer a new date is shown at once.
    latest = page.get_by_label("Right: assessment of").locator("option").last.get_attribute("value")
    page.get_by_label("Right: assessment of").dispatch_event("pointerdown")
    page.get_by_label("Right: assessment of").select_option(latest)
    expect(page).to_have_url(re.compile(rf"a={old.pk}&b={latest}$"))
    expect(page.locator(".compare-pair img").nth(1)).to_have_attribute("alt", re.compile(r"^Left 45° view, "))
    for width in (1280, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        shot(f"compare-{width}")


def test_several_photos_are_uploaded_at_once_with_a_preview(page: Any, base_url: str, shot: Any) -> None:
    doctor = staff("practitioner")
    patient = PatientFactory(full_name="Ho Wai Man")
    _sign_in_staff(page, base_url, doctor.email)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base_url}/staff/patients/{patient.pk}/assessments/new/")
    page.get_by_label("Qualitative grade", exact=True).select_option("2")
    page.get_by_label("Macular: flat, red or brown").fill("4")
    # Two pictures and a text file through the chooser at once.
    page.get_by_label("Choose photos").set_input_files(
        [
            {"name": "front.png", "mimeType": "image/png", "buffer": _png((200, 120, 90))},
            {"name": "left.png", "mimeType": "image/png", "buffer": _png((180, 100, 80))},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture"},
        ]
    )
    previews = page.locator(".upload-preview")
    expect(previews).to_have_count(3)
    expect(previews.nth(0).locator("img")).to_have_attribute("alt", "Preview of front.png")
    expect(previews.nth(0).get_by_label("View")).to_have_value("front")
    expect(previews.nth(1).get_by_label("View")).to_have_value("left_45")
    expect(previews.nth(2)).to_contain_text("notes.txt is not a JPEG or PNG picture")
    assert _images_loaded(page, ".upload-preview img")
    # A third picture dropped onto the drop zone.
    data = page.evaluate_handle(
        """(b64) => { const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                      const dt = new DataTransfer();
                      dt.items.add(new File([bytes], 'right.png', {type: 'image/png'})); return dt; }""",
        base64.b64encode(_png((160, 90, 70))).decode(),
    )
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": data})
    expect(previews).to_have_count(4)
    expect(previews.nth(3).get_by_label("View")).to_have_value("right_45")
    # Two photos for one view are refused before sending.
    previews.nth(3).get_by_label("View").select_option("front")
    expect(previews.nth(3)).to_contain_text("Another photo is already set to this view")
    shot("upload-clash")
    previews.nth(3).get_by_label("View").select_option("right_90")
    previews.nth(2).get_by_role("button").click()
    expect(previews).to_have_count(3)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        shot(f"upload-{width}")
    page.get_by_role("button", name="Save assessment").click()
    expect(page.get_by_text("3 photos")).to_be_visible()
    assessment = Assessment.objects.get(patient=patient)
    assert sorted(assessment.photos.values_list("view", flat=True)) == ["front", "left_45", "right_90"]
    assert page.url.endswith(f"/staff/patients/{patient.pk}/assessments/")
