"""Spacing between different treatments for one patient (gap rules, treatments.gaps).

Loads the rules and the patient's other visits within the widest rule's reach
(two queries whatever the numbers) and asks the pure evaluation. Used by
booking.services (book and move: 422 ``too_close``), the screening endpoint,
plan proposals and the patient's calendar (the days a block would refuse).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from booking.models import Appointment
from clinic.clock import clinic_date, clinic_zone
from treatments import gaps
from treatments.models import Treatment, TreatmentPlan


def subject_of(treatment: Treatment) -> gaps.Subject:
    return gaps.Subject(treatment_id=treatment.pk, category=treatment.category, name=treatment.localized("name"))


def visits(*, patient_id: int, first: date, last: date, exclude_appointment_id: int | None = None) -> list[gaps.Visit]:
    """The patient's booked, checked-in and completed visits on clinic-local
    dates ``[first, last]`` (one query). A visit with a session record is done,
    whatever its status says; cancelled and missed visits count for nothing."""
    zone = clinic_zone()
    queryset = Appointment.objects.all()
    if exclude_appointment_id is not None:
        queryset = queryset.exclude(pk=exclude_appointment_id)
    rows = (
        queryset.filter(
            patient_id=patient_id,
            status__in=Appointment.ACTIVE_STATUSES,
            start__gte=datetime.combine(first, time.min, tzinfo=zone),
            start__lt=datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone),
        )
        .select_related("treatment", "session_record")
        .order_by("start", "pk")
    )
    found: list[gaps.Visit] = []
    for row in rows:
        record = getattr(row, "session_record", None)
        # What was recorded is what was done: the record's category wins over the catalogue's.
        category = record.category if record is not None else row.treatment.category
        found.append(
            gaps.Visit(
                subject=gaps.Subject(
                    treatment_id=row.treatment_id, category=category, name=row.treatment.localized("name")
                ),
                on=clinic_date(row.start),
                appointment_id=row.pk,
                done=record is not None or row.status == Appointment.Status.COMPLETED,
            )
        )
    return found


def _load(
    *, patient_id: int, first: date, last: date, exclude_appointment_id: int | None
) -> tuple[list[gaps.Rule], list[gaps.Visit]]:
    rules = gaps.active_rules()
    if not rules:
        return rules, []
    reach = timedelta(days=gaps.reach(rules))
    return rules, visits(
        patient_id=patient_id, first=first - reach, last=last + reach, exclude_appointment_id=exclude_appointment_id
    )


def spacing_findings(
    *, patient_id: int, treatment: Treatment, start: datetime, exclude_appointment_id: int | None = None
) -> list[dict[str, Any]]:
    """What the gap rules say about ``treatment`` at ``start`` for this patient:
    ``[{"code": "too_close", "detail", "severity", "appointment"}]``, blocks
    first. ``exclude_appointment_id``: the appointment being moved."""
    on = clinic_date(start)
    rules, found = _load(patient_id=patient_id, first=on, last=on, exclude_appointment_id=exclude_appointment_id)
    return gaps.evaluate(rules=rules, subject=subject_of(treatment), on=on, visits=found)


def blocked_days(
    *, patient_id: int, treatment: Treatment, first: date, last: date, exclude_appointment_id: int | None = None
) -> dict[date, str]:
    """Clinic-local day → why a block refuses ``treatment`` that day, for the
    days in ``[first, last]`` (the patient's calendar; ``exclude_appointment_id``:
    the appointment being moved, which cannot be too close to itself)."""
    rules, found = _load(patient_id=patient_id, first=first, last=last, exclude_appointment_id=exclude_appointment_id)
    return gaps.blocked_days(rules=rules, subject=subject_of(treatment), first=first, last=last, visits=found)


def window_findings(
    *, patient_id: int, treatment: Treatment, windows: Sequence[tuple[int, date, date]]
) -> list[dict[str, Any]]:
    """Plan proposals: for each ``(session number, first, last)`` window, the
    visits that make part of it too close; each finding adds ``session``."""
    if not windows:
        return []
    rules, found = _load(
        patient_id=patient_id,
        first=min(w[1] for w in windows),
        last=max(w[2] for w in windows),
        exclude_appointment_id=None,
    )
    subject = subject_of(treatment)
    out: list[dict[str, Any]] = []
    for number, first, last in windows:
        for item in gaps.window_findings(rules=rules, subject=subject, first=first, last=last, visits=found):
            out.append({**item, "session": number})
    return out


def plan_findings(plan: TreatmentPlan) -> list[dict[str, Any]]:
    """The gap rules against a new plan's session windows (the plans API and the chart's plan form)."""
    return window_findings(
        patient_id=plan.patient_id,
        treatment=plan.treatment,
        windows=[(s.number, s.window_start, s.window_end) for s in plan.sessions.all()],
    )
