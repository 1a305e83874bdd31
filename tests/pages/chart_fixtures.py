"""Data for the chart's page tests: staff of each role, and a patient with a
full clinical history (declarations, assessments with photos, a plan with a
completed session, appointments, notifications)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from booking import services as booking
from booking.models import Appointment, Notification
from patients.models import Patient
from tests.factories import (
    AppointmentFactory,
    HealthDeclarationFactory,
    NotificationFactory,
    PatientFactory,
    PractitionerFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments import services
from treatments.models import Category, Treatment, TreatmentPlan

ROLES = ("receptionist", "practitioner", "manager")


def picture(fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 120, 90)) -> bytes:
    image = Image.new("RGB", size, color=color)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name: str = "front.png", fmt: str = "PNG", content: bytes | None = None) -> SimpleUploadedFile:
    data = content if content is not None else picture(fmt)
    kind = "image/png" if fmt == "PNG" else "image/jpeg"
    return SimpleUploadedFile(name, data, content_type=kind)


def staff(role: str) -> User:
    return UserFactory(role=role)


def laser() -> Treatment:
    return TreatmentFactory(
        slug="pico-laser", category=Category.LASER, name_en="Pico laser", name_zh_hant="皮秒激光", sessions_max=6
    )


def assess(patient: Patient, by: User, *, days_ago: int = 0, photos: int = 0, **counts: Any) -> Any:
    lesions = counts or {"macular": 12, "punched_out_shallow": 25}
    assessment = services.assessment_record(
        patient=patient,
        by=by,
        fitzpatrick_type=3,
        qualitative_grade=3,
        pih="mild",
        pie="none",
        lesions=lesions,
        assessed_on=timezone.localdate() - timedelta(days=days_ago),
        notes="Baseline",
    )
    for index in range(photos):
        view = ["front", "left_45", "right_45", "left_90", "right_90"][index % 5]
        data = picture()
        services.photo_add(assessment=assessment, view=view, upload=io.BytesIO(data), size=len(data), by=by)
    return assessment


def checked_in_plan_appointment(patient: Patient, clinician: User, treatment: Treatment | None = None) -> Appointment:
    """A plan of 3 sessions whose session 1 is an appointment checked in today."""
    treatment = treatment or laser()
    practitioner = PractitionerFactory(treatments=[treatment])
    plan = services.plan_create(patient=patient, treatment=treatment, sessions=3, by=clinician)
    session = plan.sessions.get(number=1)
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    appointment = AppointmentFactory(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start=start,
        status=Appointment.Status.CHECKED_IN,
        checked_in_at=start,
        plan_session=session,
    )
    services.plan_session_booked(session=session, on=timezone.localdate(start), by=clinician)
    return appointment


def full_history(patient: Patient, clinician: User, *, n: int = 1) -> None:
    """``n`` of each kind of record for the patient."""
    for index in range(n):
        HealthDeclarationFactory(patient=patient, anticoagulants=index % 2 == 0)
        assess(patient, clinician, days_ago=30 * (n - index), photos=2)
        treatment = TreatmentFactory()
        plan = services.plan_create(patient=patient, treatment=treatment, sessions=3, by=clinician)
        appointment = AppointmentFactory(
            patient=patient, treatment=treatment, start=timezone.now() + timedelta(days=3 + 2 * index)
        )
        NotificationFactory(
            appointment=appointment, patient=patient, status=Notification.Status.SENT, sent_at=timezone.now()
        )
        if index == 0:
            services.plan_cancel(plan=plan, by=clinician, reason="Changed mind")
        else:
            assert plan.status == TreatmentPlan.Status.ACTIVE


__all__ = [
    "ROLES",
    "PatientFactory",
    "assess",
    "booking",
    "checked_in_plan_appointment",
    "full_history",
    "laser",
    "picture",
    "staff",
    "upload",
]
