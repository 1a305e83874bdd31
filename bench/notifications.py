"""How fast real workers empty the notification outbox, and whether any message
is sent twice.

Creates COUNT due notifications (half booking confirmations with their
calendar invite, half reminders, over COUNT/2 appointments and 1,000 patients
in both languages) in its own database, starts an SMTP sink (aiosmtpd) in this
process and WORKERS real ``celery -A clinic worker`` processes on Redis, then
runs outbox sweeps (the same function beat runs) until every row is sent.
Prints messages per second, from the first sweep to the last message
accepted, and the duplicates counted at the sink by Message-ID (must be 0).

    .venv/bin/python bench/notifications.py [--count 10000] [--workers 4] [--concurrency 4]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench_notify
(dropped and created again on every run); REDIS_URL to redis://127.0.0.1:6379/12
(flushed on every run).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_notify")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("EMAIL_URL", "locmem://")
os.environ.setdefault("CLINIC_BASE_URL", "https://bench.clinic.test")
os.environ.pop("CLINIC_TIME_ZONE", None)  # Hong Kong, the default

PATIENTS = 1000
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Sink:
    """Counts accepted messages by Message-ID; reads headers only."""

    def __init__(self) -> None:
        self.ids: Counter[bytes] = Counter()
        self.last_at = 0.0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content: bytes = envelope.content  # type: ignore[attr-defined]
        match = MESSAGE_ID.search(content[: content.find(b"\r\n\r\n")])
        with self.lock:
            self.ids[match.group(1) if match else b"?"] += 1
            self.last_at = time.perf_counter()
        return "250 OK"

    def total(self) -> int:
        with self.lock:
            return sum(self.ids.values())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(count: int) -> None:
    from datetime import datetime
    from datetime import time as clock
    from decimal import Decimal

    from django.contrib.auth.models import User
    from django.utils import timezone

    from booking.models import Appointment, Notification, Practitioner, Room
    from patients.models import Patient
    from treatments.models import RoomKind, Treatment

    kind = RoomKind.objects.create(slug="treatment", name_en="Treatment room", name_zh_hant="治療室")
    treatment = Treatment.objects.create(
        slug="peel-superficial",
        category="peel",
        name_en="Superficial chemical peel",
        name_zh_hant="果酸／水楊酸換膚",
        pre_care_en="Stop topical retinoids 48 hours before. Avoid sun and tanning.",
        pre_care_zh_hant="療程前 48 小時停用外用維A酸；避免日曬。",
        aftercare_en="Moisturise and use SPF 50 daily for two weeks.",
        aftercare_zh_hant="兩星期內每日保濕及使用 SPF 50 防曬。",
        duration_minutes=30,
        price=Decimal("900"),
        room_kind=kind,
    )
    room = Room.objects.create(name_en="Room 1", kind=kind)
    practitioner = Practitioner.objects.create(
        user=User.objects.create(username="dr@example.com", first_name="Wing", last_name="Lee")
    )
    practitioner.treatments.add(treatment)
    patients = Patient.objects.bulk_create(
        Patient(
            full_name=f"Bench Patient {n}",
            date_of_birth=date(1995, 1, 1),
            phone=f"+85291{n:06d}",
            email=f"patient{n}@example.com",
            preferred_language="zh-hant" if n % 2 else "en",
        )
        for n in range(PATIENTS)
    )
    now = timezone.now()
    first = timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=7), clock(10)))
    appointments = Appointment.objects.bulk_create(
        Appointment(
            patient=patients[n % PATIENTS],
            treatment=treatment,
            practitioner=practitioner,
            room=room,
            start=first + timedelta(minutes=30 * n),
            end=first + timedelta(minutes=30 * n + 30),
            blocked_until=first + timedelta(minutes=30 * n + 30),
        )
        for n in range(count // 2)
    )
    rows = []
    for appointment in appointments:
        rows.append(
            Notification(
                kind=Notification.Kind.CONFIRMATION,
                patient_id=appointment.patient_id,
                appointment=appointment,
                due_at=now,
                next_attempt_at=now,
            )
        )
        # A reminder whose offset makes it due in the last minute.
        offset = -(-(appointment.start - now) // timedelta(minutes=1))
        due = appointment.start - timedelta(minutes=offset)
        rows.append(
            Notification(
                kind=Notification.Kind.REMINDER,
                patient_id=appointment.patient_id,
                appointment=appointment,
                offset_minutes=offset,
                due_at=due,
                next_attempt_at=due,
            )
        )
    Notification.objects.bulk_create(rows, batch_size=2000)


def start_workers(count: int, concurrency: int, smtp_port: int, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}", "LOG_LEVEL": "WARNING"}
    celery = str(Path(sys.executable).with_name("celery"))
    processes = []
    for index in range(count):
        log = (logs / f"worker-{index}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [
                    celery,
                    "-A",
                    "clinic",
                    "worker",
                    "--loglevel=INFO",
                    f"--concurrency={concurrency}",
                    f"--hostname=bench{index}-{os.getpid()}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    deadline = time.monotonic() + 60
    for index in range(count):
        log_path = logs / f"worker-{index}.log"
        while b" ready." not in log_path.read_bytes():
            if time.monotonic() > deadline or processes[index].poll() is not None:
                raise SystemExit(f"worker {index} did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
    return processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="processes per worker")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import redis
    from aiosmtpd.controller import Controller
    from django.core.management import call_command
    from django.db.models import Count

    from booking.models import Notification
    from booking.notifications import notifications_sweep

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the sink's per-command log (addresses)
    call_command("migrate", verbosity=0)
    seed(args.count)
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    logs = Path(os.environ.get("CLINIC_VAR_DIR", ROOT / "var")) / "bench-notifications"
    logs.mkdir(parents=True, exist_ok=True)
    workers = start_workers(args.workers, args.concurrency, port, logs)
    try:
        started = time.perf_counter()
        sweeps = 0
        while True:
            notifications_sweep()
            sweeps += 1
            open_rows = Notification.objects.filter(status__in=["pending", "sending"]).count()
            if not open_rows:
                break
            if time.perf_counter() - started > args.timeout:
                raise SystemExit(f"timed out with {open_rows} rows pending or sending")
            time.sleep(0.5)
        finished = sink.last_at or time.perf_counter()
        statuses = dict(Notification.objects.values_list("status").annotate(n=Count("id")).order_by())
    finally:
        for process in workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        controller.stop()

    elapsed = finished - started
    received = sink.total()
    duplicates = sum(n - 1 for n in sink.ids.values() if n > 1)
    print(f"notifications: {args.count} due, {args.workers} workers x {args.concurrency} processes, {sweeps} sweeps")
    print(f"rows by status: {statuses}")
    print(f"messages received: {received} ({len(sink.ids)} distinct Message-IDs)")
    print(f"elapsed: {elapsed:.2f} s  →  {received / elapsed:.0f} messages/s")
    print(f"duplicates: {duplicates}")
    if duplicates or statuses.get("sent") != args.count or len(sink.ids) != args.count:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
