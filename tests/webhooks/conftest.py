"""A local subscriber for the outgoing webhooks: a real HTTP server in a thread.

``Receiver`` records every request (path, headers, body) and answers each with
the next status of its script (``answer(500, 500, 500)``; 200 once the script
is used up), so a test can make it fail a few times and then accept. It binds
127.0.0.1 on a port the kernel chooses; ``allow_local`` lets the clinic send
there (plain http to 127.0.0.1, and the loopback network, which is otherwise
refused).
"""

from __future__ import annotations

import contextlib
import threading
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from booking import services, webhooks
from booking.models import Appointment, Practitioner, WebhookSubscription
from patients.models import Patient
from tests.factories import (
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Treatment


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    delay: float = 0.0
    redirect_to: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/clinic"

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self.script = list(statuses)

    def _next(self) -> int:
        with self._lock:
            return self.script.pop(0) if self.script else 200

    def record(self, entry: Received) -> None:
        with self._lock:
            self.received.append(entry)

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def accepted(self) -> list[Received]:
        return [r for r in self.requests() if 200 <= r.answered < 300]

    def wait_for(self, count: int, *, timeout: float = 30) -> list[Received]:
        deadline = clock.monotonic() + timeout
        while len(self.requests()) < count:
            if clock.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {count} request(s); got {len(self.requests())}")
            clock.sleep(0.05)
        return self.requests()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if receiver.delay:
                clock.sleep(receiver.delay)
            status = 302 if receiver.redirect_to else receiver._next()
            receiver.record(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status))
            self.send_response(status)
            if receiver.redirect_to:
                self.send_header("Location", receiver.redirect_to)
            payload = b"this body is never read by the clinic" * 100
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the clinic closes without reading
                self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler


@contextlib.contextmanager
def serve_receiver() -> Iterator[Receiver]:
    """A ``Receiver`` listening on 127.0.0.1, on a port the kernel chose, until the block ends."""
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as state:
        yield state


@pytest.fixture
def allow_local(settings: Any) -> None:
    settings.CLINIC_WEBHOOK_HTTP_HOSTS = ["127.0.0.1"]
    settings.CLINIC_WEBHOOK_PRIVATE_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def manager() -> Any:
    return UserFactory(role="manager")


def subscribe(
    url: str, *, events: list[str] | None = None, clinical: bool = False, by: Any = None
) -> WebhookSubscription:
    return webhooks.subscription_create(
        url=url,
        events=events or list(webhooks.EVENT_TYPES),
        clinical=clinical,
        by=by or UserFactory(role="manager"),
    )


# --- a small clinic, in Hong Kong time, far ahead so every "now" is passed ---------------

MONDAY = date(2030, 1, 7)
ZONE = ZoneInfo("Asia/Hong_Kong")


def at(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


@pytest.fixture(autouse=True)
def clinic_settings(settings: Any) -> None:
    settings.TIME_ZONE = settings.CLINIC_TIME_ZONE = "Asia/Hong_Kong"
    settings.CLINIC_NAME = "Clear Skin Clinic"
    settings.CLINIC_SLOT_MINUTES = 15
    settings.CLINIC_MIN_NOTICE = timedelta(hours=2)
    settings.CLINIC_CANCELLATION_NOTICE = timedelta(hours=24)
    settings.CLINIC_NO_SHOW_AFTER = timedelta(minutes=30)
    settings.CLINIC_WEBHOOK_MAX_ATTEMPTS = 8
    settings.CLINIC_WEBHOOK_RETRY_SECONDS = 30
    settings.CLINIC_WEBHOOK_HTTP_HOSTS = []
    settings.CLINIC_WEBHOOK_PRIVATE_NETWORKS = []


@dataclass
class Clinic:
    treatment: Treatment
    practitioner: Practitioner
    patient: Patient
    reception: Any
    doctor: Any

    def book(self, start: datetime, *, now: datetime, **kwargs: Any) -> Appointment:
        return services.appointment_book(
            patient=self.patient,
            treatment=self.treatment,
            start=start,
            practitioner=self.practitioner,
            booked_by=self.reception,
            staff=True,
            now=now,
            **kwargs,
        )


@pytest.fixture
def clinic() -> Clinic:
    treatment = TreatmentFactory(
        slug="pico-laser",
        name_en="Pico laser",
        name_zh_hant="皮秒激光",
        duration_minutes=30,
        sessions_min=1,
        sessions_max=3,
    )
    RoomFactory(kind=treatment.room_kind)
    practitioner = PractitionerFactory(treatments=[treatment])
    patient = PatientFactory(full_name="Chan Tai Man", email="tai.man@example.com", phone="+85291234567")
    HealthDeclarationFactory(patient=patient)
    return Clinic(treatment, practitioner, patient, UserFactory(role="receptionist"), practitioner.user)
