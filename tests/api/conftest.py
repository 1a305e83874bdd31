from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from booking.models import Practitioner
from patients.models import Patient
from tests.factories import (
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Treatment


def client_for(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, token = AuthToken.objects.create(user)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def patient_a() -> Patient:
    patient = PatientFactory(full_name="Alice Chan")
    HealthDeclarationFactory(patient=patient)
    return patient


@pytest.fixture
def patient_b() -> Patient:
    patient = PatientFactory(full_name="Bob Wong")
    HealthDeclarationFactory(patient=patient)
    return patient


@pytest.fixture
def as_a(patient_a: Patient) -> APIClient:
    return client_for(patient_a.user)


@pytest.fixture
def as_b(patient_b: Patient) -> APIClient:
    return client_for(patient_b.user)


@pytest.fixture
def as_role() -> Callable[[str], APIClient]:
    def make(role: str) -> APIClient:
        return client_for(UserFactory(role=role))

    return make


@pytest.fixture
def as_reception(as_role: Callable[[str], APIClient]) -> APIClient:
    return as_role("receptionist")


@pytest.fixture
def as_practitioner(as_role: Callable[[str], APIClient]) -> APIClient:
    return as_role("practitioner")


@pytest.fixture
def as_manager(as_role: Callable[[str], APIClient]) -> APIClient:
    return as_role("manager")


@pytest.fixture
def peel() -> Treatment:
    treatment = TreatmentFactory(slug="peel-superficial", duration_minutes=30, buffer_minutes=10)
    treatment.contraindications.create(code="PREG", severity="caution")
    treatment.contraindications.create(code="INF", severity="block")
    return treatment


@pytest.fixture
def practitioner(peel: Treatment) -> Practitioner:
    RoomFactory(kind=peel.room_kind)
    return PractitionerFactory(treatments=[peel])


def next_weekday_at(hour: int, minute: int = 0, days_ahead: int = 3) -> datetime:
    """A clinic-local Monday-to-Friday time at least ``days_ahead`` days away."""
    day = timezone.localdate() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))
