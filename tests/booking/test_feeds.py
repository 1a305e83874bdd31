"""Private calendar feeds (booking/feeds.py): what a subscribed calendar reads
at /calendar/<token>.ics, parsed back with icalendar as Google, Apple or
Outlook would, and who can no longer read it once it is turned off."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.http import http_date
from icalendar import Calendar

from booking import feeds
from booking.calendar import appointment_calendar
from booking.models import Appointment, CalendarFeed, Practitioner, Room
from booking.services import appointment_book, appointment_cancel, appointment_reschedule
from clinic.errors import InvalidInput
from tests.booking.conftest import MONDAY
from tests.factories import AppointmentFactory, PatientFactory, PractitionerFactory, RoomFactory, UserFactory
from treatments.models import Treatment

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def doctor(practitioner: Practitioner) -> Practitioner:
    practitioner.user.first_name, practitioner.user.last_name = "Grace", "Lam"
    practitioner.user.save(update_fields=["first_name", "last_name"])
    return practitioner


@pytest.fixture
def feed(doctor: Practitioner, now: datetime) -> CalendarFeed:
    return feeds.feed_create(user=doctor.user, kind="practitioner", language="en", now=now)


@pytest.fixture
def visit(doctor: Practitioner, treatment: Treatment, room: Room, at: Callable[..., datetime]) -> Callable[..., Any]:
    """``visit(start, **overrides)``: an appointment row of the doctor's."""

    def make(start: datetime, **kwargs: Any) -> Appointment:
        values: dict[str, Any] = {"practitioner": doctor, "treatment": treatment, "room": room, "start": start}
        values.update(kwargs)
        return AppointmentFactory(**values)

    return make


def fetch(feed: CalendarFeed, when: datetime, **headers: str) -> Any:
    with time_machine.travel(when, tick=False):
        return Client().get(f"/calendar/{feed.token}.ics", **headers)


def events(response: Any) -> dict[str, Any]:
    """The feed's events by UID, parsed as a calendar application would."""
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def calendar_of(response: Any) -> Calendar:
    return Calendar.from_ical(response.content)


# --- initials -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Cathy Wong", "C. W."),
        ("chan tai man", "C. T. M."),
        ("Mary Anne Elizabeth Smith", "M. A. E."),
        ("O'Brien Seán", "O. S."),
        ("陳大文", "陳"),
        ("歐陽娜娜", "歐"),
        ("Chan Tai Man 陳大文", "陳"),
        ("", "?"),
        ("  ", "?"),
        ("123", "?"),
    ],
)
def test_initials_name_no_one(name: str, expected: str) -> None:
    assert feeds.initials(name) == expected


# --- what a practitioner's feed shows ----------------------------------------------------


def test_a_practitioners_feed_parses_with_treatment_and_initials_only(feed, visit, treatment, room, now, at) -> None:
    cathy = PatientFactory(full_name="Cathy Wong", phone="+85291234567", email="cathy@example.com")
    chan = PatientFactory(full_name="陳大文")
    first = visit(at(11, day=TUESDAY), patient=cathy, notes="Allergic to lidocaine")
    second = visit(at(15, day=TUESDAY), patient=chan, status=Appointment.Status.CHECKED_IN)

    response = fetch(feed, now)
    found = events(response)

    assert set(found) == {feeds.event_uid(first), feeds.event_uid(second)}
    event = found[feeds.event_uid(first)]
    assert str(event["SUMMARY"]) == f"{treatment.name_en} — C. W."
    assert str(event["LOCATION"]) == room.name_en
    assert event.decoded("DTSTART") == first.start
    assert event.decoded("DTEND") == first.end
    assert str(event["STATUS"]) == "CONFIRMED"
    assert int(event["SEQUENCE"]) == first.sequence
    assert str(event["URL"]).endswith(f"/staff/appointments/{first.pk}/")
    assert str(found[feeds.event_uid(second)]["SUMMARY"]) == f"{treatment.name_en} — 陳"
    calendar = calendar_of(response)
    assert str(calendar["X-WR-CALNAME"]) == "Clear Skin Clinic: Grace Lam's schedule"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in response.content.decode()
    assert "X-PUBLISHED-TTL:PT1H" in response.content.decode()
    body = response.content.decode()
    for private in ("Cathy", "Wong", "大文", "91234567", "cathy@example.com", "lidocaine"):
        assert private not in body


def test_a_practitioners_feed_made_in_chinese_speaks_chinese(doctor, visit, treatment, room, now, at) -> None:
    treatment.name_zh_hant = "果酸換膚"
    treatment.save(update_fields=["name_zh_hant"])
    room.name_zh_hant = "治療室甲"
    room.save(update_fields=["name_zh_hant"])
    feed = feeds.feed_create(user=doctor.user, kind="practitioner", language="zh-hant", now=now)
    shown = visit(at(11, day=TUESDAY), patient=PatientFactory(full_name="陳大文"))
    cancelled = visit(
        at(16, day=TUESDAY),
        patient=PatientFactory(full_name="Cathy Wong"),
        status=Appointment.Status.CANCELLED,
        cancelled_at=now,
    )

    response = fetch(feed, now)
    found = events(response)

    assert str(found[feeds.event_uid(shown)]["SUMMARY"]) == "果酸換膚 — 陳"
    assert str(found[feeds.event_uid(shown)]["LOCATION"]) == "治療室甲"
    assert str(found[feeds.event_uid(cancelled)]["SUMMARY"]) == "已取消：果酸換膚 — C. W."
    assert str(calendar_of(response)["X-WR-CALNAME"]) == "清膚診所：Grace Lam的日程"


def test_a_moved_appointment_keeps_its_uid_with_a_higher_sequence_and_new_times(
    feed, doctor, patient, treatment, room, now, at
) -> None:
    booked = appointment_book(
        patient=patient,
        treatment=treatment,
        start=at(11, day=TUESDAY),
        practitioner=doctor,
        booked_by=patient.user,
        staff=False,
        now=now,
    )
    before = fetch(feed, now)
    uid = feeds.event_uid(booked)
    assert int(events(before)[uid]["SEQUENCE"]) == 0

    with time_machine.travel(now + timedelta(minutes=10), tick=False):
        moved = appointment_reschedule(
            appointment=booked, start=at(15, day=TUESDAY), by=patient.user, staff=False, now=now
        )
    after = fetch(feed, now + timedelta(minutes=11))

    event = events(after)[uid]
    assert moved.pk == booked.pk
    assert int(event["SEQUENCE"]) == 1 == moved.sequence
    assert event.decoded("DTSTART") == at(15, day=TUESDAY)
    assert event.decoded("DTEND") == at(15, day=TUESDAY) + timedelta(minutes=treatment.duration_minutes)
    assert after["ETag"] != before["ETag"]
    # The emailed invite names the same event, so a calendar holding both sees one visit.
    invite = Calendar.from_ical(appointment_calendar(moved, method="REQUEST"))
    assert {str(e["UID"]) for e in invite.walk("VEVENT")} == {uid}


def test_a_cancelled_appointment_shows_as_cancelled_then_drops_out(feed, doctor, patient, treatment, now, at) -> None:
    booked = appointment_book(
        patient=patient,
        treatment=treatment,
        start=at(11, day=TUESDAY),
        practitioner=doctor,
        booked_by=patient.user,
        staff=False,
        now=now,
    )
    with time_machine.travel(now, tick=False):
        cancelled = appointment_cancel(appointment=booked, by=patient.user, staff=False, now=now)

    event = events(fetch(feed, now))[feeds.event_uid(booked)]
    assert str(event["STATUS"]) == "CANCELLED"
    assert int(event["SEQUENCE"]) == cancelled.sequence
    assert str(event["SUMMARY"]).startswith("Cancelled: ")

    later = now + timedelta(days=feeds.CANCELLED_KEPT_DAYS + 1)
    assert feeds.event_uid(booked) not in events(fetch(feed, later))


def test_no_shows_and_waitlist_holds_never_appear(feed, visit, now, at) -> None:
    visit(at(11, day=MONDAY - timedelta(days=7)), status=Appointment.Status.NO_SHOW)
    visit(at(11, day=TUESDAY), status=Appointment.Status.HELD, hold_expires_at=now + timedelta(hours=1))
    kept = visit(at(15, day=TUESDAY))

    assert set(events(fetch(feed, now))) == {feeds.event_uid(kept)}


def test_the_feed_shows_30_days_back_and_180_ahead(feed, visit, now, at) -> None:
    today = MONDAY
    inside = [
        visit(at(10, day=today - timedelta(days=30))),
        visit(at(10, day=today + timedelta(days=180)), status=Appointment.Status.CONFIRMED),
    ]
    visit(at(18, day=today - timedelta(days=31)), status=Appointment.Status.COMPLETED)
    visit(at(10, day=today + timedelta(days=181)))

    assert set(events(fetch(feed, now))) == {feeds.event_uid(a) for a in inside}


def test_another_practitioners_appointments_never_appear(feed, visit, treatment, room, now, at) -> None:
    other = PractitionerFactory(treatments=[treatment])
    mine = visit(at(11, day=TUESDAY))
    AppointmentFactory(
        practitioner=other, treatment=treatment, room=RoomFactory(kind=room.kind), start=at(11, day=TUESDAY)
    )

    assert set(events(fetch(feed, now))) == {feeds.event_uid(mine)}


# --- a patient's feed ---------------------------------------------------------------------


def test_a_patients_feed_has_their_own_visits_and_nothing_clinical(doctor, visit, treatment, now, at) -> None:
    patient = PatientFactory(full_name="Cathy Wong")
    other = PatientFactory(full_name="Bob Wong")
    feed = feeds.feed_create(user=patient.user, kind="patient", now=now)
    mine = visit(at(11, day=TUESDAY), patient=patient, notes="Sensitive skin")
    visit(at(15, day=TUESDAY), patient=other)

    response = fetch(feed, now)
    found = events(response)

    assert set(found) == {feeds.event_uid(mine)}
    event = found[feeds.event_uid(mine)]
    assert str(event["SUMMARY"]) == "Appointment at Clear Skin Clinic"
    assert str(event["LOCATION"]) == "12/F, 1 Queen's Road Central, Central, Hong Kong"
    assert str(event["URL"]).endswith(f"/appointments/{mine.pk}/")
    assert f"/appointments/{mine.pk}/" in str(event["DESCRIPTION"])
    body = response.content.decode()
    for clinical in (treatment.name_en, "Sensitive skin", "Grace", "Lam", "Cathy", "/staff/"):
        assert clinical not in body
    assert str(calendar_of(response)["X-WR-CALNAME"]) == "Clear Skin Clinic appointments"


def test_a_patients_feed_follows_their_language(visit, now, at) -> None:
    patient = PatientFactory(preferred_language="en")
    feed = feeds.feed_create(user=patient.user, kind="patient", language="en", now=now)
    mine = visit(at(11, day=TUESDAY), patient=patient)
    english = fetch(feed, now)

    with time_machine.travel(now + timedelta(minutes=1), tick=False):
        patient.preferred_language = "zh-hant"
        patient.save(update_fields=["preferred_language", "updated_at"])
    chinese = fetch(feed, now + timedelta(minutes=2), HTTP_IF_NONE_MATCH=english["ETag"])

    event = events(chinese)[feeds.event_uid(mine)]
    assert str(event["SUMMARY"]) == "清膚診所預約"
    assert str(event["LOCATION"]) == "香港中環皇后大道中1號12樓"
    assert "查看、改期或取消預約" in str(event["DESCRIPTION"])
    assert str(calendar_of(chinese)["X-WR-CALNAME"]) == "清膚診所：我的預約"


# --- turning it off -----------------------------------------------------------------------


def test_a_reset_link_stops_the_old_address_at_once_and_the_new_one_works(feed, doctor, visit, now, at) -> None:
    mine = visit(at(11, day=TUESDAY))
    new = feeds.feed_create(user=doctor.user, kind="practitioner", now=now)

    assert fetch(feed, now).status_code == 404
    assert feeds.event_uid(mine) in events(fetch(new, now))
    assert new.token != feed.token
    assert list(CalendarFeed.objects.filter(user=doctor.user, revoked_at__isnull=True)) == [new]


def test_a_turned_off_feed_is_404(feed, now) -> None:
    assert feeds.feed_revoke(feed=feed, by=feed.user, now=now) is True
    response = fetch(feed, now)
    assert response.status_code == 404
    assert b"BEGIN:VCALENDAR" not in response.content
    assert feeds.feed_revoke(feed=feed, by=feed.user, now=now) is False


def test_a_manager_turning_a_practitioners_feed_off_is_recorded(feed, now) -> None:
    manager = UserFactory(role="manager")
    feeds.feed_revoke(feed=feed, by=manager, now=now)
    feed.refresh_from_db()
    assert (feed.revoked_at, feed.revoked_by) == (now, manager)
    assert fetch(feed, now).status_code == 404


def test_a_deactivated_practitioners_feed_is_404(feed, doctor, now) -> None:
    doctor.user.is_active = False
    doctor.user.save(update_fields=["is_active"])
    assert fetch(feed, now).status_code == 404


def test_an_erased_patients_feed_is_gone(now) -> None:
    from booking.erasure import patient_erase

    patient = PatientFactory()
    feed = feeds.feed_create(user=patient.user, kind="patient", now=now)
    patient_erase(patient=patient, by=UserFactory(role="manager"))
    assert not CalendarFeed.objects.filter(pk=feed.pk).exists()
    assert fetch(feed, now).status_code == 404


@pytest.mark.parametrize("token", ["x", "a" * 42, "a" * 44, "a" * 42 + "!", "../../etc/passwd"])
def test_a_token_that_cannot_be_one_is_404(token: str, now: datetime) -> None:
    with time_machine.travel(now, tick=False):
        assert Client().get(f"/calendar/{token}.ics").status_code == 404


def test_an_unknown_token_of_the_right_shape_is_404(feed, now) -> None:
    other = feed.token[:-1] + ("A" if feed.token[-1] != "A" else "B")
    with time_machine.travel(now, tick=False):
        assert Client().get(f"/calendar/{other}.ics").status_code == 404


def test_one_live_feed_per_login_and_kind_is_the_databases_rule(feed, now) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarFeed.objects.create(user=feed.user, kind=feed.kind, token="b" * 43, created_at=now)


def test_a_receptionist_cannot_have_a_practitioners_feed(now) -> None:
    receptionist = UserFactory(role="receptionist")
    assert feeds.feed_kind_for(receptionist) is None
    with pytest.raises(InvalidInput):
        feeds.feed_create(user=receptionist, kind="practitioner", now=now)
    assert not CalendarFeed.objects.exists()


def test_who_has_which_kind(doctor) -> None:
    assert feeds.feed_kind_for(doctor.user) == "practitioner"
    assert feeds.feed_kind_for(PatientFactory().user) == "patient"
    assert feeds.feed_kind_for(UserFactory(role="manager")) is None
    manager = UserFactory(role="manager")
    PractitionerFactory(user=manager)
    assert feeds.feed_kind_for(manager) == "practitioner"


# --- caching, throttling, the fetch's cost ------------------------------------------------


def test_the_answer_is_private_and_cacheable_for_five_minutes(feed, now) -> None:
    response = fetch(feed, now)
    assert response["Cache-Control"] == "private, max-age=300"
    assert response["ETag"].startswith('W/"')
    assert response["Last-Modified"]
    assert "Set-Cookie" not in response


def test_an_unchanged_feed_answers_304_to_its_etag(feed, visit, now, at) -> None:
    visit(at(11, day=TUESDAY))
    first = fetch(feed, now)

    again = fetch(feed, now + timedelta(minutes=30), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == "private, max-age=300"

    by_date = fetch(feed, now + timedelta(minutes=30), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert by_date.status_code == 304

    with time_machine.travel(now + timedelta(minutes=40), tick=False):
        visit(at(15, day=TUESDAY))
    changed = fetch(feed, now + timedelta(minutes=41), HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    assert len(events(changed)) == 2


def test_the_etag_changes_at_midnight_as_the_window_moves(feed, now) -> None:
    first = fetch(feed, now)
    next_day = fetch(feed, now + timedelta(days=1), HTTP_IF_NONE_MATCH=first["ETag"])
    assert next_day.status_code == 200
    assert next_day["ETag"] != first["ETag"]
    assert next_day["Last-Modified"] != first["Last-Modified"]


def test_the_etag_changes_when_a_patients_name_changes(feed, visit, now, at) -> None:
    patient = PatientFactory(full_name="Cathy Wong")
    appointment = visit(at(11, day=TUESDAY), patient=patient)
    first = fetch(feed, now)
    with time_machine.travel(now + timedelta(minutes=1), tick=False):
        patient.full_name = "Amy Wong"
        patient.save(update_fields=["full_name", "updated_at"])
    second = fetch(feed, now + timedelta(minutes=2), HTTP_IF_NONE_MATCH=first["ETag"])
    assert str(events(second)[feeds.event_uid(appointment)]["SUMMARY"]).endswith("— A. W.")


def test_a_fetch_is_noted_at_most_every_five_minutes(feed, now) -> None:
    fetch(feed, now)
    feed.refresh_from_db()
    assert feed.last_fetched_at == now

    fetch(feed, now + timedelta(minutes=4))
    feed.refresh_from_db()
    assert feed.last_fetched_at == now

    fetch(feed, now + timedelta(minutes=6))
    feed.refresh_from_db()
    assert feed.last_fetched_at == now + timedelta(minutes=6)


def test_fetches_are_throttled_per_client(feed, settings, now) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "calendar_feed": "2/hour"},
    }
    assert fetch(feed, now).status_code == 200
    assert fetch(feed, now).status_code == 200
    refused = fetch(feed, now)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "3600"
    assert fetch(feed, now, REMOTE_ADDR="203.0.113.9").status_code == 200


def _queries_for(feed: CalendarFeed, now: datetime) -> tuple[int, int]:
    with time_machine.travel(now, tick=False), CaptureQueriesContext(connection) as queries:
        response = Client().get(f"/calendar/{feed.token}.ics")
    return len(queries), len(Calendar.from_ical(response.content).walk("VEVENT"))


def test_a_fetch_costs_the_same_queries_for_10_or_100_appointments(feed, doctor, treatment, room, now, at) -> None:
    def add(count: int, offset: int) -> None:
        for index in range(count):
            day = MONDAY + timedelta(days=offset + index // 8)
            AppointmentFactory(
                practitioner=doctor,
                treatment=treatment,
                room=room,
                patient=PatientFactory(full_name=f"Patient {index}"),
                start=at(10 + index % 8, day=day),
            )

    add(10, 1)
    few, shown_few = _queries_for(feed, now + timedelta(minutes=10))
    add(90, 3)
    many, shown_many = _queries_for(feed, now + timedelta(minutes=20))

    assert (shown_few, shown_many) == (10, 100)
    assert few == many
    # The shared throttle counter (clinic.client.within: about ten on the database cache),
    # then the feed, its version, the rows, and the fetch noted.
    assert many <= 16


def test_a_not_modified_answer_loads_no_appointment(feed, visit, now, at) -> None:
    visit(at(11, day=TUESDAY))
    first = fetch(feed, now)
    with time_machine.travel(now, tick=False), CaptureQueriesContext(connection) as queries:
        Client().get(f"/calendar/{feed.token}.ics", HTTP_IF_NONE_MATCH=first["ETag"])
    assert not [q for q in queries.captured_queries if "booking_treatment" in q["sql"]]


def test_last_modified_is_an_http_date(feed, now) -> None:
    assert fetch(feed, now)["Last-Modified"] == http_date(now.timestamp())


def test_the_feed_address_and_its_webcal_twin(feed, settings) -> None:
    settings.CLINIC_BASE_URL = "https://clinic.example"
    assert feeds.feed_url(feed) == f"https://clinic.example/calendar/{feed.token}.ics"
    assert feeds.webcal_url(feed) == f"webcal://clinic.example/calendar/{feed.token}.ics"


def test_the_managers_list_has_every_practitioner_and_their_live_feed(feed, doctor, treatment) -> None:
    other = PractitionerFactory(treatments=[treatment])
    rows = dict(feeds.practitioner_feeds())
    assert rows == {doctor: feed, other: None}


def test_a_day_is_a_clinic_day(doctor, visit, at) -> None:
    """At 07:30 on Monday in Hong Kong it is still Sunday in UTC: the window
    counts clinic days, so a visit 31 clinic days back is out and one 30 back in."""
    morning = at(7, 30, day=MONDAY)
    assert morning.astimezone(UTC).date() == MONDAY - timedelta(days=1)
    feed = feeds.feed_create(user=doctor.user, kind="practitioner", now=morning)
    inside = visit(at(0, 30, day=MONDAY - timedelta(days=30)))
    visit(at(10, day=MONDAY - timedelta(days=31)))
    assert set(events(fetch(feed, morning))) == {feeds.event_uid(inside)}


# --- the iCalendar text itself ------------------------------------------------------------


def test_awkward_names_survive_escaping_and_folding(doctor, visit, treatment, room, now, at) -> None:
    """Commas, semicolons, backslashes, line breaks and long Chinese names come
    back exactly as a calendar reads them, and no line passes 75 octets."""
    treatment.name_zh_hant = "超長名稱的深層果酸換膚療程，包括術前清潔；術後修護及防曬指導\\完整版"
    treatment.save(update_fields=["name_zh_hant"])
    room.name_en = 'Room 1, upstairs; "north" \\ wing\nnext to the lift\x07'
    room.save(update_fields=["name_en"])
    feed = feeds.feed_create(user=doctor.user, kind="practitioner", language="zh-hant", now=now)
    appointment = visit(at(11, day=TUESDAY), patient=PatientFactory(full_name="陳大文"))
    room.name_zh_hant = ""
    room.save(update_fields=["name_zh_hant"])

    response = fetch(feed, now)
    event = events(response)[feeds.event_uid(appointment)]

    assert str(event["SUMMARY"]) == f"{treatment.name_zh_hant} — 陳"
    assert str(event["LOCATION"]) == 'Room 1, upstairs; "north" \\ wing\nnext to the lift'
    lines = response.content.split(b"\r\n")
    assert lines[-1] == b""
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # something was folded
    for line in lines:
        line.decode()  # no line ends inside a character


@pytest.mark.parametrize("length", range(70, 160))
def test_folding_never_cuts_a_character_or_an_escape(length: int) -> None:
    line = "SUMMARY:" + ("果\\,a" * 60)[:length]
    folded = feeds._fold(line)
    assert folded.endswith(b"\r\n")
    parts = folded[:-2].split(b"\r\n ")
    assert all(len(part) <= 75 for part in parts[:1]) and all(len(part) <= 74 for part in parts[1:])
    assert b"".join(parts).decode() == line
    for part in parts[:-1]:
        part.decode()
        trailing = len(part) - len(part.rstrip(b"\\"))
        assert trailing % 2 == 0
