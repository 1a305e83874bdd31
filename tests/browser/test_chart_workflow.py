"""A practitioner's day in the chart, in a real browser at desktop size: open a
patient's chart, record an assessment with photos while the score follows the
counts as they are typed, then complete a session through the session record
form and see the plan move on; correct a saved assessment."""

from __future__ import annotations

import io
import re
from typing import Any

from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from booking.models import Appointment, SessionRecord
from tests.factories import HealthDeclarationFactory, PatientFactory
from tests.pages.chart_fixtures import assess, checked_in_plan_appointment, staff
from treatments.models import Assessment, PlanSession
from treatments.scoring import goodman_baron_score


def _image(fmt: str, color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), color=color).save(buffer, format=fmt)
    return buffer.getvalue()


def _sign_in(page: Any, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill("correct-horse-battery")
    page.locator("#id_password").press("Enter")
    page.wait_for_url(f"{base_url}/staff/")


def test_a_practitioner_records_an_assessment_and_completes_a_session(page: Any, base_url: str, shot: Any) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    doctor = staff("practitioner")
    patient = PatientFactory(full_name="Chan Siu Ying", fitzpatrick_type=3)
    HealthDeclarationFactory(patient=patient, cold_sore_history=True)
    appointment = checked_in_plan_appointment(patient, doctor)

    _sign_in(page, base_url, doctor.email)

    # Find the patient and open the chart.
    page.goto(f"{base_url}/staff/patients/")
    page.get_by_label("Search by name, phone or email").fill("siu ying")
    expect(page.locator("#patient-results").get_by_role("link", name="Chan Siu Ying")).to_be_visible()
    shot("patients-search")
    page.locator("#patient-results").get_by_role("link", name="Chan Siu Ying").click()
    expect(page.get_by_role("heading", name="Chan Siu Ying", level=1)).to_be_visible()
    expect(page.locator(".chart-summary")).to_contain_text("History of cold sores")
    shot("chart")

    # A new assessment: the score follows the counts as they are typed.
    page.locator(".chart-actions").get_by_role("link", name="New assessment").click()
    expect(page.get_by_role("heading", name="New assessment")).to_be_visible()
    score = page.locator("#score output")
    expect(score).to_have_text("0")
    page.get_by_label("Macular: flat, red or brown").press_sequentially("12", delay=40)
    expect(score).to_have_text(str(goodman_baron_score({"macular": 12})))
    shot("score-after-macular")
    page.get_by_label("Punched-out, shallow base, under 5 mm").fill("25")
    expected = goodman_baron_score({"macular": 12, "punched_out_shallow": 25})
    expect(score).to_have_text(str(expected))
    page.get_by_label("Deep, broad atrophic areas").fill("4")
    expected = goodman_baron_score({"macular": 12, "punched_out_shallow": 25, "broad_deep": 4})
    expect(score).to_have_text(str(expected))
    page.get_by_label("Keloidal or hypertrophic area (cm²)").fill("2.5")
    expected = goodman_baron_score({"macular": 12, "punched_out_shallow": 25, "broad_deep": 4}, 2.5)  # type: ignore[arg-type]
    expect(score).to_have_text(str(expected))
    page.get_by_label("Qualitative grade", exact=True).select_option("3")
    expect(page.locator("#score [data-grade]")).to_have_text("3 moderate")
    # A negative count is named in the score box instead of a wrong score.
    page.get_by_label("Mildly atrophic, dish-like").fill("-2")
    expect(page.locator("#score")).to_contain_text("Fix these to see the score")
    page.get_by_label("Mildly atrophic, dish-like").fill("")
    expect(score).to_have_text(str(expected))
    page.get_by_label("Rolling scar").check()
    page.get_by_label("Choose photos").set_input_files(
        [
            {"name": "front.png", "mimeType": "image/png", "buffer": _image("PNG", (200, 120, 90))},
            {"name": "left.jpg", "mimeType": "image/jpeg", "buffer": _image("JPEG", (180, 100, 80))},
        ]
    )
    expect(page.locator(".upload-preview")).to_have_count(2)  # front, then left 45°: the views in order
    page.get_by_label("Notes").fill("Baseline before the laser course.")
    shot("assessment-filled")
    page.get_by_role("button", name="Save assessment").click()

    expect(page.get_by_text(f"Goodman & Baron score {expected}, 2 photos")).to_be_visible()
    assessment = Assessment.objects.get(patient=patient)
    assert assessment.quantitative_score == expected and assessment.photos.count() == 2
    expect(page.locator("#assessments svg.chart.trend-wide")).to_be_visible()
    page.get_by_role("navigation", name="Sections of the chart").get_by_role("link", name="Photos").click()
    photos = page.locator("#photos-compare img")
    expect(photos).to_have_count(1)  # one photo per view so far: the front view is shown
    loaded = "[...document.querySelectorAll('#photos-compare img')].every(i => i.complete && i.naturalWidth > 0)"
    for _ in range(50):  # polled from Python: wait_for_function would need eval, which the CSP forbids
        if page.evaluate(loaded):
            break
        page.wait_for_timeout(100)
    assert page.evaluate(loaded), "the photos did not load"
    shot("chart-with-assessment")

    # The checked-in appointment: record the session.
    page.get_by_role("navigation", name="Sections of the chart").get_by_role("link", name="Appointments").click()
    page.locator("#appointments").get_by_role("link", name="Record session").click()
    expect(page.get_by_role("heading", name="Session record")).to_be_visible()
    page.get_by_label("Left cheek").check()
    page.get_by_label("Right cheek").check()
    page.get_by_label("Device").fill("PicoSure")
    page.get_by_label("Wavelength (nm)").fill("755")
    page.get_by_label("Fluence (J/cm²)").fill("0.71")
    page.get_by_label("Passes").fill("2")
    page.get_by_label("Pain (0 to 10)").select_option("3")
    # A value out of range is answered in place; what was typed stays.
    page.get_by_label("Spot size (mm)").fill("300")
    page.get_by_role("button", name="Complete session").click()
    expect(page.get_by_text("Give a number from 0 to 30.")).to_be_visible()
    expect(page.get_by_label("Device")).to_have_value("PicoSure")
    expect(page.get_by_label("Spot size (mm)")).to_have_attribute("aria-invalid", "true")
    shot("session-error-in-place")
    page.get_by_label("Spot size (mm)").fill("8")
    page.get_by_label("Spot size (mm)").press("Enter")  # Enter submits

    expect(page.get_by_text("The session was recorded and the appointment completed.")).to_be_visible()
    expect(page.locator(".plan-summary")).to_contain_text("1 of 3 sessions done")
    next_session = appointment.plan_session.plan.sessions.get(number=2)
    book = page.get_by_role("link", name="Book session 2").first
    expect(book).to_have_attribute("href", f"/staff/book/?patient={patient.pk}&plan_session={next_session.pk}")
    shot("session-completed-plan-advanced")

    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.COMPLETED
    record = SessionRecord.objects.get(appointment=appointment)
    assert record.parameters["fluence_j_cm2"] == 0.71 and record.areas == ["left_cheek", "right_cheek"]
    first = PlanSession.objects.get(pk=appointment.plan_session_id)
    assert first.status == PlanSession.Status.COMPLETED and first.completed_on == timezone.localdate(appointment.start)

    # The chart shows the session and the plan's progress; nothing broke the content security policy.
    page.goto(f"{base_url}/staff/patients/{patient.pk}/records/")
    expect(page.locator("#records")).to_contain_text("PicoSure")
    page.goto(f"{base_url}/staff/patients/{patient.pk}/plans/")
    expect(page.locator("#plans")).to_contain_text("1 of 3 sessions done")
    shot("chart-after-session")
    page.set_viewport_size({"width": 360, "height": 740})
    shot("chart-at-360")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for path in (f"/staff/patients/{patient.pk}/assessments/new/", f"/staff/appointments/{appointment.pk}/record/"):
        page.goto(f"{base_url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    shot("session-record-at-360")
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_keyboard_only_closes_dialogs_with_escape(page: Any, base_url: str, shot: Any) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    doctor = staff("manager")
    _sign_in(page, base_url, doctor.email)
    page.goto(f"{base_url}/staff/patients/")
    page.get_by_role("button", name="New patient").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#new-patient")
    expect(dialog).to_be_visible()
    shot("new-patient-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # Adding a patient from the dialog with the keyboard.
    page.get_by_role("button", name="New patient").click()
    dialog.get_by_label("Full name").fill("Lam Wing Sze")
    dialog.get_by_label("Date of birth").fill("1992-04-05")
    dialog.get_by_label("Phone").fill("6123 4567")
    dialog.get_by_label("Phone").press("Enter")
    expect(page.get_by_role("heading", name="Lam Wing Sze", level=1)).to_be_visible()
    expect(page.locator(".risks")).to_contain_text("Health declaration missing.")
    shot("new-patient-chart")


def test_a_practitioner_corrects_an_assessment_and_adds_a_photo(page: Any, base_url: str, shot: Any) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    doctor = staff("practitioner")
    doctor.first_name, doctor.last_name = "Wong", "Ka Yan"
    doctor.save()
    patient = PatientFactory(full_name="Lau Mei Kuen", fitzpatrick_type=3)
    HealthDeclarationFactory(patient=patient)
    assessment = assess(patient, doctor, photos=1, macular=12, punched_out_shallow=25)
    saved = assessment.quantitative_score
    _sign_in(page, base_url, doctor.email)

    page.goto(f"{base_url}/staff/patients/{patient.pk}/assessments/")
    row = page.locator(f"#assessment-{assessment.pk}")
    expect(row).to_contain_text(str(saved))
    shot("correct-01-chart-before")
    row.get_by_role("link", name="Correct").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Correct the assessment of")
    score = page.locator("#score output")
    expect(score).to_have_text(str(saved))  # starts from the saved values
    expect(page.get_by_label("Macular: flat, red or brown")).to_have_value("12")
    expect(page.locator(".saved-photos img")).to_have_count(1)
    shot("correct-02-prefilled")

    # The score follows the corrected counts as they are typed.
    macular = page.get_by_label("Macular: flat, red or brown")
    macular.fill("")
    macular.press_sequentially("3", delay=40)
    expected = goodman_baron_score({"macular": 3, "punched_out_shallow": 25})
    expect(score).to_have_text(str(expected))
    page.get_by_label("Deep, broad atrophic areas").fill("4")
    expected = goodman_baron_score({"macular": 3, "punched_out_shallow": 25, "broad_deep": 4})
    expect(score).to_have_text(str(expected))
    shot("correct-03-live-score")

    # Saving without a reason is answered in place; what was typed stays.
    page.get_by_role("button", name="Save correction").click()
    reason = page.get_by_label("Reason for the correction")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Say why the assessment is corrected")).to_be_visible()
    expect(page.get_by_label("Deep, broad atrophic areas")).to_have_value("4")
    expect(score).to_have_text(str(expected))
    shot("correct-04-reason-needed")
    reason.fill("Recounted the macular scars")
    page.get_by_label("Choose photos").set_input_files(
        {"name": "left.jpg", "mimeType": "image/jpeg", "buffer": _image("JPEG", (180, 100, 80))}
    )
    page.locator(".upload-preview").get_by_label("View").select_option("left_45")
    page.get_by_role("button", name="Save correction").click()

    expect(page.get_by_text(f"was corrected: Goodman & Baron score {expected}. 1 photo added.")).to_be_visible()
    row = page.locator(f"#assessment-{assessment.pk}")
    expect(row.locator("strong")).to_have_text(str(expected))
    expect(row).to_contain_text("Corrected")
    expect(row).to_contain_text("Wong Ka Yan")
    shot("correct-05-chart-after")
    row.get_by_role("link", name=re.compile("^Corrected")).click()  # to the change history
    page.wait_for_url(f"{base_url}/staff/patients/{patient.pk}/history/")
    expect(page.locator("#history tbody tr").first).to_contain_text("Assessment photo")  # the photo, added last
    history = page.locator("#history tbody tr").filter(has_text="corrected")
    expect(history).to_have_count(1)
    expect(history).to_contain_text("Goodman & Baron score")
    expect(history).to_contain_text(f"{saved} → {expected}")
    expect(history).to_contain_text("Reason: Recounted the macular scars")
    expect(page.locator("#history")).not_to_contain_text(f"#{doctor.pk}")
    page.locator("#history").scroll_into_view_if_needed()
    shot("correct-06-history")

    fresh = Assessment.objects.get(pk=assessment.pk)
    assert fresh.quantitative_score == expected and fresh.photos.count() == 2
    # In Traditional Chinese the page names its last correction.
    page.get_by_role("button", name="繁體中文").first.click()
    page.wait_for_load_state()
    page.goto(f"{base_url}/staff/patients/{patient.pk}/assessments/{assessment.pk}/correct/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("更正")
    expect(page.locator("main, body").first).to_contain_text("上次更正")
    shot("correct-07-chinese")
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{base_url}/staff/patients/{patient.pk}/assessments/{assessment.pk}/correct/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot("correct-08-at-360")
    assert not [e for e in errors if "Content Security Policy" in e], errors
