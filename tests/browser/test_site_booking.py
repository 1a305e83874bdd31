"""The patient's booking flow in a real browser on a phone: a new patient in
both languages, a slot taken meanwhile, screening that blocks, reschedule and
cancel. Screenshots of each step go to test-results/."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from booking import services
from booking.models import Appointment
from patients.models import Patient
from tests.factories import HealthDeclarationFactory, PatientFactory
from tests.pages.site_fixtures import PASSWORD, at, make_clinic, next_weekday


@pytest.fixture
def shot(shot: Callable[[str], Any], page: Page) -> Callable[[str], Any]:
    """The shared ``shot``, minus an artefact: Playwright hides the caret for a
    screenshot by giving inputs an empty ``style`` attribute, which htmx then
    copies onto the swapped-in inputs, a (harmless) CSP report that would hide
    real ones."""

    def take(name: str) -> Any:
        path = shot(name)
        page.evaluate(
            "document.querySelectorAll('[style]').forEach(e => e.getAttribute('style') || e.removeAttribute('style'))"
        )
        return path

    return take


def _watch_console(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(f"{page.url} {message.text}"))
    return errors


def _choose_day_and_time(page: Page, shot: Any, *, time_label: str | None = None) -> str:
    page.locator("a.day-free").first.click()
    expect(page.locator("ul.times a").first).to_be_visible()
    shot("times")
    button = page.locator("ul.times a", has_text=time_label) if time_label else page.locator("ul.times a").first
    chosen = button.first.inner_text().strip()
    button.first.click()
    return chosen


def _answer_no_to_everything(page: Page) -> None:
    for radio in page.locator("input[type=radio][value=no]").all():
        radio.check()


def _register(page: Page, email: str) -> None:
    page.locator("#id_full_name").fill("Chan Tai Man")
    page.locator("#id_email").fill(email)
    page.locator("#id_phone").fill("9123 4567")
    page.locator("#id_date_of_birth").fill("1995-05-17")
    page.locator("#id_password").fill("a-long-secret-phrase")


def test_new_patient_books_in_english(page: Page, base_url: str, shot: Any) -> None:
    make_clinic()
    errors = _watch_console(page)
    page.goto(base_url + "/")
    expect(page.get_by_role("heading", name="Acne marks and scars, treated with care")).to_be_visible()
    shot("home")
    page.get_by_role("link", name="Pitted scars (icepick, boxcar, rolling)").click()
    expect(page.get_by_role("heading", name="Treatments", exact=True)).to_be_visible()
    shot("treatments-pitted")
    page.get_by_role("link", name="Book Glycolic peel").click()

    expect(page.get_by_role("heading", name="Who would you like to see?")).to_be_visible()
    shot("practitioner")
    page.get_by_role("link", name=re.compile("^Any practitioner")).click()
    expect(page.get_by_role("heading", name="Choose a day")).to_be_visible()
    shot("calendar")
    # The step came in by htmx; switching language mid-flow stays on it.
    page.get_by_role("button", name="繁體中文").click()
    expect(page.get_by_role("heading", name="選擇日子")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Choose a day")).to_be_visible()
    chosen = _choose_day_and_time(page, shot)
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    page.go_back()  # the browser's back button walks the steps (htmx keeps no copy: asks the server)
    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    page.go_forward()

    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    summary = page.locator("aside.summary")
    expect(summary).to_contain_text("Glycolic peel")
    expect(summary).to_contain_text(chosen)
    expect(summary).to_contain_text("Hong Kong time")
    shot("details")
    page.get_by_role("button", name="Create account and continue").click()
    expect(page.locator("#id_full_name")).to_have_attribute("aria-invalid", "true")
    shot("details-errors")
    _register(page, "new.patient@example.com")
    page.get_by_role("button", name="Create account and continue").click()

    expect(page.get_by_role("heading", name="A few health questions")).to_be_visible()
    expect(summary).to_contain_text(chosen)  # nothing lost by signing up
    page.get_by_role("button", name="Save answers and continue").click()
    expect(page.get_by_role("alert").filter(has_text="still need an answer")).to_be_visible()
    shot("questionnaire-errors")
    _answer_no_to_everything(page)
    shot("questionnaire")
    page.get_by_role("button", name="Save answers and continue").click()

    expect(page.get_by_role("heading", name="Check and confirm")).to_be_visible()
    expect(page.get_by_text("Your health answers raise no concerns")).to_be_visible()
    shot("confirm")
    page.get_by_role("button", name="Confirm booking").click()

    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    expect(page.get_by_text(chosen).first).to_be_visible()
    expect(page.get_by_role("heading", name="How to prepare")).to_be_visible()
    ics = page.get_by_role("link", name=re.compile("Add to calendar"))
    expect(ics).to_have_attribute("href", re.compile(r"/appointments/\d+/calendar\.ics$"))
    shot("confirmation")
    response = page.request.get(base_url + ics.get_attribute("href"))
    assert response.ok and "BEGIN:VEVENT" in response.text()

    appointment = Appointment.objects.get(patient__email="new.patient@example.com")
    assert appointment.treatment.slug == "peel" and appointment.status == "confirmed"
    assert Patient.objects.get(email="new.patient@example.com").health_declarations.count() == 1
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_new_patient_books_in_traditional_chinese(page: Page, base_url: str, shot: Any) -> None:
    make_clinic()
    errors = _watch_console(page)
    page.goto(base_url + "/")
    page.get_by_role("button", name="繁體中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")
    shot("home")
    page.goto(base_url + "/book/")
    expect(page.get_by_role("heading", name="你想預約甚麼？")).to_be_visible()
    shot("treatments")
    page.get_by_role("link", name=re.compile("果酸換膚")).click()
    expect(page.get_by_role("heading", name="你想由哪位醫護人員診治？")).to_be_visible()
    shot("practitioner")
    page.get_by_role("link", name=re.compile("^任何醫護人員")).click()
    expect(page.get_by_role("heading", name="選擇日子")).to_be_visible()
    shot("calendar")
    chosen = _choose_day_and_time(page, shot)

    expect(page.get_by_role("heading", name="你的資料")).to_be_visible()
    shot("details")
    _register(page, "chan@example.com")
    page.get_by_role("button", name="建立帳戶並繼續").click()
    expect(page.get_by_role("heading", name="幾條健康問題")).to_be_visible()
    _answer_no_to_everything(page)
    shot("questionnaire")
    page.get_by_role("button", name="儲存答案並繼續").click()
    expect(page.get_by_role("heading", name="核對並確認")).to_be_visible()
    expect(page.locator("aside.summary")).to_contain_text("香港時間")
    shot("confirm")
    page.get_by_role("button", name="確認預約").click()
    expect(page.get_by_role("heading", name="預約成功")).to_be_visible()
    expect(page.get_by_text(chosen).first).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("加入日曆"))).to_be_visible()
    shot("confirmation")
    patient = Patient.objects.get(email="chan@example.com")
    assert patient.preferred_language == "zh-hant"
    assert patient.appointments.get().status == "confirmed"
    assert not [e for e in errors if "Content Security Policy" in e], errors


def _sign_in_inline(page: Page, patient: Patient) -> None:
    page.get_by_role("link", name="I have an account").click()
    page.locator("#id_signin-username").fill(patient.email)
    page.locator("#id_signin-password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in and continue").click()


def test_a_time_taken_meanwhile_offers_fresh_times(page: Page, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    day = next_weekday()
    page.goto(f"{base_url}/book/?treatment=peel&practitioner=any&date={day.isoformat()}")
    shot("times")
    page.locator("ul.times a", has_text="11:00").click()
    _sign_in_inline(page, patient)
    expect(page.get_by_role("heading", name="Check and confirm")).to_be_visible()
    shot("confirm")

    # Two other patients take 11:00 with both practitioners before this one confirms.
    for _ in range(2):
        other = PatientFactory()
        HealthDeclarationFactory(patient=other)
        services.appointment_book(
            patient=other,
            treatment=clinic.peel,
            start=at(day, 11),
            practitioner=None,
            booked_by=other.user,
            staff=False,
        )
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("status").filter(has_text="was booked by someone else")).to_be_visible()
    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    expect(page.locator("ul.times a", has_text="11:00")).to_have_count(0)
    expect(page.locator("aside.summary")).to_contain_text("Glycolic peel")
    shot("fresh-times")
    page.locator("ul.times a", has_text="11:30").click()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    shot("booked")
    assert patient.appointments.get().start == at(day, 11, 30)


def test_screening_blocks_and_offers_a_consultation(page: Page, base_url: str, shot: Any) -> None:
    make_clinic()
    patient = PatientFactory()
    day = next_weekday()
    page.goto(f"{base_url}/book/?treatment=peel&practitioner=any&date={day.isoformat()}&time=10:00")
    _sign_in_inline(page, patient)
    expect(page.get_by_role("heading", name="A few health questions")).to_be_visible()
    _answer_no_to_everything(page)
    page.locator("input[name=pregnant_or_breastfeeding][value=yes]").check()
    shot("questionnaire-pregnant")
    page.get_by_role("button", name="Save answers and continue").click()

    expect(page.get_by_role("heading", name="We need to see you first")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("pregnant")
    expect(page.get_by_role("button", name="Confirm booking")).to_have_count(0)
    shot("blocked")
    page.get_by_role("link", name="Book a consultation instead").click()
    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    expect(page.locator("aside.summary")).to_contain_text("Scar consultation")
    shot("consultation-times")
    page.locator("ul.times a").first.click()
    expect(page.get_by_role("heading", name="Check and confirm")).to_be_visible()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    shot("consultation-booked")
    assert patient.appointments.get().treatment.slug == "consultation"


def test_patient_reschedules_then_cancels(page: Page, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    day = next_weekday(days=3)
    appointment = services.appointment_book(
        patient=patient, treatment=clinic.peel, start=at(day, 10), practitioner=clinic.first,
        booked_by=patient.user, staff=False,
    )  # fmt: skip
    page.goto(base_url + "/accounts/login/?next=/appointments/")
    page.get_by_label("Email").fill(patient.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My appointments")).to_be_visible()
    expect(page.locator(".status-booked")).to_have_text("Booked")
    shot("list")
    page.get_by_role("link", name=re.compile("Glycolic peel")).click()
    expect(page.get_by_text("You can change or cancel online up to 24 hours before")).to_be_visible()
    shot("detail")
    page.get_by_role("link", name="Choose another time").click()
    expect(page.get_by_role("heading", name="Choose a day")).to_be_visible()
    shot("reschedule-calendar")
    target = page.locator(f'a.day-free[href*="date={day.isoformat()}"]')
    if not target.count():  # late in a month the first free day is in this month, the day in the next
        page.get_by_role("link", name=re.compile("^Next month")).click()
    target.click()
    page.locator("ul.times a", has_text="15:00").click()
    expect(page.get_by_role("heading", name="Move your appointment?")).to_be_visible()
    shot("reschedule-confirm")
    page.get_by_role("button", name="Confirm the new time").click()
    expect(page.get_by_text("Your appointment has moved")).to_be_visible()
    expect(page.get_by_text("15:00").first).to_be_visible()
    shot("rescheduled")
    appointment.refresh_from_db()
    assert appointment.start == at(day, 15) and appointment.practitioner_id == clinic.first.pk

    page.get_by_text("Cancel this appointment").click()
    page.get_by_label("Reason (optional)").fill("Travelling")
    shot("cancel-open")
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_text("Your appointment is cancelled")).to_be_visible()
    expect(page.locator(".status-cancelled").first).to_have_text("Cancelled")
    shot("cancelled")
    appointment.refresh_from_db()
    assert appointment.status == "cancelled" and appointment.cancellation_reason == "Travelling"
