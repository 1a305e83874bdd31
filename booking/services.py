"""Booking writes: book, reschedule, cancel, check in, no-show, complete, closures.

Every function owns its transaction. Permissions are the caller's business
(who may act for which patient); these functions enforce the booking rules
and raise ``clinic.errors`` in the API's order: ``NotBookable`` (400) before
``Contraindicated`` and ``TooClose`` (422) before the 409s (``InvalidState``,
``CancellationWindowPassed``, ``SlotUnavailable``).

Double bookings are impossible in two layers: the availability engine
re-checks inside the transaction after taking advisory locks (PostgreSQL) or
the write lock (SQLite, ``BEGIN IMMEDIATE``), and PostgreSQL's exclusion
constraints refuse whatever slips past; their violation becomes
``SlotUnavailable``, never a 500.

Plan sessions: an appointment may be for a treatment-plan session. Booking,
moving, cancelling, missing or completing it reports the new facts to
``treatments.services`` (``plan_session_booked`` / ``_released`` /
``_completed``), which recomputes the plan's windows in the same transaction.
The plan row is locked before the advisory locks (book) or right after the
appointment row (the others), always in that order.

Missed visits: ``appointments_mark_missed`` (beat) marks the confirmed
appointments nobody checked in CLINIC_NO_SHOW_AFTER past their end through
the same steps as the no-show button.

Notifications: each change writes its outbox rows (booking.notifications)
inside its own transaction, so a notice exists exactly when the change does;
the rows are sent after commit and by the periodic sweep.

Events: each change also announces itself (clinic.events: appointment.created,
.rescheduled, .cancelled, .checked_in, .no_show, .completed) in the same
transaction, which writes the outgoing webhooks' deliveries (booking/webhooks.py).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import availability, checkout, deposit_rules, holds, notice, notifications, packages, selectors, spacing
from booking.models import Appointment, ClinicClosure, InjectableUse, Practitioner, SessionRecord, TimeOff
from clinic import events, formats, metrics
from clinic.clock import clinic_today, clinic_zone
from clinic.errors import (
    CancellationWindowPassed,
    Contraindicated,
    InvalidInput,
    InvalidState,
    NotBookable,
    SlotUnavailable,
    TooClose,
)
from patients.models import HealthDeclaration, Patient
from patients.roles import MANAGER, role_of
from treatments import consents
from treatments import services as clinical
from treatments.injectables import Injectable, validate_injectables
from treatments.models import ConsentSignature, ConsentVersion, PlanSession, Treatment
from treatments.parameters import validate_areas, validate_parameters
from treatments.screening import ScreeningResult, screen

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP
"""``appointment_reschedule(practitioner=KEEP)``: stay with the current practitioner."""

# Advisory lock namespaces (first key of pg_advisory_xact_lock(int, int)). Every
# transaction takes its locks sorted by (namespace, id), so two bookings never
# wait on each other in a cycle (without that order, deadlocks, 40P01, come in bursts).
LOCK_PRACTITIONER = 1
LOCK_ROOM_KIND = 2
LOCK_DEVICE_KIND = 3
LOCK_PATIENT = 4

# SQLSTATEs that mean "someone else holds it": exclusion violation, deadlock.
_TAKEN_SQLSTATES = {"23P01", "40P01"}

_random = random.SystemRandom()
logger = logging.getLogger(__name__)


def _now(now: datetime | None) -> datetime:
    return (now or timezone.now()).astimezone(UTC)


def _taken(error: Exception) -> bool:
    return getattr(error.__cause__, "sqlstate", None) in _TAKEN_SQLSTATES


def _lock(keys: Iterable[tuple[int, int]]) -> None:
    """Transaction-level advisory locks in a fixed order. On SQLite the
    ``IMMEDIATE`` transaction already holds the database's single write lock."""
    if connection.vendor != "postgresql":
        return
    ordered = sorted({(namespace, key % 2_147_483_647) for namespace, key in keys})
    if not ordered:
        return
    # One round trip; PostgreSQL evaluates the target list left to right, so
    # the locks are still taken in this fixed order.
    calls = ", ".join("pg_advisory_xact_lock(%s, %s)" for _ in ordered)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {calls}", [value for pair in ordered for value in pair])


LOCK_BUCKET_SECONDS = 3600


def _buckets(start: datetime, hold_until: datetime) -> range:
    """The hours [start, hold_until) touches. Two bookings that could conflict
    overlap in time, so they share a bucket and take the same lock; bookings at
    other times proceed in parallel. A hash collision only serialises more."""
    first = int(start.timestamp()) // LOCK_BUCKET_SECONDS
    last = (int(hold_until.timestamp()) - 1) // LOCK_BUCKET_SECONDS
    return range(first, last + 1)


def _lock_keys(
    *, practitioner_ids: Iterable[int], treatment: Treatment, patient_id: int, start: datetime
) -> list[tuple[int, int]]:
    hold_until = start + timedelta(minutes=treatment.duration_minutes + treatment.buffer_minutes)
    resources = [(LOCK_PRACTITIONER, pk) for pk in practitioner_ids]
    resources.append((LOCK_ROOM_KIND, treatment.room_kind_id))
    if treatment.device_kind_id is not None:
        resources.append((LOCK_DEVICE_KIND, treatment.device_kind_id))
    resources.append((LOCK_PATIENT, patient_id))
    return [
        (namespace, resource * 1_000_003 + bucket)
        for namespace, resource in resources
        for bucket in _buckets(start, hold_until)
    ]


def _lock_and_check(
    check: dict[str, Any], *, treatment: Treatment, patient_id: int, waitlist_offer_id: int | None = None
) -> list[availability.Allocation]:
    """Locks the practitioner (or every qualified one, for "any"), the room and
    device kinds and the patient around the requested time, then asks the
    engine once: what it answers holds until commit, since every writer of
    these resources takes the same locks first. Raises NotBookable. Booking
    from a waitlist offer claims it between the locks and the engine's answer
    (holds.offer_claim: InvalidState, or its hold is gone)."""
    candidates = (
        [check["practitioner_id"]]
        if check["practitioner_id"] is not None
        else selectors.qualified_practitioner_ids(treatment=treatment)
    )
    _lock(_lock_keys(practitioner_ids=candidates, treatment=treatment, patient_id=patient_id, start=check["start"]))
    hold_until = check["start"] + timedelta(minutes=treatment.duration_minutes + treatment.buffer_minutes)
    # Lapsed waitlist holds and unpaid deposits out of the constraints' way.
    checkout.lapse_all_expired(start=check["start"], end=hold_until, now=check["now"])
    if waitlist_offer_id is not None:
        holds.offer_claim(offer_id=waitlist_offer_id, patient_id=patient_id, start=check["start"], now=check["now"])
    return availability.check_start(**check)


lock_and_check = _lock_and_check  # booking.waitlist holds a slot under the same locks


def lock_appointment_slot(appointment: Appointment) -> None:
    """The advisory locks every booking of ``appointment``'s time takes, for a
    writer that changes that time's holder outside appointment_book
    (booking.deposits: a deposit paid, a hold lapsed)."""
    _lock(
        _lock_keys(
            practitioner_ids=[appointment.practitioner_id],
            treatment=appointment.treatment,
            patient_id=appointment.patient_id,
            start=appointment.start,
        )
    )


def _clinic_date(moment: datetime) -> date:
    return clinic_today(moment)


def _clinic_day(moment: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the clinic-local day containing ``moment``, in UTC."""
    zone = clinic_zone()
    day = _clinic_date(moment)
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone).astimezone(UTC)
    return start, end


def _unavailable(*, patient_id: int, start: datetime, end: datetime, exclude: int | None = None) -> SlotUnavailable:
    if selectors.patient_has_overlap(patient_id=patient_id, start=start, end=end, exclude_appointment_id=exclude):
        return SlotUnavailable(_("There is already an appointment for this patient at that time."))
    return SlotUnavailable()


def _fair_order(practitioner_ids: Sequence[int], start: datetime) -> list[int]:
    """Fewest active appointments on that clinic-local day first, ties at random."""
    day_start, day_end = _clinic_day(start)
    counts = selectors.appointment_counts(practitioner_ids=practitioner_ids, start=day_start, end=day_end)
    shuffled = list(practitioner_ids)
    _random.shuffle(shuffled)
    return sorted(shuffled, key=lambda pk: counts.get(pk, 0))


def _screen(*, patient: Patient, treatment: Treatment, start: datetime) -> ScreeningResult:
    return screen(patient=patient, treatment=treatment, on=_clinic_date(start))


@dataclass(frozen=True)
class _Screening:
    cautions: list[dict[str, str]]
    override_reason: str
    overridden: bool


def _screening_decision(
    *, patient: Patient, treatment: Treatment, start: datetime, staff: bool, override_reason: str
) -> _Screening:
    """Raises Contraindicated for a block, unless staff override it with a
    reason; then every finding (blocks included) is kept as a caution.

    Cautions never need a reason (the API contract: they are shown, and stored as
    ``cautions``). A reason staff give anyway for a caution is kept in
    ``override_reason`` too, so it is stored the same way whichever door it
    came through; ``overridden_by`` is set only when a block was passed. With
    nothing found there is nothing to go past, and the reason is dropped."""
    result = _screen(patient=patient, treatment=treatment, start=start)
    override_reason = override_reason.strip() if staff else ""
    if result.outcome == "blocked":
        if not override_reason:
            raise Contraindicated(result.reasons())
        return _Screening(cautions=result.reasons(), override_reason=override_reason, overridden=True)
    kept = override_reason if result.outcome == "caution" else ""
    return _Screening(cautions=result.reasons(), override_reason=kept, overridden=False)


def _spacing_decision(
    screening: _Screening,
    *,
    patient_id: int,
    treatment: Treatment,
    start: datetime,
    staff: bool,
    override_reason: str,
    exclude_appointment_id: int | None = None,
) -> _Screening:
    """Adds the gap rules (booking.spacing) to the screening decision: a block
    raises TooClose (422, after Contraindicated) unless staff pass it with a
    reason, the same ``override_reason`` that passes screening. Every finding
    is kept with the screening's cautions, so staff see it wherever cautions
    are shown."""
    findings = spacing.spacing_findings(
        patient_id=patient_id, treatment=treatment, start=start, exclude_appointment_id=exclude_appointment_id
    )
    if not findings:
        return screening
    reason = override_reason.strip() if staff else ""
    blocked = any(f["severity"] == "block" for f in findings)
    if blocked and not reason:
        raise TooClose(findings)
    return _Screening(
        cautions=[*screening.cautions, *findings],
        override_reason=screening.override_reason or reason,
        overridden=screening.overridden or blocked,
    )


def _outside_course_window(session: PlanSession, treatment: Treatment, window: tuple[date, date]) -> NotBookable:
    return NotBookable(
        _(
            "This booking is session %(number)d of the patient's %(treatment)s course, which can be booked "
            "only between %(first)s and %(last)s. Choose a time in that window, or book it as a separate visit "
            "if it is not part of the course."
        )
        % {
            "number": session.number,
            "treatment": treatment.localized("name"),
            "first": formats.date_text(window[0]),
            "last": formats.date_text(window[1]),
        }
    )


def _candidates(
    allocations: Sequence[availability.Allocation], start: datetime, any_practitioner: bool
) -> list[availability.Allocation]:
    if not any_practitioner:
        return list(allocations)
    by_practitioner = {allocation.practitioner_id: allocation for allocation in allocations}
    return [by_practitioner[pk] for pk in _fair_order(list(by_practitioner), start)]


def insert_first_free(
    allocations: Iterable[availability.Allocation],
    *,
    treatment: Treatment,
    start: datetime,
    by: User | None,
    **fields: Any,
) -> Appointment | None:
    """Inserts the row (a booking, or a waitlist hold: ``fields`` say which)
    on the first allocation the exclusion constraints accept, each try in its
    own savepoint, so losing a race to another writer moves on to the next
    practitioner, room or device. None when every one was taken meanwhile.
    Runs inside the caller's transaction, after its locks and the engine's word."""
    end = start + timedelta(minutes=treatment.duration_minutes)
    for allocation in allocations:
        row = Appointment(
            treatment=treatment,
            practitioner_id=allocation.practitioner_id,
            room_id=allocation.room_id,
            device_id=allocation.device_id,
            start=start,
            end=end,
            blocked_until=end + timedelta(minutes=treatment.buffer_minutes),
            booked_by=by,
            sequence=0,
            **fields,
        )
        row._history_user = by
        try:
            with transaction.atomic():
                row.save(force_insert=True)
        except (IntegrityError, OperationalError) as error:
            if not _taken(error):
                raise
            continue
        return row
    return None


# --- booking -------------------------------------------------------------------------


def appointment_book(
    *,
    patient: Patient,
    treatment: Treatment,
    start: datetime,
    practitioner: Practitioner | None,
    booked_by: User,
    staff: bool,
    source: str | None = None,
    notes: str = "",
    override_reason: str = "",
    window: tuple[date, date] | None = None,
    plan_session_id: int | None = None,
    separate_visit: bool = False,
    waitlist_offer_id: int | None = None,
    deposit_hold_until: datetime | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Books ``start`` for ``patient`` or raises NotBookable (not a time this
    caller may book), Contraindicated (screening blocks; staff may pass
    ``override_reason``), TooClose (a gap rule against the patient's other
    visits blocks the date, booking.spacing; the same ``override_reason``
    passes it), SlotUnavailable (held by others, or the patient has an
    overlapping appointment). ``practitioner=None`` picks among the free
    qualified practitioners fairly: fewest appointments that day first, ties at
    random, the next one if the first loses a race. ``window`` limits the
    clinic-local date.

    ``plan_session_id`` books that session of the patient's plan: InvalidInput
    if it is not this patient's or not of this treatment; NotBookable if its
    turn has not come (session k−1 neither booked nor completed) or ``start``
    is outside its window (staff may book a session whose window has ended
    on any date, treatments.plans); InvalidState (409, after screening) if it
    already has an appointment, is completed, or its plan is cancelled.

    Without ``plan_session_id`` the booking is for the patient's next open
    session of this treatment (``selectors.next_open_plan_session``), with
    exactly the checks and effects of naming it, unless ``separate_visit``
    says it is a visit of its own. Outside that session's window it is
    NotBookable, saying how to book a separate visit instead. Naming a
    session and ``separate_visit`` together is InvalidInput.

    The caller has checked that ``booked_by`` may book for ``patient`` and has
    decided ``staff`` (staff are exempt from notice and the patient horizon).
    Enqueues the confirmation (sent after commit) and a reminder per
    CLINIC_REMINDER_OFFSETS. An erased patient is NotBookable.

    ``waitlist_offer_id`` books the slot an open offer holds (booking.waitlist):
    InvalidState if it expired or was used; its hold makes way for the booking.

    ``deposit_hold_until`` books it as ``deposit_due`` instead (booking.deposits):
    the slot, the patient's time and the plan session are held until then, and
    nothing is sent or announced until the deposit is paid."""
    now = _now(now)
    start = start.astimezone(UTC)
    if source is not None and source not in Appointment.Source.values:
        raise InvalidInput(fields={"source": [_("Unknown source.")]})
    if separate_visit and plan_session_id is not None:
        raise InvalidInput(
            fields={
                "separate_visit": [_("A booking for a plan session is not a separate visit: send one or the other.")]
            }
        )
    with transaction.atomic(durable=True):
        # Read again inside the transaction: erasure (booking.erasure) may have just happened.
        if Patient.objects.filter(pk=patient.pk, erased_at__isnull=False).exists():
            raise NotBookable(_("This patient's record was erased: they cannot be booked."))
        session: PlanSession | None = None
        implied = False
        if plan_session_id is None and not separate_visit:
            found = selectors.next_open_plan_session(patient_id=patient.pk, treatment_id=treatment.pk)
            if found is not None:
                plan_session_id, implied = found.pk, True
        if plan_session_id is not None:
            session, window = clinical.plan_session_for_booking(
                session_id=plan_session_id,
                patient_id=patient.pk,
                treatment_id=treatment.pk,
                staff=staff,
                today=_clinic_date(now),
            )
            if implied and window is not None and not window[0] <= _clinic_date(start) <= window[1]:
                raise _outside_course_window(session, treatment, window)
        check: dict[str, Any] = {
            "treatment": treatment,
            "start": start,
            "practitioner_id": practitioner.pk if practitioner else None,
            "staff": staff,
            "now": now,
            "window": window,
            "patient_id": patient.pk,
        }
        try:
            allocations = _lock_and_check(  # NotBookable
                check, treatment=treatment, patient_id=patient.pk, waitlist_offer_id=waitlist_offer_id
            )
        except OperationalError as error:
            if not _taken(error):
                raise
            raise SlotUnavailable() from None
        screening = _screening_decision(
            patient=patient, treatment=treatment, start=start, staff=staff, override_reason=override_reason
        )
        screening = _spacing_decision(
            screening,
            patient_id=patient.pk,
            treatment=treatment,
            start=start,
            staff=staff,
            override_reason=override_reason,
        )
        if session is not None:
            clinical.plan_session_check_free(session)  # InvalidState
        end = start + timedelta(minutes=treatment.duration_minutes)
        if not allocations:
            raise _unavailable(patient_id=patient.pk, start=start, end=end)
        try:
            appointment = insert_first_free(
                _candidates(allocations, start, practitioner is None),
                treatment=treatment,
                start=start,
                by=booked_by,
                patient=patient,
                status=Appointment.Status.DEPOSIT_DUE if deposit_hold_until else Appointment.Status.CONFIRMED,
                hold_expires_at=deposit_hold_until,
                source=source or (Appointment.Source.STAFF if staff else Appointment.Source.PATIENT_ONLINE),
                notes=notes,
                cautions=screening.cautions,
                override_reason=screening.override_reason,
                overridden_by=booked_by if screening.overridden else None,
                plan_session=session,
            )
            if appointment is not None:
                if session is not None:
                    clinical.plan_session_booked(session=session, on=_clinic_date(start), by=booked_by)
                if waitlist_offer_id is not None:
                    holds.offer_booked(offer_id=waitlist_offer_id, appointment=appointment, now=now)
                if deposit_hold_until is None:  # else when paid (booking.deposits.deposit_confirm)
                    notifications.notify_appointment_booked(appointment=appointment, now=now)
                    events.emit(event=events.APPOINTMENT_CREATED, instance=appointment, now=now)
                # Counted once the booking is committed (clinic/metrics.py).
                transaction.on_commit(partial(metrics.booking_committed, appointment.source))
                return appointment
        except OperationalError as error:
            # A deadlock outside the savepoint (taking the locks): the
            # transaction is spoilt, so no query for a better message.
            if not _taken(error):
                raise
            raise SlotUnavailable() from error
        raise _unavailable(patient_id=patient.pk, start=start, end=end)


def appointment_reschedule(
    *,
    appointment: Appointment,
    start: datetime,
    practitioner: Practitioner | _Keep | None = KEEP,
    by: User,
    staff: bool,
    window: tuple[date, date] | None = None,
    reason: str = "",
    override_reason: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Moves a confirmed appointment to ``start`` (same id, ``sequence`` + 1,
    room and device chosen again). The old time is released only if the new one
    is taken, and the new time may overlap the old. ``practitioner``: KEEP the
    current one, None for any, or a practitioner.

    Raises NotBookable, Contraindicated (screening again for the new date; a
    staff override recorded at booking still stands), TooClose (a gap rule
    against the patient's other visits blocks the new date; staff pass it with
    ``override_reason``, stored with who gave it), InvalidState (not
    confirmed), CancellationWindowPassed (a patient inside the notice),
    SlotUnavailable. Enqueues the reschedule notice and new reminders; pending
    notices of the old time are skipped. A plan session's appointment stays
    inside the session's window (staff: anywhere once the window has ended),
    and the plan's later windows follow the new date. ``reason`` (a closure's,
    or one staff give) goes to the patient with the old and the new time."""
    now = _now(now)
    start = start.astimezone(UTC)
    with transaction.atomic(durable=True):
        locked = Appointment.objects.select_for_update().select_related("treatment", "patient").get(pk=appointment.pk)
        treatment = locked.treatment
        session: PlanSession | None = None
        if locked.plan_session_id is not None and locked.status == Appointment.Status.CONFIRMED:
            session = clinical.lock_plan_of_session(locked.plan_session_id)
            window = clinical.plan_session_window(session=session, staff=staff, today=_clinic_date(now))
        if practitioner is KEEP:
            practitioner_id: int | None = locked.practitioner_id
        else:
            practitioner_id = practitioner.pk if practitioner else None
        check: dict[str, Any] = {
            "treatment": treatment,
            "start": start,
            "practitioner_id": practitioner_id,
            "staff": staff,
            "now": now,
            "window": window,
            "exclude_appointment_id": locked.pk,
            "patient_id": locked.patient_id,
        }
        try:
            allocations = _lock_and_check(check, treatment=treatment, patient_id=locked.patient_id)  # NotBookable
        except OperationalError as error:
            if not _taken(error):
                raise
            raise SlotUnavailable() from None
        result = _screen(patient=locked.patient, treatment=treatment, start=start)
        if result.outcome == "blocked" and not locked.overridden_by_id:
            raise Contraindicated(result.reasons())
        moved = _spacing_decision(
            _Screening(cautions=result.reasons(), override_reason="", overridden=False),
            patient_id=locked.patient_id,
            treatment=treatment,
            start=start,
            staff=staff,
            override_reason=override_reason,
            exclude_appointment_id=locked.pk,
        )
        if locked.status != Appointment.Status.CONFIRMED:
            raise InvalidState(_("Only a confirmed appointment can be moved."))
        if not staff and not notice.online_changes_open(locked.start, now=now):
            raise CancellationWindowPassed()
        end = start + timedelta(minutes=treatment.duration_minutes)
        previous_start = locked.start
        if not allocations:
            raise _unavailable(patient_id=locked.patient_id, start=start, end=end, exclude=locked.pk)
        try:
            for allocation in _candidates(allocations, start, practitioner is None):
                locked.practitioner_id = allocation.practitioner_id
                locked.room_id = allocation.room_id
                locked.device_id = allocation.device_id
                locked.start = start
                locked.end = end
                locked.blocked_until = end + timedelta(minutes=treatment.buffer_minutes)
                locked.cautions = moved.cautions
                if start != previous_start:
                    # The patient confirmed the old time, not this one: the next reminder asks again.
                    locked.patient_confirmed_at, locked.patient_confirmed_via = None, ""
                if moved.overridden:
                    locked.override_reason, locked.overridden_by = moved.override_reason, by
                locked._history_user = by
                try:
                    with transaction.atomic():
                        locked.sequence += 1
                        locked.save(
                            update_fields=[
                                "practitioner",
                                "room",
                                "device",
                                "start",
                                "end",
                                "blocked_until",
                                "cautions",
                                "override_reason",
                                "overridden_by",
                                "patient_confirmed_at",
                                "patient_confirmed_via",
                                "sequence",
                                "updated_at",
                            ]
                        )
                except (IntegrityError, OperationalError) as error:
                    locked.sequence -= 1
                    if not _taken(error):
                        raise
                    continue
                if session is not None:
                    clinical.plan_session_booked(session=session, on=_clinic_date(start), by=by)
                notifications.notify_appointment_rescheduled(
                    appointment=locked, now=now, previous_start=previous_start, reason=reason.strip()
                )
                holds.freed(start=previous_start, end=previous_start + (locked.blocked_until - start))  # the old time
                events.emit(
                    event=events.APPOINTMENT_RESCHEDULED,
                    instance=locked,
                    now=now,
                    extra={"previous_start": previous_start},
                )
                return locked
        except OperationalError as error:
            if not _taken(error):
                raise
            raise SlotUnavailable() from error
        raise _unavailable(patient_id=locked.patient_id, start=start, end=end, exclude=locked.pk)


def _appointment_cancel(
    *, appointment: Appointment, by: User, staff: bool, reason: str, now: datetime, for_patient: bool = False
) -> Appointment:
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if locked.status != Appointment.Status.CONFIRMED:
        raise InvalidState(_("Only a confirmed appointment can be cancelled."))
    if not staff and not notice.online_changes_open(locked.start, now=now):
        raise CancellationWindowPassed()
    locked.status = Appointment.Status.CANCELLED
    locked.cancelled_at = now
    by_clinic = staff and not for_patient
    locked.cancelled_by = Appointment.CancelledBy.CLINIC if by_clinic else Appointment.CancelledBy.PATIENT
    locked.cancelled_by_user = by
    locked.cancellation_reason = reason
    locked.sequence += 1
    locked._history_user = by
    locked.save(
        update_fields=[
            "status",
            "cancelled_at",
            "cancelled_by",
            "cancelled_by_user",
            "cancellation_reason",
            "sequence",
            "updated_at",
        ]
    )
    _release_plan_session(locked, by)
    deposit_rules.on_cancel(locked, by=by, now=now)
    notifications.notify_appointment_cancelled(appointment=locked, now=now)
    holds.freed(start=locked.start, end=locked.blocked_until)  # to the waitlist, after commit
    events.emit(event=events.APPOINTMENT_CANCELLED, instance=locked, now=now)
    return locked


def _release_plan_session(appointment: Appointment, by: User | None) -> None:
    """A cancelled or missed appointment gives its plan session back: pending
    again, and the later windows return to their projection."""
    if appointment.plan_session_id is not None:
        session = clinical.lock_plan_of_session(appointment.plan_session_id)
        clinical.plan_session_released(session=session, by=by)


def appointment_cancel(
    *,
    appointment: Appointment,
    by: User,
    staff: bool,
    reason: str = "",
    for_patient: bool = False,
    now: datetime | None = None,
) -> Appointment:
    """Cancels a confirmed appointment, freeing its time. Raises InvalidState
    (not confirmed) and, for patients, CancellationWindowPassed inside
    ``CLINIC_CANCELLATION_NOTICE`` before the start; staff are exempt.
    Staff cancelling at the patient's request (``for_patient``: they phoned)
    cancel as the patient, so the deposit rules treat it as the patient's
    (booking.deposit_rules). Enqueues the cancellation notice; pending
    reminders are skipped."""
    with transaction.atomic(durable=True):
        return _appointment_cancel(
            appointment=appointment, by=by, staff=staff, reason=reason, now=_now(now), for_patient=for_patient
        )


def _transition(appointment: Appointment, by: User | None, fields: dict[str, Any]) -> Appointment:
    for name, value in fields.items():
        setattr(appointment, name, value)
    appointment.sequence += 1
    appointment._history_user = by
    appointment.save(update_fields=[*fields, "sequence", "updated_at"])
    return appointment


def appointment_check_in(*, appointment: Appointment, by: User, now: datetime | None = None) -> Appointment:
    """confirmed → checked_in, only on the appointment's clinic-local day."""
    now = _now(now)
    with transaction.atomic(durable=True):
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status != Appointment.Status.CONFIRMED:
            raise InvalidState(_("Only a confirmed appointment can be checked in."))
        day = _clinic_date(locked.start)
        if _clinic_date(now) != day:
            raise InvalidState(
                _("Check-in is only possible on the day of the appointment (%(day)s).")
                % {"day": formats.date_text(day)}
            )
        notifications.notify_appointment_closed(appointment=locked)  # the patient is here: no more reminders
        _transition(locked, by, {"status": Appointment.Status.CHECKED_IN, "checked_in_at": now})
        events.emit(event=events.APPOINTMENT_CHECKED_IN, instance=locked, now=now)
        return locked


def _mark_no_show(locked: Appointment, *, by: User | None, now: datetime) -> Appointment:
    """The no-show itself, on a row the caller has locked and found confirmed
    and started, inside the caller's transaction (``appointment_no_show`` and
    the missed-visit sweep, ``appointments_mark_missed``). ``by=None``: the sweep; the row
    says ``no_show_auto`` and its history row has no user. The patient is told
    kindly unless the visit ended more than MISSED_VISIT_USEFUL_FOR ago."""
    tell = now <= locked.end + notifications.MISSED_VISIT_USEFUL_FOR
    if by is None:
        locked._change_reason = "Marked automatically: not checked in by the end of the visit plus CLINIC_NO_SHOW_AFTER"
    _transition(locked, by, {"status": Appointment.Status.NO_SHOW, "no_show_auto": by is None})
    _release_plan_session(locked, by)
    deposit_rules.on_no_show(locked, by=by, now=now)
    # After the transition: the row carries the no-show's calendar sequence.
    notifications.notify_appointment_missed(appointment=locked, now=now, tell=tell)
    events.emit(event=events.APPOINTMENT_NO_SHOW, instance=locked, now=now)
    return locked


def appointment_no_show(*, appointment: Appointment, by: User | None, now: datetime | None = None) -> Appointment:
    """confirmed → no_show, only once the appointment has started. The time
    stays booked in the past; the resources are released (no_show is inactive),
    and so is its plan session. Writes the missed-visit notice ("We missed
    you", with a way to book again), published after commit. Raises
    InvalidState when the appointment is not confirmed (already marked by
    the sweep, say) or has not started. ``by=None`` means the system."""
    now = _now(now)
    with transaction.atomic(durable=True):
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status != Appointment.Status.CONFIRMED:
            raise InvalidState(_("Only a confirmed appointment can be marked as a no-show."))
        if now < locked.start:
            raise InvalidState(_("An appointment can be marked as a no-show only after it has started."))
        return _mark_no_show(locked, by=by, now=now)


MISSED_SWEEP_LIMIT = 500  # per run; the next run (five minutes later) takes the rest


def appointments_mark_missed(*, now: datetime | None = None) -> int:
    """The missed-visit sweep (beat, every five minutes: booking.tasks.mark_missed_visits).
    Every confirmed appointment (neither checked in, cancelled nor completed)
    whose end plus ``CLINIC_NO_SHOW_AFTER`` has passed is marked no-show
    through the button's own steps, with ``by=None`` (the system): plan
    session released, the patient told kindly, the staff lists show it
    "Marked automatically". Off when the setting is None (empty).

    A visit that ended more than MISSED_VISIT_USEFUL_FOR (7 days) ago (beat
    stopped for a while, say) is marked silently: its notice is recorded as
    skipped ``too_late``, never emailed.

    Each appointment in its own transaction, taken with SKIP LOCKED and
    re-read as still confirmed: two sweeps at once, or a sweep racing the
    button, mark it once and email once (the outbox's unique row per kind,
    appointment and sequence is the database's word). Safe to run twice.
    Returns how many it marked."""
    after = settings.CLINIC_NO_SHOW_AFTER
    if after is None:
        return 0
    now = _now(now)
    due = Appointment.objects.filter(status=Appointment.Status.CONFIRMED, end__lte=now - after)
    marked = 0
    for pk in list(due.order_by("end", "pk").values_list("pk", flat=True)[:MISSED_SWEEP_LIMIT]):
        with transaction.atomic(durable=True):
            mine = due.filter(pk=pk)
            if connection.vendor == "postgresql":  # SQLite's single writer serialises it anyway
                mine = mine.select_for_update(skip_locked=True)
            locked = mine.first()
            if locked is None:
                continue  # marked, checked in or cancelled meanwhile, or being changed right now
            _mark_no_show(locked, by=None, now=now)
            marked += 1
    if marked:
        logger.info("missed-visit sweep: %d appointment(s) marked no-show", marked)
    return marked


_RECORD_TEXT = ("anaesthesia", "immediate_reaction", "adverse_events", "notes")
CONSENT_OVERRIDE_MAX = 500


def _clean_record(category: str, record: dict[str, Any], *, visit_day: date) -> dict[str, Any]:
    """The session record's fields, validated for the treatment's category
    (treatments.parameters, and treatments.injectables for the products a
    filler, toxin or steroid session used, whose lots must not have expired
    before ``visit_day``), or InvalidInput naming every bad field."""
    errors: dict[str, list[str]] = {}
    areas, area_errors = validate_areas(record.get("areas", []))
    if area_errors:
        errors["areas"] = area_errors
    parameters, parameter_errors = validate_parameters(category, record.get("parameters", {}))
    errors.update(parameter_errors)
    injectables, injectable_errors = validate_injectables(category, record.get("injectables"), visit_day=visit_day)
    errors.update(injectable_errors)
    pain = record.get("pain_score")
    if pain is not None and (isinstance(pain, bool) or not isinstance(pain, int) or not 0 <= pain <= 10):
        errors["pain_score"] = [_("Give a whole number from 0 to 10.")]
    if errors:
        raise InvalidInput(fields=errors)
    return {
        "areas": areas,
        "parameters": parameters,
        "pain_score": pain,
        "injectables": injectables,
        **{name: record.get(name, "") for name in _RECORD_TEXT},
    }


@dataclass(frozen=True)
class ConsentOutcome:
    """What completing found about consent: the signatures that counted, and
    the manager's override when some were missing."""

    signatures: list[ConsentSignature]
    override_reason: str = ""
    override_by: User | None = None

    @property
    def version_text(self) -> str:
        """The free-text summary kept on the record, e.g. ``laser-resurfacing v2``."""
        text = ", ".join(f"{s.version.form.slug} v{s.version.number}" for s in self.signatures)
        return text[:200]


def _clean_consent_override(record: dict[str, Any]) -> str:
    """The override reason, checked for shape (InvalidInput, before any state check)."""
    reason = record.get("consent_override_reason") or ""
    if not isinstance(reason, str):
        raise InvalidInput(fields={"consent_override_reason": [_("Give the reason as text.")]})
    reason = " ".join(reason.replace("\x00", "").split())
    if len(reason) > CONSENT_OVERRIDE_MAX:
        raise InvalidInput(
            fields={"consent_override_reason": [_("At most %(count)s characters.") % {"count": CONSENT_OVERRIDE_MAX}]}
        )
    return reason


def missing_consent_message(patient: Patient, needs: Sequence[consents.Need]) -> str:
    """ "Chan Tai Man has not signed the current consent for laser and
    resurfacing (version 2).", naming every form missing."""
    forms = ", ".join(
        _("%(form)s (version %(number)s)") % {"form": need.form.localized("title"), "number": need.version.number}
        for need in needs
    )
    return _("%(patient)s has not signed the current consent for %(forms)s.") % {
        "patient": patient.full_name,
        "forms": forms,
    }


def _consent_check(appointment: Appointment, *, by: User, override_reason: str) -> ConsentOutcome:
    """Completing needs a signature that counts for every form the treatment
    needs (treatments.consents: the current version, or an earlier one it
    kept). Without, InvalidState naming the forms, unless a manager gives a
    reason: the override is stored with the record. The API refuses other
    roles' overrides (403) before this; here they are InvalidState too."""
    needs = consents.needs_for(patient=appointment.patient_id, treatment=appointment.treatment)
    signatures = [need.signature for need in needs if need.signature is not None]
    missing = [need for need in needs if need.signature is None]
    if not missing:
        return ConsentOutcome(signatures=signatures)
    message = missing_consent_message(appointment.patient, missing)
    if not override_reason:
        raise InvalidState(message)
    if role_of(by) != MANAGER:
        raise InvalidState(_("%(message)s Only a manager may complete the session without it.") % {"message": message})
    return ConsentOutcome(signatures=signatures, override_reason=override_reason, override_by=by)


def _store_injectables(session_record: SessionRecord, injectables: list[Injectable], by: User) -> None:
    for position, item in enumerate(injectables):
        use = InjectableUse(
            session_record=session_record,
            position=position,
            product=item.product,
            lot=item.lot,
            lot_key=item.lot_key,
            expiry=item.expiry,
            amount=item.amount,
            unit=item.unit,
        )
        use._history_user = by
        use.save(force_insert=True)


def appointment_complete(
    *, appointment: Appointment, by: User, record: dict[str, Any], now: datetime | None = None
) -> tuple[Appointment, SessionRecord]:
    """checked_in → completed, writing the session record: ``record`` holds
    ``areas``, ``anaesthesia``, ``pain_score``, ``immediate_reaction``,
    ``adverse_events``, ``notes``, ``parameters`` (all optional) and
    ``injectables`` (product, lot, expiry, amount: required for filler, toxin
    and steroid, refused for the rest; an expired lot is invalid), validated
    for the treatment's category. The record keeps
    the patient's newest health declaration as the one used. A plan session
    is completed on the appointment's clinic-local date and the plan's later
    windows anchor on it.

    Consent: every form the treatment needs must be signed (``_consent_check``);
    the signatures that counted are linked to the record and summarised in
    ``consent_version``. A manager may complete without them by giving
    ``consent_override_reason`` (at most 500 characters), kept with who gave it.

    Raises InvalidInput (400, before any state check) and InvalidState (not
    checked in; then consent missing). The caller has checked the role
    (practitioners, managers). Enqueues the treatment's aftercare."""
    now = _now(now)
    override_reason = _clean_consent_override(record)
    with transaction.atomic(durable=True):
        locked = Appointment.objects.select_for_update().select_related("treatment", "patient").get(pk=appointment.pk)
        fields = _clean_record(locked.treatment.category, record, visit_day=_clinic_date(locked.start))
        injectables = fields.pop("injectables")
        if locked.status != Appointment.Status.CHECKED_IN:
            raise InvalidState(_("Only a checked-in appointment can be completed."))
        consent = _consent_check(locked, by=by, override_reason=override_reason)
        declaration = (
            HealthDeclaration.objects.filter(patient_id=locked.patient_id).order_by("-submitted_at", "-id").first()
        )
        _transition(locked, by, {"status": Appointment.Status.COMPLETED, "completed_at": now})
        session_record = SessionRecord(
            appointment=locked,
            category=locked.treatment.category,
            health_declaration=declaration,
            recorded_by=by,
            recorded_at=now,
            consent_version=consent.version_text,
            consent_override_reason=consent.override_reason,
            consent_override_by=consent.override_by,
            **fields,
        )
        session_record._history_user = by
        session_record.save(force_insert=True)
        if consent.signatures:
            session_record.consent_signatures.set(consent.signatures)
        _store_injectables(session_record, injectables, by)
        if locked.plan_session_id is not None:
            session = clinical.lock_plan_of_session(locked.plan_session_id)
            clinical.plan_session_completed(session=session, on=_clinic_date(locked.start), by=by)
        packages.package_redeem(appointment=locked, by=by, now=now)
        notifications.notify_appointment_completed(appointment=locked, now=now)
        events.emit(event=events.APPOINTMENT_COMPLETED, instance=locked, now=now)
        return locked, session_record


# --- consent for a visit -------------------------------------------------------------

CONSENT_SIGNABLE = (Appointment.Status.CONFIRMED, Appointment.Status.CHECKED_IN)


def appointment_consent_sign(
    *,
    appointment: Appointment,
    version: ConsentVersion,
    full_name: str,
    signature_svg: str = "",
    photo_use: Iterable[str] = (),
    language: str,
    by: User,
    staff: bool,
    client_address: str | None = None,
    now: datetime | None = None,
) -> ConsentSignature:
    """The patient of ``appointment`` signs ``version``, a form its treatment
    needs (treatments.consents.consent_sign). The patient signing is online;
    staff calling it is a signature at the desk, witnessed by ``by``.

    Raises InvalidInput (400: every input rule of ``consent_sign``, a form
    this treatment does not need) before InvalidState (409: a visit that is
    cancelled, missed or completed). Nothing is stored when either raises."""

    def signable() -> None:
        status = (
            Appointment.objects.select_for_update().filter(pk=appointment.pk).values_list("status", flat=True).first()
        )
        if status not in CONSENT_SIGNABLE:
            raise InvalidState(_("This visit is cancelled, missed or completed: there is nothing left to sign for."))

    return consents.consent_sign(
        patient=appointment.patient,
        version=version,
        full_name=full_name,
        signature_svg=signature_svg,
        photo_use=photo_use,
        language=language,
        channel=ConsentSignature.Channel.DESK if staff else ConsentSignature.Channel.ONLINE,
        by=by,
        client_address=client_address,
        witness=by if staff else None,
        treatment=appointment.treatment,
        check=signable,
        now=now,
    )


# --- closures and time off -----------------------------------------------------------


def closure_affected_appointments(
    *, start: datetime, end: datetime, practitioner: Practitioner | None = None
) -> QuerySet[Appointment]:
    """Confirmed and checked-in appointments overlapping [start, end) (of one
    practitioner, for time off): what staff must move or cancel."""
    return selectors.appointments_overlapping(
        start=start, end=end, practitioner_id=practitioner.pk if practitioner else None
    )


def _check_span(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(_("Times need a time zone offset."))
    if start >= end:
        raise InvalidInput(_("The end must be after the start."), fields={"end": [_("Must be after the start.")]})


def closure_add(
    *, start: datetime, end: datetime, reason: str, kind: str, by: User
) -> tuple[ClinicClosure, QuerySet[Appointment]]:
    """Closes the clinic over [start, end): no new slots then. Never touches
    existing appointments; returns those affected for staff to move or cancel
    (``appointments_cancel_for_closure``)."""
    _check_span(start, end)
    if kind not in ClinicClosure.Kind.values:
        raise InvalidInput(fields={"kind": [_("Unknown kind of closure.")]})
    with transaction.atomic(durable=True):
        closure = ClinicClosure.objects.create(start=start, end=end, reason=reason, kind=kind, created_by=by)
    return closure, closure_affected_appointments(start=start, end=end)


def time_off_add(
    *, practitioner: Practitioner, start: datetime, end: datetime, reason: str, by: User
) -> tuple[TimeOff, QuerySet[Appointment]]:
    """Takes ``practitioner`` off over [start, end). Like ``closure_add``, it
    returns the practitioner's affected appointments and changes none."""
    _check_span(start, end)
    with transaction.atomic(durable=True):
        time_off = TimeOff.objects.create(practitioner=practitioner, start=start, end=end, reason=reason, created_by=by)
    return time_off, closure_affected_appointments(start=start, end=end, practitioner=practitioner)


def appointments_cancel_for_closure(
    *, appointments: Iterable[Appointment], reason: str, by: User, now: datetime | None = None
) -> tuple[list[Appointment], list[Appointment]]:
    """Cancels each appointment as the clinic (``appointment_cancel``,
    staff=True), one transaction each. Returns (cancelled, skipped): those no
    longer confirmed (checked in, or cancelled meanwhile) are skipped, not
    failed, so one does not hold up the rest."""
    cancelled: list[Appointment] = []
    skipped: list[Appointment] = []
    for appointment in appointments:
        try:
            cancelled.append(appointment_cancel(appointment=appointment, by=by, staff=True, reason=reason, now=now))
        except InvalidState:
            skipped.append(appointment)
    return cancelled, skipped


# --- the patient's own confirmation ---------------------------------------------------

PATIENT_CONFIRM_VIA = ("whatsapp", "sms", "email", "portal", "api")


def appointment_patient_confirm_locked(*, appointment: Appointment, via: str, now: datetime) -> bool:
    """``appointment_patient_confirm`` inside the caller's transaction (an
    inbound webhook records its event and its effect in one,
    booking/inbound.py). Locks the appointment row."""
    if via not in PATIENT_CONFIRM_VIA:
        raise InvalidInput(_("Unknown confirmation channel."), fields={"via": [_("Unknown confirmation channel.")]})
    locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if locked.status != Appointment.Status.CONFIRMED or locked.start <= now or locked.patient_confirmed_at:
        return False
    locked.patient_confirmed_at, locked.patient_confirmed_via = now, via
    locked._history_user = None
    locked._change_reason = f"Confirmed by the patient ({via})"
    locked.save(update_fields=["patient_confirmed_at", "patient_confirmed_via", "updated_at"])
    appointment.patient_confirmed_at, appointment.patient_confirmed_via = now, via
    return True


def appointment_patient_confirm(*, appointment: Appointment, via: str, now: datetime | None = None) -> bool:
    """The patient says they are coming: a reminder's WhatsApp button, an SMS
    reply, an email link. Records when and on which channel (``via``: whatsapp,
    sms, email, portal or api; InvalidInput otherwise) once, with a history row;
    the staff schedule shows it. Only a confirmed appointment that has not
    started: for anything else (cancelled or moved into the past meanwhile,
    checked in) and for a second confirmation nothing changes (the first time
    and channel stay) and it returns False. True when this call recorded it.
    A reschedule clears it (the patient confirmed the old time). The caller
    has checked that the patient is the one confirming."""
    with transaction.atomic(durable=True):
        return appointment_patient_confirm_locked(appointment=appointment, via=via, now=_now(now))
