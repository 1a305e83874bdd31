"""Reads for booking: querysets with their joins applied, and the flat rows the
availability engine loads (one query each, whatever the number of rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from django.conf import settings
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.db.models import CharField, Count, Min, Prefetch, Q, QuerySet, Value
from django.utils import timezone

from booking.constraints import TsTzRange
from booking.models import (
    Appointment,
    ClinicClosure,
    Device,
    InjectableUse,
    Notification,
    Practitioner,
    Room,
    TimeOff,
    WebhookDelivery,
    WorkingHours,
)
from clinic.clock import clinic_date
from treatments.models import PlanSession, Treatment, TreatmentPlan
from treatments.plans import turn_has_come
from treatments.selectors import DowntimeConflict, downtime_conflicts

ACTIVE = [str(status) for status in Appointment.ACTIVE_STATUSES]
HOLDING = [str(status) for status in Appointment.HOLDING_STATUSES]
HOLDS = [str(Appointment.Status.HELD), str(Appointment.Status.DEPOSIT_DUE)]
# Appointments a closure or time off can still affect: not yet completed.
UPCOMING = [Appointment.Status.CONFIRMED.value, Appointment.Status.CHECKED_IN.value]


def appointments_for(
    *,
    patient_id: int | None = None,
    practitioner_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    statuses: Sequence[str] | None = None,
) -> QuerySet[Appointment]:
    """Appointments with everything a list or detail renders, ordered by start.
    ``start``/``end`` keep those overlapping [start, end)."""
    queryset = Appointment.objects.select_related(
        "patient", "treatment", "practitioner__user", "room", "device", "booked_by", "overridden_by"
    )
    if patient_id is not None:
        queryset = queryset.filter(patient_id=patient_id)
    if practitioner_id is not None:
        queryset = queryset.filter(practitioner_id=practitioner_id)
    if start is not None:
        queryset = queryset.filter(end__gt=start)
    if end is not None:
        queryset = queryset.filter(start__lt=end)
    if statuses is not None:
        queryset = queryset.filter(status__in=list(statuses))
    return queryset.order_by("start", "id")


def appointments_overlapping(
    *, start: datetime, end: datetime, practitioner_id: int | None = None
) -> QuerySet[Appointment]:
    """Confirmed and checked-in appointments whose own time (not the buffer)
    overlaps [start, end): what a closure or time off would affect."""
    return appointments_for(practitioner_id=practitioner_id, start=start, end=end, statuses=UPCOMING)


def appointment_counts(*, practitioner_ids: Sequence[int], start: datetime, end: datetime) -> dict[int, int]:
    """Active appointments per practitioner starting in [start, end)."""
    rows = (
        Appointment.objects.filter(
            practitioner_id__in=list(practitioner_ids), status__in=ACTIVE, start__gte=start, start__lt=end
        )
        .values("practitioner_id")
        .annotate(total=Count("id"))
        .order_by()
    )
    return {row["practitioner_id"]: row["total"] for row in rows}


# --- rows for the availability engine -----------------------------------------------


def qualified_practitioner_ids(*, treatment: Treatment, practitioner_id: int | None = None) -> list[int]:
    queryset = Practitioner.objects.filter(active=True, treatments=treatment)
    if practitioner_id is not None:
        queryset = queryset.filter(pk=practitioner_id)
    return list(queryset.order_by("pk").values_list("pk", flat=True))


def working_hours_rows(
    *, practitioner_ids: Sequence[int]
) -> list[tuple[int, int, time, time, time | None, time | None]]:
    """(practitioner_id, weekday, start, end, break_start, break_end)."""
    return list(
        WorkingHours.objects.filter(practitioner_id__in=list(practitioner_ids))
        .order_by("practitioner_id", "weekday", "start")
        .values_list("practitioner_id", "weekday", "start", "end", "break_start", "break_end")
    )


def time_off_rows(
    *, practitioner_ids: Sequence[int], start: datetime, end: datetime
) -> list[tuple[int, datetime, datetime]]:
    return list(
        TimeOff.objects.filter(practitioner_id__in=list(practitioner_ids), start__lt=end, end__gt=start)
        .order_by()
        .values_list("practitioner_id", "start", "end")
    )


def closure_rows(*, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return list(ClinicClosure.objects.filter(start__lt=end, end__gt=start).order_by().values_list("start", "end"))


def active_room_ids(*, kind_id: int) -> list[int]:
    """In the order rooms are offered: by name, as staff see them listed."""
    return list(
        Room.objects.filter(kind_id=kind_id, active=True).order_by("name_en", "pk").values_list("pk", flat=True)
    )


def active_device_ids(*, kind_id: int) -> list[int]:
    return list(
        Device.objects.filter(kind_id=kind_id, active=True).order_by("name_en", "pk").values_list("pk", flat=True)
    )


def busy_rows(
    *,
    start: datetime,
    end: datetime,
    practitioner_ids: Sequence[int],
    room_ids: Sequence[int],
    device_ids: Sequence[int],
    exclude_appointment_id: int | None = None,
    now: datetime | None = None,
) -> list[tuple[int, int, int | None, datetime, datetime]]:
    """(practitioner_id, room_id, device_id, start, blocked_until) of every
    active appointment holding one of these resources during [start, end),
    and of every waitlist hold or unpaid deposit's hold that has not expired
    by ``now`` (an expired one is free: the next booking there deletes or
    lapses it, booking.holds and booking.checkout)."""
    holds = Q(practitioner_id__in=list(practitioner_ids)) | Q(room_id__in=list(room_ids))
    if device_ids:
        holds |= Q(device_id__in=list(device_ids))
    # Waitlist holds and visits awaiting their deposit are busy until they expire.
    live = Q(status__in=ACTIVE) | Q(status__in=HOLDS, hold_expires_at__gt=now or timezone.now())
    # status IN (the constraints' condition) first, so the partial index still applies.
    queryset = Appointment.with_holds.filter(holds, live, status__in=HOLDING)
    if connection.vendor == "postgresql":
        # The same range expression and condition as the exclusion constraints,
        # so PostgreSQL reads their partial GiST index: active rows overlapping
        # the span only, never the past or the cancelled (5x faster at 100k rows).
        queryset = queryset.alias(held=TsTzRange("start", "blocked_until")).filter(
            held__overlap=DateTimeTZRange(start, end, "[)")
        )
    else:
        queryset = queryset.filter(start__lt=end, blocked_until__gt=start)
    if exclude_appointment_id is not None:
        queryset = queryset.exclude(pk=exclude_appointment_id)
    return list(queryset.order_by().values_list("practitioner_id", "room_id", "device_id", "start", "blocked_until"))


def patient_has_overlap(
    *, patient_id: int, start: datetime, end: datetime, exclude_appointment_id: int | None = None
) -> bool:
    """Whether the patient holds an active appointment overlapping [start, end)
    (the patient's own time, buffers excluded, as the database constraint)."""
    awaiting = Q(status=Appointment.Status.DEPOSIT_DUE, hold_expires_at__gt=timezone.now())
    queryset = Appointment.objects.filter(
        Q(status__in=ACTIVE) | awaiting, patient_id=patient_id, start__lt=end, end__gt=start
    )
    if exclude_appointment_id is not None:
        queryset = queryset.exclude(pk=exclude_appointment_id)
    return queryset.exists()


def notification_log() -> QuerySet[Notification]:
    """Newest first. The log renders ids only, so it needs no joins."""
    return Notification.objects.order_by("-due_at", "-id")


@dataclass(frozen=True)
class OutboxDelay:
    """Messages that should have gone out more than ``CLINIC_NOTIFICATION_STALL_AFTER`` ago."""

    count: int
    oldest_due: datetime | None


def notifications_late(*, now: datetime | None = None) -> OutboxDelay:
    """Due rows still waiting long after their time, and rows claimed by a sender
    that has not finished long after: a stalled worker, beat or broker. Rows
    waiting for a retry after a refused send are not late (their next attempt
    is in the future). One query, on the outbox's two partial indexes."""
    cutoff = (now or timezone.now()) - settings.CLINIC_NOTIFICATION_STALL_AFTER
    late = Notification.objects.filter(
        Q(status=Notification.Status.PENDING, next_attempt_at__lte=cutoff)
        | Q(status=Notification.Status.SENDING, claimed_at__lte=cutoff)
    ).aggregate(count=Count("pk"), oldest=Min("next_attempt_at"))
    return OutboxDelay(count=late["count"], oldest_due=late["oldest"])


@dataclass(frozen=True)
class OutboxDepth:
    """What an outbox holds that is due and not yet sent, for monitoring."""

    outbox: str  # "notifications" or "webhooks"
    count: int
    oldest_due: datetime | None


OUTBOXES = ("notifications", "webhooks")


def outbox_depths(*, now: datetime | None = None) -> list[OutboxDepth]:
    """Both outboxes' due rows (pending with their time come, or claimed by a
    sender and not finished) and the oldest one's due time; an outbox with
    nothing due has count 0. One query (a UNION of two aggregates on the
    outboxes' partial indexes), for the metrics scrape (booking/monitoring.py)."""
    now = now or timezone.now()

    def due(model: type[Notification] | type[WebhookDelivery], name: str) -> QuerySet:
        return (
            model.objects.filter(Q(status="pending", next_attempt_at__lte=now) | Q(status="sending"))
            .order_by()
            .annotate(outbox=Value(name, output_field=CharField()))
            .values("outbox")
            .annotate(count=Count("pk"), oldest=Min("next_attempt_at"))
            .values_list("outbox", "count", "oldest")
        )

    found = {
        row[0]: row
        for row in due(Notification, "notifications").union(due(WebhookDelivery, "webhooks"), all=True).order_by()
    }
    return [
        OutboxDepth(outbox=name, count=found[name][1], oldest_due=found[name][2])
        if name in found
        else OutboxDepth(outbox=name, count=0, oldest_due=None)
        for name in OUTBOXES
    ]


def next_open_plan_session(*, patient_id: int, treatment_id: int) -> PlanSession | None:
    """The plan session a booking of ``treatment_id`` for the patient is for
    when the caller names none (booking.services.appointment_book): of the
    patient's active plans of that treatment, oldest first, the lowest-numbered
    session still open (pending; overdue is pending with its window passed),
    provided its turn has come (the one before is booked or completed,
    treatments.plans). None when there is no such session, so the booking is
    a visit of its own."""
    plans = (
        TreatmentPlan.objects.filter(
            patient_id=patient_id, treatment_id=treatment_id, status=TreatmentPlan.Status.ACTIVE
        )
        .order_by("created_at", "id")
        .prefetch_related(Prefetch("sessions", queryset=PlanSession.objects.order_by("number")))
    )
    for plan in plans:
        previous: str | None = None
        for session in plan.sessions.all():
            if session.status == PlanSession.Status.PENDING:
                if turn_has_come(number=session.number, previous_state=previous):  # type: ignore[arg-type]
                    session.plan = plan
                    return session
                break
            previous = session.status
    return None


def injectable_uses(*, lot_key: str) -> QuerySet[InjectableUse]:
    """The uses of one lot (``treatments.injectables.normalise_lot``), newest
    visit first, with the patient, treatment and practitioner each row shows."""
    return (
        InjectableUse.objects.filter(lot_key=lot_key)
        .select_related(
            "session_record__appointment__patient",
            "session_record__appointment__treatment",
            "session_record__appointment__practitioner__user",
        )
        .order_by("-session_record__appointment__start", "-id")
    )


# The patient's dates that matter, for lists that show each appointment's downtime flag:
# one query for the whole list (tests/api/test_query_counts.py).
IMPORTANT_DATES = "patient__important_dates"


def appointment_downtime(appointment: Appointment) -> list[DowntimeConflict]:
    """The dates that matter this appointment's usual downtime overlaps; none once it is
    cancelled or missed. Reads the patient's dates prefetched with IMPORTANT_DATES when the
    list did, else one query (none for a treatment without downtime)."""
    if appointment.status in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW):
        return []
    return downtime_conflicts(
        patient_id=appointment.patient_id,
        treatment=appointment.treatment,
        day=clinic_date(appointment.start),
        dates=appointment.patient.important_dates.all(),
    )
