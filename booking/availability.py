"""The availability engine: the one place that decides which starts can be booked.

Both the public slot list (``find_slots``, or ``find_slot_starts`` as epoch
seconds) and every booking, reschedule and race re-check (``check_start``) go
through the same interval arithmetic, so a slot that is offered can be booked
and a start that can be booked is offered.

How it works. ``load_calendar`` reads everything for one treatment and one span
in a constant number of queries (practitioners, working hours, time off,
closures, rooms, devices, appointments; never one per day or per appointment).
The rest is pure computation on integer epoch seconds:

* For each practitioner, the *working windows* of each date (weekly hours minus
  the break, minus time off, minus clinic closures) become the closed set of
  starts ``[a, b - duration]``: the appointment itself must lie inside hours.
* Each practitioner, room and device has sorted, merged busy intervals
  ``[start, blocked_until)``; a new appointment holds its resources for
  ``hold = duration + buffer`` seconds, so it may start at ``S`` only if
  ``S + hold <= busy.start`` or ``S >= busy.end`` for every busy interval.
  The buffer (cleaning, turnover) may run past the end of working hours or into
  a break, but never into another appointment of the practitioner, the room or
  the device.
* Rooms of the treatment's kind are interchangeable, so the starts where *some*
  room is free are the union over rooms; the same for devices.
* Allowed starts = working ∩ practitioner free ∩ some room free ∩ some device
  free ∩ [notice, horizon], then the grid points inside those sets.

The grid is walked in clinic-local wall-clock time per date (minutes since
local midnight divisible by ``CLINIC_SLOT_MINUTES``). On a daylight-saving
change, wall times skipped by the clock are never offered, and in the repeated
hour only the first occurrence (``fold=0``) is on the grid, so no wall-clock
time is offered twice. Working-hours boundaries use the same rule (PEP 495):
an ambiguous time is its first occurrence, a time inside a gap moves forward
by the gap.

The clinic's zone is read from settings at call time (``TIME_ZONE``, set from
``CLINIC_TIME_ZONE``).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import selectors
from clinic.clock import clinic_zone
from clinic.errors import NotBookable
from treatments.models import Treatment

# Closed integer intervals of allowed *start* seconds, sorted and disjoint.
Starts = list[tuple[int, int]]
# Half-open integer intervals [start, end) of busy or working seconds.
Spans = list[tuple[int, int]]

_NEG = -(2**62)
_POS = 2**62


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime  # aware, UTC (exact arithmetic; render in the clinic's zone)
    end: datetime  # start + duration (buffers not included)
    practitioner_id: int


@dataclass(frozen=True)
class Allocation:
    """One way to hold a start: a free practitioner with the first free room
    (and device, when the treatment needs one) in the clinic's display order."""

    practitioner_id: int
    room_id: int
    device_id: int | None


@dataclass
class Calendar:
    """Everything the engine needs for one treatment over one span, loaded once.

    Times are integer epoch seconds (busy starts floored, busy ends ceiled, so
    rounding can only make the engine more careful, never double-book)."""

    duration: int
    hold: int
    practitioner_ids: list[int]
    hours: dict[int, list[tuple[int, time, time, time | None, time | None]]] = field(default_factory=dict)
    time_off: dict[int, Spans] = field(default_factory=dict)
    closures: Spans = field(default_factory=list)
    room_ids: list[int] = field(default_factory=list)
    device_ids: list[int] | None = None  # None: the treatment needs no device
    practitioner_busy: dict[int, Spans] = field(default_factory=dict)
    room_busy: dict[int, Spans] = field(default_factory=dict)
    device_busy: dict[int, Spans] = field(default_factory=dict)


# --- time ---------------------------------------------------------------------


def _floor(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def _ceil(moment: datetime) -> int:
    return math.ceil(moment.timestamp())


@lru_cache(maxsize=8192)
def _local_ts(day: date, at: time, zone: tzinfo) -> int:
    """Epoch seconds of a clinic-local wall-clock time (fold=0, PEP 495)."""
    return math.floor(datetime.combine(day, at, tzinfo=zone).timestamp())


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@lru_cache(maxsize=1024)
def grid_points(day: date, zone: tzinfo, step_minutes: int) -> tuple[int, ...]:
    """The grid starts of one clinic-local date as epoch seconds, ascending:
    wall times skipped by a DST change are left out, a repeated wall time
    counts once (its first occurrence)."""
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    minutes = range(0, 24 * 60, step_minutes)
    if midnight.utcoffset() == next_midnight.utcoffset():
        base = math.floor(midnight.timestamp())
        return tuple(base + minute * 60 for minute in minutes)
    points = []
    for minute in minutes:
        wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
        stamp = math.floor(wall.timestamp())
        if datetime.fromtimestamp(stamp, zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
            continue  # inside the gap of a spring-forward change
        points.append(stamp)
    return tuple(points)


# --- interval arithmetic (pure) ------------------------------------------------


def merge(spans: Iterable[tuple[int, int]]) -> Spans:
    """Sorted, merged half-open spans (touching spans join)."""
    merged: Spans = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract(spans: Spans, holes: Spans) -> Spans:
    """``spans`` minus ``holes``; both sorted and merged, half-open."""
    result: Spans = []
    index = 0
    for start, end in spans:
        cursor = start
        while index < len(holes) and holes[index][1] <= cursor:
            index += 1
        probe = index
        while probe < len(holes) and holes[probe][0] < end:
            hole_start, hole_end = holes[probe]
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
            if cursor >= end:
                break
            probe += 1
        if cursor < end:
            result.append((cursor, end))
    return result


def starts_within(windows: Spans, length: int) -> Starts:
    """Starts S with [S, S + length) inside one of the (merged) windows."""
    return [(start, end - length) for start, end in windows if end - length >= start]


def starts_clear_of(busy: Spans, length: int) -> Starts:
    """Starts S with [S, S + length) overlapping none of the (merged) busy spans."""
    result: Starts = []
    previous_end = _NEG
    for start, end in busy:
        if start - length >= previous_end:
            result.append((previous_end, start - length))
        previous_end = max(previous_end, end)
    result.append((previous_end, _POS))
    return result


def intersect(first: Starts, second: Starts) -> Starts:
    result: Starts = []
    i = j = 0
    while i < len(first) and j < len(second):
        first_low, first_high = first[i]
        second_low, second_high = second[j]
        low = first_low if first_low > second_low else second_low
        high = first_high if first_high < second_high else second_high
        if low <= high:
            result.append((low, high))
        if first_high < second_high:
            i += 1
        else:
            j += 1
    return result


def union(sets: Iterable[Starts]) -> Starts:
    result: Starts = []
    for low, high in sorted(interval for starts in sets for interval in starts):
        if result and low <= result[-1][1] + 1:
            if high > result[-1][1]:
                result[-1] = (result[-1][0], high)
        else:
            result.append((low, high))
    return result


def contains(starts: Starts, moment: int) -> bool:
    index = bisect_right(starts, (moment, _POS)) - 1
    return index >= 0 and starts[index][0] <= moment <= starts[index][1]


def points_in(starts: Starts, grid: Sequence[int]) -> list[int]:
    points: list[int] = []
    for low, high in starts:
        points.extend(grid[bisect_left(grid, low) : bisect_right(grid, high)])
    return points


# --- the engine over a loaded calendar (pure) ------------------------------------


def working_windows(calendar: Calendar, practitioner_id: int, dates: Sequence[date], zone: tzinfo) -> Spans:
    """Working spans of the dates (hours minus breaks, time off, closures)."""
    by_weekday: dict[int, list[tuple[time, time, time | None, time | None]]] = {}
    for weekday, start, end, break_start, break_end in calendar.hours.get(practitioner_id, ()):
        by_weekday.setdefault(weekday, []).append((start, end, break_start, break_end))
    spans: Spans = []
    for day in dates:
        for start, end, break_start, break_end in by_weekday.get(day.weekday(), ()):
            parts = [(start, break_start), (break_end, end)] if break_start and break_end else [(start, end)]
            for part_start, part_end in parts:
                low, high = _local_ts(day, part_start, zone), _local_ts(day, part_end, zone)
                if low < high:
                    spans.append((low, high))
    holes = merge([*calendar.time_off.get(practitioner_id, ()), *calendar.closures])
    return subtract(merge(spans), holes)


def static_starts(
    calendar: Calendar, practitioner_id: int, dates: Sequence[date], zone: tzinfo, bounds: Starts
) -> Starts:
    """Starts bookable on an empty calendar: inside hours, outside breaks, time
    off and closures, inside the notice/horizon bounds, with some room (and
    device) of the right kind existing at all."""
    if not calendar.room_ids or calendar.device_ids == []:
        return []
    return intersect(starts_within(working_windows(calendar, practitioner_id, dates, zone), calendar.duration), bounds)


def resource_starts(calendar: Calendar, busy: dict[int, Spans], resource_id: int) -> Starts:
    return starts_clear_of(busy.get(resource_id, []), calendar.hold)


def shared_resource_starts(calendar: Calendar) -> Starts:
    """Starts where some room of the kind (and some device of the kind) is free."""
    rooms = union(resource_starts(calendar, calendar.room_busy, room) for room in calendar.room_ids)
    if calendar.device_ids is None:
        return rooms
    devices = union(resource_starts(calendar, calendar.device_busy, device) for device in calendar.device_ids)
    return intersect(rooms, devices)


def free_starts(calendar: Calendar, practitioner_id: int, static: Starts, shared: Starts) -> Starts:
    own = resource_starts(calendar, calendar.practitioner_busy, practitioner_id)
    return intersect(intersect(static, own), shared)


def allocate(calendar: Calendar, practitioner_id: int, moment: int) -> Allocation | None:
    """The first free room (and device) at ``moment`` for a practitioner who is
    free then, or None."""
    if not contains(resource_starts(calendar, calendar.practitioner_busy, practitioner_id), moment):
        return None
    room = next(
        (r for r in calendar.room_ids if contains(resource_starts(calendar, calendar.room_busy, r), moment)), None
    )
    if room is None:
        return None
    device = None
    if calendar.device_ids is not None:
        device = next(
            (d for d in calendar.device_ids if contains(resource_starts(calendar, calendar.device_busy, d), moment)),
            None,
        )
        if device is None:
            return None
    return Allocation(practitioner_id=practitioner_id, room_id=room, device_id=device)


# --- loading ----------------------------------------------------------------------


def load_calendar(
    *,
    treatment: Treatment,
    span_start: int,
    span_end: int,
    practitioner_id: int | None = None,
    exclude_appointment_id: int | None = None,
    now: datetime | None = None,
) -> Calendar:
    """Reads what the engine needs in at most seven queries, however many
    appointments, days or practitioners there are. Waitlist holds count as
    busy until they expire, by ``now``."""
    duration = treatment.duration_minutes * 60
    calendar = Calendar(duration=duration, hold=duration + treatment.buffer_minutes * 60, practitioner_ids=[])
    calendar.practitioner_ids = selectors.qualified_practitioner_ids(
        treatment=treatment, practitioner_id=practitioner_id
    )
    if not calendar.practitioner_ids:
        return calendar
    for row in selectors.working_hours_rows(practitioner_ids=calendar.practitioner_ids):
        calendar.hours.setdefault(row[0], []).append(row[1:])
    start = datetime.fromtimestamp(span_start, UTC)
    end = datetime.fromtimestamp(span_end, UTC)
    for practitioner, off_start, off_end in selectors.time_off_rows(
        practitioner_ids=calendar.practitioner_ids, start=start, end=end
    ):
        calendar.time_off.setdefault(practitioner, []).append((_floor(off_start), _ceil(off_end)))
    calendar.closures = [(_floor(s), _ceil(e)) for s, e in selectors.closure_rows(start=start, end=end)]
    calendar.room_ids = selectors.active_room_ids(kind_id=treatment.room_kind_id)
    if treatment.device_kind_id is not None:
        calendar.device_ids = selectors.active_device_ids(kind_id=treatment.device_kind_id)
    busy_practitioners: dict[int, Spans] = {}
    busy_rooms: dict[int, Spans] = {}
    busy_devices: dict[int, Spans] = {}
    for practitioner, room, device, busy_start, busy_end in selectors.busy_rows(
        start=start,
        end=end,
        practitioner_ids=calendar.practitioner_ids,
        room_ids=calendar.room_ids,
        device_ids=calendar.device_ids or [],
        exclude_appointment_id=exclude_appointment_id,
        now=now,
    ):
        span = (_floor(busy_start), _ceil(busy_end))
        busy_practitioners.setdefault(practitioner, []).append(span)
        busy_rooms.setdefault(room, []).append(span)
        if device is not None:
            busy_devices.setdefault(device, []).append(span)
    calendar.practitioner_busy = {key: merge(spans) for key, spans in busy_practitioners.items()}
    calendar.room_busy = {key: merge(spans) for key, spans in busy_rooms.items()}
    calendar.device_busy = {key: merge(spans) for key, spans in busy_devices.items()}
    return calendar


# --- the public API ---------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return (now or timezone.now()).astimezone(UTC)


def _bounds(*, staff: bool, now: datetime) -> tuple[datetime, datetime]:
    """The earliest and latest start this caller may book."""
    if staff:
        return now, now + settings.CLINIC_STAFF_HORIZON
    return now + settings.CLINIC_MIN_NOTICE, now + settings.CLINIC_BOOKING_HORIZON


def _span(dates: Sequence[date], zone: tzinfo, hold: int) -> tuple[int, int]:
    """From local midnight of the first date to local midnight after the last
    date, plus the hold of an appointment starting just before it."""
    start = _local_ts(dates[0], time(0), zone)
    end = _local_ts(dates[-1] + timedelta(days=1), time(0), zone) + hold
    return start, end


class SlotStarts(NamedTuple):
    """``find_slots``' answer before it becomes ``Slot`` objects: each bookable
    ``(start, practitioner_id)`` with the start in epoch seconds, sorted by start
    then practitioner, and the treatment's duration in seconds (a slot ends at
    start + duration). For callers that write thousands of slots as text."""

    starts: list[tuple[int, int]]
    duration: int


def find_slot_starts(
    *,
    treatment: Treatment,
    first_date: date,
    last_date: date,
    practitioner_id: int | None = None,
    staff: bool = False,
    now: datetime | None = None,
    window: tuple[date, date] | None = None,
    exclude_appointment_id: int | None = None,
) -> SlotStarts:
    """``find_slots``, as epoch seconds (``SlotStarts``): the same rules, the
    same slots, in the same order."""
    duration = treatment.duration_minutes * 60
    if not treatment.active and not staff:
        return SlotStarts([], duration)
    zone = clinic_zone()
    now = _now(now)
    earliest, latest = _bounds(staff=staff, now=now)
    first = max(first_date, earliest.astimezone(zone).date())
    last = min(last_date, latest.astimezone(zone).date())
    if window is not None:
        first, last = max(first, window[0]), min(last, window[1])
    if first > last:
        return SlotStarts([], duration)
    dates = _dates(first, last)
    span_start, span_end = _span(dates, zone, duration + treatment.buffer_minutes * 60)
    calendar = load_calendar(
        treatment=treatment,
        span_start=span_start,
        span_end=span_end,
        practitioner_id=practitioner_id,
        exclude_appointment_id=exclude_appointment_id,
        now=now,
    )
    if not calendar.practitioner_ids:
        return SlotStarts([], duration)
    grid = [point for day in dates for point in grid_points(day, zone, settings.CLINIC_SLOT_MINUTES)]
    bounds = [(math.ceil(earliest.timestamp()), math.floor(latest.timestamp()))]
    shared = shared_resource_starts(calendar)
    found: list[tuple[int, int]] = []
    for practitioner in calendar.practitioner_ids:
        static = static_starts(calendar, practitioner, dates, zone, bounds)
        found.extend(
            (point, practitioner) for point in points_in(free_starts(calendar, practitioner, static, shared), grid)
        )
    found.sort()
    return SlotStarts(found, duration)


def find_slots(
    *,
    treatment: Treatment,
    first_date: date,
    last_date: date,
    practitioner_id: int | None = None,
    staff: bool = False,
    now: datetime | None = None,
    window: tuple[date, date] | None = None,
    exclude_appointment_id: int | None = None,
) -> list[Slot]:
    """Bookable starts on the clinic-local dates ``first_date``..``last_date``
    (inclusive), sorted by start then practitioner. A patient sees nothing for
    an inactive treatment; staff still can book it."""
    found, duration = find_slot_starts(
        treatment=treatment,
        first_date=first_date,
        last_date=last_date,
        practitioner_id=practitioner_id,
        staff=staff,
        now=now,
        window=window,
        exclude_appointment_id=exclude_appointment_id,
    )
    moments: dict[int, datetime] = {}

    def moment(stamp: int) -> datetime:
        if stamp not in moments:
            moments[stamp] = datetime.fromtimestamp(stamp, UTC)
        return moments[stamp]

    return [
        Slot(start=moment(point), end=moment(point + duration), practitioner_id=practitioner)
        for point, practitioner in found
    ]


def check_start(
    *,
    treatment: Treatment,
    start: datetime,
    practitioner_id: int | None,
    staff: bool,
    now: datetime | None = None,
    window: tuple[date, date] | None = None,
    exclude_appointment_id: int | None = None,
    patient_id: int | None = None,
) -> list[Allocation]:
    """The ways ``start`` can be held now, one per free practitioner (all
    qualified ones when ``practitioner_id`` is None), in practitioner id order.

    Raises NotBookable when ``start`` would not be offered to this caller even
    on an empty calendar. An empty list means other appointments hold it (or,
    with ``patient_id``, the patient has an overlapping active appointment):
    the caller raises SlotUnavailable."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("check_start needs an aware datetime")
    zone = clinic_zone()
    now = _now(now)
    day = start.astimezone(zone).date()
    stamp = start.timestamp()
    moment = math.floor(stamp)
    if not treatment.active and not staff:
        raise NotBookable(_("This treatment cannot be booked online."))
    if moment != stamp or moment not in grid_points(day, zone, settings.CLINIC_SLOT_MINUTES):
        raise NotBookable(
            _("Appointments start on the clinic's %(minutes)s-minute grid.") % {"minutes": settings.CLINIC_SLOT_MINUTES}
        )
    if window is not None and not window[0] <= day <= window[1]:
        raise NotBookable(_("That date is outside this session's window."))
    earliest, latest = _bounds(staff=staff, now=now)
    if start < now:
        raise NotBookable(_("That time has passed."))
    if start < earliest:
        raise NotBookable(_("That time is too soon to book online. Please call the clinic."))
    if start > latest:
        raise NotBookable(_("That time is too far ahead to book."))
    duration = treatment.duration_minutes * 60
    span_start, span_end = _span([day], zone, duration + treatment.buffer_minutes * 60)
    calendar = load_calendar(
        treatment=treatment,
        span_start=span_start,
        span_end=span_end,
        practitioner_id=practitioner_id,
        exclude_appointment_id=exclude_appointment_id,
        now=now,
    )
    if not calendar.practitioner_ids:
        if practitioner_id is not None:
            raise NotBookable(_("That practitioner does not offer this treatment."))
        raise NotBookable(_("No practitioner offers this treatment at the moment."))
    if not calendar.room_ids or calendar.device_ids == []:
        raise NotBookable(_("The clinic cannot offer this treatment at the moment."))
    bounds = [(math.ceil(earliest.timestamp()), math.floor(latest.timestamp()))]
    working = [
        p for p in calendar.practitioner_ids if contains(static_starts(calendar, p, [day], zone, bounds), moment)
    ]
    if not working:
        raise NotBookable(_("The clinic is not open for this treatment at that time."))
    allocations = [a for a in (allocate(calendar, p, moment) for p in working) if a is not None]
    if allocations and patient_id is not None:
        end = start.astimezone(UTC) + timedelta(seconds=duration)
        if selectors.patient_has_overlap(
            patient_id=patient_id, start=start, end=end, exclude_appointment_id=exclude_appointment_id
        ):
            return []
    return allocations
