"""What the money pages and writes cost as a clinic's ledger grows.

Seeds, into its own database, one patient with N ledger rows (payments,
charges, fees, refunds, package credits; every payment and refund with its
receipt number) and a day with N payments for the takings, for each N of
--sizes. Then times, through Django's test client signed in as that patient
and as a manager (median of --runs): the patient's ledger page
(``GET /api/v1/me/ledger/``: the balance and the first page), the chart's
Money section, and the day's takings (``GET /api/v1/reports/takings/``),
with their SQL queries; and a receipt PDF. Last, the write path: desk
payments recorded one after another through ``booking.ledger.entry_record``
(each takes the year's receipt counter under a lock), per second.

    .venv/bin/python bench/ledger.py [--runs 9] [--sizes 100,1000,10000] [--writes 300]

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/clinic_bench_ledger
(dropped and created again on every run). Goal: the same query count for every
N (the balance is one aggregate, lists are paginated).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import ok, recreate_database, timed

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per request in the figures
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_ledger")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DEBUG", "1")  # static files without collectstatic (the chart page's logo URL)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("EMAIL_URL", "locmem://")
os.environ.setdefault("CLINIC_SECOND_FACTOR_ROLES", "")  # the bench signs in without a phone
os.environ.pop("CLINIC_TIME_ZONE", None)  # Hong Kong, the default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--writes", type=int, default=300)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    recreate_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core import mail
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from booking import ledger, receipts
    from booking.models import LedgerEntry, Notification
    from patients.models import Patient

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    mail.outbox = []

    manager = User.objects.create(username="bench-manager", first_name="Grace", last_name="Lam", is_staff=True)
    manager.groups.add(Group.objects.get_or_create(name="manager")[0])
    staff = Client()
    staff.force_login(manager)

    Kind, Method = LedgerEntry.Kind, LedgerEntry.Method
    pattern = [
        (Kind.PAYMENT, Method.CASH, "500.00"),
        (Kind.CHARGE, "", "300.00"),
        (Kind.PAYMENT, Method.OCTOPUS, "120.50"),
        (Kind.FEE, "", "100.00"),
        (Kind.CHARGE, "", "220.50"),
    ]
    rows_out = []
    for size in sizes:
        user = User.objects.create(username=f"bench-patient-{size}")
        patient = Patient.objects.create(
            user=user,
            full_name=f"陳大文 {size}",
            date_of_birth="1990-01-01",
            phone="+85291234567",
            email=f"p{size}@example.com",
        )
        day = timezone.now() - timedelta(days=1 + len(rows_out))
        entries = []
        for index in range(size):
            kind, method, amount = pattern[index % len(pattern)]
            entries.append(
                LedgerEntry(
                    patient=patient,
                    kind=kind,
                    method=method,
                    amount=Decimal(amount),
                    idempotency_key=f"bench-{size}-{index}",
                    receipt_number=f"B{size}-{index:07d}" if kind == Kind.PAYMENT else None,
                    created_at=day + timedelta(seconds=index),
                )
            )
        LedgerEntry.objects.bulk_create(entries, batch_size=2000)
        expected = sum(
            (
                Decimal(amount) * ledger.SIGN[kind]
                for kind, _m, amount in (pattern[i % len(pattern)] for i in range(size))
            ),
            Decimal("0"),
        )
        assert ledger.balance(patient) == expected, "the balance must be the signed sum of the rows"
        own = Client()
        own.force_login(user)
        me_ms, me_q = timed(args.runs, lambda own=own: ok(own.get("/api/v1/me/ledger/", secure=True)))
        chart_ms, chart_q = timed(
            args.runs, lambda p=patient: ok(staff.get(f"/staff/patients/{p.pk}/money/", secure=True))
        )
        date = timezone.localtime(day).date().isoformat()
        takings_ms, takings_q = timed(
            args.runs, lambda d=date: ok(staff.get(f"/api/v1/reports/takings/?date={d}", secure=True))
        )
        rows_out.append((size, me_ms, me_q, chart_ms, chart_q, takings_ms, takings_q))

    first_payment = LedgerEntry.objects.filter(kind=Kind.PAYMENT).first()
    pdf_ms, _q = timed(args.runs, lambda: receipts.receipt_pdf(first_payment))

    writer = Patient.objects.create(full_name="Bench writer", date_of_birth="1990-01-01", phone="+85291234567")
    began = time.perf_counter()
    for _ in range(args.writes):
        ledger.entry_record(
            patient=writer,
            kind=Kind.PAYMENT,
            method=Method.CARD,
            amount="880.00",
            idempotency_key=f"bench-write-{uuid.uuid4()}",
            by=manager,
        )
    writes_s = time.perf_counter() - began
    numbers = list(
        LedgerEntry.objects.filter(patient=writer).order_by("receipt_number").values_list("receipt_number", flat=True)
    )
    serial = [int(number.rsplit("-", 1)[1]) for number in numbers]
    gap_free = serial == list(range(serial[0], serial[0] + len(serial)))
    receipts_queued = Notification.objects.filter(kind=Notification.Kind.RECEIPT, patient=writer).count()

    print(f"ledger: median of {args.runs} runs; PostgreSQL")
    print(f"{'rows':>7} {'me/ledger ms':>13} {'q':>3} {'chart money ms':>15} {'q':>3} {'takings ms':>11} {'q':>3}")
    for size, me_ms, me_q, chart_ms, chart_q, takings_ms, takings_q in rows_out:
        print(f"{size:>7} {me_ms:>13.1f} {me_q:>3} {chart_ms:>15.1f} {chart_q:>3} {takings_ms:>11.1f} {takings_q:>3}")
    print(f"receipt PDF: median {pdf_ms:.1f} ms")
    print(
        f"desk payments through entry_record: {args.writes} in {writes_s:.2f} s "
        f"({args.writes / writes_s:.0f}/s), receipt numbers gap-free: {gap_free}, receipts queued: {receipts_queued}"
    )


if __name__ == "__main__":
    main()
