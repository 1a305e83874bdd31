"""Real servers for the notification tests.

* ``smtp``: an SMTP server (aiosmtpd) in this process that records every
  message it accepts, and can refuse (451) or slow down on demand.
* ``workers``: real ``celery -A clinic worker`` processes (optionally with
  beat) on Redis, pointed at this test's PostgreSQL database; killed in
  teardown. Tests that use them are transactional, so the workers see what
  the test commits.
* ``private_redis``: a throwaway ``redis-server`` on a free port that a test
  may stop and start again (never the shared one on 6379).
"""

from __future__ import annotations

import email
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(interval)


# --- SMTP -----------------------------------------------------------------------------


@dataclass
class Received:
    message: EmailMessage
    at: float  # time.time() when accepted

    @property
    def kind(self) -> str:
        return str(self.message["X-Clinic-Notification"] or "")

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"] or "")

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.get_filename():
                return str(part.get_content())
        raise AssertionError(f"no {content_type} part")


@dataclass
class SmtpSink:
    """An aiosmtpd handler. ``refuse_for(seconds)`` answers DATA with 451 for
    that long, counted from the first message it sees (so a slow worker start
    on a busy machine cannot use up the window); ``delay`` slows every
    accepted message down."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    delay: float = 0.0
    _refuse_until: float = 0.0
    _refuse_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        with self._lock:
            if self._refuse_seconds:
                self._refuse_until = time.monotonic() + self._refuse_seconds
                self._refuse_seconds = 0.0
        if time.monotonic() < self._refuse_until:
            with self._lock:
                self.refused += 1
            return "451 4.3.0 Try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.received.append(Received(message, time.time()))  # type: ignore[arg-type]
        return "250 2.0.0 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    def mailers(self) -> dict[str, Any]:
        """A MAILERS setting that sends here (for sending in the test process)."""
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": 5},
            }
        }

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.refused = 0
            self.delay = 0.0
            self._refuse_until = 0.0
            self._refuse_seconds = 0.0

    def refuse_for(self, seconds: float) -> None:
        with self._lock:
            self._refuse_seconds = seconds

    def of_kind(self, kind: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.kind == kind]

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def duplicates(self) -> dict[str, int]:
        with self._lock:
            counts = Counter(r.message_id for r in self.received)
        return {message_id: n for message_id, n in counts.items() if n > 1}

    def wait_for(self, kind: str, count: int = 1, timeout: float = 20) -> list[Received]:
        wait_until(lambda: len(self.of_kind(kind)) >= count, timeout=timeout, what=f"{count} {kind} message(s)")
        return self.of_kind(kind)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpSink]:
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command, addresses included
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def smtp(smtp_server: SmtpSink) -> SmtpSink:
    smtp_server.reset()
    return smtp_server


# --- Redis ------------------------------------------------------------------------------


@dataclass
class PrivateRedis:
    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(self._answers, timeout=10, what="redis-server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port(), workdir=tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def use_broker() -> Iterator[Callable[[str], None]]:
    """Points this process's Celery publisher at another broker (a private
    Redis), and back afterwards."""
    from kombu import pools

    from clinic.celery import app

    def reset_pools() -> None:
        # Celery's app.pool is kombu's process-wide pool for the broker URL: closing it
        # alone would leave the closed pool registered, and every later publish to that
        # URL in this process would fail ("Acquire on closed pool"). Close and forget all.
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    original = app.conf.broker_url

    def use(url: str) -> None:
        app.conf.broker_url = url
        reset_pools()

    yield use
    app.conf.broker_url = original
    reset_pools()


# --- Celery workers -----------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes, as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def mark(self) -> int:
        """A point in the worker's log, for ``sweeps_since``."""
        return self.log.stat().st_size if self.log.exists() else 0

    def sweeps_since(self, mark: int) -> int:
        """Sweeps this worker received after ``mark`` and has finished (each one
        read the outbox after everything committed before the mark), or 0 while
        any task received since then is still running: the barrier waits for
        the deliveries those sweeps handed out, too."""
        return finished_sweeps(self, mark) or 0

    def wait_for_sweeps(self, count: int, *, since: int | None = None, timeout: float = 30) -> None:
        """A barrier instead of a fixed sleep: returns once ``count`` whole
        sweeps, and every task received with them, have run after ``since``
        (default: now). Whatever was due by then has been sent or retried,
        so a test can then assert that nothing more came."""
        start = self.mark() if since is None else since
        wait_until(lambda: self.sweeps_since(start) >= count, timeout=timeout, what=f"{count} sweep(s) in the log")


def sending(callbacks: list[Any]) -> list[Any]:
    """The on-commit callbacks that hand messages to a worker: all but the booking
    counter's (clinic.metrics.booking_committed), which sends nothing."""
    from clinic import metrics

    return [callback for callback in callbacks if getattr(callback, "func", None) is not metrics.booking_committed]


def finished_sweeps(worker: Worker, mark: int) -> int | None:
    """The sweeps ``worker`` received after ``mark`` (a point in its log) and ran to
    success, or None while any task it received since then is still running."""
    with worker.log.open("rb") as log:
        log.seek(mark)
        text = log.read().decode(errors="replace")
    received: dict[str, str] = {}
    succeeded: set[str] = set()
    finished: set[str] = set()
    for match in _TASK_LOG.finditer(text):
        if match["event"] == "received":
            received[match["id"]] = match["name"]
            continue
        finished.add(match["id"])  # succeeded, raised, or discarded as expired
        if match["event"] == "succeeded":
            succeeded.add(match["id"])
    if set(received) - finished:
        return None
    return sum(1 for id_, name in received.items() if name == SWEEP_TASK and id_ in succeeded)


SWEEP_TASK = "booking.tasks.sweep_notifications"
# Celery's worker log at INFO: "Task <name>[<id>] received", then "... succeeded in ...", "... raised ...",
# or, for a sweep that expired on its way (clinic/celery.py), "Discarding revoked task: <name>[<id>]".
_TASK_LOG = re.compile(
    r"(?:Task |Discarding revoked task: )(?P<name>[\w.]+)\[(?P<id>[0-9a-f-]+)\](?: (?P<event>received|succeeded|raised))?"
)


def database_url() -> str:
    """The URL of the database this test runs on (the test database)."""
    from django.db import connection

    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Workers:
    tmp_path: Path
    smtp: SmtpSink
    started: list[Worker] = field(default_factory=list)

    def start(self, *, concurrency: int = 2, beat: bool = False, broker: str | None = None, **settings: Any) -> Worker:
        """A worker process with this test's database, the SMTP sink and the
        broker (REDIS_URL unless ``broker``); ``settings`` become CLINIC_*
        environment variables (``NOTIFICATION_RETRY_SECONDS=1`` → ...)."""
        from django.conf import settings as django_settings

        index = len(self.started)
        env = {
            **os.environ,
            "CLINIC_NAME": django_settings.CLINIC_NAME,
            "CLINIC_BASE_URL": django_settings.CLINIC_BASE_URL,
            "CLINIC_TIME_ZONE": django_settings.CLINIC_TIME_ZONE,
            "DATABASE_URL": database_url(),
            "REDIS_URL": broker or os.environ["REDIS_URL"],
            "EMAIL_URL": self.smtp.url,
            "CLINIC_NOTIFICATION_SWEEP_SECONDS": "1",
            "CLINIC_NOTIFICATION_RETRY_SECONDS": "1",
            "CLINIC_NOTIFICATION_CLAIM_SECONDS": "30",
            "PYTHONUNBUFFERED": "1",
        }
        env.update({f"CLINIC_{name}": str(value) for name, value in settings.items()})
        command = [
            CELERY,
            "-A",
            "clinic",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--hostname=notify{index}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if beat:
            command += ["--beat"]
        log = self.tmp_path / f"worker-{index}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = Worker(process, log)
        self.started.append(worker)
        wait_until(lambda: " ready." in worker.output() or process.poll() is not None, timeout=60, what="the worker")
        assert process.poll() is None, worker.output()[-3000:]
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


# A zone twelve hours from Hong Kong, for runs near Hong Kong's midnight (below).
FAR_FROM_HONG_KONG = "Etc/GMT+4"


def real_clock_zone(now: datetime) -> str:
    """The clinic's zone for a test on the real clock: Hong Kong, unless its midnight
    is under three hours away either side — a visit booked "in a few minutes" (or a
    reminder an hour ahead) would then fall on another day than the working hours
    that hold it — when the clinic is put twelve hours away, where it is midday.
    CLINIC_TEST_CLOCK_ZONE forces one (to try both)."""
    forced = os.environ.get("CLINIC_TEST_CLOCK_ZONE")
    if forced:
        return forced
    hour = now.astimezone(ZoneInfo("Asia/Hong_Kong")).hour
    return "Asia/Hong_Kong" if 3 <= hour < 21 else FAR_FROM_HONG_KONG


@pytest.fixture
def workers(smtp: SmtpSink, tmp_path: Path, settings: Any) -> Iterator[Workers]:
    """Celery workers on the real clock; the clinic's zone is ``real_clock_zone``, the
    same in this process and in the workers (CLINIC_TIME_ZONE)."""
    import redis
    from django.utils import timezone

    settings.TIME_ZONE = settings.CLINIC_TIME_ZONE = real_clock_zone(timezone.now())

    # Messages left in this run's Redis database by an earlier run name rows
    # that may not exist here; start clean.
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    pool = Workers(tmp_path, smtp)
    yield pool
    pool.stop_all()


# --- data -------------------------------------------------------------------------------


def short_reminder(now: datetime, *, grid_minutes: int = 15) -> tuple[datetime, int]:
    """A start on the slot grid a few minutes ahead and a whole-minute offset
    that makes its reminder due 15 to 75 seconds from ``now``."""
    from django.utils import timezone

    step = timedelta(minutes=grid_minutes)
    start = timezone.localtime(now + timedelta(minutes=2)).replace(second=0, microsecond=0)
    midnight = start.replace(hour=0, minute=0)
    start = midnight + -(-(start - midnight) // step) * step
    delta = (start - now).total_seconds()
    return start, int((delta - 15) // 60)


NOW = datetime(2030, 1, 7, 9, 0, tzinfo=ZoneInfo("Asia/Hong_Kong"))  # a Monday, far ahead


@pytest.fixture(autouse=True)
def notification_settings(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TIME_ZONE = settings.CLINIC_TIME_ZONE = "Asia/Hong_Kong"
    settings.CLINIC_NAME = "Clear Skin Clinic"
    settings.CLINIC_SLOT_MINUTES = 15
    settings.CLINIC_MIN_NOTICE = timedelta(hours=2)
    settings.CLINIC_CANCELLATION_NOTICE = timedelta(hours=24)
    settings.CLINIC_REMINDER_OFFSETS = [timedelta(hours=24), timedelta(hours=2)]
    settings.CLINIC_NOTIFICATION_MAX_ATTEMPTS = 6
    settings.CLINIC_NOTIFICATION_RETRY_SECONDS = 60
    settings.CLINIC_NOTIFICATION_CLAIM_SECONDS = 300
    settings.CLINIC_NOTIFICATION_HOUR = 10
    settings.CLINIC_NOTIFICATION_LAST_CALL_DAYS = 3


@pytest.fixture
def clock() -> Iterator[Any]:
    """Frozen at NOW (Monday 7 January 2030, 09:00 Hong Kong); ``clock.move_to``."""
    import time_machine

    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def treatment() -> Any:
    from tests.factories import TreatmentFactory

    return TreatmentFactory(
        slug="peel-superficial",
        name_en="Superficial chemical peel",
        name_zh_hant="果酸換膚",
        duration_minutes=30,
        buffer_minutes=10,
        pre_care_en="Stop retinoid creams 48 hours before.",
        pre_care_zh_hant="療程前四十八小時停用A酸產品。",
        aftercare_en="Use SPF 50 every day for two weeks.",
        aftercare_zh_hant="兩星期內每日使用SPF 50防曬。",
    )


@pytest.fixture
def practitioner(treatment: Any) -> Any:
    """Works every day, round the clock, so tests on the real clock find a slot."""
    from datetime import time as clock_time

    from booking.models import WorkingHours
    from tests.factories import PractitionerFactory, RoomFactory

    RoomFactory(kind=treatment.room_kind)
    practitioner = PractitionerFactory(treatments=[treatment], hours=False)
    WorkingHours.objects.bulk_create(
        WorkingHours(practitioner=practitioner, weekday=day, start=clock_time(0), end=clock_time(23, 59))
        for day in range(7)
    )
    return practitioner


@pytest.fixture
def patient() -> Any:
    from tests.factories import PatientFactory

    return PatientFactory(full_name="Chan Tai Man")


@pytest.fixture
def receptionist() -> Any:
    from tests.factories import UserFactory

    return UserFactory(role="receptionist")


@pytest.fixture
def book(treatment: Any, practitioner: Any, receptionist: Any) -> Callable[..., Any]:
    """``book(patient, start)`` through the booking service, as staff."""
    from booking import services

    def make(patient: Any, start: datetime, **kwargs: Any) -> Any:
        return services.appointment_book(
            patient=patient,
            treatment=treatment,
            start=start,
            practitioner=None,
            booked_by=receptionist,
            staff=True,
            **kwargs,
        )

    return make
