"""Visits waiting for their deposit, as the booking services see them.

Online booking of a treatment that asks a deposit (booking.deposits) books
the visit as ``deposit_due``: it holds its slot, the patient's time and its
plan session until ``hold_expires_at`` (the exclusion constraints keep every
other booking off it; the engine counts it busy until then). Once that instant
has passed the hold has lapsed, but the row is still in the constraints' way
until it is cancelled, so every writer about to take a time first lapses the
expired ones there (``lapse_expired``, inside its transaction and after its
advisory locks), and the payments sweep lapses those nobody bumped into.

Locks are always taken in one order: the slot's advisory locks, then the
checkout rows, then the appointment rows. The webhook that confirms a payment
takes them in the same order, so a payment racing a lapse ends in one outcome.

This module never imports booking.services or booking.deposits: the services
call it, and deposits builds on both.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from booking import holds
from booking.models import Appointment, DepositCheckout
from treatments import services as clinical

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

Status = Appointment.Status


def lapse_reason() -> str:
    """Stored as the appointment's cancellation reason (in the clinic's words, English)."""
    return "The deposit was not paid in time: the slot was released."


def lapse_expired(
    *, start: datetime | None = None, end: datetime | None = None, now: datetime | None = None
) -> list[int]:
    """Cancels every ``deposit_due`` visit whose hold has expired by ``now``
    (those overlapping [start, end), buffer included, when given): the visit
    becomes ``cancelled`` with a clear reason, its open checkouts ``expired``
    and its plan session pending again; the freed time goes to the waitlist
    after commit. Must run inside the caller's transaction, after the slot's
    advisory locks. Returns the appointments' ids."""
    now = now or timezone.now()
    candidates = Appointment.objects.filter(status=Status.DEPOSIT_DUE, hold_expires_at__lte=now)
    if start is not None and end is not None:
        candidates = candidates.filter(start__lt=end, blocked_until__gt=start)
    ids = list(candidates.order_by("pk").values_list("pk", flat=True))
    if not ids:
        return []
    # Checkouts before appointments, as the webhook locks them.
    list(DepositCheckout.objects.select_for_update().filter(appointment_id__in=ids).order_by("pk").values_list("pk"))
    lapsed = list(
        Appointment.objects.select_for_update()
        .filter(pk__in=ids, status=Status.DEPOSIT_DUE, hold_expires_at__lte=now)
        .order_by("pk")
    )
    for appointment in lapsed:
        release(appointment, reason=lapse_reason(), now=now)
    return [appointment.pk for appointment in lapsed]


def lapse_all_expired(*, start: datetime, end: datetime, now: datetime) -> None:
    """Both kinds of lapsed hold out of [start, end)'s way, for a writer about
    to take that time (inside its transaction, after the slot's advisory
    locks): waitlist holds (``holds.lapse_expired``) and unpaid deposits
    (``lapse_expired``). One probe asks whether there is any of either; each
    full lapse runs only for a kind it found. Every writer of this time holds
    the same locks, so nothing can turn up between the probe and the lapse."""
    found = set(
        Appointment.with_holds.filter(
            status__in=[Status.HELD, Status.DEPOSIT_DUE],
            hold_expires_at__lte=now,
            start__lt=end,
            blocked_until__gt=start,
        )
        .order_by()
        .values_list("status", flat=True)
        .distinct()
    )
    if Status.HELD in found:
        holds.lapse_expired(start=start, end=end, now=now)
    if Status.DEPOSIT_DUE in found:
        lapse_expired(start=start, end=end, now=now)


def release(appointment: Appointment, *, reason: str, now: datetime, by: User | None = None) -> None:
    """A locked ``deposit_due`` visit gives its slot back: cancelled (by the
    clinic: nobody chose it; the reason says why), its open checkouts expired,
    its plan session pending again, the time offered to the waitlist after
    commit. Nothing is sent: the patient was never told it was booked."""
    appointment.status = Status.CANCELLED
    appointment.hold_expires_at = None
    appointment.cancelled_at = now
    appointment.cancelled_by = Appointment.CancelledBy.CLINIC
    appointment.cancellation_reason = reason
    appointment._history_user = by
    appointment._change_reason = "deposit hold released"
    appointment.save(
        update_fields=[
            "status",
            "hold_expires_at",
            "cancelled_at",
            "cancelled_by",
            "cancellation_reason",
            "updated_at",
        ]
    )
    DepositCheckout.objects.filter(appointment=appointment, status=DepositCheckout.Status.OPEN).update(
        status=DepositCheckout.Status.EXPIRED, updated_at=now
    )
    if appointment.plan_session_id is not None:
        session = clinical.lock_plan_of_session(appointment.plan_session_id)
        clinical.plan_session_released(session=session, by=None)
    holds.freed(start=appointment.start, end=appointment.blocked_until)
    logger.info("deposit hold of appointment %s released", appointment.pk)


def due(now: datetime | None = None) -> list[int]:
    """Visits whose deposit hold has expired and is still in place: what the sweep lapses."""
    return list(
        Appointment.objects.filter(status=Status.DEPOSIT_DUE, hold_expires_at__lte=now or timezone.now())
        .order_by("hold_expires_at", "pk")
        .values_list("pk", flat=True)[:200]
    )


def awaiting(appointment: Appointment, now: datetime | None = None) -> bool:
    """Whether the patient can still pay for ``appointment``: it waits for its deposit and the hold lasts."""
    return (
        appointment.status == Status.DEPOSIT_DUE
        and appointment.hold_expires_at is not None
        and appointment.hold_expires_at > (now or timezone.now())
    )
