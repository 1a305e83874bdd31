"""The schedule grid's layout: pure functions over plain rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from booking.workspace import schedule as layout

HK = ZoneInfo("Asia/Hong_Kong")
DAY = date(2026, 12, 1)


@dataclass
class Item:
    start: datetime
    end: datetime
    column: int


def at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute), tzinfo=HK)


def build(items, now=None, off=(), working=None):
    columns = [layout.Column(key=1, title="A"), layout.Column(key=2, title="B")]
    return layout.build_day(
        day=DAY,
        zone=HK,
        columns=columns,
        appointments=items,
        column_of=lambda item: item.column,
        working=working if working is not None else {1: [(time(10), time(13)), (time(14), time(19))]},
        off=list(off),
        open_at=time(10),
        close_at=time(19),
        now=now or at(0),
    )


def test_blocks_sit_on_their_rows_and_columns() -> None:
    grid = build([Item(at(10, 30), at(11, 15), 1), Item(at(18, 30), at(19), 2)])
    first, second = grid.blocks
    assert (first.column, first.row, first.span) == (2, 4, 3)  # row 2 is 10:00
    assert (second.column, second.row, second.span) == (3, 36, 2)
    assert len(grid.rows) == 36 and grid.rows[0] == (2, time(10))


def test_overlaps_and_outside_hours_go_to_the_overflow_list() -> None:
    grid = build([Item(at(10), at(11), 1), Item(at(10, 30), at(11), 1), Item(at(10), at(10, 30), 9)])
    assert len(grid.blocks) == 1 and len(grid.overflow) == 2


def test_cells_are_bookable_only_in_working_future_time() -> None:
    grid = build([], now=at(11))
    bookable = {(c.key, c.at) for c in grid.cells if c.working}
    assert (1, time(11)) in bookable and (1, time(10, 45)) not in bookable
    assert (1, time(13)) not in bookable and (2, time(12)) in bookable  # B works all day (no hours given)
    assert all(c.past for c in grid.cells if c.key == 1 and c.at < time(11))


def test_time_off_fills_free_rows_and_the_now_line() -> None:
    grid = build([Item(at(12), at(12, 30), 1)], off=[(1, at(11), at(13), "Off")], now=at(12, 40), working={})
    offs = [b for b in grid.blocks if b.kind == "off"]
    assert [(b.row, b.span) for b in offs] == [(6, 4), (12, 2)]
    assert grid.now_row == 12 and grid.now_offset == 10


def test_opening_covers_hours_and_appointments() -> None:
    assert layout.opening([(time(10), time(19))], [], HK, DAY) == (time(10), time(19))
    assert layout.opening([(time(10), time(19))], [(at(8, 50), at(9, 20))], HK, DAY) == (time(8, 45), time(19))
    assert layout.opening([], [], HK, DAY) == (layout.DEFAULT_OPEN, layout.DEFAULT_CLOSE)
    late = layout.opening([(time(10), time(19))], [(at(23), at(23) + timedelta(hours=2))], HK, DAY)
    assert late == (time(10), time(23, 59))


def test_week_starts_on_monday() -> None:
    week = layout.week_of(date(2026, 12, 3))
    assert week[0] == date(2026, 11, 30) and len(week) == 7


def test_css_defines_every_class_the_grid_uses() -> None:
    css = layout.css_classes()
    assert ".rs-97{" in css and ".rsp-96{" in css and ".cs-41{" in css and ".nm-14{" in css
    # staff.css carries the generated classes as they are generated now.
    assert css in (Path(__file__).resolve().parents[2] / "static/clinic/staff.css").read_text()
