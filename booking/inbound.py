"""What the SMS and WhatsApp providers tell the clinic: a patient's answer to
a reminder (a WhatsApp button, an SMS reply) and delivery receipts.

The webhooks (booking/hooks.py) check the provider's signature, then hand the
parsed events to the services here. Each event is recorded in ``InboundEvent``
by the provider's own id for it, in the same transaction as its effect: a
provider that sends the same webhook again (they do, whenever an answer was
slow or lost) finds the event recorded and changes nothing the second time.

* **Signatures.** Twilio signs with ``X-Twilio-Signature``: base64 of the
  HMAC-SHA1, keyed with the auth token, of the full URL it called followed by
  every POST parameter's name and value, sorted by name. Meta signs with
  ``X-Hub-Signature-256``: ``sha256=`` and the hex HMAC-SHA256, keyed with the
  app secret, of the raw body. Both are compared in constant time. The URL
  Twilio signed is the one it was given: ``CLINIC_BASE_URL`` plus the path,
  never the Host header, which a reverse proxy may have rewritten.
* **Answers.** A WhatsApp quick-reply button's payload names the appointment
  (``confirm:<uid>`` / ``change:<uid>``, booking.notifications); an SMS reply
  ("1", "2", "yes", "確認"...) answers the latest reminder sent by SMS to that
  number whose visit is still confirmed and ahead. Either way the sender's
  number must be the patient's, or nothing happens. Confirm →
  ``appointment_patient_confirm``; change → ``notify_change_link`` (the
  reschedule link, on the channel the patient asked on).
* **Receipts.** Delivered and read move a ``NotificationDelivery`` forward
  only (receipts arrive out of order); failed hands it to
  ``notification_channel_failed``, which falls back to the patient's next
  channel when the provider's code says this one cannot work.

Logs carry ids, codes and outcomes only: never a number or a message's text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import transaction

from booking import channels, notifications, services
from booking.models import Appointment, InboundEvent, Notification, NotificationDelivery

logger = logging.getLogger(__name__)

TWILIO = "twilio"
WHATSAPP = "whatsapp"
CONFIRM = "confirm"
CHANGE = "change"

Delivery = NotificationDelivery.Status


# --- configuration ------------------------------------------------------------------


def provider_options(channel: str, backend: type) -> dict[str, Any] | None:
    """The channel's options when it is configured with that provider's
    backend; None otherwise (its webhooks then refuse everything)."""
    entry = channels.config(channel)
    if entry is None or entry.get("BACKEND") != f"{backend.__module__}.{backend.__qualname__}":
        return None
    return dict(entry.get("OPTIONS", {}))


def twilio_options() -> dict[str, Any] | None:
    options = provider_options(channels.SMS, channels.TwilioBackend)
    return options if options and options.get("secret") else None


def whatsapp_options() -> dict[str, Any] | None:
    options = provider_options(channels.WHATSAPP, channels.WhatsAppBackend)
    return options if options and options.get("app_secret") else None


def public_url(path: str) -> str:
    """The URL the provider called, as it knows it: behind a proxy the
    request's own scheme and host may differ, so CLINIC_BASE_URL decides."""
    return settings.CLINIC_BASE_URL + path


# --- signatures -----------------------------------------------------------------------


def twilio_signature(token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature for a POST of ``params`` to ``url``. A name
    sent several times counts each distinct value once, in order (as Twilio's
    own libraries do)."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_signature_valid(token: str, url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    if not token or not signature:
        return False
    return hmac.compare_digest(twilio_signature(token, url, params).encode(), signature.encode())


def whatsapp_signature(app_secret: str, body: bytes) -> str:
    """Meta's X-Hub-Signature-256 for a webhook body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def whatsapp_signature_valid(app_secret: str, body: bytes, signature: str) -> bool:
    if not app_secret or not signature:
        return False
    return hmac.compare_digest(whatsapp_signature(app_secret, body).encode(), signature.strip().lower().encode())


# --- events: parsed from the providers' payloads, no database -------------------------


@dataclass(frozen=True)
class Reply:
    """A patient's answer. ``appointment_uid`` comes with a WhatsApp button;
    an SMS reply leaves it empty (it answers the latest SMS reminder)."""

    provider: str
    event_id: str
    channel: str
    sender: str  # E.164, or "" when the provider's number could not be read
    action: str  # CONFIRM, CHANGE or "" (anything else: recorded and ignored)
    appointment_uid: str = ""


@dataclass(frozen=True)
class Receipt:
    provider: str
    event_id: str
    channel: str
    provider_id: str
    status: str  # a Delivery status, or "" for one that changes nothing (queued, sent...)
    error_code: str = ""
    permanent: bool = False


Event = Reply | Receipt


def e164(raw: str) -> str:
    """A provider's phone number as E.164 (WhatsApp writes it without "+"), or ""."""
    digits = raw.strip()
    if not digits:
        return ""
    if not digits.startswith("+"):
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_PAYLOAD = re.compile(r"^(confirm|change):([0-9a-fA-F-]{32,36})$")


def button_action(payload: str) -> tuple[str, str]:
    """``confirm:<uid>`` / ``change:<uid>`` → (action, uid), else ("", "")."""
    match = _PAYLOAD.match(payload.strip())
    if not match:
        return "", ""
    try:
        uid = str(uuid.UUID(match.group(2)))
    except ValueError:
        return "", ""
    return match.group(1), uid


_CONFIRM_WORDS = frozenset({"1", "y", "yes", "c", "confirm", "ok", "okay", "確認", "确认", "確定", "是", "好"})
_CHANGE_WORDS = frozenset({"2", "change", "reschedule", "r", "更改", "改期", "改時間", "改时间", "改"})
_EDGES = " \t\r\n.,!?;:'\"()[]。，！？；：、「」"


def sms_action(body: str) -> str:
    """What an SMS reply means: CONFIRM, CHANGE or "" (anything else). Trimmed
    and case-folded, full-width characters read as their ASCII forms (NFKC),
    so "1", "１", " Yes! ", "確認" and "C" all confirm; "2" or "改期" change."""
    text = unicodedata.normalize("NFKC", body).casefold().strip(_EDGES)
    text = " ".join(text.split())
    if text in _CONFIRM_WORDS:
        return CONFIRM
    if text in _CHANGE_WORDS:
        return CHANGE
    return ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


_WHATSAPP_STATUSES = {"delivered": Delivery.DELIVERED, "read": Delivery.READ, "failed": Delivery.FAILED}


def whatsapp_events(payload: Any, *, phone_number_id: str) -> list[Event]:
    """The replies and receipts of one WhatsApp webhook body, for our phone
    number only. Any shape Meta might send (or a stranger with our secret) is
    read without an exception: what cannot be read is left out."""
    events: list[Event] = []
    if not isinstance(payload, dict):
        return events
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            if _text(metadata.get("phone_number_id")) != phone_number_id:  # type: ignore[union-attr]
                continue  # another number of the same Meta app
            for message in _dicts(value.get("messages")):
                event = _whatsapp_message(message)
                if event is not None:
                    events.append(event)
            for status in _dicts(value.get("statuses")):
                receipt = _whatsapp_status(status)
                if receipt is not None:
                    events.append(receipt)
    return events


def _whatsapp_message(message: dict[str, Any]) -> Reply | None:
    message_id = _text(message.get("id"))
    if not message_id:
        return None
    payload = ""
    if message.get("type") == "button" and isinstance(message.get("button"), dict):
        payload = _text(message["button"].get("payload"))
    elif message.get("type") == "interactive" and isinstance(message.get("interactive"), dict):
        reply = message["interactive"].get("button_reply")
        payload = _text(reply.get("id")) if isinstance(reply, dict) else ""
    action, uid = button_action(payload)
    if not action and message.get("type") == "text" and isinstance(message.get("text"), dict):
        # A typed "1" or "確認" answers like an SMS reply would: the latest reminder on this channel.
        action = sms_action(_text(message["text"].get("body")))
    return Reply(
        provider=WHATSAPP,
        event_id=message_id[:200],
        channel=channels.WHATSAPP,
        sender=e164(_text(message.get("from"))),
        action=action,
        appointment_uid=uid,
    )


def _whatsapp_status(status: dict[str, Any]) -> Receipt | None:
    provider_id, name = _text(status.get("id")), _text(status.get("status"))
    if not provider_id or not name:
        return None
    code: int | None = None
    errors = _dicts(status.get("errors"))
    if errors and isinstance(errors[0].get("code"), int):
        code = errors[0]["code"]
    ours = _WHATSAPP_STATUSES.get(name, "")
    return Receipt(
        provider=WHATSAPP,
        event_id=f"{provider_id}:{name}"[:200],
        channel=channels.WHATSAPP,
        provider_id=provider_id[:128],
        status=ours,
        error_code=str(code) if code is not None else ("unknown" if ours == Delivery.FAILED else ""),
        permanent=channels.whatsapp_permanent(code),
    )


def twilio_reply(params: Mapping[str, str], *, account: str) -> Reply | None:
    """An SMS a patient sent to the clinic's number (Twilio's incoming message webhook)."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid or params.get("AccountSid", account) != account:
        return None
    return Reply(
        provider=TWILIO,
        event_id=sid[:200],
        channel=channels.SMS,
        sender=e164(params.get("From", "")),
        action=sms_action(params.get("Body", "")),
    )


_TWILIO_STATUSES = {
    "delivered": Delivery.DELIVERED,
    "read": Delivery.READ,
    "undelivered": Delivery.FAILED,
    "failed": Delivery.FAILED,
}


def twilio_receipt(params: Mapping[str, str], *, account: str) -> Receipt | None:
    """A status callback (StatusCallback of the message's creation)."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    name = params.get("MessageStatus") or params.get("SmsStatus") or ""
    if not sid or not name or params.get("AccountSid", account) != account:
        return None
    raw_code = params.get("ErrorCode", "").strip()
    code = int(raw_code) if raw_code.isdigit() else None
    ours = _TWILIO_STATUSES.get(name, "")
    return Receipt(
        provider=TWILIO,
        event_id=f"{sid}:{name}"[:200],
        channel=channels.SMS,
        provider_id=sid[:128],
        status=ours,
        error_code=str(code) if code is not None else ("unknown" if ours == Delivery.FAILED else ""),
        permanent=channels.twilio_permanent(code, status=400),
    )


# --- services -------------------------------------------------------------------------


def _first_time(event: Event) -> bool:
    """Records the event; False if it was recorded before (a replay). Inside
    the caller's transaction: a concurrent copy of the same event waits on the
    unique index, then finds it."""
    _row, created = InboundEvent.objects.get_or_create(provider=event.provider, event_id=event.event_id)
    return created


def inbound_handle(*, event: Event, now: datetime) -> str:
    """Applies one event once and says what happened (for the log and the
    tests): ``replay``, ``ignored``, ``confirmed``, ``unchanged``,
    ``change_link``, or for receipts the new status, ``unchanged`` or
    ``unknown`` (no delivery has that provider id). Owns its transaction."""
    with transaction.atomic(durable=True):
        if not _first_time(event):
            outcome = "replay"
        elif isinstance(event, Reply):
            outcome = _reply(event, now)
        else:
            outcome = _receipt(event, now)
    logger.info("inbound %s event %s: %s", event.provider, type(event).__name__.lower(), outcome)
    return outcome


def _answered_appointment(event: Reply, now: datetime) -> Appointment | None:
    """The confirmed, upcoming appointment the reply is about, if the sender
    is its patient: the button's appointment, or for a text reply the latest
    reminder sent on that channel to that number."""
    if not event.sender:
        return None
    upcoming = Appointment.objects.filter(status=Appointment.Status.CONFIRMED, start__gt=now)
    if event.appointment_uid:
        appointment = upcoming.select_related("patient").filter(uid=event.appointment_uid).first()
        if appointment is None or appointment.patient.phone != event.sender:
            return None
        return appointment
    delivery = (
        NotificationDelivery.objects.filter(
            channel=event.channel,
            notification__kind=Notification.Kind.REMINDER,
            notification__appointment__in=upcoming,
            notification__appointment__patient__phone=event.sender,
        )
        .exclude(status=Delivery.FAILED)
        .select_related("notification__appointment")
        .order_by("-created_at", "-pk")
        .first()
    )
    return delivery.notification.appointment if delivery is not None else None


def _reply(event: Reply, now: datetime) -> str:
    if not event.action:
        return "ignored"
    appointment = _answered_appointment(event, now)
    if appointment is None:
        return "ignored"
    if event.action == CONFIRM:
        confirmed = services.appointment_patient_confirm_locked(appointment=appointment, via=event.channel, now=now)
        return "confirmed" if confirmed else "unchanged"
    sent = notifications.notify_change_link(appointment=appointment, channel=event.channel, now=now)
    return "change_link" if sent is not None else "unchanged"


_RANK = {Delivery.ACCEPTED: 0, Delivery.DELIVERED: 1, Delivery.READ: 2}


def _receipt(event: Receipt, now: datetime) -> str:
    if not event.status:
        return "unchanged"  # queued, sent...: "accepted" says as much
    found = NotificationDelivery.objects.filter(channel=event.channel, provider_id=event.provider_id).first()
    if found is None:
        return "unknown"
    # The notification's row, then the delivery's: notification_channel_failed's order.
    Notification.objects.select_for_update().filter(pk=found.notification_id).first()
    delivery = NotificationDelivery.objects.select_for_update().get(pk=found.pk)
    if delivery.status not in _RANK:
        return "unchanged"  # failed already: a late "delivered" cannot undo the fallback
    if event.status == Delivery.FAILED:
        if delivery.status != Delivery.ACCEPTED:
            return "unchanged"  # delivered or read: the patient has it, whatever a stray "failed" says
        notifications.notification_channel_failed(
            delivery=delivery, code=event.error_code, permanent=event.permanent, now=now
        )
        return Delivery.FAILED
    if _RANK[event.status] <= _RANK[delivery.status]:  # type: ignore[index]
        return "unchanged"  # out of order: "delivered" after "read"
    delivery.status = event.status
    delivery.save(update_fields=["status", "updated_at"])
    return event.status
