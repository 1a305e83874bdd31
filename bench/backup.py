"""How long ``manage.py backup`` and ``manage.py restore`` take for the demo clinic
plus 10,000 appointments, and how large the archive is.

Seeds the demo clinic (``seed_demo``: catalogue, staff, Emily Cheung's course
with its photos, a year of some fifty patients' courses) into its own
database, adds --appointments past appointments spread over bench patients
(one for every 20), then runs, each as its own process as an operator would:
``manage.py backup`` into a temporary folder, and ``manage.py restore`` of that
archive into a second, empty database and an empty media folder. Prints rows,
archive size and seconds (wall time of each command, Python's start included).

    .venv/bin/python bench/backup.py [--appointments 10000] [--runs 3]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench_backup;
it and <name>_restore are dropped and created again on every run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import past_visits, recreate_database

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_backup")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "1")  # seed_demo's demo accounts, and manage.py's start
os.environ.setdefault("EMAIL_URL", "locmem://")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.pop("CLINIC_TIME_ZONE", None)


def manage(*args: str, **environment: str) -> tuple[float, str]:
    began = time.perf_counter()
    answer = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    if answer.returncode != 0:
        raise SystemExit(f"manage.py {args[0]} failed:\n{answer.stdout}\n{answer.stderr}")
    return seconds, answer.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appointments", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="backups and restores timed (the median is shown)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="clinic-bench-backup-"))
    os.environ["CLINIC_MEDIA_ROOT"] = str(work / "media")
    os.environ["CLINIC_VAR_DIR"] = str(work / "var")
    (work / "var").mkdir()
    source = os.environ["DATABASE_URL"]
    target = source + "_restore"
    recreate_database(source)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from booking.models import Practitioner, Room
    from clinic.backup import read_facts
    from patients.models import Patient
    from treatments.models import Treatment

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    began = time.perf_counter()
    call_command("seed_demo", stdout=StringIO())
    seed_s = time.perf_counter() - began

    consultation = Treatment.objects.get(slug="consultation")
    practitioner = Practitioner.objects.order_by("pk").first()
    room = Room.objects.filter(kind=consultation.room_kind).first() or Room.objects.first()
    today = timezone.localdate()
    patients = Patient.objects.bulk_create(
        Patient(full_name=f"Bench patient {i}", date_of_birth=today - timedelta(days=9000), phone=f"+8526{i:07d}")
        for i in range(max(1, args.appointments // 20))
    )
    past_visits(
        args.appointments,
        owner=lambda i: patients[i % len(patients)],
        treatment=consultation,
        practitioner=practitioner,
        room=room,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(n_live_tup), 0) FROM pg_stat_user_tables")
        all_rows = int(cursor.fetchone()[0])
        cursor.execute("SELECT pg_database_size(current_database())")
        database_bytes = int(cursor.fetchone()[0])
        # Rows as the backup counts them (appointments include waitlist holds, which Appointment.objects hides).
        facts = read_facts(cursor, connection.ops.quote_name).counts
    counts = (facts["patients"], facts["appointments"], facts["photos"])
    connection.close()

    backups, restores, backups_own, restores_own = [], [], [], []
    archive = work / "none"
    for run in range(args.runs):
        folder = work / f"backups-{run}"
        seconds, out = manage("backup", "--output", f"{folder}/")
        backups.append(seconds)
        backups_own.append(float(re.findall(r"bytes, ([\d.]+) s\)", out)[-1]))
        (archive,) = folder.iterdir()
        recreate_database(target)
        seconds, out = manage(
            "restore", str(archive), DATABASE_URL=target, CLINIC_MEDIA_ROOT=str(work / f"restored-media-{run}")
        )
        restores.append(seconds)
        restores_own.append(float(re.findall(r"restored in ([\d.]+) s", out)[-1]))
    startup, _out = manage("check")

    print(f"backup bench: demo clinic (seeded in {seed_s:.1f} s) + {args.appointments:,} appointments; PostgreSQL")
    print(f"  patients {counts[0]:,}, appointments {counts[1]:,}, photos {counts[2]:,}; about {all_rows:,} rows in all")
    print(f"  database on the server: {database_bytes / 1e6:.1f} MB")
    print(f"{'step':<10}{'archive MB':>12}{'command s':>11}{'its own work s':>16}   runs (command s)")
    size = archive.stat().st_size / 1e6
    for step, walls, works in (("backup", backups, backups_own), ("restore", restores, restores_own)):
        each = ", ".join(f"{v:.2f}" for v in walls)
        print(f"{step:<10}{size:>12.2f}{statistics.median(walls):>11.2f}{statistics.median(works):>16.2f}   {each}")
    print(
        f"(medians of {args.runs}; a command's time includes starting manage.py, `manage.py check` alone: {startup:.2f} s)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
