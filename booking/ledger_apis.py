"""The ledger's API doors: the patient's own ledger, the staff's view of a
patient's and the desk's writes, receipts as PDFs, and the daily takings.

Roles (what a clinic expects of money): every staff role reads a patient's
ledger (a practitioner checks at the chair that the deposit is paid);
receptionists and managers write at the desk; only managers see the day's
takings. A patient reads only their own rows and receipts: another
patient's receipt is 404. Patients never see staff names: a row says
"Front desk" or "Online".
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import ledger, receipts, takings
from booking.models import LedgerEntry
from clinic.api import CleanCharField, StrictIntegerField
from clinic.clock import clinic_today
from clinic.errors import InvalidInput, NotFound
from clinic.pagination import Pagination
from clinic.schema import errors
from patients.models import Patient
from patients.permissions import HasRole, IsManager, IsPatient, IsPatientOrStaff, IsStaff, is_staff, user_of
from patients.roles import MANAGER, RECEPTIONIST

MONEY_WRITERS = (RECEPTIONIST, MANAGER)
AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")


class StaffReadDeskWrite(HasRole):
    """Every staff role reads; receptionists and managers record money."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return IsStaff().has_permission(request, view)
        return super().has_permission(request, view)

    roles = MONEY_WRITERS


def ledger_rows(patient_id: int) -> QuerySet[LedgerEntry]:
    """The patient's rows, newest first, with everything a line shows (one query)."""
    return ledger.entries(patient_id).order_by("-created_at", "-id")


def receipt_path(entry: LedgerEntry) -> str | None:
    return reverse("receipt-pdf", args=[entry.pk]) if receipts.receipted(entry) else None


class EntrySerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    description = serializers.SerializerMethodField(help_text="What the row was for, in the request's language.")
    receipt_url = serializers.SerializerMethodField(help_text="The receipt PDF of a payment or refund, else null.")
    recorded_by = serializers.SerializerMethodField(
        help_text='Patients: "Front desk", "Online" or "The clinic". Staff: the staff member\'s name.'
    )

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "method",
            "reason",
            "amount",
            "description",
            "created_at",
            "appointment",
            "package",
            "reverses",
            "receipt_number",
            "receipt_url",
            "recorded_by",
            "note",
        ]
        read_only_fields = fields

    def get_description(self, entry: LedgerEntry) -> str:
        return receipts.purpose(entry)

    def get_receipt_url(self, entry: LedgerEntry) -> str | None:
        path = receipt_path(entry)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if path and request is not None else path

    def get_recorded_by(self, entry: LedgerEntry) -> str:
        if self.context.get("staff") and entry.recorded_by is not None:
            return entry.recorded_by.get_full_name() or entry.recorded_by.get_username()
        return receipts.recorder_label(entry)

    def to_representation(self, instance: LedgerEntry) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not self.context.get("staff"):
            data.pop("note", None)  # the desk's own words, not the patient's
        return data


LEDGER_PAGE = inline_serializer(
    "LedgerPage",
    {
        "balance": serializers.DecimalField(
            max_digits=14,
            decimal_places=2,
            help_text="What the clinic holds for the patient; negative: what they owe.",
        ),
        "currency": serializers.CharField(),
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": EntrySerializer(many=True),
    },
)


def _ledger_page(request: Request, view: APIView, patient_id: int, *, staff: bool) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(ledger_rows(patient_id), request, view)
    body = paginator.get_paginated_response(
        EntrySerializer(page, many=True, context={"request": request, "staff": staff}).data
    ).data
    return Response({"balance": f"{ledger.balance(patient_id):.2f}", "currency": settings.CLINIC_CURRENCY, **body})


class MyLedgerApi(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: LEDGER_PAGE, **errors(400, 401, 403, 404)},
        description="The signed-in patient's ledger, newest first, with the balance beside the page.",
    )
    def get(self, request: Request) -> Response:
        patient = Patient.objects.only("pk").get(user=user_of(request))
        return _ledger_page(request, self, patient.pk, staff=False)


class DeskEntrySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[k.value for k in takings.DESK_KINDS])
    amount = CleanCharField(max_length=20, help_text='A decimal string of dollars and cents, e.g. "500.00".')
    method = serializers.ChoiceField(
        choices=[m.value for m in LedgerEntry.DESK_METHODS],
        required=False,
        help_text="How the money moved at the desk (payments and refunds; not charges).",
    )
    reverses = StrictIntegerField(min_value=1, required=False, help_text="A refund: the payment it returns.")
    note = CleanCharField(max_length=2000, required=False, allow_blank=True, default="")
    idempotency_key = CleanCharField(max_length=100, help_text="A fresh key per movement; a replay returns the row.")

    def validate_amount(self, value: str) -> Decimal:
        # Plain ASCII digits only: Decimal() would also read "1e3", "NaN" and "١٢٣".
        if not AMOUNT.fullmatch(value):
            raise serializers.ValidationError(_("Enter an amount in dollars and cents, e.g. 500.00."))
        return Decimal(value)


class PatientLedgerApi(APIView):
    permission_classes = [StaffReadDeskWrite]

    @extend_schema(
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: LEDGER_PAGE, **errors(400, 401, 403, 404)},
        description="A patient's ledger for staff, newest first, with the balance.",
    )
    def get(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(Patient.objects.only("pk"), pk=pk)
        return _ledger_page(request, self, patient.pk, staff=True)

    @extend_schema(
        request=DeskEntrySerializer,
        responses={
            201: EntrySerializer,
            200: OpenApiResponse(EntrySerializer, description="A replayed idempotency key: the row it wrote."),
            **errors(400, 401, 403, 404),
        },
        description="Receptionists and managers record a charge, a payment at the desk, or a refund of a payment. "
        "400 invalid for a refund larger than what is left of its payment, a method that does not fit, or a key "
        "already used for another movement.",
    )
    def post(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(Patient, pk=pk)
        body = DeskEntrySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        recorded = takings.desk_record(
            patient=patient,
            kind=data["kind"],
            amount=data["amount"],
            method=data.get("method", ""),
            reverses_id=data.get("reverses"),
            note=data["note"],
            idempotency_key=data["idempotency_key"],
            by=user_of(request),
        )
        entry = ledger.entries(patient.pk).get(pk=recorded.entry.pk)
        return Response(
            EntrySerializer(entry, context={"request": request, "staff": True}).data,
            status=201 if recorded.created else 200,
        )


class ReceiptPdfApi(APIView):
    permission_classes = [IsPatientOrStaff]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The bilingual receipt."),
            **errors(401, 403, 404),
        },
        description="The receipt of a payment or refund. A patient gets only their own (404 otherwise).",
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        found = LedgerEntry.objects.select_related(
            "patient", "appointment__treatment", "package", "reverses", "recorded_by"
        ).filter(pk=pk, receipt_number__isnull=False)
        if not is_staff(request):
            found = found.filter(patient__user=user_of(request))
        entry = found.first()
        if entry is None:
            raise NotFound()
        return receipts.receipt_response(entry)


class MethodTotalSerializer(serializers.Serializer):
    method = serializers.CharField()
    name = serializers.CharField(source="label", help_text="The method as people read it, in the request's language.")
    payments = serializers.DecimalField(max_digits=14, decimal_places=2)
    refunds = serializers.DecimalField(max_digits=14, decimal_places=2)
    net = serializers.DecimalField(max_digits=14, decimal_places=2)
    count = serializers.IntegerField()


class TakingsSerializer(serializers.Serializer):
    date = serializers.DateField(source="day")
    currency = serializers.SerializerMethodField()
    payments = serializers.DecimalField(max_digits=14, decimal_places=2)
    refunds = serializers.DecimalField(max_digits=14, decimal_places=2)
    net = serializers.DecimalField(max_digits=14, decimal_places=2)
    methods = MethodTotalSerializer(many=True)
    entries = serializers.SerializerMethodField()

    def get_currency(self, _takings: Any) -> str:
        return str(settings.CLINIC_CURRENCY)

    @extend_schema_field(EntrySerializer(many=True))
    def get_entries(self, found: takings.Takings) -> Any:
        return EntrySerializer(found.rows, many=True, context={**self.context, "staff": True}).data


def parse_day(raw: str | None) -> date:
    if raw is None:
        return clinic_today()
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else _bad_day()
    except ValueError:
        return _bad_day()


def _bad_day() -> date:
    message = _("Give a date as YYYY-MM-DD.")
    raise InvalidInput(message, fields={"date": [message]})


class TakingsApi(APIView):
    permission_classes = [IsManager]

    @extend_schema(
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, description="A clinic-local day; default today.")],
        responses={200: TakingsSerializer, **errors(400, 401, 403)},
        description="The day's payments and refunds by method and their net, matching the ledger to the cent "
        "(managers).",
    )
    def get(self, request: Request) -> Response:
        found = takings.takings_for(parse_day(request.query_params.get("date")))
        return Response(TakingsSerializer(found, context={"request": request}).data)
