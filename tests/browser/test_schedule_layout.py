"""The staff day and week schedule in Chromium: every column fits from 1280 px
(up to six), more scroll with the times and headers sticky, the week's days are
equally wide with names whole; blocks move by drag and drop or the keyboard's
Move dialog (refusals snap back with the service's reason); check-in is one
click on the block."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from booking import services
from booking.models import Appointment
from tests.browser.axe import WCAG_AA
from tests.browser.test_staff_workspace import sign_in, watch_console
from tests.factories import (
    AppointmentFactory,
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    UserFactory,
)
from tests.pages.staff_fixtures import at, make_clinic, next_workday


def axe_violations(page: Any) -> list[str]:
    results = Axe().run(page, options=WCAG_AA)
    return [
        f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in results.response["violations"]
    ]


def practitioners(clinic: Any, count: int) -> list[Any]:
    """The clinic's two and more, up to ``count``, each with a full surname."""
    extra = [
        PractitionerFactory(
            treatments=[clinic.treatment],
            user=UserFactory(role="practitioner", first_name="Christabel", last_name=f"Wong-Fitzgerald {n}"),
        )
        for n in range(count - 2)
    ]
    return [clinic.practitioner, clinic.other, *extra]


def book(clinic: Any, day: Any, hour: int, practitioner: Any, name: str, minute: int = 0) -> Appointment:
    patient = PatientFactory(full_name=name)
    HealthDeclarationFactory(patient=patient)
    return services.appointment_book(
        patient=patient,
        treatment=clinic.treatment,
        start=at(day, hour, minute),
        practitioner=practitioner,
        booked_by=clinic.receptionist,
        staff=True,
    )


def heads(page: Any) -> list[dict[str, float]]:
    return [head.bounding_box() for head in page.locator(".day-grid .col-head").all()]


def test_four_practitioners_fit_side_by_side(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    day = next_workday()
    for n, person in enumerate(practitioners(clinic, 4)):
        book(clinic, day, (10, 11, 12, 15)[n], person, f"Patient {n}")  # 13:00 is lunch
    errors = watch_console(page)
    sign_in(page, base_url, clinic.receptionist)
    for width, height in ((1280, 800), (1440, 900), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base_url}/staff/?date={day}")
        boxes = heads(page)
        assert len(boxes) == 4
        for box in boxes:
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
        assert max(b["width"] for b in boxes) - min(b["width"] for b in boxes) < 1.5  # equal widths
        shot(f"day-four-{width}")
    # A phone: one column at a time, the page itself never scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base_url}/staff/?date={day}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    first = heads(page)[0]
    assert first["x"] >= 0 and first["x"] + first["width"] <= 390
    shot("day-four-390")
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_eight_columns_scroll_with_the_times_and_headers_in_view(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    day = next_workday()
    people = practitioners(clinic, 8)
    book(clinic, day, 18, people[-1], "Last Column")
    sign_in(page, base_url, clinic.receptionist)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base_url}/staff/?date={day}")
    scroller = page.locator("#schedule-body .schedule-scroll")
    box = scroller.bounding_box()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth")  # eight do not fit: the box scrolls
    scroller.evaluate("el => el.scrollIntoView()")
    box = scroller.bounding_box()
    scroller.evaluate("el => { el.scrollLeft = el.scrollWidth; el.scrollTop = el.scrollHeight; }")
    label = page.locator('.time-label[data-time="18:00"]')
    time_box = label.bounding_box()
    assert abs(time_box["x"] - box["x"]) < 3  # still at the left edge after scrolling right
    assert box["y"] < time_box["y"] < box["y"] + box["height"]  # and scrolled down to the evening
    expect(label).to_be_in_viewport()
    last = page.locator(".col-head").last
    head_box = last.bounding_box()
    assert abs(head_box["y"] - box["y"]) < 3 and head_box["x"] + head_box["width"] <= box["x"] + box["width"] + 1
    expect(last).to_contain_text(people[-1].name)
    expect(page.locator(".appt", has_text="Last Column")).to_be_in_viewport()
    shot("day-eight-scrolled-1280")


def test_week_names_whole_and_days_equal(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    monday = next_workday() + timedelta(days=7)
    monday -= timedelta(days=monday.weekday())
    people = practitioners(clinic, 3)
    # Monday holds three at once (three lanes); the other days one.
    book(clinic, monday, 11, people[0], "Monday Patient")
    AppointmentFactory(
        practitioner=people[1], treatment=clinic.treatment, start=at(monday, 11), patient=PatientFactory()
    )
    AppointmentFactory(
        practitioner=people[2], treatment=clinic.treatment, start=at(monday, 11), patient=PatientFactory()
    )
    book(clinic, monday + timedelta(days=2), 15, people[2], "Wednesday Patient")
    sign_in(page, base_url, clinic.receptionist)
    for width, height in ((1280, 800), (1920, 1080), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base_url}/staff/?view=week&date={monday}")
        days = [head.bounding_box()["width"] for head in page.locator(".day-head").all()]
        assert len(days) == 6 and max(days) - min(days) < 1.5, days
        cut = page.evaluate(
            """() => [...document.querySelectorAll('.week-time-grid .appt > span')]
                 .filter(el => el.clientWidth > 1 && el.scrollWidth > el.clientWidth + 1).map(el => el.textContent)"""
        )
        assert cut == [], cut
        expect(page.locator(".week-time-grid .appt", has_text="Wednesday Patient")).to_contain_text(people[2].name)
        shot(f"week-{width}")


def test_drag_and_drop_moves_and_a_refused_move_snaps_back(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    day = next_workday()
    moving = book(clinic, day, 10, clinic.practitioner, "Drag Me")
    book(clinic, day, 11, clinic.other, "In The Way")
    errors = watch_console(page)
    sign_in(page, base_url, clinic.receptionist)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base_url}/staff/?date={day}")
    page.wait_for_load_state("load")
    page.locator("#schedule-body .schedule-scroll").evaluate("el => el.scrollIntoView()")

    def drag(block: Any, column: Any, hhmm: str) -> None:
        start = block.bounding_box()
        target_x = column.bounding_box()["x"] + column.bounding_box()["width"] / 2
        target_y = page.locator(f'.time-label[data-time="{hhmm}"]').bounding_box()["y"] + 8
        page.mouse.move(start["x"] + start["width"] / 2, start["y"] + 8)
        page.mouse.down()
        page.mouse.move(target_x, target_y, steps=12)
        page.mouse.up()

    block = page.locator(f'.appt[data-appointment="{moving.pk}"]')
    other_column = page.locator(f'.col-head[data-key="{clinic.other.pk}"]')
    drag(block, other_column, "12:30")
    expect(block).to_have_attribute("data-column", str(clinic.other.pk))
    moving.refresh_from_db()
    assert moving.start == at(day, 12, 30) and moving.practitioner == clinic.other
    block_box, head_box = block.bounding_box(), other_column.bounding_box()
    assert (
        head_box["x"] - 1 <= block_box["x"]
        and block_box["x"] + block_box["width"] <= head_box["x"] + head_box["width"] + 1
    )
    expect(page.locator("#appointment-dialog")).to_be_hidden()  # the drop did not also open the block
    shot("moved")

    before = block.bounding_box()["y"] - page.locator('.time-label[data-time="12:30"]').bounding_box()["y"]
    drag(block, other_column, "11:00")  # onto the other booking
    status = page.locator("#schedule-status")
    expect(status).to_have_attribute("aria-live", "polite")  # read out when the reason appears
    expect(status).to_contain_text("That time has just been taken")
    after = block.bounding_box()
    assert abs(after["y"] - page.locator('.time-label[data-time="12:30"]').bounding_box()["y"] - before) < 1
    assert abs(after["x"] - other_column.bounding_box()["x"]) < 6  # snapped back to where it was
    expect(block).not_to_have_class(re.compile("is-dragging|is-moving"))
    fresh = Appointment.objects.get(pk=moving.pk)
    assert fresh.start == at(day, 12, 30) and fresh.sequence == moving.sequence
    shot("refused")
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_the_keyboard_moves_an_appointment(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    day = next_workday()
    moving = book(clinic, day, 10, clinic.practitioner, "Keyboard Patient")
    sign_in(page, base_url, clinic.receptionist)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base_url}/staff/?date={day}")
    page.wait_for_load_state("load")
    page.locator(f'[data-focus-key="appt-{moving.pk}"]').focus()
    page.keyboard.press("Tab")
    move = page.get_by_role("button", name="Move Keyboard Patient")
    expect(move).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Start")).to_be_focused()
    dialog.get_by_label("Start").select_option("16:00")  # a select: the arrow keys choose the same way
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Practitioner")).to_be_focused()
    dialog.get_by_label("Practitioner").select_option(str(clinic.other.pk))
    shot("move-dialog")
    assert not axe_violations(page)
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Move")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator(f'.appt[data-appointment="{moving.pk}"]')).to_have_attribute(
        "data-column", str(clinic.other.pk)
    )
    moving.refresh_from_db()
    assert moving.start == at(day, 16) and moving.practitioner == clinic.other
    expect(page.locator(f'[data-focus-key="move-{moving.pk}"]')).to_be_focused()  # still in place for the next move
    shot("moved-by-keyboard")


def test_check_in_is_one_click_on_the_block(page: Any, base_url: str, shot: Any) -> None:
    clinic = make_clinic()
    now = timezone.localtime()
    start = max(datetime.combine(now.date(), time(0), tzinfo=now.tzinfo), now - timedelta(minutes=45))
    here = AppointmentFactory(
        patient=clinic.patient,
        treatment=clinic.treatment,
        practitioner=clinic.practitioner,
        room=clinic.room,
        start=start,
    )
    sign_in(page, base_url, clinic.receptionist)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{base_url}/staff/?date={now.date()}")
    page.wait_for_load_state("load")
    block = page.locator(f'.appt[data-appointment="{here.pk}"]')
    expect(block.get_by_role("button", name="No-show Wing Lee")).to_be_visible()
    shot("before-check-in")
    assert not axe_violations(page)  # the buttons on the block: names, contrast, size
    block.get_by_role("button", name="Check in Wing Lee").click()
    expect(block).to_contain_text("Checked in")
    expect(block.get_by_role("button", name=re.compile("Check in"))).to_have_count(0)
    expect(page.locator("#appointment-dialog")).to_be_hidden()
    here.refresh_from_db()
    assert here.status == Appointment.Status.CHECKED_IN
    shot("checked-in")
