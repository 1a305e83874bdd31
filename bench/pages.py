"""How fast the busiest pages render, and whether their query counts stay flat as data grows.

Seeds the demo clinic (``seed_demo`` with its history) into its own database,
then grows the tables: N past appointments spread over many patients, and for
the demo patient Emily Cheung N/100 extra visits (with their session records),
assessments (with a photo and a history row each) and health declarations, so
every section of her chart has more to list. For N = 0, 1,000 and 10,000 it renders each page
in-process with Django's test client (no network, no browser: the server's
share of the time) and prints the median of ``--runs`` renders and the number
of SQL queries. Staff are signed in past the second factor, as in the tests; a
page that does not answer 200 is printed as failed and fails its goal.

    .venv/bin/python bench/pages.py [--runs 15] [--sizes 0,1000,10000]
        [--profile "chart: history,chart: assessments" | --profile all] [--keep]

``--profile`` prints pyinstrument's tree of ten renders of the pages named, at
the largest N; ``--keep`` leaves that N's rows in the database afterwards, to
look at the queries with EXPLAIN ANALYZE.

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench_pages;
the database is created if missing and migrated; its clinical and booking rows
are replaced.

Goals (one ``GOAL`` line each for ``make bench``): every page at most 150 ms
median at N = 10,000 on this 2-core machine, and the same query count for
every N (a count that grows with N is an N+1 bug).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_pages")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per request in the figures
os.environ.setdefault("EMAIL_URL", "locmem://")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.pop("CLINIC_TIME_ZONE", None)

GOAL_MS = 150


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
    parser.add_argument("--sizes", default="0,1000,10000")
    parser.add_argument(
        "--keep", action="store_true", help="leave the largest N's rows in the database (for EXPLAIN ANALYZE)"
    )
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated page labels (or 'all') to profile with pyinstrument at the largest N",
    )
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
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from simple_history.utils import bulk_create_with_history

    from bench.common import goal
    from booking.models import Appointment, Notification, Practitioner, Room, SessionRecord
    from clinic.i18n import compile_catalogues
    from patients.models import DECLARATION_YES_NO, HealthDeclaration, Patient
    from patients.second_factor import second_factor_required
    from treatments.models import Assessment, AssessmentPhoto, PhotoView, Treatment, TreatmentPlan

    logging.disable(logging.WARNING)  # django-axes logs every sign-in
    compile_catalogues()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    if not Patient.objects.filter(user__username="patient@example.com").exists():
        settings.DEBUG = True
        from io import StringIO

        call_command("seed_demo", "--force", stdout=StringIO())
        settings.DEBUG = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    emily = Patient.objects.get(user__username="patient@example.com")
    doctor = User.objects.get(username="doctor@example.com")
    reception = User.objects.get(username="reception@example.com")
    practitioner = Practitioner.objects.get(user=doctor)
    consultation = Treatment.objects.get(slug="consultation")
    room = Room.objects.filter(kind=consultation.room_kind).first() or Room.objects.first()
    first_assessment = Assessment.objects.filter(patient=emily).order_by("assessed_on").first()
    plan = TreatmentPlan.objects.filter(patient=emily).first()
    today = timezone.localdate()
    busy_day = Appointment.objects.filter(start__date__gte=today).order_by("start").values_list("start", flat=True)
    day = timezone.localtime(busy_day[0]).date() if busy_day else today

    from bench.common import past_visits
    from booking.availability import find_slots

    free = find_slots(
        treatment=Treatment.objects.get(slug="pico-laser"), first_date=today, last_date=today + timedelta(days=14)
    )
    slot_day = timezone.localtime(free[0].start).date() if free else today

    def grow_to(n: int) -> None:
        """Exactly n bench rows: past appointments of many patients, and Emily's extra
        history: N/100 visits (a session record for each completed one), N/100
        assessments with a photo each and their history rows, N/100 declarations,
        so that every section of her chart has more to list as N grows."""
        SessionRecord.objects.filter(notes="bench").delete()
        AssessmentPhoto.objects.filter(assessment__notes="bench").delete()
        Appointment.objects.filter(notes="bench").delete()
        Assessment.objects.filter(notes="bench").delete()
        Patient.objects.filter(full_name__startswith="Bench patient").exclude(appointments__isnull=False).delete()
        # Deleting writes a history row per row deleted: drop them too, or each run leaves 10,000 more.
        for model in (Assessment, SessionRecord, Appointment):
            model.history.filter(notes="bench").delete()
        Patient.history.filter(full_name__startswith="Bench patient").delete()
        HealthDeclaration.objects.filter(allergies_other="bench").delete()
        HealthDeclaration.history.filter(allergies_other="bench").delete()
        if not n:
            return
        patients = Patient.objects.bulk_create(
            Patient(full_name=f"Bench patient {i}", date_of_birth=today - timedelta(days=9000), phone=f"+8526{i:07d}")
            for i in range(max(1, n // 20))
        )
        past_visits(
            n,
            owner=lambda i: emily if i % 100 == 0 else patients[i % len(patients)],
            treatment=consultation,
            practitioner=practitioner,
            room=room,
        )
        extra = [
            Assessment(
                patient=emily,
                assessed_on=today - timedelta(days=400 + i),
                assessed_by=doctor,
                fitzpatrick_type=3,
                qualitative_grade=2,
                quantitative_score=20 + i % 10,
                notes="bench",
                **{k: getattr(first_assessment, k) for k in first_assessment.lesions},
            )
            for i in range(n // 100)
        ]
        extra = bulk_create_with_history(extra, Assessment, default_user=doctor)
        HealthDeclaration.objects.bulk_create(  # older than the demo's: the newest still decides the flags
            HealthDeclaration(
                patient=emily,
                submitted_at=timezone.now() - timedelta(days=400 + i),
                entered_by=reception,
                allergies_other="bench",
                **dict.fromkeys(DECLARATION_YES_NO, False),
            )
            for i in range(n // 100)
        )
        extra = list(Assessment.objects.filter(notes="bench"))
        views = list(PhotoView)
        AssessmentPhoto.objects.bulk_create(
            AssessmentPhoto(
                assessment=assessment,
                view=views[i % len(views)],
                taken_at=timezone.now() - timedelta(days=400 + i),
                image=f"bench/{assessment.pk}.jpg",
                thumbnail=f"bench/{assessment.pk}-thumb.jpg",
                content_type="image/jpeg",
                width=1200,
                height=900,
                uploaded_by=doctor,
            )
            for i, assessment in enumerate(extra)
        )
        bulk_create_with_history(
            [
                SessionRecord(
                    appointment=visit,
                    category=consultation.category,
                    notes="bench",
                    recorded_by=doctor,
                    recorded_at=visit.end,
                )
                for visit in Appointment.objects.filter(
                    patient=emily, notes="bench", status=Appointment.Status.COMPLETED
                )
            ],
            SessionRecord,
            default_user=doctor,
        )

    pages = [
        ("staff day view", reception, f"/staff/?date={day.isoformat()}"),
        ("staff week view", reception, f"/staff/?date={day.isoformat()}&view=week"),
        ("patient chart", doctor, f"/staff/patients/{emily.pk}/"),
        # The chart's other sections: each lists something that grows with her history.
        ("chart: assessments", doctor, f"/staff/patients/{emily.pk}/assessments/"),
        ("chart: photos", doctor, f"/staff/patients/{emily.pk}/photos/"),
        ("chart: plans", doctor, f"/staff/patients/{emily.pk}/plans/"),
        ("chart: records", doctor, f"/staff/patients/{emily.pk}/records/"),
        ("chart: appointments", doctor, f"/staff/patients/{emily.pk}/appointments/"),
        ("chart: history", doctor, f"/staff/patients/{emily.pk}/history/"),
        ("due sessions", reception, "/staff/due/"),
        ("no-shows", reception, "/staff/no-shows/"),
        ("failed emails", reception, "/staff/notifications/failed/"),
        ("my appointments", emily.user, "/appointments/"),
        ("my progress", emily.user, "/progress/"),
        ("my plan", emily.user, f"/plans/{plan.pk}/"),
        ("book: calendar", emily.user, "/book/?treatment=pico-laser&practitioner=any"),
        ("book: day's times", emily.user, f"/book/?treatment=pico-laser&practitioner=any&date={slot_day.isoformat()}"),
        ("treatments", None, "/treatments/"),
    ]

    def sign_in(client: Client, user: User) -> None:
        """Signs in as a member of staff who has passed the second factor, as
        tests/conftest.py does: without it a practitioner's /staff/ page is a
        redirect to the code page, not the page."""
        client.force_login(user)
        if second_factor_required(user):
            device, _created = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    profiled = {label.strip() for label in args.profile.split(",") if label.strip()}

    def profile(label: str, client: Client, url: str) -> None:
        """Where a page's time goes: pyinstrument over ten renders, the top of the tree."""
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        with profiler:
            for _ in range(10):
                client.get(url, secure=True)
        print(f"--- profile of {label} (10 renders) ---")
        print(profiler.output_text(unicode=True, color=False, show_all=False, short_mode=True))

    width = max(len(label) for label, _user, _url in pages) + 2
    print(f"{'page':<{width}}{'N':>8}{'median ms':>12}{'queries':>9}  status")
    counts: dict[str, set[int]] = {}
    at_largest: dict[str, tuple[float, int]] = {}
    failed: set[str] = set()
    for n in sizes:
        grow_to(n)
        Notification.objects.filter(status=Notification.Status.PENDING).count()  # warm the connection
        for label, user, url in pages:
            client = Client()
            if user is not None:
                sign_in(client, user)
            client.get(url, secure=True)  # warm caches and templates
            timings = []
            statuses = set()
            for _ in range(args.runs):
                begin = time.perf_counter()
                response = client.get(url, secure=True)
                timings.append((time.perf_counter() - begin) * 1000)
                statuses.add(response.status_code)
            with CaptureQueriesContext(connection) as queries:
                statuses.add(client.get(url, secure=True).status_code)
            median = statistics.median(timings)
            if statuses != {200}:  # a redirect or an error is not the page: its time means nothing
                failed.add(label)
                print(f"{label:<{width}}{n:>8}{'FAILED':>12}{'':>9}  {sorted(statuses)}")
                continue
            counts.setdefault(label, set()).add(len(queries))
            if n == max(sizes):
                at_largest[label] = (median, len(queries))
            print(f"{label:<{width}}{n:>8}{median:>12.1f}{len(queries):>9}  200")
            if n == max(sizes) and (label in profiled or "all" in profiled):
                profile(label, client, url)
    if not args.keep:
        grow_to(0)
    largest = max(sizes)
    for label, _user, _url in pages:
        if label in failed:
            goal(f"page {label} median at N={largest:,}", "failed: not a 200", f"≤ {GOAL_MS} ms", False)
            continue
        ms, queries = at_largest[label]
        goal(
            f"page {label} median at N={largest:,}", f"{ms:.0f} ms, {queries} queries", f"≤ {GOAL_MS} ms", ms <= GOAL_MS
        )
    worst_label, (worst, _q) = max(at_largest.items(), key=lambda item: item[1][0]) if at_largest else ("", (0.0, 0))
    grown = {k: sorted(v) for k, v in counts.items() if len(v) > 1}
    flat = not grown and not failed
    print(
        f"\nslowest page at N={largest}: {worst_label} {worst:.1f} ms (goal ≤ {GOAL_MS} ms): "
        f"{'met' if worst <= GOAL_MS and not failed else 'NOT met'}"
    )
    if failed:
        print(f"pages that did not answer 200: {', '.join(sorted(failed))}")
    print(f"query counts the same for every N: {'yes' if not grown else 'NO: ' + str(grown)}")
    goal(
        "page query counts flat for every N",
        "yes" if flat else ("NO: " + ", ".join(f"{k} {v}" for k, v in grown.items()) if grown else "pages failed"),
        "same for every N",
        flat,
    )


if __name__ == "__main__":
    main()
