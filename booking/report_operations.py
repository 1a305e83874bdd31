"""Operations: is the diary full, do patients come? (docs/reports.md, Operations.)

Every number is counted or summed by the database, in a fixed number of
queries whatever the size of the clinic: one query reads the period's due
visits once and groups them for utilisation, attendance, lead time, new
patients and confirmations (``_visit_groups``); one each for the reminders
and the ledger; small reads of hours, time off, closures, practitioners,
rooms, devices and treatment names. The report runs in one transaction with
PostgreSQL's JIT off. Python only turns the database's sums into rows: hours
from durations, percentages, sums of sums, weeks without rows filled with
zeros.

Weeks are clinic-local weeks starting on Monday (``TruncWeek`` in the clinic's
zone), named by their Monday's ISO date; a visit belongs to the week and the
period of its start.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, ExtractMinute, TruncWeek
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.availability import Spans, merge, subtract
from booking.models import (
    Appointment,
    ClinicClosure,
    Device,
    LedgerEntry,
    NotificationDelivery,
    Practitioner,
    Room,
    TimeOff,
    WorkingHours,
)
from booking.reports import Column, Figure, Report, ReportFilters, Table, keep_groups, min_group, one_decimal, share
from clinic.aggregates import SQLITE_PERCENTILE
from clinic.clock import clinic_zone
from treatments.models import Treatment, is_chinese

Status = Appointment.Status
# What occupies a practitioner, a room or a device: a no-show kept the slot too.
BOOKED = (Status.CONFIRMED, Status.CHECKED_IN, Status.COMPLETED, Status.NO_SHOW)
ZERO = Decimal("0.00")
DAY = 86400

# Lead-time bands: (lower bound in days, label). A visit falls in the last band
# whose bound its lead time reaches.
LEAD_BANDS: tuple[tuple[int, Any], ...] = (
    (0, gettext_lazy("Under 1 day")),
    (1, gettext_lazy("1–2 days")),
    (3, gettext_lazy("3–6 days")),
    (7, gettext_lazy("7–13 days")),
    (14, gettext_lazy("14–29 days")),
    (30, gettext_lazy("30 days or more")),
)
WEEKDAYS = (
    gettext_lazy("Monday"),
    gettext_lazy("Tuesday"),
    gettext_lazy("Wednesday"),
    gettext_lazy("Thursday"),
    gettext_lazy("Friday"),
    gettext_lazy("Saturday"),
    gettext_lazy("Sunday"),
)
# Where a patient can say "I'm coming": the three message channels, the portal, the API.
CONFIRM_CHANNELS: tuple[tuple[str, Any], ...] = (
    ("email", gettext_lazy("Email")),
    ("sms", gettext_lazy("SMS")),
    ("whatsapp", gettext_lazy("WhatsApp")),
    ("portal", gettext_lazy("Patient portal")),
    ("api", gettext_lazy("API")),
)


class SecondsBetween(Func):
    """Whole seconds from ``earlier`` to ``later`` (two datetime columns), as a number
    both databases can compare and take percentiles of: interval arithmetic
    differs between them, epoch seconds do not."""

    output_field = FloatField()
    arity = 2

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        later, earlier = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"CAST(EXTRACT(EPOCH FROM ({later[0]} - {earlier[0]})) AS double precision)"
        return sql, [*later[1], *earlier[1]]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        later, earlier = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"CAST(strftime('%%s', {later[0]}) - strftime('%%s', {earlier[0]}) AS REAL)"
        return sql, [*later[1], *earlier[1]]


def operations_report(filters: ReportFilters) -> Report:
    """The operations tables for the period; the caller has checked the user is a manager."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The visits query's cost estimate passes jit_above_cost on a clinic of
            # tens of thousands of visits: compiling it costs more than it saves.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        weeks = _weeks(filters)
        visits = _visit_groups(filters)
        by_treatment = _named(visits["treatment"])
        tables = [
            *_utilisation(filters, weeks, visits),
            _attendance_by_treatment(by_treatment),
            _attendance_by_weekday(visits["weekday"]),
            _attendance_by_lead_time(visits["band"]),
            _lead_time(by_treatment),
            _new_returning(visits["patients"], weeks),
            _reminders(filters, visits["confirmed"]),
            _revenue(filters, weeks),
        ]
    return Report(key="operations", filters=filters, min_group=min_group(), tables=tables)


# --- helpers --------------------------------------------------------------------


def _weeks(filters: ReportFilters) -> list[date]:
    """The Mondays of the weeks the period touches, in order."""
    monday = filters.start - timedelta(days=filters.start.weekday())
    return [monday + timedelta(weeks=n) for n in range((filters.end - monday).days // 7 + 1)]


def _monday(value: datetime | date) -> date:
    """A ``TruncWeek`` value (aware in the clinic's zone) as its Monday's date."""
    return value.date() if isinstance(value, datetime) else value


def _in_period(filters: ReportFilters) -> QuerySet[Appointment]:
    """Visits starting in the period, narrowed by practitioner and treatment."""
    visits = Appointment.objects.filter(start__gte=filters.start_at, start__lt=filters.end_before)
    if filters.practitioner_id:
        visits = visits.filter(practitioner_id=filters.practitioner_id)
    if filters.treatment_id:
        visits = visits.filter(treatment_id=filters.treatment_id)
    return visits


def _name(values: Mapping[str, Any], prefix: str) -> str:
    chinese = values.get(f"{prefix}_zh_hant") if is_chinese() else ""
    return str(chinese or values.get(f"{prefix}_en") or "")


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 1)


# --- the visits, read once -----------------------------------------------------------

# The columns of the one query behind utilisation, attendance, lead time, new
# patients and confirmations: each branch of its UNION ALL fills its own, NULL
# the rest. ``grp`` is the branch's integer key (a practitioner, room, device,
# treatment, weekday or lead band), ``week`` its week, ``via`` a channel.
GROUP_COLUMNS = (
    "grp",
    "week",
    "via",
    "seconds",
    "spill",
    "visits",
    "no_shows",
    "late_cancellations",
    "booked",
    "q1",
    "median",
    "q3",
    "patients",
    "new",
)
FLOAT_COLUMNS = {"seconds", "q1", "median", "q3"}


def _flag(condition: Q) -> Case:
    """1 when ``condition`` holds, else 0: summed, it counts."""
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def _chosen(filters: ReportFilters) -> Q:
    """The practitioner and treatment filters (utilisation ignores them, so the
    visits are read unfiltered and each row says whether it is chosen)."""
    condition = Q()
    if filters.practitioner_id:
        condition &= Q(practitioner_id=filters.practitioner_id)
    if filters.treatment_id:
        condition &= Q(treatment_id=filters.treatment_id)
    return condition


def _visits(filters: ReportFilters) -> QuerySet[Any, Any]:
    """The due visits starting in the period (unfiltered), one row each with
    every value a table groups or counts by, computed once per visit."""
    zone = clinic_zone()
    notice = int(settings.CLINIC_CANCELLATION_NOTICE.total_seconds())
    chosen = _chosen(filters)
    return (
        Appointment.objects.filter(start__gte=filters.start_at, start__lt=filters.end_before)
        .filter(_due_condition())
        .annotate(
            notice=SecondsBetween("start", "cancelled_at"),
            lead=SecondsBetween("start", "created_at"),
            week=TruncWeek("start", tzinfo=zone),
            end_week=TruncWeek("end", tzinfo=zone),
        )
        .annotate(
            chosen=_flag(chosen) if chosen else Value(1, output_field=IntegerField()),
            is_booked=_flag(Q(status__in=BOOKED)),
            is_completed=_flag(Q(status=Status.COMPLETED)),
            no_show=_flag(Q(status=Status.NO_SHOW)),
            late=_flag(Q(status=Status.CANCELLED, cancelled_by=Appointment.CancelledBy.PATIENT, notice__lt=notice)),
            weekday=ExtractIsoWeekDay("start", tzinfo=zone),
            seconds=SecondsBetween("end", "start"),
            # The part of a visit running past Sunday midnight: its end's local
            # time of day (visits are shorter than a day).
            spill=Case(
                When(
                    end_week__gt=F("week"),
                    then=ExtractHour("end", tzinfo=zone) * 3600 + ExtractMinute("end", tzinfo=zone) * 60,
                ),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
        .values(
            "patient_id",
            "treatment_id",
            "practitioner_id",
            "room_id",
            "device_id",
            "patient_confirmed_via",
            "chosen",
            "is_booked",
            "is_completed",
            "no_show",
            "late",
            "lead",
            "week",
            "weekday",
            "seconds",
            "spill",
        )
        .order_by()
    )


def _first_weeks(filters: ReportFilters) -> QuerySet[Any, Any]:
    """The clinic week of each patient's first completed visit ever (with anyone,
    for anything), for the patients with a chosen completed visit in the period:
    one grouped pass, where asking "an earlier completed visit?" per visit probed
    the index once per visit."""
    in_period = _in_period(filters).filter(status=Status.COMPLETED).values("patient_id")
    return (
        Appointment.objects.filter(status=Status.COMPLETED, start__lt=filters.end_before, patient_id__in=in_period)
        .values("patient_id")
        .annotate(first_week=TruncWeek(Min("start"), tzinfo=clinic_zone()))
        .values("patient_id", "first_week")
        .order_by()
    )


def _percentile(expression: str, fraction: float) -> str:
    """The continuous percentile (clinic.aggregates.Percentile) as SQL text; NULLs ignored."""
    if connection.vendor == "postgresql":
        return f"PERCENTILE_CONT({fraction}) WITHIN GROUP (ORDER BY {expression})"
    return f"{SQLITE_PERCENTILE}({expression}, {fraction})"


def _branch(kind: str, columns: Mapping[str, str], rest: str) -> str:
    # Typed NULLs where PostgreSQL must know a number's type; the week and the
    # channel are left untyped (the first branch gives the week its type).
    def null(key: str) -> str:
        if key in ("week", "via"):
            return "NULL"
        return "CAST(NULL AS DOUBLE PRECISION)" if key in FLOAT_COLUMNS else "CAST(NULL AS BIGINT)"

    def typed(key: str) -> str:
        # The group key as a whole number on both: PostgreSQL's EXTRACT gives numeric.
        return f"CAST({columns[key]} AS BIGINT)" if key == "grp" else columns[key]

    select = ", ".join(f"{typed(key) if key in columns else null(key)} AS {key}" for key in GROUP_COLUMNS)
    return f"SELECT '{kind}' AS kind, {select} {rest}"


def _visit_groups(filters: ReportFilters) -> dict[str, list[dict[str, Any]]]:
    """Every number the visits give, by table, in one query.

    The due visits of the period are read once into a materialised CTE ``v``
    (each visit's week, weekday, lead time, band and flags computed once), then
    grouped eight ways (UNION ALL): booked seconds by practitioner, room and
    device per week; attendance and lead time by treatment; attendance by
    weekday and by lead band; patients by week; confirmations by channel. Eight
    queries used to read the same rows, each paying for the scan and the time
    zone arithmetic again."""
    visits, params = _visits(filters).query.sql_with_params()
    first, first_params = _first_weeks(filters).query.sql_with_params()
    lead = "CASE WHEN v.is_booked = 1 THEN v.lead END"
    band = _lead_band("v.lead")
    booked = {"week": "v.week", "seconds": "SUM(v.seconds)", "spill": "SUM(v.spill)"}
    counts = {
        "visits": "COUNT(*)",
        "no_shows": "SUM(v.no_show)",
        "late_cancellations": "SUM(v.late)",
    }
    parts = [
        _branch(
            "practitioner_id",
            {"grp": "v.practitioner_id", **booked},
            "FROM v WHERE v.is_booked = 1 GROUP BY v.practitioner_id, v.week",
        ),
        _branch("room_id", {"grp": "v.room_id", **booked}, "FROM v WHERE v.is_booked = 1 GROUP BY v.room_id, v.week"),
        _branch(
            "device_id",
            {"grp": "v.device_id", **booked},
            "FROM v WHERE v.is_booked = 1 AND v.device_id IS NOT NULL GROUP BY v.device_id, v.week",
        ),
        _branch(
            "treatment",
            {
                "grp": "v.treatment_id",
                **counts,
                "booked": "SUM(v.is_booked)",
                "q1": _percentile(lead, 0.25),
                "median": _percentile(lead, 0.5),
                "q3": _percentile(lead, 0.75),
            },
            "FROM v WHERE v.chosen = 1 GROUP BY v.treatment_id",
        ),
        _branch("weekday", {"grp": "v.weekday", **counts}, "FROM v WHERE v.chosen = 1 GROUP BY v.weekday"),
        _branch("band", {"grp": band, **counts}, f"FROM v WHERE v.chosen = 1 GROUP BY {band}"),
        _branch(
            "patients",
            {
                "week": "v.week",
                "patients": "COUNT(DISTINCT v.patient_id)",
                "new": "COUNT(DISTINCT CASE WHEN f.first_week = v.week THEN v.patient_id END)",
            },
            f"FROM v LEFT JOIN ({first}) f ON f.patient_id = v.patient_id "
            "WHERE v.chosen = 1 AND v.is_completed = 1 GROUP BY v.week",
        ),
        _branch(
            "confirmed",
            {"via": "v.patient_confirmed_via", "visits": "COUNT(*)"},
            "FROM v WHERE v.chosen = 1 AND v.patient_confirmed_via <> '' GROUP BY v.patient_confirmed_via",
        ),
    ]
    sql = f"WITH v AS MATERIALIZED ({visits}) " + " UNION ALL ".join(parts)
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *first_params])
        names = [column[0] for column in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            found[row["kind"]].append(row)
    return found


def _as_date(value: datetime | date | str) -> date:
    """A week read by raw SQL: a naive datetime (PostgreSQL) or text (SQLite)."""
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return _monday(value)


# --- utilisation ------------------------------------------------------------------


def _utilisation(filters: ReportFilters, weeks: list[date], visits: Mapping[str, list[dict[str, Any]]]) -> list[Table]:
    zone = clinic_zone()
    days = [filters.start + timedelta(days=n) for n in range(filters.days)]
    span = (int(filters.start_at.timestamp()), int(filters.end_before.timestamp()))

    hours: dict[int, list[WorkingHours]] = defaultdict(list)
    for row in WorkingHours.objects.all():
        hours[row.practitioner_id].append(row)
    off: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for practitioner_id, start, end in TimeOff.objects.filter(
        start__lt=filters.end_before, end__gt=filters.start_at
    ).values_list("practitioner_id", "start", "end"):
        off[practitioner_id].append((int(start.timestamp()), int(end.timestamp())))
    closures = merge(
        (int(start.timestamp()), int(end.timestamp()))
        for start, end in ClinicClosure.objects.filter(
            start__lt=filters.end_before, end__gt=filters.start_at
        ).values_list("start", "end")
    )

    # The same few wall-clock times recur on every day for every practitioner:
    # each (day, time) is turned into an instant once (time zone arithmetic was
    # most of this function's Python time over a year).
    stamps: dict[tuple[date, time], int] = {}

    def stamp(day: date, at: time) -> int:
        found = stamps.get((day, at))
        if found is None:
            found = stamps[(day, at)] = _stamp(day, at, zone)
        return found

    def working(rows: Iterable[WorkingHours]) -> Spans:
        by_weekday: dict[int, list[WorkingHours]] = defaultdict(list)
        for row in rows:
            by_weekday[row.weekday].append(row)
        spans = []
        for day in days:
            for row in by_weekday.get(day.weekday(), ()):
                parts = (
                    [(row.start, row.break_start), (row.break_end, row.end)]
                    if row.break_start and row.break_end
                    else [(row.start, row.end)]
                )
                for low, high in parts:
                    spans.append((stamp(day, low), stamp(day, high)))
        return merge(span_part for span_part in spans if span_part[0] < span_part[1])

    # Each week's first instant (its Monday's midnight), and the one after the
    # last: a span's week is the last Monday at or before its start.
    mondays = [*weeks, weeks[-1] + timedelta(weeks=1)]
    boundaries = [stamp(monday, time.min) for monday in mondays]

    def by_week(spans: Spans) -> dict[date, float]:
        seconds: dict[date, float] = defaultdict(float)
        for low, high in spans:
            low, high = max(low, span[0]), min(high, span[1])
            while low < high:
                index = bisect_right(boundaries, low) - 1
                part_end = min(high, boundaries[index + 1])
                seconds[mondays[index]] += part_end - low
                low = part_end
        return seconds

    practitioners = Practitioner.objects.select_related("user")
    if filters.practitioner_id:
        practitioners = practitioners.filter(pk=filters.practitioner_id)
    practitioner_open = {
        p.pk: by_week(subtract(working(hours[p.pk]), merge([*off[p.pk], *closures]))) for p in practitioners
    }
    clinic_open = by_week(subtract(working([row for rows in hours.values() for row in rows]), closures))

    names = {p.pk: (p.name, p.active) for p in practitioners}
    tables = []
    practitioner_text = _(
        "Hours booked (confirmed, checked-in, completed and no-show visits) as a share of the practitioner's "
        "working hours less breaks, time off and closures, by week starting Monday."
    )
    resource_text = _(
        "Hours booked (confirmed, checked-in, completed and no-show visits) as a share of the clinic's opening "
        "hours (any practitioner working) less closures, by week starting Monday."
    )
    for key, title, description, field, open_hours, resources in (
        (
            "utilisation_practitioners",
            _("Practitioner utilisation by week"),
            practitioner_text,
            "practitioner_id",
            practitioner_open,
            names,
        ),
        (
            "utilisation_rooms",
            _("Room utilisation by week"),
            resource_text,
            "room_id",
            None,
            {r.pk: (r.localized("name"), r.active) for r in Room.objects.all()},
        ),
        (
            "utilisation_devices",
            _("Device utilisation by week"),
            resource_text,
            "device_id",
            None,
            {d.pk: (d.localized("name"), d.active) for d in Device.objects.all()},
        ),
    ):
        booked = _booked_seconds(visits[field])
        rows = []
        for resource_id, (name, active) in resources.items():
            opened = open_hours.get(resource_id, {}) if open_hours is not None else clinic_open
            if not any(booked.get(resource_id, {}).values()) and not (active and any(opened.values())):
                continue  # retired, or never open, and nothing booked in the period: nothing to say
            for week in weeks:
                booked_seconds = booked.get(resource_id, {}).get(week, 0)
                open_seconds = opened.get(week, 0)
                rows.append(
                    {
                        "week": week.isoformat(),
                        "name": name,
                        "booked_hours": _hours(booked_seconds),
                        "open_hours": _hours(open_seconds),
                        "utilisation": share(booked_seconds, open_seconds),
                    }
                )
        tables.append(
            Table(
                key=key,
                title=title,
                description=description,
                columns=[
                    Column("week", _("Week")),
                    Column("name", _("Name")),
                    Column("booked_hours", _("Booked hours"), "number"),
                    Column("open_hours", _("Open hours"), "number"),
                    Column("utilisation", _("Utilisation"), "percent"),
                ],
                rows=rows,
                figure=Figure("lines", label="week", values=("utilisation",), series="name", unit="%"),
            )
        )
    return tables


def _stamp(day: date, at: time, zone: Any) -> int:
    return int(datetime.combine(day, at, tzinfo=zone).timestamp())


def _booked_seconds(grouped: list[dict[str, Any]]) -> dict[int, dict[date, float]]:
    """Booked seconds per resource and week, from the visits query's rows for
    the resource (``_visit_groups``).

    A visit is counted in the week it starts; the part of one running past
    Sunday midnight belongs to the next week."""
    booked: dict[int, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for row in grouped:
        week = _as_date(row["week"])
        spill = float(row["spill"])
        booked[row["grp"]][week] += float(row["seconds"]) - spill
        if spill:
            booked[row["grp"]][week + timedelta(weeks=1)] += spill
    return booked


# --- attendance -------------------------------------------------------------------


def _due_condition() -> Q:
    """Visits due: on the diary or cancelled by the patient; not those the clinic
    cancelled, nor bookings still waiting for their deposit."""
    return Q(status__in=BOOKED) | (Q(status=Status.CANCELLED) & ~Q(cancelled_by=Appointment.CancelledBy.CLINIC))


def _attendance_columns(first: Column) -> list[Column]:
    return [
        first,
        Column("visits", _("Visits due"), "count"),
        Column("no_shows", _("No-shows"), "count"),
        Column("no_show_rate", _("No-show rate"), "percent"),
        Column("late_cancellations", _("Late cancellations"), "count"),
        Column("late_cancellation_rate", _("Late cancellation rate"), "percent"),
    ]


def _attendance_row(label: str, counts: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "label": label,
        "visits": counts["visits"],
        "no_shows": counts["no_shows"],
        "no_show_rate": share(counts["no_shows"], counts["visits"]),
        "late_cancellations": counts["late_cancellations"],
        "late_cancellation_rate": share(counts["late_cancellations"], counts["visits"]),
    }


def _attendance_table(key: str, title: str, first: Column, rows: list[dict[str, Any]]) -> Table:
    kept, hidden = keep_groups(rows, lambda row: row["visits"])
    return Table(
        key=key,
        title=title,
        description=_(
            "Visits due in the period, except those the clinic cancelled; late cancellations are the patient's, "
            "less than the cancellation notice before the start."
        ),
        columns=_attendance_columns(first),
        rows=kept,
        hidden=hidden,
        figure=Figure("bars", label="label", values=("no_show_rate", "late_cancellation_rate"), unit="%"),
    )


def _attendance_by_treatment(grouped: list[dict[str, Any]]) -> Table:
    rows = [_attendance_row(_name(row, "treatment__name"), row) for row in grouped]
    return _attendance_table(
        "attendance_by_treatment",
        _("No-shows and late cancellations by treatment"),
        Column("label", _("Treatment")),
        rows,
    )


def _named(grouped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The visits query's rows by treatment, with the treatment's names, in the
    order of its English name."""
    names = {
        row["pk"]: row
        for row in Treatment.objects.filter(pk__in=[row["grp"] for row in grouped]).values(
            "pk", "name_en", "name_zh_hant"
        )
    }
    named = [
        {
            **row,
            "treatment__name_en": names[row["grp"]]["name_en"],
            "treatment__name_zh_hant": names[row["grp"]]["name_zh_hant"],
        }
        for row in grouped
    ]
    return sorted(named, key=lambda row: (row["treatment__name_en"], row["grp"]))


def _attendance_by_weekday(grouped: list[dict[str, Any]]) -> Table:
    rows = [_attendance_row(str(WEEKDAYS[row["grp"] - 1]), row) for row in sorted(grouped, key=lambda r: r["grp"])]
    return _attendance_table(
        "attendance_by_weekday", _("No-shows and late cancellations by weekday"), Column("label", _("Weekday")), rows
    )


def _lead_band(lead: str) -> str:
    """SQL of the lead-time band's index from ``lead`` (seconds), computed in
    the band's branch from the visit's lead time, not once per band edge."""
    whens = " ".join(
        f"WHEN {lead} >= {float(days * DAY)} THEN {index}"
        for index, (days, _label) in reversed(list(enumerate(LEAD_BANDS)))
        if days
    )
    return f"CASE {whens} ELSE 0 END"


def _attendance_by_lead_time(grouped: list[dict[str, Any]]) -> Table:
    rows = [_attendance_row(str(LEAD_BANDS[row["grp"]][1]), row) for row in sorted(grouped, key=lambda r: r["grp"])]
    return _attendance_table(
        "attendance_by_lead_time",
        _("No-shows and late cancellations by lead time"),
        Column("label", _("Booked ahead")),
        rows,
    )


# --- lead time ----------------------------------------------------------------------


def _lead_time(grouped: list[dict[str, Any]]) -> Table:
    rows = [
        {
            "treatment": _name(row, "treatment__name"),
            "visits": row["booked"],
            "median_days": one_decimal(row["median"] / DAY),
            "q1_days": one_decimal(row["q1"] / DAY),
            "q3_days": one_decimal(row["q3"] / DAY),
        }
        for row in grouped
        if row["booked"]
    ]
    kept, hidden = keep_groups(rows, lambda row: row["visits"])
    return Table(
        key="lead_time",
        title=_("Days from booking to visit"),
        description=_(
            "Median and interquartile range of the days between booking and the visit, for visits kept on the diary "
            "(confirmed, checked-in, completed or no-show)."
        ),
        columns=[
            Column("treatment", _("Treatment")),
            Column("visits", _("Visits"), "count"),
            Column("median_days", _("Median (days)"), "number"),
            Column("q1_days", _("Lower quartile (days)"), "number"),
            Column("q3_days", _("Upper quartile (days)"), "number"),
        ],
        rows=kept,
        hidden=hidden,
        figure=Figure(
            "ranges", label="treatment", values=("median_days",), low="q1_days", high="q3_days", unit=_("days")
        ),
    )


# --- new and returning patients -------------------------------------------------------


def _new_returning(grouped: list[dict[str, Any]], weeks: list[date]) -> Table:
    # New: the patient's first completed visit ever is in this clinic week
    # (weeks compared with weeks, both truncated in the clinic's zone).
    counts = {_as_date(row["week"]): row for row in grouped}
    rows = []
    for week in weeks:
        row = counts.get(week, {"patients": 0, "new": 0})
        rows.append(
            {
                "week": week.isoformat(),
                "new": row["new"],
                "returning": row["patients"] - row["new"],
                "patients": row["patients"],
            }
        )
    return Table(
        key="patients_new_returning",
        title=_("New and returning patients by week"),
        description=_(
            "Patients with a completed visit in the week: new when it is the week of their first completed visit "
            "at the clinic, returning otherwise."
        ),
        columns=[
            Column("week", _("Week")),
            Column("new", _("New"), "count"),
            Column("returning", _("Returning"), "count"),
            Column("patients", _("Patients"), "count"),
        ],
        rows=rows,
        figure=Figure("stacked", label="week", values=("new", "returning")),
    )


# --- reminders ------------------------------------------------------------------------


def _reminders(filters: ReportFilters, confirmations: list[dict[str, Any]]) -> Table:
    reminders = NotificationDelivery.objects.filter(
        notification__kind="reminder",
        notification__appointment__start__gte=filters.start_at,
        notification__appointment__start__lt=filters.end_before,
    )
    if filters.practitioner_id:
        reminders = reminders.filter(notification__appointment__practitioner_id=filters.practitioner_id)
    if filters.treatment_id:
        reminders = reminders.filter(notification__appointment__treatment_id=filters.treatment_id)
    Delivery = NotificationDelivery.Status
    sent = {
        row["channel"]: row
        for row in reminders.values("channel")
        .annotate(
            tried=Count("notification_id", distinct=True),
            sent=Count("notification_id", distinct=True, filter=~Q(status=Delivery.FAILED)),
            delivered=Count("notification_id", distinct=True, filter=Q(status__in=(Delivery.DELIVERED, Delivery.READ))),
            failed=Count("notification_id", distinct=True, filter=Q(status=Delivery.FAILED)),
        )
        .order_by()
    }
    confirmed = {row["via"]: row["visits"] for row in confirmations}
    rows = []
    for channel, label in CONFIRM_CHANNELS:
        counts: Mapping[str, Any] = sent.get(channel, {})
        row = {
            "channel": str(label),
            "sent": counts.get("sent", 0),
            "delivered": counts.get("delivered", 0),
            "failed": counts.get("failed", 0),
            "confirmed": confirmed.get(channel, 0),
        }
        row["failure_rate"] = share(row["failed"], counts.get("tried", 0))
        rows.append(row)
    return Table(
        key="reminders",
        title=_("Reminders and confirmations by channel"),
        description=_(
            "Reminders for visits in the period: sent (accepted by the provider), delivered, failed, and visits "
            "the patient confirmed on each channel."
        ),
        columns=[
            Column("channel", _("Channel")),
            Column("sent", _("Reminders sent"), "count"),
            Column("delivered", _("Delivered"), "count"),
            Column("failed", _("Failed"), "count"),
            Column("failure_rate", _("Failure rate"), "percent"),
            Column("confirmed", _("Visits confirmed"), "count"),
        ],
        rows=rows,
        figure=Figure("bars", label="channel", values=("sent", "failed", "confirmed")),
    )


# --- revenue --------------------------------------------------------------------------


def _revenue(filters: ReportFilters, weeks: list[date]) -> Table:
    Kind = LedgerEntry.Kind
    # One sum per week, kind and reason (the ledger rows are read and summed
    # once), pivoted here into the columns: sums of sums, exact in Decimal.
    grouped = (
        LedgerEntry.objects.filter(
            created_at__gte=filters.start_at,
            created_at__lt=filters.end_before,
            kind__in=(Kind.PAYMENT, Kind.REFUND, Kind.FEE, Kind.WAIVER),
        )
        .annotate(week=TruncWeek("created_at", tzinfo=clinic_zone()))
        .values("week", "kind", "reason")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    column: dict[str, str] = {Kind.PAYMENT: "payments", Kind.REFUND: "refunds", Kind.FEE: "fees", Kind.WAIVER: "waived"}
    sums: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for found in grouped:
        bucket = sums[_monday(found["week"])]
        bucket[column[found["kind"]]] += found["total"]
        if found["kind"] == Kind.PAYMENT and found["reason"] == LedgerEntry.Reason.DEPOSIT:
            bucket["deposits"] += found["total"]
    rows = []
    cent = Decimal("0.01")
    for week in weeks:
        row: Mapping[str, Any] = sums.get(week, {})
        values = {
            key: Decimal(row.get(key, ZERO)).quantize(cent)
            for key in ("payments", "deposits", "refunds", "fees", "waived")
        }
        rows.append({"week": week.isoformat(), **values, "net": values["payments"] - values["refunds"]})
    return Table(
        key="revenue",
        title=_("Revenue by week"),
        description=_(
            "From the ledger: money taken (payments, of which deposits) and returned (refunds); net is payments "
            "less refunds. Fees charged and waived move no money."
        ),
        columns=[
            Column("week", _("Week")),
            Column("payments", _("Payments"), "money"),
            Column("deposits", _("Deposits taken"), "money"),
            Column("refunds", _("Refunds"), "money"),
            Column("fees", _("Fees charged"), "money"),
            Column("waived", _("Fees waived"), "money"),
            Column("net", _("Net taken"), "money"),
        ],
        rows=rows,
        figure=Figure("lines", label="week", values=("payments", "refunds", "net"), unit=settings.CLINIC_CURRENCY),
    )
