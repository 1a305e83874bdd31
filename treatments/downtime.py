"""Usual downtime after a visit against the patient's dates that matter.

Pure: no database. How the days are counted: a visit on the clinic-local day D
of a treatment whose downtime is ``min``–``max`` days covers D itself and the
``max`` days after it, D .. D + max, both ends included (a visit on 1 Dec with
5–7 days of redness covers 1–8 Dec). The longer end is used because the flag
warns: a patient whose skin heals in five days is not harmed by hearing about
seven. A treatment with no downtime (``max`` 0) never conflicts with anything,
even a date on the visit's own day.

A date range that shares at least one day with the covered span conflicts.
The booking is flagged, never refused: treatments.selectors.downtime_conflicts
adds the words, and the booking flow, the appointment pages, the API and the
staff schedule show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from clinic import formats

if TYPE_CHECKING:
    from treatments.models import Treatment


@dataclass(frozen=True)
class DateRange:
    starts_on: date
    ends_on: date
    label: str


def covered(day: date, *, days_max: int) -> tuple[date, date] | None:
    """The days a visit on ``day`` leaves visible marks: (first, last), or None without downtime."""
    if days_max <= 0:
        return None
    return day, day + timedelta(days=days_max)


def conflicts(day: date, *, days_max: int, dates: Iterable[DateRange]) -> list[DateRange]:
    """The ranges of ``dates`` that overlap the downtime of a visit on ``day``, in the given order."""
    span = covered(day, days_max=days_max)
    if span is None:
        return []
    first, last = span
    return [d for d in dates if d.starts_on <= last and d.ends_on >= first]


def days_text(treatment: Treatment) -> str:
    """ "5–7 days of redness", "1 day of redness"; "" for a treatment without downtime."""
    low, high = treatment.downtime_days_min, treatment.downtime_days_max
    if high <= 0:
        return ""
    what = treatment.localized("downtime_note") or _("redness")
    if low == high:
        return ngettext("%(count)d day of %(what)s", "%(count)d days of %(what)s", high) % {
            "count": high,
            "what": what,
        }
    return _("%(low)d–%(high)d days of %(what)s") % {"low": low, "high": high, "what": what}


def range_text(starts_on: date, ends_on: date) -> str:
    """ "12 Dec" or "12 Dec – 15 Dec" (the year is plain from context: at most two years ahead)."""
    first = formats.date_text(starts_on, "day_month")
    if ends_on == starts_on:
        return first
    return f"{first} – {formats.date_text(ends_on, 'day_month')}"


def detail(conflict: DateRange, treatment: Treatment) -> str:
    """What the patient and staff read: "Your Wedding on 12 Dec falls within the usual 5–7 days of
    redness after Fractional CO2 laser resurfacing." """
    return _("Your %(label)s on %(when)s falls within the usual %(days)s after %(treatment)s.") % {
        "label": conflict.label,
        "when": range_text(conflict.starts_on, conflict.ends_on),
        "days": days_text(treatment),
        "treatment": treatment.localized("name"),
    }


def badge(conflicts: Iterable[Mapping[str, Any]]) -> str:
    """The staff's short line: "Wedding 12 Dec; Trip 20 Dec – 27 Dec"."""
    return "; ".join(f"{c['label']} {range_text(c['starts_on'], c['ends_on'])}" for c in conflicts)
