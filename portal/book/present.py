"""How the patient pages say things: treatments in plain words, money, dates
and times in the clinic's zone, appointment statuses, a month of days.

Pure presentation over already-loaded objects; no business rules (those stay
in the services and the availability engine)."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext, pgettext_lazy

from booking import profiles
from booking.models import Appointment, Practitioner
from clinic import formats
from clinic.clock import clinic_local as local
from clinic.clock import clinic_today as today  # noqa: F401 - present.today(), as flow and views call it
from clinic.clock import clinic_zone
from treatments import downtime
from treatments.models import Category, Treatment

# --- what a treatment suits, in the patient's words --------------------------------

SCAR_WORDS: dict[str, tuple[Any, Any]] = {
    "pih": (
        gettext_lazy("Brown or grey marks"),
        gettext_lazy("Flat marks left where a spot has healed. They do not fade when you press on them."),
    ),
    "pie": (
        gettext_lazy("Red or pink marks"),
        gettext_lazy("Flat red marks left by a spot. They fade for a moment when you press on them."),
    ),
    "icepick": (
        gettext_lazy("Icepick scars"),
        gettext_lazy("Narrow, deep pits, like a large open pore."),
    ),
    "boxcar_shallow": (
        gettext_lazy("Shallow boxcar scars"),
        gettext_lazy("Round or oval dents with sharp edges and a flat bottom."),
    ),
    "boxcar_deep": (
        gettext_lazy("Deep boxcar scars"),
        gettext_lazy("Sharp-edged dents that go deeper into the skin."),
    ),
    "rolling": (
        gettext_lazy("Rolling scars"),
        gettext_lazy("Wide, soft dips that make the skin look wavy, most visible in side light."),
    ),
    "hypertrophic": (
        gettext_lazy("Raised scars"),
        gettext_lazy("Firm, raised scars that stay within the area of the original spot."),
    ),
    "keloid": (
        gettext_lazy("Keloids"),
        gettext_lazy("Raised scars that keep growing beyond the original spot."),
    ),
}


@dataclass(frozen=True)
class Concern:
    slug: str
    title: Any
    summary: Any
    codes: tuple[str, ...]


CONCERNS: tuple[Concern, ...] = (
    Concern(
        "marks",
        gettext_lazy("Acne marks (flat, red or brown)"),
        gettext_lazy("Colour left behind after spots heal. The skin is smooth; only its colour has changed."),
        ("pih", "pie"),
    ),
    Concern(
        "pitted",
        gettext_lazy("Pitted scars (icepick, boxcar, rolling)"),
        gettext_lazy("Dents and pits in the skin's surface, where acne damaged the skin underneath."),
        ("icepick", "boxcar_shallow", "boxcar_deep", "rolling"),
    ),
    Concern(
        "raised",
        gettext_lazy("Raised scars (hypertrophic, keloid)"),
        gettext_lazy("Firm scars that stand above the skin, sometimes itchy."),
        ("hypertrophic", "keloid"),
    ),
)


def concern(slug: str | None) -> Concern | None:
    return next((c for c in CONCERNS if c.slug == slug), None)


@dataclass(frozen=True)
class Suit:
    code: str
    name: str
    explanation: str


def suits(codes: Iterable[str]) -> list[Suit]:
    chosen = set(codes)
    return [Suit(code, str(words[0]), str(words[1])) for code, words in SCAR_WORDS.items() if code in chosen]


def money(amount: Decimal | None) -> str:
    if amount is None:
        return ""
    if amount == 0:
        return _("Free")
    return formats.money_text(amount)


def minutes(total: int) -> str:
    if total < 60 or total % 60:
        return ngettext("%(count)d minute", "%(count)d minutes", total) % {"count": total}
    hours = total // 60
    return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}


def sessions_text(treatment: Treatment) -> str:
    low, high = treatment.sessions_min, treatment.sessions_max
    if high is None:
        return ngettext(
            "At least %(count)d session, then as often as you like",
            "At least %(count)d sessions, then as often as you like",
            low,
        ) % {"count": low}
    if low == high:
        return ngettext("%(count)d session", "%(count)d sessions", low) % {"count": low}
    return _("%(low)d to %(high)d sessions") % {"low": low, "high": high}


def _days_or_weeks(days: int) -> tuple[int, str]:
    if days >= 14 and days % 7 == 0:
        return days // 7, "weeks"
    return days, "days"


def interval_text(treatment: Treatment) -> str:
    low, high = treatment.interval_days_min, treatment.interval_days_max
    if low is None or high is None or (treatment.sessions_max == 1):
        return ""
    (low_n, low_unit), (high_n, high_unit) = _days_or_weeks(low), _days_or_weeks(high)
    if low_unit == high_unit == "weeks":
        return _("%(low)d to %(high)d weeks apart") % {"low": low_n, "high": high_n}
    return _("%(low)d to %(high)d days apart") % {"low": low, "high": high}


@dataclass
class TreatmentView:
    """A treatment with its texts in the visitor's language."""

    treatment: Treatment
    slug: str
    name: str
    description: str
    pre_care: str
    aftercare: str
    suits: list[Suit]
    sessions: str
    interval: str
    duration: str
    price: str
    is_consultation: bool
    concerns: list[Concern] = field(default_factory=list)
    downtime: str = ""  # "Usually 5–7 days of redness"; "" for none


def treatment_view(treatment: Treatment) -> TreatmentView:
    codes = set(treatment.suits or ())
    return TreatmentView(
        treatment=treatment,
        slug=treatment.slug,
        name=treatment.localized("name"),
        description=treatment.localized("description"),
        pre_care=treatment.localized("pre_care"),
        aftercare=treatment.localized("aftercare"),
        suits=suits(codes),
        sessions=sessions_text(treatment),
        interval=interval_text(treatment),
        duration=minutes(treatment.duration_minutes),
        price=money(treatment.price),
        is_consultation=treatment.category == Category.CONSULTATION,
        concerns=[c for c in CONCERNS if codes & set(c.codes)],
        downtime=downtime_text(treatment),
    )


def downtime_text(treatment: Treatment) -> str:
    """ "Usually 5–7 days of redness"; "" for a treatment without downtime."""
    days = downtime.days_text(treatment)
    return _("Usually %(days)s") % {"days": days} if days else ""


def practitioner_label(practitioner: Practitioner | None) -> str:
    """The name (marked as a name, never to be translated) and the title in the visitor's language."""
    if practitioner is None:
        return _("Any practitioner")
    title = practitioner.localized("title")
    name = format_html('<span translate="no">{}</span>', practitioner.name)
    return format_html("{}, {}", name, title) if title else name


@dataclass(frozen=True)
class PractitionerView:
    """A practitioner as the public pages show them: the photo, or the initials
    on a colour of their own when there is none."""

    practitioner: Practitioner
    name: str
    title: str
    bio: str
    photo_url: str
    initials: str
    tone: int


AVATAR_TONES = 6  # showcase.css: .avatar-tone-0 ... .avatar-tone-5


def initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[-1][0]).upper()


def practitioner_view(practitioner: Practitioner) -> PractitionerView:
    return PractitionerView(
        practitioner=practitioner,
        name=practitioner.name,
        title=practitioner.localized("title"),
        bio=practitioner.localized("bio"),
        photo_url=profiles.photo_url(practitioner),
        initials=initials(practitioner.name),
        tone=practitioner.pk % AVATAR_TONES,
    )


# --- dates and times in the clinic's zone ----------------------------------------------


def day_text(day: date) -> str:
    return formats.date_text(day, "full")


def month_text(day: date) -> str:
    return formats.month_text(day)


def time_text(moment: datetime | time) -> str:
    return formats.time_text(moment)


def when_text(start: datetime, end: datetime | None = None) -> str:
    start = local(start)
    at = time_text(start) if end is None else f"{time_text(start)}–{time_text(end)}"
    # Translators: a day and a time, e.g. "Monday 30 November 2026, 10:00–10:30".
    return pgettext("day and time", "%(day)s, %(time)s") % {"day": day_text(start.date()), "time": at}


def combine(day: date, at: time) -> datetime:
    """A clinic-local wall-clock time as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, at), clinic_zone())


# --- statuses ------------------------------------------------------------------------------

STATUS_WORDS: dict[str, tuple[str, Any]] = {
    Appointment.Status.CONFIRMED: ("booked", pgettext_lazy("appointment status", "Booked")),
    Appointment.Status.CHECKED_IN: ("checked_in", pgettext_lazy("appointment status", "Checked in")),
    Appointment.Status.COMPLETED: ("completed", pgettext_lazy("appointment status", "Done")),
    Appointment.Status.CANCELLED: ("cancelled", pgettext_lazy("appointment status", "Cancelled")),
    Appointment.Status.NO_SHOW: ("no_show", pgettext_lazy("appointment status", "Missed")),
    Appointment.Status.DEPOSIT_DUE: ("deposit_due", pgettext_lazy("appointment status", "Awaiting deposit")),
}


def status_badge(status: str) -> tuple[str, str]:
    css, words = STATUS_WORDS.get(status, ("cancelled", status))
    return css, str(words)


# --- a month of days for the calendar -----------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    free: int
    selected: bool
    label: str
    url: str
    blocked: str = ""  # why a gap rule refuses this day (booking.spacing), for the signed-in patient


def month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first, last


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


WEEKDAYS_SHORT = (
    pgettext_lazy("weekday, short", "Mon"),
    pgettext_lazy("weekday, short", "Tue"),
    pgettext_lazy("weekday, short", "Wed"),
    pgettext_lazy("weekday, short", "Thu"),
    pgettext_lazy("weekday, short", "Fri"),
    pgettext_lazy("weekday, short", "Sat"),
    pgettext_lazy("weekday, short", "Sun"),
)


def weekday_names() -> list[str]:
    return [str(name) for name in WEEKDAYS_SHORT]


def month_weeks(
    month: date,
    free_by_day: dict[date, int],
    selected: date | None,
    link: Callable[[date], str],
    blocked: dict[date, str] | None = None,
) -> list[list[Day | None]]:
    """Weeks Monday to Sunday; days outside the month are None. A ``blocked``
    day (day → why) has no link and says why, whatever is free."""
    blocked = blocked or {}
    weeks: list[list[Day | None]] = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        row: list[Day | None] = []
        for day in week:
            if day.month != month.month:
                row.append(None)
                continue
            free = free_by_day.get(day, 0)
            if day in blocked:
                label = _("%(day)s: cannot be booked. %(why)s") % {"day": day_text(day), "why": blocked[day]}
                row.append(Day(day=day, free=0, selected=False, label=label, url="", blocked=blocked[day]))
                continue
            if free:
                label = ngettext("%(day)s: %(count)d free time", "%(day)s: %(count)d free times", free) % {
                    "day": day_text(day),
                    "count": free,
                }
            else:
                label = _("%(day)s: no free times") % {"day": day_text(day)}
            row.append(Day(day=day, free=free, selected=day == selected, label=label, url=link(day) if free else ""))
        weeks.append(row)
    return weeks


def blocked_runs(month: date, blocked: dict[date, str]) -> list[dict[str, str]]:
    """The month's blocked days as runs of consecutive days with the same reason, in words."""
    first, last = month_bounds(month)
    runs: list[dict[str, Any]] = []
    for day in sorted(d for d in blocked if first <= d <= last):
        if runs and runs[-1]["last"] == day - timedelta(days=1) and runs[-1]["why"] == blocked[day]:
            runs[-1]["last"] = day
        else:
            runs.append({"first": day, "last": day, "why": blocked[day]})
    return [
        {
            "days": day_text(run["first"])
            if run["first"] == run["last"]
            else _("%(first)s to %(last)s") % {"first": day_text(run["first"]), "last": day_text(run["last"])},
            "why": run["why"],
        }
        for run in runs
    ]


# --- the times of a day -------------------------------------------------------------------


@dataclass(frozen=True)
class TimeGroup:
    key: str
    title: str
    times: list[time]


def group_times(starts: Sequence[datetime]) -> list[TimeGroup]:
    """Distinct clinic-local start times, grouped into morning, afternoon and evening."""
    seen: list[time] = sorted({local(start).time() for start in starts})
    groups = [
        TimeGroup("morning", _("Morning"), [t for t in seen if t < time(12)]),
        TimeGroup("afternoon", _("Afternoon"), [t for t in seen if time(12) <= t < time(17)]),
        TimeGroup("evening", _("Evening"), [t for t in seen if t >= time(17)]),
    ]
    return [group for group in groups if group.times]


duration_text = formats.duration_text  # clinic/formats.py: the staff pages say it too


# --- the waitlist --------------------------------------------------------------------------

PART_WORDS: dict[str, Any] = {
    "morning": pgettext_lazy("waitlist", "mornings"),
    "afternoon": pgettext_lazy("waitlist", "afternoons"),
    "evening": pgettext_lazy("waitlist", "evenings"),
}
WAITLIST_STATUS: dict[str, tuple[str, Any]] = {
    "waiting": ("booked", pgettext_lazy("waitlist status", "Waiting")),
    "booked": ("completed", pgettext_lazy("waitlist status", "Booked")),
    "left": ("cancelled", pgettext_lazy("waitlist status", "Left")),
    "ended": ("cancelled", pgettext_lazy("waitlist status", "Dates passed")),
}
OFFER_STATUS: dict[str, Any] = {
    "open": pgettext_lazy("waitlist offer", "Held for you"),
    "accepted": pgettext_lazy("waitlist offer", "Booked"),
    "declined": pgettext_lazy("waitlist offer", "Declined"),
    "expired": pgettext_lazy("waitlist offer", "Expired"),
    "withdrawn": pgettext_lazy("waitlist offer", "Withdrawn"),
}


def parts_text(parts: Sequence[str]) -> str:
    """ "mornings, evenings", or "any time of day" when none was chosen."""
    chosen = [str(PART_WORDS[part]) for part in PART_WORDS if part in parts]
    if not chosen:
        return pgettext("waitlist", "any time of day")
    return pgettext("list separator", ", ").join(chosen)


def dates_text(first: date, last: date) -> str:
    return formats.date_range_text(first, last)


def waitlist_status(status: str) -> tuple[str, str]:
    css, words = WAITLIST_STATUS.get(status, ("cancelled", status))
    return css, str(words)


def waitlist_joined_text(entry: Any) -> str:
    """The confirmation after joining: what, when, and what happens next."""
    values = {
        "treatment": entry.treatment.localized("name"),
        "dates": dates_text(entry.earliest, entry.latest),
        "parts": parts_text(entry.parts),
        "hold": duration_text(settings.CLINIC_WAITLIST_HOLD),
    }
    if entry.practitioner_id:
        values["practitioner"] = entry.practitioner.name
        return (
            _(
                "You're on the waitlist for %(treatment)s with %(practitioner)s, %(dates)s, %(parts)s. We'll email "
                "you when a time opens; it will be held for you for %(hold)s."
            )
            % values
        )
    return (
        _(
            "You're on the waitlist for %(treatment)s, %(dates)s, %(parts)s. We'll email you when a time opens; "
            "it will be held for you for %(hold)s."
        )
        % values
    )
