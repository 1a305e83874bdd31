"""What one fetch of a practitioner's calendar feed costs as their schedule grows.

Seeds one practitioner with N appointments inside the feed's window (today
and the months after, every 30 minutes of a 10-hour day, patients with
English and Chinese names) into its own database, then times
``GET /calendar/<token>.ics`` through Django's test client: the full answer
(median of the runs, its size and its SQL queries) and the answer to a
calendar that already has it (If-None-Match: 304).

    .venv/bin/python bench/calendar_feeds.py [--runs 15] [--sizes 50,500,2000]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench; the
database is created if missing, migrated, and the rows it seeds replaced.
Goal: the same query count for every N; a 304 that does not grow with N.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per request in the figures
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("EMAIL_URL", "locmem://")
os.environ.setdefault("THROTTLE_CALENDAR_FEED", "1000000/hour")  # the bench is one client
os.environ.pop("CLINIC_TIME_ZONE", None)  # Hong Kong, the default

from bench.common import QueryCounter

SLOTS_PER_DAY = 20  # 10:00 to 20:00, every 30 minutes
NAMES = ("Cathy Wong", "陳大文", "Chan Tai Man", "歐陽娜娜", "Mary Anne Smith")


def ensure_database(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sizes", default="50,500,2000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if max(sizes) > SLOTS_PER_DAY * 180:
        parser.error(f"at most {SLOTS_PER_DAY * 180} appointments fit the feed's 180 days ahead")

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from booking import feeds
    from booking.models import Appointment, CalendarFeed, Practitioner, Room
    from patients.models import Patient
    from treatments.models import RoomKind, Treatment

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)  # the throttle's counters
    zone = timezone.get_default_timezone()

    # --- the clinic ----------------------------------------------------------------------
    bench_users = User.objects.filter(username__startswith="bench-feed-")
    CalendarFeed.objects.filter(user__in=bench_users).delete()
    Appointment.with_holds.filter(practitioner__user__in=bench_users).delete()
    Practitioner.objects.filter(user__in=bench_users).delete()
    Patient.objects.filter(full_name__startswith="Bench feed ").delete()
    Patient.objects.filter(user__in=bench_users).delete()
    bench_users.delete()
    kind, _ = RoomKind.objects.get_or_create(slug="bench-feed-room", defaults={"name_en": "Bench room"})
    room, _ = Room.objects.get_or_create(name_en="Bench feed room", defaults={"kind": kind})
    treatment, _ = Treatment.objects.get_or_create(
        slug="bench-feed-peel",
        defaults={
            "name_en": "Bench peel",
            "name_zh_hant": "果酸換膚",
            "category": "peel",
            "duration_minutes": 30,
            "price": "900.00",
            "room_kind": kind,
        },
    )
    user = User.objects.create(username="bench-feed-doctor", first_name="Grace", last_name="Lam")
    practitioner = Practitioner.objects.create(user=user)
    patients = [
        Patient.objects.create(
            full_name=f"Bench feed {NAMES[index % len(NAMES)]}", date_of_birth="1990-01-01", phone="+85291234567"
        )
        for index in range(50)
    ]
    feed = feeds.feed_create(user=user, kind="practitioner")
    client = Client()
    url = f"/calendar/{feed.token}.ics"

    today = timezone.localdate()
    made = 0
    print(f"{'appointments':>12} {'full ms':>8} {'304 ms':>7} {'queries':>7} {'304 queries':>11} {'bytes':>9}")
    for size in sizes:
        rows = []
        while made < size:
            day = today + timedelta(days=1 + made // SLOTS_PER_DAY)
            start = timezone.make_aware(datetime.combine(day, clock(10)), zone) + timedelta(
                minutes=30 * (made % SLOTS_PER_DAY)
            )
            rows.append(
                Appointment(
                    patient=patients[made % len(patients)],
                    treatment=treatment,
                    practitioner=practitioner,
                    room=room,
                    start=start,
                    end=start + timedelta(minutes=30),
                    blocked_until=start + timedelta(minutes=30),
                )
            )
            made += 1
        Appointment.objects.bulk_create(rows)

        full, not_modified = [], []
        with connection.execute_wrapper(counter := QueryCounter()):
            first = client.get(url, secure=True)
            counted = counter.count
            again = client.get(url, secure=True, HTTP_IF_NONE_MATCH=first["ETag"])
            cheap = counter.count - counted
        assert first.status_code == 200, first.status_code
        assert again.status_code == 304, again.status_code
        for _ in range(args.runs):
            began = time.perf_counter()
            client.get(url, secure=True)
            full.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            client.get(url, secure=True, HTTP_IF_NONE_MATCH=first["ETag"])
            not_modified.append((time.perf_counter() - began) * 1000)
        print(
            f"{size:>12} {statistics.median(full):>8.1f} {statistics.median(not_modified):>7.1f} "
            f"{counted:>7} {cheap:>11} {len(first.content):>9}"
        )


if __name__ == "__main__":
    main()
