"""The ledger's API: the patient's own ledger, the staff's view and desk writes, receipts, takings."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking import ledger
from booking.models import LedgerEntry
from clinic.clock import clinic_zone
from tests.api.conftest import client_for
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
Method = LedgerEntry.Method


def _pay(patient, amount="500.00", key=None, method=Method.CASH, by=None, now=None, **extra):
    key = key or f"pay-{LedgerEntry.objects.count()}-{amount}"
    return ledger.entry_record(
        patient=patient, kind=Kind.PAYMENT, method=method, amount=amount, idempotency_key=key, by=by, now=now, **extra
    ).entry


@pytest.fixture
def reception():
    return UserFactory(role="receptionist", first_name="Rita", last_name="Lam")


def test_a_patient_reads_their_balance_and_rows_as_decimal_strings_without_staff_names(reception) -> None:
    patient = PatientFactory()
    _pay(patient, "500.00", by=reception)
    ledger.entry_record(patient=patient, kind=Kind.CHARGE, amount="200.00", idempotency_key="c1", by=reception)
    answer = client_for(patient.user).get("/api/v1/me/ledger/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["balance"] == "300.00"
    assert body["currency"] == "HKD"
    assert body["count"] == 2
    charge, payment = body["results"]  # newest first
    assert charge["kind"] == "charge" and charge["amount"] == "200.00" and charge["receipt_url"] is None
    assert payment["amount"] == "500.00" and payment["method"] == "cash"
    assert payment["receipt_number"].endswith("-000001")
    assert payment["receipt_url"].endswith(f"/api/v1/ledger/{payment['id']}/receipt.pdf")
    assert payment["recorded_by"] == "Front desk"
    assert "Rita" not in answer.content.decode()
    assert "note" not in payment


def test_an_empty_ledger_has_a_zero_balance() -> None:
    body = client_for(PatientFactory().user).get("/api/v1/me/ledger/").json()
    assert body["balance"] == "0.00" and body["results"] == []


def test_a_patient_never_sees_another_patients_rows_or_receipts() -> None:
    alice, bob = PatientFactory(), PatientFactory()
    payment = _pay(alice)
    as_bob = client_for(bob.user)
    assert as_bob.get("/api/v1/me/ledger/").json()["count"] == 0
    refused = as_bob.get(f"/api/v1/ledger/{payment.pk}/receipt.pdf")
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    assert as_bob.get(f"/api/v1/patients/{alice.pk}/ledger/").status_code == 403
    own = client_for(alice.user).get(f"/api/v1/ledger/{payment.pk}/receipt.pdf")
    assert own.status_code == 200 and own["Content-Type"] == "application/pdf"
    assert own.content.startswith(b"%PDF")


def test_a_charge_has_no_receipt() -> None:
    patient = PatientFactory()
    charge = ledger.entry_record(patient=patient, kind=Kind.CHARGE, amount="50", idempotency_key="c").entry
    assert client_for(UserFactory(role="manager")).get(f"/api/v1/ledger/{charge.pk}/receipt.pdf").status_code == 404


def test_staff_read_with_names_and_the_desk_records_a_payment_once(reception) -> None:
    patient = PatientFactory()
    desk = client_for(reception)
    body = {"kind": "payment", "amount": "800.00", "method": "octopus", "idempotency_key": "k-1", "note": "walk-in"}
    first = desk.post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json")
    assert first.status_code == 201, first.json()
    again = desk.post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert LedgerEntry.objects.count() == 1
    assert first.json()["recorded_by"] == "Rita Lam" and first.json()["note"] == "walk-in"
    listed = client_for(UserFactory(role="practitioner")).get(f"/api/v1/patients/{patient.pk}/ledger/")
    assert listed.status_code == 200 and listed.json()["balance"] == "800.00"


def test_practitioners_and_patients_may_not_record_money() -> None:
    patient = PatientFactory()
    body = {"kind": "payment", "amount": "1.00", "method": "cash", "idempotency_key": "x"}
    for user in (UserFactory(role="practitioner"), patient.user):
        assert client_for(user).post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json").status_code == 403
    assert not LedgerEntry.objects.exists()


def test_a_refund_of_a_desk_payment_and_one_too_large(reception) -> None:
    patient = PatientFactory()
    payment = _pay(patient, "500.00")
    desk = client_for(reception)
    url = f"/api/v1/patients/{patient.pk}/ledger/"
    body = {"kind": "refund", "amount": "300.00", "method": "cash", "reverses": payment.pk, "idempotency_key": "r1"}
    done = desk.post(url, body, format="json")
    assert done.status_code == 201, done.json()
    assert done.json()["reverses"] == payment.pk and done.json()["receipt_number"]
    too_much = desk.post(url, {**body, "amount": "200.01", "idempotency_key": "r2"}, format="json")
    assert too_much.status_code == 400
    assert too_much.json()["code"] == "invalid" and "amount" in too_much.json()["fields"]
    assert ledger.balance(patient) == Decimal("200.00")
    assert LedgerEntry.objects.count() == 2


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "payment", "amount": "10.00", "method": "online", "idempotency_key": "a"},
        {"kind": "payment", "amount": "10.00", "idempotency_key": "a"},
        {"kind": "charge", "amount": "10.00", "method": "cash", "idempotency_key": "a"},
        {"kind": "fee", "amount": "10.00", "idempotency_key": "a"},
        {"kind": "payment", "amount": 10.5, "method": "cash", "idempotency_key": "a"},
        {"kind": "payment", "amount": "-1", "method": "cash", "idempotency_key": "a"},
        {"kind": "payment", "amount": "1.005", "method": "cash", "idempotency_key": "a"},
        {"kind": "payment", "amount": "NaN", "method": "cash", "idempotency_key": "a"},
        {"kind": "payment", "amount": "1e400", "method": "cash", "idempotency_key": "a"},
        {"kind": "refund", "amount": "1.00", "method": "cash", "idempotency_key": "a"},
        {"kind": "refund", "amount": "1.00", "method": "cash", "reverses": 999999, "idempotency_key": "a"},
        {"kind": "refund", "amount": "1.00", "method": "cash", "reverses": 1.5, "idempotency_key": "a"},
        {"kind": "payment", "amount": "1.00", "method": "cash", "reverses": 1, "idempotency_key": "a"},
        {"kind": "payment", "amount": "1.00", "method": "cash", "idempotency_key": ""},
        {"kind": "payment", "amount": "1.00", "method": "cash"},
    ],
)
def test_bad_desk_input_is_400_in_the_error_shape_and_changes_nothing(reception, body) -> None:
    patient = PatientFactory()
    answer = client_for(reception).post(f"/api/v1/patients/{patient.pk}/ledger/", body, format="json")
    assert answer.status_code == 400, answer.json()
    assert answer.json()["code"] == "invalid" and answer.json()["fields"]
    assert not LedgerEntry.objects.exists()


def test_a_refund_of_another_patients_payment_is_refused(reception) -> None:
    alice, bob = PatientFactory(), PatientFactory()
    payment = _pay(alice)
    body = {"kind": "refund", "amount": "1.00", "method": "cash", "reverses": payment.pk, "idempotency_key": "r"}
    answer = client_for(reception).post(f"/api/v1/patients/{bob.pk}/ledger/", body, format="json")
    assert answer.status_code == 400 and "reverses" in answer.json()["fields"]


def test_an_unknown_patient_is_404(reception) -> None:
    assert client_for(reception).get("/api/v1/patients/999999/ledger/").status_code == 404


def test_a_deposit_row_says_what_it_was_for() -> None:
    appointment = AppointmentFactory()
    _pay(appointment.patient, "300.00", method=Method.ONLINE, reason="deposit", appointment=appointment)
    row = client_for(appointment.patient.user).get("/api/v1/me/ledger/").json()["results"][0]
    assert row["description"].startswith("Deposit for ")
    assert row["recorded_by"] == "Online" and row["appointment"] == appointment.pk
    chinese = client_for(appointment.patient.user).get("/api/v1/me/ledger/", HTTP_ACCEPT_LANGUAGE="zh-hant")
    assert "訂金" in chinese.json()["results"][0]["description"]


def test_the_ledger_costs_the_same_queries_for_many_rows() -> None:
    patient = PatientFactory()
    client = client_for(patient.user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/me/ledger/").status_code == 200
        return len(queries)

    appointment = AppointmentFactory(patient=patient)
    _pay(patient, "1.00", appointment=appointment)
    count()  # the token's first use is noted once (the list of signed-in devices)
    few = count()
    for n in range(8):
        visit = AppointmentFactory(patient=patient, start=timezone.now() + timedelta(days=n + 3))
        payment = _pay(patient, f"{n + 2}.00", appointment=visit, by=UserFactory())
        ledger.entry_record(
            patient=patient,
            kind=Kind.REFUND,
            method=Method.CASH,
            amount="1.00",
            idempotency_key=f"r{n}",
            reverses=payment,
        )
    assert count() == few


def test_takings_match_the_ledger_to_the_cent_and_are_for_managers_only() -> None:
    zone = clinic_zone()
    day = datetime(2026, 3, 14, 10, 0, tzinfo=zone)
    alice, bob = PatientFactory(), PatientFactory()
    cash = _pay(alice, "500.10", method=Method.CASH, now=day)
    _pay(bob, "1200.05", method=Method.OCTOPUS, now=day + timedelta(hours=2))
    _pay(bob, "99.99", method=Method.CASH, now=day - timedelta(hours=11))  # the day before, clinic time
    ledger.entry_record(
        patient=alice,
        kind=Kind.REFUND,
        method=Method.CASH,
        amount="0.15",
        idempotency_key="r",
        reverses=cash,
        now=day + timedelta(hours=3),
    )
    ledger.entry_record(patient=alice, kind=Kind.CHARGE, amount="700.00", idempotency_key="c", now=day)
    manager = client_for(UserFactory(role="manager"))
    body = manager.get("/api/v1/reports/takings/?date=2026-03-14").json()
    assert body["payments"] == "1700.15" and body["refunds"] == "0.15" and body["net"] == "1700.00"
    by_method = {m["method"]: m for m in body["methods"]}
    assert by_method["cash"]["net"] == "499.95" and by_method["octopus"]["payments"] == "1200.05"
    assert len(body["entries"]) == 3
    start = day.replace(hour=0)
    rows = LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
    signed = sum((r.amount if r.kind == Kind.PAYMENT else -r.amount) for r in rows if r.receipt_number)
    receipts_total = sum(
        (Decimal(e["amount"]) * (1 if e["kind"] == "payment" else -1) for e in body["entries"]), Decimal(0)
    )
    assert signed == receipts_total == Decimal(body["net"])
    for role in ("receptionist", "practitioner"):
        assert client_for(UserFactory(role=role)).get("/api/v1/reports/takings/").status_code == 403
    assert client_for(alice.user).get("/api/v1/reports/takings/").status_code == 403
    bad = manager.get("/api/v1/reports/takings/?date=14/03/2026")
    assert bad.status_code == 400 and bad.json()["fields"]["date"]


def test_takings_default_to_today_in_clinic_time() -> None:
    _pay(PatientFactory(), "10.00", now=timezone.now())
    body = client_for(UserFactory(role="manager")).get("/api/v1/reports/takings/").json()
    assert body["net"] == "10.00"
