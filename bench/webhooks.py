"""Outgoing webhooks: what an event costs the booking, and how fast the outbox delivers.

1. A booking's cost: the median time of ``appointment_book`` (staff, one
   practitioner) and its SQL queries with no subscription, then with three
   (one clinical) subscribed to ``appointment.created``.
2. Delivery: N deliveries (one per booking above, plus pings) sent by the sweep
   in this process to a local HTTP receiver (a thread in this script), as the
   Celery task does; prints deliveries per second, the duplicates the receiver
   saw (by webhook-id) and the signatures that failed to verify.

    .venv/bin/python bench/webhooks.py [--bookings 60] [--pings 600]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench_webhooks;
the database is dropped, created again and migrated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as clock
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_webhooks")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per request in the figures
os.environ.setdefault("EMAIL_URL", "locmem://")
os.environ["CLINIC_WEBHOOK_HTTP_HOSTS"] = "127.0.0.1"
os.environ["CLINIC_WEBHOOK_PRIVATE_NETWORKS"] = "127.0.0.0/8"
os.environ.pop("CLINIC_TIME_ZONE", None)


def recreate_database(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: Counter[str] = Counter()
        self.requests: list[tuple[dict[str, str], bytes]] = []

    def serve(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.ids[self.headers["webhook-id"]] += 1
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=60)
    parser.add_argument("--pings", type=int, default=600)
    args = parser.parse_args()

    recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from standardwebhooks import Webhook

    from booking import services, webhooks
    from booking.models import Practitioner, Room, WebhookDelivery, WorkingHours
    from booking.webhook_delivery import deliver_here, webhooks_sweep
    from patients.models import Patient
    from treatments.models import RoomKind, Treatment

    call_command("migrate", verbosity=0)
    kind, _ = RoomKind.objects.get_or_create(slug="bench-webhooks", defaults={"name_en": "Room", "name_zh_hant": "房"})
    treatment, _ = Treatment.objects.update_or_create(
        slug="bench-webhooks",
        defaults={
            "category": "peel",
            "name_en": "Bench peel",
            "name_zh_hant": "換膚",
            "duration_minutes": 15,
            "price": 500,
            "room_kind": kind,
            "suits": ["pih"],
        },
    )
    Room.objects.get_or_create(name_en="Bench webhooks room", defaults={"kind": kind})
    user, _ = User.objects.get_or_create(username="bench-webhooks-dr@example.com")
    practitioner, _ = Practitioner.objects.get_or_create(user=user)
    practitioner.treatments.add(treatment)
    WorkingHours.objects.filter(practitioner=practitioner).delete()
    WorkingHours.objects.bulk_create(
        WorkingHours(practitioner=practitioner, weekday=day, start=clock(9), end=clock(19)) for day in range(7)
    )
    manager, _ = User.objects.get_or_create(username="bench-webhooks-manager@example.com")
    manager.groups.add(Group.objects.get(name="manager"))
    patients = list(Patient.objects.filter(full_name__startswith="Bench webhook patient"))
    for n in range(len(patients), args.bookings * 2):
        patient = Patient.objects.create(
            full_name=f"Bench webhook patient {n}", date_of_birth=date(1990, 1, 1), phone=f"+85292{n:06d}"
        )
        patients.append(patient)
    day = timezone.localdate() + timedelta(days=30)
    first = timezone.make_aware(datetime.combine(day, clock(9)))

    def book(n: int) -> tuple[float, int]:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            services.appointment_book(
                patient=patients[n],
                treatment=treatment,
                start=first + timedelta(days=n // 40, minutes=15 * (n % 40)),  # 40 slots a day, 09:00-19:00
                practitioner=practitioner,
                booked_by=manager,
                staff=True,
            )
            elapsed = time.perf_counter() - started
        return elapsed, len(queries)

    plain = [book(n) for n in range(args.bookings)]
    receiver = Receiver()
    server = receiver.serve()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    subscriptions = [
        webhooks.subscription_create(url=url, events=["appointment.created"], clinical=n == 0, by=manager)
        for n in range(3)
    ]
    subscribed = [book(n) for n in range(args.bookings, 2 * args.bookings)]
    for n in range(args.pings):
        webhooks.subscription_ping(subscription=subscriptions[n % 3], by=manager)

    total = WebhookDelivery.objects.count()
    started = time.perf_counter()
    while WebhookDelivery.objects.exclude(status="sent").exists():
        webhooks_sweep(dispatch=deliver_here)
    elapsed = time.perf_counter() - started
    server.shutdown()

    by_id = dict(WebhookDelivery.objects.values_list("message_id", "subscription_id"))
    secret_of = {s.pk: s.secret for s in subscriptions}
    bad = 0
    for headers, body in receiver.requests:
        try:
            Webhook(secret_of[by_id[headers["webhook-id"]]]).verify(body, headers)
        except Exception:
            bad += 1
    duplicates = sum(count - 1 for count in receiver.ids.values() if count > 1)

    def describe(rows: list[tuple[float, int]]) -> str:
        return f"median {statistics.median(r[0] for r in rows) * 1000:.1f} ms, {max(r[1] for r in rows)} queries"

    print(f"appointment_book, no subscription:        {describe(plain)}")
    print(f"appointment_book, 3 subscriptions:        {describe(subscribed)}")
    print(
        f"delivered {total} webhooks in {elapsed:.2f} s ({total / elapsed:.0f}/s) in one process, "
        f"{len(receiver.requests)} requests, {duplicates} duplicates, {bad} bad signatures"
    )
    if duplicates or bad or len(receiver.requests) != total:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
