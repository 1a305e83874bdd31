"""What happens to a deposit when a visit is cancelled or missed, fee waivers, desk deposits and desk refunds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from booking import deposit_rules, ledger, services
from booking.emails import build_message
from booking.models import Appointment, LedgerEntry, Notification, ProviderRefund
from clinic.errors import InvalidInput, InvalidState
from tests.factories import AppointmentFactory, PatientFactory, TreatmentFactory, UserFactory

pytestmark = pytest.mark.django_db

Kind = LedgerEntry.Kind
Method = LedgerEntry.Method
Reason = LedgerEntry.Reason
NOTICE = settings.CLINIC_CANCELLATION_NOTICE


def _visit(**treatment_fields):
    treatment = TreatmentFactory(deposit_amount=Decimal("500.00"), **treatment_fields)
    return AppointmentFactory(treatment=treatment, patient=PatientFactory(), start=timezone.now() + timedelta(days=3))


def _pay_online(appointment, amount="500.00"):
    return ledger.entry_record(
        patient=appointment.patient,
        kind=Kind.PAYMENT,
        method=Method.ONLINE,
        provider="stripe",
        provider_ref=f"pi_{appointment.pk}",
        reason=Reason.DEPOSIT,
        appointment=appointment,
        amount=amount,
        idempotency_key=f"checkout:{appointment.pk}",
    ).entry


def _pay_desk(appointment, method=Method.CASH):
    staff = UserFactory(role="receptionist")
    return deposit_rules.deposit_record_at_desk(
        appointment=appointment, method=method, idempotency_key=f"desk:{appointment.pk}", by=staff
    )


def _early(appointment):
    return appointment.start - NOTICE - timedelta(hours=1)


def _late(appointment):
    return appointment.start - timedelta(hours=2)


def _fees(appointment):
    return list(LedgerEntry.objects.filter(appointment=appointment, kind=Kind.FEE))


# --- cancellation -------------------------------------------------------------------


def test_a_timely_cancellation_refunds_an_online_deposit_through_the_provider() -> None:
    visit = _visit()
    payment = _pay_online(visit)
    services.appointment_cancel(appointment=visit, by=visit.patient.user, staff=False, now=_early(visit))
    refund = ProviderRefund.objects.get()
    assert (refund.payment, refund.amount, refund.reason) == (payment, Decimal("500.00"), Reason.CANCELLED_IN_TIME)
    assert refund.idempotency_key == f"cancel:{visit.pk}"
    assert not _fees(visit)
    # Nothing leaves the ledger until the provider has made the refund.
    assert ledger.balance(visit.patient) == Decimal("500.00")


def test_a_late_cancellation_keeps_the_deposit_as_a_fee() -> None:
    visit = _visit()
    _pay_online(visit)
    staff = UserFactory(role="receptionist")
    services.appointment_cancel(appointment=visit, by=staff, staff=True, for_patient=True, now=_late(visit))
    [fee] = _fees(visit)
    assert (fee.amount, fee.reason, fee.idempotency_key) == (
        Decimal("500.00"),
        Reason.LATE_CANCELLATION,
        f"fee:{visit.pk}",
    )
    assert not ProviderRefund.objects.exists()
    assert ledger.balance(visit.patient) == Decimal("0.00")


def test_a_late_cancellation_refunds_when_the_treatment_does_not_keep_the_deposit() -> None:
    visit = _visit(late_cancel_keeps_deposit=False)
    _pay_online(visit)
    services.appointment_cancel(
        appointment=visit, by=UserFactory(role="receptionist"), staff=True, for_patient=True, now=_late(visit)
    )
    assert not _fees(visit)
    assert ProviderRefund.objects.get().amount == Decimal("500.00")


def test_the_clinic_cancelling_late_refunds_the_deposit() -> None:
    visit = _visit()
    _pay_online(visit)
    services.appointment_cancel(appointment=visit, by=UserFactory(role="manager"), staff=True, now=_late(visit))
    assert not _fees(visit)
    assert ProviderRefund.objects.get().amount == Decimal("500.00")


def test_a_closure_cancels_and_refunds() -> None:
    visit = _visit()
    _pay_online(visit)
    cancelled, _ = services.appointments_cancel_for_closure(
        appointments=[visit], reason="Typhoon", by=UserFactory(role="manager"), now=_late(visit)
    )
    assert cancelled and ProviderRefund.objects.get().amount == Decimal("500.00")


def test_a_desk_deposit_stays_as_credit_and_is_listed_as_due_at_the_desk() -> None:
    visit = _visit()
    payment = _pay_desk(visit)
    services.appointment_cancel(appointment=visit, by=visit.patient.user, staff=False, now=_early(visit))
    assert not ProviderRefund.objects.exists()
    assert ledger.balance(visit.patient) == Decimal("500.00")
    [due] = deposit_rules.refunds_due_at_desk(visit.patient.pk)
    assert (due.payment, due.amount) == (payment, Decimal("500.00"))
    staff = UserFactory(role="receptionist")
    refund = deposit_rules.desk_refund_record(payment=payment, method=Method.OCTOPUS, idempotency_key="r-1", by=staff)
    again = deposit_rules.desk_refund_record(payment=payment, method=Method.OCTOPUS, idempotency_key="r-1", by=staff)
    assert again.pk == refund.pk
    assert (refund.kind, refund.reverses, refund.amount) == (Kind.REFUND, payment, Decimal("500.00"))
    assert ledger.balance(visit.patient) == Decimal("0.00")
    assert deposit_rules.refunds_due_at_desk(visit.patient.pk) == []
    with pytest.raises(InvalidState):
        deposit_rules.desk_refund_record(payment=payment, method=Method.CASH, idempotency_key="r-2", by=staff)


def test_no_deposit_no_movement() -> None:
    visit = _visit()
    services.appointment_cancel(appointment=visit, by=visit.patient.user, staff=False, now=_early(visit))
    assert not LedgerEntry.objects.exists() and not ProviderRefund.objects.exists()


# --- no-shows ----------------------------------------------------------------------


def test_a_no_show_keeps_the_deposit_as_a_fee_once_even_if_marked_again() -> None:
    visit = _visit()
    _pay_online(visit)
    services.appointment_no_show(
        appointment=visit, by=UserFactory(role="receptionist"), now=visit.start + timedelta(hours=1)
    )
    visit.refresh_from_db()
    deposit_rules.on_no_show(visit, by=None, now=visit.start + timedelta(hours=2))  # a second application
    [fee] = _fees(visit)
    assert (fee.reason, fee.amount) == (Reason.NO_SHOW, Decimal("500.00"))


def test_the_missed_visit_sweep_applies_the_rule_and_a_treatment_may_refund_no_shows() -> None:
    keeps = _visit()
    refunds = _visit(no_show_keeps_deposit=False)
    _pay_online(keeps)
    _pay_online(refunds)
    later = max(keeps.end, refunds.end) + timedelta(hours=2)
    assert services.appointments_mark_missed(now=later) == 2
    assert [f.reason for f in _fees(keeps)] == [Reason.NO_SHOW]
    assert not _fees(refunds)
    assert ProviderRefund.objects.get().payment.appointment_id == refunds.pk


# --- what the patient is told beforehand and afterwards ---------------------------------


def test_the_outcome_says_beforehand_what_will_happen() -> None:
    visit = _visit()
    _pay_online(visit)
    early = deposit_rules.deposit_outcome(visit, now=_early(visit))
    late = deposit_rules.deposit_outcome(visit, now=_late(visit))
    clinic = deposit_rules.deposit_outcome(visit, now=_late(visit), by_patient=False)
    assert early.action == "refund" and "HK$500.00 deposit will be refunded" in early.detail
    assert late.action == "fee" and "kept as a late-cancellation fee" in late.detail
    assert clinic.action == "refund"
    assert deposit_rules.deposit_outcome(_visit()) is None


def test_the_cancellation_email_says_what_happened_to_the_deposit() -> None:
    visit = _visit()
    _pay_online(visit)
    services.appointment_cancel(
        appointment=visit, by=UserFactory(role="receptionist"), staff=True, for_patient=True, now=_late(visit)
    )
    notification = Notification.objects.get(appointment=visit, kind=Notification.Kind.CANCELLATION)
    message = build_message(notification)
    assert "kept as a late-cancellation fee" in message.body
    visit.patient.preferred_language = "zh-hant"
    visit.patient.save(update_fields=["preferred_language"])
    notification.refresh_from_db()
    assert "HK$500.00" in build_message(notification).body
    assert not mail.outbox


# --- waivers ----------------------------------------------------------------------------


def _late_fee(visit):
    services.appointment_cancel(
        appointment=visit, by=UserFactory(role="receptionist"), staff=True, for_patient=True, now=_late(visit)
    )
    return _fees(visit)[0]


def test_waiving_an_online_fee_keeps_who_and_why_and_refunds_through_the_provider() -> None:
    visit = _visit()
    payment = _pay_online(visit)
    fee = _late_fee(visit)
    manager = UserFactory(role="manager")
    waiver = deposit_rules.fee_waive(fee=fee, by=manager, reason="  Typhoon signal 8 hoisted  ")
    assert (waiver.kind, waiver.reverses, waiver.amount) == (Kind.WAIVER, fee, Decimal("500.00"))
    assert (waiver.note, waiver.recorded_by) == ("Typhoon signal 8 hoisted", manager)
    refund = ProviderRefund.objects.get()
    assert (refund.payment, refund.amount) == (payment, Decimal("500.00"))
    assert deposit_rules.fee_waive(fee=fee, by=manager, reason="again").pk == waiver.pk
    assert ProviderRefund.objects.count() == 1
    assert ledger.balance(visit.patient) == Decimal("500.00")  # until the provider refunds


def test_waiving_a_desk_fee_leaves_a_refund_due_at_the_desk() -> None:
    visit = _visit()
    _pay_desk(visit)
    fee = _late_fee(visit)
    assert deposit_rules.refunds_due_at_desk(visit.patient.pk) == []
    deposit_rules.fee_waive(fee=fee, by=UserFactory(role="receptionist"), reason="First time")
    [due] = deposit_rules.refunds_due_at_desk(visit.patient.pk)
    assert due.amount == Decimal("500.00")
    assert ledger.balance(visit.patient) == Decimal("500.00")


@pytest.mark.parametrize("reason", ["", "   ", "two\nlines", "x" * 501])
def test_a_waiver_needs_a_one_line_reason(reason) -> None:
    visit = _visit()
    _pay_online(visit)
    fee = _late_fee(visit)
    with pytest.raises(InvalidInput) as refused:
        deposit_rules.fee_waive(fee=fee, by=UserFactory(role="manager"), reason=reason)
    assert "reason" in refused.value.fields
    assert not LedgerEntry.objects.filter(kind=Kind.WAIVER).exists()


def test_only_a_fee_can_be_waived() -> None:
    visit = _visit()
    payment = _pay_online(visit)
    with pytest.raises(InvalidInput):
        deposit_rules.fee_waive(fee=payment, by=UserFactory(role="manager"), reason="No")


# --- desk deposits ------------------------------------------------------------------------


def test_a_desk_deposit_defaults_to_the_treatments_deposit_and_is_idempotent() -> None:
    visit = _visit()
    first = _pay_desk(visit, method=Method.FPS)
    again = _pay_desk(visit, method=Method.FPS)
    assert first.pk == again.pk
    assert (first.amount, first.method, first.reason, first.appointment) == (
        Decimal("500.00"),
        Method.FPS,
        Reason.DEPOSIT,
        visit,
    )
    assert first.receipt_number
    with pytest.raises(InvalidState):
        deposit_rules.deposit_record_at_desk(
            appointment=visit, method=Method.CASH, idempotency_key="other", by=UserFactory(role="receptionist")
        )


@pytest.mark.parametrize(
    ("method", "amount", "field"),
    [("online", None, "method"), ("bitcoin", None, "method"), ("cash", "0", "amount"), ("cash", "1.001", "amount")],
)
def test_a_desk_deposit_refuses_bad_input(method, amount, field) -> None:
    visit = _visit()
    with pytest.raises(InvalidInput) as refused:
        deposit_rules.deposit_record_at_desk(
            appointment=visit, method=method, amount=amount, idempotency_key="k", by=UserFactory(role="receptionist")
        )
    assert field in refused.value.fields
    assert not LedgerEntry.objects.exists()


def test_no_desk_deposit_for_a_cancelled_visit_or_without_an_amount() -> None:
    cancelled = _visit()
    Appointment.objects.filter(pk=cancelled.pk).update(status=Appointment.Status.CANCELLED)
    with pytest.raises(InvalidState):
        _pay_desk(cancelled)
    waiting = _visit()
    Appointment.objects.filter(pk=waiting.pk).update(
        status=Appointment.Status.DEPOSIT_DUE, hold_expires_at=timezone.now() + timedelta(minutes=15)
    )
    with pytest.raises(InvalidState):  # paying it confirms it: the online checkout's service
        _pay_desk(waiting)
    free = AppointmentFactory(patient=PatientFactory())
    with pytest.raises(InvalidInput):
        _pay_desk(free)
    assert _pay_desk_amount(free, "200.00").amount == Decimal("200.00")


def _pay_desk_amount(appointment, amount):
    return deposit_rules.deposit_record_at_desk(
        appointment=appointment,
        method=Method.CASH,
        amount=amount,
        idempotency_key=f"desk-amount:{appointment.pk}",
        by=UserFactory(role="receptionist"),
    )
