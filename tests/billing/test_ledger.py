"""The ledger's own rules: idempotency, refunds within their payment, gap-free receipts, the balance."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from booking import ledger
from booking.models import LedgerEntry
from clinic.errors import InvalidInput
from tests.factories import PatientFactory, TreatmentFactory

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
Method = LedgerEntry.Method


def _pay(patient, amount="500.00", key="pay-1", method=Method.CASH):
    return ledger.entry_record(patient=patient, kind=Kind.PAYMENT, method=method, amount=amount, idempotency_key=key)


def test_the_same_key_records_one_row_and_a_reused_key_for_something_else_is_refused() -> None:
    patient = PatientFactory()
    first = _pay(patient)
    again = _pay(patient)
    assert first.created and not again.created
    assert again.entry.pk == first.entry.pk
    assert LedgerEntry.objects.count() == 1
    with pytest.raises(InvalidInput):
        _pay(patient, amount="600.00")
    assert LedgerEntry.objects.count() == 1


def test_a_refund_cannot_pass_its_payment_in_the_service_or_in_the_database() -> None:
    patient = PatientFactory()
    payment = _pay(patient).entry
    ledger.entry_record(
        patient=patient, kind=Kind.REFUND, method=Method.CASH, amount="300", idempotency_key="r1", reverses=payment
    )
    with pytest.raises(InvalidInput) as refused:
        ledger.entry_record(
            patient=patient,
            kind=Kind.REFUND,
            method=Method.CASH,
            amount="200.01",
            idempotency_key="r2",
            reverses=payment,
        )
    assert "200.00" in str(refused.value.detail)
    # The database's own check, past the service.
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.filter(pk=payment.pk).update(reversed_amount=Decimal("500.01"))
    payment.refresh_from_db()
    assert payment.reversed_amount == Decimal("300.00")
    assert ledger.balance(patient) == Decimal("200.00")


@pytest.mark.parametrize("amount", ["0", "-5", "1.005", "1.001", "abc", "1e12", "NaN"])
def test_amounts_must_be_positive_cents(amount) -> None:
    with pytest.raises(InvalidInput):
        _pay(PatientFactory(), amount=amount)
    assert not LedgerEntry.objects.exists()


def test_receipt_numbers_have_no_gaps_even_when_a_write_rolls_back() -> None:
    patient = PatientFactory()
    first = _pay(patient, key="a").entry
    with pytest.raises(RuntimeError), transaction.atomic():
        _pay(patient, key="b")
        raise RuntimeError("the caller's transaction fails")
    second = _pay(patient, key="c").entry
    year = first.receipt_number.split("-")[0]
    assert first.receipt_number == f"{year}-000001"
    assert second.receipt_number == f"{year}-000002"


def test_charges_and_fees_have_no_receipt_and_no_method() -> None:
    patient = PatientFactory()
    fee = ledger.entry_record(patient=patient, kind=Kind.FEE, amount="500", idempotency_key="fee").entry
    assert fee.receipt_number is None
    with pytest.raises(InvalidInput):
        ledger.entry_record(patient=patient, kind=Kind.CHARGE, method=Method.CASH, amount="5", idempotency_key="x")


def test_the_balance_is_the_signed_sum_of_the_rows() -> None:
    patient = PatientFactory()
    payment = _pay(patient, amount="500").entry
    fee = ledger.entry_record(patient=patient, kind=Kind.FEE, amount="500", idempotency_key="fee").entry
    assert ledger.balance(patient) == Decimal("0.00")
    ledger.entry_record(patient=patient, kind=Kind.WAIVER, amount="500", idempotency_key="w", reverses=fee)
    assert ledger.balance(patient) == Decimal("500.00")
    ledger.entry_record(
        patient=patient, kind=Kind.REFUND, method=Method.CASH, amount="500", idempotency_key="r", reverses=payment
    )
    ledger.entry_record(patient=patient, kind=Kind.CHARGE, amount="3000", idempotency_key="c")
    assert ledger.balance(patient) == Decimal("-3000.00")
    assert ledger.balance(PatientFactory()) == Decimal("0.00")


def test_a_deposit_is_an_amount_or_a_percent_of_the_price() -> None:
    assert ledger.deposit_for(TreatmentFactory(price=Decimal("3000"))) is None
    assert ledger.deposit_for(TreatmentFactory(price=Decimal("3000"), deposit_amount=Decimal("500"))) == Decimal(
        "500.00"
    )
    assert ledger.deposit_for(TreatmentFactory(price=Decimal("3333"), deposit_percent=15)) == Decimal("499.95")
