"""Requests per second and latency under a mixed load, with one and with two web processes.

Seeds its own PostgreSQL database (the demo clinic, plus bench patients,
receptionists and practitioners who can sign in, and rooms, so the run never
runs out of free slots), keeps it as a template, and for each layout copies it afresh, starts
the web tier (bin/serve, gunicorn gthread) and runs Locust headless against it
with bench/locustfile.py: patients who sign in with a token, browse
availability and the booking page, book, look at their appointments and
sometimes cancel; staff who sign in through the login form and open the day's
schedule and patient charts.

    .venv/bin/python bench/load.py [--users 30] [--seconds 60] [--spawn-rate 10] [--wait 0.5,2]
                                   [--two servers|workers] [--quick] [--small] [--keep]

docs/load-testing.md says what the scenario does, how to read it, and what it measured.

Layouts: ONE web process (WEB_WORKERS=1), then TWO: by default two separate
servers on two ports with the users split between them (two machines behind a
load balancer; nothing shared but the database), or with ``--two workers`` one
server with WEB_WORKERS=2. ``--quick`` runs the one-process layout only,
``--small`` seeds the demo clinic without its history (faster; for the smoke test).

Prints one table per run (requests, requests/s, p50/p95/p99 ms, errors and
error rate, per request type and in total) and the two-process/one-process ratio.
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/clinic_bench_load)
names the template database; the runs use it with a ``_run`` suffix. Both are
dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_load")
SERVER = DATABASE.rsplit("/", 1)[0] + "/postgres"
ENV = {
    **os.environ,
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DEBUG": "0",
    "EMAIL_URL": "locmem://",
    "ALLOWED_HOSTS": "127.0.0.1",
    "STATIC_MANIFEST": "0",
    # Plain HTTP on the loopback: no redirect to HTTPS, and cookies a client sends over HTTP.
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    # Every simulated user comes from 127.0.0.1, so per-address limits would
    # throttle the whole crowd as one client; and each bench patient books
    # far more often than a real one.
    "THROTTLE_BOOKING": "1000000/hour",
    "THROTTLE_TOKEN": "1000000/hour",
    "THROTTLE_REGISTER": "1000000/hour",
    "AXES_FAILURE_LIMIT": "1000000",
    # The demo's practitioner signs in with a password only (no authenticator app in a bench).
    "CLINIC_SECOND_FACTOR_ROLES": "",
    "LOG_LEVEL": "WARNING",
    "PYTHONUNBUFFERED": "1",
}
ENV.pop("REDIS_URL", None)  # the web tier needs no broker: the outbox is swept later
ENV.pop("CLINIC_TIME_ZONE", None)

# The treatments bench patients browse and book: no device needed, so rooms and practitioners bound them.
TREATMENTS = ["consultation", "peel-superficial", "tca-cross"]
BENCH_PASSWORD = "bench-load-password-1"  # accounts of a throw-away bench database


def with_name(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


def copy_database(template: str, target: str) -> None:
    """A fresh copy of the seeded database, so every run starts from the same rows."""
    import psycopg

    drop_database(target)
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database_name(target)}" TEMPLATE "{database_name(template)}"')


@functools.cache
def _quick_hasher() -> type:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    class QuickPBKDF2(PBKDF2PasswordHasher):
        iterations = 1000

    return QuickPBKDF2


def __getattr__(name: str) -> type:  # "__main__.QuickPBKDF2", made once Django is set up
    if name == "QuickPBKDF2":
        return _quick_hasher()
    raise AttributeError(name)


def seed(*, small: bool, patients: int, practitioners: int) -> dict:
    """The demo clinic, then bench patients, practitioners and rooms, in bulk. Returns the locustfile's fixture."""
    from bench.common import recreate_database

    started = time.perf_counter()
    recreate_database(DATABASE)
    os.environ.update({**ENV, "DATABASE_URL": DATABASE})
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    import django

    django.setup()
    from io import StringIO

    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.test import override_settings

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    migrated = time.perf_counter()
    # Passwords are stored with a cheap PBKDF2 count, which seeds in a blink. A sign-in
    # still costs what it costs in production: Django verifies the cheap hash, sees the
    # count is below the server's and hashes the password again at the full count.
    with override_settings(PASSWORD_HASHERS=["__main__.QuickPBKDF2"]):
        call_command("seed_demo", force=True, without_history=small, stdout=StringIO())
        password = make_password(BENCH_PASSWORD)  # every bench account shares it

    from datetime import date
    from datetime import time as clock

    from django.contrib.auth.models import Group, User
    from django.db import connections, transaction

    from booking.models import Practitioner, Room, WorkingHours
    from patients.models import HealthDeclaration, Patient
    from patients.roles import PRACTITIONER, RECEPTIONIST
    from treatments.models import Treatment

    treatments = list(Treatment.objects.filter(slug__in=TREATMENTS))
    answers = dict.fromkeys(
        "pregnant_or_breastfeeding keloid_tendency cold_sore_history active_cold_sore anticoagulants "
        "photosensitising_medication active_skin_infection recent_sun_exposure autoimmune_condition "
        "neuromuscular_disorder active_acne implanted_electronic_device".split(),
        False,
    )
    with transaction.atomic():
        kinds = {treatment.room_kind_id for treatment in treatments}
        Room.objects.bulk_create(
            Room(name_en=f"Bench room {kind}-{index}", kind_id=kind) for kind in kinds for index in range(practitioners)
        )
        doctors = User.objects.bulk_create(
            User(username=f"bench.doctor{i}@example.com", email=f"bench.doctor{i}@example.com", password=password)
            for i in range(practitioners)
        )
        desk = User.objects.bulk_create(
            User(username=f"bench.desk{i}@example.com", email=f"bench.desk{i}@example.com", password=password)
            for i in range(practitioners)
        )
        Group.objects.get(name=PRACTITIONER).user_set.add(*doctors)
        Group.objects.get(name=RECEPTIONIST).user_set.add(*desk)
        staff = Practitioner.objects.bulk_create(
            Practitioner(user=user, title_en="Dermatologist", title_zh_hant="皮膚科醫生") for user in doctors
        )
        Practitioner.treatments.through.objects.bulk_create(
            Practitioner.treatments.through(practitioner=practitioner, treatment=treatment)
            for practitioner in staff
            for treatment in treatments
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(practitioner=practitioner, weekday=day, start=clock(9), end=clock(19))
            for practitioner in staff
            for day in range(7)
        )
        users = User.objects.bulk_create(
            User(username=f"bench.patient{i}@example.com", email=f"bench.patient{i}@example.com", password=password)
            for i in range(patients)
        )
        records = Patient.objects.bulk_create(
            Patient(
                user=user,
                full_name=f"Bench Patient {i}",
                email=user.email,
                date_of_birth=date(1990, 1, 1),
                phone=f"+8529{i:07d}",
            )
            for i, user in enumerate(users)
        )
        HealthDeclaration.objects.bulk_create(HealthDeclaration(patient=patient, **answers) for patient in records)
    fixture = {
        "treatments": [treatment.slug for treatment in treatments],
        "patients": [{"email": user.email, "password": BENCH_PASSWORD} for user in users],
        # Receptionists and practitioners in turn, an account per staff user: two first
        # sign-ins of one account at once would each upgrade its password hash, and the
        # session signed in with the hash that lost would be signed out.
        "staff": [
            {"email": user.email, "password": BENCH_PASSWORD}
            for pair in zip(desk, doctors, strict=True)
            for user in pair
        ],
        "charts": list(Patient.objects.filter(erased_at__isnull=True).values_list("pk", flat=True)),
    }
    connections.close_all()  # a template database must have no other session
    print(f"seeded in {time.perf_counter() - started:.1f} s (migrations {migrated - started:.1f} s): the demo clinic{' (no history)' if small else ''}, "
          f"{patients} bench patients, {practitioners} bench practitioners and receptionists")  # fmt: skip
    return fixture


def children_cpu() -> float:
    """CPU seconds (user + system) of the processes this one has started and waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bin/serve exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + "/healthz/", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise SystemExit(f"bin/serve did not answer within 60 s:\n{self.log.read_text()[-3000:]}")

    def warm(self) -> None:
        """One request per page type, so no measured request pays for imports and template compilation."""
        for path in [
            "/healthz/",
            "/treatments/",
            "/accounts/login/",
            f"/book/?treatment={TREATMENTS[0]}&practitioner=any",
        ]:
            for _ in range(4):  # reach every worker
                with urllib.request.urlopen(self.base + path, timeout=30) as answer:
                    answer.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def serve(database: str, workers: int, log: Path) -> Server:
    port = free_port()
    env = {**ENV, "DATABASE_URL": database, "PORT": str(port), "WEB_WORKERS": str(workers),
           "CLINIC_VAR_DIR": str(log.parent / f"var-{port}")}  # fmt: skip
    Path(env["CLINIC_VAR_DIR"]).mkdir()
    with log.open("wb") as output:
        process = subprocess.Popen(
            # Keep-alive past the users' longest pause: gunicorn's default (2 s) closes idle
            # connections just as a client reuses one (a reset, not the app's doing).
            [str(ROOT / "bin/serve"), "--keep-alive", "10"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(process, port, log)


@dataclass
class Row:
    name: str
    requests: int
    failures: int
    rate: float
    p50: float
    p95: float
    p99: float

    @property
    def error_rate(self) -> float:
        return 100 * self.failures / self.requests if self.requests else 0.0


def read_stats(prefix: Path) -> list[Row]:
    """Locust's ``PREFIX_stats.csv``: one row per request name, then ``Aggregated``."""
    rows = []
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for line in csv.DictReader(handle):
            name = line["Name"] if line["Name"] != "Aggregated" else "total"

            def number(column: str, line: dict[str, str] = line) -> float:
                value = line[column]
                return float(value) if value not in ("", "N/A") else 0.0

            rows.append(
                Row(name, int(line["Request Count"]), int(line["Failure Count"]), number("Requests/s"),
                    number("50%"), number("95%"), number("99%"))
            )  # fmt: skip
    return rows


def table(title: str, rows: list[Row]) -> str:
    lines = [
        title,
        f"{'request':<34}{'count':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'err %':>7}",
    ]
    for row in rows:
        if not row.requests and row.name != "total":
            continue  # the sign-ins, done before the window opened
        if row.name == "total":
            lines.append("-" * len(lines[1]))
        lines.append(
            f"{row.name:<34}{row.requests:>8}{row.rate:>9.1f}{row.p50:>9.0f}{row.p95:>9.0f}{row.p99:>9.0f}"
            f"{row.failures:>8}{row.error_rate:>7.2f}"
        )
    return "\n".join(lines)


def run(
    *, label: str, hosts: list[str], args: argparse.Namespace, fixture: Path, work: Path
) -> tuple[list[Row], float]:
    """Locust's table of the run, and the CPU seconds Locust itself used."""
    prefix = work / label.replace(" ", "-")
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "bench/locustfile.py"), "--headless",
        # The locustfile stops the run --seconds after the last user has signed in; -t is a backstop.
        "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.seconds + 300}s", "--host", hosts[0],
        "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10",
    ]  # fmt: skip
    signins = work / f"{prefix.name}-signin.json"
    env = {
        **os.environ,
        "LOAD_FIXTURE": str(fixture),
        "LOAD_HOSTS": ",".join(hosts),
        "LOAD_USERS": str(args.users),
        "LOAD_STAFF": str(max(1, round(args.users / 10))),
        "LOAD_SECONDS": str(args.seconds),
        "LOAD_SIGNIN_FILE": str(signins),
        "LOAD_WAIT": args.wait,
    }
    with (work / f"{prefix.name}-locust.log").open("wb") as output:
        before = children_cpu()
        finished = subprocess.run(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, check=False)
        locust_cpu = children_cpu() - before
    rows = read_stats(prefix) if Path(f"{prefix}_stats.csv").exists() else []
    if finished.returncode not in (0, 1) or not rows or not signins.exists():  # 1: failures, which the table shows
        print((work / f"{prefix.name}-locust.log").read_text()[-4000:])
        raise SystemExit(
            f"locust exited with {finished.returncode}"
            + ("" if signins.exists() else ", before every user had signed in")
        )
    print(f"\n{label}: sign-ins before the measured window (every user signs in once, on arrival)")
    for entry in json.loads(signins.read_text()):
        print(f"  {entry['name']:<32}{entry['requests']:>8}   p50 {entry['p50']:>6.0f} ms   p95 {entry['p95']:>6.0f} ms"
              f"   p99 {entry['p99']:>6.0f} ms   errors {entry['failures']}")  # fmt: skip
    failures = work / f"{prefix.name}_failures.csv"
    if failures.exists():
        with failures.open(newline="") as handle:
            for line in csv.DictReader(handle):
                print(f"  failed: {line['Method']} {line['Name']}: {line['Error'][:160]} (x{line['Occurrences']})")
    return rows, locust_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=30, help="simulated users (default 30)")
    parser.add_argument("--seconds", type=int, default=60, help="length of each run (default 60)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second (default 10)")
    parser.add_argument("--wait", default="0.5,2", help="a patient's pause between requests, min,max seconds "
                        "(default 0.5,2; staff pause twice as long)")  # fmt: skip
    parser.add_argument("--two", choices=["servers", "workers"], default="servers",
                        help="two web processes as two servers on two ports (default) or one server with two workers")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="the one-process run only")
    parser.add_argument("--small", action="store_true", help="seed the demo clinic without its history")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()

    python = Path(sys.executable)
    python_shown = str(python.relative_to(ROOT)) if python.is_relative_to(ROOT) else str(python)
    print("$ " + shlex.join([python_shown, "bench/load.py", *sys.argv[1:]]))
    print(f"machine: {os.cpu_count()} CPUs; {args.users} users, {args.seconds} s measured per run, "
          f"spawn rate {args.spawn_rate}/s, pauses {args.wait} s")  # fmt: skip
    fixture_data = seed(small=args.small, patients=max(50, 4 * args.users), practitioners=max(8, args.users // 20 + 1))
    run_database = with_name(DATABASE, database_name(DATABASE) + "_run")
    layouts = [("1 web process", [1])]
    if not args.quick:
        layouts.append(("2 web processes" + (" (2 servers)" if args.two == "servers" else " (1 server, 2 workers)"),
                        [1, 1] if args.two == "servers" else [2]))  # fmt: skip
    results: dict[str, list[Row]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="clinic-load-") as folder:
            work = Path(folder)
            fixture = work / "fixture.json"
            fixture.write_text(json.dumps(fixture_data))
            for label, workers in layouts:
                copy_database(DATABASE, run_database)
                before = children_cpu()
                servers = [
                    serve(run_database, count, work / f"serve-{label[0]}-{i}.log") for i, count in enumerate(workers)
                ]
                try:
                    for server in servers:
                        server.wait()
                        server.warm()
                    rows, locust_cpu = run(
                        label=label, hosts=[s.base for s in servers], args=args, fixture=fixture, work=work
                    )
                finally:
                    for server in servers:
                        server.stop()
                web_cpu = children_cpu() - before - locust_cpu
                print(f"{label}: CPU seconds used by the web processes {web_cpu:.1f} (start to stop: warm-up and "
                      f"sign-ins included), by Locust {locust_cpu:.1f}")  # fmt: skip
                results[label] = rows
                load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
                print()
                print(table(f"{label}: {args.users} users, {args.seconds} s (load average after: {load})", rows))
    finally:
        if not args.keep:
            drop_database(run_database)
            drop_database(DATABASE)
    totals = {label: next(row for row in rows if row.name == "total") for label, rows in results.items()}
    print("\nsummary")
    print(f"{'layout':<38}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'err %':>7}")
    for label, total in totals.items():
        print(
            f"{label:<38}{total.rate:>9.1f}{total.p50:>9.0f}{total.p95:>9.0f}{total.p99:>9.0f}{total.failures:>8}{total.error_rate:>7.2f}"
        )
    if len(totals) == 2:
        one, two = totals.values()
        print(
            f"2 processes / 1 process: requests/s x{two.rate / one.rate:.2f}, p95 x{two.p95 / one.p95:.2f}"
            if one.rate and one.p95
            else ""
        )


if __name__ == "__main__":
    main()
