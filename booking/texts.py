"""Short messages for SMS and WhatsApp: one per notification kind, in the patient's language.

An email can say everything; a text says what the email's subject says, with
the one link that does the rest, and no clinical detail beyond the subject's
(the treatment's name at most: a phone's lock screen shows texts to whoever
holds it). SMS bodies stay under ``SMS_LIMIT`` characters whatever the names and
links (long names are shortened), so a message is at most a few segments.

WhatsApp only sends approved templates outside a conversation the patient
opened: each kind has one (``TEMPLATES``), registered with Meta in English and
Chinese (zh_HK) under the same name, whose numbered placeholders take
``params`` in order. The text built here is what the template says with them
filled in: what the local backends print and the notification log shows. The
reminder's template has two quick-reply buttons whose payloads are
``confirm:<appointment uid>`` and ``change:<appointment uid>`` (booking/inbound
answers them); by SMS the same reminder ends with "Reply 1 to confirm, 2 to
change".

Like the emails (booking/emails.py), each language's wording is written out
whole here rather than put through the catalogues: a message is read as one
sentence, and both languages must stay short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from booking import channels
from booking.emails import link, message_context
from booking.models import Notification

Kind = Notification.Kind
SMS_LIMIT = 300
NAME_LIMIT = 40  # a clinic's or treatment's name longer than this is cut, so the link always fits

EN, ZH = "en", "zh-hant"


@dataclass(frozen=True)
class Wording:
    """A kind's text in both languages (``str.format`` fields from ``_fields``)
    and its WhatsApp template with the fields its placeholders take, in order."""

    template: str
    params: tuple[str, ...]
    en: str
    zh: str


# Template names are what the clinic registers with Meta (docs/architecture.md lists them).
TEMPLATES: dict[str, Wording] = {
    Kind.CONFIRMATION: Wording(
        "appointment_confirmation",
        ("clinic", "when", "link"),
        "{clinic}: you are booked for {when}. See, move or cancel: {link}",
        "{clinic}：已為你預約{when}。查看、改期或取消：{link}",
    ),
    Kind.RESCHEDULE: Wording(
        "appointment_rescheduled",
        ("clinic", "when", "link"),
        "{clinic}: your appointment has moved to {when}. Details: {link}",
        "{clinic}：你的預約已改為{when}。詳情：{link}",
    ),
    Kind.CANCELLATION: Wording(
        "appointment_cancelled",
        ("clinic", "when", "link"),
        "{clinic}: your appointment on {when} is cancelled. To book again: {link}",
        "{clinic}：你於{when}的預約已取消。再次預約：{link}",
    ),
    Kind.REMINDER: Wording(
        "appointment_reminder",
        ("clinic", "when", "link"),
        "{clinic}: a reminder of your appointment on {when}. Details: {link}",
        "{clinic}：提提你，你的預約在{when}。詳情：{link}",
    ),
    Kind.SESSION_DUE: Wording(
        "plan_session_due",
        ("clinic", "number", "treatment", "link"),
        "{clinic}: time to book session {number} of your {treatment}: {link}",
        "{clinic}：可以預約{treatment}第{number}次療程了：{link}",
    ),
    Kind.SESSION_LAST_CALL: Wording(
        "plan_session_last_call",
        ("clinic", "number", "treatment", "until", "link"),
        "{clinic}: last days to book session {number} of your {treatment} (by {until}): {link}",
        "{clinic}：{treatment}第{number}次療程請於{until}前預約：{link}",
    ),
    Kind.AFTERCARE: Wording(
        "aftercare",
        ("clinic", "treatment", "link"),
        "{clinic}: aftercare for your {treatment}: {link}",
        "{clinic}：{treatment}療程後護理：{link}",
    ),
    Kind.PRE_CARE: Wording(
        "pre_care",
        ("clinic", "treatment", "when", "link"),
        "{clinic}: before your {treatment} on {when}, please read and confirm: {link}",
        "{clinic}：{when}{treatment}療程前須知，請細閱並確認：{link}",
    ),
    Kind.WAITLIST_OFFER: Wording(
        "waitlist_offer",
        ("clinic", "treatment", "when", "until", "link"),
        "{clinic}: a time has opened up: {treatment}, {when}. Held for you until {until}. Accept or decline: {link}",
        "{clinic}：有空檔了：{treatment}，{when}。為你保留至{until}。接受或拒絕：{link}",
    ),
    Kind.MISSED_VISIT: Wording(
        "missed_visit",
        ("clinic", "day", "treatment", "link"),
        "{clinic}: we missed you {day}. To book your {treatment} again: {link}",
        "{clinic}：{day}未能見到你。再次預約{treatment}：{link}",
    ),
    Kind.CHANGE_LINK: Wording(
        "appointment_change",
        ("clinic", "when", "link"),
        "{clinic}: to change your appointment on {when}, choose a new time here: {link}",
        "{clinic}：如要更改{when}的預約，請在此選擇新時間：{link}",
    ),
    Kind.DEPOSIT_REFUNDED: Wording(
        "deposit_refunded",
        ("clinic", "when", "link"),
        "{clinic}: your deposit for {when} came after the hold ended and the time was taken. Not booked; refunded in"
        " full. Book again: {link}",
        "{clinic}：你為{when}支付的訂金在保留時間過後才收到，時段已被預約。預約未成立，訂金全數退還。再次預約：{link}",
    ),
}

# The change link once the visit is inside the notice: no link, the clinic's phone instead.
CHANGE_BY_PHONE = Wording(
    "appointment_change_by_phone",
    ("clinic", "when", "phone"),
    "{clinic}: your appointment on {when} is too near to change online. Please call us on {phone}.",
    "{clinic}：你於{when}的預約臨近，不能在網上更改。請致電{phone}。",
)

# On its own line: a full stop straight after the link would join it on some phones.
REPLY_HINT = {EN: "\nReply 1 to confirm, 2 to change", ZH: "\n回覆 1 確認，回覆 2 更改"}
REMINDER_BUTTONS = ("confirm", "change")


def _short(text: str, limit: int = NAME_LIMIT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _fields(notification: Notification, context: dict[str, Any], language: str) -> dict[str, str]:
    appointment = notification.appointment
    fields = {
        "clinic": _short(context["clinic_name"]),
        "treatment": _short(context.get("treatment", "")),
        "when": context.get("when_short", ""),
        "phone": context["clinic_phone"],
    }
    kind = notification.kind
    if kind in (Kind.CANCELLATION, Kind.DEPOSIT_REFUNDED) and appointment is not None:
        fields["link"] = context["book_url"]
    elif kind == Kind.CHANGE_LINK and appointment is not None:
        fields["link"] = link(f"/appointments/{appointment.pk}/reschedule/")
    elif kind == Kind.PRE_CARE:
        fields["link"] = context["confirm_url"]
    elif kind == Kind.AFTERCARE and appointment is not None:
        fields["link"] = link(f"/treatments/{appointment.treatment.slug}/")
    elif kind == Kind.MISSED_VISIT:
        fields["link"] = context["rebook_url"]
        today = context["missed_today"]
        fields["day"] = (
            ("今天" if today else context["visit_date"])
            if language == ZH
            else ("today" if today else f"on {context['visit_date']}")
        )
    elif kind == Kind.WAITLIST_OFFER:
        fields["link"] = context["offer_url"]
        fields["until"] = context["held_until"]
    elif kind in (Kind.SESSION_DUE, Kind.SESSION_LAST_CALL):
        fields["link"] = context["plan_url"]
        fields["number"] = str(context["session_number"])
        fields["until"] = context["window_end"]
    else:
        fields["link"] = context.get("manage_url", context["appointments_url"])
    return fields


def wording(notification: Notification, context: dict[str, Any]) -> Wording:
    if notification.kind == Kind.CHANGE_LINK and not context.get("changes_open", True):
        return CHANGE_BY_PHONE
    return TEMPLATES[notification.kind]


def build_text(notification: Notification, *, channel: str, to: str, now: datetime) -> channels.Outgoing:
    """The SMS or WhatsApp message for ``notification`` to the number ``to``,
    in the patient's language, as things stand ``now``."""
    language = ZH if notification.patient.preferred_language == ZH else EN
    context = message_context(notification, language=language, now=now)
    words = wording(notification, context)
    fields = _fields(notification, context, language)
    text = (words.zh if language == ZH else words.en).format(**fields)
    buttons: tuple[str, ...] = ()
    if notification.kind == Kind.REMINDER and notification.appointment is not None:
        uid = notification.appointment.uid
        buttons = tuple(f"{action}:{uid}" for action in REMINDER_BUTTONS)
        if channel == channels.SMS:
            text += REPLY_HINT[language]
    return channels.Outgoing(
        channel=channel,
        to=to,
        text=text,
        template=words.template,
        language=language,
        params=tuple(fields[name] for name in words.params),
        buttons=buttons if channel == channels.WHATSAPP else (),
        reference=str(notification.pk),
    )
