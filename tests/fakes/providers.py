"""A local stand-in for Twilio's Messaging API and Meta's WhatsApp Cloud API,
one HTTP server on a free port for both, started in a thread.

It answers as the providers document:

* Twilio: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with basic
  auth (account SID, auth token) and a form (To, From or MessagingServiceSid,
  Body, StatusCallback) → 201 ``{"sid": "SM…", "status": "queued", ...}``; a
  refused number → 400 ``{"code": 21211, "message": ..., "more_info": ...,
  "status": 400}``; a wrong token → 401 (code 20003).
* Meta: ``POST /{version}/{phone-number-id}/messages`` with a bearer token and
  a JSON body → 200 ``{"messaging_product": "whatsapp", "contacts": [...],
  "messages": [{"id": "wamid…"}]}``; a refused number → 400 ``{"error":
  {"message", "type": "OAuthException", "code": 131026, "error_data",
  "fbtrace_id"}}``; a wrong token → 401 (code 190).

Every request is recorded (``sent``). ``fail(channel, phone, code)`` makes
sends to that number fail with that code. And it builds the webhooks the
providers send back, signed as they sign them (``Webhook``; ``forged()`` for a
copy with a wrong signature): a WhatsApp button press or text, an SMS reply,
delivery receipts of either, posted to the app over HTTP (``send``) or through
Django's test client (``post``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest

TWILIO_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
WHATSAPP_MESSAGES = re.compile(r"^(?:/v\d+(?:\.\d+)?)?/(?P<phone_number_id>[^/]+)/messages$")

# What the providers say for some documented codes (the fake's answers only).
MESSAGES = {
    21211: "The 'To' number {to} is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
    20429: "Too Many Requests",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131051: "Unsupported message type",
    132001: "Template name does not exist in the translation",
    130429: "Rate limit hit",
    131000: "Something went wrong",
}


@dataclass(frozen=True)
class Sent:
    """One request the fake received."""

    channel: str  # "sms" or "whatsapp"
    to: str
    body: dict[str, Any]  # Twilio's form, or Meta's JSON
    answer_status: int
    message_id: str  # the SID or wamid answered, "" for a refusal
    at: float

    @property
    def text(self) -> str:
        """The SMS body, or a WhatsApp text message's body ("" for a template)."""
        if self.channel == "sms":
            return str(self.body.get("Body", ""))
        return str((self.body.get("text") or {}).get("body", ""))

    @property
    def template(self) -> dict[str, Any]:
        return dict(self.body.get("template") or {})

    @property
    def button_payloads(self) -> list[str]:
        return [
            parameter["payload"]
            for component in self.template.get("components", [])
            if component.get("type") == "button"
            for parameter in component.get("parameters", [])
            if parameter.get("type") == "payload"
        ]


@dataclass(frozen=True)
class Webhook:
    """A webhook as the provider would send it: ``url`` (absolute), the raw
    ``body`` and the headers, the signature among them."""

    url: str
    body: bytes
    content_type: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def forged(self) -> Webhook:
        """The same webhook with a signature made with the wrong key."""
        headers = dict(self.headers)
        for name in headers:
            if name == "X-Hub-Signature-256":
                headers[name] = "sha256=" + hmac.new(b"not-the-secret", self.body, hashlib.sha256).hexdigest()
            elif name == "X-Twilio-Signature":
                params = parse_qsl(self.body.decode(), keep_blank_values=True)
                headers[name] = twilio_signature("not-the-token", self.url, params)
        return replace(self, headers=headers)

    def unsigned(self) -> Webhook:
        return replace(
            self,
            headers={k: v for k, v in self.headers.items() if k not in ("X-Hub-Signature-256", "X-Twilio-Signature")},
        )

    def send(self, timeout: float = 10) -> int:
        """Posts it over HTTP to the app (a live server); returns the status."""
        import requests

        response = requests.post(
            self.url, data=self.body, headers={"Content-Type": self.content_type, **self.headers}, timeout=timeout
        )
        return response.status_code

    def post(self, client: Any) -> Any:
        """Posts it through Django's test client; returns the response."""
        extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in self.headers.items()}
        return client.post(self.path, data=self.body, content_type=self.content_type, **extra)


def twilio_signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Written here from Twilio's documentation, independently of booking/inbound.py."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


@dataclass
class FakeProviders:
    """Both providers on one port. ``app_url`` is where the clinic listens
    (CLINIC_BASE_URL): where the webhooks go, and what they are signed for."""

    app_url: str = "http://testserver"
    twilio_account: str = "AC" + "0" * 30 + "fa"
    twilio_token: str = field(default_factory=lambda: secrets.token_hex(16))
    twilio_from: str = "+85230011234"
    whatsapp_phone_number_id: str = "106540352242922"
    whatsapp_token: str = field(default_factory=lambda: "EAAG" + secrets.token_urlsafe(24))
    whatsapp_app_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    whatsapp_verify_token: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    port: int = 0
    sent: list[Sent] = field(default_factory=list)
    failures: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    delay: float = 0.0  # seconds before each answer (the bench's "provider latency")
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _status_callbacks: dict[str, tuple[str, str]] = field(default_factory=dict)  # SID → (StatusCallback, To)

    # --- the server ---

    def start(self) -> FakeProviders:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, answer = fake._answer(self.path, dict(self.headers.items()), raw)
                if fake.delay:
                    time.sleep(fake.delay)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no phone numbers in the test output

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="fake-providers", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.failures.clear()
            self._status_callbacks.clear()
            self.delay = 0.0

    # --- the clinic's settings ---

    @property
    def sms_url(self) -> str:
        return (
            f"twilio+http://{self.twilio_account}:{self.twilio_token}@127.0.0.1:{self.port}"
            f"?from={quote(self.twilio_from)}"
        )

    @property
    def whatsapp_url(self) -> str:
        query = urlencode({"app_secret": self.whatsapp_app_secret, "verify_token": self.whatsapp_verify_token})
        return (
            f"whatsapp+http://{self.whatsapp_phone_number_id}:{self.whatsapp_token}@127.0.0.1:{self.port}/v21.0?{query}"
        )

    def channels(self, *names: str) -> dict[str, Any]:
        """A CLINIC_CHANNELS setting for this fake (both channels by default)."""
        from clinic.env import channel_from_url

        names = names or ("sms", "whatsapp")
        settings: dict[str, Any] = {}
        if "sms" in names:
            settings["sms"] = channel_from_url(
                "SMS_URL", self.sms_url, providers={"twilio": "booking.channels.TwilioBackend"}
            )
        if "whatsapp" in names:
            settings["whatsapp"] = channel_from_url(
                "WHATSAPP_URL", self.whatsapp_url, providers={"whatsapp": "booking.channels.WhatsAppBackend"}
            )
        return settings

    # --- what it was sent, and refusals on demand ---

    def fail(self, channel: str, phone: str, code: int, *, status: int = 400) -> None:
        """Sends on ``channel`` to ``phone`` are refused with the provider's ``code``."""
        with self._lock:
            self.failures[(channel, phone)] = (code, status)

    def of(self, channel: str, *, to: str | None = None, accepted: bool = True) -> list[Sent]:
        with self._lock:
            return [
                s
                for s in self.sent
                if s.channel == channel and (to is None or s.to == to) and (bool(s.message_id) or not accepted)
            ]

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        route = urlsplit(path).path
        if match := TWILIO_MESSAGES.match(route):
            return self._twilio(match["account"], headers, raw)
        if match := WHATSAPP_MESSAGES.match(route):
            return self._whatsapp(match["phone_number_id"], headers, raw)
        return 404, {"error": "not found"}

    def _twilio(self, account: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(f"{self.twilio_account}:{self.twilio_token}".encode()).decode()
        if account != self.twilio_account or headers.get("Authorization") != expected:
            return 401, {"code": 20003, "message": "Authenticate", "more_info": "", "status": 401}
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        to = form.get("To", "")
        with self._lock:
            failure = self.failures.get(("sms", to))
        if failure:
            code, status = failure
            self._record(Sent("sms", to, form, status, "", time.time()))
            message = MESSAGES.get(code, "Error").format(to=to)
            return status, {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            }
        sid = "SM" + secrets.token_hex(16)
        with self._lock:
            self._status_callbacks[sid] = (form.get("StatusCallback", ""), to)
        self._record(Sent("sms", to, form, 201, sid, time.time()))
        return 201, {
            "sid": sid,
            "account_sid": account,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body", ""),
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }

    def _whatsapp(self, phone_number_id: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        if phone_number_id != self.whatsapp_phone_number_id or headers.get("Authorization") != (
            f"Bearer {self.whatsapp_token}"
        ):
            return 401, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100}}
        to = str(body.get("to", ""))
        with self._lock:
            failure = self.failures.get(("whatsapp", to))
        if failure:
            code, status = failure
            self._record(Sent("whatsapp", to, body, status, "", time.time()))
            return status, {
                "error": {
                    "message": f"(#{code}) {MESSAGES.get(code, 'Error')}",
                    "type": "OAuthException",
                    "code": code,
                    "error_data": {"messaging_product": "whatsapp", "details": MESSAGES.get(code, "")},
                    "fbtrace_id": secrets.token_urlsafe(12),
                }
            }
        wamid = "wamid." + base64.b64encode(secrets.token_bytes(30)).decode().rstrip("=")
        self._record(Sent("whatsapp", to, body, 200, wamid, time.time()))
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
            "messages": [{"id": wamid, "message_status": "accepted"}],
        }

    def _record(self, sent: Sent) -> None:
        with self._lock:
            self.sent.append(sent)

    def wait_for(self, channel: str, count: int = 1, *, to: str | None = None, timeout: float = 20) -> list[Sent]:
        deadline = time.monotonic() + timeout
        while len(self.of(channel, to=to)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {count} {channel} message(s); got {self.of(channel)}")
            time.sleep(0.05)
        return self.of(channel, to=to)

    # --- webhooks back to the clinic, signed as the providers sign them ---

    def _whatsapp_webhook(self, value: dict[str, Any]) -> Webhook:
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": self.twilio_from.lstrip("+"),
                                    "phone_number_id": self.whatsapp_phone_number_id,
                                },
                                **value,
                            },
                        }
                    ],
                }
            ],
        }
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(self.whatsapp_app_secret.encode(), body, hashlib.sha256).hexdigest()
        return Webhook(
            url=self.app_url + "/hooks/whatsapp/",
            body=body,
            content_type="application/json",
            headers={"X-Hub-Signature-256": signature},
        )

    def whatsapp_button(self, sender: str, payload: str, *, context: str = "", text: str = "Confirm") -> Webhook:
        """The patient pressed a quick-reply button of a template message."""
        message: dict[str, Any] = {
            "from": sender.lstrip("+"),
            "id": "wamid." + secrets.token_urlsafe(30),
            "timestamp": str(int(time.time())),
            "type": "button",
            "button": {"payload": payload, "text": text},
        }
        if context:
            message["context"] = {"from": self.twilio_from.lstrip("+"), "id": context}
        return self._whatsapp_webhook(
            {"contacts": [{"profile": {"name": "Patient"}, "wa_id": sender.lstrip("+")}], "messages": [message]}
        )

    def whatsapp_text(self, sender: str, text: str) -> Webhook:
        message = {
            "from": sender.lstrip("+"),
            "id": "wamid." + secrets.token_urlsafe(30),
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": text},
        }
        return self._whatsapp_webhook(
            {"contacts": [{"profile": {"name": "Patient"}, "wa_id": sender.lstrip("+")}], "messages": [message]}
        )

    def whatsapp_status(
        self, wamid: str, status: str, *, recipient: str = "", error_code: int | None = None
    ) -> Webhook:
        """A delivery receipt: sent, delivered, read or failed (with ``error_code``)."""
        entry: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": recipient.lstrip("+"),
        }
        if error_code is not None:
            entry["errors"] = [
                {
                    "code": error_code,
                    "title": MESSAGES.get(error_code, "Error"),
                    "error_data": {"details": MESSAGES.get(error_code, "")},
                }
            ]
        return self._whatsapp_webhook({"statuses": [entry]})

    def _twilio_webhook(self, url: str, params: list[tuple[str, str]]) -> Webhook:
        return Webhook(
            url=url,
            body=urlencode(params).encode(),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": twilio_signature(self.twilio_token, url, params)},
        )

    def twilio_sms(self, sender: str, body: str) -> Webhook:
        """An SMS from ``sender`` to the clinic's number (the number's messaging webhook)."""
        sid = "SM" + secrets.token_hex(16)
        params = [
            ("ToCountry", "HK"),
            ("SmsMessageSid", sid),
            ("NumMedia", "0"),
            ("SmsSid", sid),
            ("SmsStatus", "received"),
            ("Body", body),
            ("To", self.twilio_from),
            ("NumSegments", "1"),
            ("MessageSid", sid),
            ("AccountSid", self.twilio_account),
            ("From", sender),
            ("ApiVersion", "2010-04-01"),
        ]
        return self._twilio_webhook(self.app_url + "/hooks/twilio/sms/", params)

    def twilio_status(self, sid: str, status: str, *, error_code: int | None = None) -> Webhook:
        """A status callback for a message sent earlier, to the StatusCallback it was created with."""
        with self._lock:
            url, to = self._status_callbacks.get(sid, ("", ""))
        params = [
            ("SmsSid", sid),
            ("SmsStatus", status),
            ("MessageStatus", status),
            ("To", to),
            ("MessageSid", sid),
            ("AccountSid", self.twilio_account),
            ("From", self.twilio_from),
            ("ApiVersion", "2010-04-01"),
        ]
        if error_code is not None:
            params.append(("ErrorCode", str(error_code)))
        return self._twilio_webhook(url or self.app_url + "/hooks/twilio/status/", params)


@pytest.fixture(scope="session")
def providers_server() -> Iterator[FakeProviders]:
    fake = FakeProviders().start()
    yield fake
    fake.stop()


@pytest.fixture
def providers(providers_server: FakeProviders, settings: Any) -> FakeProviders:
    """The fake providers, empty, with this process's SMS and WhatsApp channels
    pointed at them and the webhooks addressed to CLINIC_BASE_URL."""
    providers_server.reset()
    providers_server.app_url = settings.CLINIC_BASE_URL
    settings.CLINIC_CHANNELS = providers_server.channels()
    return providers_server
