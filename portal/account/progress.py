"""What the progress and plan pages show, from already-loaded rows (no queries here).

The score chart is drawn on the server as inline SVG (no scripts: the content
security policy allows none inline, and a chart must not need JavaScript); its
numbers are also given as a table for screen readers. A plan's sessions are
told in the patient's words: done, booked, due (with the dates it can be
booked), overdue, or later; the booking rules themselves are
treatments.plans', reused here, never restated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import dateformat
from django.utils.translation import gettext as _
from django.utils.translation import pgettext, pgettext_lazy

from clinic.clock import clinic_local
from clinic.context import time_zone_label
from treatments import plans
from treatments.models import PlanSession, TreatmentPlan

# Plain words for the Goodman & Baron qualitative grade (shared/domain.md).
GRADE_WORDS = {
    1: pgettext_lazy("scar grade", "Flat marks only"),
    2: pgettext_lazy("scar grade", "Mild"),
    3: pgettext_lazy("scar grade", "Moderate"),
    4: pgettext_lazy("scar grade", "Severe"),
}

# The standard photo views, as a patient would say them.
VIEW_WORDS = {
    "front": pgettext_lazy("photo view", "Front"),
    "left_45": pgettext_lazy("photo view", "Left side, half turned"),
    "right_45": pgettext_lazy("photo view", "Right side, half turned"),
    "left_90": pgettext_lazy("photo view", "Left side, in profile"),
    "right_90": pgettext_lazy("photo view", "Right side, in profile"),
}

PLAN_STATUS_WORDS: dict[str, Any] = {
    TreatmentPlan.Status.ACTIVE: pgettext_lazy("plan status", "In progress"),
    TreatmentPlan.Status.COMPLETED: pgettext_lazy("plan status", "Finished"),
    TreatmentPlan.Status.CANCELLED: pgettext_lazy("plan status", "Stopped"),
}


def day_label(day: date) -> str:
    """A date as patients read it: "3 Feb 2026", "2026年2月3日"."""
    return dateformat.format(day, pgettext("date format", "j M Y"))


def moment_label(moment: datetime) -> str:
    """A time in the clinic's zone as patients read it: "Thu 3 Dec 2026, 14:30"."""
    local = clinic_local(moment)
    return dateformat.format(local, pgettext("date and time format", "D j M Y, H:i"))


# --- the score chart ----------------------------------------------------------------


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    day: date
    score: int
    label: str


@dataclass(frozen=True)
class ChartMark:
    x: float
    label: str
    number: int


@dataclass(frozen=True)
class Tick:
    at: float
    label: str
    anchor: str = "middle"


@dataclass
class ScoreChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    points: list[ChartPoint]
    sessions: list[ChartMark]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    line: str = ""
    show_values: bool = True

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom


# A phone's width in user units, so the labels stay legible when the chart is scaled to fit.
WIDTH, HEIGHT = 480, 270
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 30, 44


def score_chart(scores: Sequence[tuple[date, int]], session_days: Iterable[tuple[date, str]]) -> ScoreChart | None:
    """The score line (``scores`` oldest first) with session dates as dashed
    marks. None when there is no score to draw."""
    if not scores:
        return None
    sessions = sorted(session_days)
    days = [day for day, _score in scores] + [day for day, _label in sessions]
    first, last = min(days), max(days)
    span = max((last - first).days, 1)
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    highest = max(score for _day, score in scores)
    top_value = 84 if highest > 80 else max(10, math.ceil(highest / 10) * 10)

    def x_of(day: date) -> float:
        if first == last:
            return round(LEFT + plot_width / 2, 1)
        return round(LEFT + plot_width * (day - first).days / span, 1)

    def y_of(value: float) -> float:
        return round(TOP + plot_height * (1 - value / top_value), 1)

    points = [
        ChartPoint(x=x_of(day), y=y_of(score), day=day, score=score, label=f"{day_label(day)}: {score}")
        for day, score in scores
    ]
    marks = [
        ChartMark(x=x_of(day), label=label, number=number) for number, (day, label) in enumerate(sessions, start=1)
    ]
    y_ticks = [Tick(at=y_of(value), label=str(value)) for value in (0, top_value // 2, top_value)]
    if first == last:
        x_ticks = [Tick(at=x_of(first), label=day_label(first))]
    else:
        x_ticks = [
            Tick(at=LEFT, label=day_label(first), anchor="start"),
            Tick(at=WIDTH - RIGHT, label=day_label(last), anchor="end"),
        ]
    return ScoreChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=RIGHT,
        top=TOP,
        bottom=BOTTOM,
        points=points,
        sessions=marks,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        line=" ".join(f"{p.x},{p.y}" for p in points),
        show_values=len(points) <= 12,
    )


def change_words(change: dict[str, Any] | None, first_day: date | None) -> str:
    """ "12 points lower (40%) than at your first check on 3 Feb 2026", or ""."""
    if not change or first_day is None:
        return ""
    difference = change["quantitative_score"]
    percent = change["quantitative_score_percent"]
    values = {"points": abs(difference), "percent": f"{abs(percent or 0):g}", "day": day_label(first_day)}
    if change["from_assessment"] == change["to_assessment"]:
        return ""
    if difference < 0:
        if percent is not None:
            return _("%(points)s points lower (%(percent)s%% less) than at your first check on %(day)s.") % values
        return _("%(points)s points lower than at your first check on %(day)s.") % values
    if difference > 0:
        return _("%(points)s points higher than at your first check on %(day)s.") % values
    return _("The same as at your first check on %(day)s.") % values


# --- plan sessions in the patient's words --------------------------------------------------


@dataclass
class SessionRow:
    session: PlanSession
    state: str  # done | booked | due | soon | overdue | later | cancelled
    word: str
    css: str
    appointment_id: int | None = None
    bookable: bool = False
    book_from: date | None = None
    note: str = ""

    @property
    def number(self) -> int:
        return self.session.number

    @property
    def window(self) -> str:
        return _("%(start)s to %(end)s") % {
            "start": day_label(self.session.window_start),
            "end": day_label(self.session.window_end),
        }


@dataclass
class PlanView:
    plan: TreatmentPlan
    rows: list[SessionRow]
    done: int
    total: int
    status_word: str
    treatment_name: str
    next: SessionRow | None = None

    @property
    def next_rows(self) -> list[SessionRow]:
        return [self.next] if self.next else []

    @property
    def overdue(self) -> list[SessionRow]:
        return [row for row in self.rows if row.state == "overdue"]


def _appointment_id(session: PlanSession) -> int | None:
    found = getattr(session, "active_appointments", None) or []
    return found[0].pk if found else None


def session_rows(
    plan: TreatmentPlan, *, today: date, horizon: timedelta, starts: dict[int, datetime] | None = None
) -> list[SessionRow]:
    """Every session of ``plan`` (its sessions prefetched in number order);
    ``starts`` gives the start of booked sessions' appointments by their id."""
    starts = starts or {}
    sessions = list(plan.sessions.all())
    previous_state: str | None = None
    rows = []
    for session in sessions:
        status = session.status
        shown = plans.shown_status(state=status, window_end=session.window_end, today=today)  # type: ignore[arg-type]
        if status == PlanSession.Status.COMPLETED:
            done_on = session.completed_on
            row = SessionRow(session, "done", pgettext("session", "Done"), "status-completed")
            row.note = _("Done on %(day)s.") % {"day": day_label(done_on)} if done_on else ""
        elif status == PlanSession.Status.BOOKED:
            row = SessionRow(session, "booked", pgettext("session", "Booked"), "status-booked")
            row.appointment_id = _appointment_id(session)
            if row.appointment_id in starts:
                row.note = _("Booked for %(when)s (%(zone)s).") % {
                    "when": moment_label(starts[row.appointment_id]),
                    "zone": time_zone_label(),
                }
            elif session.booked_on:
                row.note = _("Booked for %(day)s.") % {"day": day_label(session.booked_on)}
        elif status == PlanSession.Status.CANCELLED or plan.status != TreatmentPlan.Status.ACTIVE:
            row = SessionRow(session, "cancelled", pgettext("session", "Cancelled"), "status-cancelled")
        elif shown == "overdue":
            row = SessionRow(session, "overdue", pgettext("session", "Overdue"), "status-overdue")
            row.note = _(
                "The best time for this session ended on %(day)s. Call us and we will find a time with you."
            ) % {"day": day_label(session.window_end)}
        elif plans.turn_has_come(number=session.number, previous_state=previous_state):  # type: ignore[arg-type]
            opens = session.window_start - horizon
            if opens > today:
                row = SessionRow(session, "soon", pgettext("session", "Due later"), "status-due")
                row.book_from = opens
                row.note = _("Online booking for it opens on %(day)s.") % {"day": day_label(opens)}
            else:
                row = SessionRow(session, "due", pgettext("session", "Ready to book"), "status-due", bookable=True)
                if session.window_start < today:  # part of the window has passed: say what is left
                    row.note = _("Book it for a day from %(start)s to %(end)s.") % {
                        "start": day_label(today),
                        "end": day_label(session.window_end),
                    }
        else:
            row = SessionRow(session, "later", pgettext("session", "Later"), "status-later")
            row.note = _("You can book it once session %(number)s is booked; the dates move with it.") % {
                "number": session.number - 1
            }
        rows.append(row)
        previous_state = status
    return rows


def booked_appointment_ids(plans_: Iterable[TreatmentPlan]) -> list[int]:
    """The appointments of the booked sessions of ``plans_`` (sessions prefetched)."""
    found = []
    for plan in plans_:
        for session in plan.sessions.all():
            if session.status == PlanSession.Status.BOOKED and (appointment := _appointment_id(session)):
                found.append(appointment)
    return found


def plan_view(
    plan: TreatmentPlan, *, today: date, horizon: timedelta, starts: dict[int, datetime] | None = None
) -> PlanView:
    rows = session_rows(plan, today=today, horizon=horizon, starts=starts)
    upcoming = [row for row in rows if row.state in ("booked", "due", "soon", "overdue")]
    return PlanView(
        plan=plan,
        rows=rows,
        done=sum(1 for row in rows if row.state == "done"),
        total=len(rows),
        status_word=str(PLAN_STATUS_WORDS.get(plan.status, plan.status)),
        treatment_name=plan.treatment.localized("name"),
        next=upcoming[0] if upcoming else None,
    )
