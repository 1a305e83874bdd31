"""Text channels beside email: SMS and WhatsApp, behind one small interface.

Each channel is configured by one URL-style setting, like ``EMAIL_URL``
(``SMS_URL``, ``WHATSAPP_URL``; parsed by ``clinic.env.channel_from_url``):

* ``locmem://``: messages are appended to ``booking.channels.outbox`` (tests);
  ``locmem_failures`` makes the next send to a number fail as told;
* ``console://``: printed to standard output (development);
* provider URLs (``twilio://``, ``whatsapp://``; ``+http`` for a local fake):
  see the backends below.

A channel with no setting is not offered: patients cannot choose it and the
outbox never sends on it. The outbox (booking/notifications.py) renders an
``Outgoing`` and calls ``send``; it gets the provider's message id back or a
``ChannelError`` that says whether retrying on this channel can help.
"""

from __future__ import annotations

import itertools
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import requests
from django.conf import settings
from django.utils.module_loading import import_string

SMS = "sms"
WHATSAPP = "whatsapp"
TEXT_CHANNELS = (SMS, WHATSAPP)


@dataclass(frozen=True)
class Outgoing:
    """One message to one phone. ``text`` is the SMS body (and, for WhatsApp,
    what the approved ``template`` says with ``params`` filled in: shown in
    logs of the local backends and the notification log's preview).
    ``buttons`` are the quick-reply payloads, in the template's button order."""

    channel: str
    to: str  # E.164, e.g. +85291234567
    text: str
    template: str = ""
    language: str = "en"
    params: tuple[str, ...] = ()
    buttons: tuple[str, ...] = ()
    reference: str = ""  # our id for it (the notification), for logs and idempotency keys


class ChannelError(Exception):
    """A send the provider refused or that never reached it. ``permanent``:
    no retry on this channel can help (an invalid number, not on WhatsApp,
    the patient blocked us); the outbox then falls back to the patient's next
    channel. ``code`` is the provider's error code, never patient data."""

    def __init__(self, code: str, *, permanent: bool, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.permanent = permanent
        self.detail = detail


class ChannelUnavailable(Exception):
    """The channel has no setting: nothing can be sent on it."""


class Backend(Protocol):
    def send(self, message: Outgoing) -> str: ...


# --- local backends ------------------------------------------------------------

outbox: list[Outgoing] = []
locmem_failures: dict[str, ChannelError] = {}
_ids = itertools.count(1)


@dataclass
class LocmemBackend:
    options: dict[str, Any] = field(default_factory=dict)

    def send(self, message: Outgoing) -> str:
        failure = locmem_failures.get(message.to)
        if failure is not None:
            raise failure
        outbox.append(message)
        return f"locmem-{message.channel}-{next(_ids)}"


@dataclass
class ConsoleBackend:
    options: dict[str, Any] = field(default_factory=dict)

    def send(self, message: Outgoing) -> str:
        buttons = f" [{' | '.join(message.buttons)}]" if message.buttons else ""
        sys.stdout.write(f"--- {message.channel} to {message.to} ---\n{message.text}{buttons}\n")
        sys.stdout.flush()
        return f"console-{message.channel}-{next(_ids)}"


# --- configuration -------------------------------------------------------------


def config(channel: str) -> dict[str, Any] | None:
    return settings.CLINIC_CHANNELS.get(channel)


def configured(channel: str) -> bool:
    """Email always is; SMS and WhatsApp when their URL setting is set."""
    return channel == "email" or config(channel) is not None


def available() -> list[str]:
    """The channels patients may choose, email first."""
    return ["email", *(channel for channel in TEXT_CHANNELS if configured(channel))]


_instances = threading.local()


def backend(channel: str) -> Backend:
    """The channel's backend, one instance per thread and configuration, so
    the providers' HTTP connections are kept open between messages (a
    ``requests.Session`` is not meant to be shared between threads)."""
    entry = config(channel)
    if entry is None:
        raise ChannelUnavailable(channel)
    options = entry.get("OPTIONS", {})
    key = (channel, entry["BACKEND"], tuple(sorted((name, str(value)) for name, value in options.items())))
    cache: dict[tuple[Any, ...], Backend] = _instances.__dict__.setdefault("backends", {})
    found = cache.get(key)
    if found is None:
        found = cache[key] = import_string(entry["BACKEND"])(options=options)
    return found


def send(message: Outgoing) -> str:
    """Sends one message; returns the provider's id for it. Raises
    ``ChannelError`` or ``ChannelUnavailable``."""
    return backend(message.channel).send(message)


# --- providers -------------------------------------------------------------------
#
# Both speak HTTPS (plain HTTP to a local fake with ``twilio+http://`` /
# ``whatsapp+http://``) through one ``requests.Session`` per backend instance,
# so a batch of messages reuses its connection. Neither logs anything: the
# caller records the provider's id or the ChannelError, and a ChannelError's
# text is the provider's code and our own words for it, never the provider's
# message (Twilio's and Meta's echo the phone number).

TIMEOUT = (3.0, 10.0)  # seconds to connect, seconds to wait for the answer


def _http_session(*, user_agent: str) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    session.trust_env = False  # no proxy or netrc from the environment: the URL setting says where
    return session


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _post(session: requests.Session, url: str, **kwargs: Any) -> requests.Response:
    """A POST whose every failure to get an answer is a temporary ChannelError:
    nothing is known to have reached the provider, so trying again may help."""
    try:
        return session.post(url, timeout=TIMEOUT, allow_redirects=False, **kwargs)
    except requests.Timeout:
        raise ChannelError("timeout", permanent=False, detail="no answer in time") from None
    except requests.RequestException as error:
        raise ChannelError("network", permanent=False, detail=type(error).__name__) from None


# Twilio's documented error codes (https://www.twilio.com/docs/api/errors) for
# which no retry of the same message to the same number can succeed. The first
# ones come back when the message is created; the 30xxx ones in status
# callbacks (booking/inbound.py) when a message accepted earlier is undelivered.
TWILIO_PERMANENT: dict[int, str] = {
    21211: "invalid 'To' number",
    21408: "no permission to send to that region",
    21610: "the recipient replied STOP (unsubscribed)",
    21612: "no route to that number",
    21614: "'To' number is not a mobile number",
    21635: "'To' number cannot be reached by SMS",
    30003: "unreachable destination handset",
    30004: "message blocked",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "filtered by the carrier",
}
# Errors about our account or request (a wrong token, a bad sender) are not the
# patient's: retried (an operator may fix the setting meanwhile) and, after the
# last attempt, listed as failed for staff rather than moved to another channel.
TWILIO_TEMPORARY: dict[int, str] = {
    20003: "authentication failed (check SMS_URL)",
    20429: "too many requests",
    30001: "queue overflow",
    30002: "account suspended",
    30008: "unknown error",
    30009: "missing segment",
    30010: "message price exceeds max price",
}


def twilio_permanent(code: int | None, *, status: int) -> bool:
    """Whether a Twilio error means "never on this channel for this number".
    Known codes decide; otherwise 429 and 5xx are temporary and any other 4xx
    (a request Twilio refuses as it stands) is permanent."""
    if code in TWILIO_PERMANENT:
        return True
    if code in TWILIO_TEMPORARY:
        return False
    return 400 <= status < 500 and status not in (401, 403, 408, 429)


def twilio_describe(code: int | None) -> str:
    return TWILIO_PERMANENT.get(code or 0) or TWILIO_TEMPORARY.get(code or 0) or ""


@dataclass
class TwilioBackend:
    """SMS through Twilio's Programmable Messaging REST API: one POST to
    ``/2010-04-01/Accounts/{AccountSid}/Messages.json`` with basic auth
    (account SID, auth token) and the form fields To, From (the ``from``
    option) or MessagingServiceSid (``messaging_service_sid``), Body and
    StatusCallback (the clinic's ``/hooks/twilio/status/``, so delivery
    receipts reach booking/inbound.py). Returns the message SID."""

    options: dict[str, Any] = field(default_factory=dict)
    session: requests.Session = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.session = _http_session(user_agent="clinic-sms/1")
        self.session.auth = (self.options.get("account", ""), self.options.get("secret", ""))

    @property
    def url(self) -> str:
        account = quote(self.options.get("account", ""), safe="")
        return f"{self.options['base_url']}/2010-04-01/Accounts/{account}/Messages.json"

    def send(self, message: Outgoing) -> str:
        from django.urls import reverse

        form = {
            "To": message.to,
            "Body": message.text,
            "StatusCallback": settings.CLINIC_BASE_URL + reverse("hooks:twilio_status"),
        }
        if self.options.get("messaging_service_sid"):
            form["MessagingServiceSid"] = self.options["messaging_service_sid"]
        else:
            form["From"] = self.options.get("from", "")
        response = _post(self.session, self.url, data=form)
        body = _json(response)
        if response.status_code in (200, 201) and isinstance(body.get("sid"), str) and body["sid"]:
            return str(body["sid"])
        code = body.get("code") if isinstance(body.get("code"), int) else None
        if response.status_code in (200, 201):
            raise ChannelError("invalid_answer", permanent=False, detail="no message SID in Twilio's answer")
        raise ChannelError(
            str(code) if code else f"http_{response.status_code}",
            permanent=twilio_permanent(code, status=response.status_code),
            detail=twilio_describe(code) or f"HTTP {response.status_code}",
        )


# Meta's documented WhatsApp Cloud API error codes
# (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
WHATSAPP_PERMANENT: dict[int, str] = {
    100: "invalid parameter",
    131008: "required parameter missing",
    131009: "parameter value not valid",
    131021: "recipient cannot be the sender",
    131026: "message undeliverable (not on WhatsApp, or an old app)",
    131047: "more than 24 hours since the patient's last message (re-engagement)",
    131049: "not delivered to keep the ecosystem healthy",
    131050: "the patient stopped these messages",
    131051: "unsupported message type",
    131052: "media download error",
    131053: "media upload error",
    132000: "template parameters do not match",
    132001: "template does not exist in that language",
    132005: "template text too long",
    132007: "template format policy violated",
    132012: "template parameter format mismatch",
    132015: "template paused",
    132016: "template disabled",
    132068: "flow is blocked",
    132069: "flow is throttled",
}
WHATSAPP_TEMPORARY: dict[int, str] = {
    0: "authentication failed (check WHATSAPP_URL)",
    1: "API unknown error",
    2: "API service temporarily unavailable",
    4: "too many API calls",
    190: "access token expired (check WHATSAPP_URL)",
    80007: "rate limit",
    130429: "throughput rate limit",
    131000: "something went wrong",
    131016: "service unavailable",
    131048: "spam rate limit",
    131056: "too many messages to this number",
    133004: "server temporarily unavailable",
}


def whatsapp_permanent(code: int | None, *, status: int = 400) -> bool:
    """As ``twilio_permanent``, for Meta's codes."""
    if code in WHATSAPP_PERMANENT:
        return True
    if code in WHATSAPP_TEMPORARY:
        return False
    return 400 <= status < 500 and status not in (401, 403, 408, 429)


def whatsapp_describe(code: int | None) -> str:
    return WHATSAPP_PERMANENT.get(code or 0) or WHATSAPP_TEMPORARY.get(code if code is not None else -1) or ""


# Our languages to the template languages approved in WhatsApp Manager.
WHATSAPP_LANGUAGES = {"en": "en", "zh-hant": "zh_HK"}


@dataclass
class WhatsAppBackend:
    """WhatsApp through Meta's Cloud API: a POST to
    ``{base_url}/{phone_number_id}/messages`` with the access token as a
    bearer token. With a ``template`` (every message that may start a
    conversation must be an approved template): the template in the patient's
    language, ``params`` as the body's text parameters and each of
    ``buttons`` as a quick-reply button's payload, in order. Without one, a
    plain text message (accepted only within 24 hours of the patient's own
    message, e.g. the answer to a button they pressed). Returns the wamid."""

    options: dict[str, Any] = field(default_factory=dict)
    session: requests.Session = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.session = _http_session(user_agent="clinic-whatsapp/1")
        self.session.headers["Authorization"] = f"Bearer {self.options.get('secret', '')}"

    @property
    def url(self) -> str:
        return f"{self.options['base_url']}/{quote(self.options.get('account', ''), safe='')}/messages"

    @staticmethod
    def payload(message: Outgoing) -> dict[str, Any]:
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.to}
        if not message.template:
            body.update(type="text", text={"preview_url": False, "body": message.text})
            return body
        components: list[dict[str, Any]] = []
        if message.params:
            components.append(
                {"type": "body", "parameters": [{"type": "text", "text": value} for value in message.params]}
            )
        components += [
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
            for index, payload in enumerate(message.buttons)
        ]
        template: dict[str, Any] = {
            "name": message.template,
            "language": {"code": WHATSAPP_LANGUAGES.get(message.language, "en")},
        }
        if components:
            template["components"] = components
        body.update(type="template", template=template)
        return body

    def send(self, message: Outgoing) -> str:
        response = _post(self.session, self.url, json=self.payload(message))
        body = _json(response)
        if response.status_code == 200:
            messages = body.get("messages")
            if isinstance(messages, list) and messages and isinstance(messages[0], dict):
                wamid = messages[0].get("id")
                if isinstance(wamid, str) and wamid:
                    return wamid
            raise ChannelError("invalid_answer", permanent=False, detail="no message id in Meta's answer")
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        code = error.get("code") if isinstance(error.get("code"), int) else None  # type: ignore[union-attr]
        raise ChannelError(
            str(code) if code is not None else f"http_{response.status_code}",
            permanent=whatsapp_permanent(code, status=response.status_code),
            detail=whatsapp_describe(code) or f"HTTP {response.status_code}",
        )
