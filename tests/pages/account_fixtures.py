"""Building blocks for the account and progress page tests (view and browser)."""

from __future__ import annotations

import io
from datetime import date, timedelta

from django.contrib.auth.models import User
from PIL import Image

from patients.models import Patient
from tests.factories import AssessmentFactory, TreatmentFactory, UserFactory
from treatments import services as clinical
from treatments.models import Assessment, AssessmentPhoto, PlanSession, Treatment, TreatmentPlan


def png(colour: tuple[int, int, int] = (200, 120, 110), size: tuple[int, int] = (60, 80)) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


def clinician() -> User:
    return UserFactory(role="practitioner")


def add_photo(
    assessment: Assessment, view: str = "front", colour: tuple[int, int, int] = (200, 120, 110)
) -> AssessmentPhoto:
    upload = png(colour)
    return clinical.photo_add(
        assessment=assessment, view=view, upload=upload, size=len(upload.getvalue()), by=clinician()
    )


def scores(patient: Patient, values: list[int], start: date, every_days: int = 30) -> list[Assessment]:
    """Assessments with the given scores (the score is stored as given), oldest first."""
    return [
        AssessmentFactory(patient=patient, assessed_on=start + timedelta(days=every_days * i), quantitative_score=v)
        for i, v in enumerate(values)
    ]


def plan(
    patient: Patient,
    *,
    sessions: int = 3,
    start_after: date | None = None,
    treatment: Treatment | None = None,
    done: int = 0,
) -> TreatmentPlan:
    """A plan through the service; its first ``done`` sessions marked completed."""
    treatment = treatment or TreatmentFactory(name_en="Pico laser", name_zh_hant="皮秒激光")
    created = clinical.plan_create(
        patient=patient, treatment=treatment, sessions=sessions, by=clinician(), start_after=start_after
    )
    for session in PlanSession.objects.filter(plan=created, number__lte=done).order_by("number"):
        session.refresh_from_db()
        session.plan = TreatmentPlan.objects.select_related("treatment").get(pk=created.pk)
        clinical.plan_session_completed(session=session, on=session.window_start, by=None)
    return created
