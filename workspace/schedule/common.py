"""What the workspace's views share: reading query strings, clinic-local
dates, messages from service errors, htmx answers and the free-time buttons."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking import availability
from booking.models import Appointment, Practitioner
from clinic import formats
from clinic.clock import clinic_local as local
from clinic.clock import clinic_today, clinic_zone  # noqa: F401 - the schedule's views import them from here
from clinic.errors import ApplicationError, InvalidInput
from clinic.pages import HtmxHttpRequest
from treatments.models import Treatment

MAX_ID = 2**31 - 1


def int_param(raw: str | None) -> int | None:
    """A positive id from a query string, or None for anything else."""
    if raw and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) <= MAX_ID:
        return int(raw)
    return None


def date_param(raw: str | None, errors: list[str], default: date) -> date:
    if not raw:
        return default
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        errors.append(
            _("“%(value)s” is not a date. Showing %(day)s instead.")
            % {"value": raw[:20], "day": formats.date_text(default)}
        )
        return default
    if abs((day - default).days) > 3660:
        errors.append(_("That date is too far away. Showing %(day)s instead.") % {"day": formats.date_text(default)})
        return default
    return day


def describe(error: ApplicationError) -> str:
    """A service error as one sentence for a message in place."""
    detail = str(error.detail)
    if error.fields and isinstance(error, InvalidInput):
        extra = " ".join(str(m) for values in error.fields.values() for m in values)
        if extra and extra not in detail:
            return f"{detail} {extra}" if detail != str(InvalidInput.default_detail) else extra
    return detail


def is_panel(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and request.htmx.target == "appointment-panel"


def changed(response: HttpResponse) -> HttpResponse:
    response["HX-Trigger"] = "schedule-changed"
    return response


def when(moment: datetime) -> str:
    return formats.datetime_text(moment)


def confirmed_by_patient(appointment: Appointment) -> str:
    """The sentence "Confirmed by the patient (WhatsApp, 6 Dec 14:02)", or "" while they have not."""
    at = appointment.patient_confirmed_at
    if at is None:
        return ""
    via = CONFIRMED_VIA.get(appointment.patient_confirmed_via)
    when = f"{formats.date_text(at, 'day_month')} {formats.time_text(at)}"
    if via is None:
        return _("Confirmed by the patient (%(when)s)") % {"when": when}
    return _("Confirmed by the patient (%(via)s, %(when)s)") % {"via": via, "when": when}


CONFIRMED_VIA = {
    "whatsapp": gettext_lazy("WhatsApp"),
    "sms": gettext_lazy("SMS"),
    "email": gettext_lazy("email"),
    "portal": gettext_lazy("online"),
    "api": gettext_lazy("app"),
}


def labelled(appointments: Any) -> list[Appointment]:
    """Names in the active language, for templates (which cannot pass arguments)."""
    appointments = list(appointments)
    for item in appointments:
        item.treatment_label = item.treatment.localized("name")
        item.room_label = item.room.localized("name")
        item.device_label = item.device.localized("name") if item.device else ""
        item.confirmed_by_patient = confirmed_by_patient(item)
    return appointments


def query_string(**params: Any) -> str:
    return urlencode({key: value for key, value in params.items() if value not in (None, "")})


def slot_choices(
    treatment: Treatment,
    day: date,
    *,
    practitioner_id: int | None,
    window: tuple[date, date] | None = None,
    exclude: int | None = None,
    offered: bool = True,
) -> list[dict[str, Any]]:
    """Free starts of one date for staff, grouped morning / afternoon / evening.
    With no practitioner named, one button per start (booking picks fairly)."""
    if not offered:
        return []
    slots = availability.find_slots(
        treatment=treatment,
        first_date=day,
        last_date=day,
        practitioner_id=practitioner_id,
        staff=True,
        window=window,
        exclude_appointment_id=exclude,
    )
    names = {
        p.pk: p.name
        for p in Practitioner.objects.filter(pk__in={s.practitioner_id for s in slots}).select_related("user")
    }
    by_start: dict[datetime, list[int]] = {}
    for slot in slots:
        by_start.setdefault(slot.start, []).append(slot.practitioner_id)
    groups: list[dict[str, Any]] = [
        {"name": _("Morning"), "times": []},
        {"name": _("Afternoon"), "times": []},
        {"name": _("Evening"), "times": []},
    ]
    for start, who in by_start.items():
        wall = local(start)
        group = 0 if wall.hour < 12 else 1 if wall.hour < 17 else 2
        groups[group]["times"].append(
            {
                "start": start,
                "value": wall.isoformat(),
                "label": formats.time_text(wall),
                "practitioner": who[0] if practitioner_id is not None or len(who) == 1 else None,
                "who": ", ".join(names.get(pk, "") for pk in who),
                "free": len(who),
            }
        )
    return [group for group in groups if group["times"]]
