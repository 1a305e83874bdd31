"""The progress page's pure parts: the chart's geometry, the change in words, sessions in words."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import translation

from clinic.clock import clinic_today
from portal.account.progress import change_words, day_label, score_chart, session_rows
from tests.factories import PatientFactory
from tests.pages.account_fixtures import plan
from treatments.models import PlanSession, TreatmentPlan

HORIZON = timedelta(days=90)


def test_no_scores_no_chart() -> None:
    assert score_chart([], [(date(2026, 1, 1), "session")]) is None


def test_scores_run_left_to_right_and_lower_is_lower_on_the_page() -> None:
    chart = score_chart([(date(2026, 1, 1), 40), (date(2026, 3, 1), 20), (date(2026, 5, 1), 0)], [])
    assert chart is not None
    xs = [p.x for p in chart.points]
    ys = [p.y for p in chart.points]
    assert xs == sorted(xs) and xs[0] == chart.left and xs[-1] == chart.plot_right
    assert ys == sorted(ys) and ys[-1] == chart.plot_bottom  # a score of 0 sits on the axis
    assert [t.label for t in chart.y_ticks] == ["0", "20", "40"]
    assert chart.line.count(",") == 3


def test_the_scale_fits_the_scores_and_stops_at_84() -> None:
    low = score_chart([(date(2026, 1, 1), 7)], [])
    high = score_chart([(date(2026, 1, 1), 84)], [])
    assert low is not None and high is not None
    assert low.y_ticks[-1].label == "10"
    assert high.y_ticks[-1].label == "84" and high.points[0].y == high.top


def test_one_day_is_drawn_in_the_middle() -> None:
    chart = score_chart([(date(2026, 1, 1), 30)], [])
    assert chart is not None
    assert chart.points[0].x == chart.left + (chart.width - chart.left - chart.right) / 2
    assert len(chart.x_ticks) == 1


def test_sessions_widen_the_time_axis_and_are_numbered_in_order() -> None:
    chart = score_chart(
        [(date(2026, 2, 1), 30), (date(2026, 3, 1), 25)],
        [(date(2026, 4, 1), "second"), (date(2026, 1, 1), "first")],
    )
    assert chart is not None
    assert [(m.number, m.label) for m in chart.sessions] == [(1, "first"), (2, "second")]
    assert chart.sessions[0].x == chart.left and chart.sessions[1].x == chart.plot_right


def test_many_scores_hide_the_numbers_above_points() -> None:
    start = date(2025, 1, 1)
    chart = score_chart([(start + timedelta(days=10 * i), 40 - i) for i in range(20)], [])
    assert chart is not None and chart.show_values is False


@pytest.mark.parametrize(
    ("difference", "percent", "expected"),
    [
        (-12, -40.0, "12 points lower (40% less) than at your first check on 3 Feb 2026."),
        (-5, None, "5 points lower than at your first check on 3 Feb 2026."),
        (4, 20.0, "4 points higher than at your first check on 3 Feb 2026."),
        (0, 0.0, "The same as at your first check on 3 Feb 2026."),
    ],
)
def test_the_change_in_words(difference: int, percent: float | None, expected: str) -> None:
    change = {
        "from_assessment": 1,
        "to_assessment": 2,
        "quantitative_score": difference,
        "quantitative_score_percent": percent,
    }
    with translation.override("en"):
        assert change_words(change, date(2026, 2, 3)) == expected


def test_a_single_check_has_no_change_to_tell() -> None:
    change = {"from_assessment": 1, "to_assessment": 1, "quantitative_score": 0, "quantitative_score_percent": 0}
    assert change_words(change, date(2026, 2, 3)) == ""
    assert change_words(None, None) == ""


def test_dates_in_both_languages() -> None:
    with translation.override("en"):
        assert day_label(date(2026, 2, 3)) == "3 Feb 2026"
    with translation.override("zh-hant"):
        assert day_label(date(2026, 2, 3)) == "2026年2月3日"


def _rows(course: TreatmentPlan, today: date) -> list[str]:
    fresh = TreatmentPlan.objects.prefetch_related("sessions").select_related("treatment").get(pk=course.pk)
    return [row.state for row in session_rows(fresh, today=today, horizon=HORIZON)]


@pytest.mark.django_db
def test_sessions_in_words() -> None:
    today = clinic_today()
    course = plan(PatientFactory(), sessions=4, done=1)
    assert _rows(course, today) == ["done", "due", "later", "later"]
    PlanSession.objects.filter(plan=course, number=2).update(status="booked")
    assert _rows(course, today) == ["done", "booked", "due", "later"]
    PlanSession.objects.filter(plan=course, number=3).update(
        window_start=today - timedelta(days=30), window_end=today - timedelta(days=1)
    )
    assert _rows(course, today) == ["done", "booked", "overdue", "later"]
    PlanSession.objects.filter(plan=course, number=3).update(
        window_start=today + timedelta(days=100), window_end=today + timedelta(days=120)
    )
    assert _rows(course, today) == ["done", "booked", "soon", "later"]
    TreatmentPlan.objects.filter(pk=course.pk).update(status="cancelled")
    PlanSession.objects.filter(plan=course, number__gte=3).update(status="cancelled")
    assert _rows(course, today) == ["done", "booked", "cancelled", "cancelled"]
