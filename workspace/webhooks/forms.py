"""The subscription form: it checks shapes; booking/webhooks.py decides."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from booking import webhooks
from booking.webhook_delivery import URL_MAX
from clinic.pages import BoundedMultipleChoiceField


class SubscriptionForm(forms.Form):
    url = forms.CharField(
        label=_("Address of the receiving system"),
        max_length=URL_MAX,
        help_text=_("It starts with https://. The other system's supplier gives it to you."),
        widget=forms.TextInput(attrs={"inputmode": "url", "autocomplete": "off", "spellcheck": "false"}),
    )
    description = forms.CharField(
        label=_("What it is"),
        max_length=webhooks.DESCRIPTION_MAX,
        required=False,
        help_text=_("For your colleagues, e.g. “Accounting” or “Marketing CRM”."),
    )
    events = BoundedMultipleChoiceField(
        label=_("Events it is told of"),
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )
    clinical = forms.BooleanField(
        label=_("Send clinical details"),
        required=False,
        help_text=_(
            "Adds the treatment and the device used, the patient's name, email, phone and language, a plan's "
            "sessions and why a visit was cancelled. Without it the system receives ids, times and statuses only. "
            "Turn it on only for a system allowed to hold patients' health records."
        ),
    )
    active = forms.BooleanField(
        label=_("On: events are sent to this system"),
        required=False,
        initial=True,
        help_text=_("Turned off, nothing is sent; what was waiting fails, and can be sent again later."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = webhooks.event_labels()
        field = cast(BoundedMultipleChoiceField, self.fields["events"])
        field.choices = [(event, f"{labels[event]} ({event})") for event in webhooks.EVENT_TYPES]
