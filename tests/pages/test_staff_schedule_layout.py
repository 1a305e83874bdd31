"""The schedule grid's layout: pure functions over plain rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from workspace.schedule import schedule as layout

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


@dataclass
class Booked:
    start: datetime
    end: datetime
    pk: int = 0


WEEK = layout.week_of(DAY)  # Monday 30 November to Sunday 6 December 2026


def on(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=HK)


def build_week(items, now=None, off=(), days=WEEK):
    return layout.build_week(
        days=days,
        zone=HK,
        appointments=items,
        working={d: [(time(10), time(19))] for d in days if d.weekday() < 5},
        off=list(off),
        open_at=time(10),
        close_at=time(19),
        now=now or on(WEEK[0], 0),
    )


def test_week_blocks_sit_in_their_day_and_rows() -> None:
    grid = build_week([Booked(on(WEEK[2], 11), on(WEEK[2], 11, 45), 1)])
    assert [d.column for d in grid.days] == [2, 3, 4, 5, 6, 7, 8] and grid.width == 8
    (block,) = grid.blocks
    assert (block.column, block.row, block.span, block.cspan) == (4, 6, 3, 1)  # Wednesday, 11:00 is row 6
    # Saturday and Sunday: nobody works, nothing is bookable; no cell under the block.
    assert not [c for c in grid.cells if c.day in (WEEK[5], WEEK[6]) and c.working]
    assert not [c for c in grid.cells if c.day == WEEK[2] and c.at in (time(11), time(11, 15), time(11, 30))]


def test_overlapping_appointments_take_lanes_side_by_side() -> None:
    tuesday = WEEK[1]
    grid = build_week(
        [
            Booked(on(tuesday, 10), on(tuesday, 11), 1),
            Booked(on(tuesday, 10, 30), on(tuesday, 11, 30), 2),
            Booked(on(tuesday, 11), on(tuesday, 11, 30), 3),  # fits the first lane again
            Booked(on(tuesday, 15), on(tuesday, 16), 4),  # alone: the whole day's width
        ]
    )
    day = grid.days[1]
    # Every day takes the week's lane count, so the days are equally wide: Monday spans two tracks too.
    assert {d.lanes for d in grid.days} == {2} and grid.width == 15
    assert (day.column, day.lanes) == (4, 2) and grid.days[2].column == 6
    placed = {b.item.pk: (b.column, b.cspan) for b in grid.blocks}
    assert placed == {1: (4, 1), 2: (5, 1), 3: (4, 1), 4: (4, 2)}
    # At 10:00 the second lane is free: a cell one lane wide books there.
    assert [(c.column, c.cspan) for c in grid.cells if c.day == tuesday and c.at == time(10)] == [(5, 1)]
    assert [(c.column, c.cspan) for c in grid.cells if c.day == tuesday and c.at == time(12)] == [(4, 2)]
    assert [(c.column, c.cspan) for c in grid.cells if c.day == WEEK[0] and c.at == time(12)] == [(2, 2)]


def test_more_than_the_lanes_go_below_the_grid() -> None:
    tuesday = WEEK[1]
    items = [Booked(on(tuesday, 10), on(tuesday, 11), n) for n in range(layout.MAX_LANES + 2)]
    grid = build_week(items)
    assert len(grid.blocks) == layout.MAX_LANES and len(grid.overflow) == 2
    assert grid.days[1].lanes == layout.MAX_LANES


def test_week_closures_shade_the_day_and_today_has_the_now_line() -> None:
    thursday = WEEK[3]
    grid = build_week(
        [Booked(on(thursday, 12), on(thursday, 12, 30), 1)],
        off=[(on(thursday, 0), on(thursday, 23, 59), "Typhoon")],
        now=on(thursday, 14, 20),
    )
    offs = [(b.row, b.span, b.label) for b in grid.blocks if b.kind == "off"]
    assert offs == [(2, 8, "Typhoon"), (12, 26, "Typhoon")]  # around the appointment that stays visible
    assert not [c for c in grid.cells if c.day == thursday]
    assert (grid.now_row, grid.now_offset, grid.now_column, grid.now_span) == (19, 5, 5, 1)  # 14:15 is row 19
    assert [d.is_today for d in grid.days] == [False, False, False, True, False, False, False]
    assert all(c.past or not c.working for c in grid.cells if c.day < thursday)


def test_keyboard_order_is_column_by_column_top_to_bottom() -> None:
    grid = build([Item(at(10, 30), at(11), 1), Item(at(10), at(10, 30), 2)])
    order = [(item.column, item.row) for item in grid.items]
    assert order == sorted(order) and len(order) == len(grid.blocks) + len(grid.cells)
    week = build_week(
        [Booked(on(WEEK[1], 10, 30), on(WEEK[1], 11), 1), Booked(on(WEEK[1], 10, 30), on(WEEK[1], 11), 2)]
    )
    tuesday = [(item.row, item.column) for item in week.items if 3 <= item.column <= 4]
    assert tuesday == sorted(tuesday)  # 10:00 cell, 10:15 cell, both blocks at 10:30 left to right, ...
    assert [item.column for item in week.items][:3] == [2, 2, 2]  # Monday first
