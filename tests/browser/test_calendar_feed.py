"""A practitioner puts their schedule in their phone's calendar: from the
schedule to the Calendar feed page, a link made, copied with the Copy link
button (clinic/feeds.js under the strict content security policy), and the
copied address answering a calendar with the day's visit; then reset."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone
from icalendar import Calendar
from playwright.sync_api import expect

from tests.browser.test_page_shell import sign_in
from tests.factories import AppointmentFactory, PatientFactory
from tests.pages.staff_fixtures import make_clinic


def test_a_practitioner_copies_their_calendar_link_and_a_calendar_reads_it(
    page: Any, base_url: str, shot: Any, settings: Any
) -> None:
    settings.CLINIC_BASE_URL = base_url  # the addresses the page gives point at this server
    clinic = make_clinic()
    tomorrow = timezone.localdate() + timedelta(days=1)
    visit = AppointmentFactory(
        practitioner=clinic.practitioner,
        treatment=clinic.treatment,
        room=clinic.room,
        patient=PatientFactory(full_name="陳大文"),
        start=timezone.make_aware(datetime.combine(tomorrow, time(11))),
    )
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, base_url, clinic.practitioner.user)

    page.goto(f"{base_url}/staff/")
    page.get_by_role("link", name="Your schedule in your phone's calendar").click()
    expect(page.get_by_role("heading", name="Calendar feed", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Copy link")).to_have_count(0)
    page.get_by_role("button", name="Create my calendar link").click()
    expect(page.get_by_text("Your calendar link is ready.")).to_be_visible()
    address = page.get_by_label("Secret address").input_value()
    assert address.startswith(base_url + "/calendar/") and address.endswith(".ics")
    expect(page.get_by_role("link", name="Open in my calendar app")).to_have_attribute(
        "href", address.replace("http://", "webcal://")
    )

    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status").filter(has_text="Link copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == address
    shot("copied")

    answer = page.request.get(address)
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    event = Calendar.from_ical(answer.body()).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Glycolic peel — 陳"
    assert str(event["LOCATION"]) == "Treatment room 1"
    assert event.decoded("DTSTART") == visit.start

    page.get_by_role("button", name="Reset link").click()
    expect(page.get_by_text("the old one has stopped working")).to_be_visible()
    assert page.get_by_label("Secret address").input_value() != address
    assert page.request.get(address).status == 404
    shot("reset")
    assert not problems, problems
