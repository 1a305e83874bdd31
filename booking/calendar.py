"""iCalendar events for appointments: a stable UID and a growing SEQUENCE.

The summary names the treatment and the clinic ("Chemical peel at Clear Skin
Clinic" / "果酸換膚（清膚診所）"), in the patient's language, so the visit can be
told apart in a calendar (issue 16). Calendars sync to third parties, so nothing
more clinical goes in: no practitioner, no notes, no screening; the address and
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


def _language(appointment: Appointment, language: str | None) -> str:
    code = language or appointment.patient.preferred_language
    return code if code in ("en", "zh-hant") else "en"


def event_summary(appointment: Appointment, language: str) -> str:
    treatment = appointment.treatment.localized("name", language)
    if language == "zh-hant":
        return f"{treatment}（{settings.CLINIC_NAME_ZH_HANT}）"
    return f"{treatment} at {settings.CLINIC_NAME}"


def appointment_calendar(
    appointment: Appointment, *, method: str | None = None, now: datetime | None = None, language: str | None = None
) -> bytes:
    """One VEVENT. ``method`` is ``REQUEST`` / ``CANCEL`` for email invites,
    None for a downloaded file. A cancelled appointment is STATUS:CANCELLED.
    ``language``: the summary's, location's and description's; the patient's by default."""
    language = _language(appointment, language)
    chinese = language == "zh-hant"
    name = settings.CLINIC_NAME_ZH_HANT if chinese else settings.CLINIC_NAME
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
    event.add("summary", event_summary(appointment, language))
    event.add("location", settings.CLINIC_ADDRESS_ZH_HANT if chinese else settings.CLINIC_ADDRESS)
    event.add("url", manage_url(appointment))
    manage = "查看、改期或取消預約" if chinese else "Manage or cancel"
    event.add("description", f"{manage}: {manage_url(appointment)}")
    cancelled = appointment.status == Appointment.Status.CANCELLED or method == "CANCEL"
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    sender = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
    organizer = vCalAddress(f"mailto:{sender}")
    organizer.params["cn"] = vText(name)
    event.add("organizer", organizer)
    if appointment.patient.email:
        attendee = vCalAddress(f"mailto:{appointment.patient.email}")
        attendee.params["cn"] = vText(appointment.patient.full_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return calendar.to_ical()
