"""Celery tasks for booking: thin wrappers over booking.notifications and services.

They take ids and JSON and add no logic: the outbox rows carry the state, the
retry policy (backoff, attempts) and the claims, so a task delivered twice, a
task lost with its worker, or a broker restart changes nothing a sweep cannot
put right.
"""

from __future__ import annotations

import uuid

from celery import shared_task

from booking import erasure, notifications, services


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
