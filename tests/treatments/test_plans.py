"""Plan windows and session rules as pure functions (docs/domain.md, Treatment plans).

A course with an interval of 14–35 days (the factory's superficial peel):
session 1 may happen in [start_after, start_after + 21]; each later session
in [anchor + 14, anchor + 35], anchored on the previous session's completed
date, else its booked date, else its window start.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treatments.plans import (
    Anchor,
    Window,
    booking_window,
    plan_windows,
    shown_status,
    staff_may_leave_window,
    turn_has_come,
)

START = date(2026, 3, 2)
D = timedelta


def windows(*anchors: Anchor, start: date = START, low: int = 14, high: int = 35) -> list[Window]:
    return plan_windows(start_after=start, interval_min=low, interval_max=high, anchors=list(anchors))


def test_a_fresh_plan_is_projected_from_each_window_start() -> None:
    found = windows(Anchor(), Anchor(), Anchor())
    assert found[0] == Window(START, START + D(21))
    assert found[1] == Window(START + D(14), START + D(35))
    assert found[2] == Window(START + D(28), START + D(49))


def test_session_1_window_spans_max_minus_min_days() -> None:
    assert windows(Anchor(), low=28, high=42)[0] == Window(START, START + D(14))
    assert windows(Anchor(), low=30, high=30)[0] == Window(START, START)


def test_completing_early_pulls_the_next_window_earlier() -> None:
    done = START + D(2)
    found = windows(Anchor(completed_on=done), Anchor())
    assert found[1] == Window(done + D(14), done + D(35))


def test_completing_on_time_anchors_on_the_day_it_was_done() -> None:
    done = START + D(10)
    assert windows(Anchor(completed_on=done), Anchor())[1] == Window(START + D(24), START + D(45))


def test_completing_late_pushes_the_next_window_later() -> None:
    done = START + D(60)  # well after session 1's window ended
    found = windows(Anchor(completed_on=done), Anchor(), Anchor())
    assert found[0] == Window(START, START + D(21))  # session 1's own window never moves
    assert found[1] == Window(done + D(14), done + D(35))
    assert found[2] == Window(done + D(28), done + D(49))


def test_a_booked_session_anchors_on_its_booked_date() -> None:
    booked = START + D(5)
    found = windows(Anchor(booked_on=booked), Anchor())
    assert found[1] == Window(booked + D(14), booked + D(35))


def test_completed_date_wins_over_booked_date() -> None:
    found = windows(Anchor(completed_on=START + D(7), booked_on=START + D(3)), Anchor())
    assert found[1].start == START + D(21)


def test_a_booking_further_down_the_chain_moves_every_later_window() -> None:
    second = START + D(20)
    found = windows(Anchor(completed_on=START + D(1)), Anchor(booked_on=second), Anchor(), Anchor())
    assert found[2] == Window(second + D(14), second + D(35))
    assert found[3] == Window(second + D(28), second + D(49))


def test_a_cancelled_booking_returns_the_windows_to_the_projection() -> None:
    booked = windows(Anchor(booked_on=START + D(9)), Anchor())
    released = windows(Anchor(), Anchor())
    assert booked[1] != released[1]
    assert released[1] == Window(START + D(14), START + D(35))


def test_the_last_sessions_facts_change_no_window() -> None:
    assert windows(Anchor(), Anchor()) == windows(Anchor(), Anchor(completed_on=START + D(40)))


def test_bad_intervals_are_refused() -> None:
    with pytest.raises(ValueError):
        windows(Anchor(), low=35, high=14)
    with pytest.raises(ValueError):
        windows(Anchor(), low=-1, high=14)


@given(
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=0, max_value=200),
    st.lists(
        st.tuples(st.sampled_from(["none", "booked", "completed"]), st.integers(min_value=-30, max_value=120)),
        min_size=1,
        max_size=8,
    ),
)
def test_windows_are_ordered_and_as_long_as_the_interval_allows(low: int, extra: int, facts: list) -> None:
    high = low + extra
    anchors = []
    for kind, offset in facts:
        day = START + D(offset)
        anchors.append(
            Anchor(completed_on=day if kind == "completed" else None, booked_on=day if kind == "booked" else None)
        )
    found = plan_windows(start_after=START, interval_min=low, interval_max=high, anchors=anchors)
    assert len(found) == len(anchors)
    for window in found:
        assert window.start <= window.end
        assert (window.end - window.start).days == high - low
    for index in range(1, len(found)):
        previous = anchors[index - 1]
        anchor = previous.completed_on or previous.booked_on or found[index - 1].start
        assert found[index].start == anchor + D(low)


# --- statuses and booking rules ------------------------------------------------------------


TODAY = date(2026, 4, 1)


@pytest.mark.parametrize(
    ("state", "window_end", "shown"),
    [
        ("pending", TODAY, "pending"),  # the last day of the window is still inside it
        ("pending", TODAY - D(1), "overdue"),
        ("pending", TODAY + D(10), "pending"),
        ("booked", TODAY - D(30), "booked"),  # booked (by staff, late): not overdue
        ("completed", TODAY - D(30), "completed"),
        ("cancelled", TODAY - D(30), "cancelled"),
    ],
)
def test_overdue_is_a_pending_session_whose_window_has_ended(state: str, window_end: date, shown: str) -> None:
    assert shown_status(state=state, window_end=window_end, today=TODAY) == shown  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "previous", "allowed"),
    [
        (1, None, True),
        (2, "pending", False),
        (2, "booked", True),
        (2, "completed", True),
        (2, "cancelled", False),
        (3, None, False),
    ],
)
def test_a_session_waits_for_the_previous_one(number: int, previous: str | None, allowed: bool) -> None:
    assert turn_has_come(number=number, previous_state=previous) is allowed  # type: ignore[arg-type]


def test_patients_are_always_held_to_the_window() -> None:
    open_window = Window(TODAY - D(3), TODAY + D(10))
    ended = Window(TODAY - D(30), TODAY - D(1))
    assert booking_window(window=open_window, staff=False, today=TODAY) == (open_window.start, open_window.end)
    assert booking_window(window=ended, staff=False, today=TODAY) == (ended.start, ended.end)


def test_staff_may_leave_the_window_only_once_it_has_ended() -> None:
    open_window = Window(TODAY - D(3), TODAY)
    ended = Window(TODAY - D(30), TODAY - D(1))
    future = Window(TODAY + D(5), TODAY + D(20))
    assert booking_window(window=open_window, staff=True, today=TODAY) == (open_window.start, open_window.end)
    assert booking_window(window=future, staff=True, today=TODAY) == (future.start, future.end)
    assert booking_window(window=ended, staff=True, today=TODAY) is None
    assert staff_may_leave_window(window_end=TODAY - D(1), today=TODAY)
    assert not staff_may_leave_window(window_end=TODAY, today=TODAY)
