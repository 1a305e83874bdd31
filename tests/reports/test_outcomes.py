"""The outcomes report on a small clinic whose numbers can be worked out on paper.

The clinic (period 1 January to 30 June 2026, target grade 2):

CO2 fractional laser (Dr A), six patients P1..P6, baseline assessment on
5 January, first visit 10 January, then monthly; latest assessment 1 May:

    patient  baseline  latest  improvement  %        grade    CO2 visits before 1 May
    P1       40        30      10           25.0     3 → 2    3
    P2       36        30       6           16.67    3 → 2    2
    P3       30        21       9           30.0     3 → 2    4
    P4       28        28       0            0.0     3 → 3    2
    P5       24        12      12           50.0     3 → 2    3
    P6       20        18       2           10.0     3 → 2    1

Improvements sorted 0, 2, 6, 9, 10, 12 (n = 6, percentile_cont position
f × 5): median at 2.5 → 6 + 0.5 × 3 = 7.5; lower quartile at 1.25 →
2 + 0.25 × 4 = 3.0; upper quartile at 3.75 → 9 + 0.75 × 1 = 9.75 (9.8);
mean 39 / 6 = 6.5. Baselines 20, 24, 28, 30, 36, 40 → median 29.0; latests
12, 18, 21, 28, 30, 30 → median 24.5. Percent 0, 10, 16.67, 25, 30, 50 →
median 16.67 + 0.5 × 8.33 = 20.8, quartiles 10 + 0.25 × 6.67 = 11.7 and
25 + 0.75 × 5 = 28.75 (28.8).

Subcision (Dr B), P1..P5, one visit on 20 January: the same baseline and
latest, improvements 0, 6, 9, 10, 12 (n = 5): median 9, quartiles 6 and 10,
mean 37 / 5 = 7.4. Their combination is "CO2 fractional laser + Subcision"
with the same five numbers; P6 had CO2 alone (one patient: hidden).

Grade transitions, CO2: 3 → 2 five patients (share 5 / 6 = 83.3 %), 3 → 3
one patient (hidden). Subcision: 3 → 2 four patients (hidden), 3 → 3 one.

Sessions to grade 2, CO2: six start above it, five reach it (83.3 %) after
3, 2, 4, 3, 1 sessions → sorted 1, 2, 3, 3, 4: median 3, quartiles 2 and 3.

Adverse events (every visit has a session record): CO2 15 sessions, events
at P1's second and P3's first → 2 / 15 = 13.3 per 100; Subcision 5 sessions,
P2's → 20.0. Fluence 15 J/cm² for P1..P5 (band 10–20: 14 sessions,
5 patients, 2 events → 14.3) and 25 for P6 (band 20–40: one patient,
hidden); density 10 % for all (band 10–15: 15 sessions, 6 patients → 13.3).
Fitzpatrick: P1, P2 type III on the record, P3..P5 unrecorded on the record
but III at assessment, P6 IV at assessment: type III has 5 patients,
19 sessions, 3 events → 15.8; type IV one patient, hidden.

Courses, CO2: P1, P2, P3, P5 completed in the period, P6 cancelled on
1 March (abandoned), P4 active with session 3 pending since its window
closed on 1 April (overdue): 6 patients, abandoned 1 of 5 ended = 20.0 %.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from booking.models import Appointment, SessionRecord
from booking.report_outcomes import outcomes_report
from booking.reports import ReportFilters, Table, report_json, table_csv
from clinic.aggregates import percentile_cont
from clinic.clock import clinic_zone
from tests.factories import (
    AppointmentFactory,
    AssessmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
)
from treatments.models import Category, PlanSession, TreatmentPlan

pytestmark = pytest.mark.django_db

PERIOD = ReportFilters(start=date(2026, 1, 1), end=date(2026, 6, 30))
BASELINES = (40, 36, 30, 28, 24, 20)
LATESTS = (30, 30, 21, 28, 12, 18)
LATEST_GRADES = (2, 2, 2, 3, 2, 2)
CO2_VISITS = (3, 2, 4, 2, 3, 1)
SKIN_ON_RECORD = (3, 3, None, None, None, None)
SKIN_AT_ASSESSMENT = (3, 3, 3, 3, 3, 4)


class Clinic:
    def __init__(self) -> None:
        self.co2 = TreatmentFactory(slug="co2", category=Category.LASER, name_en="CO2 fractional laser")
        self.subcision = TreatmentFactory(slug="subcision", category=Category.SUBCISION, name_en="Subcision")
        self.dr_a = PractitionerFactory(hours=False)
        self.dr_b = PractitionerFactory(hours=False)
        self.room = RoomFactory()
        self.patients: list[Any] = []
        self.slots: dict[date, int] = {}

    def visit(self, patient, treatment, practitioner, day: date, *, adverse: str = "", **parameters: float):
        # Each visit its own hour, so no practitioner, room or patient overlaps.
        slot = self.slots[day] = self.slots.get(day, -1) + 1
        start = datetime.combine(day, time(8), tzinfo=clinic_zone()) + timedelta(minutes=40 * slot)
        appointment = AppointmentFactory(
            patient=patient,
            treatment=treatment,
            practitioner=practitioner,
            room=self.room,
            start=start,
            status=Appointment.Status.COMPLETED,
        )
        SessionRecord.objects.create(
            appointment=appointment, category=treatment.category, adverse_events=adverse, parameters=parameters
        )
        return appointment

    def patient(
        self, *, baseline: int, latest: int, latest_grade: int, skin: int | None, skin_assessed: int, first: date
    ):
        patient = PatientFactory(fitzpatrick_type=skin)
        AssessmentFactory(
            patient=patient,
            assessed_on=first - timedelta(days=5),
            quantitative_score=baseline,
            qualitative_grade=3,
            fitzpatrick_type=skin_assessed,
        )
        AssessmentFactory(
            patient=patient,
            assessed_on=date(2026, 5, 1),
            quantitative_score=latest,
            qualitative_grade=latest_grade,
            fitzpatrick_type=skin_assessed,
        )
        self.patients.append(patient)
        return patient


def _month(n: int) -> date:
    return date(2026, 1 + n, 10)


def build_clinic() -> Clinic:
    clinic = Clinic()
    for index in range(6):
        patient = clinic.patient(
            baseline=BASELINES[index],
            latest=LATESTS[index],
            latest_grade=LATEST_GRADES[index],
            skin=SKIN_ON_RECORD[index],
            skin_assessed=SKIN_AT_ASSESSMENT[index],
            first=date(2026, 1, 10),
        )
        fluence = 25 if index == 5 else 15
        visits = []
        for n in range(CO2_VISITS[index]):
            adverse = "PIH on both cheeks" if (index, n) in {(0, 1), (2, 0)} else ""
            visits.append(
                clinic.visit(
                    patient,
                    clinic.co2,
                    clinic.dr_a,
                    _month(n),
                    adverse=adverse,
                    fluence_j_cm2=fluence,
                    density_percent=10,
                )
            )
        if index < 5:
            adverse = "Bruising" if index == 1 else ""
            clinic.visit(patient, clinic.subcision, clinic.dr_b, date(2026, 1, 20), adverse=adverse)
        _plan(clinic, patient, index, visits[0])
    return clinic


def _plan(clinic: Clinic, patient, index: int, first_visit) -> None:
    plan = TreatmentPlan.objects.create(patient=patient, treatment=clinic.co2, start_after=date(2026, 1, 1))
    if index == 3:  # P4: session 3 pending, its window closed on 1 April
        PlanSession.objects.create(
            plan=plan,
            number=1,
            window_start=date(2026, 1, 1),
            window_end=date(2026, 1, 31),
            status="completed",
            completed_on=date(2026, 1, 10),
        )
        PlanSession.objects.create(
            plan=plan, number=3, window_start=date(2026, 3, 1), window_end=date(2026, 4, 1), status="pending"
        )
    elif index == 5:  # P6: cancelled on 1 March
        TreatmentPlan.objects.filter(pk=plan.pk).update(
            status=TreatmentPlan.Status.CANCELLED,
            cancelled_at=datetime(2026, 3, 1, 10, tzinfo=clinic_zone()),
        )
        return
    else:
        TreatmentPlan.objects.filter(pk=plan.pk).update(status=TreatmentPlan.Status.COMPLETED)
        PlanSession.objects.create(
            plan=plan,
            number=1,
            window_start=date(2026, 3, 1),
            window_end=date(2026, 4, 30),
            status="completed",
            completed_on=date(2026, 4, 10),
        )
    # The first visit was the plan's first session, with Dr A.
    session = PlanSession.objects.get(plan=plan, number=1)
    Appointment.objects.filter(pk=first_visit.pk).update(plan_session=session)


def rows(table: Table, key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in table.rows}


@pytest.fixture
def clinic() -> Clinic:
    return build_clinic()


def test_score_change_by_treatment_gives_median_quartiles_and_mean_of_the_improvement(clinic) -> None:
    table = outcomes_report(PERIOD).table("score_change")
    by = rows(table, "treatment")
    assert set(by) == {"CO2 fractional laser", "Subcision"}
    co2 = by["CO2 fractional laser"]
    assert co2["patients"] == 6
    assert (co2["baseline_median"], co2["latest_median"]) == (29.0, 24.5)
    assert (co2["improvement_q1"], co2["improvement_median"], co2["improvement_q3"]) == (3.0, 7.5, 9.8)
    assert co2["improvement_mean"] == 6.5
    assert (co2["improvement_percent_q1"], co2["improvement_percent_median"], co2["improvement_percent_q3"]) == (
        11.7,
        20.8,
        28.8,
    )
    subcision = by["Subcision"]
    assert subcision["patients"] == 5
    assert (subcision["improvement_q1"], subcision["improvement_median"], subcision["improvement_q3"]) == (6, 9, 10)
    assert subcision["improvement_mean"] == 7.4
    assert table.hidden == 0
    assert table.figure is not None and table.figure.kind == "ranges"


def test_the_database_percentile_agrees_with_the_paper_one(clinic) -> None:
    improvements = [b - latest for b, latest in zip(BASELINES, LATESTS, strict=True)]
    co2 = rows(outcomes_report(PERIOD).table("score_change"), "treatment")["CO2 fractional laser"]
    assert co2["improvement_median"] == round(percentile_cont(improvements, 0.5) or 0, 1)
    assert co2["improvement_q3"] == round(percentile_cont(improvements, 0.75) or 0, 1)


def test_combinations_count_each_patient_once_under_their_set_of_treatments(clinic) -> None:
    table = outcomes_report(PERIOD).table("score_change_combinations")
    assert [row["combination"] for row in table.rows] == ["CO2 fractional laser + Subcision"]
    both = table.rows[0]
    assert (both["patients"], both["treatments"]) == (5, 2)
    assert (both["improvement_q1"], both["improvement_median"], both["improvement_q3"]) == (6, 9, 10)
    assert table.hidden == 1  # P6, CO2 alone


def test_grade_transitions_hide_a_cell_of_one_patient(clinic) -> None:
    table = outcomes_report(PERIOD).table("grade_transitions")
    assert [(r["treatment"], r["transition"], r["patients"], r["share"]) for r in table.rows] == [
        ("CO2 fractional laser", "3 → 2", 5, 83.3)
    ]
    assert table.hidden == 3  # CO2 3 → 3, Subcision 3 → 2 (four) and 3 → 3


def test_sessions_to_target_counts_the_visits_before_the_first_assessment_at_the_target(clinic) -> None:
    table = outcomes_report(PERIOD).table("sessions_to_target")
    co2 = rows(table, "treatment")["CO2 fractional laser"]
    assert (co2["patients"], co2["reached"], co2["reached_percent"]) == (6, 5, 83.3)
    assert (co2["sessions_q1"], co2["sessions_median"], co2["sessions_q3"]) == (2, 3, 3)
    # Nobody starts above grade 3, so a target of 3 leaves no one to count.
    assert outcomes_report(replace(PERIOD, target_grade=3)).table("sessions_to_target").rows == []


def test_adverse_events_per_100_sessions_by_treatment_setting_and_skin_type(clinic) -> None:
    report = outcomes_report(PERIOD)
    by_treatment = rows(report.table("adverse_by_treatment"), "treatment")
    assert {k: (v["sessions"], v["events"], v["rate"]) for k, v in by_treatment.items()} == {
        "CO2 fractional laser": (15, 2, 13.3),
        "Subcision": (5, 1, 20.0),
    }
    by_setting = report.table("adverse_by_setting")
    assert [(r["group"], r["patients"], r["sessions"], r["events"], r["rate"]) for r in by_setting.rows] == [
        ("Laser fluence: 10–20 J/cm²", 5, 14, 2, 14.3),
        ("Laser density: 10–15 %", 6, 15, 2, 13.3),
    ]
    assert by_setting.hidden == 1  # fluence 20–40: P6 alone
    skin = report.table("adverse_by_fitzpatrick")
    assert [(r["fitzpatrick"], r["patients"], r["sessions"], r["events"], r["rate"]) for r in skin.rows] == [
        ("Type III", 5, 19, 3, 15.8)
    ]
    assert skin.hidden == 1


def test_courses_completed_abandoned_and_overdue(clinic) -> None:
    table = outcomes_report(PERIOD).table("courses")
    co2 = rows(table, "treatment")["CO2 fractional laser"]
    assert (co2["patients"], co2["completed"], co2["abandoned"], co2["overdue"]) == (6, 4, 1, 1)
    assert co2["abandoned_percent"] == 20.0
    # Before P4's window closed nothing was overdue yet; the cancellation came later too.
    early = rows(outcomes_report(replace(PERIOD, end=date(2026, 2, 28))).table("courses"), "treatment")
    assert early == {}


def _one_treatment_clinic(count: int):
    clinic = Clinic()
    for index in range(count):
        patient = clinic.patient(
            baseline=30, latest=20 - index, latest_grade=2, skin=3, skin_assessed=3, first=date(2026, 2, 1)
        )
        clinic.visit(patient, clinic.co2, clinic.dr_a, date(2026, 2, 1), fluence_j_cm2=12)
    return clinic


def test_four_patients_are_hidden_and_five_are_shown() -> None:
    clinic = _one_treatment_clinic(4)
    report = outcomes_report(PERIOD)
    for key in ("score_change", "score_change_combinations", "grade_transitions", "adverse_by_treatment"):
        assert (report.table(key).rows, report.table(key).hidden) == ([], 1), key
    clinic.patients.append(
        clinic.patient(baseline=30, latest=16, latest_grade=2, skin=3, skin_assessed=3, first=date(2026, 2, 1))
    )
    clinic.visit(clinic.patients[-1], clinic.co2, clinic.dr_a, date(2026, 2, 1), fluence_j_cm2=12)
    report = outcomes_report(PERIOD)
    for key in ("score_change", "score_change_combinations", "grade_transitions", "adverse_by_treatment"):
        assert report.table(key).hidden == 0, key
        assert report.table(key).rows[0]["patients"] == 5, key
    # Improvements 10, 11, 12, 13, 14: median 12.
    assert report.table("score_change").rows[0]["improvement_median"] == 12


def test_the_treatment_filter_keeps_that_treatment_and_the_combinations_including_it(clinic) -> None:
    report = outcomes_report(replace(PERIOD, treatment_id=clinic.subcision.pk, treatment_slug="subcision"))
    assert [r["treatment"] for r in report.table("score_change").rows] == ["Subcision"]
    assert [r["combination"] for r in report.table("score_change_combinations").rows] == [
        "CO2 fractional laser + Subcision"
    ]
    assert report.table("courses").rows == []  # the plans are all CO2
    assert [r["treatment"] for r in report.table("adverse_by_treatment").rows] == ["Subcision"]


def test_the_practitioner_filter_keeps_their_visits_only(clinic) -> None:
    report = outcomes_report(replace(PERIOD, practitioner_id=clinic.dr_b.pk))
    assert [r["treatment"] for r in report.table("score_change").rows] == ["Subcision"]
    assert [r["combination"] for r in report.table("score_change_combinations").rows] == ["Subcision alone"]
    assert report.table("adverse_by_setting").rows == []  # subcision has no device settings
    assert report.table("courses").rows == []  # Dr B did none of the CO2 course visits
    dr_a = rows(outcomes_report(replace(PERIOD, practitioner_id=clinic.dr_a.pk)).table("courses"), "treatment")
    # P6's cancelled plan never had a visit; the others' first sessions were with Dr A.
    courses = dr_a["CO2 fractional laser"]
    assert (courses["patients"], courses["completed"], courses["abandoned"], courses["overdue"]) == (5, 4, 0, 1)


def test_a_practitioner_sees_only_patients_they_have_treated(clinic) -> None:
    report = outcomes_report(replace(PERIOD, own_patients_of=clinic.dr_b.pk))
    co2 = rows(report.table("score_change"), "treatment")["CO2 fractional laser"]
    # P1..P5 only: improvements 0, 6, 9, 10, 12.
    assert (co2["patients"], co2["improvement_median"]) == (5, 9)
    courses = rows(report.table("courses"), "treatment")["CO2 fractional laser"]
    assert (courses["patients"], courses["abandoned"]) == (5, 0)
    nobody = outcomes_report(replace(PERIOD, own_patients_of=0))
    assert all(table.rows == [] for table in nobody.tables)


def test_the_period_bounds_the_visits_and_the_latest_assessment(clinic) -> None:
    # Ending before the 1 May assessments: nobody has a latest score yet.
    report = outcomes_report(replace(PERIOD, end=date(2026, 4, 30)))
    assert report.table("score_change").rows == []
    assert report.table("grade_transitions").rows == []
    assert rows(report.table("adverse_by_treatment"), "treatment")["CO2 fractional laser"]["sessions"] == 15
    # Starting in February: the CO2 visits left are P1's 2, P2's 1, P3's 3, P4's 1, P5's 2.
    february = outcomes_report(replace(PERIOD, start=date(2026, 2, 1)))
    co2 = rows(february.table("adverse_by_treatment"), "treatment")["CO2 fractional laser"]
    assert (co2["patients"], co2["sessions"]) == (5, 9)


def _queries(filters: ReportFilters) -> int:
    with CaptureQueriesContext(connection) as captured:
        outcomes_report(filters)
    return len(captured)


def test_the_number_of_queries_does_not_grow_with_the_clinic(clinic, on_postgres, django_assert_num_queries) -> None:
    small = _queries(PERIOD)
    build_clinic_more(clinic, 12)
    with django_assert_num_queries(small):
        report = outcomes_report(PERIOD)
    assert rows(report.table("score_change"), "treatment")["CO2 fractional laser"]["patients"] == 18
    # The names, one for the four tables of (patient, treatment) pairs (the
    # combinations among them), one for the three adverse-event tables, the
    # courses; the savepoint and its release (inside the test's transaction);
    # on PostgreSQL SET LOCAL jit.
    assert small == 4 + 2 + (1 if on_postgres else 0)


def build_clinic_more(clinic: Clinic, count: int) -> None:
    for index in range(count):
        patient = clinic.patient(
            baseline=30, latest=20, latest_grade=2, skin=None, skin_assessed=2, first=date(2026, 2, 1)
        )
        for n in range(2):
            clinic.visit(patient, clinic.co2, clinic.dr_a, date(2026, 2 + n, 1 + index), fluence_j_cm2=30)


def test_the_report_reads_in_traditional_chinese(clinic) -> None:
    with translation.override("zh-hant"):
        report = outcomes_report(PERIOD)
    table = report.table("score_change")
    assert table.title == "按療程劃分的疤痕評分變化"
    assert table.column("improvement_median").label == "改善中位數（分）"
    assert report.table("adverse_by_fitzpatrick").rows[0]["fitzpatrick"] == "第 III 型"
    assert report.table("adverse_by_setting").rows[0]["group"] == "激光能量密度: 10–20 J/cm²"


def test_every_table_has_its_key_and_serialises_as_json_and_csv(clinic) -> None:
    report = outcomes_report(PERIOD)
    assert [table.key for table in report.tables] == [
        "score_change",
        "score_change_combinations",
        "grade_transitions",
        "sessions_to_target",
        "adverse_by_treatment",
        "adverse_by_setting",
        "adverse_by_fitzpatrick",
        "courses",
    ]
    body = json.loads(json.dumps(report_json(report)))
    transitions = next(t for t in body["tables"] if t["key"] == "grade_transitions")
    assert transitions["rows"] == [
        {
            "treatment": "CO2 fractional laser",
            "grade_from": 3,
            "grade_to": 2,
            "transition": "3 → 2",
            "patients": 5,
            "share": 83.3,
        }
    ]
    assert transitions["hidden_groups"] == 3
    assert "CO2 fractional laser,6,29.0,24.5,7.5,3.0,9.8,6.5" in table_csv(report.table("score_change"))
