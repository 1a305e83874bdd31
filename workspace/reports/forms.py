"""The reports' filter form: draws the fields and keeps what was typed.

It checks nothing itself: ``booking.reports.filters_from`` reads the same GET
parameters for the pages and the API and names every bad field, and the view
puts its messages on these fields, so both doors refuse the same input.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.models import Practitioner
from treatments.models import QualitativeGrade, Treatment


class ReportFilterForm(forms.Form):
    def __init__(self, *args: Any, outcomes: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword, so the fields are named here rather than as attributes.
        self.fields["from"] = forms.CharField(
            label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
        )
        self.fields["to"] = forms.CharField(
            label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
        )
        practitioners = Practitioner.objects.select_related("user")
        self.fields["practitioner"] = forms.CharField(
            label=_("Practitioner"),
            required=False,
            widget=forms.Select(choices=[("", _("Everyone"))] + [(str(p.pk), p.name) for p in practitioners]),
        )
        treatments = Treatment.objects.order_by("name_en")
        self.fields["treatment"] = forms.CharField(
            label=_("Treatment"),
            required=False,
            widget=forms.Select(
                choices=[("", _("Every treatment"))] + [(t.slug, t.localized("name")) for t in treatments]
            ),
        )
        if outcomes:
            self.fields["target_grade"] = forms.CharField(
                # The help is in the label: a help line would push this select below its neighbours.
                label=_("Target grade (for sessions to reach it)"),
                required=False,
                widget=forms.Select(choices=[(str(value), label) for value, label in QualitativeGrade.choices]),
            )
