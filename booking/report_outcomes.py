"""Outcomes: do the treatments work? (docs/reports.md, Outcomes.)

Placeholder until the computation lands: the shape every caller relies on.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from booking.reports import Column, Figure, Report, ReportFilters, Table, min_group


def outcomes_report(filters: ReportFilters) -> Report:
    table = Table(
        key="score_change",
        title=_("Change in scar score by treatment"),
        description=_("Goodman & Baron quantitative score, baseline to latest."),
        columns=[
            Column("treatment", _("Treatment")),
            Column("patients", _("Patients"), "count"),
            Column("change_median", _("Median change (points)"), "number"),
        ],
        figure=Figure("bars", label="treatment", values=("change_median",), unit=_("points")),
    )
    return Report(key="outcomes", filters=filters, min_group=min_group(), tables=[table])
