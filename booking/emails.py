"""Notification emails: HTML and plain text from templates/emails/<language>/,
in the patient's language, with calendar invites for appointment changes.

Each kind has three templates per language: ``<kind>.subject.txt``,
``<kind>.txt`` and ``<kind>.html``. One set per language (not gettext) keeps
the wording of each language whole and editable without compiling catalogues.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

from booking.calendar import appointment_calendar, manage_url
from booking.models import Appointment, Notification
from clinic.clock import clinic_local

LANGUAGES = {"en": "en", "zh-hant": "zh-Hant"}  # template folder → Content-Language
Kind = Notification.Kind
# Calendar invites: appointment changes only; reminders and the rest carry none.
INVITE_METHODS: dict[str, str] = {Kind.CONFIRMATION: "REQUEST", Kind.RESCHEDULE: "REQUEST", Kind.CANCELLATION: "CANCEL"}

_EN_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ZH_DAYS = "一二三四五六日"
# How the clinic's zone is named in each language; other zones by their key alone.
_ZONE_NAMES = {"Asia/Hong_Kong": {"en": "Hong Kong time", "zh-hant": "香港時間"}}


def _language(code: str) -> str:
    return code if code in LANGUAGES else "en"


def _local(moment: datetime) -> datetime:
    return clinic_local(moment)


def format_date(day: date, language: str) -> str:
    """``Mon 7 Dec 2026`` / ``2026年12月7日（星期一）``"""
    if language == "zh-hant":
        return f"{day.year}年{day.month}月{day.day}日（星期{_ZH_DAYS[day.weekday()]}）"
    return f"{_EN_DAYS[day.weekday()]} {day.day} {_EN_MONTHS[day.month - 1]} {day.year}"


def format_when(moment: datetime, language: str) -> str:
    """The clinic-local time with the zone named:
    ``Mon 7 Dec 2026, 10:30 (Hong Kong time, Asia/Hong_Kong)``."""
    local = _local(moment)
    zone = settings.CLINIC_TIME_ZONE
    name = _ZONE_NAMES.get(zone, {}).get(language)
    if language == "zh-hant":
        label = f"{name}，{zone}" if name else zone
        return f"{format_date(local.date(), language)}{local:%H:%M}（{label}）"
    label = f"{name}, {zone}" if name else zone
    return f"{format_date(local.date(), language)}, {local:%H:%M} ({label})"


def format_when_short(moment: datetime, language: str) -> str:
    """For subjects: ``Mon 7 Dec, 10:30`` / ``12月7日（一）10:30``."""
    local = _local(moment)
    if language == "zh-hant":
        return f"{local.month}月{local.day}日（{_ZH_DAYS[local.weekday()]}）{local:%H:%M}"
    return f"{_EN_DAYS[local.weekday()]} {local.day} {_EN_MONTHS[local.month - 1]}, {local:%H:%M}"


def _link(path: str, **query: Any) -> str:
    return f"{settings.CLINIC_BASE_URL}{path}" + (f"?{urlencode(query)}" if query else "")


def _context(notification: Notification, language: str) -> dict[str, Any]:
    patient = notification.patient
    context: dict[str, Any] = {
        "clinic_name": settings.CLINIC_NAME,
        "clinic_address": settings.CLINIC_ADDRESS,
        "patient_name": patient.full_name,
        "profile_url": _link("/me/"),
        "appointments_url": _link("/appointments/"),
    }
    appointment = notification.appointment
    if appointment is not None:
        treatment = appointment.treatment
        context.update(
            treatment=treatment.localized("name", language),
            pre_care=treatment.localized("pre_care", language),
            aftercare=treatment.localized("aftercare", language),
            when=format_when(appointment.start, language),
            when_short=format_when_short(appointment.start, language),
            change_until=format_when(appointment.start - settings.CLINIC_CANCELLATION_NOTICE, language),
            visit_date=format_date(_local(appointment.start).date(), language),
            manage_url=manage_url(appointment),
            book_url=_link("/book/", treatment=treatment.slug),
            cancelled_by_clinic=appointment.cancelled_by == Appointment.CancelledBy.CLINIC,
            reason=appointment.cancellation_reason,
        )
    session = notification.plan_session
    if session is not None:
        plan = session.plan
        context.update(
            treatment=plan.treatment.localized("name", language),
            session_number=session.number,
            sessions_total=_sessions_total(plan),
            window_start=format_date(session.window_start, language),
            window_end=format_date(session.window_end, language),
            plan_url=_link(f"/plans/{plan.pk}/"),
        )
    return context


def _sessions_total(plan: Any) -> int:
    return plan.sessions.count()


def build_message(notification: Notification, *, now: datetime | None = None) -> EmailMultiAlternatives:
    """The email for ``notification`` as it stands now. Appointment changes
    carry an iCalendar invite for the event's stable UID: METHOD:REQUEST for a
    confirmation or reschedule, METHOD:CANCEL for a cancellation (the
    appointment's SEQUENCE has grown with each change). Calendar events carry
    no clinical detail (booking.calendar)."""
    language = _language(notification.patient.preferred_language)
    folder = f"emails/{language}/{notification.kind}"
    with translation.override(language):
        context = _context(notification, language)
        subject = " ".join(render_to_string(f"{folder}.subject.txt", context).split())
        text = render_to_string(f"{folder}.txt", context).strip() + "\n"
        html = render_to_string(f"{folder}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.patient.email],
        headers={
            "Message-ID": notification.message_id,
            "X-Clinic-Notification": notification.kind,
            "Auto-Submitted": "auto-generated",
            "Content-Language": LANGUAGES[language],
        },
    )
    message.attach_alternative(html, "text/html")
    method = INVITE_METHODS.get(notification.kind)
    if method and notification.appointment is not None:
        invite = appointment_calendar(notification.appointment, method=method, now=now or timezone.now()).decode()
        # The text/calendar alternative is what mail clients turn into an
        # invitation (RFC 6047); the attachment serves those that hide it.
        message.attach_alternative(invite, f"text/calendar; method={method}")
        message.attach("invite.ics" if method == "REQUEST" else "cancel.ics", invite, "application/ics")
    return message
