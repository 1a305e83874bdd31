"""Outcomes: do the treatments work? (docs/reports.md, Outcomes.)

Every number comes out of the database. The per-patient facts (which visit
came first, which assessment is the baseline and which the latest) are worked
out in SQL: a compiled queryset for the rows in scope, then a short SQL
aggregate over it (``_run``) where a median or a quartile must be taken,
written to run on PostgreSQL and SQLite alike (only the percentile and the
string aggregate differ, ``_percentile`` and ``_id_list``). Four queries
whatever the size of the clinic: the treatments' names, the four tables built
on (patient, treatment) pairs (the combinations among them), the three
adverse-event tables, the courses.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Length, Trim, TruncDate
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from booking.models import Appointment
from booking.reports import Column, Figure, Report, ReportFilters, Table, keep_groups, min_group, one_decimal, share
from clinic.aggregates import SQLITE_PERCENTILE
from clinic.clock import clinic_today, clinic_zone
from patients.models import Patient
from treatments.models import Assessment, Category, PlanSession, Treatment, TreatmentPlan

COMPLETED = Appointment.Status.COMPLETED


# --- setting bands, as data ---------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """The main setting of a category, read from ``SessionRecord.parameters[key]``,
    cut into bands at ``edges`` (each band includes its lower edge)."""

    category: str
    key: str
    label: Any  # a lazy translation
    unit: str
    edges: tuple[float, ...]


# Bands a clinician would recognise: fluence from picosecond (a few J/cm²) to
# fractional CO2 and Er:YAG microbeams (tens of J/cm²); density as the
# coverage steps devices offer; RF energy per pin and needle depth in the
# steps the handpieces click through; peel strength from superficial
# (glycolic, salicylic up to about 30 %) to medium-depth (TCA 35 % and up).
SETTINGS: tuple[Setting, ...] = (
    Setting(Category.LASER, "fluence_j_cm2", gettext_lazy("Laser fluence"), "J/cm²", (2, 5, 10, 20, 40)),
    Setting(Category.LASER, "density_percent", gettext_lazy("Laser density"), "%", (5, 10, 15, 25)),
    Setting(
        Category.RF_MICRONEEDLING,
        "energy_mj_per_pin",
        gettext_lazy("RF microneedling energy per pin"),
        "mJ",
        (5, 10, 20, 40),
    ),
    Setting(
        Category.RF_MICRONEEDLING,
        "needle_depth_mm",
        gettext_lazy("RF microneedling needle depth"),
        "mm",
        (1.0, 1.5, 2.0, 2.5),
    ),
    Setting(
        Category.MICRONEEDLING,
        "needle_depth_mm",
        gettext_lazy("Microneedling needle depth"),
        "mm",
        (1.0, 1.5, 2.0, 2.5),
    ),
    Setting(Category.PEEL, "concentration_percent", gettext_lazy("Peel concentration"), "%", (20, 35, 50, 70)),
)

NOT_RECORDED = -1


def band_labels(setting: Setting) -> list[str]:
    """``< 2``, ``2–5``, ..., ``≥ 40`` with the unit: band ``i`` is ``[edges[i-1], edges[i])``."""
    edges = [_number(edge) for edge in setting.edges]
    labels = [f"< {edges[0]} {setting.unit}"]
    labels += [f"{low}–{high} {setting.unit}" for low, high in itertools.pairwise(edges)]
    labels.append(f"≥ {edges[-1]} {setting.unit}")
    return labels


def _number(value: float) -> str:
    return f"{value:g}"


# --- the rows every table starts from ----------------------------------------


def _own_patients(practitioner_id: int) -> QuerySet[Appointment, Any]:
    return Appointment.objects.filter(status=COMPLETED, practitioner_id=practitioner_id).values("patient_id")


def _visits(filters: ReportFilters, *, by_treatment: bool = True) -> QuerySet[Appointment]:
    """Completed visits in the period, narrowed by the filters (and, for a
    practitioner's own view, to their own patients)."""
    visits = Appointment.objects.filter(status=COMPLETED, start__gte=filters.start_at, start__lt=filters.end_before)
    if filters.practitioner_id:
        visits = visits.filter(practitioner_id=filters.practitioner_id)
    if filters.own_patients_of is not None:
        visits = visits.filter(patient_id__in=_own_patients(filters.own_patients_of))
    if filters.treatment_id and by_treatment:
        visits = visits.filter(treatment_id=filters.treatment_id)
    return visits


def _firsts(filters: ReportFilters) -> tuple[str, list[Any]]:
    """SQL of one row per (patient, treatment) in scope: the clinic day of the
    patient's first completed visit of the treatment in the period
    (``first_day``). A treatment filter keeps the patients who had that
    treatment with every treatment they had: their other pairs make up their
    combination, the per-treatment tables keep the filtered one."""
    visits = _visits(filters, by_treatment=False)
    if filters.treatment_id:
        visits = visits.filter(patient_id__in=_visits(filters).values("patient_id"))
    firsts = (
        visits.values("patient_id", "treatment_id")
        .annotate(first_day=TruncDate(Min("start"), tzinfo=clinic_zone()))
        .order_by()
    )
    sql, params = _sql(firsts)
    return sql, list(params)


def _day(day: date) -> Any:
    """A date as the database driver takes it (a string on SQLite)."""
    return connection.ops.adapt_datefield_value(day)


def _local_day(column: str) -> tuple[str, list[Any]]:
    """SQL of the clinic day of a timestamp column, as Django's TruncDate writes it."""
    sql, params = connection.ops.datetime_cast_date_sql(column, (), str(clinic_zone()))
    return sql, list(params)


# --- SQL both databases read --------------------------------------------------


def _percentile(expression: str, fraction: float) -> str:
    """The continuous percentile (clinic.aggregates.Percentile) as SQL text."""
    if connection.vendor == "postgresql":
        return f"PERCENTILE_CONT({fraction}) WITHIN GROUP (ORDER BY {expression})"
    return f"{SQLITE_PERCENTILE}({expression}, {fraction})"


def _id_list(column: str) -> str:
    """The group's ids joined by commas in ascending order. PostgreSQL orders
    inside the aggregate; SQLite (3.40, no ORDER BY in aggregates) concatenates
    in the order of its input, which the caller's inner query sorts."""
    if connection.vendor == "postgresql":
        return f"STRING_AGG(CAST({column} AS TEXT), ',' ORDER BY {column})"
    return f"GROUP_CONCAT({column}, ',')"


def _sql(queryset: QuerySet[Any, Any]) -> tuple[str, tuple[Any, ...]]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def _run(sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


ASSESSMENTS = Assessment._meta.db_table
APPOINTMENTS = Appointment._meta.db_table
PATIENTS = Patient._meta.db_table


def _float(expression: str) -> str:
    return f"CAST({expression} AS DOUBLE PRECISION)"


SCORE_KEYS = (
    "baseline_median",
    "latest_median",
    "improvement_q1",
    "improvement_median",
    "improvement_q3",
    "improvement_mean",
    "improvement_percent_q1",
    "improvement_percent_median",
    "improvement_percent_q3",
)


def _score_aggregates(baseline: str, latest: str) -> dict[str, str]:
    """The score change's aggregates (SQL by column key) over the group's pairs.
    Improvement is baseline minus latest: the score counts scars, so a fall is better."""
    improvement = _float(f"{baseline} - {latest}")
    percent = f"CASE WHEN {baseline} > 0 THEN " + _float(f"({baseline} - {latest}) * 100.0 / {baseline}") + " END"
    return {
        "patients": "COUNT(*)",
        "baseline_median": _percentile(_float(baseline), 0.5),
        "latest_median": _percentile(_float(latest), 0.5),
        "improvement_q1": _percentile(improvement, 0.25),
        "improvement_median": _percentile(improvement, 0.5),
        "improvement_q3": _percentile(improvement, 0.75),
        "improvement_mean": f"AVG({improvement})",
        "improvement_percent_q1": _percentile(percent, 0.25),
        "improvement_percent_median": _percentile(percent, 0.5),
        "improvement_percent_q3": _percentile(percent, 0.75),
    }


def _select(columns: dict[str, str]) -> str:
    return ", ".join(f"{sql} AS {key}" for key, sql in columns.items())


def _score_columns() -> list[Column]:
    return [
        Column("patients", _("Patients"), "count"),
        Column("baseline_median", _("Median baseline score"), "number"),
        Column("latest_median", _("Median latest score"), "number"),
        Column("improvement_median", _("Median improvement (points)"), "number"),
        Column("improvement_q1", _("Improvement, lower quartile (points)"), "number"),
        Column("improvement_q3", _("Improvement, upper quartile (points)"), "number"),
        Column("improvement_mean", _("Mean improvement (points)"), "number"),
        Column("improvement_percent_median", _("Median improvement (%)"), "percent"),
        Column("improvement_percent_q1", _("Improvement, lower quartile (%)"), "percent"),
        Column("improvement_percent_q3", _("Improvement, upper quartile (%)"), "percent"),
    ]


def _score_values(row: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"patients": int(row["patients"])}
    for key in SCORE_KEYS:
        values[key] = one_decimal(row[key])
    return values


# --- the tables ---------------------------------------------------------------


def outcomes_report(filters: ReportFilters) -> Report:
    """The outcomes tables for ``filters``; the caller has checked who may see them
    (managers everything, practitioners with ``own_patients_of`` set)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # PostgreSQL's JIT would compile these queries for a second to save
            # milliseconds (their cost estimates pass jit_above_cost as soon as
            # a clinic has a few thousand patients): off, for this transaction only.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        names = {t.pk: t.localized("name") for t in Treatment.objects.only("pk", "name_en", "name_zh_hant")}
        tables = [
            *pair_tables(filters, names),
            *adverse_tables(filters, names),
            courses(filters, names),
        ]
    return Report(key="outcomes", filters=filters, min_group=min_group(), tables=tables)


def _by_label(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: str(row[key]))


# The columns of the one query behind score_change, score_change_combinations,
# grade_transitions and sessions_to_target: each branch of its UNION ALL fills
# its own, NULL the rest.
PAIR_COLUMNS = (
    "treatment_id",
    "combination",
    "grade_from",
    "grade_to",
    "patients",
    "starting",
    "reached",
    *SCORE_KEYS,
    "sessions_q1",
    "sessions_median",
    "sessions_q3",
)


COUNT_COLUMNS = {"treatment_id", "grade_from", "grade_to", "patients", "starting", "reached"}


def _branch(kind: str, columns: dict[str, str], rest: str) -> str:
    # Typed NULLs: PostgreSQL types a UNION's columns branch by branch.
    def null(key: str) -> str:
        if key == "combination":
            return "CAST(NULL AS TEXT)"
        return "CAST(NULL AS BIGINT)" if key in COUNT_COLUMNS else "CAST(NULL AS DOUBLE PRECISION)"

    select = ", ".join(f"{columns.get(key, null(key))} AS {key}" for key in PAIR_COLUMNS)
    return f"SELECT '{kind}' AS kind, {select} {rest}"


def _pair_rows(filters: ReportFilters) -> dict[str, list[dict[str, Any]]]:
    """The rows of score_change, score_change_combinations, grade_transitions
    and sessions_to_target, by kind, in one query.

    The baseline (the latest assessment on or before the first visit's day),
    the latest assessment (after that day, up to the period's end) and the day
    the target was first reached are read in one pass over the patients'
    assessments (``j``: each assessment joined to the patient's pairs, ranked
    newest first on its side of the first visit) rather than looked up per
    pair: a hash join and one sort instead of tens of thousands of index probes
    (with the combinations' own query gone, 255 ms to 100 ms on the bench
    clinic). ``p`` (materialised) is then one row per pair, with ``earliest``
    marking the patient's pair of the earliest first visit: its baseline and
    latest are the patient's own for the combinations (the latest assessment
    up to the period's end falls after the patient's first visit exactly when
    it falls after that pair's first visit), so the per-treatment and
    per-combination tables come from the same rows."""
    firsts, params = _firsts(filters)
    # A treatment filter keeps that treatment's pairs in the per-treatment
    # branches (the combinations keep every pair of its patients).
    only, only_params = (" AND p.treatment_id = %s", [filters.treatment_id]) if filters.treatment_id else ("", [])
    day, day_params = _local_day("x.start")
    side = "CASE WHEN a.assessed_on <= f.first_day THEN 0 ELSE 1 END"

    def newest(column: str, after: int) -> str:
        return f"MAX(CASE WHEN j.after = {after} AND j.newest = 1 THEN j.{column} END)"

    # Sessions needed: completed visits of the treatment, with anyone, from the
    # baseline's day to the day before the first assessment at the target.
    sessions = f"""(SELECT COUNT(*) FROM {APPOINTMENTS} x WHERE x.patient_id = p.patient_id
        AND x.treatment_id = p.treatment_id AND x.status = %s AND {day} >= p.b_day AND {day} < p.reached_on)"""  # noqa: S608 (constants; values are params)
    with_clause = f"""WITH f AS MATERIALIZED ({firsts}),
        j AS (
            SELECT f.patient_id AS patient_id, f.treatment_id AS treatment_id, f.first_day AS first_day,
                a.assessed_on AS assessed_on, a.quantitative_score AS score, a.qualitative_grade AS grade,
                {side} AS after,
                ROW_NUMBER() OVER (PARTITION BY f.patient_id, f.treatment_id, {side}
                    ORDER BY a.assessed_on DESC, a.id DESC) AS newest
            FROM f JOIN {ASSESSMENTS} a ON a.patient_id = f.patient_id AND a.assessed_on <= %s),
        p AS MATERIALIZED (
            SELECT j.patient_id AS patient_id, j.treatment_id AS treatment_id,
                {newest("score", 0)} AS b_score, {newest("grade", 0)} AS b_grade, {newest("assessed_on", 0)} AS b_day,
                {newest("score", 1)} AS l_score, {newest("grade", 1)} AS l_grade,
                MIN(CASE WHEN j.after = 1 AND j.grade <= %s THEN j.assessed_on END) AS reached_on,
                ROW_NUMBER() OVER (PARTITION BY j.patient_id ORDER BY j.first_day) AS earliest
            FROM j GROUP BY j.patient_id, j.treatment_id, j.first_day),
        t AS MATERIALIZED (
            SELECT p.treatment_id AS treatment_id, p.reached_on AS reached_on,
                CASE WHEN p.reached_on IS NOT NULL THEN {sessions} END AS sessions
            FROM p WHERE p.b_grade > %s{only}),
        c AS (
            SELECT p.patient_id AS patient_id, {_id_list("p.treatment_id")} AS combination,
                MAX(CASE WHEN p.earliest = 1 THEN p.b_score END) AS b_score,
                MAX(CASE WHEN p.earliest = 1 THEN p.l_score END) AS l_score
            FROM (SELECT * FROM p ORDER BY p.patient_id, p.treatment_id) p GROUP BY p.patient_id)"""  # noqa: S608 (compiled querysets and constants; values are params)
    params += [_day(filters.end), filters.target_grade, COMPLETED.value, *day_params, *day_params]
    params += [filters.target_grade, *only_params, *only_params, *only_params]  # t, score, transition
    # Score and transitions: pairs with a baseline and a later assessment.
    scored = f"FROM p WHERE p.b_score IS NOT NULL AND p.l_score IS NOT NULL{only}"
    score = _branch(
        "score",
        {"treatment_id": "p.treatment_id", **_score_aggregates("p.b_score", "p.l_score")},
        f"{scored} GROUP BY p.treatment_id",
    )
    transition = _branch(
        "transition",
        {
            "treatment_id": "p.treatment_id",
            "grade_from": "p.b_grade",
            "grade_to": "p.l_grade",
            "patients": "COUNT(*)",
            "starting": "SUM(COUNT(*)) OVER (PARTITION BY p.treatment_id, p.b_grade)",
        },
        f"{scored} GROUP BY p.treatment_id, p.b_grade, p.l_grade",
    )
    reached_sessions = _float("t.sessions")
    target = _branch(
        "target",
        {
            "treatment_id": "t.treatment_id",
            "patients": "COUNT(*)",
            "reached": "COUNT(t.reached_on)",
            "sessions_q1": _percentile(reached_sessions, 0.25),
            "sessions_median": _percentile(reached_sessions, 0.5),
            "sessions_q3": _percentile(reached_sessions, 0.75),
        },
        "FROM t GROUP BY t.treatment_id",
    )
    combination = _branch(
        "combination",
        {"combination": "c.combination", **_score_aggregates("c.b_score", "c.l_score")},
        "FROM c WHERE c.b_score IS NOT NULL AND c.l_score IS NOT NULL GROUP BY c.combination",
    )
    found = _run(
        f"{with_clause} {score} UNION ALL {transition} UNION ALL {target} UNION ALL {combination}",
        params,
    )
    kinds: dict[str, list[dict[str, Any]]] = {"score": [], "transition": [], "target": [], "combination": []}
    for row in found:
        kinds[row["kind"]].append(row)
    return kinds


def pair_tables(filters: ReportFilters, names: dict[int, str]) -> list[Table]:
    found = _pair_rows(filters)
    return [
        score_change(found["score"], names),
        score_change_combinations(found["combination"], names),
        grade_transitions(found["transition"], names),
        sessions_to_target(found["target"], names, filters.target_grade),
    ]


def score_change(found: list[dict[str, Any]], names: dict[int, str]) -> Table:
    rows = [{"treatment": names.get(row["treatment_id"], "?"), **_score_values(row)} for row in found]
    kept, hidden = keep_groups(_by_label(rows, "treatment"), lambda row: row["patients"])
    return Table(
        key="score_change",
        title=_("Change in scar score by treatment"),
        description=_(
            "Goodman & Baron quantitative score (0–84, lower is better) from the baseline before each patient's "
            "first visit of the treatment in the period to their latest assessment after it. Improvement is "
            "baseline minus latest: a positive number means fewer scars."
        ),
        columns=[Column("treatment", _("Treatment")), *_score_columns()],
        rows=kept,
        hidden=hidden,
        figure=Figure(
            "ranges",
            label="treatment",
            values=("improvement_median",),
            low="improvement_q1",
            high="improvement_q3",
            unit=_("points"),
        ),
    )


def score_change_combinations(found: list[dict[str, Any]], names: dict[int, str]) -> Table:
    rows = []
    for row in found:
        ids = [int(part) for part in str(row["combination"]).split(",")]
        labels = sorted(names.get(pk, "?") for pk in ids)
        label = " + ".join(labels) if len(labels) > 1 else _("%(treatment)s alone") % {"treatment": labels[0]}
        rows.append({"combination": label, "treatments": len(ids), **_score_values(row)})
    kept, hidden = keep_groups(_by_label(rows, "combination"), lambda row: row["patients"])
    return Table(
        key="score_change_combinations",
        title=_("Change in scar score by combination of treatments"),
        description=_(
            "Each patient counts once, under the set of treatments they had completed visits of in the period, "
            "from the baseline before their first visit in the period to their latest assessment. Improvement "
            "is baseline minus latest: a positive number means fewer scars."
        ),
        columns=[
            Column("combination", _("Treatments")),
            Column("treatments", _("Number of treatments"), "count"),
            *_score_columns(),
        ],
        rows=kept,
        hidden=hidden,
        figure=Figure(
            "ranges",
            label="combination",
            values=("improvement_median",),
            low="improvement_q1",
            high="improvement_q3",
            unit=_("points"),
        ),
    )


def grade_transitions(found: list[dict[str, Any]], names: dict[int, str]) -> Table:
    rows: list[dict[str, Any]] = [
        {
            "treatment": names.get(row["treatment_id"], "?"),
            "grade_from": int(row["grade_from"]),
            "grade_to": int(row["grade_to"]),
            "transition": f"{row['grade_from']} → {row['grade_to']}",
            "patients": int(row["patients"]),
            "share": share(row["patients"], row["starting"]),
        }
        for row in found
    ]
    rows.sort(key=lambda row: (row["treatment"], -row["grade_from"], -row["grade_to"]))
    kept, hidden = keep_groups(rows, lambda row: row["patients"])
    return Table(
        key="grade_transitions",
        title=_("Grade transitions by treatment"),
        description=_(
            "Qualitative grade (1 macular to 4 severe) at baseline and at the latest assessment, for the same "
            "patients as the score change. Share is of the treatment's patients who started at that grade."
        ),
        columns=[
            Column("treatment", _("Treatment")),
            Column("grade_from", _("Baseline grade"), "count"),
            Column("grade_to", _("Latest grade"), "count"),
            Column("transition", _("Transition")),
            Column("patients", _("Patients"), "count"),
            Column("share", _("Share of those starting at this grade"), "percent"),
        ],
        rows=kept,
        hidden=hidden,
    )


def sessions_to_target(found: list[dict[str, Any]], names: dict[int, str], target_grade: int) -> Table:
    rows = [
        {
            "treatment": names.get(row["treatment_id"], "?"),
            "patients": int(row["patients"]),
            "reached": int(row["reached"]),
            "reached_percent": share(row["reached"], row["patients"]),
            "sessions_median": one_decimal(row["sessions_median"]),
            "sessions_q1": one_decimal(row["sessions_q1"]),
            "sessions_q3": one_decimal(row["sessions_q3"]),
        }
        for row in found
    ]
    kept, hidden = keep_groups(_by_label(rows, "treatment"), lambda row: row["patients"])
    return Table(
        key="sessions_to_target",
        title=_("Sessions needed to reach the target grade"),
        description=_(
            "Patients whose baseline grade was worse than grade %(grade)s: how many reached it by the period's "
            "end, and how many completed sessions of the treatment they had from the baseline to the first "
            "assessment at or below the target."
        )
        % {"grade": target_grade},
        columns=[
            Column("treatment", _("Treatment")),
            Column("patients", _("Patients above the target at baseline"), "count"),
            Column("reached", _("Reached the target"), "count"),
            Column("reached_percent", _("Reached the target (%)"), "percent"),
            Column("sessions_median", _("Median sessions"), "number"),
            Column("sessions_q1", _("Sessions, lower quartile"), "number"),
            Column("sessions_q3", _("Sessions, upper quartile"), "number"),
        ],
        rows=kept,
        hidden=hidden,
        figure=Figure(
            "ranges",
            label="treatment",
            values=("sessions_median",),
            low="sessions_q1",
            high="sessions_q3",
            unit=_("sessions"),
        ),
    )


def _of_kind(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [row for row in rows if row["kind"] == kind]


def _adverse_values(row: Mapping[str, Any]) -> dict[str, Any]:
    sessions, events = int(row["sessions"]), int(row["events"] or 0)
    return {
        "patients": int(row["patients"]),
        "sessions": sessions,
        "events": events,
        "rate": one_decimal(100.0 * events / sessions) if sessions else None,
    }


def _adverse_columns() -> list[Column]:
    return [
        Column("patients", _("Patients"), "count"),
        Column("sessions", _("Sessions"), "count"),
        Column("events", _("Sessions with an adverse event"), "count"),
        Column("rate", _("Adverse events per 100 sessions"), "rate"),
    ]


ADVERSE_NOTE = gettext_lazy(
    "Completed visits in the period with a session record; an adverse event is a record whose adverse events "
    "field is not empty. Groups are counted in patients."
)


def _band_sql(column: str, setting: Setting) -> tuple[str, list[Any]]:
    """SQL of the band index of ``column`` (NOT_RECORDED when NULL): band ``i`` is
    ``[edges[i-1], edges[i])``."""
    whens = " ".join(f"WHEN {column} < %s THEN {index}" for index in range(len(setting.edges)))
    sql = f"CASE WHEN {column} IS NULL THEN {NOT_RECORDED} {whens} ELSE {len(setting.edges)} END"
    return sql, [float(edge) for edge in setting.edges]


def _adverse_rows(filters: ReportFilters) -> list[dict[str, Any]]:
    """Sessions, sessions with an event and patients by treatment, by each
    setting's band and by skin type, in one query: the recorded sessions are
    read once (a materialised CTE, each setting's value read from the JSON
    only for sessions of its category) and grouped three ways (UNION ALL).

    A patient has one skin type, so the skin table adds up one row per
    patient (their sessions and events) and counts those rows: no distinct
    count over every session, and the patients' table is read only for the
    patients in scope (adverse events 150 ms to 125 ms on the bench clinic)."""
    values = {
        f"value_{index}": Case(
            When(
                session_record__category=setting.category,
                then=Cast(KeyTextTransform(setting.key, "session_record__parameters"), FloatField()),
            ),
            output_field=FloatField(),
        )
        for index, setting in enumerate(SETTINGS)
    }
    recorded = (
        _visits(filters)
        .filter(session_record__isnull=False)
        .annotate(event_length=Length(Trim("session_record__adverse_events")))
        .annotate(
            event=Case(When(event_length__gt=0, then=Value(1)), default=Value(0), output_field=IntegerField()),
            category=F("session_record__category"),
            **values,
        )
        .values("patient_id", "treatment_id", "category", "event", *values)
        .order_by()
    )
    inner, params = _sql(recorded)
    # Each session's band under each setting (NULL where the setting is not
    # its category's) is worked out as the sessions are read: the
    # materialised rows stay narrow (small integers, no category text), small
    # enough to stay within work_mem on the bench clinic instead of spilling
    # to a temporary file (about 10 ms less database time there), and each
    # setting's table only groups them.
    bands, band_params = [], []
    for index, setting in enumerate(SETTINGS):
        band, params_of_band = _band_sql(f"r.value_{index}", setting)
        bands.append(f"CASE WHEN r.category = %s THEN {band} END AS band_{index}")
        band_params += [str(setting.category), *params_of_band]
    sessions = f"""SELECT r.patient_id AS patient_id, r.treatment_id AS treatment_id, r.event AS event,
        {", ".join(bands)} FROM ({inner}) r"""  # noqa: S608 (a compiled queryset and constants; values are params)
    counts = "COUNT(*) AS sessions, SUM(s.event) AS events, COUNT(DISTINCT s.patient_id) AS patients"
    # Skin type per patient, not per visit: the record's, else the latest assessment's.
    skin = f"""SELECT 'skin' AS kind, -1 AS setting, k.skin AS grp, CAST(SUM(k.sessions) AS BIGINT) AS sessions,
            CAST(SUM(k.events) AS BIGINT) AS events, COUNT(*) AS patients
        FROM (SELECT g.sessions AS sessions, g.events AS events, COALESCE(pt.fitzpatrick_type,
                (SELECT a.fitzpatrick_type FROM {ASSESSMENTS} a WHERE a.patient_id = g.patient_id AND a.assessed_on <= %s
                 ORDER BY a.assessed_on DESC, a.id DESC LIMIT 1)) AS skin
            FROM (SELECT s.patient_id AS patient_id, COUNT(*) AS sessions, SUM(s.event) AS events
                  FROM s GROUP BY s.patient_id) g
            JOIN {PATIENTS} pt ON pt.id = g.patient_id) k
        GROUP BY k.skin"""  # noqa: S608 (constants; values are params)
    parts = [
        f"SELECT 'treatment' AS kind, -1 AS setting, s.treatment_id AS grp, {counts} FROM s GROUP BY s.treatment_id",  # noqa: S608
        skin,
    ]
    parts += [
        f"SELECT 'setting' AS kind, {index} AS setting, s.band_{index} AS grp, {counts} "  # noqa: S608
        f"FROM s WHERE s.band_{index} IS NOT NULL GROUP BY s.band_{index}"
        for index in range(len(SETTINGS))
    ]
    union = " UNION ALL ".join(parts)
    return _run(f"WITH s AS MATERIALIZED ({sessions}) {union}", [*band_params, *params, _day(filters.end)])


def adverse_tables(filters: ReportFilters, names: dict[int, str]) -> list[Table]:
    found = _adverse_rows(filters)
    return [
        adverse_by_treatment(_of_kind(found, "treatment"), names),
        adverse_by_setting(_of_kind(found, "setting")),
        adverse_by_fitzpatrick(_of_kind(found, "skin")),
    ]


def adverse_by_treatment(found: list[dict[str, Any]], names: dict[int, str]) -> Table:
    rows = [{"treatment": names.get(row["grp"], "?"), **_adverse_values(row)} for row in found]
    kept, hidden = keep_groups(_by_label(rows, "treatment"), lambda row: row["patients"])
    return Table(
        key="adverse_by_treatment",
        title=_("Adverse events by treatment"),
        description=str(ADVERSE_NOTE),
        columns=[Column("treatment", _("Treatment")), *_adverse_columns()],
        rows=kept,
        hidden=hidden,
        figure=Figure("bars", label="treatment", values=("rate",), unit=_("per 100 sessions")),
    )


def adverse_by_setting(found: list[dict[str, Any]]) -> Table:
    rows: list[dict[str, Any]] = []
    for row in sorted(found, key=lambda row: (int(row["setting"]), int(row["grp"]))):
        setting = SETTINGS[int(row["setting"])]
        index = int(row["grp"])
        band = _("Not recorded") if index == NOT_RECORDED else band_labels(setting)[index]
        label = str(setting.label)
        rows.append({"setting": label, "band": band, "group": f"{label}: {band}", **_adverse_values(row)})
    kept, hidden = keep_groups(rows, lambda row: row["patients"])
    return Table(
        key="adverse_by_setting",
        title=_("Adverse events by device setting"),
        description=str(ADVERSE_NOTE)
        + " "
        + _("Each session counts once under each of its category's main settings, in the band its value falls in."),
        columns=[
            Column("setting", _("Setting")),
            Column("band", _("Band")),
            Column("group", _("Setting and band")),
            *_adverse_columns(),
        ],
        rows=kept,
        hidden=hidden,
        figure=Figure("bars", label="group", values=("rate",), unit=_("per 100 sessions")),
    )


def adverse_by_fitzpatrick(found: list[dict[str, Any]]) -> Table:
    rows = [
        {
            "fitzpatrick": _("Type %(type)s") % {"type": _roman(int(row["grp"]))}
            if row["grp"] is not None
            else _("Not recorded"),
            **_adverse_values(row),
        }
        for row in sorted(found, key=lambda row: (row["grp"] is None, row["grp"] or 0))
    ]
    kept, hidden = keep_groups(rows, lambda row: row["patients"])
    return Table(
        key="adverse_by_fitzpatrick",
        title=_("Adverse events by Fitzpatrick skin type"),
        description=str(ADVERSE_NOTE)
        + " "
        + _("Skin type as on the patient's record, else as at their latest assessment."),
        columns=[Column("fitzpatrick", _("Fitzpatrick skin type")), *_adverse_columns()],
        rows=kept,
        hidden=hidden,
        figure=Figure("bars", label="fitzpatrick", values=("rate",), unit=_("per 100 sessions")),
    )


def _roman(number: int) -> str:
    return ("I", "II", "III", "IV", "V", "VI")[number - 1]


def courses(filters: ReportFilters, names: dict[int, str]) -> Table:
    cutoff: date = min(filters.end, clinic_today())
    plans = TreatmentPlan.objects.all()
    if filters.treatment_id:
        plans = plans.filter(treatment_id=filters.treatment_id)
    if filters.own_patients_of is not None:
        plans = plans.filter(patient_id__in=_own_patients(filters.own_patients_of))
    if filters.practitioner_id:
        plans = plans.filter(
            Exists(
                Appointment.objects.filter(
                    plan_session__plan_id=OuterRef("pk"), practitioner_id=filters.practitioner_id, status=COMPLETED
                )
            )
        )
    # Uncorrelated subqueries, which the database runs once and hashes. A
    # plan's last completed session falls in the period when one falls in it
    # and none after it: two filtered scans, no grouping of every session.
    done = PlanSession.objects.filter(status=PlanSession.Status.COMPLETED)
    done_in_period = done.filter(completed_on__gte=filters.start, completed_on__lte=filters.end).values("plan_id")
    done_after = done.filter(completed_on__gt=filters.end).values("plan_id")
    late = PlanSession.objects.filter(status=PlanSession.Status.PENDING, window_end__lt=cutoff).values("plan_id")
    flags = {
        "completed": Q(status=TreatmentPlan.Status.COMPLETED, pk__in=done_in_period) & ~Q(pk__in=done_after),
        "abandoned": Q(
            status=TreatmentPlan.Status.CANCELLED,
            cancelled_at__gte=filters.start_at,
            cancelled_at__lt=filters.end_before,
        ),
        "overdue": Q(status=TreatmentPlan.Status.ACTIVE, pk__in=late),
    }
    flagged = plans.values("treatment_id", "patient_id").annotate(
        **{
            key: Case(When(test, then=Value(1)), default=Value(0), output_field=IntegerField())
            for key, test in flags.items()
        }
    )
    inner, params = _sql(flagged.order_by())
    # Each plan's flags are worked out once (materialised): counted, and used
    # to choose the plans, they would otherwise be evaluated, and each
    # subquery's hash built, once for every place that names them.
    found = _run(
        f"""WITH x AS MATERIALIZED ({inner})
        SELECT x.treatment_id AS treatment_id, COUNT(DISTINCT x.patient_id) AS patients,
            SUM(x.completed) AS completed, SUM(x.abandoned) AS abandoned, SUM(x.overdue) AS overdue
        FROM x WHERE x.completed + x.abandoned + x.overdue > 0 GROUP BY x.treatment_id""",  # noqa: S608 (a compiled queryset; values are params)
        params,
    )
    rows = [
        {
            "treatment": names.get(row["treatment_id"], "?"),
            "patients": int(row["patients"]),
            "completed": int(row["completed"]),
            "abandoned": int(row["abandoned"]),
            "overdue": int(row["overdue"]),
            "abandoned_percent": share(int(row["abandoned"]), int(row["completed"]) + int(row["abandoned"])),
        }
        for row in found
    ]
    kept, hidden = keep_groups(_by_label(rows, "treatment"), lambda row: row["patients"])
    return Table(
        key="courses",
        title=_("Courses completed, abandoned and overdue"),
        description=_(
            "Treatment plans whose last session was completed in the period, plans cancelled in the period "
            "(abandoned), and active plans with a session still pending after its window closed (overdue) "
            "by the period's end or today, whichever is earlier."
        ),
        columns=[
            Column("treatment", _("Treatment")),
            Column("patients", _("Patients"), "count"),
            Column("completed", pgettext("courses", "Completed"), "count"),
            Column("abandoned", pgettext("courses", "Abandoned"), "count"),
            Column("overdue", pgettext("courses", "Overdue"), "count"),
            Column("abandoned_percent", _("Abandoned, of courses ended (%)"), "percent"),
        ],
        rows=kept,
        hidden=hidden,
        figure=Figure("stacked", label="treatment", values=("completed", "abandoned", "overdue"), unit=_("courses")),
    )
