"""The desk's money form: parses what was typed; booking.takings.desk_record decides."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from booking import ledger
from booking.models import LedgerEntry

Kind = LedgerEntry.Kind


class DeskEntryForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What happened"),
        choices=[
            (Kind.PAYMENT.value, _("The patient paid")),
            (Kind.CHARGE.value, _("Charge the patient")),
            (Kind.REFUND.value, _("Refund a payment")),
        ],
        initial=Kind.PAYMENT.value,
        widget=forms.RadioSelect,
    )
    amount = forms.CharField(
        label=_("Amount (HKD)"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "500.00"}),
    )
    method = forms.ChoiceField(
        label=_("How the money moved"),
        required=False,
        help_text=_("Payments and refunds only."),
    )
    reverses = forms.TypedChoiceField(
        label=_("Payment to refund"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("Refunds only."),
    )
    note = forms.CharField(label=_("Note for staff"), required=False, max_length=2000)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def __init__(self, *args: Any, refundable: list[LedgerEntry] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", f"desk-{uuid.uuid4()}")
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["method"]).choices = [("", _("—"))] + [
            (value, label) for value, label in LedgerEntry.Method.choices if value in LedgerEntry.DESK_METHODS
        ]
        cast(forms.ChoiceField, self.fields["reverses"]).choices = [("", _("—"))] + [
            (
                entry.pk,
                _("Receipt %(number)s: %(left)s left of %(amount)s")
                % {"number": entry.receipt_number, "left": ledger.refundable(entry), "amount": entry.amount},
            )
            for entry in refundable or []
        ]

    def clean_amount(self) -> Decimal:
        raw = self.cleaned_data["amount"].replace(",", "").strip()
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise forms.ValidationError(_("Enter an amount, e.g. 500.00.")) from None
        if not value.is_finite():
            raise forms.ValidationError(_("Enter an amount, e.g. 500.00."))
        return value


class TakingsDayForm(forms.Form):
    date = forms.DateField(label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
