"""What the managers' reports are made of, and the filters every report takes.

A report (booking.report_outcomes, booking.report_operations) is a list of
``Table``: named columns, rows of plain values and, where a picture says it
better, a ``Figure`` naming which columns to draw. The staff pages draw each
table's figure as an SVG beside the table (clinic.plots), the API returns the
same rows as JSON, and every table downloads as CSV: one computation, three
views, so the numbers can never disagree.

Numbers are computed by the database (aggregates, window functions,
``clinic.aggregates.Percentile`` for medians and quartiles), a fixed number of
queries per table whatever the size of the clinic. A group of fewer than
``CLINIC_REPORT_MIN_GROUP`` patients (or visits) is left out of its table and
counted in ``Table.hidden``, so no patient can be singled out
(docs/reports.md gives every definition).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.utils.translation import gettext as _

from booking.models import Practitioner
from clinic.clock import clinic_today, clinic_zone
from clinic.errors import InvalidInput
from patients import roles
from treatments.models import QualitativeGrade, Treatment

ColumnKind = Literal["text", "count", "number", "percent", "money", "rate"]
"""How a column's values read: ``text`` (labels, ISO dates), ``count`` (whole
numbers), ``number`` (one decimal: points, hours, days, sessions),
``percent`` (0–100, one decimal), ``money`` (Decimal, two places),
``rate`` (per 100 sessions, one decimal)."""

# The longest period a report covers: three years of weeks stays a readable picture.
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: ColumnKind = "text"


@dataclass(frozen=True)
class Figure:
    """Which columns of a table to draw, and how (clinic.plots).

    - ``bars``: one horizontal bar per row for each column in ``values``,
      labelled by the ``label`` column;
    - ``ranges``: per row, a dot at ``values[0]`` (a median) with a line from
      ``low`` to ``high`` (the interquartile range);
    - ``lines``: ``label`` is the x axis (weeks, in order), one line per
      column in ``values``, or per distinct value of ``series`` when given
      (then ``values`` holds the single y column);
    - ``stacked``: one bar per row split into the ``values`` columns (parts of
      a whole, e.g. sent / failed).
    """

    kind: Literal["bars", "ranges", "lines", "stacked"]
    label: str
    values: tuple[str, ...]
    low: str = ""
    high: str = ""
    series: str = ""
    unit: str = ""


@dataclass
class Table:
    key: str
    title: str
    description: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    hidden: int = 0
    figure: Figure | None = None

    def column(self, key: str) -> Column:
        return next(column for column in self.columns if column.key == key)


@dataclass(frozen=True)
class ReportFilters:
    """A closed period of clinic-local days, and optional narrowing.

    ``own_patients_of`` is not a filter anyone chooses: a practitioner's view
    of the outcomes covers only patients they have treated (a completed visit
    with them, ever), set by ``filters_from`` from who is asking."""

    start: date
    end: date
    practitioner_id: int | None = None
    treatment_id: int | None = None
    treatment_slug: str = ""
    target_grade: int = QualitativeGrade.MILD
    own_patients_of: int | None = None

    @property
    def start_at(self) -> datetime:
        """The period's first instant (clinic time)."""
        return datetime.combine(self.start, time.min, tzinfo=clinic_zone())

    @property
    def end_before(self) -> datetime:
        """The instant after the period's last day: ranges are half-open."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=clinic_zone())

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_query(self) -> dict[str, str]:
        """The filters as query parameters (links, CSV downloads, the API)."""
        query = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.practitioner_id:
            query["practitioner"] = str(self.practitioner_id)
        if self.treatment_slug:
            query["treatment"] = self.treatment_slug
        query["target_grade"] = str(self.target_grade)
        return query


@dataclass
class Report:
    key: str
    filters: ReportFilters
    min_group: int
    tables: list[Table]

    def table(self, key: str) -> Table:
        for table in self.tables:
            if table.key == key:
                return table
        raise KeyError(key)


def min_group() -> int:
    return int(settings.CLINIC_REPORT_MIN_GROUP)


# The shape of each filter, checked before anything reaches the database (a
# NUL, a digit ``int`` cannot read, a year whose arithmetic overflows); what
# the filters mean (a known practitioner, at most three years) comes after.
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ID = re.compile(r"[0-9]{1,9}")
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,100}")
GRADE = re.compile(r"[1-4]")
EARLIEST_YEAR, LATEST_YEAR = 2, 9998


def filters_from(
    params: Mapping[str, Any],
    *,
    user: User | AnonymousUser,
    default_days: int,
    outcomes: bool = False,
    blank_is_default: bool = True,
) -> ReportFilters:
    """Reads ``from``, ``to`` (YYYY-MM-DD, clinic days, both included),
    ``practitioner`` (an id), ``treatment`` (a slug) and ``target_grade``
    (1–4) as the pages and the API receive them; raises ``InvalidInput``
    naming every bad field at once. A filter left out takes its default: the
    ``default_days`` up to today, everyone, every treatment, grade 2. A filter
    given blank does too on the pages' forms; the API refuses it
    (``blank_is_default=False``: its callers say what they mean). A
    practitioner asking for outcomes sees only their own patients."""
    errors: dict[str, list[str]] = {}
    messages = {
        "from": _("Give a date as YYYY-MM-DD."),
        "to": _("Give a date as YYYY-MM-DD."),
        "practitioner": _("Give an id."),
        "treatment": _("No such treatment."),
        "target_grade": _("Give a grade from 1 to 4."),
    }

    def shaped(name: str, pattern: re.Pattern[str]) -> str | None:
        if name not in params:
            return None
        raw = str(params.get(name) or "").strip()
        if not raw and blank_is_default:
            return None
        if not pattern.fullmatch(raw) or (pattern is DAY and not EARLIEST_YEAR <= int(raw[:4]) <= LATEST_YEAR):
            errors[name] = [messages[name]]
            return None
        return raw

    def day(name: str) -> date | None:
        raw = shaped(name, DAY)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = [messages[name]]
            return None

    today = clinic_today()
    start, end = day("from"), day("to")
    end = end or (today if start is None else min(start + timedelta(days=default_days - 1), max(start, today)))
    start = start or end - timedelta(days=default_days - 1)
    if "from" not in errors and "to" not in errors:
        if start > end:
            errors["to"] = [_("The end of the period must not be before its start.")]
        elif (end - start).days + 1 > MAX_DAYS:
            errors["to"] = [_("A report covers at most three years.")]

    raw_practitioner = shaped("practitioner", ID)
    practitioner_id = int(raw_practitioner) if raw_practitioner else None
    if practitioner_id is not None and not Practitioner.objects.filter(pk=practitioner_id).exists():
        errors["practitioner"] = [_("No such practitioner.")]

    treatment_slug = shaped("treatment", SLUG) or ""
    treatment_id = None
    if treatment_slug:
        treatment_id = Treatment.objects.filter(slug=treatment_slug).values_list("pk", flat=True).first()
        if treatment_id is None:
            errors["treatment"] = [messages["treatment"]]

    raw_grade = shaped("target_grade", GRADE)
    target_grade = int(raw_grade) if raw_grade else int(QualitativeGrade.MILD)

    if errors:
        raise InvalidInput(_("Some filters are not valid."), fields=errors)

    own = None
    if outcomes and roles.role_of(user) == roles.PRACTITIONER:
        found = Practitioner.objects.filter(user_id=user.pk).values_list("pk", flat=True).first() if user.pk else None
        own = found if found is not None else 0  # a practitioner without a diary sees no patients
    return ReportFilters(
        start=start,
        end=end,
        practitioner_id=practitioner_id,
        treatment_id=treatment_id,
        treatment_slug=treatment_slug,
        target_grade=target_grade,
        own_patients_of=own,
    )


def keep_groups(
    rows: Iterable[dict[str, Any]], size: Callable[[dict[str, Any]], int | None], minimum: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The rows whose group is at least the minimum size, and how many were left out."""
    least = min_group() if minimum is None else minimum
    kept: list[dict[str, Any]] = []
    hidden = 0
    for row in rows:
        if (size(row) or 0) >= least:
            kept.append(row)
        else:
            hidden += 1
    return kept, hidden


def one_decimal(value: float | Decimal | None) -> float | None:
    return None if value is None else round(float(value), 1)


def share(part: float | int | None, whole: float | int | None) -> float | None:
    """``part`` as a percentage of ``whole``, one decimal; None when whole is 0."""
    if not whole or part is None:
        return None
    return round(100.0 * float(part) / float(whole), 1)


# --- views of a table: plain values for JSON and CSV --------------------------


def plain(value: Any) -> Any:
    """A cell as JSON carries it: dates as ISO, money as a decimal string."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def table_json(table: Table) -> dict[str, Any]:
    return {
        "key": table.key,
        "title": str(table.title),
        "description": str(table.description),
        "columns": [{"key": c.key, "label": str(c.label), "kind": c.kind} for c in table.columns],
        "rows": [{c.key: plain(row.get(c.key)) for c in table.columns} for row in table.rows],
        "hidden_groups": table.hidden,
    }


def report_json(report: Report) -> dict[str, Any]:
    filters = report.filters
    return {
        "report": report.key,
        "filters": {
            "from": filters.start.isoformat(),
            "to": filters.end.isoformat(),
            "practitioner": filters.practitioner_id,
            "treatment": filters.treatment_slug or None,
            "target_grade": filters.target_grade,
            "own_patients_only": filters.own_patients_of is not None,
        },
        "min_group": report.min_group,
        "tables": [table_json(table) for table in report.tables],
    }


def table_csv(table: Table) -> str:
    """The table as CSV with a byte-order mark, so spreadsheets read the Chinese right."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([str(column.label) for column in table.columns])
    for row in table.rows:
        writer.writerow(["" if row.get(c.key) is None else plain(row.get(c.key)) for c in table.columns])
    return out.getvalue()


def with_rows(table: Table, rows: list[dict[str, Any]], hidden: int = 0) -> Table:
    return replace(table, rows=rows, hidden=hidden)
