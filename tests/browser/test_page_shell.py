"""The page shell in a real browser: the header (one row on desktops in both languages,
a short bar with a menu button on phones), the brand from settings (logo, accent,
favicon), toasts after staff actions, and registration errors shown as a field is left."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from clinic import brand
from tests.browser.test_staff_workspace import works_all_day
from tests.pages.staff_fixtures import PASSWORD, make_clinic

DESKTOP_WIDTHS = (1280, 1366, 1440)
LANGUAGES = (("en", "English"), ("zh-hant", "繁體中文"))

# The header's height and the vertical centre of every visible item in it (brand, menu
# links, language switch): one row means one centre, give or take a few pixels.
MEASURE = """() => {
  const header = document.querySelector('.site-header');
  const items = [...header.querySelectorAll('.brand, .main-nav .nav > li, .lang-switch, .menu-toggle')]
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden');
  const centres = items.map(e => { const r = e.getBoundingClientRect(); return r.top + r.height / 2; });
  const right = Math.max(...items.map(e => e.getBoundingClientRect().right));
  // Items laid over one another (a menu squeezed under the language switch) also break the row.
  const boxes = items.map(e => e.getBoundingClientRect()).sort((a, b) => a.left - b.left);
  const overlaps = boxes.slice(1).filter((b, i) => b.left < boxes[i].right - 1).length;
  return {height: header.getBoundingClientRect().height, centres, right, overlaps,
          texts: items.map(e => e.textContent.trim().slice(0, 20))};
}"""


def sign_in(page: Any, base_url: str, user: Any) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def choose_language(page: Any, label: str) -> None:
    button = page.locator(".lang-switch button", has_text=label)
    if button.get_attribute("aria-pressed") != "true":
        button.click()
        expect(page.locator(".lang-switch button", has_text=label)).to_have_attribute("aria-pressed", "true")


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager", "patient"])
def test_header_is_one_row_from_1280_px_in_both_languages(page: Any, base_url: str, shot: Any, role: str) -> None:
    clinic = make_clinic()
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, base_url, clinic.user(role))
    if role == "patient":
        page.goto(f"{base_url}/appointments/")
    for _, label in LANGUAGES:
        choose_language(page, label)
        for width in DESKTOP_WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            found = page.evaluate(MEASURE)
            spread = max(found["centres"]) - min(found["centres"])
            assert spread <= 4, f"{role}, {label}, {width}px: the header wraps ({found})"
            assert found["height"] <= 72, f"{role}, {label}, {width}px: header {found['height']}px high"
            assert found["right"] <= width, f"{role}, {label}, {width}px: the header is wider than the window"
            assert not found["overlaps"], f"{role}, {label}, {width}px: header items overlap ({found})"
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(f"{role}-{label}-1280")
    # Screenshots of the header at the three widths the issue names, for a person to look at.
    for width in (390, 1280, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        shot(f"{role}-{width}")


@pytest.mark.parametrize("role", ["receptionist", "manager"])
def test_staff_header_on_a_phone_is_one_short_row_with_a_menu(page: Any, base_url: str, shot: Any, role: str) -> None:
    clinic = make_clinic()
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, base_url, clinic.user(role))
    page.set_viewport_size({"width": 390, "height": 844})
    for _, label in LANGUAGES:
        choose_language(page, label)
        page.wait_for_load_state("load")
        height = page.evaluate("document.querySelector('.site-header').getBoundingClientRect().height")
        assert height <= 64, f"{label}: the staff header is {height}px high on a phone"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    choose_language(page, "English")
    page.wait_for_load_state("load")
    menu = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav.get_by_role("link", name="Patients")).to_be_hidden()
    shot("phone-closed")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Patients")).to_be_visible()
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    shot("phone-open")
    page.keyboard.press("Escape")
    expect(nav.get_by_role("link", name="Patients")).to_be_hidden()
    expect(menu).to_be_focused()
    # By keyboard: Enter opens it, and the links are next in the tab order.
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Schedule")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/staff/patients/$"))
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")


def test_patient_header_on_a_phone_stays_short(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    sign_in(page, base_url, clinic.patient.user)
    page.goto(f"{base_url}/appointments/")
    for _, label in LANGUAGES:
        choose_language(page, label)
        height = page.evaluate("document.querySelector('.site-header').getBoundingClientRect().height")
        assert height <= 112, f"{label}: the patient header is {height}px high on a phone"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(f"patient-phone-{label}")


def test_brand_comes_from_settings(page: Any, base_url: str, settings: Any, shot: Any) -> None:
    settings.CLINIC_ACCENT = "#7a2e8e"
    settings.CLINIC_LOGO = "clinic/brand/favicon.svg"
    problems: list[str] = []
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    page.goto(f"{base_url}/treatments/")
    expected = brand.palette("#7a2e8e")["accent"]
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
    assert accent == expected
    link_colour = page.evaluate(
        "getComputedStyle(document.querySelector('a.button.primary, .button.primary')).backgroundColor"
    )
    red, green, blue = (int(expected[i : i + 2], 16) for i in (1, 3, 5))
    assert link_colour == f"rgb({red}, {green}, {blue})"
    logo = page.locator("header .brand img")
    expect(logo).to_have_attribute("src", re.compile(r"clinic/brand/favicon(\.[0-9a-f]+)?\.svg$"))
    assert page.evaluate("document.querySelector('header .brand img').naturalWidth") > 0
    icon = page.locator("link[rel=icon]")
    expect(icon).to_have_attribute("href", re.compile(r"favicon"))
    assert page.request.get(base_url + icon.get_attribute("href")).ok
    favicon_ico = page.request.get(f"{base_url}/favicon.ico")
    assert favicon_ico.ok and "svg" in favicon_ico.headers["content-type"]
    shot("purple-clinic")
    assert not problems, problems

    settings.CLINIC_ACCENT = "#f4d03f"  # too light for white text: darkened until it reads
    page.reload()
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
    assert brand.contrast(accent, "#ffffff") >= 4.5


def test_staff_booking_shows_a_toast_in_a_live_region(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    works_all_day(clinic.practitioner)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, base_url, clinic.receptionist)
    tomorrow = timezone.localdate() + timedelta(days=1)  # a free time whatever the hour the test runs
    page.goto(f"{base_url}{reverse('staff:book')}?date={tomorrow.isoformat()}")
    page.wait_for_load_state("load")
    page.get_by_label("Find a patient by name, phone or email").fill("wing")
    page.get_by_role("link", name=re.compile("Wing Lee")).click()
    page.wait_for_load_state("load")
    page.get_by_label("Treatment", exact=True).select_option(label="Glycolic peel (30 min)")
    page.get_by_label("Practitioner", exact=True).select_option(label=clinic.practitioner.name)
    times = page.locator(".time-option label")
    expect(times.first).to_be_visible()
    times.first.click()
    page.get_by_role("button", name="Book this time").click()

    region = page.locator("#toasts")
    toast = region.locator("[data-toast]", has_text="Booked Glycolic peel for Wing Lee")
    expect(toast).to_be_visible()
    expect(region).to_have_attribute("role", "status")
    expect(region).to_have_attribute("aria-live", "polite")
    shot("toast")
    page.wait_for_timeout(3000)
    expect(toast).to_be_visible()  # not gone before it can be read
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_have_count(0)


def test_registration_shows_a_weak_password_when_the_field_is_left(page: Any, base_url: str, shot: Any) -> None:
    page.goto(f"{base_url}/accounts/register/")
    password = page.get_by_label("Choose a password")
    password.fill("short")
    password.press("Tab")
    expect(password).to_have_attribute("aria-invalid", "true")
    error = page.locator("#id_password_error")
    expect(error).to_contain_text("too short")
    described = password.get_attribute("aria-describedby") or ""
    assert "id_password_error" in described.split()
    shot("weak-password")
    password.fill("a-much-better-passphrase")
    password.press("Tab")
    expect(password).not_to_have_attribute("aria-invalid", "true")
    expect(error).to_be_hidden()

    # In Chinese, the same rule in the patient's language.
    page.get_by_role("button", name="繁體中文").click()
    password = page.locator("#id_password")
    password.fill("12345")
    password.press("Tab")
    expect(page.locator("#id_password_error")).to_contain_text(re.compile("[\u4e00-\u9fff]"))
    shot("weak-password-chinese")


def test_registration_submit_shows_every_error_at_once(page: Any, base_url: str, shot: Any) -> None:
    page.goto(f"{base_url}/accounts/register/")
    page.get_by_label("Full name").fill("Chan Tai Man")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Choose a password").fill("short")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Choose a password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_password_error")).to_contain_text("too short")
    shot("all-errors")


def test_a_managers_own_pages_sit_under_one_manage_menu(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, base_url, clinic.user("manager"))
    choose_language(page, "English")
    nav = page.get_by_role("navigation", name="Main")
    manage = nav.locator("summary", has_text="Manage")
    consent_forms = nav.get_by_role("link", name="Consent forms")
    expect(consent_forms).to_be_hidden()
    manage.click()
    for name in ("Consent forms", "Lot recall", "Access log", "Calendar feeds", "Settings"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    shot("manage-open")
    page.keyboard.press("Escape")
    expect(consent_forms).to_be_hidden()
    expect(manage).to_be_focused()
    # By keyboard: Enter opens it, the links follow in the tab order, and the page it opens is marked.
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(consent_forms).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/staff/consents/$"))
    expect(nav.locator("summary.current", has_text="Manage")).to_be_visible()
    # A click elsewhere closes it; on a phone it opens in place inside the menu.
    manage.click()
    page.locator("main").click(position={"x": 5, "y": 5})
    expect(nav.get_by_role("link", name="Consent forms")).to_be_hidden()
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Menu").click()
    nav.locator("summary", has_text="Manage").click()
    expect(nav.get_by_role("link", name="Lot recall")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot("manage-phone")
    # Other roles have no such menu.
    page.context.clear_cookies()
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, base_url, clinic.user("practitioner"))
    expect(page.get_by_role("navigation", name="Main").locator("summary", has_text="Manage")).to_have_count(0)
