"""Random sequences of book, pay (online or at the desk), cancel early or late,
no-show, waive, refund at the desk and the provider making its refunds: after
every step the balance is the signed sum of the rows (summed here, not by the
ledger), no payment is refunded past its amount, no fee keeps more than its
deposit, and with only these operations the balance never goes below zero.
PostgreSQL: the ledger's checks and locks are the database's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from itertools import count
from types import SimpleNamespace
from typing import Any
from unittest import mock

from django.conf import settings as django_settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from booking import deposit_rules, deposits, ledger, services
from booking.models import Appointment, LedgerEntry, ProviderRefund
from clinic.errors import ApplicationError
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)

Kind = LedgerEntry.Kind
Method = LedgerEntry.Method
NOTICE = django_settings.CLINIC_CANCELLATION_NOTICE
SIGN = {"payment": 1, "waiver": 1, "charge": -1, "fee": -1, "refund": -1, "package_credit": -1}

# Few visits, so that steps often meet on the same one.
VISIT = st.integers(0, 2)
OPS = st.one_of(
    st.tuples(st.just("book"), st.sampled_from(["keeps", "refunds"])),
    st.tuples(st.just("pay_online"), VISIT),
    st.tuples(st.just("pay_desk"), VISIT),
    st.tuples(st.just("cancel_early"), VISIT),
    st.tuples(st.just("cancel_late"), VISIT),
    st.tuples(st.just("cancel_by_clinic"), VISIT),
    st.tuples(st.just("no_show"), VISIT),
    st.tuples(st.just("waive"), VISIT),
    st.tuples(st.just("refund_at_desk"), VISIT),
    st.tuples(st.just("provider_refunds"), st.just(0)),
)

_refs = count(1)


@contextmanager
def provider() -> Iterator[None]:
    """The provider accepts every refund (no network: a stand-in for the Stripe client)."""

    def create(*, params: dict, options: dict) -> SimpleNamespace:
        return SimpleNamespace(id=f"re_{next(_refs)}")

    fake = SimpleNamespace(v1=SimpleNamespace(refunds=SimpleNamespace(create=create)))
    with mock.patch.object(deposits, "client", return_value=fake):
        yield


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class LedgerProperties(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.keeps = TreatmentFactory(slug="keeps-deposit", deposit_amount=Decimal("500.00"))
        cls.refunds = TreatmentFactory(
            slug="refunds-deposit",
            deposit_percent=30,
            price=Decimal("1234.50"),
            late_cancel_keeps_deposit=False,
            no_show_keeps_deposit=False,
        )
        cls.desk = UserFactory(role="receptionist")
        cls.practitioner = PractitionerFactory(hours=False)
        cls.room = RoomFactory()

    def check(self, patient_id: int) -> None:
        rows = list(LedgerEntry.objects.filter(patient_id=patient_id))
        total = sum((SIGN[row.kind] * row.amount for row in rows), Decimal("0"))
        assert ledger.balance(patient_id) == total
        assert total >= 0, f"balance {total} below zero"
        for row in rows:
            if row.kind in (Kind.PAYMENT, Kind.FEE):
                reversed_by = sum((r.amount for r in rows if r.reverses_id == row.pk), Decimal("0"))
                assert reversed_by == row.reversed_amount <= row.amount
            if row.kind == Kind.PAYMENT:
                owed = sum(
                    (
                        p.amount
                        for p in ProviderRefund.objects.filter(payment=row, status=ProviderRefund.Status.PENDING)
                    ),
                    Decimal("0"),
                )
                assert row.reversed_amount + owed <= row.amount
            if row.kind == Kind.FEE:
                deposit = ledger.deposit_paid(row.appointment)
                assert deposit is not None and row.amount <= deposit.amount

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.sampled_from(["keeps", "refunds"]), min_size=1, max_size=3), st.lists(OPS, max_size=16))
    # The paths people get wrong, always tried: a kept deposit asked back at the desk,
    # a waived fee refunded twice over, a no-show after a refund.
    @example(["keeps"], [("pay_desk", 0), ("cancel_late", 0), ("refund_at_desk", 0), ("waive", 0)])
    @example(["keeps"], [("pay_desk", 0), ("no_show", 0), ("refund_at_desk", 0), ("waive", 0), ("refund_at_desk", 0)])
    @example(["keeps"], [("pay_online", 0), ("cancel_late", 0), ("waive", 0), ("waive", 0), ("provider_refunds", 0)])
    @example(["refunds"], [("pay_online", 0), ("cancel_early", 0), ("provider_refunds", 0), ("no_show", 0)])
    def test_the_balance_is_the_sum_of_its_rows_and_never_negative(
        self, booked: list[str], ops: list[tuple[str, Any]]
    ) -> None:
        assert connection.vendor == "postgresql"
        patient = PatientFactory()
        visits: list[Appointment] = []
        with provider():
            for kind in booked:  # visits to act on from the first step; more may be booked later
                visits.append(self.book(patient, kind, len(visits)))
            for op, arg in ops:
                if op == "book":
                    visits.append(self.book(patient, arg, len(visits)))
                else:
                    self.step(op, visits[arg % len(visits)])
                self.check(patient.pk)

    def book(self, patient: Any, kind: str, number: int) -> Appointment:
        return AppointmentFactory(
            patient=patient,
            treatment=self.keeps if kind == "keeps" else self.refunds,
            practitioner=self.practitioner,
            room=self.room,
            start=timezone.now() + timedelta(days=5 + number),
        )

    def step(self, op: str, visit: Appointment) -> None:
        visit.refresh_from_db()
        try:
            if op == "pay_online" and ledger.deposit_paid(visit) is None and visit.status == "confirmed":
                ledger.entry_record(
                    patient=visit.patient,
                    kind=Kind.PAYMENT,
                    method=Method.ONLINE,
                    provider="stripe",
                    provider_ref=f"pi_{visit.pk}",
                    reason=LedgerEntry.Reason.DEPOSIT,
                    appointment=visit,
                    amount=ledger.deposit_for(visit.treatment),
                    idempotency_key=f"checkout:{visit.pk}",
                )
            elif op == "pay_desk":
                deposit_rules.deposit_record_at_desk(
                    appointment=visit, method=Method.CASH, idempotency_key=f"desk:{visit.pk}", by=self.desk
                )
            elif op == "cancel_early":
                now = visit.start - NOTICE - timedelta(hours=1)
                services.appointment_cancel(appointment=visit, by=visit.patient.user, staff=False, now=now)
            elif op == "cancel_late":
                now = visit.start - timedelta(hours=1)
                services.appointment_cancel(appointment=visit, by=self.desk, staff=True, for_patient=True, now=now)
            elif op == "cancel_by_clinic":
                now = visit.start - timedelta(hours=1)
                services.appointment_cancel(appointment=visit, by=self.desk, staff=True, now=now)
            elif op == "no_show":
                services.appointment_no_show(appointment=visit, by=self.desk, now=visit.start + timedelta(minutes=40))
            elif op == "waive":
                for fee in LedgerEntry.objects.filter(appointment=visit, kind=Kind.FEE):
                    deposit_rules.fee_waive(fee=fee, by=self.desk, reason="Goodwill")
            elif op == "refund_at_desk":
                # Asked for whatever the chart lists or not: the service decides what is due.
                payment = ledger.deposit_paid(visit)
                if payment is not None:
                    deposit_rules.desk_refund_record(
                        payment=payment, method=Method.CASH, idempotency_key=f"back:{payment.pk}", by=self.desk
                    )
            elif op == "provider_refunds":
                deposits.refunds_sweep(timezone.now() + timedelta(days=1))
        except ApplicationError:
            pass  # not allowed in this state (already cancelled, deposit paid...): nothing changed
