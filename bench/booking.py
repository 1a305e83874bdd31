"""Sustained bookings per second through the HTTP API, under gunicorn on PostgreSQL.

Starts gunicorn on a fresh database, seeds enough practitioners, rooms and days
that 16 concurrent clients never run out of slots, and has each client book
its own sequence of free slots on its own days (every POST is a real booking: screening, the
availability re-check, advisory locks, the insert and the exclusion
constraints). Then the same clients hit GET /healthz/ on the same server, and
the script prints both rates with p50/p99 latency and their ratio; for
context it also measures a signed-in API read (GET /api/v1/me/: token check,
role, one patient row) on the same server.

    .venv/bin/python bench/booking.py [--seconds 20] [--clients 16] [--workers 4]

Goal: bookings/s at least 30 % of the trivial endpoint's rate.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_booking")
ENV = {
    **os.environ,
    "DATABASE_URL": DATABASE,
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DEBUG": "0",
    "EMAIL_URL": "locmem://",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    "STATIC_MANIFEST": "0",
    # One patient per client books hundreds of times here; real patients don't.
    "THROTTLE_BOOKING": "1000000/hour",
    "LOG_LEVEL": "WARNING",
}
ENV.pop("REDIS_URL", None)


def recreate_database() -> None:
    import psycopg

    name = DATABASE.rsplit("/", 1)[1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=ENV, check=True)
    subprocess.run([sys.executable, "manage.py", "createcachetable"], cwd=ROOT, env=ENV, check=True)


def seed(clients: int) -> tuple[str, list[tuple[str, int]]]:
    os.environ.update(ENV)
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    import django

    django.setup()
    from decimal import Decimal

    from django.contrib.auth.models import User
    from knox.models import AuthToken

    from booking.models import Practitioner, Room, WorkingHours
    from patients.models import HealthDeclaration, Patient
    from treatments.models import RoomKind, Treatment

    kind = RoomKind.objects.create(slug="treatment", name_en="Treatment room")
    treatment = Treatment.objects.create(
        slug="peel-superficial", category="peel", name_en="Superficial peel", name_zh_hant="果酸換膚",
        duration_minutes=30, buffer_minutes=0, price=Decimal(900), room_kind=kind,
        sessions_min=4, sessions_max=6, interval_days_min=14, interval_days_max=35,
    )  # fmt: skip
    treatment.contraindications.create(code="INF", severity="block")
    treatment.contraindications.create(code="PREG", severity="caution")
    answers = dict.fromkeys(
        "pregnant_or_breastfeeding keloid_tendency cold_sore_history active_cold_sore anticoagulants "
        "photosensitising_medication active_skin_infection recent_sun_exposure autoimmune_condition "
        "neuromuscular_disorder active_acne implanted_electronic_device".split(),
        False,
    )
    clients_setup = []
    for index in range(clients):
        Room.objects.create(name_en=f"Room {index}", kind=kind)
        user = User.objects.create_user(f"doctor{index}@example.com", f"doctor{index}@example.com", "x")
        practitioner = Practitioner.objects.create(user=user, title_en="Dermatologist")
        practitioner.treatments.add(treatment)
        WorkingHours.objects.bulk_create(
            WorkingHours(practitioner=practitioner, weekday=day, start=clock(8), end=clock(20)) for day in range(7)
        )
        patient_user = User.objects.create_user(f"patient{index}@example.com", f"patient{index}@example.com", "x")
        patient = Patient.objects.create(
            user=patient_user, full_name=f"Patient {index}", date_of_birth=date(1990, 1, 1), phone="+85291234567"
        )
        HealthDeclaration.objects.create(patient=patient, **answers)
        clients_setup.append((AuthToken.objects.create(patient_user)[1], practitioner.pk))
    return treatment.slug, clients_setup


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, float]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        error.read()
        status = error.code
    return status, time.perf_counter() - started


def run_clients(seconds: float, work) -> tuple[list[float], dict[int, int]]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop(worker) -> None:  # type: ignore[no-untyped-def]
        while time.perf_counter() < deadline:
            status, took = worker()
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status < 300:
                    latencies.append(took)

    threads = [threading.Thread(target=loop, args=(w,)) for w in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses


def describe(name: str, latencies: list[float], statuses: dict[int, int], seconds: float) -> float:
    rate = len(latencies) / seconds
    ordered = sorted(latencies) or [0.0]
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(
        f"{name:<22} {rate:8.1f}/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   statuses {dict(sorted(statuses.items()))}"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    recreate_database()
    slug, clients = seed(args.clients)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "clinic.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--log-level", "warning", "--backlog", "256"],
        cwd=ROOT, env=ENV,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if request(f"{base}/healthz/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        from django.utils import timezone

        first_day = timezone.localdate() + timedelta(days=1)

        def booker(index: int, token: str, practitioner: int):  # type: ignore[no-untyped-def]
            # Each client books its own days, as independent patients across a
            # clinic's calendar do; racing for one time is what the
            # concurrency tests measure (tests/concurrency/).
            state = {"day": first_day + timedelta(days=5 * index), "slot": 0}

            def book() -> tuple[int, float]:
                # Each client walks its own practitioner's day, 08:00-20:00 in 30-minute steps.
                if state["slot"] >= 24:
                    state["day"] += timedelta(days=1)
                    state["slot"] = 0
                start = timezone.make_aware(datetime.combine(state["day"], clock(8))) + timedelta(
                    minutes=30 * state["slot"]
                )
                state["slot"] += 1
                body = {"treatment": slug, "start": start.isoformat(), "practitioner": practitioner}
                return request(f"{base}/api/v1/appointments/", token, body)

            return book

        def trivial():  # type: ignore[no-untyped-def]
            return lambda: request(f"{base}/healthz/")

        # Warm up every worker before measuring.
        run_clients(2, [trivial() for _ in range(args.clients)])
        print(
            f"gunicorn {args.workers} sync workers, {args.clients} concurrent clients, {args.seconds:.0f} s each, PostgreSQL"
        )
        latencies, statuses = run_clients(args.seconds, [booker(i, t, p) for i, (t, p) in enumerate(clients)])
        booked = describe("POST /appointments/", latencies, statuses, args.seconds)
        latencies, statuses = run_clients(args.seconds, [trivial() for _ in clients])
        baseline = describe("GET /healthz/", latencies, statuses, args.seconds)

        def profile(token: str):  # type: ignore[no-untyped-def]
            return lambda: request(f"{base}/api/v1/me/", token)

        latencies, statuses = run_clients(args.seconds, [profile(t) for t, _ in clients])
        signed_in = describe("GET /api/v1/me/", latencies, statuses, args.seconds)
        print(f"bookings/s as a share of GET /healthz/:   {100 * booked / baseline:.1f} % (goal: at least 30 %)")
        print(f"bookings/s as a share of GET /api/v1/me/: {100 * booked / signed_in:.1f} % (a signed-in API read)")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
