"""The managers' reports in the workspace: outcomes and operations, each a list
of tables drawn as a figure beside the table, with a CSV of every table.

The pages are generic over tables: ``booking.report_outcomes`` and
``booking.report_operations`` decide what a report holds (booking/reports.py),
and the API serves the same tables, so the page, the CSV and the JSON cannot
disagree. Who may see what: outcomes are for clinicians (a practitioner sees
only their own patients: ``filters_from(..., outcomes=True)``), operations for
managers only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from booking import report_operations, report_outcomes
from booking.reports import Report, ReportFilters, Table, filters_from, table_csv
from clinic import plots
from clinic.errors import InvalidInput
from patients.permissions import CLINICAL, clinician_required, manager_required
from patients.roles import MANAGER, role_of
from workspace.chart.forms import apply_errors
from workspace.reports.forms import ReportFilterForm


@dataclass(frozen=True)
class Kind:
    """One report: who may see it, its default period and what computes it."""

    key: str
    roles: tuple[str, ...]
    default_days: int
    outcomes: bool

    def compute(self, filters: ReportFilters) -> Report:
        # Looked up at call time, so tests can stand in for a report.
        compute: Callable[[ReportFilters], Report] = (
            report_outcomes.outcomes_report if self.outcomes else report_operations.operations_report
        )
        return compute(filters)


KINDS = {
    "outcomes": Kind("outcomes", CLINICAL, default_days=365, outcomes=True),
    "operations": Kind("operations", (MANAGER,), default_days=84, outcomes=False),
}


def _filters(request: HttpRequest, kind: Kind) -> ReportFilters:
    return filters_from(request.GET, user=request.user, default_days=kind.default_days, outcomes=kind.outcomes)


def _table_view(report: Report, table: Table, query: str) -> dict[str, Any]:
    numeric = [column.kind != "text" for column in table.columns]
    return {
        "key": table.key,
        "title": table.title,
        "description": table.description,
        "figure": plots.plot(table, ident=f"plot-{table.key}") if table.figure else SafeString(""),
        "columns": [{"label": c.label, "numeric": n} for c, n in zip(table.columns, numeric, strict=True)],
        "rows": [
            [
                {"text": plots.value_text(row.get(c.key), c.kind), "numeric": n}
                for c, n in zip(table.columns, numeric, strict=True)
            ]
            for row in table.rows
        ],
        "hidden": ngettext(
            "%(count)s group not shown (fewer than %(minimum)s patients).",
            "%(count)s groups not shown (fewer than %(minimum)s patients).",
            table.hidden,
        )
        % {"count": table.hidden, "minimum": report.min_group}
        if table.hidden
        else "",
        "csv": reverse("reports:csv", args=[report.key, table.key]) + "?" + query,
        "pivot": _pivot(table),
    }


def _pivot(table: Table) -> dict[str, Any] | None:
    """A weekly series by name (utilisation per practitioner) read as a grid:
    a row per week, a column per name, the drawn value in each cell. The long
    table, every column, stays one click away and is what the CSV holds."""
    figure = table.figure
    if figure is None or figure.kind != "lines" or not figure.series or not table.rows:
        return None
    value = table.column(figure.values[0])
    names: list[Any] = []
    cells: dict[tuple[Any, Any], Any] = {}
    xs: list[Any] = []
    for row in table.rows:
        x, name = row.get(figure.label), row.get(figure.series)
        if name not in names:
            names.append(name)
        if x not in xs:
            xs.append(x)
        cells[(x, name)] = row.get(value.key)
    label = table.column(figure.label)
    return {
        "caption": value.label,
        "columns": [label.label, *[str(name) for name in names]],
        "rows": [
            [plots.value_text(x, label.kind), *[plots.value_text(cells.get((x, name)), value.kind) for name in names]]
            for x in xs
        ],
    }


def _page(request: HttpRequest, kind: Kind) -> HttpResponse:
    try:
        filters = _filters(request, kind)
    except InvalidInput as error:
        form = ReportFilterForm(request.GET, outcomes=kind.outcomes)
        form.is_valid()
        apply_errors(form, error.fields, error.detail)
        context = {"kind": kind.key, "form": form, "tables": [], "invalid": True}
        return render(request, "reports/report.html", context, status=400)
    report = kind.compute(filters)
    query = urlencode(filters.as_query())
    form = ReportFilterForm(filters.as_query(), outcomes=kind.outcomes)
    context = {
        "kind": kind.key,
        "form": form,
        "filters": filters,
        "report": report,
        "own_patients_only": filters.own_patients_of is not None,
        "tables": [_table_view(report, table, query) for table in report.tables],
    }
    return render(request, "reports/report.html", context)


@clinician_required
@require_GET
def outcomes(request: HttpRequest) -> HttpResponse:
    return _page(request, KINDS["outcomes"])


@manager_required
@require_GET
def operations(request: HttpRequest) -> HttpResponse:
    return _page(request, KINDS["operations"])


@clinician_required
@require_GET
def table_download(request: HttpRequest, report: str, table: str) -> HttpResponse:
    """One table as CSV, for the same filters as the page it was linked from."""
    kind = KINDS.get(report)
    if kind is None:
        raise Http404
    if role_of(request.user) not in kind.roles:
        raise PermissionDenied
    try:
        filters = _filters(request, kind)
    except InvalidInput as error:
        lines = [str(error.detail)] + [f"{name}: {m}" for name, ms in (error.fields or {}).items() for m in ms]
        return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")
    try:
        found = kind.compute(filters).table(table)
    except KeyError:
        raise Http404 from None
    response = HttpResponse(table_csv(found), content_type="text/csv; charset=utf-8")
    name = f"{kind.key}-{found.key}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
