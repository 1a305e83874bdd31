"""Receipts: the bilingual PDF, the email that carries it, and gap-free numbers under concurrency."""

from __future__ import annotations

import io
import threading
from datetime import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, transaction
from pypdf import PdfReader

from booking import ledger, notifications, receipts
from booking.models import LedgerEntry, Notification
from clinic.clock import clinic_zone
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

Kind = LedgerEntry.Kind
Method = LedgerEntry.Method


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _pay(patient, amount="1500.00", key="p", method=Method.CASH, **extra):
    return ledger.entry_record(
        patient=patient, kind=Kind.PAYMENT, method=method, amount=amount, idempotency_key=key, **extra
    ).entry


@pytest.mark.django_db
def test_the_pdf_holds_the_number_the_amount_the_patient_and_chinese() -> None:
    appointment = AppointmentFactory(patient=PatientFactory(full_name="陳大文"))
    entry = _pay(
        appointment.patient,
        "1500.00",
        method=Method.OCTOPUS,
        reason="deposit",
        appointment=appointment,
        by=UserFactory(role="receptionist", first_name="Rita"),
        now=datetime(2026, 3, 14, 23, 30, tzinfo=clinic_zone()),
    )
    pdf = receipts.receipt_pdf(entry)
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    assert entry.receipt_number in text and entry.receipt_number.startswith("2026-")
    assert "HKD 1,500.00" in text
    assert "陳大文" in text
    assert "收據" in text and "Receipt" in text
    assert "八達通" in text and "Octopus" in text
    assert "14 Mar 2026" in text  # the clinic's day, not UTC's
    assert "Deposit for" in text and "訂金" in text
    assert "Front desk" in text and "Rita" not in text
    assert receipts.receipt_pdf(entry) == pdf  # the same row prints the same bytes


@pytest.mark.django_db
def test_a_refund_receipt_names_the_receipt_it_refunds() -> None:
    patient = PatientFactory()
    payment = _pay(patient)
    refund = ledger.entry_record(
        patient=patient, kind=Kind.REFUND, method=Method.CASH, amount="200", idempotency_key="r", reverses=payment
    ).entry
    text = _text(receipts.receipt_pdf(refund))
    assert f"Refund of receipt {payment.receipt_number}" in text
    assert "HKD 200.00" in text and "退款" in text


@pytest.mark.django_db
def test_charges_have_no_receipt_pdf() -> None:
    charge = ledger.entry_record(patient=PatientFactory(), kind=Kind.CHARGE, amount="5", idempotency_key="c").entry
    with pytest.raises(ValueError):
        receipts.receipt_pdf(charge)
    assert not Notification.objects.filter(kind=Notification.Kind.RECEIPT).exists()


@pytest.mark.django_db
def test_every_payment_and_refund_is_emailed_once_with_its_pdf_after_commit(django_capture_on_commit_callbacks) -> None:
    patient = PatientFactory(preferred_language="zh-hant")
    with django_capture_on_commit_callbacks() as callbacks:
        payment = _pay(patient, "800.00")
        _pay(patient, "800.00")  # the same key again: no second row, no second email
    assert len(callbacks) == 1
    row = Notification.objects.get(kind=Notification.Kind.RECEIPT)
    assert row.ledger_entry == payment and row.channel == "email"
    mail.outbox.clear()
    notifications.notifications_deliver(ids=[row.pk])
    [message] = mail.outbox
    assert message.to == [patient.email]
    assert payment.receipt_number in message.subject and "收據" in message.subject
    assert "HKD 800.00" in message.body
    [(name, content, mimetype)] = message.attachments
    assert name == f"receipt-{payment.receipt_number}.pdf" and mimetype == "application/pdf"
    assert payment.receipt_number in _text(content)
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT


@pytest.mark.django_db
def test_a_rolled_back_payment_leaves_no_receipt_email() -> None:
    patient = PatientFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        _pay(patient)
        raise RuntimeError
    assert not Notification.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_receipt_numbers_are_gap_free_and_unique_across_concurrent_writers() -> None:
    patients = [PatientFactory() for _ in range(4)]
    writers, each = 8, 5
    barrier = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(index: int) -> None:
        try:
            barrier.wait()
            for n in range(each):
                kind = Kind.PAYMENT
                ledger.entry_record(
                    patient=patients[index % len(patients)],
                    kind=kind,
                    method=Method.CASH,
                    amount=f"{index + 1}.{n:02d}",
                    idempotency_key=f"w{index}-{n}",
                )
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    numbers = sorted(LedgerEntry.objects.values_list("receipt_number", flat=True))
    year = numbers[0].split("-")[0]
    assert numbers == [f"{year}-{n:06d}" for n in range(1, writers * each + 1)]
    # Ledger sums equal receipts: every receipt's amount is on the ledger once.
    total = sum(LedgerEntry.objects.values_list("amount", flat=True), Decimal(0))
    assert sum(ledger.balance(p) for p in patients) == total
    assert Notification.objects.filter(kind=Notification.Kind.RECEIPT).count() == writers * each
