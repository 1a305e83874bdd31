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

Then it replays the SQL that one booking and one /me/ send, through psycopg
alone (no Django, no HTTP) from the same clients over as many processes as the
server has workers, each in a transaction that is rolled back: the most the
database itself allows, to set the HTTP rates against.

Goals (issue 23; printed as ``goal`` lines for ``make bench``): bookings/s at
least 30 % of /healthz/'s rate with p99 at most 150 ms; /api/v1/me/ at least
60 % of /healthz/'s rate.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import goal

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


def describe(name: str, latencies: list[float], statuses: dict[int, int], seconds: float) -> tuple[float, float]:
    """Prints a line and returns the rate per second and the p99 in ms."""
    rate = len(latencies) / seconds
    ordered = sorted(latencies) or [0.0]
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(
        f"{name:<34} {rate:8.1f}/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   statuses {dict(sorted(statuses.items()))}"
    )
    return rate, p99


Statements = list[tuple[str, Any]]


def capture(clients: list[tuple[str, int]], slug: str) -> tuple[list[Statements], list[Statements]]:
    """Each client's booking (on the day after the last the HTTP run booked for
    it) and /api/v1/me/ as the SQL they send, made in-process with Django's test
    client; the appointments are then deleted, so their statements can be
    replayed as they were (bench ``floor``)."""
    from django.db import connection
    from django.db.models import Max
    from django.test import Client
    from django.utils import timezone

    from booking.models import Appointment, Notification

    bookings, reads, made = [], [], []
    for token, practitioner in clients:
        last = Appointment.objects.filter(practitioner_id=practitioner).aggregate(last=Max("start"))["last"]
        day = timezone.localtime(last).date() + timedelta(days=1)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
        for path, body, into in (
            ("/api/v1/appointments/", {"treatment": slug, "practitioner": practitioner}, bookings),
            ("/api/v1/me/", None, reads),
        ):
            sent: Statements = []

            def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
                sent.append((sql, params))  # noqa: B023 - used at once, inside this iteration
                return execute(sql, params, many, context)

            with connection.execute_wrapper(record):
                if body is None:
                    response = client.get(path)
                else:
                    # The day after its own last, as in the HTTP run: the room kind's lock is per time.
                    start = timezone.make_aware(datetime.combine(day, clock(8)))
                    response = client.post(path, {**body, "start": start.isoformat()}, content_type="application/json")
            assert response.status_code in {200, 201}, response.content[:300]
            into.append(sent)
            if body is not None:
                made.append(response.json()["id"])
    captured = Appointment.objects.filter(pk__in=made)
    Notification.objects.filter(appointment__in=captured).delete()  # kept by design (PROTECT); a bench's rows
    captured.delete()
    connection.close()
    return bookings, reads


def _replay_worker(statements: list[Statements], seconds: float, results: Any) -> None:
    import psycopg

    def loop(sent: Statements, latencies: list[float]) -> None:
        # Server-side parameters and prepared statements: each statement is
        # planned once per connection, and the client does the least work.
        with psycopg.connect(DATABASE.replace("postgres://", "postgresql://")) as conn:
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                with conn.cursor() as cursor:
                    for sql, params in sent:
                        cursor.execute(sql, params, prepare=True)
                conn.rollback()
                latencies.append(time.perf_counter() - began)

    latencies: list[list[float]] = [[] for _ in statements]
    threads = [
        threading.Thread(target=loop, args=(sent, mine)) for sent, mine in zip(statements, latencies, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put([value for mine in latencies for value in mine])


def database_cpu(sent: Statements, runs: int = 300) -> float | None:
    """Milliseconds of CPU the PostgreSQL server process spends on one replay of
    ``sent`` (one client, one after another, prepared, rolled back), read from
    its /proc entry; None where the server's process cannot be read (not on
    this machine). With C cores, no request needing this SQL can pass
    C / that rate, however little the rest of the request costs."""
    import psycopg

    with psycopg.connect(DATABASE.replace("postgres://", "postgresql://")) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        stat = Path(f"/proc/{pid}/stat")
        if not stat.exists():
            return None

        def ticks() -> int:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])  # utime + stime

        def replay() -> None:
            with conn.cursor() as cursor:
                for sql, params in sent:
                    cursor.execute(sql, params, prepare=True)
            conn.rollback()

        for _ in range(20):
            replay()
        before = ticks()
        for _ in range(runs):
            replay()
        return (ticks() - before) / os.sysconf("SC_CLK_TCK") / runs * 1000


def floor(name: str, statements: list[Statements], seconds: float, processes: int) -> tuple[float, float]:
    """The same SQL replayed by psycopg alone, with no Django and no HTTP: each
    client's statements in one transaction, rolled back (so no commit's flush),
    over as many processes as the server has workers. What the database costs
    this request with these clients: the most its rate could be."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    shares = [statements[index::processes] for index in range(processes)]
    workers = [context.Process(target=_replay_worker, args=(share, seconds, results)) for share in shares if share]
    for worker in workers:
        worker.start()
    latencies = [value for _ in workers for value in results.get()]
    for worker in workers:
        worker.join()
    return describe(name, latencies, {0: len(latencies)}, seconds)


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
        booked, booked_p99 = describe("POST /api/v1/appointments/", latencies, statuses, args.seconds)
        latencies, statuses = run_clients(args.seconds, [trivial() for _ in clients])
        baseline, _p99 = describe("GET /healthz/", latencies, statuses, args.seconds)

        def profile(token: str):  # type: ignore[no-untyped-def]
            return lambda: request(f"{base}/api/v1/me/", token)

        latencies, statuses = run_clients(args.seconds, [profile(t) for t, _ in clients])
        signed_in, _p99 = describe("GET /api/v1/me/", latencies, statuses, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)

    # The database's share: the same requests' SQL without Django or HTTP.
    bookings, reads = capture(clients, slug)
    print(f"the same SQL replayed by psycopg alone ({len(bookings[0])} and {len(reads[0])} statements), rolled back:")
    sql_booked, _p99 = floor("  a booking's statements", bookings, args.seconds, args.workers)
    sql_read, _p99 = floor("  /api/v1/me/'s statement", reads, args.seconds, args.workers)
    cores = os.cpu_count() or 1
    booking_cpu, read_cpu = database_cpu(bookings[0]), database_cpu(reads[0], runs=3000)
    if booking_cpu is not None and read_cpu is not None:
        print(
            f"PostgreSQL's own CPU per request (its server process, one client): a booking's statements "
            f"{booking_cpu:.2f} ms, /me/'s {read_cpu:.3f} ms; with {cores} cores at most "
            f"{cores * 1000 / booking_cpu:.0f} bookings/s = {100 * cores * 1000 / booking_cpu / baseline:.1f} % "
            f"of /healthz/ even if nothing else cost anything"
        )

    share, read_share = 100 * booked / baseline, 100 * signed_in / baseline
    print(f"bookings/s as a share of GET /healthz/:   {share:.1f} % (goal: at least 30 %)")
    print(f"GET /api/v1/me/ as a share of /healthz/:  {read_share:.1f} % (goal: at least 60 %)")
    print(f"a booking's SQL alone as a share of /healthz/: {100 * sql_booked / baseline:.1f} % (the database's part)")
    print(f"bookings/s as a share of their SQL alone: {100 * booked / sql_booked:.1f} %")
    print(f"/me/'s SQL alone as a share of /healthz/: {100 * sql_read / baseline:.1f} %")
    context = f"{args.workers} workers, {args.clients} clients"
    goal(
        "bookings/s vs GET /healthz/",
        f"{share:.1f} % ({booked:.0f}/s vs {baseline:.0f}/s; {context})",
        "≥ 30 %",
        share >= 30,
    )
    goal("booking p99", f"{booked_p99:.0f} ms", "≤ 150 ms", booked_p99 <= 150)
    goal(
        "GET /api/v1/me/ vs GET /healthz/",
        f"{read_share:.1f} % ({signed_in:.0f}/s)",
        "≥ 60 %",
        read_share >= 60,
    )
    if booking_cpu is not None:
        ceiling = cores * 1000 / booking_cpu
        goal(
            "bookings/s if only PostgreSQL's CPU counted",
            f"{100 * ceiling / baseline:.1f} % of /healthz/ ({ceiling:.0f}/s: {booking_cpu:.2f} ms × {cores} cores)",
            "the database's ceiling",
            None,
        )
    goal(
        "a booking's SQL alone (psycopg) vs /healthz/",
        f"{100 * sql_booked / baseline:.1f} % ({sql_booked:.0f}/s, {len(bookings[0])} statements)",
        "the database's ceiling",
        None,
    )


if __name__ == "__main__":
    main()
