"""A patient follows their progress and sets their account; a password reset through the emailed link."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core import mail
from playwright.sync_api import Page, expect

from patients.models import Patient
from tests.factories import PatientFactory
from tests.pages.account_fixtures import add_photo, plan, scores
from treatments.services import clinic_today

PASSWORD = "correct-horse-battery"


def _sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/accounts/login/?next=/progress/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_patient_follows_their_progress_and_sets_language_and_reminders(
    page: Page, base_url: str, shot: Callable[[str], Any]
) -> None:
    patient = PatientFactory(full_name="Chan Tai Man", preferred_language="en", reminders_opt_out=False)
    first, _middle, latest = scores(patient, [38, 30, 22], clinic_today() - timedelta(days=100), every_days=45)
    add_photo(first, "front", (190, 110, 100))
    add_photo(latest, "front", (215, 170, 160))
    plan(patient, sessions=4, done=2)

    _sign_in(page, base_url, patient.email)
    expect(page.get_by_role("heading", name="My progress", level=1)).to_be_visible()
    shot("progress")

    chart = page.locator("svg.chart")
    expect(chart).to_be_visible()
    expect(chart.locator("circle.point")).to_have_count(3)
    expect(chart.locator("line.session")).to_have_count(2)
    expect(page.get_by_text("16 points lower")).to_be_visible()
    chart.scroll_into_view_if_needed()
    shot("chart")

    pair = page.locator(".compare").first
    pair.scroll_into_view_if_needed()
    images = pair.locator("img")
    expect(images).to_have_count(2)
    for index in range(2):
        expect(images.nth(index)).to_be_visible()
        # Served by the app to this patient: the picture decoded (a broken image has no natural width).
        assert images.nth(index).evaluate("img => img.complete && img.naturalWidth > 0")
    left, right = images.nth(0).bounding_box(), images.nth(1).bounding_box()
    assert left and right and abs(left["y"] - right["y"]) < 2 and right["x"] > left["x"] + left["width"] - 1
    shot("photos-side-by-side")

    book = page.get_by_role("link", name=re.compile("Book session 3"))
    expect(book).to_have_attribute("href", re.compile(r"^/book/\?plan_session=\d+$"))
    page.get_by_role("link", name=re.compile("All sessions of this course")).click()
    expect(page.get_by_role("heading", name="Pico laser", level=1)).to_be_visible()
    expect(page.locator("[aria-labelledby=sessions-heading] .session-row")).to_have_count(4)
    expect(page.locator("[aria-labelledby=sessions-heading] .state-done")).to_have_count(2)
    shot("plan")
    page.go_back()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    shot("account")
    page.get_by_label("繁體中文").check()
    shot("account-changed")
    page.get_by_role("button", name="Save my details").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")
    expect(page.get_by_text("你的資料已儲存。")).to_be_visible()
    # Reminders and plan reminders off, in "How we contact you".
    page.get_by_role("group", name="預約提示").get_by_label("首選").select_option("off")
    page.get_by_role("group", name="下次療程提示").get_by_label("首選").select_option("off")
    shot("contact-changed")
    page.get_by_role("button", name="儲存聯絡方式").click()
    expect(page.get_by_text("已儲存，我們日後會以此方式聯絡你。")).to_be_visible()
    expect(page.get_by_role("group", name="預約提示").get_by_label("首選")).to_have_value("off")
    shot("saved-in-chinese")
    patient.refresh_from_db()
    assert patient.preferred_language == "zh-hant" and patient.reminders_opt_out is True

    # The choice stays with the whole site.
    page.get_by_role("navigation").get_by_role("link", name="我的進度").click()
    expect(page.get_by_role("heading", name="我的進度", level=1)).to_be_visible()
    expect(page.locator("svg.chart")).to_be_visible()
    shot("progress-in-chinese")

    # Nothing spills sideways on a small phone, in the longer of the two languages' layouts.
    page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/progress/", "/me/"):
        page.goto(f"{base_url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    shot("account-at-360")


def _wait_for_mail(count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(getattr(mail, "outbox", [])) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(mail.outbox) >= count, "the reset email did not arrive"


def test_a_phoned_in_patient_sets_a_password_through_the_emailed_link(
    page: Page, base_url: str, shot: Callable[[str], Any]
) -> None:
    mail.outbox.clear()
    record = PatientFactory(user=None, email="phoned@example.com", full_name="Lee Ka Yan")

    page.goto(f"{base_url}/accounts/login/")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    shot("ask-for-a-link")
    page.get_by_label("Email").fill("phoned@example.com")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    shot("check-your-email")

    _wait_for_mail(1)
    message = mail.outbox[-1]
    assert message.to == ["phoned@example.com"]
    path = re.search(r"https?://[^/\s]+(/account/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert path, message.body
    page.goto(f"{base_url}{path.group(1)}")
    # The token left the address bar.
    expect(page).to_have_url(re.compile(r"/account/reset/[^/]+/set-password/$"))
    expect(page.get_by_text("phoned@example.com")).to_be_visible()
    shot("choose-a-password")

    page.get_by_label("New password", exact=True).fill("12345")
    page.get_by_label("New password again").fill("12345")
    page.get_by_role("button", name="Save password and sign in").click()
    expect(page.locator("#id_new_password1_error")).to_be_visible()
    shot("too-weak")

    page.get_by_label("New password", exact=True).fill("my-own-passphrase-1")
    page.get_by_label("New password again").fill("my-own-passphrase-1")
    page.get_by_role("button", name="Save password and sign in").click()
    expect(page.get_by_text("Your password is set and you are signed in.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    shot("signed-in")
    record = Patient.objects.select_related("user").get(pk=record.pk)
    assert record.user is not None and record.user.check_password("my-own-passphrase-1")

    # The link works once.
    page.goto(f"{base_url}{path.group(1)}")
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    expect(page.get_by_role("button", name="Email me a new link")).to_be_visible()
    shot("used-link")
