"""From a cancellation's commit to the waitlist offer's email at an SMTP sink,
with 1,000 patients waiting.

Seeds its own database: one practitioner whose day a week ahead is fully
booked (ROUNDS appointments), and 1,000 waiting entries for that day (both
languages). Starts an SMTP sink in this process and real Celery workers on
Redis, then cancels the appointments one at a time as staff would; each
cancellation's commit sends booking.tasks.match_waitlist, which offers the
freed slot to the first entry without an offer, whose email is published
after that commit. Prints the median and p95 of cancel-commit → email accepted.

    .venv/bin/python bench/waitlist.py [--rounds 16] [--workers 1] [--concurrency 2]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench_waitlist
(dropped and created again); REDIS_URL to redis://127.0.0.1:6379/13 (flushed).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_waitlist")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("DEBUG", "1")  # static files without collectstatic (the emails' logo URL)

from bench.notifications import Sink, free_port, recreate_database, start_workers

WAITING = 1000


def seed(rounds: int) -> list[int]:
    from decimal import Decimal

    from django.contrib.auth.models import User
    from django.utils import timezone

    from booking.models import Appointment, Practitioner, Room, WaitlistEntry, WorkingHours
    from patients.models import Patient
    from treatments.models import RoomKind, Treatment

    kind = RoomKind.objects.create(slug="treatment", name_en="Treatment room", name_zh_hant="治療室")
    treatment = Treatment.objects.create(
        slug="peel",
        category="peel",
        name_en="Chemical peel",
        name_zh_hant="換膚",
        duration_minutes=30,
        price=Decimal("900"),
        room_kind=kind,
    )
    room = Room.objects.create(name_en="Room 1", kind=kind)
    practitioner = Practitioner.objects.create(
        user=User.objects.create(username="dr@example.com", first_name="Wing", last_name="Lee")
    )
    practitioner.treatments.add(treatment)
    day = timezone.localdate() + timedelta(days=7)
    WorkingHours.objects.create(
        practitioner=practitioner, weekday=day.weekday(), start=clock(9), end=clock(9 + rounds // 2, 30 * (rounds % 2))
    )
    patients = Patient.objects.bulk_create(
        Patient(
            full_name=f"Bench Patient {n}",
            date_of_birth=date(1995, 1, 1),
            phone=f"+85291{n:06d}",
            email=f"patient{n}@example.com" if n < WAITING else "",  # only offers reach the sink
            preferred_language="zh-hant" if n % 2 else "en",
        )
        for n in range(WAITING + rounds)
    )
    first = timezone.make_aware(datetime.combine(day, clock(9)))
    booked = Appointment.objects.bulk_create(
        Appointment(
            patient=patients[WAITING + n],
            treatment=treatment,
            practitioner=practitioner,
            room=room,
            start=first + timedelta(minutes=30 * n),
            end=first + timedelta(minutes=30 * n + 30),
            blocked_until=first + timedelta(minutes=30 * n + 30),
        )
        for n in range(rounds)
    )
    now = timezone.now()
    WaitlistEntry.objects.bulk_create(
        WaitlistEntry(
            patient=patients[n],
            treatment=treatment,
            earliest=day,
            latest=day,
            created_at=now - timedelta(seconds=WAITING - n),
        )
        for n in range(WAITING)
    )
    return [appointment.pk for appointment in booked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    import redis
    from aiosmtpd.controller import Controller
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from booking.models import Appointment, WaitlistOffer
    from booking.services import appointment_cancel

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    ids = seed(args.rounds)
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    staff = User.objects.create(username="desk@example.com")

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    logs = Path(os.environ.get("CLINIC_VAR_DIR", ROOT / "var")) / "bench-waitlist"
    logs.mkdir(parents=True, exist_ok=True)
    workers = start_workers(args.workers, args.concurrency, port, logs)
    latencies: list[float] = []
    try:
        for pk in ids:
            before = sink.total()
            appointment_cancel(appointment=Appointment.objects.get(pk=pk), by=staff, staff=True, reason="bench")
            committed = time.perf_counter()  # appointment_cancel returns after its commit
            deadline = committed + 30
            while sink.total() == before:
                if time.perf_counter() > deadline:
                    raise SystemExit("no offer email within 30 s")
                time.sleep(0.001)
            latencies.append(sink.last_at - committed)
            time.sleep(0.1)
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
    offers = WaitlistOffer.objects.count()
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"waitlist: {WAITING} waiting entries, {len(ids)} cancellations, {offers} offers made")
    print(
        f"cancel commit -> offer email at the sink: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    if offers != len(ids):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
