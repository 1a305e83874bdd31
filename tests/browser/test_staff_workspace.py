"""The staff workspace in a real browser (desktop, 1366x900): booking for a
patient and checking them in, a clinic closure moving and cancelling its
appointments, and the due list emptying once a session is booked."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from booking import services
from booking.models import Appointment, ClinicClosure, Notification, WorkingHours
from clinic.formats import phone_text
from patients.models import Patient
from tests.factories import HealthDeclarationFactory, PatientFactory, RoomFactory
from tests.pages.staff_fixtures import PASSWORD, at, make_clinic, next_workday, overdue_plan


def sign_in(page: Any, base_url: str, user: Any) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))


def watch_console(page: Any) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: message.type == "error" and errors.append(f"{message.text} @ {page.url} {message.location}"),
    )
    return errors


def works_all_day(practitioner: Any) -> None:
    """Hours round the clock, so a time is free today whenever the test runs."""
    WorkingHours.objects.filter(practitioner=practitioner).delete()
    WorkingHours.objects.bulk_create(
        WorkingHours(practitioner=practitioner, weekday=day, start=time(0), end=time(23, 59)) for day in range(7)
    )


def test_receptionist_books_a_patient_and_checks_them_in(page: Any, base_url: str, shot: Any) -> None:
    now = timezone.localtime()
    if now.hour == 23 and now.minute >= 15:
        pytest.skip("no bookable time is left today")
    clinic = make_clinic()
    works_all_day(clinic.practitioner)
    errors = watch_console(page)
    sign_in(page, base_url, clinic.receptionist)
    shot("schedule")

    page.get_by_role("link", name="Book for a patient").first.click()
    page.wait_for_load_state("load")  # htmx is in (deferred scripts), so typing searches
    page.get_by_label("Find a patient by name, phone or email").fill("wing")
    result = page.get_by_role("link", name=re.compile("Wing Lee"))
    expect(result).to_be_visible()
    shot("patient-found")
    result.click()
    page.wait_for_load_state("load")  # the deferred scripts (auto-submitting choices) are in
    page.get_by_label("Treatment", exact=True).select_option(label="Glycolic peel (30 min)")
    page.get_by_label("Practitioner", exact=True).select_option(label=clinic.practitioner.name)
    expect(page.locator("#screening")).to_contain_text("Nothing in the patient's health questionnaire")
    times = page.locator(".time-option label")
    expect(times.first).to_be_visible()
    shot("screening-and-times")
    chosen = times.first.inner_text().split("\n")[0].strip()
    times.first.click()
    page.get_by_label("Note for the team (optional)").fill("First visit")
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("status")).to_contain_text("Booked Glycolic peel for Wing Lee")
    appointment = Appointment.objects.get(patient=clinic.patient)
    assert timezone.localtime(appointment.start).strftime("%H:%M") == chosen
    assert appointment.notes == "First visit" and appointment.booked_by == clinic.receptionist
    assert Notification.objects.filter(appointment=appointment, kind="confirmation").exists()

    block = page.locator(f'[data-appointment="{appointment.pk}"]')
    expect(block).to_contain_text("Wing Lee")
    expect(block).to_contain_text("Booked")
    shot("day-view-with-booking")
    block.click()
    dialog = page.locator("#appointment-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Wing Lee")).to_be_visible()
    # A receptionist completes nothing: that is the practitioner's session record.
    expect(dialog.get_by_role("link", name=re.compile("Complete"))).to_have_count(0)
    shot("appointment-actions")
    dialog.get_by_role("button", name="Check in").click()
    expect(dialog).to_contain_text("Wing Lee is checked in.")
    expect(block).to_contain_text("Checked in")  # the schedule behind refreshed itself
    shot("checked-in")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # Focus is back on the appointment's link, although the grid behind the dialog was redrawn.
    expect(block.get_by_role("link", name=re.compile("Wing Lee"))).to_be_focused()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN
    assert not [e for e in errors if "Content Security Policy" in e], errors

    page.get_by_role("link", name="Week", exact=True).click()
    today_head = page.locator(".day-head.is-today")
    expect(today_head).to_contain_text("Today")
    week_block = page.locator(f'.week-time-grid [data-appointment="{appointment.pk}"]')
    expect(week_block).to_contain_text("Wing Lee")
    expect(week_block).to_contain_text("Checked in")
    # In today's column: the block starts where today's header starts.
    head_box, block_box = today_head.bounding_box(), week_block.bounding_box()
    assert (
        abs(head_box["x"] - block_box["x"]) < 6
        and block_box["x"] + block_box["width"] <= head_box["x"] + head_box["width"] + 1
    )
    shot("week-view")
    week_block.click()
    expect(dialog.get_by_role("heading", name="Wing Lee")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    page.get_by_role("button", name="繁體中文").click()
    expect(page.get_by_role("link", name="日", exact=True)).to_be_visible()
    shot("week-view-chinese")
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot("week-view-narrow")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_role("link", name="日", exact=True).click()
    expect(page.locator(f'[data-appointment="{appointment.pk}"]')).to_contain_text("已到診")
    shot("day-view-chinese")

    # Nothing breaks at 360 px: the grid scrolls inside its own box.
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot("narrow")


def test_new_patient_without_login_walks_in_past_a_screening_block(page: Any, base_url: str, shot: Any) -> None:
    now = timezone.localtime()
    if now.hour == 23 and now.minute >= 15:
        pytest.skip("no bookable time is left today")
    clinic = make_clinic()
    works_all_day(clinic.practitioner)
    sign_in(page, base_url, clinic.receptionist)
    page.goto(f"{base_url}/staff/book/")
    page.get_by_label("Find a patient by name, phone or email").fill("Chan Tai Man")
    expect(page.locator("#patient-results")).to_contain_text("No patient matches")
    page.get_by_text("New patient (no login needed)").click()
    page.get_by_label("Full name").fill("Chan Tai Man")
    page.get_by_label("Mobile phone").fill("12")
    page.get_by_label("Date of birth").fill("1992-03-04")
    page.get_by_role("button", name="Register and continue").click()
    expect(page.get_by_label("Mobile phone")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Full name")).to_have_value("Chan Tai Man")
    shot("phone-invalid")
    page.get_by_label("Mobile phone").fill("6123 4567")
    page.get_by_role("button", name="Register and continue").click()
    expect(page.get_by_role("status")).to_contain_text("Chan Tai Man is registered (no login yet)")
    page.wait_for_load_state("load")
    patient = Patient.objects.get(full_name="Chan Tai Man")
    assert patient.user_id is None and patient.phone == "+85261234567"

    page.get_by_label("Treatment", exact=True).select_option(label="Glycolic peel (30 min)")
    screening = page.locator("#screening")
    expect(screening).to_contain_text("Screening blocks this treatment")
    expect(screening).to_contain_text("health questionnaire")
    shot("screening-blocks")
    page.get_by_role("button", name="Book as walk-in").click()
    expect(page.get_by_role("alert").first).to_contain_text("say why you are going ahead")
    expect(page.get_by_label("Why go ahead despite the screening")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Why go ahead despite the screening").fill("Paper questionnaire checked at the desk")
    page.get_by_role("button", name="Book as walk-in").click()
    expect(page.get_by_role("status")).to_contain_text("Booked Glycolic peel for Chan Tai Man")
    shot("walked-in")
    page.goto(f"{base_url}/staff/book/?patient={patient.pk}&treatment={clinic.treatment.pk}")
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot("book-at-360")
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.source == Appointment.Source.WALK_IN
    assert appointment.override_reason == "Paper questionnaire checked at the desk"
    assert timezone.localtime(appointment.start).date() == timezone.localdate()


def test_clinic_closure_cancels_and_moves_the_days_appointments(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    day = next_workday()
    booked = []
    for hour in (10, 11, 15, 16):
        patient = PatientFactory()
        HealthDeclarationFactory(patient=patient)
        booked.append(
            services.appointment_book(
                patient=patient,
                treatment=clinic.treatment,
                start=at(day, hour),
                practitioner=clinic.practitioner,
                booked_by=clinic.receptionist,
                staff=True,
            )
        )
    sign_in(page, base_url, clinic.manager)
    page.get_by_role("link", name="Closures").click()
    page.get_by_label("Kind").select_option("weather")
    page.get_by_label("Closed from").fill(f"{day}T00:00")
    page.get_by_label("Closed until").fill(f"{day}T23:59")
    page.get_by_label("Reason", exact=True).fill("Typhoon signal No. 8")
    shot("closure-form")
    page.get_by_role("button", name="Save the closure").click()
    expect(page.get_by_role("heading", name="Clinic closure")).to_be_visible()
    rows = page.locator("table.affected tbody tr")
    expect(rows).to_have_count(4)
    for appointment in booked:
        expect(page.locator("table.affected")).to_contain_text(appointment.patient.full_name)
    shot("affected")

    # One by one: the last patient asked for a particular day.
    wanted = next_workday(day)
    rows.filter(has_text=booked[3].patient.full_name).get_by_role("link", name="Pick a new time").click()
    page.wait_for_load_state("load")
    page.get_by_label("New date").fill(str(wanted))
    page.get_by_role("button", name="Show free times").click()
    expect(page.get_by_text("Free times on")).to_be_visible()
    shot("pick-a-new-time")
    page.get_by_role("button", name="14:00", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("the patient is emailed")
    expect(rows).to_have_count(3)
    one_by_one = booked[3]
    one_by_one.refresh_from_db()
    assert one_by_one.start == at(wanted, 14)

    # In bulk: cancel two with a reason, move the third to its next free time.
    page.get_by_label(f"Select {booked[2].patient.full_name}").uncheck()
    page.get_by_label("Reason given to the patients").fill("Typhoon signal No. 8: the clinic is closed")
    page.get_by_role("button", name="Cancel the selected and email the patients").click()
    expect(page.get_by_role("status")).to_contain_text("2 cancelled, patients emailed")
    expect(rows).to_have_count(1)
    shot("after-cancel")
    page.get_by_role("button", name="Move the selected to their next free times").click()
    expect(page.get_by_role("status")).to_contain_text("1 moved to their next free times")
    expect(page.get_by_text("No booked appointments fall in this time.")).to_be_visible()
    shot("after-move")

    for appointment in booked[:2]:
        appointment.refresh_from_db()
        assert appointment.status == Appointment.Status.CANCELLED
        assert appointment.cancellation_reason == "Typhoon signal No. 8: the clinic is closed"
        assert Notification.objects.filter(appointment=appointment, kind="cancellation").exists()
    moved = booked[2]
    moved.refresh_from_db()
    closure = ClinicClosure.objects.get()
    assert moved.status == Appointment.Status.CONFIRMED and moved.start >= closure.end
    for appointment in (moved, one_by_one):
        assert Notification.objects.filter(appointment=appointment, kind="reschedule").exists()


def test_due_list_shows_an_overdue_patient_until_booked(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    plan = overdue_plan(clinic, days_ago=45)
    session = plan.sessions.get(number=1)
    sign_in(page, base_url, clinic.receptionist)
    page.get_by_role("link", name="Due sessions").click()
    row = page.locator(f'tr[data-session="{session.pk}"]')
    expect(row).to_contain_text("Wing Lee")
    expect(row).to_contain_text(phone_text(clinic.patient.phone))  # grouped: "+852 9123 4567"
    expect(row.locator(f'a[href="tel:{clinic.patient.phone}"]')).to_have_count(1)
    expect(row).to_contain_text("days overdue")
    shot("due-list")
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.set_viewport_size({"width": 1366, "height": 900})
    row.get_by_role("link", name="Book").click()
    page.wait_for_load_state("load")
    expect(page.locator(".chosen-patient")).to_contain_text("Wing Lee")
    expect(page.get_by_text("Plan session 1")).to_be_visible()
    page.get_by_label("Day").fill(str(next_workday()))
    page.get_by_label("Day").dispatch_event("change")
    times = page.locator(".time-option label")
    expect(times.first).to_be_visible()
    shot("book-plan-session")
    times.first.click()
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_role("status")).to_contain_text("Booked Glycolic peel for Wing Lee")
    session.refresh_from_db()
    assert session.status == "booked"
    page.get_by_role("link", name="Due sessions").click()
    expect(page.locator(f'tr[data-session="{session.pk}"]')).to_have_count(0)
    expect(page.get_by_text("Nobody is due")).to_be_visible()
    shot("due-list-empty")


def test_the_timer_leaves_a_keyboard_user_and_an_open_dialog_alone(
    page: Any, base_url: str, shot: Any, settings: Any
) -> None:
    settings.STAFF_SCHEDULE_REFRESH_SECONDS = 1
    clinic = make_clinic()
    day = next_workday()

    def booked(hour: int, name: str) -> Appointment:
        patient = PatientFactory(full_name=name)
        HealthDeclarationFactory(patient=patient)
        return services.appointment_book(
            patient=patient,
            treatment=clinic.treatment,
            start=at(day, hour),
            practitioner=clinic.practitioner,
            booked_by=clinic.receptionist,
            staff=True,
        )

    first = booked(10, "Chan Siu Ming")
    RoomFactory(kind=clinic.treatment.room_kind)
    patient = PatientFactory(full_name="Ng Wai Man")
    HealthDeclarationFactory(patient=patient)
    beside = services.appointment_book(
        patient=patient,
        treatment=clinic.treatment,
        start=at(day, 10),
        practitioner=clinic.other,
        booked_by=clinic.receptionist,
        staff=True,
    )
    errors = watch_console(page)
    sign_in(page, base_url, clinic.receptionist)
    page.goto(f"{base_url}/staff/?view=week&date={day}")
    page.wait_for_load_state("load")
    poll = page.locator("[data-schedule-poll]")

    # The week grid: two practitioners at 10:00 side by side in the day's column, neither hiding the other.
    one = page.locator(f'[data-appointment="{first.pk}"]').bounding_box()
    two = page.locator(f'[data-appointment="{beside.pk}"]').bounding_box()
    head = page.locator(f'.day-head[data-day="{day}"]').bounding_box()
    assert abs(one["y"] - two["y"]) < 2 and (one["x"] + one["width"] <= two["x"] or two["x"] + two["width"] <= one["x"])
    for box in (one, two):
        assert head["x"] - 1 <= box["x"] and box["x"] + box["width"] <= head["x"] + head["width"] + 1
    expect(page.locator(f'[data-appointment="{beside.pk}"]')).to_contain_text(clinic.other.name)
    shot("week-grid-lanes")

    # Nobody in the grid: the timer brings in a booking made elsewhere.
    booked(11, "Lee Ka Wai")
    expect(page.get_by_text("Lee Ka Wai")).to_be_visible(timeout=5000)

    # A keyboard user in the grid keeps their place: the timer waits.
    block = page.locator(f'[data-focus-key="appt-{first.pk}"]')
    block.focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    expect(block).to_be_focused()
    booked(12, "Wong Mei Yee")
    page.wait_for_timeout(2500)
    expect(block).to_be_focused()
    assert int(poll.get_attribute("data-skipped") or 0) >= 1
    expect(page.get_by_text("Wong Mei Yee")).to_have_count(0)
    shot("focus-kept")

    # An open dialog is not disturbed either.
    page.keyboard.press("Enter")
    dialog = page.locator("#appointment-dialog")
    expect(dialog.get_by_role("heading", name="Chan Siu Ming")).to_be_visible()
    skipped = int(poll.get_attribute("data-skipped") or 0)
    page.wait_for_timeout(2500)
    assert int(poll.get_attribute("data-skipped") or 0) > skipped
    expect(dialog).to_be_visible()
    assert page.evaluate("document.getElementById('appointment-dialog').contains(document.activeElement)")
    shot("dialog-kept")
    page.keyboard.press("Escape")
    expect(block).to_be_focused()

    # Once focus leaves the grid, the next tick refreshes it.
    page.get_by_role("link", name="Book for a patient").first.focus()
    expect(page.get_by_text("Wong Mei Yee")).to_be_visible(timeout=5000)
    shot("refreshed-after-leaving")
    assert not [e for e in errors if "Content Security Policy" in e], errors
