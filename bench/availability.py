"""How long 31 days of availability take as the appointment table grows.

Seeds a clinic (10 practitioners, 6 rooms, 3 devices) into its own database,
then for N = 0, 1,000, 10,000 and 100,000 appointment rows times
``find_slots`` for one treatment across all practitioners over 31 days and
prints N, the median of 15 runs, and the number of SQL queries; then times
``GET /api/v1/availability/`` itself for the same treatment, days and moment,
in-process through Django's test client (every middleware, DEBUG=0, anonymous:
the endpoint is public), and prints its median, its queries and its ratio to
``find_slots``. The 31 days
queried are booked to about 70 % of what the rooms and devices can hold (as
far as N allows); the other rows lie in the past or are cancelled, as in a
clinic's real table.

    .venv/bin/python bench/availability.py [--runs 15] [--sizes 0,1000,10000,100000]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench; the
database is created if missing, migrated, and its booking rows replaced.
Goals (issue 23): find_slots' median under 50 ms at N = 10,000, the same query
count for every N; the endpoint at most 1.5 × find_slots at N = 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per request in the figures
os.environ.setdefault("EMAIL_URL", "locmem://")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.pop("CLINIC_TIME_ZONE", None)  # Hong Kong, the default

FIRST_DAY = date(2030, 1, 7)  # a Monday; "now" is the evening before
DAYS = 31
MORNING = (clock(10), clock(13))
AFTERNOON = (clock(14), clock(19))
SATURDAY = (clock(10), clock(16))
FILL = 0.7


def ensure_database(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def periods(day: date) -> list[tuple[clock, clock]]:
    if day.weekday() == 6:
        return []
    if day.weekday() == 5:
        return [SATURDAY]
    return [MORNING, AFTERNOON]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sizes", default="0,1000,10000,100000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from time_machine import travel

    from bench.common import QueryCounter, goal, ok
    from booking.availability import find_slots
    from booking.models import Appointment, ClinicClosure, Device, Practitioner, Room, TimeOff, WorkingHours
    from patients.models import Patient
    from treatments.models import DeviceKind, RoomKind, Treatment

    call_command("migrate", verbosity=0)
    zone = timezone.get_default_timezone()
    rng = random.Random(20300107)

    # --- the clinic ----------------------------------------------------------------------
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {Appointment._meta.db_table}, {Appointment.history.model._meta.db_table} CASCADE")
        else:
            Appointment.objects.all().delete()
    TimeOff.objects.all().delete()
    ClinicClosure.objects.all().delete()
    WorkingHours.objects.all().delete()
    Practitioner.treatments.through.objects.all().delete()
    Practitioner.objects.all().delete()
    Room.objects.all().delete()
    Device.objects.all().delete()
    Treatment.objects.filter(slug__startswith="bench-").delete()
    Patient.objects.filter(full_name__startswith="Bench ").delete()
    User.objects.filter(username__startswith="bench-").delete()

    laser, _ = RoomKind.objects.get_or_create(slug="bench-laser", defaults={"name_en": "Laser room"})
    treatment_room, _ = RoomKind.objects.get_or_create(slug="bench-treatment", defaults={"name_en": "Treatment room"})
    pico_kind, _ = DeviceKind.objects.get_or_create(slug="bench-pico", defaults={"name_en": "Pico laser"})
    common = {"category": "laser", "name_zh_hant": "療程", "price": 1000, "suits": ["pih"]}
    pico = Treatment.objects.create(
        slug="bench-pico", name_en="Pico", duration_minutes=30, buffer_minutes=10, room_kind=laser,
        device_kind=pico_kind, **common,
    )  # fmt: skip
    peel = Treatment.objects.create(
        slug="bench-peel", name_en="Peel", duration_minutes=30, buffer_minutes=10, room_kind=treatment_room, **common
    )
    rooms = {
        pico.pk: [Room.objects.create(name_en=f"Bench laser {n}", kind=laser) for n in range(4)],
        peel.pk: [Room.objects.create(name_en=f"Bench treatment {n}", kind=treatment_room) for n in range(2)],
    }
    devices = [Device.objects.create(name_en=f"Bench pico {n}", kind=pico_kind) for n in range(3)]
    practitioners = []
    for n in range(10):
        user = User.objects.create(username=f"bench-{n}@example.com", first_name="Bench", last_name=str(n))
        practitioner = Practitioner.objects.create(user=user)
        practitioner.treatments.set([pico, peel])
        practitioners.append(practitioner)
        for weekday in range(6):
            if weekday == 5:
                WorkingHours.objects.create(practitioner=practitioner, weekday=5, start=SATURDAY[0], end=SATURDAY[1])
            else:
                WorkingHours.objects.create(
                    practitioner=practitioner,
                    weekday=weekday,
                    start=clock(10),
                    end=clock(19),
                    break_start=clock(13),
                    break_end=clock(14),
                )
    patients = Patient.objects.bulk_create(
        Patient(full_name=f"Bench {n}", date_of_birth=date(1990, 1, 1), phone=f"+85291{n:06d}") for n in range(500)
    )

    # --- a calendar: 40-minute blocks; per block as many appointments as the rooms and
    # devices allow times FILL, practitioners and resources drawn at random --------------
    def day_rows(day: date, status: str) -> list[dict]:
        rows = []
        for start_time, end_time in periods(day):
            start = datetime.combine(day, start_time, tzinfo=zone)
            end_of_period = datetime.combine(day, end_time, tzinfo=zone)
            while start + timedelta(minutes=30) <= end_of_period:
                capacity = len(devices) + len(rooms[peel.pk])
                wanted = int(capacity * FILL) + (rng.random() < capacity * FILL % 1)
                free_devices = list(devices)
                free_rooms = {key: list(value) for key, value in rooms.items()}
                for practitioner in rng.sample(practitioners, wanted):
                    options = [t for t in (pico, peel) if free_rooms[t.pk] and (t is peel or free_devices)]
                    if not options:
                        break
                    treatment = rng.choice(options)
                    room = free_rooms[treatment.pk].pop(rng.randrange(len(free_rooms[treatment.pk])))
                    device = free_devices.pop() if treatment is pico else None
                    rows.append(
                        {
                            "patient": patients[len(rows) % len(patients)],
                            "treatment": treatment,
                            "practitioner": practitioner,
                            "room": room,
                            "device": device,
                            "start": start,
                            "end": start + timedelta(minutes=30),
                            "blocked_until": start + timedelta(minutes=40),
                            "status": status,
                        }
                    )
                start += timedelta(minutes=40)
        return rows

    window = [FIRST_DAY + timedelta(days=n) for n in range(DAYS)]
    in_window = [row for day in window for row in day_rows(day, Appointment.Status.CONFIRMED)]
    now = datetime.combine(FIRST_DAY - timedelta(days=1), clock(18), tzinfo=zone)

    table = Appointment._meta.db_table

    def seed(total: int) -> tuple[int, int, int]:
        with connection.cursor() as cursor:
            # TRUNCATE, not DELETE: dead rows from the previous size would bloat the table.
            cursor.execute(f"TRUNCATE {table} CASCADE" if connection.vendor == "postgresql" else f"DELETE FROM {table}")
        active = in_window[:total] if total < len(in_window) else in_window
        rest = total - len(active)
        cancelled_count = rest // 5
        cancelled = []
        while len(cancelled) < cancelled_count:
            cancelled.append({**rng.choice(in_window), "status": Appointment.Status.CANCELLED})
        past: list[dict] = []
        day = FIRST_DAY - timedelta(days=2)
        while len(past) < rest - cancelled_count:
            past.extend(day_rows(day, Appointment.Status.COMPLETED))
            day -= timedelta(days=1)
        past = past[: rest - cancelled_count]
        for rows in (active, cancelled, past):
            Appointment.objects.bulk_create((Appointment(**row) for row in rows), batch_size=5000)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}" if connection.vendor == "postgresql" else "ANALYZE")
        return len(active), len(cancelled), len(past)

    def query() -> list:
        return find_slots(
            treatment=pico, first_date=window[0], last_date=window[-1], staff=False, now=now, practitioner_id=None
        )

    client = Client()
    url = f"/api/v1/availability/?treatment={pico.slug}&from={window[0]}&to={window[-1]}"

    def endpoint() -> bytes:
        return ok(client.get(url, secure=True)).content

    def median_ms(call: object, runs: int) -> tuple[float, float, float]:
        timings = []
        for _ in range(runs):
            began = time.perf_counter()
            call()  # type: ignore[operator]
            timings.append((time.perf_counter() - began) * 1000)
        return statistics.median(timings), min(timings), max(timings)

    version = connection.pg_version if connection.vendor == "postgresql" else 0
    print(f"{connection.vendor} {version // 10000}.{version % 10000}; "
          f"{settings.TIME_ZONE}; grid {settings.CLINIC_SLOT_MINUTES} min; {DAYS} days; {args.runs} runs; "
          f"the window booked to {FILL:.0%} of what rooms and devices hold: {len(in_window)} appointments")  # fmt: skip
    print(f"{'N':>8} {'active in window':>16} {'cancelled':>9} {'past':>7} {'slots':>6} "
          f"{'median ms':>9} {'min ms':>7} {'max ms':>7} {'queries':>7} "
          f"{'endpoint ms':>11} {'min ms':>7} {'max ms':>7} {'queries':>7} {'ratio':>6}")  # fmt: skip
    results: dict[int, tuple[float, float, int, int, int]] = {}
    # The endpoint asks find_slots at "now"; the clock stands where the bench's query stands.
    with travel(now, tick=False):
        for total in sizes:
            active, cancelled, past = seed(total)
            assert Appointment.objects.count() == total
            for _ in range(2):
                query()  # warm the connection, caches and plans
                endpoint()
            find_ms, find_min, find_max = median_ms(query, args.runs)
            slots = query()
            with CaptureQueriesContext(connection) as queries:
                query()
            find_queries = len(queries)  # now: each request resets the connection's query log
            end_ms, end_min, end_max = median_ms(endpoint, args.runs)
            answer = json.loads(endpoint())
            assert len(answer["slots"]) == len(slots), (len(answer["slots"]), len(slots))
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                endpoint()
            ratio = end_ms / find_ms if find_ms else 0.0
            results[total] = (find_ms, end_ms, len(slots), find_queries, counter.count)
            print(
                f"{total:>8,} {active:>16,} {cancelled:>9,} {past:>7,} {len(slots):>6,} "
                f"{find_ms:>9.1f} {find_min:>7.1f} {find_max:>7.1f} {find_queries:>7} "
                f"{end_ms:>11.1f} {end_min:>7.1f} {end_max:>7.1f} {counter.count:>7} {ratio:>5.2f}×"
            )

    find_counts = {row[3] for row in results.values()}
    endpoint_counts = {row[4] for row in results.values()}
    flat = len(find_counts) == 1 and len(endpoint_counts) == 1
    if 10_000 in results:
        find, end, count, _, _ = results[10_000]
        goal(
            "find_slots median at N=10,000 < 50 ms",
            f"{find:.1f} ms, {count} slots, queries {'flat' if flat else 'growing'} "
            f"({', '.join(map(str, sorted(find_counts)))})",
            "< 50 ms, flat queries",
            find < 50 and flat,
        )
        ratio = end / find
        goal(
            "availability endpoint / find_slots (31 days, 10 practitioners)",
            f"{ratio:.2f}× ({end:.0f} ms vs {find:.0f} ms, {count} slots)",
            "≤ 1.5×",
            ratio <= 1.5,
        )


if __name__ == "__main__":
    main()
