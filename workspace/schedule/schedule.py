"""The day and week grids of the staff schedule: pure layout over loaded rows.

The page may not use style attributes (CSP ``style-src 'self'``), so every
block is placed on a CSS grid by class names that staff.css defines: a row per
``ROW_MINUTES`` of the day (``.rs-N`` starts at grid row N, ``.rsp-N`` spans N
rows) and a column per practitioner, room or device (``.cs-N``). Row 1 is the
column headers; the first time row is row 2. The week grid uses the same rows
with a column per day; overlapping appointments of a day take lanes side by
side (a day spans its lanes: ``.csp-N``); every day of a week has the week's
lane count, so the days are equally wide. schedule.css sizes the tracks from
the column count (``.cols-N``: N equal columns with a least width; beyond that
the box scrolls with the time column and the headers sticky).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

ROW_MINUTES = 15
MAX_ROWS = 96  # a whole day of 15-minute rows; staff.css defines classes up to this
MAX_COLUMNS = 40
DEFAULT_OPEN = time(9)
DEFAULT_CLOSE = time(19)


@dataclass
class Block:
    """One thing on the grid: an appointment, time off or a closure."""

    kind: str  # "appointment" | "off"
    column: int
    row: int
    span: int
    item: Any = None
    label: str = ""
    cspan: int = 1  # grid columns covered (lanes of a week's day)


@dataclass
class Cell:
    """An empty time that books there when clicked (or a non-working one)."""

    column: int
    row: int
    at: time
    working: bool
    key: int = 0
    title: str = ""
    past: bool = False
    cspan: int = 1
    day: date | None = None
    kind: str = "cell"

    @property
    def hhmm(self) -> str:
        """The wall time for URLs and scripts (not for reading: the template formats that)."""
        return self.at.strftime("%H:%M")

    @property
    def day_iso(self) -> str:
        return self.day.isoformat() if self.day else ""


@dataclass
class Column:
    key: int
    title: str
    subtitle: str = ""
    index: int = 0  # grid column (2 = the first after the time labels)


@dataclass
class DayGrid:
    day: date
    open: time
    close: time
    rows: list[tuple[int, time]]  # (grid row, wall time) of each time row
    columns: list[Column]
    blocks: list[Block] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    overflow: list[Any] = field(default_factory=list)  # appointments that cannot sit on the grid
    now_row: int | None = None
    now_offset: int = 0  # minutes into now_row

    @property
    def times(self) -> list[tuple[int, time, str]]:
        """(grid row, wall time, "HH:MM") of each row: the machine value for the drag and the Move dialog."""
        return [(row, at, at.strftime("%H:%M")) for row, at in self.rows]

    @property
    def items(self) -> list[Block | Cell]:
        return in_reading_order(self.blocks, self.cells)


def in_reading_order(blocks: Sequence[Block], cells: Sequence[Cell]) -> list[Block | Cell]:
    """Blocks and cells column by column, top to bottom: the order keyboard
    focus moves in (the grid places them by class, whatever the order)."""
    return sorted([*blocks, *cells], key=lambda item: (item.column, item.row))


def local(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone)


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def _at(minutes: int) -> time:
    minutes = max(0, min(minutes, 24 * 60 - 1))
    return time(minutes // 60, minutes % 60)


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def opening(
    hours: Iterable[tuple[time, time]], moments: Iterable[tuple[datetime, datetime]], zone: tzinfo, day: date
) -> tuple[time, time]:
    """From the earliest working start to the latest end, widened to hold every
    appointment of the day; whole rows only."""
    starts: list[int] = []
    ends: list[int] = []
    for start, end in hours:
        starts.append(_minutes(start))
        ends.append(_minutes(end))
    day_start, day_end = day_bounds(day, zone)
    for begins, finishes in moments:
        clipped_start = max(local(begins, zone), day_start)
        clipped_end = min(local(finishes, zone), day_end)
        starts.append(int((clipped_start - day_start).total_seconds() // 60))
        ends.append(math.ceil((clipped_end - day_start).total_seconds() / 60))
    first = min(starts) if starts else _minutes(DEFAULT_OPEN)
    last = max(ends) if ends else _minutes(DEFAULT_CLOSE)
    first = first // ROW_MINUTES * ROW_MINUTES
    last = min(math.ceil(last / ROW_MINUTES) * ROW_MINUTES, 24 * 60)
    if last <= first:
        last = min(first + 60, 24 * 60)
    return _at(first), (time(23, 59) if last >= 24 * 60 else _at(last))


def _row_of(moment: datetime, day_start: datetime, open_minutes: int) -> float:
    return ((moment - day_start).total_seconds() / 60 - open_minutes) / ROW_MINUTES


def build_day(
    *,
    day: date,
    zone: tzinfo,
    columns: Sequence[Column],
    appointments: Sequence[Any],
    column_of: Any,
    working: dict[int, list[tuple[time, time]]],
    off: Sequence[tuple[int | None, datetime, datetime, str]],
    open_at: time,
    close_at: time,
    now: datetime,
) -> DayGrid:
    """Lays out one day. ``column_of(appointment)`` names its column key;
    ``working`` maps a column key to its working wall-clock spans (columns
    missing from it work all day); ``off`` is (column key or None for all,
    start, end, label) of time off and closures."""
    day_start, day_end = day_bounds(day, zone)
    open_minutes = _minutes(open_at)
    close_minutes = 24 * 60 if close_at == time(23, 59) else _minutes(close_at)
    count = min(MAX_ROWS, max(1, (close_minutes - open_minutes) // ROW_MINUTES))
    rows = [(2 + n, _at(open_minutes + n * ROW_MINUTES)) for n in range(count)]
    placed_columns = []
    for number, column in enumerate(columns[:MAX_COLUMNS]):
        column.index = number + 2
        placed_columns.append(column)
    grid = DayGrid(day=day, open=open_at, close=close_at, rows=rows, columns=placed_columns)
    index = {column.key: column for column in placed_columns}
    taken: dict[int, set[int]] = {column.key: set() for column in placed_columns}

    def span_rows(start: datetime, end: datetime) -> tuple[int, int] | None:
        first = max(0.0, _row_of(max(start, day_start), day_start, open_minutes))
        last = min(float(count), _row_of(min(end, day_end), day_start, open_minutes))
        if last <= 0 or first >= count:
            return None
        low = math.floor(first)
        high = max(low + 1, math.ceil(last))
        return low, high

    for appointment in appointments:
        key = column_of(appointment)
        home = index.get(key)
        rows_of = span_rows(appointment.start, appointment.end)
        if home is None or rows_of is None:
            grid.overflow.append(appointment)
            continue
        low, high = rows_of
        wanted = set(range(low, high))
        if wanted & taken[key]:
            grid.overflow.append(appointment)
            continue
        taken[key] |= wanted
        grid.blocks.append(Block("appointment", home.index, low + 2, high - low, item=appointment))

    for key, start, end, label in off:
        rows_of = span_rows(start, end)
        if rows_of is None:
            continue
        low, high = rows_of
        for column in placed_columns if key is None else [index[key]] if key in index else []:
            free = [n for n in range(low, high) if n not in taken[column.key]]
            # Time off is drawn in the rows no appointment holds, in runs.
            for run_start, run_end in _runs(free):
                grid.blocks.append(
                    Block("off", column.index, run_start + 2, run_end - run_start, label=label, item=(start, end))
                )
            taken[column.key] |= set(free)

    for column in placed_columns:
        spans = working.get(column.key)
        for number, (row, at) in enumerate(rows):
            if number in taken[column.key]:
                continue
            minutes = _minutes(at)
            works = spans is None or any(
                _minutes(a) <= minutes and minutes + ROW_MINUTES <= _minutes(b) for a, b in spans
            )
            moment = datetime.combine(day, at, tzinfo=zone)
            past = moment < now
            grid.cells.append(
                Cell(
                    column.index,
                    row,
                    at,
                    working=works and moment >= now,
                    key=column.key,
                    title=column.title,
                    past=past and works,
                )
            )

    local_now = local(now, zone)
    if local_now.date() == day:
        minutes = local_now.hour * 60 + local_now.minute - open_minutes
        if 0 <= minutes < count * ROW_MINUTES:
            grid.now_row = 2 + minutes // ROW_MINUTES
            grid.now_offset = minutes % ROW_MINUTES
    return grid


def _runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and runs[-1][1] == number:
            runs[-1] = (runs[-1][0], number + 1)
        else:
            runs.append((number, number + 1))
    return runs


MAX_LANES = 5  # side-by-side appointments in one day of the week grid; more are listed below it


@dataclass
class WeekDay:
    day: date
    column: int = 2  # first grid column
    lanes: int = 1
    is_today: bool = False

    @property
    def iso(self) -> str:
        return self.day.isoformat()


@dataclass
class WeekGrid:
    days: list[WeekDay]
    rows: list[tuple[int, time]]
    blocks: list[Block] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    overflow: list[Any] = field(default_factory=list)
    now_row: int | None = None
    now_offset: int = 0
    now_column: int = 0
    now_span: int = 1

    @property
    def items(self) -> list[Block | Cell]:
        """Day by day, then top to bottom, then lane by lane."""
        starts = [d.column for d in self.days]

        def day_of(item: Block | Cell) -> int:
            return max((n for n, start in enumerate(starts) if start <= item.column), default=0)

        return sorted([*self.blocks, *self.cells], key=lambda item: (day_of(item), item.row, item.column))

    @property
    def width(self) -> int:
        """Grid columns, the time labels included."""
        return 1 + sum(d.lanes for d in self.days)


def _lanes(spans: list[tuple[int, int, Any]]) -> list[tuple[Any, int, int, int, int]]:
    """Side-by-side lanes for overlapping (low, high, item) row spans: gives
    (item, low, high, lane, lanes in its cluster of overlapping items)."""
    placed: list[tuple[Any, int, int, int, int]] = []
    cluster: list[tuple[Any, int, int, int]] = []
    ends: list[int] = []
    cluster_end = -1

    def close() -> None:
        placed.extend((item, low, high, lane, len(ends)) for item, low, high, lane in cluster)

    for low, high, item in sorted(spans, key=lambda s: (s[0], -s[1], getattr(s[2], "pk", 0) or 0)):
        if cluster and low >= cluster_end:
            close()
            cluster, ends = [], []
        lane = next((n for n, end in enumerate(ends) if end <= low), None)
        if lane is None:
            lane = len(ends)
            ends.append(high)
        else:
            ends[lane] = high
        cluster.append((item, low, high, lane))
        cluster_end = max(cluster_end, high) if len(cluster) > 1 else high
    if cluster:
        close()
    return placed


def build_week(
    *,
    days: Sequence[date],
    zone: tzinfo,
    appointments: Sequence[Any],
    working: dict[date, list[tuple[time, time]]],
    off: Sequence[tuple[datetime, datetime, str]],
    open_at: time,
    close_at: time,
    now: datetime,
) -> WeekGrid:
    """Lays out a week: a column per day, the day view's rows down. Overlapping
    appointments (several practitioners) sit side by side in lanes of their
    day; ``working`` gives each day's working wall-clock spans (the clinic's,
    or one practitioner's); ``off`` is (start, end, label) of closures and time
    off, shaded across the whole day."""
    open_minutes = _minutes(open_at)
    close_minutes = 24 * 60 if close_at == time(23, 59) else _minutes(close_at)
    count = min(MAX_ROWS, max(1, (close_minutes - open_minutes) // ROW_MINUTES))
    rows = [(2 + n, _at(open_minutes + n * ROW_MINUTES)) for n in range(count)]
    grid = WeekGrid(days=[WeekDay(day=d) for d in days], rows=rows)
    local_now = local(now, zone)
    by_day: dict[date, list[Any]] = {d: [] for d in days}
    for appointment in appointments:
        found = by_day.get(local(appointment.start, zone).date())
        (grid.overflow if found is None else found).append(appointment)

    # Every day gets the week's largest number of lanes, so the days are equally wide
    # (the grid's tracks are equal) whatever each day holds.
    placed_of: dict[date, list[tuple[Any, int, int, int, int]]] = {}
    for entry in grid.days:
        day_start, day_end = day_bounds(entry.day, zone)
        spans: list[tuple[int, int, Any]] = []
        for appointment in by_day[entry.day]:
            rows_of = _span_rows(appointment.start, appointment.end, day_start, day_end, open_minutes, count)
            if rows_of is None:
                grid.overflow.append(appointment)
            else:
                spans.append((rows_of[0], rows_of[1], appointment))
        placed_of[entry.day] = []
        for item, low, high, lane, lanes in _lanes(spans):
            if lane >= MAX_LANES:
                grid.overflow.append(item)
            else:
                placed_of[entry.day].append((item, low, high, lane, min(lanes, MAX_LANES)))
    week_lanes = max([lanes for placed in placed_of.values() for *_rest, lanes in placed], default=1)

    column = 2
    for entry in grid.days:
        day_start, day_end = day_bounds(entry.day, zone)
        entry.is_today = entry.day == local_now.date()
        placed = placed_of[entry.day]
        entry.lanes = week_lanes
        entry.column = column
        column += entry.lanes
        taken: dict[int, set[int]] = {n: set() for n in range(count)}  # row -> lanes
        for item, low, high, lane, lanes in placed:
            # Alone in its time: the whole day's width; the last lane of a cluster widens to the day's edge.
            first = 0 if lanes == 1 else lane
            width = entry.lanes - first if lanes == 1 or lane == lanes - 1 else 1
            grid.blocks.append(Block("appointment", entry.column + first, low + 2, high - low, item=item, cspan=width))
            for n in range(low, high):
                taken[n] |= set(range(first, first + width))
        off_rows: set[int] = set()
        for start, end, label in off:
            rows_of = _span_rows(start, end, day_start, day_end, open_minutes, count)
            if rows_of is None:
                continue
            free = [n for n in range(*rows_of) if not taken[n] and n not in off_rows]
            for run_start, run_end in _runs(free):
                grid.blocks.append(
                    Block(
                        "off",
                        entry.column,
                        run_start + 2,
                        run_end - run_start,
                        label=label,
                        item=(start, end),
                        cspan=entry.lanes,
                    )
                )
            off_rows |= set(free)
        spans_of_day = working.get(entry.day, [])
        for number, (row, at) in enumerate(rows):
            if number in off_rows:
                continue
            minutes = _minutes(at)
            works = any(_minutes(a) <= minutes and minutes + ROW_MINUTES <= _minutes(b) for a, b in spans_of_day)
            moment = datetime.combine(entry.day, at, tzinfo=zone)
            free_lanes = [lane for lane in range(entry.lanes) if lane not in taken[number]]
            for run_start, run_end in _runs(free_lanes):
                grid.cells.append(
                    Cell(
                        entry.column + run_start,
                        row,
                        at,
                        working=works and moment >= now,
                        past=moment < now and works,
                        cspan=run_end - run_start,
                        day=entry.day,
                    )
                )
        if entry.is_today:
            minutes = local_now.hour * 60 + local_now.minute - open_minutes
            if 0 <= minutes < count * ROW_MINUTES:
                grid.now_row = 2 + minutes // ROW_MINUTES
                grid.now_offset = minutes % ROW_MINUTES
                grid.now_column = entry.column
                grid.now_span = entry.lanes
    return grid


def _span_rows(
    start: datetime, end: datetime, day_start: datetime, day_end: datetime, open_minutes: int, count: int
) -> tuple[int, int] | None:
    """The grid rows (first, one past the last; 0 = the first time row) a time covers on a day."""
    first = max(0.0, _row_of(max(start, day_start), day_start, open_minutes))
    last = min(float(count), _row_of(min(end, day_end), day_start, open_minutes))
    if last <= 0 or first >= count:
        return None
    low = math.floor(first)
    return low, max(low + 1, math.ceil(last))


def week_of(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=n) for n in range(7)]


def css_classes() -> str:
    """The grid's placement classes, for staff.css (``python -m workspace.schedule.schedule``)."""
    lines = ["/* Generated by workspace/schedule/schedule.py: grid placement without style attributes. */"]
    lines += [f".rs-{n}{{grid-row-start:{n}}}" for n in range(1, MAX_ROWS + 2)]
    lines += [f".rsp-{n}{{grid-row-end:span {n}}}" for n in range(1, MAX_ROWS + 1)]
    lines += [f".cs-{n}{{grid-column-start:{n}}}" for n in range(1, MAX_COLUMNS + 2)]
    lines += [f".csp-{n}{{grid-column-end:span {n}}}" for n in range(1, MAX_COLUMNS + 2)]
    lines += [f".nm-{n}{{margin-top:calc(var(--row) * {n} / {ROW_MINUTES})}}" for n in range(ROW_MINUTES)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(css_classes(), end="")
