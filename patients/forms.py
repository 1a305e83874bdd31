"""The "How we contact you" form, shared by the patient's profile (portal) and
the chart's contact page (workspace): the two page apps sit on one floor and
may not import each other, and the form is the same for both doors.

Per topic, one select per place in the order: "First choice", then "If that
fails", then "After that" (as many as the clinic has channels). Plain selects
work without script, with a keyboard and a screen reader; the legend names the
topic. The form only reads shapes; patients.channels.channels_set decides.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from clinic import formats
from patients import channels
from patients.models import ChannelChoice, Patient

TOPIC_HELP = {
    "confirmations": _("Bookings, changes, cancellations, and a missed visit."),
    "reminders": _("Before each appointment."),
    "plan_nudges": _("When the next session of a course is due to be booked."),
    "waitlist_offers": _("When a time you are waiting for opens up. It is held for you only for a short while."),
    "care": _("How to prepare for a treatment and look after your skin afterwards."),
}
PLACES = (_("First choice"), _("If that fails"), _("After that"))
NONE = ""


class ChannelsForm(forms.Form):
    """Fields ``<topic>_<n>`` (n from 1): the channel in that place, "" for
    none, ``off`` (first place, optional topics) for no messages at all."""

    def __init__(self, *args: Any, offered: list[str], current: dict[str, list[str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offered = offered
        labels = [(channel, channels.label(channel)) for channel in offered]
        for topic in channels.TOPICS:
            order = [channel for channel in current.get(topic, []) if channel in offered]
            optional = topic in channels.OPTIONAL_TOPICS
            for place in range(len(offered)):
                if place == 0:
                    choices = labels + ([(channels.OFF, _("No messages"))] if optional else [])
                    initial = order[0] if order else (channels.OFF if optional else offered[0])
                else:
                    choices = [(NONE, _("Nothing more")), *labels]
                    initial = order[place] if place < len(order) else NONE
                self.fields[f"{topic}_{place + 1}"] = forms.ChoiceField(
                    label=PLACES[place], choices=choices, initial=initial, required=place == 0
                )

    def topics(self) -> list[dict[str, Any]]:
        """For the template: each topic's label, help and bound fields in order."""
        return [
            {
                "name": topic,
                "label": ChannelChoice.Topic(topic).label,
                "help": TOPIC_HELP[topic],
                "optional": topic in channels.OPTIONAL_TOPICS,
                "fields": [self[f"{topic}_{place + 1}"] for place in range(len(self.offered))],
            }
            for topic in channels.TOPICS
        ]

    def chosen(self) -> dict[str, list[str]]:
        """Each topic's list as channels_set takes it: places read in order up to
        the first empty one; "No messages" is the empty list."""
        data = self.cleaned_data
        result = {}
        for topic in channels.TOPICS:
            order: list[str] = []
            for place in range(len(self.offered)):
                value = data.get(f"{topic}_{place + 1}", NONE)
                if value in (NONE, channels.OFF):
                    break
                order.append(value)
            result[topic] = order
        return result

    def add_service_errors(self, fields: dict[str, list[str]] | None, detail: str) -> None:
        placed = False
        for topic, messages in (fields or {}).items():
            name = f"{topic}_1"
            if name in self.fields:
                self.add_error(name, [str(message) for message in messages])
                placed = True
        if not placed:
            self.add_error(None, detail)


def channels_form(patient: Patient, data: Any = None) -> ChannelsForm:
    fresh = Patient.objects.prefetch_related("channel_choices").get(pk=patient.pk)
    return ChannelsForm(data, offered=channels.available(), current=channels.orders(fresh))


def addresses(patient: Patient) -> list[dict[str, str]]:
    """Where the offered channels reach the patient, for the form to say so:
    the email, and the mobile number for SMS and WhatsApp ("" when there is none)."""
    offered = channels.available()
    texts = [channels.label(channel) for channel in offered if channel in channels.TEXT_CHANNELS]
    rows = [{"label": channels.label(channels.EMAIL), "address": patient.email, "missing": str(_("no email address"))}]
    if texts:
        mobile = channels.mobile_number(patient.phone)
        rows.append(
            {
                "label": " / ".join(texts),
                "address": formats.phone_text(mobile) if mobile else "",
                "missing": str(_("needs a mobile phone number")),
            }
        )
    return rows
