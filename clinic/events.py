"""Domain events: what happened, told by the floor that did it to whoever listens above.

The services of every floor announce their changes here, inside the
transaction that makes them: ``emit(event="plan.created", instance=plan,
now=now)``. A floor never imports the floors above it, so ``treatments`` and
``patients`` cannot call the outgoing webhooks (``booking/webhooks.py``)
themselves; a ``django.dispatch.Signal`` lets them tell it without knowing it
is there. ``booking`` connects its receiver in ``BookingConfig.ready``.

A receiver runs in the sender's transaction and writes there: an event of a
transaction that rolls back leaves nothing behind, and one that commits always
has its rows. ``send`` (not ``send_robust``): a receiver that fails fails the
change, rather than letting it commit without its event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import Signal

APPOINTMENT_CREATED = "appointment.created"
APPOINTMENT_RESCHEDULED = "appointment.rescheduled"
APPOINTMENT_CANCELLED = "appointment.cancelled"
APPOINTMENT_CHECKED_IN = "appointment.checked_in"
APPOINTMENT_NO_SHOW = "appointment.no_show"
APPOINTMENT_COMPLETED = "appointment.completed"
PATIENT_CREATED = "patient.created"
PLAN_CREATED = "plan.created"
PLAN_COMPLETED = "plan.completed"

EVENT_TYPES = (
    APPOINTMENT_CREATED,
    APPOINTMENT_RESCHEDULED,
    APPOINTMENT_CANCELLED,
    APPOINTMENT_CHECKED_IN,
    APPOINTMENT_NO_SHOW,
    APPOINTMENT_COMPLETED,
    PATIENT_CREATED,
    PLAN_CREATED,
    PLAN_COMPLETED,
)

# Receivers take (sender, event, instance, now, extra): ``instance`` is the row
# the event is about (Appointment, Patient, TreatmentPlan), ``extra`` what the
# row itself no longer says (a rescheduled visit's previous start, say).
domain_event = Signal()


def emit(*, event: str, instance: Any, now: datetime, extra: dict[str, Any] | None = None) -> None:
    """Announces ``event`` about ``instance``; call it inside the transaction of the change."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown domain event {event!r}")
    domain_event.send(sender=type(instance), event=event, instance=instance, now=now, extra=extra or {})
