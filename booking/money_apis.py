"""Deposits at the desk, fee waivers and desk refunds (booking/deposit_rules.py).

Taking and giving back money at the desk is the front desk's work:
receptionists and managers. Practitioners are 403, patients too (they may
read their own visit's deposit state)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import deposit_rules, ledger
from booking.apis import visible_appointments
from booking.models import LedgerEntry
from booking.money_serializers import (
    DepositStateSerializer,
    DeskDepositSerializer,
    DeskRefundSerializer,
    LedgerEntrySerializer,
    WaiveSerializer,
    outcome_data,
)
from clinic.schema import errors
from patients.permissions import HasRole, IsPatientOrStaff, is_staff, user_of
from patients.roles import MANAGER, RECEPTIONIST


class HandlesMoney(HasRole):
    """Receptionists and managers: money taken and given back at the desk, fees waived."""

    roles = (RECEPTIONIST, MANAGER)


class AppointmentDepositApi(APIView):
    """GET: the visit's deposit (asked, paid, what cancelling now would do).
    POST: staff record a deposit paid at the desk."""

    def get_permissions(self) -> list:
        return [HandlesMoney()] if self.request.method == "POST" else [IsPatientOrStaff()]

    @extend_schema(responses={200: DepositStateSerializer, **errors(401, 403, 404)})
    def get(self, request: Request, pk: int) -> Response:
        appointment = get_object_or_404(visible_appointments(request), pk=pk)
        paid = ledger.deposit_paid(appointment)
        asked = ledger.deposit_for(appointment.treatment)
        return Response(
            {
                "amount": str(paid.amount if paid else asked) if (paid or asked) else None,
                "paid": LedgerEntrySerializer(paid).data if paid else None,
                "on_cancel": outcome_data(deposit_rules.deposit_outcome(appointment, by_patient=not is_staff(request))),
            }
        )

    @extend_schema(
        request=DeskDepositSerializer, responses={200: LedgerEntrySerializer, **errors(400, 401, 403, 404, 409)}
    )
    def post(self, request: Request, pk: int) -> Response:
        appointment = get_object_or_404(visible_appointments(request), pk=pk)
        data = DeskDepositSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        entry = deposit_rules.deposit_record_at_desk(
            appointment=appointment,
            method=values["method"],
            amount=values.get("amount"),
            idempotency_key=values["idempotency_key"],
            by=user_of(request),
        )
        return Response(LedgerEntrySerializer(entry).data)


def _entry(pk: int) -> LedgerEntry:
    return get_object_or_404(LedgerEntry.objects.select_related("appointment", "patient"), pk=pk)


class FeeWaiveApi(APIView):
    """POST /ledger/{id}/waive/ {"reason"}: forgives a late-cancellation or no-show fee."""

    permission_classes = [HandlesMoney]

    @extend_schema(request=WaiveSerializer, responses={200: LedgerEntrySerializer, **errors(400, 401, 403, 404, 409)})
    def post(self, request: Request, pk: int) -> Response:
        fee = _entry(pk)
        data = WaiveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        waiver = deposit_rules.fee_waive(fee=fee, by=user_of(request), reason=data.validated_data["reason"])
        return Response(LedgerEntrySerializer(waiver).data)


class DeskRefundApi(APIView):
    """POST /ledger/{id}/refund/ {"method", "idempotency_key"}: pays back at the
    desk what is due of a desk deposit of a cancelled or missed visit."""

    permission_classes = [HandlesMoney]

    @extend_schema(
        request=DeskRefundSerializer, responses={200: LedgerEntrySerializer, **errors(400, 401, 403, 404, 409)}
    )
    def post(self, request: Request, pk: int) -> Response:
        payment = _entry(pk)
        data = DeskRefundSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund = deposit_rules.desk_refund_record(
            payment=payment,
            method=data.validated_data["method"],
            idempotency_key=data.validated_data["idempotency_key"],
            by=user_of(request),
        )
        return Response(LedgerEntrySerializer(refund).data)
