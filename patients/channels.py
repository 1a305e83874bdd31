"""How each patient wants to be reached, per topic: the one place of the rules.

A *topic* groups the kinds of message a patient decides about together
(booking.notifications.TOPIC_OF_KIND maps each kind to one):

* ``confirmations``: bookings, moves, cancellations, missed visits, the change link;
* ``reminders``: appointment reminders;
* ``plan_nudges``: a treatment plan's next session is due, last call;
* ``waitlist_offers``: a time held from the waitlist;
* ``care``: pre-care and aftercare.

Each topic has an ordered list of channels (``ChannelChoice`` rows): the first
is tried first, and the next takes over when a channel fails for good (an
invalid number, not on WhatsApp...). No rows: email only, which is how every
patient was reached before SMS and WhatsApp, so nobody's messages change until
they choose. ``confirmations``, ``waitlist_offers`` and ``care`` carry what a
patient must know, so they always keep one channel; ``reminders`` and
``plan_nudges`` may be turned off (an empty list, stored as one ``off`` row).

``Patient.reminders_opt_out`` (the older "no reminder emails" switch, still a
field of the profile API) is the same fact seen from before: it is true exactly
when both optional topics are off. Setting it turns both off (or back on, by
email); choosing channels sets it. Either way the two always agree.

Only configured channels can be chosen (``available()``: email, plus SMS and
WhatsApp when ``SMS_URL`` / ``WHATSAPP_URL`` are set), and only with an address:
email needs an email, SMS and WhatsApp a mobile number (E.164, checked with
phonenumbers). Whether an address is still there when a message goes is the
outbox's question (``usable``): it passes over a channel that lost its address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from clinic.errors import InvalidInput, InvalidState
from patients.models import ChannelChoice, Patient

Topic = ChannelChoice.Topic
EMAIL, SMS, WHATSAPP, OFF = "email", "sms", "whatsapp", "off"
CHANNELS = (EMAIL, SMS, WHATSAPP)
TEXT_CHANNELS = (SMS, WHATSAPP)
TOPICS: tuple[str, ...] = tuple(Topic.values)
OPTIONAL_TOPICS = frozenset({Topic.REMINDERS.value, Topic.PLAN_NUDGES.value})
DEFAULT: tuple[str, ...] = (EMAIL,)


def available() -> list[str]:
    """The channels the clinic sends on, email first: the same list as
    booking.channels.available(), read here from the same setting because this
    floor cannot import booking."""
    return [EMAIL, *(channel for channel in TEXT_CHANNELS if channel in settings.CLINIC_CHANNELS)]


def mobile_number(phone: str) -> str:
    """``phone`` as E.164 when it is a valid number that can take texts (a
    mobile, or a number whose plan cannot tell), else ""."""
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone, "HK")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def address(patient: Patient, channel: str) -> str:
    """Where ``channel`` reaches the patient: their email or mobile number, "" when it cannot."""
    if channel == EMAIL:
        return patient.email
    if channel in TEXT_CHANNELS:
        return mobile_number(patient.phone)
    return ""


def _rows(patient: Patient) -> Iterable[ChannelChoice]:
    # .all() so a caller's prefetch_related("channel_choices") serves many patients in one query.
    return sorted(patient.channel_choices.all(), key=lambda row: (row.topic, row.rank))


def orders(patient: Patient) -> dict[str, list[str]]:
    """Every topic's channels in the order the patient chose (whether the
    clinic still offers them or not: see ``usable``). An optional topic turned
    off, or any while ``reminders_opt_out`` is set, is an empty list."""
    chosen: dict[str, list[str]] = {}
    for row in _rows(patient):
        chosen.setdefault(row.topic, []).append(row.channel)
    result = {}
    for topic in TOPICS:
        channels = chosen.get(topic, list(DEFAULT))
        if channels == [OFF] or (topic in OPTIONAL_TOPICS and patient.reminders_opt_out):
            channels = []
        result[topic] = channels
    return result


def usable(patient: Patient, channels: Sequence[str], *, offered: Sequence[str] | None = None) -> list[str]:
    """``channels`` less those the clinic no longer offers or that have no
    address for this patient, order kept: what the outbox may try."""
    offered = available() if offered is None else offered
    return [channel for channel in channels if channel in offered and address(patient, channel)]


def _problems(patient: Patient, topic: str, channels: Sequence[str], offered: Sequence[str]) -> list[str]:
    if any(not isinstance(channel, str) or channel not in CHANNELS for channel in channels):
        return [_("Choose from: %(channels)s.") % {"channels": ", ".join(offered)}]
    if len(set(channels)) != len(channels):
        return [_("Choose each channel once.")]
    problems = []
    for channel in channels:
        if channel not in offered:
            problems.append(_("The clinic does not send messages by %(channel)s.") % {"channel": label(channel)})
        elif not address(patient, channel):
            problems.append(
                _("Email needs an email address on the profile.")
                if channel == EMAIL
                else _("%(channel)s needs a mobile phone number on the profile.") % {"channel": label(channel)}
            )
    if not channels and topic not in OPTIONAL_TOPICS:
        problems.append(_("Choose at least one way to reach you about this: it matters."))
    return problems


def label(channel: str) -> str:
    return str(ChannelChoice.Channel(channel).label) if channel in ChannelChoice.Channel.values else channel


def _replace(patient: Patient, topic: str, channels: Sequence[str]) -> None:
    ChannelChoice.objects.filter(patient=patient, topic=topic).delete()
    if channels == list(DEFAULT):
        return  # no rows: email only, the default
    rows = channels or [OFF]
    ChannelChoice.objects.bulk_create(
        ChannelChoice(patient=patient, topic=topic, channel=channel, rank=rank)
        for rank, channel in enumerate(rows, start=1)
    )


@transaction.atomic
def channels_set(
    *, patient: Patient, topics: Mapping[str, Sequence[str]], offered: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """Sets the channels of the topics named (the others stay as they are) and
    returns every topic's list. InvalidInput, with nothing written and a
    message per topic, for an unknown topic or channel, a channel named twice,
    one the clinic does not offer (``offered``, default ``available()``), one
    without an address, or an empty list for a topic that must reach the
    patient. InvalidState for an erased patient. Keeps ``reminders_opt_out``
    in step. The caller has checked that it may act for this patient."""
    if patient.erased_at is not None:
        raise InvalidState(_("This patient's details were erased on request; they cannot be edited."))
    offered = available() if offered is None else list(offered)
    unknown = [topic for topic in topics if topic not in TOPICS]
    if unknown:
        raise InvalidInput(fields={"topics": [_("Topics are: %(topics)s.") % {"topics": ", ".join(TOPICS)}]})
    problems = {
        topic: found for topic, channels in topics.items() if (found := _problems(patient, topic, channels, offered))
    }
    if problems:
        raise InvalidInput(_("Check how we may contact you."), fields=problems)
    # The patient row is the lock: two saves at once leave one whole choice, not a mix.
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    for topic, channels in topics.items():
        _replace(locked, topic, list(channels))
    off = set(ChannelChoice.objects.filter(patient=locked, channel=OFF).values_list("topic", flat=True))
    _sync_opt_out(locked, off == OPTIONAL_TOPICS)
    patient.reminders_opt_out = locked.reminders_opt_out
    locked = Patient.objects.prefetch_related("channel_choices").get(pk=patient.pk)
    return orders(locked)


def _sync_opt_out(patient: Patient, off: bool) -> None:
    if patient.reminders_opt_out != off:
        patient.reminders_opt_out = off
        patient.save(update_fields=["reminders_opt_out", "updated_at"])


def optional_topics_switch(*, patient: Patient, off: bool) -> None:
    """``reminders_opt_out`` set through the profile (page, API, admin): both
    optional topics off, or, turned back on, email again where they were off
    (a topic with channels chosen keeps them). Called by
    patients.services.patient_update inside its transaction."""
    for topic in OPTIONAL_TOPICS:
        if off:
            _replace(patient, topic, [])
        else:
            ChannelChoice.objects.filter(patient=patient, topic=topic, channel=OFF).delete()


def channels_forget(*, patient: Patient) -> int:
    """Erasure: the patient's choices go with their contact details."""
    deleted, _per_model = ChannelChoice.objects.filter(patient=patient).delete()
    return deleted
