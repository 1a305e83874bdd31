"""Shapes of the deposit, waiver and desk-refund endpoints (booking/money_apis.py)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from booking import deposit_rules
from booking.deposit_rules import Outcome
from booking.models import LedgerEntry
from booking.serializers import AppointmentSerializer
from clinic.api import CleanCharField

# The desk's methods (no online, no package): named once for the schema (DeskMethodEnum).
DESK_METHOD_CHOICES = [(m.value, m.label) for m in LedgerEntry.DESK_METHODS]


class LedgerEntrySerializer(serializers.ModelSerializer):
    """One ledger row; money as a decimal string."""

    amount = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    recorded_by = serializers.SerializerMethodField()

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "method",
            "reason",
            "amount",
            "reverses",
            "appointment",
            "receipt_number",
            "note",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_recorded_by(self, entry: LedgerEntry) -> str:
        user = entry.recorded_by
        return (user.get_full_name() or user.get_username()) if user is not None else ""


class OutcomeSerializer(serializers.Serializer):
    """What happens (or happened) to the visit's deposit on cancellation."""

    outcome = serializers.ChoiceField(choices=["refund", "fee"])
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    online = serializers.BooleanField(help_text="A refund goes back through the online provider; else at the desk.")
    detail = serializers.CharField()


def outcome_data(outcome: Outcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "outcome": outcome.action,
        "amount": str(outcome.amount),
        "online": outcome.online,
        "detail": outcome.detail,
    }


class CancelledAppointmentSerializer(AppointmentSerializer):
    """The cancel answer: the appointment, and what happened to its deposit (null: none was paid)."""

    deposit = serializers.SerializerMethodField(help_text="What happened to the deposit (null: none was paid).")

    class Meta(AppointmentSerializer.Meta):
        fields = [*AppointmentSerializer.Meta.fields, "deposit"]
        read_only_fields = fields

    @extend_schema_field(OutcomeSerializer(allow_null=True))
    def get_deposit(self, appointment: Any) -> Any:
        return outcome_data(deposit_rules.deposit_outcome(appointment))


class DepositStateSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, coerce_to_string=True, allow_null=True, help_text="The deposit asked."
    )
    paid = LedgerEntrySerializer(allow_null=True)
    on_cancel = OutcomeSerializer(
        allow_null=True, help_text="What cancelling now would do to the deposit (for the caller: patient or clinic)."
    )


class DeskDepositSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=DESK_METHOD_CHOICES)
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, min_value=0, coerce_to_string=True
    )
    idempotency_key = CleanCharField(max_length=100)


class DeskRefundSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=DESK_METHOD_CHOICES)
    idempotency_key = CleanCharField(max_length=100)


class WaiveSerializer(serializers.Serializer):
    reason = CleanCharField(max_length=500)
