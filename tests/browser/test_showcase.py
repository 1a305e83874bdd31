"""The demo clinic's public face in a browser (issue 16): the home page leads
with the clinic's featured treatments, and practitioners appear with photo,
title and bio on the treatment page and the booking step. Screenshots at a
phone's, a laptop's and a wide screen's width; axe stays clean."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import Page, expect

from booking.models import Practitioner
from booking.profiles import practitioner_photo_remove
from tests.browser.axe import WCAG_AA

WIDTHS = (390, 1280, 1920)


@pytest.fixture
def demo(settings: Any, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(tmp_path)}},
    }
    settings.DEBUG = True  # seed_demo refuses otherwise
    call_command("seed_demo", stdout=StringIO())
    settings.DEBUG = False


def _axe(page: Page) -> list[str]:
    results = Axe().run(page, options=WCAG_AA)
    return [
        f"{page.url}: {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]


def _photos_loaded(page: Page) -> None:
    """Every practitioner photo on the page arrived and decoded (no broken image)."""
    images = page.locator("img.avatar")
    expect(images.first).to_be_visible()
    for image in images.all():
        image.scroll_into_view_if_needed()
        assert image.evaluate("i => i.complete && i.naturalWidth === 480"), image.get_attribute("src")


def test_home_treatment_page_and_practitioner_step(page: Page, base_url: str, demo: None, shot: Any) -> None:
    problems: list[str] = []  # the browser's own /favicon.ico request is another part of issue 16
    page.on("response", lambda r: r.status >= 400 and "favicon" not in r.url and problems.append(f"{r.status} {r.url}"))
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(base_url + "/")
        featured = page.locator("section.featured .treatment-card h3")
        expect(featured.first).to_have_text("Scar consultation and assessment")
        expect(featured.nth(1)).to_have_text("Fractional CO2 laser resurfacing")
        expect(page.locator("section.featured")).not_to_contain_text("steroid")
        shot(f"home-{width}")

        page.goto(base_url + "/treatments/subcision/")
        who = page.locator("section", has=page.get_by_role("heading", name="Who performs this"))
        expect(who.get_by_role("heading", name="Karen Wong")).to_be_visible()
        expect(who).to_contain_text("plastic surgeon")
        _photos_loaded(page)
        shot(f"treatment-{width}")

        page.goto(base_url + "/book/?treatment=pico-laser")
        expect(page.get_by_role("heading", name="Who would you like to see?")).to_be_visible()
        expect(page.get_by_role("link", name="Cherry Lam")).to_contain_text("registered nurse")
        _photos_loaded(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(f"practitioner-step-{width}")
    found = _axe(page)

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="繁體中文").first.click()
    expect(page.get_by_role("heading", name="你想由哪位醫護人員診治？")).to_be_visible()
    expect(page.locator(".practitioner-choice").first).to_contain_text("醫")
    shot("practitioner-step-zh-390")
    found += _axe(page)
    page.goto(base_url + "/treatments/subcision/")
    expect(page.get_by_role("heading", name="由誰主理")).to_be_visible()
    expect(page.locator(".practitioners")).to_contain_text("整形外科專科醫生")
    shot("treatment-zh-390")
    found += _axe(page)
    page.goto(base_url + "/")
    expect(page.get_by_role("heading", name="推介療程")).to_be_visible()
    shot("home-zh-390")
    found += _axe(page)
    assert not found, "\n".join(found)
    assert not problems, problems


def test_choosing_a_practitioner_by_keyboard(page: Page, base_url: str, demo: None) -> None:
    page.goto(base_url + "/book/?treatment=pico-laser")
    link = page.get_by_role("link", name="Cherry Lam")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Choose a day")).to_be_visible()
    expect(page.locator("aside.summary")).to_contain_text("Cherry Lam")


def test_initials_stand_in_for_a_missing_photo(page: Page, base_url: str, demo: None, shot: Any) -> None:
    cherry = Practitioner.objects.get(user__username="cherry.lam@example.com")
    practitioner_photo_remove(practitioner=cherry)
    page.goto(base_url + "/book/?treatment=hydrafacial")
    choice = page.get_by_role("link", name="Cherry Lam")
    expect(choice.locator(".avatar-initials")).to_have_text("CL")
    expect(choice.locator("img")).to_have_count(0)
    expect(page.get_by_role("link", name="Joyce Ho").locator("img.avatar")).to_be_visible()
    shot("initials-390")
    assert not _axe(page)
