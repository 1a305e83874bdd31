"""Plan window arithmetic and session rules (docs/domain.md, Treatment plans).

Pure functions over plain values, no ORM: ``treatments.services`` feeds them
the sessions' stored facts and writes back what they return.

Windows are clinic-local dates, both ends inclusive. With the treatment's
interval ``[min, max]`` days:

* session 1: ``[start_after, start_after + (max − min)]``;
* session k > 1 is anchored on session k−1: the date k−1 was completed, else
  the date it is booked for, else k−1's ``window_start``; its window is
  ``[anchor + min, anchor + max]``.

So a session done early pulls the next window earlier, one done late pushes it
later, and while nothing is booked the windows are the plan's projection.

Booking rules. A patient may book session k only when k−1 is booked or
completed, and only on a date inside k's window. Staff follow the same rules,
with one exemption (staff may book an overdue session): once a
session's window has ended (``window_end`` before today), staff may book or
move it to any date the booking engine allows, since no date inside the window
is left. The date is measured in the clinic's zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

SessionState = Literal["pending", "booked", "completed", "cancelled"]
ShownStatus = Literal["pending", "booked", "completed", "cancelled", "overdue"]


@dataclass(frozen=True)
class Anchor:
    """What is known of one session when windows are computed: the date it
    was completed, and the clinic-local date its active appointment is on."""

    completed_on: date | None = None
    booked_on: date | None = None


@dataclass(frozen=True)
class Window:
    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def plan_windows(*, start_after: date, interval_min: int, interval_max: int, anchors: Sequence[Anchor]) -> list[Window]:
    """The window of each session, in session order (``anchors[0]`` is session 1).

    Only sessions 1..n−1 anchor a later one, so the last anchor's facts never
    change a window; it is passed for symmetry with the stored sessions."""
    if interval_min < 0 or interval_max < interval_min:
        raise ValueError("intervals must satisfy 0 <= min <= max")
    windows: list[Window] = []
    for index in range(len(anchors)):
        if index == 0:
            windows.append(Window(start_after, start_after + timedelta(days=interval_max - interval_min)))
            continue
        previous = anchors[index - 1]
        anchor = previous.completed_on or previous.booked_on or windows[index - 1].start
        windows.append(Window(anchor + timedelta(days=interval_min), anchor + timedelta(days=interval_max)))
    return windows


def shown_status(*, state: SessionState, window_end: date, today: date) -> ShownStatus:
    """``overdue`` for a pending session whose window has ended (nothing booked)."""
    if state == "pending" and window_end < today:
        return "overdue"
    return state


def turn_has_come(*, number: int, previous_state: SessionState | None) -> bool:
    """Session 1 always; session k when k−1 is booked or completed."""
    return number == 1 or previous_state in ("booked", "completed")


def staff_may_leave_window(*, window_end: date, today: date) -> bool:
    """The overdue exemption: staff may book (or move) a session outside its
    window once the window has ended."""
    return window_end < today


def booking_window(*, window: Window, staff: bool, today: date) -> tuple[date, date] | None:
    """The dates a caller may book the session on, for the availability engine's
    ``window=``; None means unrestricted (staff, window ended)."""
    if staff and staff_may_leave_window(window_end=window.end, today=today):
        return None
    return (window.start, window.end)
