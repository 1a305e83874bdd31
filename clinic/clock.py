"""The clinic's calendar and wall clock: the one place that says what "today"
and "local time" mean, whatever time zone a request may have activated.

Settings set ``TIME_ZONE`` from ``CLINIC_TIME_ZONE`` (clinic/settings.py), so
the clinic's zone is Django's default zone, read at call time: a test or a
deployment that changes the setting is followed without a restart.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from django.utils import timezone


def clinic_zone() -> tzinfo:
    """The clinic's time zone (``CLINIC_TIME_ZONE``)."""
    return timezone.get_default_timezone()


def clinic_today(now: datetime | None = None) -> date:
    """The clinic-local date at ``now`` (default: this moment)."""
    return timezone.localdate(now or timezone.now(), timezone=clinic_zone())


def clinic_local(moment: datetime) -> datetime:
    """An aware ``moment`` as the clinic's wall-clock time."""
    return timezone.localtime(moment, clinic_zone())


def clinic_date(moment: datetime) -> date:
    """The clinic-local calendar date of an aware ``moment``."""
    return clinic_local(moment).date()
