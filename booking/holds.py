"""Waitlist holds as the booking services see them.

A waitlist offer (booking.waitlist) holds its slot with an Appointment row of
status ``held``: the exclusion constraints keep every other booking off it,
and the availability engine counts it as busy until ``hold_expires_at``
(booking.selectors.busy_rows). After that instant the slot is free to anyone,
but the row still sits in the constraints' way until it is deleted, so every
writer that is about to take a time first deletes the expired holds there
(``lapse_expired``), inside its own transaction and after its locks. The
periodic sweep does the same for holds nobody bumped into.

This module never imports booking.services or booking.waitlist: the services
call it, and the waitlist builds on both.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.models import Appointment, WaitlistEntry, WaitlistOffer
from clinic.errors import InvalidState

logger = logging.getLogger(__name__)

MATCH_TASK = "booking.tasks.match_waitlist"


def lapse_expired(*, start: datetime, end: datetime, now: datetime | None = None) -> list[int]:
    """Ends every hold whose expiry has passed and whose time overlaps
    [start, end) (buffer included): the offer becomes ``expired`` and the
    held row is deleted. Must run inside the caller's transaction. Returns
    the offers' ids; after commit the freed times go back to the waitlist."""
    now = now or timezone.now()
    expired = list(
        Appointment.with_holds.select_for_update()
        .filter(
            status=Appointment.Status.HELD,
            hold_expires_at__lte=now,
            start__lt=end,
            blocked_until__gt=start,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not expired:
        return []
    offers = list(
        WaitlistOffer.objects.select_for_update()
        .filter(hold_id__in=expired, status=WaitlistOffer.Status.OPEN)
        .values_list("pk", flat=True)
    )
    WaitlistOffer.objects.filter(pk__in=offers).update(status=WaitlistOffer.Status.EXPIRED, decided_at=now, hold=None)
    Appointment.with_holds.filter(pk__in=expired, status=Appointment.Status.HELD).delete()
    freed(start=start, end=end)
    return offers


def offer_claim(*, offer_id: int, patient_id: int, start: datetime, now: datetime) -> WaitlistOffer:
    """Booking from a waitlist offer, inside appointment_book's transaction,
    after its locks and before the engine's check: locks the offer row, and
    raises InvalidState unless it is open, unexpired and is this patient's
    offer of ``start``; then deletes the hold, so the booking takes its place.
    Two acceptances of one offer queue on the row lock; the second finds it
    accepted (or, if the first failed and rolled back, still open)."""
    offer = WaitlistOffer.objects.select_for_update().select_related("entry").filter(pk=offer_id).first()
    if (
        offer is None
        or offer.status != WaitlistOffer.Status.OPEN
        or offer.expires_at <= now
        or offer.entry.patient_id != patient_id
        or offer.start != start
    ):
        raise InvalidState(_("This offer has expired or was already used."))
    # Taken now (an open offer must have its hold); if the booking fails, the
    # rollback opens it again.
    WaitlistOffer.objects.filter(pk=offer.pk).update(status=WaitlistOffer.Status.ACCEPTED, decided_at=now, hold=None)
    if offer.hold_id is not None:
        Appointment.with_holds.filter(pk=offer.hold_id, status=Appointment.Status.HELD).delete()
    return offer


def offer_booked(*, offer_id: int, appointment: Appointment, now: datetime) -> None:
    """After the booking's insert, in its transaction: the offer is accepted
    and its entry booked (both rows already locked by offer_claim's caller)."""
    WaitlistOffer.objects.filter(pk=offer_id).update(appointment=appointment)
    WaitlistEntry.objects.filter(offers__pk=offer_id).update(
        status=WaitlistEntry.Status.BOOKED, closed_at=now, appointment=appointment
    )


def freed(*, start: datetime, end: datetime) -> None:
    """After commit, asks the waitlist to offer what [start, end) freed (a
    cancellation, a move, an expired or declined offer). Sent by name: the
    task lives above this module (booking.tasks)."""
    first, last = start.isoformat(), end.isoformat()
    transaction.on_commit(partial(_publish_match, first, last), robust=True)


def _publish_match(start: str, end: str) -> None:
    """Never raises: with the broker down, the waitlist sweep finds the time."""
    from clinic.celery import app

    try:
        app.send_task(MATCH_TASK, kwargs={"start": start, "end": end}, ignore_result=True)
    except Exception as error:  # kombu raises OperationalError, OSError, timeouts...
        logger.warning("broker unavailable (%s): the waitlist sweep will offer the freed time", type(error).__name__)
