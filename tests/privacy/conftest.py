"""A patient with a full record (declarations, an assessment with photos and a
correction, a plan, a completed session, a future appointment with its
notices, a sent email) and clients of every role, for the export and erasure
tests. Photos go to a temporary private storage."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from booking import notifications
from booking.models import Appointment, Notification, SessionRecord
from patients.channels import channels_set
from patients.models import Patient
from tests.api.conftest import client_for
from tests.consent import sign_for
from tests.factories import (
    AppointmentFactory,
    ConsentFormFactory,
    ConsentVersionFactory,
    HealthDeclarationFactory,
    NotificationFactory,
    PatientFactory,
    PractitionerFactory,
    TreatmentFactory,
    UserFactory,
)
from tests.pages.chart_fixtures import picture
from treatments import services as clinical
from treatments.models import Assessment, Category


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(root)}},
    }
    yield root


@pytest.fixture
def doctor() -> User:
    return UserFactory(role="practitioner")


@pytest.fixture
def manager() -> User:
    return UserFactory(role="manager")


@pytest.fixture
def alice() -> Patient:
    return PatientFactory(full_name="Alice Chan", phone="+85291234567")


@pytest.fixture
def bob() -> Patient:
    return PatientFactory(full_name="Bob Wong")


def photo_bytes(colour: tuple[int, int, int]) -> bytes:
    return picture("JPEG", (320, 240), colour)


@pytest.fixture
def record(alice: Patient, doctor: User) -> dict[str, Any]:
    """Alice's record: every kind of data the export and the erasure touch."""
    HealthDeclarationFactory(patient=alice, allergies_other="Penicillin")
    assessment = clinical.assessment_record(
        patient=alice,
        by=doctor,
        fitzpatrick_type=3,
        qualitative_grade=3,
        pih="mild",
        pie="none",
        lesions={"macular": 12, "punched_out_shallow": 25},
        assessed_on=timezone.localdate() - timedelta(days=40),
        notes="Baseline",
    )
    for index, view in enumerate(["front", "left_45", "right_45"]):
        data = photo_bytes((40 * index + 60, 120, 90))
        clinical.photo_add(assessment=assessment, view=view, upload=io.BytesIO(data), size=len(data), by=doctor)
    clinical.assessment_correct(
        assessment=Assessment.objects.get(pk=assessment.pk),
        by=doctor,
        reason="Miscounted the macular scars",
        fitzpatrick_type=3,
        qualitative_grade=3,
        pih="mild",
        pie="none",
        lesions={"macular": 10, "punched_out_shallow": 25},
    )
    treatment = TreatmentFactory(category=Category.PEEL, interval_days_min=28, interval_days_max=42, sessions_max=6)
    practitioner = PractitionerFactory(treatments=[treatment])
    plan = clinical.plan_create(patient=alice, treatment=treatment, sessions=3, by=doctor)
    past = AppointmentFactory(
        patient=alice,
        treatment=treatment,
        practitioner=practitioner,
        start=timezone.now() - timedelta(days=30),
        status=Appointment.Status.COMPLETED,
    )
    ConsentVersionFactory(form=ConsentFormFactory(slug="privacy-peel", title_en="chemical peel", categories=["peel"]))
    [signature] = sign_for(alice, treatment, photo_use=("teaching",))
    session_record = SessionRecord.objects.create(
        appointment=past, category=treatment.category, notes="Went well", recorded_by=doctor
    )
    session_record.consent_signatures.add(signature)
    NotificationFactory(
        appointment=past, patient=alice, status=Notification.Status.SENT, sent_at=timezone.now() - timedelta(days=31)
    )
    future = AppointmentFactory(
        patient=alice, treatment=treatment, practitioner=practitioner, start=timezone.now() + timedelta(days=5)
    )
    notifications.notify_appointment_booked(appointment=future, now=timezone.now())
    # How she wants to be contacted: part of her copy, gone with her contact details.
    channels_set(patient=alice, topics={"reminders": ["sms", "email"]}, offered=["email", "sms", "whatsapp"])
    return {
        "assessment": assessment,
        "plan": plan,
        "past": past,
        "future": future,
        "treatment": treatment,
        "signature": signature,
    }


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    return client_for
