"""The managers' reports as JSON: ``GET /api/v1/reports/outcomes/`` and
``GET /api/v1/reports/operations/`` (docs/reports.md).

The same computation as the staff pages (booking.report_outcomes,
booking.report_operations) and the same filters (booking.reports.filters_from),
answered as ``booking.reports.report_json``: a list of tables whose rows are
objects keyed by column key, so a script reads exactly the numbers a manager
sees. Outcomes are for managers and practitioners (a practitioner's answer
covers only the patients they have treated, decided by ``filters_from``);
operations are for managers only.

No throttle: like the day's takings (booking/ledger_apis.py), these are staff
reads behind a role; the reports cost a fixed number of aggregate queries
whatever the size of the clinic (bench/reports.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking.report_operations import operations_report
from booking.report_outcomes import outcomes_report
from booking.reports import ReportFilters, filters_from, report_json
from clinic.schema import errors
from patients.permissions import IsClinician, IsManager, user_of

OUTCOMES_DAYS = 365  # docs/reports.md, Filters: the defaults without dates
OPERATIONS_DAYS = 84

COLUMN_KINDS = ["text", "count", "number", "percent", "money", "rate"]


def report_filters(params: Mapping[str, Any], *, user: Any, default_days: int, outcomes: bool) -> ReportFilters:
    """The pages' filters (``filters_from``), except that a filter given blank
    is refused: the schema says date or integer, and an API caller who sends
    ``?to=`` means something the default would only guess."""
    return filters_from(params, user=user, default_days=default_days, outcomes=outcomes, blank_is_default=False)


@extend_schema_field(
    {
        "oneOf": [{"type": "string"}, {"type": "number"}],
        "nullable": True,
        "description": "text: a label or an ISO date; money: a decimal string; other kinds: a number; "
        "null: nothing to show (no data in the group).",
    }
)
class CellField(serializers.JSONField):
    pass


class ReportColumnSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The key of this column's value in every row.")
    label = serializers.CharField(  # type: ignore[assignment]  # DRF moves declared fields off the class
        help_text="The column's heading, in the request's language."
    )
    kind = serializers.ChoiceField(
        choices=COLUMN_KINDS,
        help_text="How the values read: text (labels, ISO dates), count (whole numbers), number (one decimal), "
        "percent (0–100, one decimal), money (a decimal string, two places), rate (per 100 sessions).",
    )

    class Meta:
        ref_name = "ReportColumn"


class ReportTableSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Stable name of the table, e.g. score_change.")
    title = serializers.CharField(help_text="In the request's language.")
    description = serializers.CharField(help_text="What the numbers are, in the request's language.")
    columns = ReportColumnSerializer(many=True)
    rows = serializers.ListField(
        child=serializers.DictField(child=CellField()),
        help_text="One object per row, keyed by column key.",
    )
    hidden_groups = serializers.IntegerField(
        help_text="Rows left out because their group is smaller than min_group (so no patient can be singled out)."
    )

    class Meta:
        ref_name = "ReportTable"


REPORT_FILTERS = inline_serializer(
    "ReportFilters",
    {
        "from": serializers.DateField(help_text="The period's first clinic-local day."),
        "to": serializers.DateField(help_text="The period's last clinic-local day (included)."),
        "practitioner": serializers.IntegerField(allow_null=True),
        "treatment": serializers.CharField(allow_null=True, help_text="A treatment's slug."),
        "target_grade": serializers.IntegerField(help_text="The qualitative grade (1–4) a course aims for."),
        "own_patients_only": serializers.BooleanField(
            help_text="True when a practitioner asked: the numbers cover only the patients they have treated."
        ),
    },
)


class ReportSerializer(serializers.Serializer):
    report = serializers.ChoiceField(choices=["outcomes", "operations"])
    filters = REPORT_FILTERS
    min_group = serializers.IntegerField(help_text="The smallest group a table shows (CLINIC_REPORT_MIN_GROUP).")
    tables = ReportTableSerializer(many=True)

    class Meta:
        ref_name = "Report"


def _parameters(default_days: int) -> list[OpenApiParameter]:
    return [
        OpenApiParameter(
            "from",
            OpenApiTypes.DATE,
            description=f"The first clinic-local day, YYYY-MM-DD. Default: {default_days} days up to `to`.",
        ),
        OpenApiParameter(
            "to",
            OpenApiTypes.DATE,
            description="The last clinic-local day, included; default today (or `from` plus the default period). "
            "At most three years from `from`.",
        ),
        OpenApiParameter("practitioner", OpenApiTypes.INT, description="A practitioner's id: only their visits."),
        OpenApiParameter("treatment", OpenApiTypes.STR, description="A treatment's slug: only that treatment."),
        OpenApiParameter(
            "target_grade",
            OpenApiTypes.INT,
            enum=[1, 2, 3, 4],
            description="The qualitative grade a course aims for (sessions to reach the target); default 2.",
        ),
    ]


class OutcomesReportApi(APIView):
    permission_classes = [IsClinician]

    @extend_schema(
        parameters=_parameters(OUTCOMES_DAYS),
        responses={200: ReportSerializer, **errors(400, 401, 403)},
        description="Do the treatments work: change in scar score, grade transitions, sessions to the target "
        "grade, adverse events per 100 sessions, courses (docs/reports.md). Managers see every patient; a "
        "practitioner only the patients they have treated. Groups under min_group are left out.",
    )
    def get(self, request: Request) -> Response:
        filters = report_filters(request.query_params, user=user_of(request), default_days=OUTCOMES_DAYS, outcomes=True)
        return Response(report_json(outcomes_report(filters)))


class OperationsReportApi(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        parameters=_parameters(OPERATIONS_DAYS),
        responses={200: ReportSerializer, **errors(400, 401, 403)},
        description="Is the diary full, do patients come: utilisation, no-shows and late cancellations, lead "
        "time, new and returning patients, reminders, revenue and deposits (docs/reports.md; managers).",
    )
    def get(self, request: Request) -> Response:
        filters = report_filters(
            request.query_params, user=user_of(request), default_days=OPERATIONS_DAYS, outcomes=False
        )
        return Response(report_json(operations_report(filters)))
