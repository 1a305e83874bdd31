"""The week view of the staff schedule as a time grid: a column per day, the
day view's 15-minute rows, overlapping appointments side by side, the same
actions dialog and booking links, both languages, flat query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking import services
from booking.models import Appointment, ClinicClosure, TimeOff
from tests.factories import PatientFactory, RoomFactory
from tests.pages.helpers import assert_translated
from tests.pages.staff_fixtures import at, make_clinic, names, next_workday
from tests.pages.test_staff_pages import book
from workspace.schedule.schedule import week_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    clinic = make_clinic()
    RoomFactory(kind=clinic.treatment.room_kind, name_en="Treatment room 2", name_zh_hant="治療室二")
    return clinic


def classes(html: str, attribute: str) -> list[str]:
    """The class names of the element carrying ``attribute`` (e.g. 'data-appointment="3"')."""
    match = re.search(r'<[a-z]+ class="([^"]+)"[^>]*' + re.escape(attribute), html)
    assert match, attribute
    return match.group(1).split()


def number(names: list[str], prefix: str) -> int:
    return next(int(name[len(prefix) :]) for name in names if re.fullmatch(re.escape(prefix) + r"\d+", name))


def week_url(day, **extra) -> str:
    query = "".join(f"&{key}={value}" for key, value in extra.items())
    return f"/staff/?date={day}&view=week{query}"


def test_blocks_sit_in_their_day_column_and_time_rows(client, clinic) -> None:
    monday = week_of(next_workday() + timedelta(days=7))[0]
    day, thursday = monday + timedelta(days=1), monday + timedelta(days=3)
    first = book(clinic, day, 11)
    beside = book(clinic, day, 11, patient=PatientFactory(full_name="Ho Ka Yan"), practitioner=clinic.other)
    later = book(clinic, thursday, 15, 30, patient=PatientFactory(full_name="Lam Siu Fung"))
    Appointment.objects.filter(pk=later.pk).update(status=Appointment.Status.CHECKED_IN)
    client.force_login(clinic.receptionist)
    page = client.get(week_url(day)).text
    assert 'class="day-grid week-time-grid cols-12 days-6"' in page  # Monday to Saturday, two lanes each
    head = classes(page, f'data-day="{day}"')
    column, lanes = number(head, "cs-"), number(head, "csp-")
    assert lanes == 2  # two practitioners at 11:00: side by side
    assert number(classes(page, f'data-day="{monday}"'), "cs-") == 2 and column == 4  # Monday: two lanes too
    one, two = classes(page, f'data-appointment="{first.pk}"'), classes(page, f'data-appointment="{beside.pk}"')
    assert {number(one, "cs-"), number(two, "cs-")} == {column, column + 1}
    # Rows start at 10:00 (row 2), 15 minutes each: 11:00 is row 6, a 30-minute peel spans 2 rows.
    assert number(one, "rs-") == number(two, "rs-") == 6 and number(one, "rsp-") == 2
    assert "appt-confirmed" in one
    moved = classes(page, f'data-appointment="{later.pk}"')
    assert (
        number(moved, "cs-") == number(classes(page, f'data-day="{thursday}"'), "cs-") == 8
    )  # Monday to Wednesday take two lanes each
    assert number(moved, "rs-") == 24 and "appt-checked_in" in moved and "Checked in" in page
    # Time, patient, treatment, practitioner and the status in words; the dialog opens on click.
    for text in ("11:00–11:30", "Wing Lee", "Ho Ka Yan", "Glycolic peel", clinic.other.name, "Booked"):
        assert text in page, text
    assert f'hx-get="/staff/appointments/{first.pk}/" hx-target="#appointment-panel"' in page
    # Keyboard focus moves day by day, top to bottom: Tuesday 10:45, the 11:00 blocks, 11:30, then Wednesday.
    order = [
        page.index(f"?date={day}&amp;time=10:45"),
        page.index(f'data-appointment="{first.pk}"'),
        page.index(f"?date={day}&amp;time=11:30"),
        page.index(f"?date={day + timedelta(days=1)}&amp;time=10:00"),
    ]
    assert order == sorted(order)
    assert '<span class="visually-hidden">Tuesday</span>' in page  # the day is part of the block's name


def test_empty_cells_book_at_that_day_and_time(client, clinic) -> None:
    day = next_workday()
    client.force_login(clinic.receptionist)
    page = client.get(week_url(day)).text
    assert f'href="/staff/book/?date={day}&amp;time=12:00"' in page
    assert "Book at 12:00," in page
    chosen = client.get(week_url(day, practitioner=clinic.other.pk)).text
    assert f'href="/staff/book/?date={day}&amp;time=12:00&amp;practitioner={clinic.other.pk}"' in chosen
    # Her lunch break (13:00 to 14:00) books nothing.
    assert f"date={day}&amp;time=13:00&amp;practitioner" not in chosen


def test_the_practitioner_filter_shows_only_their_blocks_and_time_off(client, clinic) -> None:
    day = next_workday()
    book(clinic, day, 10)
    book(clinic, day, 10, patient=PatientFactory(full_name="Other Person"), practitioner=clinic.other)
    TimeOff.objects.create(practitioner=clinic.other, start=at(day, 15), end=at(day, 17), reason="Conference")
    client.force_login(clinic.practitioner.user)
    page = client.get(week_url(day, practitioner=clinic.other.pk)).text
    assert "Other Person" in page and "Wing Lee" not in page
    assert '<div class="off-block' in page and "Conference" in page
    everyone = client.get(week_url(day)).text
    assert "Other Person" in everyone and "Wing Lee" in everyone
    # One practitioner's time off does not shade everyone's week: it is listed under the grid.
    grid = everyone[everyone.index("week-time-grid") : everyone.index("Time off this week")]
    assert "Conference" not in grid and '<div class="off-block' not in grid
    assert "Time off this week" in everyone and "(Conference)" in everyone and clinic.other.name in everyone


def test_closures_are_shaded_and_cancelled_appointments_left_out(client, clinic) -> None:
    day = next_workday()
    cancelled = book(clinic, day, 12, patient=PatientFactory(full_name="Gone Away"))
    services.appointment_cancel(appointment=cancelled, by=clinic.receptionist, staff=True, reason="x")
    ClinicClosure.objects.create(start=at(day, 0), end=at(day, 23, 59), reason="Typhoon", kind="weather")
    client.force_login(clinic.manager)
    page = client.get(week_url(day)).text
    assert "Gone Away" not in page
    assert "Clinic closed from" in page and '<div class="off-block' in page
    assert f"date={day}&amp;time=" not in page  # nothing books on a closed day


def test_receptionists_see_no_clinical_details(client, clinic) -> None:
    day = next_workday()
    appointment = book(clinic, day, 10)
    appointment.notes = "Scarring worse on the left cheek"
    appointment.save(update_fields=["notes"])
    client.force_login(clinic.receptionist)
    page = client.get(week_url(day)).text
    assert "Wing Lee" in page and "left cheek" not in page


@pytest.mark.parametrize("role", ["anonymous", "patient", "receptionist", "practitioner", "manager"])
def test_week_for_every_role(client, clinic, role) -> None:
    book(clinic, next_workday(), 10)
    user = clinic.user(role)
    if user is not None:
        client.force_login(user)
    response = client.get(week_url(next_workday()))
    expected = {"anonymous": 302, "patient": 403}.get(role, 200)
    assert response.status_code == expected
    if expected == 200:
        assert "Wing Lee" in response.text
    else:
        assert "Wing Lee" not in response.text


def test_week_in_traditional_chinese(client, clinic) -> None:
    day = next_workday()
    book(clinic, day, 10)
    book(clinic, day, 10, patient=PatientFactory(full_name="Ho Ka Yan"), practitioner=clinic.other)
    TimeOff.objects.create(practitioner=clinic.practitioner, start=at(day, 15), end=at(day, 16), reason="進修")
    TimeOff.objects.create(practitioner=clinic.other, start=at(day, 17), end=at(day, 18))
    ClinicClosure.objects.create(start=at(next_workday(day), 9), end=at(next_workday(day), 20), reason="颱風")
    client.force_login(clinic.manager)
    allow = names(clinic, "Ho Ka Yan", "Glycolic", "peel")
    for url in (week_url(day), week_url(day, practitioner=clinic.practitioner.pk)):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-Hant")
        assert response.status_code == 200
        assert "已預約" in response.text or "預約" in response.text
        assert_translated(response.content, allow=allow)


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_week_query_counts_do_not_grow(client, clinic) -> None:
    day = next_workday()
    client.force_login(clinic.receptionist)
    book(clinic, day, 10)
    urls = [week_url(day), week_url(day, practitioner=clinic.practitioner.pk)]
    before = [_count(client, url) for url in urls]
    second = next_workday(day)
    for hour in (11, 12, 14, 15):
        book(clinic, day, hour, patient=PatientFactory())
        book(clinic, day, hour, patient=PatientFactory(), practitioner=clinic.other)
        book(clinic, second, hour, patient=PatientFactory())
    TimeOff.objects.create(practitioner=clinic.practitioner, start=at(day, 17), end=at(day, 18))
    ClinicClosure.objects.create(start=at(second, 17), end=at(second, 19), reason="Drill")
    assert [_count(client, url) for url in urls] == before
    assert max(before) <= 15


def test_refresh_interval_is_a_setting(client, clinic, settings) -> None:
    client.force_login(clinic.receptionist)
    assert 'hx-trigger="every 120s, schedule-stale"' in client.get(week_url(next_workday())).text
    settings.STAFF_SCHEDULE_REFRESH_SECONDS = 2
    page = client.get("/staff/").text
    assert 'data-schedule-poll hx-get="/staff/" hx-trigger="every 2s, schedule-stale"' in page
