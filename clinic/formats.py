"""Dates, times and money as people read them, one way on every page and email.

Babel (the CLDR data) does the work; this module only fixes the clinic's choices:
- the locale follows the active language: English is read as in Hong Kong
  (``en_HK``: "7 Dec 2026"), Traditional Chinese as ``zh_Hant_HK`` ("2026年12月7日");
- a moment is shown in the clinic's zone (settings.CLINIC_TIME_ZONE), passed
  explicitly, whatever zone is active;
- times are on the 24-hour clock in both languages, as the schedule and the
  booking pages have always shown them ("14:30");
- money is the locale's standard currency format with its cents, "HK$3,500.00";
- phone numbers are grouped the international way, "+852 9123 4567".

The filters of clinic/templatetags/clinic_format.py call these. Machine formats
(ISO dates in URLs and ``<input type="date">`` values) do not come through here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import phonenumbers
from babel import dates, numbers
from django.conf import settings
from django.utils.translation import get_language, ngettext

LOCALES = {"en": "en_HK", "zh-hant": "zh_Hant_HK"}
# Parts of a date for tight spots (the schedule's column heads): a weekday's name
# ("Monday", "星期一"; "Mon", "週一"), or a day of a month as the locale writes it
# (a CLDR skeleton: "7 Dec", "12月7日"), or a day with its weekday for messages
# ("Mon, 7 Dec 2026" / "2026年12月7日週一"; in subjects "Mon, 7 Dec" / "12月7日週一").
WEEKDAYS = {"weekday": "EEEE", "weekday_short": "EEE"}
SKELETONS = {"day_month": "MMMd", "weekday_date": "yMMMEd", "weekday_day_month": "MMMEd"}
TIME_PATTERN = "HH:mm"
WIDTHS = ("short", "medium", "long", "full")


def locale(language: str | None = None) -> str:
    """The Babel locale for ``language`` (default: the active one)."""
    return LOCALES.get((language or get_language() or settings.LANGUAGE_CODE).lower(), LOCALES["en"])


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(settings.CLINIC_TIME_ZONE)


def _clinic_date(value: date | datetime) -> date:
    """A moment's day in the clinic's zone; a date as it is."""
    if isinstance(value, datetime):
        return value.astimezone(clinic_zone()).date()
    return value


def date_text(value: date | datetime, style: str = "medium", *, language: str | None = None) -> str:
    """A day: medium "7 Dec 2026" / "2026年12月7日", full "Monday, 7 December 2026" /
    "2026年12月7日星期一", or one of WEEKDAYS or SKELETONS. A moment's day in the clinic's zone."""
    day = _clinic_date(value)
    if style in SKELETONS:
        return dates.format_skeleton(SKELETONS[style], day, locale=locale(language))
    return dates.format_date(day, WEEKDAYS.get(style, style), locale=locale(language))


def month_text(value: date, *, language: str | None = None) -> str:
    """A calendar's heading: "December 2026" / "2026年12月"."""
    return dates.format_skeleton("yMMMM", value, locale=locale(language))


def date_range_text(first: date, last: date, *, language: str | None = None) -> str:
    """Two days as one span, the locale's way: "8 – 19 Dec 2026" / "2026年12月8日至19日";
    one day when they are the same."""
    if first == last:
        return date_text(first, language=language)
    return dates.format_interval(first, last, "yMMMd", locale=locale(language))


def time_text(value: datetime | time, *, language: str | None = None) -> str:
    """A time, "14:30": a moment in the clinic's zone, a wall-clock time as it is."""
    zone = clinic_zone() if isinstance(value, datetime) else None
    return dates.format_time(value, TIME_PATTERN, tzinfo=zone, locale=locale(language))


def datetime_text(value: datetime, style: str = "medium", *, language: str | None = None) -> str:
    """A moment in the clinic's zone, "7 Dec 2026, 14:30" / "2026年12月7日 14:30": the
    day and the time joined as the locale joins them. ``style`` is one of date_text's."""
    width: Literal["short", "medium", "long", "full"] = style if style in WIDTHS else "medium"  # type: ignore[assignment]
    joined = str(dates.get_datetime_format(width, locale=locale(language)))
    return joined.replace("{1}", date_text(value, style, language=language)).replace(
        "{0}", time_text(value, language=language)
    )


def money_text(amount: Decimal | int | float, *, language: str | None = None) -> str:
    """An amount in the clinic's currency (settings.CLINIC_CURRENCY): "HK$3,500.00"."""
    return numbers.format_currency(amount, settings.CLINIC_CURRENCY, locale=locale(language))


def phone_text(number: str) -> str:
    """A stored phone number (E.164, "+85291234567") as people read it, "+852 9123 4567";
    anything that does not parse is shown as it is."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def duration_text(span: timedelta) -> str:
    """A notice period in words: "24 hours", "2 days", "90 minutes"."""
    total = int(span.total_seconds() // 60)
    if total % (24 * 60) == 0 and total >= 48 * 60:
        days = total // (24 * 60)
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if total % 60 == 0:
        hours = total // 60
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    return ngettext("%(count)d minute", "%(count)d minutes", total) % {"count": total}
