"""A small clinic in Hong Kong time, and the booking settings pinned so the
tests do not depend on the environment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from pytest_django import Settings as SettingsWrapper

from booking.models import Practitioner, Room
from patients.models import Patient
from tests.factories import (
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    RoomKindFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Treatment

MONDAY = date(2030, 1, 7)  # far ahead, so "now" is always passed explicitly


@pytest.fixture(autouse=True)
def booking_settings(settings: SettingsWrapper) -> None:
    # Factories hash a password per user: the fast hasher keeps tests quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TIME_ZONE = "Asia/Hong_Kong"
    settings.CLINIC_TIME_ZONE = "Asia/Hong_Kong"
    settings.CLINIC_SLOT_MINUTES = 15
    settings.CLINIC_MIN_NOTICE = timedelta(hours=2)
    settings.CLINIC_BOOKING_HORIZON = timedelta(days=90)
    settings.CLINIC_STAFF_HORIZON = timedelta(days=400)
    settings.CLINIC_CANCELLATION_NOTICE = timedelta(hours=24)


@pytest.fixture
def at(settings: SettingsWrapper) -> Callable[..., datetime]:
    """``at(hour, minute=0, day=MONDAY)``: an aware clinic-local time."""

    def make(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(settings.TIME_ZONE))

    return make


@pytest.fixture
def now(at: Callable[..., datetime]) -> datetime:
    """Monday 07:00, before opening."""
    return at(7)


@pytest.fixture
def treatment() -> Treatment:
    return TreatmentFactory(slug="peel", duration_minutes=30, buffer_minutes=10, room_kind=RoomKindFactory())


@pytest.fixture
def room(treatment: Treatment) -> Room:
    return RoomFactory(kind=treatment.room_kind, name_en="Treatment room A")


@pytest.fixture
def practitioner(treatment: Treatment, room: Room) -> Practitioner:
    """Mon-Sat 10:00-19:00, lunch 13:00-14:00, qualified for ``treatment``."""
    return PractitionerFactory(treatments=[treatment])


@pytest.fixture
def patient() -> Patient:
    return PatientFactory()


@pytest.fixture
def receptionist() -> User:
    return UserFactory(role="receptionist")
