"""Operations: is the diary full, do patients come? (docs/reports.md, Operations.)

Placeholder until the computation lands: the shape every caller relies on.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from booking.reports import Column, Figure, Report, ReportFilters, Table, min_group


def operations_report(filters: ReportFilters) -> Report:
    table = Table(
        key="utilisation_practitioners",
        title=_("Practitioner utilisation by week"),
        description=_("Hours booked as a share of hours open."),
        columns=[
            Column("week", _("Week")),
            Column("practitioner", _("Practitioner")),
            Column("utilisation", _("Utilisation"), "percent"),
        ],
        figure=Figure("lines", label="week", values=("utilisation",), series="practitioner", unit="%"),
    )
    return Report(key="operations", filters=filters, min_group=min_group(), tables=[table])
