"""iCalendar events for appointments: a stable UID and a growing SEQUENCE.

Calendars sync to third parties, so an event carries no clinical detail: no
treatment, no practitioner, only "Appointment at <clinic>", the address and
the link to manage it.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from booking.models import Appointment


def event_uid(appointment: Appointment) -> str:
    host = urlsplit(settings.CLINIC_BASE_URL).hostname or "clinic.local"
    return f"appointment-{appointment.uid}@{host}"


def manage_url(appointment: Appointment) -> str:
    return f"{settings.CLINIC_BASE_URL}/appointments/{appointment.pk}/"


def appointment_calendar(appointment: Appointment, *, method: str | None = None, now: datetime | None = None) -> bytes:
    """One VEVENT. ``method`` is ``REQUEST`` / ``CANCEL`` for email invites,
    None for a downloaded file. A cancelled appointment is STATUS:CANCELLED."""
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.CLINIC_NAME}//clinic//EN")
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    event = Event()
    event.add("uid", event_uid(appointment))
    event.add("sequence", appointment.sequence)
    event.add("dtstamp", now or timezone.now())
    event.add("dtstart", appointment.start)
    event.add("dtend", appointment.end)
    event.add("summary", f"Appointment at {settings.CLINIC_NAME}")
    event.add("location", settings.CLINIC_ADDRESS)
    event.add("url", manage_url(appointment))
    event.add("description", f"Manage or cancel: {manage_url(appointment)}")
    cancelled = appointment.status == Appointment.Status.CANCELLED or method == "CANCEL"
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    sender = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
    organizer = vCalAddress(f"mailto:{sender}")
    organizer.params["cn"] = vText(settings.CLINIC_NAME)
    event.add("organizer", organizer)
    if appointment.patient.email:
        attendee = vCalAddress(f"mailto:{appointment.patient.email}")
        attendee.params["cn"] = vText(appointment.patient.full_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return calendar.to_ical()
