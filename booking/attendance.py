"""The reminder email's "I'm coming" link: a signed token naming one visit at
one time, so an email patient can confirm as a WhatsApp or SMS patient does
(booking.services.appointment_patient_confirm, via "email").

The token carries the appointment's id and calendar sequence: a visit moved,
cancelled or otherwise changed since the email no longer takes it (the patient
would be confirming a time that is not the visit's any more). A GET on the
page changes nothing (mail scanners open links first); confirming is a POST
(portal/book/attend.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core import signing
from django.utils.translation import gettext as _

from booking.models import Appointment
from clinic.errors import InvalidState, NotFound

_SALT = "booking.attendance.confirm"
# Reminders go at most a few days ahead; a link older than this is not one of ours any more.
MAX_AGE = timedelta(days=30)


def token_for(appointment: Appointment) -> str:
    return signing.dumps({"a": appointment.pk, "s": appointment.sequence}, salt=_SALT, compress=False)


def appointment_for_token(token: str, *, now: datetime) -> Appointment:
    """The visit a link names, still as the email described it: NotFound for a
    token that is not ours (tampered, truncated, too old), InvalidState for a
    visit changed since, cancelled, or already begun."""
    try:
        payload = signing.loads(token, salt=_SALT, max_age=MAX_AGE)
        pk, sequence = int(payload["a"]), int(payload["s"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise NotFound(_("This link is not valid. Please use the link in our latest email.")) from None
    appointment = Appointment.objects.select_related("treatment", "patient").filter(pk=pk).first()
    if appointment is None:
        raise NotFound(_("This link is not valid. Please use the link in our latest email."))
    if (
        appointment.sequence != sequence
        or appointment.status != Appointment.Status.CONFIRMED
        or now >= appointment.start
    ):
        raise InvalidState(
            _("This visit has changed since that email, or is no longer ahead. Your appointments show where it stands.")
        )
    return appointment
