"""How fast real workers empty the notification outbox on each channel, and
whether any message is sent twice.

Creates COUNT due notifications per channel (email, SMS, WhatsApp: half
booking confirmations, half reminders, over COUNT/2 appointments per channel
and 1,000 patients per channel in both languages, each patient having chosen
that channel) in its own database. Starts an SMTP sink (aiosmtpd) and the fake
Twilio and WhatsApp Cloud APIs (tests/fakes/providers.py, reached as
twilio+http:// and whatsapp+http://) in this process and WORKERS real
``celery -A clinic worker`` processes on Redis. Then, one channel at a time,
makes that channel's rows due and runs outbox sweeps (the function beat runs)
until every row is sent: the real path, sweep → deliver_notifications →
booking.channels.send → provider. Prints, per channel, the messages accepted,
the seconds from the first sweep to the last message accepted, messages per
second, and the duplicates counted at the sink and the fake (by Message-ID for
email, by number and content for texts: must be 0).

    .venv/bin/python bench/notifications.py [--count 3000] [--workers 4] [--concurrency 4] [--latency 0]

``--latency`` delays each answer of the fake providers by that many seconds
(Twilio and Meta answer in about 0.1 to 0.3 s from Hong Kong).

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench_notify
(dropped and created again on every run); REDIS_URL to redis://127.0.0.1:6379/12
(flushed on every run).
"""

from __future__ import annotations

import argparse
import json
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import recreate_database

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_notify")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "1")  # static files without collectstatic (the emails' logo URL)
os.environ.setdefault("EMAIL_URL", "locmem://")
os.environ.setdefault("CLINIC_BASE_URL", "https://bench.clinic.test")
os.environ.pop("CLINIC_TIME_ZONE", None)  # Hong Kong, the default

PATIENTS = 1000
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


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


CHANNELS = ("email", "sms", "whatsapp")


def seed(count: int) -> None:
    """COUNT rows per channel, waiting (next attempt in a day) until ``run`` makes a channel's due."""
    from datetime import datetime
    from datetime import time as clock
    from decimal import Decimal

    from django.contrib.auth.models import User
    from django.utils import timezone

    from booking.models import Appointment, Notification, Practitioner, Room
    from patients.models import ChannelChoice, Patient
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
    now = timezone.now()
    later = now + timedelta(days=1)
    first = timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=7), clock(10)))
    slot = 0
    for index, channel in enumerate(CHANNELS):
        patients = Patient.objects.bulk_create(
            Patient(
                full_name=f"Bench Patient {channel} {n}",
                date_of_birth=date(1995, 1, 1),
                phone=f"+8529{index + 1}{n:06d}",
                email=f"{channel}{n}@example.com",
                preferred_language="zh-hant" if n % 2 else "en",
            )
            for n in range(PATIENTS)
        )
        if channel != "email":  # no rows: email, the default
            ChannelChoice.objects.bulk_create(
                ChannelChoice(patient=patient, topic=topic, channel=channel, rank=1)
                for patient in patients
                for topic in ("confirmations", "reminders")
            )
        appointments = Appointment.objects.bulk_create(
            Appointment(
                patient=patients[n % PATIENTS],
                treatment=treatment,
                practitioner=practitioner,
                room=room,
                start=first + timedelta(minutes=30 * (slot + n)),
                end=first + timedelta(minutes=30 * (slot + n) + 30),
                blocked_until=first + timedelta(minutes=30 * (slot + n) + 30),
            )
            for n in range(count // 2)
        )
        slot += count // 2
        rows = []
        for appointment in appointments:
            rows.append(
                Notification(
                    kind=Notification.Kind.CONFIRMATION,
                    channel=channel,
                    patient_id=appointment.patient_id,
                    appointment=appointment,
                    due_at=now,
                    next_attempt_at=later,
                )
            )
            # A reminder whose offset makes it due in the last minute.
            offset = -(-(appointment.start - now) // timedelta(minutes=1))
            rows.append(
                Notification(
                    kind=Notification.Kind.REMINDER,
                    channel=channel,
                    patient_id=appointment.patient_id,
                    appointment=appointment,
                    offset_minutes=offset,
                    due_at=appointment.start - timedelta(minutes=offset),
                    next_attempt_at=later,
                )
            )
        Notification.objects.bulk_create(rows, batch_size=2000)


def start_workers(
    count: int, concurrency: int, smtp_port: int, logs: Path, env: dict[str, str] | None = None
) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}", "LOG_LEVEL": "WARNING", **(env or {})}
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


def text_duplicates(sent: list[Any]) -> int:
    """Messages the fake accepted more than once: the same number and content
    (each notification's text names its kind and its appointment's link)."""
    seen = Counter(
        (m.channel, m.to, m.text or json.dumps(m.template, sort_keys=True, ensure_ascii=False)) for m in sent
    )
    return sum(n - 1 for n in seen.values() if n > 1)


def run(channel: str, *, sink: Sink, fake: Any, timeout: float) -> dict[str, Any]:
    """Makes the channel's rows due and sweeps until none is pending or sending."""
    from django.db.models import Count
    from django.utils import timezone

    from booking.models import Notification
    from booking.notifications import notifications_sweep

    rows = Notification.objects.filter(channel=channel)
    rows.update(next_attempt_at=timezone.now())
    started = time.perf_counter()
    sweeps = 0
    while True:
        notifications_sweep()
        sweeps += 1
        open_rows = rows.filter(status__in=["pending", "sending"]).count()
        if not open_rows:
            break
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"{channel}: timed out with {open_rows} rows pending or sending")
        time.sleep(0.5)
    statuses = dict(rows.values_list("status").annotate(n=Count("id")).order_by())
    if channel == "email":
        finished = sink.last_at or time.perf_counter()
        received = sink.total()
        distinct = len(sink.ids)
        duplicates = sum(n - 1 for n in sink.ids.values() if n > 1)
    else:
        sent = fake.of(channel)
        finished = (max(m.at for m in sent) - time.time() + time.perf_counter()) if sent else time.perf_counter()
        received = len(sent)
        duplicates = text_duplicates(sent)
        distinct = received - duplicates
    elapsed = max(finished - started, 1e-6)
    return {
        "channel": channel,
        "received": received,
        "distinct": distinct,
        "elapsed": elapsed,
        "rate": received / elapsed,
        "duplicates": duplicates,
        "statuses": statuses,
        "sweeps": sweeps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3000, help="notifications per channel")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="processes per worker")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each provider answer")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per channel")
    args = parser.parse_args()

    from tests.fakes.providers import FakeProviders

    fake = FakeProviders(delay=args.latency).start()
    os.environ["SMS_URL"] = fake.sms_url
    os.environ["WHATSAPP_URL"] = fake.whatsapp_url
    recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import redis
    from aiosmtpd.controller import Controller
    from django.core.management import call_command

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
    workers = start_workers(
        args.workers,
        args.concurrency,
        port,
        logs,
        env={"SMS_URL": fake.sms_url, "WHATSAPP_URL": fake.whatsapp_url},
    )
    results = []
    try:
        for channel in CHANNELS:
            results.append(run(channel, sink=sink, fake=fake, timeout=args.timeout))
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
        fake.stop()

    print(
        f"notifications: {args.count} due per channel, {args.workers} workers x {args.concurrency} processes, "
        f"provider latency {args.latency * 1000:.0f} ms"
    )
    print(f"{'channel':<10}{'messages':>10}{'seconds':>10}{'msg/s':>10}{'duplicates':>12}  rows by status")
    failed = False
    for row in results:
        print(
            f"{row['channel']:<10}{row['received']:>10}{row['elapsed']:>10.2f}{row['rate']:>10.0f}"
            f"{row['duplicates']:>12}  {row['statuses']}"
        )
        if row["duplicates"] or row["statuses"].get("sent") != args.count or row["distinct"] != args.count:
            failed = True
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
