"""GET /api/v1/availability/ answers exactly this (docs/api-v1.md, Availability):
small calendars worked out by hand, the whole body compared, so a faster way of
writing the answer cannot change a key, a value, an offset or the order."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings as SettingsWrapper
from rest_framework.test import APIClient

from booking.models import Room, WorkingHours
from tests.api.conftest import client_for
from tests.factories import (
    AppointmentFactory,
    ClinicClosureFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MONDAY = date(2030, 1, 7)
HONG_KONG = ZoneInfo("Asia/Hong_Kong")


@pytest.fixture(autouse=True)
def pinned(settings: SettingsWrapper) -> None:
    settings.TIME_ZONE = settings.CLINIC_TIME_ZONE = "Asia/Hong_Kong"
    settings.CLINIC_SLOT_MINUTES = 15
    settings.CLINIC_MIN_NOTICE = timedelta(hours=2)
    settings.CLINIC_BOOKING_HORIZON = timedelta(days=90)
    settings.CLINIC_STAFF_HORIZON = timedelta(days=400)


def _hours(practitioner: object, weekday: int, start: time, end: time) -> None:
    WorkingHours.objects.create(practitioner=practitioner, weekday=weekday, start=start, end=end)


def test_the_answer_for_a_small_calendar_is_exactly_the_hand_worked_one() -> None:
    """One room; a 30-minute treatment with a 15-minute buffer. Monday: Dr A works
    10:00-11:30 and is booked 10:00-10:30 (held, with the buffer, until 10:45, the
    room too); Dr B works 10:30-11:30. Both can start at 10:45 and 11:00 (11:15
    would end after 11:30), and nobody earlier, the one room being held. Tuesday:
    nobody works."""
    peel = TreatmentFactory(slug="pinned-peel", duration_minutes=30, buffer_minutes=15)
    room = RoomFactory(kind=peel.room_kind)
    doctor_a = PractitionerFactory(treatments=[peel], hours=False)
    doctor_b = PractitionerFactory(treatments=[peel], hours=False)
    assert doctor_a.pk < doctor_b.pk
    _hours(doctor_a, MONDAY.weekday(), time(10), time(11, 30))
    _hours(doctor_b, MONDAY.weekday(), time(10, 30), time(11, 30))
    AppointmentFactory(
        treatment=peel, practitioner=doctor_a, room=room, start=datetime.combine(MONDAY, time(10), tzinfo=HONG_KONG)
    )
    url = f"/api/v1/availability/?treatment=pinned-peel&from={MONDAY}&to={MONDAY + timedelta(days=1)}"

    with time_machine.travel(datetime.combine(MONDAY, time(7), tzinfo=HONG_KONG), tick=False):
        response = APIClient().get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    a, b = doctor_a.pk, doctor_b.pk
    expected = {
        "treatment": "pinned-peel",
        "timezone": "Asia/Hong_Kong",
        "slots": [
            {"start": "2030-01-07T10:45:00+08:00", "end": "2030-01-07T11:15:00+08:00", "practitioner": a},
            {"start": "2030-01-07T10:45:00+08:00", "end": "2030-01-07T11:15:00+08:00", "practitioner": b},
            {"start": "2030-01-07T11:00:00+08:00", "end": "2030-01-07T11:30:00+08:00", "practitioner": a},
            {"start": "2030-01-07T11:00:00+08:00", "end": "2030-01-07T11:30:00+08:00", "practitioner": b},
        ],
    }
    assert response.json() == expected
    # The very text DRF's JSON renderer writes: compact, keys in this order.
    assert response.content == json.dumps(expected, separators=(",", ":")).encode()

    # Staff, asking for Dr B only, see the same two starts of Dr B.
    with time_machine.travel(datetime.combine(MONDAY, time(7), tzinfo=HONG_KONG), tick=False):
        staff = client_for(UserFactory(role="receptionist"))  # its token made "now", or it has expired
        only_b = staff.get(f"{url}&practitioner={b}").json()
    assert only_b["slots"] == [slot for slot in expected["slots"] if slot["practitioner"] == b]


def test_each_slot_is_written_with_the_offset_of_its_own_moment(settings: SettingsWrapper) -> None:
    """London on the night the clocks go forward (Sunday 31 March 2030, 01:00 GMT
    becomes 02:00 BST): one practitioner works 00:00-04:00 wall time, so starts
    before the jump are +00:00, after it +01:00, and the 00:30 and 00:45 visits
    end after it."""
    settings.TIME_ZONE = settings.CLINIC_TIME_ZONE = "Europe/London"
    sunday = date(2030, 3, 31)
    night = TreatmentFactory(slug="night-peel", duration_minutes=30, buffer_minutes=0)
    RoomFactory(kind=night.room_kind)
    doctor = PractitionerFactory(treatments=[night], hours=False)
    _hours(doctor, sunday.weekday(), time(0), time(4))

    with time_machine.travel(datetime(2030, 3, 30, 12, tzinfo=ZoneInfo("Europe/London")), tick=False):
        response = APIClient().get(f"/api/v1/availability/?treatment=night-peel&from={sunday}&to={sunday}")

    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "Europe/London"
    assert [(slot["start"], slot["end"]) for slot in body["slots"]] == [
        ("2030-03-31T00:00:00+00:00", "2030-03-31T00:30:00+00:00"),
        ("2030-03-31T00:15:00+00:00", "2030-03-31T00:45:00+00:00"),
        ("2030-03-31T00:30:00+00:00", "2030-03-31T02:00:00+01:00"),
        ("2030-03-31T00:45:00+00:00", "2030-03-31T02:15:00+01:00"),
        ("2030-03-31T02:00:00+01:00", "2030-03-31T02:30:00+01:00"),
        ("2030-03-31T02:15:00+01:00", "2030-03-31T02:45:00+01:00"),
        ("2030-03-31T02:30:00+01:00", "2030-03-31T03:00:00+01:00"),
        ("2030-03-31T02:45:00+01:00", "2030-03-31T03:15:00+01:00"),
        ("2030-03-31T03:00:00+01:00", "2030-03-31T03:30:00+01:00"),
        ("2030-03-31T03:15:00+01:00", "2030-03-31T03:45:00+01:00"),
        ("2030-03-31T03:30:00+01:00", "2030-03-31T04:00:00+01:00"),
    ]
    assert {slot["practitioner"] for slot in body["slots"]} == {doctor.pk}


def test_no_slots_is_an_empty_list_with_the_same_keys() -> None:
    peel = TreatmentFactory(slug="empty-peel")
    Room.objects.create(name_en="Room", kind=peel.room_kind)
    with time_machine.travel(datetime.combine(MONDAY, time(7), tzinfo=HONG_KONG), tick=False):
        response = APIClient().get(f"/api/v1/availability/?treatment=empty-peel&from={MONDAY}&to={MONDAY}")
    assert response.status_code == 200
    assert response.content == b'{"treatment":"empty-peel","timezone":"Asia/Hong_Kong","slots":[]}'


def test_the_queries_do_not_grow_with_days_practitioners_or_slots(django_assert_num_queries: Any) -> None:
    """One day of one practitioner, then 62 days of six with appointments and a
    closure: many times the slots, the same queries (anonymous and staff)."""
    peel = TreatmentFactory(slug="counted-peel", duration_minutes=30, buffer_minutes=10)
    room = RoomFactory(kind=peel.room_kind)
    first = PractitionerFactory(treatments=[peel])
    one_day = f"/api/v1/availability/?treatment=counted-peel&from={MONDAY}&to={MONDAY}"
    many_days = f"/api/v1/availability/?treatment=counted-peel&from={MONDAY}&to={MONDAY + timedelta(days=61)}"

    with time_machine.travel(datetime.combine(MONDAY, time(7), tzinfo=HONG_KONG), tick=False):
        clients = {"anonymous": APIClient(), "staff": client_for(UserFactory(role="receptionist"))}
        budgets, few = {}, {}
        for who, client in clients.items():
            client.get(one_day)  # warm whatever is cached per process
            with CaptureQueriesContext(connection) as counted:
                few[who] = client.get(one_day).json()["slots"]
            assert few[who]
            budgets[who] = len(counted.captured_queries)

        for n in range(5):
            doctor = PractitionerFactory(treatments=[peel])
            RoomFactory(kind=peel.room_kind)
            AppointmentFactory(
                treatment=peel,
                practitioner=doctor,
                room=room,
                start=datetime.combine(MONDAY + timedelta(days=n + 1), time(11), tzinfo=HONG_KONG),
            )
        ClinicClosureFactory(
            start=datetime.combine(MONDAY + timedelta(days=3), time(10), tzinfo=HONG_KONG),
            end=datetime.combine(MONDAY + timedelta(days=3), time(12), tzinfo=HONG_KONG),
        )
        for who, client in clients.items():
            with django_assert_num_queries(budgets[who]):
                many = client.get(many_days).json()["slots"]
            assert len(many) > 50 * len(few[who])
            assert {slot["practitioner"] for slot in many} > {first.pk}
