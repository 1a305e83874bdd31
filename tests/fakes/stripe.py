"""A local stand-in for the parts of Stripe's API the clinic calls, one HTTP
server on a free port started in a thread (the ``stripe`` library is pointed
at it through PAYMENTS_URL's ``stripe+http://`` base address).

It answers as Stripe documents, with form-encoded requests and JSON answers:

* ``POST /v1/checkout/sessions`` → 200 a ``checkout.session`` (``id`` cs_test_…,
  ``url``, ``status`` open, ``payment_status`` unpaid, ``amount_total`` from the
  line item, ``metadata``, ``expires_at``);
* ``GET /v1/checkout/sessions/{id}`` and ``POST …/{id}/expire`` (an expired
  or completed session cannot be expired again: 400 ``invalid_request_error``);
* ``POST /v1/refunds`` (``payment_intent``, ``amount``) → 200 a ``refund``
  with status succeeded; more than is left of the payment → 400
  ``charge_already_refunded``.

Every POST honours ``Idempotency-Key`` as Stripe does: the same key answers
the first answer again and does nothing twice. Every request is recorded
(``requests``); ``fail(path_prefix, status, times)`` makes the next calls
there fail, and ``down`` makes every call a 500.

And it sends the webhooks Stripe would, signed as Stripe signs them
(header ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<payload>">``):
``pay(session_id)`` completes a session and delivers
``checkout.session.completed``; ``completed``/``expired`` build events without
sending them, so tests can replay them or send them out of order;
``Delivery.forged()`` signs with the wrong secret.
"""

from __future__ import annotations

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
from urllib.parse import parse_qsl, urlsplit

import pytest

SESSION = re.compile(r"^/v1/checkout/sessions/(?P<id>[^/]+)$")
SESSION_EXPIRE = re.compile(r"^/v1/checkout/sessions/(?P<id>[^/]+)/expire$")


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str
    path: str
    form: dict[str, str]
    idempotency_key: str
    status: int

    def metadata(self) -> dict[str, str]:
        return _nested(self.form, "metadata")


def _nested(form: dict[str, str], prefix: str) -> dict[str, str]:
    """``metadata[checkout]=…`` → ``{"checkout": …}``."""
    return {key[len(prefix) + 1 : -1]: value for key, value in form.items() if key.startswith(prefix + "[")}


def signature(secret: str, payload: bytes, timestamp: int) -> str:
    """Written here from Stripe's documentation, independently of the app."""
    signed = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signed}"


@dataclass(frozen=True)
class Delivery:
    """One webhook as Stripe would send it: the event, its raw body and headers."""

    url: str
    event: dict[str, Any]
    body: bytes
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def forged(self) -> Delivery:
        return replace(
            self, headers={"Stripe-Signature": signature("whsec_not_the_secret", self.body, int(time.time()))}
        )

    def unsigned(self) -> Delivery:
        return replace(self, headers={})

    def send(self, timeout: float = 20) -> int:
        """Posts it over HTTP to the app (a live server); returns the status."""
        import requests

        response = requests.post(
            self.url, data=self.body, headers={"Content-Type": "application/json", **self.headers}, timeout=timeout
        )
        return response.status_code

    def post(self, client: Any) -> Any:
        """Posts it through Django's test client."""
        extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in self.headers.items()}
        return client.post(self.path, data=self.body, content_type="application/json", **extra)


@dataclass
class FakeStripe:
    """Stripe's API on one port. ``app_url`` is where the clinic listens (webhooks go to /hooks/stripe/)."""

    app_url: str = "http://testserver"
    secret_key: str = field(default_factory=lambda: "sk_test_" + secrets.token_hex(12))
    webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    down: bool = False
    _failures: dict[str, list[int]] = field(default_factory=dict)
    _idempotent: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- the server ---

    def start(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, answer = fake._answer(method, self.path, dict(self.headers.items()), raw)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Request-Id", "req_" + secrets.token_hex(8))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:
                self._reply("POST")

            def do_GET(self) -> None:
                self._reply("GET")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.sessions.clear()
            self.refunds.clear()
            self._failures.clear()
            self._idempotent.clear()
            self.down = False

    @property
    def payments_url(self) -> str:
        """PAYMENTS_URL for this fake."""
        return f"stripe+http://{self.secret_key}:{self.webhook_secret}@127.0.0.1:{self.port}"

    def setting(self) -> dict[str, Any]:
        """A CLINIC_PAYMENTS setting for this fake."""
        from clinic.env import channel_from_url

        setting = channel_from_url("PAYMENTS_URL", self.payments_url, providers={"stripe": "stripe"})
        assert setting is not None
        return setting

    def fail(self, path_prefix: str, status: int = 500, times: int = 1) -> None:
        """The next ``times`` calls to paths starting with ``path_prefix`` answer ``status``."""
        with self._lock:
            self._failures.setdefault(path_prefix, []).extend([status] * times)

    def of(self, method: str, path_prefix: str, *, ok: bool = True) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == method and c.path.startswith(path_prefix) and (not ok or c.status < 300)
            ]

    # --- the API ---

    def _error(self, status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
        kind = "api_error" if status >= 500 else "invalid_request_error"
        return status, {"error": {"type": kind, "code": code, "message": message}}

    def _answer(self, method: str, raw_path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        path = urlsplit(raw_path).path
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        key = next((v for k, v in headers.items() if k.lower() == "idempotency-key"), "")
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        with self._lock:
            if auth != f"Bearer {self.secret_key}":
                status, answer = self._error(401, "invalid_api_key", "Invalid API Key provided.")
            elif method == "POST" and key and key in self._idempotent:
                status, answer = self._idempotent[key]
            elif self.down:
                status, answer = self._error(500, "", "An unknown error occurred.")
            elif failing := next((p for p in self._failures if path.startswith(p) and self._failures[p]), None):
                status, answer = self._error(self._failures[failing].pop(0), "", "An unknown error occurred.")
            else:
                status, answer = self._route(method, path, form)
                if method == "POST" and key and status < 500:
                    self._idempotent[key] = (status, answer)
            self.calls.append(Call(method, path, form, key, status))
        return status, answer

    def _route(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._session_create(form)
        if method == "POST" and (match := SESSION_EXPIRE.match(path)):
            session = self.sessions.get(match["id"])
            if session is None:
                return self._error(404, "resource_missing", "No such checkout.session")
            if session["status"] != "open":
                return self._error(400, "checkout_session_not_open", "Only open sessions can be expired.")
            session["status"] = "expired"
            return 200, dict(session)
        if method == "GET" and (match := SESSION.match(path)):
            session = self.sessions.get(match["id"])
            return (200, dict(session)) if session else self._error(404, "resource_missing", "No such checkout.session")
        if method == "POST" and path == "/v1/refunds":
            return self._refund_create(form)
        return self._error(404, "resource_missing", f"Unrecognized request URL ({method}: {path}).")

    def _session_create(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("mode") != "payment" or "success_url" not in form:
            return self._error(400, "parameter_missing", "Missing required param: mode or success_url.")
        session_id = "cs_test_" + secrets.token_hex(12)
        now = int(time.time())
        expires_at = int(form.get("expires_at") or now + 86400)
        if expires_at < now + 30 * 60 - 5:
            return self._error(400, "parameter_invalid_integer", "expires_at must be at least 30 minutes away.")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": int(form.get("line_items[0][price_data][unit_amount]") or 0),
            "currency": form.get("line_items[0][price_data][currency]", ""),
            "payment_method_types": [v for k, v in sorted(form.items()) if k.startswith("payment_method_types[")],
            "metadata": _nested(form, "metadata"),
            "client_reference_id": form.get("client_reference_id"),
            "success_url": form["success_url"],
            "cancel_url": form.get("cancel_url"),
            "expires_at": expires_at,
            "created": now,
            "payment_intent": None,
            "livemode": False,
            "url": f"http://127.0.0.1:{self.port}/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return 200, dict(session)

    def _refund_create(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = form.get("payment_intent", "")
        paid = next((s for s in self.sessions.values() if s.get("payment_intent") == intent), None)
        if paid is None:
            return self._error(400, "resource_missing", f"No such payment_intent: '{intent}'")
        amount = int(form.get("amount") or paid["amount_total"])
        refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent)
        if amount + refunded > paid["amount_total"]:
            return self._error(400, "charge_already_refunded", "Refund amount is greater than the unrefunded amount.")
        refund = {
            "id": "re_" + secrets.token_hex(12),
            "object": "refund",
            "amount": amount,
            "currency": paid["currency"],
            "payment_intent": intent,
            "status": "succeeded",
            "metadata": _nested(form, "metadata"),
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        return 200, dict(refund)

    # --- the webhooks ---

    def delivery(self, event_type: str, session: dict[str, Any], *, event_id: str | None = None) -> Delivery:
        """An event about ``session`` as Stripe would post it (not sent)."""
        event = {
            "id": event_id or "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": dict(session)},
        }
        return self.signed(event)

    def signed(self, event: dict[str, Any], *, timestamp: int | None = None) -> Delivery:
        body = json.dumps(event).encode()
        header = signature(self.webhook_secret, body, timestamp or int(time.time()))
        return Delivery(self.app_url + "/hooks/stripe/", event, body, {"Stripe-Signature": header})

    def resend(self, delivery: Delivery) -> Delivery:
        """The same event again (Stripe retries with the same id, signed anew)."""
        return self.signed(delivery.event)

    def complete(self, session_id: str, *, payment_status: str = "paid") -> Delivery:
        """The patient pays: the session completes; its completed event (not sent)."""
        with self._lock:
            session = self.sessions[session_id]
            if session["payment_intent"] is None:
                session["payment_intent"] = "pi_" + secrets.token_hex(12)
            session["status"] = "complete"
            session["payment_status"] = payment_status
            snapshot = dict(session)
        return self.delivery("checkout.session.completed", snapshot)

    def pay(self, session_id: str, *, client: Any = None) -> tuple[Delivery, int]:
        """Completes the session and delivers its event: over HTTP, or through ``client``."""
        delivery = self.complete(session_id)
        status = delivery.post(client).status_code if client is not None else delivery.send()
        return delivery, status

    def expired(self, session_id: str) -> Delivery:
        """The session's expired event (not sent; the session itself is left as it is)."""
        with self._lock:
            snapshot = dict(self.sessions[session_id], status="expired")
        return self.delivery("checkout.session.expired", snapshot)


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_stripe(stripe_server: FakeStripe, settings: Any) -> FakeStripe:
    """The fake, empty, with this process's PAYMENTS_URL pointed at it and
    its webhooks addressed to CLINIC_BASE_URL."""
    stripe_server.reset()
    stripe_server.app_url = settings.CLINIC_BASE_URL
    settings.CLINIC_PAYMENTS = stripe_server.setting()
    return stripe_server
