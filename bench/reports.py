"""What the managers' reports cost on a clinic of realistic size, and whether
their query counts stay flat as the clinic grows.

Seeds, into its own database, the demo's catalogue, rooms and devices
(demo/clinic.py) and a synthetic clinic at ``--scale`` (1 = 20,000 patients,
about 100,000 appointments over two years, about 30,000 assessments):
10 practitioners working Monday to Saturday 09:00-19:00, one room each; courses
of six visits four weeks apart (each on the same weekday, slot and
practitioner), so the exclusion constraints hold by construction: at any time
each practitioner, room, device (the six device treatments rotate over the six
device practitioners day by day) and patient has at most one visit. Past visits
are mostly completed, some no-shows and cancellations (late and in time); each
completed one has a session record with its device settings and, now and then,
an adverse event; every course has a plan with its sessions and a baseline
assessment, half the finished courses a follow-up scoring better; reminders
went out by email, SMS or WhatsApp (a few failed), visits were charged and
paid, some with an online deposit. All rows are written by
``INSERT ... SELECT`` over ``generate_series`` in the database, not by the ORM,
with the appointments' exclusion constraints dropped meanwhile and added again
at the end (built and checked in bulk: every visit still passes them): seconds,
not minutes.

Then times, for the last 365 and the last 84 days (median of ``--runs``, with
the SQL queries of a run): ``outcomes_report`` and ``operations_report``
called directly, and ``GET /api/v1/reports/outcomes/`` and
``/operations/`` through Django's test client signed in as a manager (and the
outcomes as a practitioner, whose answer covers only their own patients). The same
again at a tenth of the scale: the query counts must not differ.

    .venv/bin/python bench/reports.py [--runs 7] [--scale 1]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench_reports
(dropped and created again on every run). Goal: each report under 500 ms median
at scale 1, and the same query count at both scales.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import ok, recreate_database, timed

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per request in the figures
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_reports")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("EMAIL_URL", "locmem://")
os.environ.setdefault("CLINIC_SECOND_FACTOR_ROLES", "")  # the bench signs in without a phone
os.environ.pop("CLINIC_TIME_ZONE", None)  # Hong Kong, the default

GOAL_MS = 500
PATIENTS = 20_000  # at scale 1
PRACTITIONERS = 10
SLOTS = 20  # half-hour visits from 09:00 to 19:00
CYCLE = 24  # working days between a course's visits: four six-day weeks, the same weekday
VISITS = 6  # per course
COURSE_DAYS = CYCLE * VISITS
KEEP_VISIT_PERCENT = 80  # slots of a course that became a visit: the diary is 80 % full
DAYS_BACK, DAYS_AHEAD = 700, 28


# --- the clinic ---------------------------------------------------------------------


def seed_fixed() -> dict[str, list[int]]:
    """Catalogue, rooms, devices (the demo's) and the bench's practitioners with their hours."""
    from datetime import time as clock

    from django.contrib.auth.models import Group, User

    from booking.models import Device, Practitioner, Room, WorkingHours
    from demo.clinic import Tally, seed_catalogue, seed_kinds, seed_rooms_and_devices
    from patients.roles import PRACTITIONER, sync_roles
    from treatments.models import RoomKind, Treatment

    tally = Tally()
    sync_roles()
    room_kinds, device_kinds = seed_kinds(tally)
    seed_catalogue(tally, room_kinds, device_kinds)
    seed_rooms_and_devices(tally, room_kinds, device_kinds)
    treatments = list(Treatment.objects.all())
    for extra in range(Room.objects.count(), PRACTITIONERS):
        Room.objects.create(name_en=f"Bench room {extra + 1}", kind=RoomKind.objects.get(slug="treatment"))
    group = Group.objects.get(name=PRACTITIONER)
    practitioners = []
    for index in range(PRACTITIONERS):
        user = User.objects.create(username=f"bench-practitioner-{index}", first_name="Bench", last_name=str(index))
        user.groups.add(group)
        practitioner = Practitioner.objects.create(user=user, title_en="Dermatologist")
        practitioner.treatments.set(treatments)
        WorkingHours.objects.bulk_create(
            WorkingHours(practitioner=practitioner, weekday=day, start=clock(9), end=clock(19)) for day in range(6)
        )
        practitioners.append(practitioner.pk)
    devices = {device.kind_id: device.pk for device in Device.objects.all()}
    # One treatment per device, so that the rotation gives each device one practitioner at a time.
    with_device = list({t.device_kind_id: t for t in treatments if t.device_kind_id in devices}.values())
    return {
        "practitioners": practitioners,
        "rooms": list(Room.objects.order_by("pk").values_list("pk", flat=True)[:PRACTITIONERS]),
        "device_treatments": [t.pk for t in with_device],
        "devices": [devices[t.device_kind_id] for t in with_device],
        "other_treatments": [t.pk for t in treatments if t.device_kind_id is None and t.slug != "consultation"],
    }


SEED_SQL = """
CREATE TEMP TABLE bench_day ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY d) - 1)::int AS w, d::date AS day
FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d
WHERE extract(isodow FROM d) < 7;

-- Every course: cohort of COURSE_DAYS working days, phase within the cycle, practitioner, slot.
CREATE TEMP TABLE bench_course ON COMMIT DROP AS
SELECT course, cohort, phase, p, s, (row_number() OVER (ORDER BY course) - 1)::int AS rank
FROM (
    SELECT c AS course, c / (%(cycle)s * %(practitioners)s * %(slots)s) AS cohort,
           (c / (%(practitioners)s * %(slots)s)) %% %(cycle)s AS phase,
           (c / %(slots)s) %% %(practitioners)s AS p, c %% %(slots)s AS s
    FROM generate_series(0, (SELECT (max(w) / %(course_days)s + 1) * %(cycle)s * %(practitioners)s * %(slots)s - 1
                             FROM bench_day)) AS c
) AS every
WHERE (course * 7919) %% 1000 < %(keep_permille)s;
ALTER TABLE bench_course ADD COLUMN patient int, ADD COLUMN treatment bigint, ADD COLUMN device bigint;
UPDATE bench_course SET
    patient = rank %% %(patients)s + 1,
    treatment = CASE WHEN p < 6 THEN (%(device_treatments)s::bigint[])[(p + phase) %% 6 + 1]
                     ELSE (%(other_treatments)s::bigint[])[course %% %(other_count)s + 1] END,
    device = CASE WHEN p < 6 THEN (%(devices)s::bigint[])[(p + phase) %% 6 + 1] END;

-- Visits: the course's slot every CYCLE working days; 80 %% of them were booked.
CREATE TEMP TABLE bench_visit ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY d.day, c.p, c.s))::bigint AS id, c.*, v.visit, d.day,
       ((d.day + time '09:00' + c.s * interval '30 minutes') AT TIME ZONE 'Asia/Hong_Kong') AS start,
       ((c.course * 13 + v.visit * 7) %% 100) AS h
FROM bench_course AS c
CROSS JOIN generate_series(1, %(visits)s) AS v(visit)
JOIN bench_day AS d ON d.w = c.cohort * %(course_days)s + (v.visit - 1) * %(cycle)s + c.phase
WHERE (c.course * 31 + v.visit * 17) %% 100 < %(keep_visit)s;
ALTER TABLE bench_visit ADD COLUMN status text, ADD COLUMN created timestamptz;
UPDATE bench_visit AS v SET
    status = CASE WHEN v.course %% 20 = 7 AND v.visit > 2 THEN 'cancelled'
                  WHEN v.start > %(now)s THEN 'confirmed' WHEN v.h < 5 THEN 'no_show'
                  WHEN v.h < 13 THEN 'cancelled' ELSE 'completed' END,
    created = v.start - (1 + (v.course * 7 + v.visit) %% 40) * interval '1 day' - (v.h %% 9) * interval '1 hour';

INSERT INTO patients_patient (id, full_name, date_of_birth, phone, email, preferred_language, fitzpatrick_type,
                              reminders_opt_out, created_at, updated_at)
SELECT i, 'Bench patient ' || i, date '1985-01-01' + (i %% 7000), '+8526' || lpad(i::text, 7, '0'), '',
       CASE WHEN i %% 3 = 0 THEN 'en' ELSE 'zh-hant' END, CASE WHEN i %% 11 = 0 THEN NULL ELSE 2 + i %% 4 END,
       false, %(now)s, %(now)s
FROM generate_series(1, %(patients)s) AS i;

-- A baseline for every course the day before its first visit; half the finished courses a follow-up.
INSERT INTO treatments_assessment (id, patient_id, assessed_on, fitzpatrick_type, macular, mild_atrophic,
    moderate_atrophic, punched_out_shallow, broad_shallow, punched_out_deep_normal_base,
    punched_out_deep_abnormal_base, linear_troughed, broad_deep, hyperplastic_papular, keloid_area_cm2,
    types_present, qualitative_grade, pih, pie, notes, quantitative_score, created_at, updated_at)
SELECT c.rank + 1, c.patient, d.day - 1, 2 + c.patient %% 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '[]', score.grade,
       'none', 'none', '', score.value, %(now)s, %(now)s
FROM bench_course AS c
JOIN bench_day AS d ON d.w = c.cohort * %(course_days)s + c.phase
CROSS JOIN LATERAL (SELECT 18 + c.course %% 45 AS value) AS raw
CROSS JOIN LATERAL (SELECT raw.value, CASE WHEN raw.value >= 50 THEN 4 WHEN raw.value >= 30 THEN 3
                                           WHEN raw.value >= 15 THEN 2 ELSE 1 END AS grade) AS score;

INSERT INTO treatments_assessment (id, patient_id, assessed_on, fitzpatrick_type, macular, mild_atrophic,
    moderate_atrophic, punched_out_shallow, broad_shallow, punched_out_deep_normal_base,
    punched_out_deep_abnormal_base, linear_troughed, broad_deep, hyperplastic_papular, keloid_area_cm2,
    types_present, qualitative_grade, pih, pie, notes, quantitative_score, created_at, updated_at)
SELECT %(courses_offset)s + c.rank + 1, c.patient, d.day + 28, 2 + c.patient %% 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
       '[]', score.grade, 'none', 'none', '', score.value, %(now)s, %(now)s
FROM bench_course AS c
JOIN bench_day AS d ON d.w = c.cohort * %(course_days)s + (%(visits)s - 1) * %(cycle)s + c.phase
CROSS JOIN LATERAL (SELECT greatest(0, 18 + c.course %% 45 - 4 - c.course %% 13) AS value) AS raw
CROSS JOIN LATERAL (SELECT raw.value, CASE WHEN raw.value >= 50 THEN 4 WHEN raw.value >= 30 THEN 3
                                           WHEN raw.value >= 15 THEN 2 ELSE 1 END AS grade) AS score
WHERE c.course %% 2 = 0 AND d.day + 28 < %(today)s;

INSERT INTO treatments_treatmentplan (id, patient_id, treatment_id, assessment_id, start_after, status,
                                      cancelled_at, cancellation_reason, created_at, updated_at)
SELECT c.rank + 1, c.patient, c.treatment, c.rank + 1, first.day - 1,
       CASE WHEN c.course %% 20 = 7 THEN 'cancelled' WHEN last.day < %(today)s THEN 'completed' ELSE 'active' END,
       CASE WHEN c.course %% 20 = 7 THEN (first.day + 40)::timestamp AT TIME ZONE 'Asia/Hong_Kong' END,
       '', (first.day - 1)::timestamp AT TIME ZONE 'Asia/Hong_Kong', %(now)s
FROM bench_course AS c
JOIN bench_day AS first ON first.w = c.cohort * %(course_days)s + c.phase
LEFT JOIN bench_day AS last ON last.w = c.cohort * %(course_days)s + (%(visits)s - 1) * %(cycle)s + c.phase;

INSERT INTO treatments_plansession (id, plan_id, number, window_start, window_end, status, booked_on, completed_on,
                                    updated_at)
SELECT c.rank * %(visits)s + v.visit, c.rank + 1, v.visit, d.day - 7, d.day + 7,
       CASE WHEN c.course %% 20 = 7 AND v.visit > 2 THEN 'cancelled'
            WHEN bv.status = 'completed' THEN 'completed' WHEN bv.status = 'confirmed' THEN 'booked'
            ELSE 'pending' END,
       CASE WHEN bv.status IN ('completed', 'confirmed') THEN (bv.created AT TIME ZONE 'Asia/Hong_Kong')::date END,
       CASE WHEN bv.status = 'completed' THEN d.day END, %(now)s
FROM bench_course AS c
CROSS JOIN generate_series(1, %(visits)s) AS v(visit)
JOIN bench_day AS d ON d.w = c.cohort * %(course_days)s + (v.visit - 1) * %(cycle)s + c.phase
LEFT JOIN bench_visit AS bv ON bv.course = c.course AND bv.visit = v.visit;

INSERT INTO booking_appointment (id, uid, patient_id, treatment_id, practitioner_id, room_id, device_id, start, "end",
    blocked_until, status, source, notes, cautions, plan_session_id, override_reason, sequence, checked_in_at,
    completed_at, cancelled_at, cancelled_by, cancellation_reason, no_show_auto, patient_confirmed_at,
    patient_confirmed_via, created_at, updated_at)
SELECT v.id, gen_random_uuid(), v.patient, v.treatment, (%(practitioners_ids)s::bigint[])[v.p + 1],
       (%(rooms)s::bigint[])[v.p + 1], v.device, v.start, v.start + interval '30 minutes',
       v.start + interval '30 minutes', v.status, CASE WHEN v.h %% 3 = 0 THEN 'staff' ELSE 'patient_online' END,
       '', '[]', v.rank * %(visits)s + v.visit, '', 0,
       CASE WHEN v.status = 'completed' THEN v.start END,
       CASE WHEN v.status = 'completed' THEN v.start + interval '30 minutes' END,
       CASE WHEN v.status = 'cancelled' THEN v.start - CASE WHEN v.h %% 2 = 0 THEN interval '3 hours'
                                                              ELSE interval '3 days' END END,
       CASE WHEN v.status = 'cancelled' THEN CASE WHEN v.h < 11 OR v.course %% 20 = 7 THEN 'patient'
                                                      ELSE 'clinic' END ELSE '' END,
       '', false,
       CASE WHEN v.h %% 2 = 1 AND v.status <> 'cancelled' THEN v.start - interval '20 hours' END,
       CASE WHEN v.h %% 2 = 1 AND v.status <> 'cancelled'
            THEN (ARRAY['whatsapp', 'sms', 'email'])[v.h %% 3 + 1] ELSE '' END,
       v.created, %(now)s
FROM bench_visit AS v;

-- A patient was registered when their first visit was booked (new versus returning patients).
UPDATE patients_patient AS p SET created_at = first.booked, updated_at = first.booked
FROM (SELECT patient_id, min(created_at) AS booked FROM booking_appointment GROUP BY patient_id) AS first
WHERE p.id = first.patient_id;

INSERT INTO booking_sessionrecord (appointment_id, category, areas, anaesthesia, immediate_reaction, adverse_events,
    consent_version, consent_override_reason, notes, parameters, recorded_at)
SELECT a.id, t.category, '["cheeks"]', '', '',
       CASE WHEN (a.id * 37) %% 100 < 3 THEN 'Prolonged erythema' ELSE '' END, '', '', '',
       CASE t.category
           WHEN 'laser' THEN jsonb_build_object('fluence_j_cm2', 10 + a.id %% 40, 'density_percent', 5 + a.id %% 30)
           WHEN 'rf_microneedling' THEN jsonb_build_object('energy_mj_per_pin', 10 + a.id %% 50,
                                                           'needle_depth_mm', 0.5 + (a.id %% 6) * 0.5)
           WHEN 'microneedling' THEN jsonb_build_object('needle_depth_mm', 0.5 + (a.id %% 4) * 0.5)
           ELSE '{}'::jsonb END,
       a.completed_at
FROM booking_appointment AS a JOIN treatments_treatment AS t ON t.id = a.treatment_id
WHERE a.status = 'completed';

-- The day-before reminder of every visit due by now; a few failed, cancelled visits' were skipped.
INSERT INTO booking_notification (kind, channel, patient_id, appointment_id, sequence, offset_minutes, due_at, status,
    attempts, next_attempt_at, skip_reason, last_error, message_id, sent_at, reason, created_at)
SELECT 'reminder', (ARRAY['whatsapp', 'sms', 'email'])[(a.id * 7) %% 3 + 1], a.patient_id, a.id, 0, 1440,
       a.start - interval '1 day',
       CASE WHEN a.status = 'cancelled' AND a.cancelled_at < a.start - interval '1 day' THEN 'skipped'
            WHEN (a.id * 11) %% 100 < 4 THEN 'failed' ELSE 'sent' END,
       1, a.start - interval '1 day',
       CASE WHEN a.status = 'cancelled' AND a.cancelled_at < a.start - interval '1 day' THEN 'cancelled' ELSE '' END,
       '', 'bench-' || a.id || '@clinic.invalid', a.start - interval '1 day', '', a.created_at
FROM booking_appointment AS a WHERE a.start - interval '1 day' <= %(now)s;
UPDATE booking_notification SET sent_at = NULL WHERE status <> 'sent';

INSERT INTO booking_notificationdelivery (notification_id, channel, provider_id, status, permanent, error_code, error,
                                          fell_back_to, created_at, updated_at)
SELECT n.id, n.channel, '', CASE WHEN n.status = 'failed' THEN 'failed'
                                 ELSE (ARRAY['accepted', 'delivered', 'read'])[n.id %% 3 + 1] END,
       n.status = 'failed', '', '', '', n.due_at, n.due_at
FROM booking_notification AS n WHERE n.status IN ('sent', 'failed');

-- Money: an online deposit on some visits booked online; each completed visit charged and paid at the desk.
INSERT INTO booking_ledgerentry (patient_id, kind, method, reason, amount, reversed_amount, appointment_id, provider,
                                 provider_ref, idempotency_key, receipt_number, note, created_at)
SELECT a.patient_id, 'payment', 'online', 'deposit', 300, 0, a.id, 'stripe', 'pi_bench_' || a.id,
       'bench-deposit-' || a.id, 'D' || a.id, '', a.created_at
FROM booking_appointment AS a WHERE a.source = 'patient_online' AND a.id %% 5 = 0;
INSERT INTO booking_ledgerentry (patient_id, kind, method, reason, amount, reversed_amount, appointment_id, provider,
                                 provider_ref, idempotency_key, receipt_number, note, created_at)
SELECT a.patient_id, 'charge', '', 'treatment', greatest(t.price, 100), 0, a.id, '', '', 'bench-charge-' || a.id,
       NULL, '', a.completed_at
FROM booking_appointment AS a JOIN treatments_treatment AS t ON t.id = a.treatment_id WHERE a.status = 'completed';
INSERT INTO booking_ledgerentry (patient_id, kind, method, reason, amount, reversed_amount, appointment_id, provider,
                                 provider_ref, idempotency_key, receipt_number, note, created_at)
SELECT a.patient_id, 'payment', (ARRAY['cash', 'card', 'octopus', 'fps'])[a.id %% 4 + 1], 'treatment',
       greatest(t.price, 100), 0, a.id, '', '', 'bench-pay-' || a.id, 'B' || a.id, '', a.completed_at
FROM booking_appointment AS a JOIN treatments_treatment AS t ON t.id = a.treatment_id WHERE a.status = 'completed';
"""

TABLES = (
    "patients_patient",
    "treatments_assessment",
    "treatments_treatmentplan",
    "treatments_plansession",
    "booking_appointment",
    "booking_sessionrecord",
    "booking_notification",
    "booking_notificationdelivery",
    "booking_ledgerentry",
)


def _first_words(statement: str) -> str:
    code = [line for line in statement.strip().splitlines() if not line.startswith("--")]
    return " ".join(code[0].split()[:4]) if code else ""


def seed_clinic(
    scale: float, fixed: dict[str, list[int]], today: date, steps: list[tuple[float, str]]
) -> dict[str, int]:
    """The synthetic clinic at ``scale``, replacing the last one; returns row
    counts and adds each statement's seconds to ``steps``."""
    from django.db import connection, transaction
    from django.utils import timezone

    patients = max(200, round(PATIENTS * scale))  # at least a column of visits' worth: no one double-booked
    params = {
        "first": today - timedelta(days=DAYS_BACK),
        "last": today + timedelta(days=DAYS_AHEAD),
        "today": today,
        "now": timezone.now(),
        "course_days": COURSE_DAYS,
        "cycle": CYCLE,
        "visits": VISITS,
        "practitioners": PRACTITIONERS,
        "slots": SLOTS,
        "keep_permille": min(1000, round(1000 * scale * 0.96)),  # courses are ~4 % more than patients at scale 1
        "keep_visit": KEEP_VISIT_PERCENT,
        "patients": patients,
        "courses_offset": 10_000_000,
        "practitioners_ids": fixed["practitioners"],
        "rooms": fixed["rooms"],
        "device_treatments": fixed["device_treatments"],
        "devices": fixed["devices"],
        "other_treatments": fixed["other_treatments"],
        "other_count": len(fixed["other_treatments"]),
    }
    assert len(fixed["device_treatments"]) == 6, "the rotation needs the demo's six device treatments"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")  # the bench's own database
        # The exclusion constraints are checked row by row on insert, most of the
        # seeding's time; added again afterwards they are built and checked in bulk,
        # so every visit still passes them.
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'booking_appointment'::regclass AND contype = 'x'"
        )
        exclusions = cursor.fetchall()
        for name, _definition in exclusions:
            cursor.execute(f'ALTER TABLE booking_appointment DROP CONSTRAINT "{name}"')
        for statement in SEED_SQL.split(";\n"):
            if statement.strip():
                began = time.perf_counter()
                cursor.execute(statement, params)
                steps.append((time.perf_counter() - began, _first_words(statement)))
        began = time.perf_counter()
        cursor.execute(
            "SET CONSTRAINTS ALL IMMEDIATE"
        )  # the deferred foreign keys checked now: ALTER needs none pending
        for name, definition in exclusions:
            cursor.execute(f'ALTER TABLE booking_appointment ADD CONSTRAINT "{name}" {definition}')
        steps.append((time.perf_counter() - began, f"{len(exclusions)} exclusion constraints"))
        for table in TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        counts = {}
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    return counts


# --- the measurements -----------------------------------------------------------------


def measure(runs: int, today: date, manager: Any) -> list[tuple[str, int, float, int]]:
    from django.contrib.auth.models import User
    from django.test import Client

    from booking.report_operations import operations_report
    from booking.report_outcomes import outcomes_report
    from booking.reports import ReportFilters

    staff = Client()
    staff.force_login(manager)
    # A practitioner's outcomes cover only their own patients: another query plan.
    practitioner = Client()
    practitioner.force_login(User.objects.get(username="bench-practitioner-0"))
    out = []
    for days in (365, 84):
        start = today - timedelta(days=days - 1)
        filters = ReportFilters(start=start, end=today)
        query = f"?from={start.isoformat()}&to={today.isoformat()}"
        calls = [
            ("outcomes_report()", lambda f=filters: outcomes_report(f)),
            ("operations_report()", lambda f=filters: operations_report(f)),
            ("GET reports/outcomes/", lambda q=query: ok(staff.get(f"/api/v1/reports/outcomes/{q}", secure=True))),
            (
                "GET outcomes/ practitioner",
                lambda q=query: ok(practitioner.get(f"/api/v1/reports/outcomes/{q}", secure=True)),
            ),
            (
                "GET reports/operations/",
                lambda q=query: ok(staff.get(f"/api/v1/reports/operations/{q}", secure=True)),
            ),
        ]
        for name, call in calls:
            call()  # warm: the first request of a session reads what later ones find cached
            ms, queries = timed(runs, call)
            out.append((name, days, ms, queries))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 20,000 patients, ~100,000 appointments")
    args = parser.parse_args()

    recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    logging.disable(logging.WARNING)  # django-axes logs every sign-in
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from clinic.clock import clinic_today

    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    migrate_s = time.perf_counter() - began
    fixed = seed_fixed()
    manager = User.objects.create(username="bench-manager", first_name="Grace", last_name="Lam", is_staff=True)
    manager.groups.add(Group.objects.get_or_create(name="manager")[0])
    today = clinic_today()

    results = []
    for scale in (args.scale / 10, args.scale):
        began = time.perf_counter()
        steps: list[tuple[float, str]] = []
        counts = seed_clinic(scale, fixed, today, steps)
        seed_s = time.perf_counter() - began
        slowest_steps = ", ".join(f"{name} {seconds:.1f} s" for seconds, name in sorted(steps, reverse=True)[:3])
        results.append((scale, counts, seed_s, slowest_steps, measure(args.runs, today, manager)))

    print(f"reports: median of {args.runs} runs; PostgreSQL; migrate {migrate_s:.1f} s")
    for scale, counts, seed_s, slowest_steps, _rows in results:
        print(
            f"scale {scale:g}: seeded in {seed_s:.1f} s: {counts['patients_patient']:,} patients, "
            f"{counts['booking_appointment']:,} appointments, {counts['treatments_assessment']:,} assessments, "
            f"{counts['booking_sessionrecord']:,} session records, {counts['treatments_treatmentplan']:,} plans, "
            f"{counts['booking_notification']:,} reminders, {counts['booking_ledgerentry']:,} ledger rows "
            f"(slowest: {slowest_steps})"
        )
    small, full = results[0][4], results[-1][4]
    print(f"{'':28} {'days':>4} {'ms':>8} {'queries':>8} {'queries at 1/10':>16} {'< ' + str(GOAL_MS) + ' ms':>9}")
    flat = True
    for (name, days, ms, queries), (_n, _d, _ms, small_queries) in zip(full, small, strict=True):
        flat = flat and queries == small_queries
        print(f"{name:28} {days:>4} {ms:>8.1f} {queries:>8} {small_queries:>16} {'yes' if ms < GOAL_MS else 'NO':>9}")
    slowest = max(ms for _name, _days, ms, _q in full)
    print(
        f"goal: each report under {GOAL_MS} ms median: {'met' if slowest < GOAL_MS else 'NOT met'} "
        f"(slowest {slowest:.1f} ms); query counts flat as the clinic grows: {'yes' if flat else 'NO'}"
    )


if __name__ == "__main__":
    main()
