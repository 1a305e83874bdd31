"""Forms of the packages pages: their shapes only; booking.packages decides."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.models import LedgerEntry, PackageOffer
from treatments.models import TreatmentPlan

DESK_METHODS = [(method.value, method.label) for method in LedgerEntry.DESK_METHODS]


class OfferForm(forms.ModelForm):
    class Meta:
        model = PackageOffer
        fields = ("treatment", "name_en", "name_zh_hant", "sessions", "price", "valid_days", "sold_online", "active")
        labels = {
            "treatment": _("Treatment"),
            "name_en": _("Name in English"),
            "name_zh_hant": _("Name in Chinese"),
            "sessions": _("Sessions"),
            "price": _("Price (HKD)"),
            "valid_days": _("Valid for (days)"),
            "sold_online": _("Patients may buy it on the site"),
            "active": _("On sale"),
        }
        help_texts = {"valid_days": _("Days from the sale until unused sessions expire; empty for no limit.")}


class SellForm(forms.Form):
    offer = forms.ModelChoiceField(queryset=PackageOffer.objects.none(), label=_("Package"))
    method = forms.ChoiceField(choices=DESK_METHODS, label=_("Paid by"))
    plan = forms.ModelChoiceField(
        queryset=TreatmentPlan.objects.none(),
        required=False,
        label=_("Treatment plan"),
        empty_label=_("The patient's active plan of the treatment, if any"),
    )
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, offers: Any, plans: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"key": uuid.uuid4().hex})
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = offers  # type: ignore[attr-defined]
        self.fields["plan"].queryset = plans  # type: ignore[attr-defined]


class RefundForm(forms.Form):
    method = forms.ChoiceField(choices=DESK_METHODS, label=_("Returned by"), required=False)
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)
