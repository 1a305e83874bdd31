"""Reads for clinical records, with their joins applied (constant queries).

A plan session's appointment is found through the reverse relation that
booking declares (``Appointment.plan_session``, related name
``appointments``): the model is reached through that relation, so treatments
never imports booking.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, TypedDict

from django.db.models import Model, Prefetch, QuerySet

from patients.models import ImportantDate
from patients.selectors import important_dates_for
from treatments import downtime, plans
from treatments.models import Assessment, AssessmentPhoto, PhotoView, PlanSession, Treatment, TreatmentPlan


def _appointment_model() -> type[Model]:
    return PlanSession._meta.get_field("appointments").related_model


def active_appointments_prefetch(lookup: str = "appointments") -> Prefetch:
    """Each session's active appointment (at most one) as ``active_appointments``."""
    appointment = _appointment_model()
    statuses = [str(status) for status in appointment.ACTIVE_STATUSES]  # type: ignore[attr-defined]  # booking's Appointment, reached without importing it
    return Prefetch(
        lookup,
        queryset=appointment._default_manager.filter(status__in=statuses).only("id", "plan_session_id", "status"),
        to_attr="active_appointments",
    )


def session_appointment_id(session: PlanSession) -> int | None:
    found = getattr(session, "active_appointments", None)
    if found is None:
        session = PlanSession.objects.prefetch_related(active_appointments_prefetch()).get(pk=session.pk)
        found = session.active_appointments  # type: ignore[attr-defined]  # set by the prefetch's to_attr
    return found[0].pk if found else None


def sessions_with_appointments() -> QuerySet[PlanSession]:
    return PlanSession.objects.order_by("number").prefetch_related(active_appointments_prefetch())


def plans_for(*, patient_id: int | None = None) -> QuerySet[TreatmentPlan]:
    queryset = TreatmentPlan.objects.select_related("treatment").prefetch_related(
        Prefetch("sessions", queryset=sessions_with_appointments())
    )
    if patient_id is not None:
        queryset = queryset.filter(patient_id=patient_id)
    return queryset.order_by("-created_at", "-id")


def assessments_for(*, patient_id: int | None = None) -> QuerySet[Assessment]:
    queryset = Assessment.objects.prefetch_related(
        Prefetch("photos", queryset=AssessmentPhoto.objects.order_by("taken_at", "id"))
    )
    if patient_id is not None:
        queryset = queryset.filter(patient_id=patient_id)
    return queryset.order_by("-assessed_on", "-id")


def progress(*, patient_id: int, today: date) -> dict[str, Any]:
    """Assessments over time, per plan the sessions done and due, and per
    view the first and latest photo: four queries whatever the history.
    Values are model objects and plain data; the API renders them."""
    assessments = list(
        Assessment.objects.filter(patient_id=patient_id)
        .order_by("assessed_on", "id")
        .only("id", "assessed_on", "quantitative_score", "qualitative_grade")
    )
    first, latest = (assessments[0], assessments[-1]) if assessments else (None, None)
    change = None
    if first is not None and latest is not None:
        difference = latest.quantitative_score - first.quantitative_score
        change = {
            "from_assessment": first.pk,
            "to_assessment": latest.pk,
            "quantitative_score": difference,
            "quantitative_score_percent": (
                round(100 * difference / first.quantitative_score, 1) if first.quantitative_score else None
            ),
            "qualitative_grade": latest.qualitative_grade - first.qualitative_grade,
        }
    plan_rows = []
    for plan in plans_for(patient_id=patient_id):
        sessions = list(plan.sessions.all())
        done = [s for s in sessions if s.status == PlanSession.Status.COMPLETED]
        due = [s for s in sessions if s.status in (PlanSession.Status.PENDING, PlanSession.Status.BOOKED)]
        plan_rows.append({"plan": plan, "done": done, "due": due, "total": len(sessions)})
    photos: dict[str, dict[str, AssessmentPhoto]] = {}
    for photo in (
        AssessmentPhoto.objects.filter(assessment__patient_id=patient_id)
        .select_related("assessment")
        .order_by("taken_at", "id")
    ):
        entry = photos.setdefault(photo.view, {"first": photo})
        entry["latest"] = photo
    return {
        "assessments": assessments,
        "change": change,
        "plans": plan_rows,
        "photos": {view: photos[view] for view in PhotoView.values if view in photos},
        "today": today,
    }


def shown_status(session: PlanSession, today: date) -> str:
    return plans.shown_status(state=session.status, window_end=session.window_end, today=today)


def featured_treatments() -> QuerySet[Treatment]:
    """The treatments the clinic chose for its home page (``featured``, set in
    the admin), in the clinic's order (``featured_order``, then the catalogue's).
    Inactive ones never show. Empty when the clinic chose none: the page decides
    what to show instead."""
    return Treatment.objects.filter(active=True, featured=True).order_by("featured_order", "display_order", "slug")


class DowntimeConflict(TypedDict):
    starts_on: date
    ends_on: date
    label: str
    detail: str


def downtime_conflicts(
    *, patient_id: int, treatment: Treatment, day: date, dates: Iterable[ImportantDate] | None = None
) -> list[DowntimeConflict]:
    """The patient's dates that matter which a visit for ``treatment`` on the clinic-local ``day``
    would overlap with its usual downtime (how the days count: treatments.downtime), each with
    the sentence to show. A flag, never a refusal. ``dates`` takes the patient's dates already
    loaded (a list's prefetch); otherwise one query, and none for a treatment without downtime."""
    if treatment.downtime_days_max <= 0:
        return []
    if dates is None:
        dates = important_dates_for(patient_id=patient_id)
    ranges = [downtime.DateRange(d.starts_on, d.ends_on, d.label) for d in dates]
    return [
        {
            "starts_on": hit.starts_on,
            "ends_on": hit.ends_on,
            "label": hit.label,
            "detail": downtime.detail(hit, treatment),
        }
        for hit in downtime.conflicts(day, days_max=treatment.downtime_days_max, dates=ranges)
    ]
