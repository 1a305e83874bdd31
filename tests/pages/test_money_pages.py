"""Money on the pages: the balance on /me/, the patient's payments and receipts,
the chart's money section with the desk form, and the managers' daily takings."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from booking import ledger
from booking.models import LedgerEntry
from clinic.clock import clinic_zone
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
Method = LedgerEntry.Method


def _pay(patient, amount="500.00", key=None, method=Method.CASH, **extra):
    key = key or f"p-{LedgerEntry.objects.count()}"
    return ledger.entry_record(
        patient=patient, kind=Kind.PAYMENT, method=method, amount=amount, idempotency_key=key, **extra
    ).entry


def _charge(patient, amount, key="c"):
    return ledger.entry_record(patient=patient, kind=Kind.CHARGE, amount=amount, idempotency_key=key).entry


def _key(page: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert found
    return found.group(1)


# --- the patient --------------------------------------------------------------------------


def test_me_shows_credit_debt_or_nothing(client) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    page = client.get(reverse("account:profile")).text
    assert "Your balance" not in page
    _pay(patient, "500.00")
    assert "HKD 500.00 in credit" in client.get(reverse("account:profile")).text
    _charge(patient, "700.00")
    assert "You owe HKD 200.00" in client.get(reverse("account:profile")).text


def test_me_in_chinese(client) -> None:
    patient = PatientFactory(preferred_language="zh-hant")
    _pay(patient, "1500.00")
    client.force_login(patient.user)
    page = client.get(reverse("account:profile"), HTTP_ACCEPT_LANGUAGE="zh-hant").text
    assert "你的結餘" in page and "HKD 1,500.00" in page


def test_the_payments_page_lists_rows_with_their_receipts(client) -> None:
    patient = PatientFactory()
    payment = _pay(patient, "800.00", by=UserFactory(role="receptionist", first_name="Rita"))
    _charge(patient, "300.00")
    client.force_login(patient.user)
    page = client.get(reverse("account:payments")).text
    assert "Payments and receipts" in page
    assert f"Receipt {payment.receipt_number} (PDF)" in page
    assert "HKD 800.00" in page and "HKD 300.00" in page
    assert "Front desk" in page and "Rita" not in page
    assert 'name="viewport"' in page  # the phone layout of base.html
    receipt = client.get(reverse("account:receipt", args=[payment.pk]))
    assert receipt.status_code == 200 and receipt["Content-Type"] == "application/pdf"
    chinese = client.get(reverse("account:payments"), HTTP_ACCEPT_LANGUAGE="zh-hant").text
    assert "付款及收據" in chinese and "現金" in chinese


def test_a_patient_never_gets_another_patients_receipt(client) -> None:
    payment = _pay(PatientFactory())
    client.force_login(PatientFactory().user)
    assert client.get(reverse("account:receipt", args=[payment.pk])).status_code == 404
    assert "No payments yet" in client.get(reverse("account:payments")).text


def test_patients_cannot_open_staff_money_pages(client) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    assert client.get(reverse("money:chart", args=[patient.pk])).status_code == 403
    assert client.get(reverse("money:takings")).status_code == 403


# --- the chart ---------------------------------------------------------------------------


def test_the_chart_money_section_shows_balance_rows_and_the_desk_form(client) -> None:
    patient = PatientFactory()
    payment = _pay(patient, "500.00")
    client.force_login(UserFactory(role="receptionist"))
    page = client.get(reverse("money:chart", args=[patient.pk])).text
    assert "HKD 500.00 in credit" in page
    assert payment.receipt_number in page
    assert "Record at the desk" in page and 'name="idempotency_key"' in page
    assert reverse("money:chart", args=[patient.pk]) in page  # the section menu links it
    assert client.get(reverse("money:receipt", args=[patient.pk, payment.pk])).status_code == 200
    other = PatientFactory()
    assert client.get(reverse("money:receipt", args=[other.pk, payment.pk])).status_code == 404


def test_a_practitioner_sees_money_but_cannot_record_it(client) -> None:
    patient = PatientFactory()
    client.force_login(UserFactory(role="practitioner"))
    url = reverse("money:chart", args=[patient.pk])
    page = client.get(url).text
    assert "Record at the desk" not in page
    body = {"kind": "payment", "amount": "10", "method": "cash", "idempotency_key": "k"}
    assert client.post(url, body).status_code == 403
    assert not LedgerEntry.objects.exists()


def test_the_desk_records_a_payment_once_even_when_submitted_twice(client) -> None:
    patient = PatientFactory()
    client.force_login(UserFactory(role="receptionist"))
    url = reverse("money:chart", args=[patient.pk])
    key = _key(client.get(url).text)
    body = {"kind": "payment", "amount": "1,200.50", "method": "fps", "idempotency_key": key, "note": ""}
    first = client.post(url, body, follow=True)
    assert first.status_code == 200 and "Recorded, receipt" in first.text
    second = client.post(url, body, follow=True)
    assert "already recorded" in second.text
    assert LedgerEntry.objects.get().amount == Decimal("1200.50")
    assert _key(second.text) != key  # the next form has a new key


def test_the_desk_refunds_a_payment_and_a_refund_too_large_is_shown_in_place(client) -> None:
    patient = PatientFactory()
    payment = _pay(patient, "500.00")
    client.force_login(UserFactory(role="manager"))
    url = reverse("money:chart", args=[patient.pk])
    body = {"kind": "refund", "amount": "600", "method": "cash", "reverses": payment.pk, "idempotency_key": "r1"}
    refused = client.post(url, body)
    assert refused.status_code == 400
    assert "more than is left of the payment" in refused.text and 'value="600"' in refused.text
    assert LedgerEntry.objects.count() == 1
    done = client.post(url, {**body, "amount": "200", "idempotency_key": "r2"}, follow=True)
    assert "Recorded, receipt" in done.text
    assert ledger.balance(patient) == Decimal("300.00")


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "payment", "amount": "abc", "method": "cash"},
        {"kind": "payment", "amount": "10", "method": ""},
        {"kind": "payment", "amount": "10", "method": "online"},
        {"kind": "fee", "amount": "10"},
        {"kind": "refund", "amount": "10", "method": "cash"},
        {"kind": "payment", "amount": "-3", "method": "cash"},
    ],
)
def test_bad_desk_input_changes_nothing(client, body) -> None:
    patient = PatientFactory()
    client.force_login(UserFactory(role="receptionist"))
    answer = client.post(reverse("money:chart", args=[patient.pk]), {**body, "idempotency_key": "k"})
    assert answer.status_code == 400
    assert "Nothing was saved" in answer.text
    assert not LedgerEntry.objects.exists()


def test_the_money_section_in_chinese(client) -> None:
    patient = PatientFactory()
    _pay(patient, "500.00", method=Method.OCTOPUS)
    client.force_login(UserFactory(role="receptionist"))
    page = client.get(reverse("money:chart", args=[patient.pk]), HTTP_ACCEPT_LANGUAGE="zh-hant").text
    assert "帳目" in page and "八達通" in page and "櫃檯記錄" in page


# --- daily takings -------------------------------------------------------------------------


def test_takings_match_the_ledger_and_the_csv(client) -> None:
    day = datetime(2026, 3, 14, 9, 0, tzinfo=clinic_zone())
    alice, bob = PatientFactory(full_name="=cmd|' /C calc'!A0"), PatientFactory()
    cash = _pay(alice, "500.10", method=Method.CASH, now=day)
    _pay(bob, "1200.05", method=Method.CARD, now=day + timedelta(hours=5))
    _pay(bob, "7.00", method=Method.CASH, now=day + timedelta(days=1))
    ledger.entry_record(
        patient=alice,
        kind=Kind.REFUND,
        method=Method.CASH,
        amount="100.10",
        idempotency_key="r",
        reverses=cash,
        now=day + timedelta(hours=6),
    )
    client.force_login(UserFactory(role="manager"))
    page = client.get(reverse("money:takings"), {"date": "2026-03-14"}).text
    assert "HK$1,600.05" in page  # net: 500.10 + 1,200.05 − 100.10
    assert "Daily takings" in page
    exported = client.get(reverse("money:takings_csv"), {"date": "2026-03-14"})
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    receipts = rows[1 : rows.index([])]
    assert len(receipts) == 3
    assert receipts[0][6].startswith("'=")  # never a formula in a spreadsheet
    signed = sum(Decimal(r[4]) * (1 if r[2] == "payment" else -1) for r in receipts)
    assert rows[-1] == ["total", "1700.15", "100.10", "1600.05"]
    assert signed == Decimal("1600.05")


def test_takings_default_to_today_and_are_for_managers(client) -> None:
    _pay(PatientFactory(), "42.00", now=timezone.now())
    client.force_login(UserFactory(role="receptionist"))
    assert client.get(reverse("money:takings")).status_code == 403
    assert client.get(reverse("money:takings_csv")).status_code == 403
    client.force_login(UserFactory(role="manager"))
    page = client.get(reverse("money:takings")).text
    assert "HK$42.00" in page
    assert reverse("money:takings") in client.get(reverse("money:takings")).text  # on the Manage menu
    assert client.get(reverse("money:takings"), {"date": "not-a-day"}).status_code == 400
    assert client.get(reverse("money:takings_csv"), {"date": "2026-02-30"}).status_code == 400


def test_money_pages_read_the_same_queries_however_many_rows(client, django_assert_max_num_queries) -> None:
    from tests.factories import AppointmentFactory

    patient = PatientFactory()
    desk = UserFactory(role="receptionist")

    def visit(n: int):
        return AppointmentFactory(patient=patient, start=timezone.now() + timedelta(days=n + 2))

    def rows(first: int, last: int) -> None:
        for n in range(first, last):
            payment = _pay(patient, f"{n + 10}.00", key=f"k{n}", by=desk, appointment=visit(n), reason="deposit")
            ledger.entry_record(
                patient=patient,
                kind=Kind.REFUND,
                method=Method.CASH,
                amount="1.00",
                idempotency_key=f"r{n}",
                reverses=payment,
                by=desk,
            )

    rows(0, 1)
    for user, url in ((desk, reverse("money:chart", args=[patient.pk])), (patient.user, reverse("account:payments"))):
        client.force_login(user)
        client.get(url)  # warm: the session, the second factor
        with django_assert_max_num_queries(200) as few:
            assert client.get(url).status_code == 200
        rows(10 * len(few.captured_queries), 10 * len(few.captured_queries) + 6)
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert client.get(url).status_code == 200
