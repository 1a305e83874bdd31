"""Time that becomes free in the diary goes to the waitlist.

Working hours, time off and closures are written by the admin, the staff
closure pages and the demo seed, through no one service: so the one thing
that must follow every such write, telling the waitlist that time may have
freed up, hangs on the models' signals here. It is a trigger, not a rule: it
only calls ``booking.holds.freed`` (after commit, a match task per span),
and the match re-reads everything under the booking's locks, so a span sent
for nothing costs one cheap task and offers nothing.

Time frees up when hours are added or widened (earlier start, later end, a
shorter or no break, another weekday), and when time off or a closure is
removed, shortened or moved. Nothing is sent while loading fixtures, for
spans already past, or when no waiting entry covers the days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Model, Q
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from booking import holds
from booking.models import ClinicClosure, TimeOff, WaitlistEntry, WorkingHours
from clinic.clock import clinic_today, clinic_zone

_OLD = "_waitlist_old"  # the row as it was before this save, kept on the instance


def _waiting(first: date, last: date, *, practitioner_id: int | None = None) -> list[tuple[date, date]]:
    """The date ranges of waiting entries that overlap [first, last] (for a
    practitioner: the entries they could serve)."""
    entries = WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING, earliest__lte=last, latest__gte=first)
    if practitioner_id is not None:
        entries = entries.filter(treatment__practitioners__id=practitioner_id).filter(
            Q(practitioner__isnull=True) | Q(practitioner_id=practitioner_id)
        )
    return list(entries.values_list("earliest", "latest").distinct())


def _free_span(start: datetime, end: datetime, *, practitioner_id: int | None = None) -> None:
    start = max(start, timezone.now())
    if start >= end:
        return
    if _waiting(clinic_today(start), clinic_today(end), practitioner_id=practitioner_id):
        holds.freed(start=start, end=end)


def _remember(sender: type[Model], instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    setattr(instance, _OLD, sender._default_manager.filter(pk=instance.pk).first())


# --- time off and closures: removed, shortened or moved ------------------------------


def _span_freed(instance: Any, old: Any) -> bool:
    """True when the saved span no longer covers all of the old one."""
    if old is None:
        return False
    if getattr(old, "practitioner_id", None) != getattr(instance, "practitioner_id", None):
        return True
    return instance.start > old.start or instance.end < old.end


def _off_saved(sender: type[Model], instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    old = getattr(instance, _OLD, None)
    if raw or created or old is None or not _span_freed(instance, old):
        return
    _free_span(old.start, old.end, practitioner_id=getattr(old, "practitioner_id", None))


def _off_deleted(sender: type[Model], instance: Any, **kwargs: Any) -> None:
    _free_span(instance.start, instance.end, practitioner_id=getattr(instance, "practitioner_id", None))


# --- working hours: added or widened ------------------------------------------------------


def _hours_widened(new: WorkingHours, old: WorkingHours | None) -> bool:
    if old is None:
        return True
    if new.weekday != old.weekday or new.start < old.start or new.end > old.end:
        return True
    if old.break_start is None or old.break_end is None:
        return False  # no break before: a new one only takes time away
    if new.break_start is None or new.break_end is None:
        return True
    return new.break_start > old.break_start or new.break_end < old.break_end


def _hours_saved(sender: type[Model], instance: WorkingHours, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw or not _hours_widened(instance, None if created else getattr(instance, _OLD, None)):
        return
    now = timezone.now()
    today = clinic_today(now)
    last = clinic_today(now + settings.CLINIC_BOOKING_HORIZON)
    waiting = _waiting(today, last, practitioner_id=instance.practitioner_id)
    if not waiting:
        return
    zone = clinic_zone()
    day = today + timedelta(days=(instance.weekday - today.weekday()) % 7)
    while day <= last:
        if any(first <= day <= final for first, final in waiting):
            start = datetime.combine(day, instance.start, tzinfo=zone)
            end = datetime.combine(day, instance.end, tzinfo=zone)
            if end > now:
                holds.freed(start=max(start, now), end=end)
        day += timedelta(days=7)


def connect() -> None:
    """Called once from BookingConfig.ready()."""
    for model in (WorkingHours, TimeOff, ClinicClosure):
        pre_save.connect(_remember, sender=model, dispatch_uid=f"waitlist-remember-{model.__name__}")
    post_save.connect(_hours_saved, sender=WorkingHours, dispatch_uid="waitlist-hours-saved")
    for model in (TimeOff, ClinicClosure):
        post_save.connect(_off_saved, sender=model, dispatch_uid=f"waitlist-off-saved-{model.__name__}")
        post_delete.connect(_off_deleted, sender=model, dispatch_uid=f"waitlist-off-deleted-{model.__name__}")
