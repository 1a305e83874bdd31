"""Celery tasks for booking: thin wrappers over booking.notifications and services.

They take ids and JSON and add no logic: the outbox rows carry the state, the
retry policy (backoff, attempts) and the claims, so a task delivered twice, a
task lost with its worker, or a broker restart changes nothing a sweep cannot
put right.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from celery import shared_task
from django.core.cache import cache

from booking import deposits, erasure, notifications, packages, services, waitlist, webhook_delivery


@shared_task(ignore_result=True)
def sweep_notifications() -> None:
    """Beat, every CLINIC_NOTIFICATION_SWEEP_SECONDS (clinic/celery.py)."""
    notifications.notifications_sweep()


@shared_task(ignore_result=True)
def deliver_notifications(ids: list[int], claim: str | None = None) -> None:
    """Sends a batch claimed by a sweep (``claim``), or one row straight after
    the commit that created it (``claim=None``)."""
    notifications.notifications_deliver(ids=ids, claim=uuid.UUID(claim) if claim else None)


@shared_task(ignore_result=True)
def purge_erasures() -> None:
    """Beat, hourly (clinic/celery.py): erased patients' records past their retention."""
    erasure.erasures_purge()


@shared_task(ignore_result=True)
def mark_missed_visits() -> None:
    """Beat, every five minutes (clinic/celery.py): visits nobody checked in
    CLINIC_NO_SHOW_AFTER past their end become no-shows."""
    services.appointments_mark_missed()


# The waitlist (booking/waitlist.py). Each task re-reads state: an offer is
# made under the booking's locks and constraints, expired only while open, so
# a task run twice, or racing the sweep, makes no second offer.

FULL_MATCH_EVERY = 600  # seconds between safety-net matches over every waiting entry


@shared_task(ignore_result=True)
def match_waitlist(start: str, end: str) -> None:
    """Sent after commit by booking.holds.freed: offers the freed [start, end)."""
    waitlist.waitlist_match(start=datetime.fromisoformat(start), end=datetime.fromisoformat(end))


@shared_task(ignore_result=True)
def offer_expire(offer_id: int) -> None:
    """Sent with eta=expires_at when an offer is made: passes the slot on at once."""
    waitlist.offer_expire(offer_id=offer_id)


@shared_task(ignore_result=True)
def sweep_waitlist() -> None:
    """Beat, every minute (clinic/celery.py): expires what the eta tasks
    missed (lost with a worker or a broker restart), ends past entries, and at
    most every ten minutes matches every waiting entry, for freed times whose
    message never reached a worker. ``cache.add`` is shared by every worker."""
    waitlist.offers_expire()
    if cache.add("waitlist:full-match", 1, timeout=FULL_MATCH_EVERY):
        waitlist.waitlist_match_all()


# Outgoing webhooks (booking/webhook_delivery.py): the same outbox pattern as the
# notifications, one row per event and subscription.


@shared_task(ignore_result=True)
def sweep_webhooks() -> None:
    """Beat, every CLINIC_WEBHOOK_SWEEP_SECONDS (clinic/celery.py)."""
    webhook_delivery.webhooks_sweep()


@shared_task(ignore_result=True)
def deliver_webhooks(ids: list[int], claim: str | None = None) -> None:
    """Sends a batch claimed by a sweep (``claim``), or deliveries straight
    after the commit that wrote them (``claim=None``)."""
    webhook_delivery.webhooks_deliver(ids=ids, claim=uuid.UUID(claim) if claim else None)


@shared_task(ignore_result=True)
def deposit_refund_send(refund_id: int) -> None:
    """Sent after the commit that owed the refund (booking.deposits.refund_request)."""
    deposits.refund_send(refund_id=refund_id)


@shared_task(ignore_result=True)
def sweep_payments() -> None:
    """Beat, every minute (clinic/celery.py): refunds still owed are asked again
    (and, with booking.deposits' holds, unpaid deposits free their slot)."""
    deposits.payments_sweep()
    packages.packages_expire()


@shared_task(ignore_result=True)
def deposit_session_expire(session_id: str) -> None:
    """Sent after the commit that released a deposit hold (booking.deposits)."""
    deposits.session_expire(session_id=session_id)
