"""What happens to a visit's deposit when it is cancelled or missed, fee waivers, desk deposits.

The rules (issue 20), decided once here and applied inside the transaction of
every path that cancels a visit or marks it missed (booking.services calls
``on_cancel`` and ``on_no_show``; the payment hold lapsing is not one of them):

- cancelled by the clinic at any time, or by the patient before the notice
  (booking.notice): the deposit is refunded;
- cancelled by the patient inside the notice: kept as a late-cancellation FEE
  when the treatment's ``late_cancel_keeps_deposit``, else refunded;
- a no-show (staff or the sweep): kept as a no-show FEE when
  ``no_show_keeps_deposit``, else refunded.

A refund of an online payment is owed through the provider
(``deposits.refund_request``); a desk payment stays on the patient's balance
as credit and the chart says "Refund due at the desk" until staff record the
refund (``desk_refund_record``). A waived fee (``fee_waive``) is refunded the
same way. Every write goes through ``ledger.entry_record`` with a key derived
from the appointment or the fee, so a repeated call changes nothing.

``deposit_outcome`` is the one selector the patient's cancel page, the API
and the cancellation email use to say what will happen (or happened).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import deposits, ledger, notice
from booking.models import Appointment, LedgerEntry, ProviderRefund
from clinic import formats
from clinic.errors import InvalidInput, InvalidState

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Kind = LedgerEntry.Kind
Reason = LedgerEntry.Reason
ZERO = Decimal("0.00")
WAIVER_REASON_MAX = 500
FEE_REASONS = (Reason.LATE_CANCELLATION, Reason.NO_SHOW)
REFUND = "refund"
FEE = "fee"
# A visit that no longer holds its time: a deposit left on it is owed back or kept.
ENDED = (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW)
# A visit still to come or under way: a deposit may be taken for it at the desk. Not one
# waiting for its online deposit (deposit_due): paying it confirms the visit, which is the
# online checkout's service (issue 20, A1); money taken here would stay on a lapsing hold.
OPEN = (Appointment.Status.CONFIRMED, Appointment.Status.CHECKED_IN)


@dataclass(frozen=True)
class Outcome:
    """What happens (or happened) to a visit's deposit: ``action`` is
    ``refund`` or ``fee``; ``online`` says whether a refund goes back through
    the provider or is paid at the desk."""

    action: str
    amount: Decimal
    online: bool
    detail: str


def _online(payment: LedgerEntry) -> bool:
    return payment.provider == deposits.STRIPE and bool(payment.provider_ref)


def _kept(appointment_id: int) -> Decimal:
    """What fees of this visit keep of its deposit (waivers give it back)."""
    fees = LedgerEntry.objects.filter(appointment_id=appointment_id, kind=Kind.FEE, reason__in=FEE_REASONS)
    total = fees.aggregate(kept=Sum(F("amount") - F("reversed_amount")))["kept"] or ZERO
    return ledger.money(total)


def _pending(payment: LedgerEntry) -> Decimal:
    total = ProviderRefund.objects.filter(payment=payment, status=ProviderRefund.Status.PENDING).aggregate(
        owed=Sum("amount")
    )["owed"]
    return ledger.money(total or ZERO)


def left_of(payment: LedgerEntry) -> Decimal:
    """What of a deposit payment is neither refunded, owed through the provider, nor kept as a fee."""
    left = payment.amount - payment.reversed_amount - _pending(payment)
    if payment.appointment_id is not None:
        left -= _kept(payment.appointment_id)
    return ledger.money(max(left, ZERO))


def decide(appointment: Appointment, *, now: datetime, by_patient: bool, no_show: bool = False) -> str:
    """The rule, on facts already loaded: ``refund`` or ``fee``."""
    treatment = appointment.treatment
    if no_show:
        return FEE if treatment.no_show_keeps_deposit else REFUND
    if not by_patient or notice.online_changes_open(appointment.start, now=now):
        return REFUND
    return FEE if treatment.late_cancel_keeps_deposit else REFUND


def _detail(action: str, amount: Decimal, *, online: bool, done: bool, no_show: bool) -> str:
    values = {"amount": formats.money_text(amount)}
    if action == FEE:
        if no_show:
            return (
                _("Your %(amount)s deposit was kept as a no-show fee.")
                if done
                else _("Your %(amount)s deposit will be kept as a no-show fee.")
            ) % values
        return (
            _("Your %(amount)s deposit was kept as a late-cancellation fee.")
            if done
            else _("Your %(amount)s deposit will be kept as a late-cancellation fee.")
        ) % values
    if online:
        return (
            _("Your %(amount)s deposit is being refunded to how you paid.")
            if done
            else _("Your %(amount)s deposit will be refunded to how you paid.")
        ) % values
    return _("Your %(amount)s deposit will be refunded at the clinic's desk.") % values


def deposit_outcome(
    appointment: Appointment, *, now: datetime | None = None, by_patient: bool = True
) -> Outcome | None:
    """What happens to the visit's deposit if it is cancelled now (by the
    patient, or by the clinic with ``by_patient=False``), or, once it is
    cancelled or missed, what happened. None when no deposit was paid or
    nothing of it is left to decide."""
    payment = ledger.deposit_paid(appointment)
    if payment is None:
        return None
    online = _online(payment)
    no_show = appointment.status == Appointment.Status.NO_SHOW
    if appointment.status in ENDED:
        kept = _kept(appointment.pk)
        if kept > ZERO:
            return Outcome(FEE, kept, online, _detail(FEE, kept, online=online, done=True, no_show=no_show))
        amount = ledger.money(payment.amount)
        return Outcome(REFUND, amount, online, _detail(REFUND, amount, online=online, done=True, no_show=no_show))
    left = left_of(payment)
    if left <= ZERO:
        return None
    action = decide(appointment, now=now or timezone.now(), by_patient=by_patient)
    return Outcome(action, left, online, _detail(action, left, online=online, done=False, no_show=False))


# --- applied by booking.services, inside its transaction ----------------------------


def _apply(appointment: Appointment, *, action: str, reason: str, by: User | None, now: datetime) -> None:
    payment = ledger.deposit_paid(appointment)
    if payment is None:
        return
    left = left_of(payment)
    if left <= ZERO:
        return
    if action == FEE:
        ledger.entry_record(
            patient=appointment.patient,
            kind=Kind.FEE,
            amount=left,
            reason=reason,
            appointment=appointment,
            idempotency_key=f"fee:{appointment.pk}",
            by=by,
            now=now,
        )
    elif _online(payment):
        deposits.refund_request(payment=payment, amount=left, reason=reason, key=f"cancel:{appointment.pk}", by=by)
    # A desk payment stays as credit: refunds_due_at_desk lists it until staff pay it back.


def on_cancel(appointment: Appointment, *, by: User | None, now: datetime) -> None:
    """The deposit rule for a visit just cancelled (``cancelled_by`` set), in the caller's transaction."""
    by_patient = appointment.cancelled_by == Appointment.CancelledBy.PATIENT
    action = decide(appointment, now=now, by_patient=by_patient)
    reason = Reason.LATE_CANCELLATION if action == FEE else Reason.CANCELLED_IN_TIME
    _apply(appointment, action=action, reason=reason, by=by, now=now)


def on_no_show(appointment: Appointment, *, by: User | None, now: datetime) -> None:
    """The deposit rule for a visit just marked missed, in the caller's transaction."""
    action = decide(appointment, now=now, by_patient=True, no_show=True)
    _apply(appointment, action=action, reason=Reason.NO_SHOW, by=by, now=now)


# --- staff at the desk ---------------------------------------------------------------


def _clean_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text or "\n" in text or "\r" in text or len(text) > WAIVER_REASON_MAX:
        message = _("Give the reason in one line of at most %(max)d characters.") % {"max": WAIVER_REASON_MAX}
        raise InvalidInput(message, fields={"reason": [message]})
    return text


def fee_waive(*, fee: LedgerEntry, by: User, reason: str, now: datetime | None = None) -> LedgerEntry:
    """Forgives what is left of a late-cancellation or no-show fee with a
    WAIVER row that keeps who and why, then gives the deposit back (online:
    owed through the provider; desk: credit, refund due at the desk).
    Idempotent: a second call returns the first waiver. Raises InvalidInput
    (no reason, not such a fee) and InvalidState (nothing left to waive).
    The caller has checked that ``by`` may waive fees."""
    text = _clean_reason(reason)
    now = now or timezone.now()
    key = f"waive:{fee.pk}"
    with transaction.atomic(durable=True):
        locked = (
            LedgerEntry.objects.select_for_update(of=("self",)).select_related("appointment", "patient").get(pk=fee.pk)
        )
        done = LedgerEntry.objects.filter(idempotency_key=key).first()
        if done is not None:
            return done
        if locked.kind != Kind.FEE or locked.reason not in FEE_REASONS:
            message = _("Only a late-cancellation or no-show fee can be waived here.")
            raise InvalidInput(message, fields={"fee": [message]})
        left = ledger.refundable(locked)
        if left <= ZERO:
            raise InvalidState(_("This fee is already waived."))
        waiver = ledger.entry_record(
            patient=locked.patient,
            kind=Kind.WAIVER,
            amount=left,
            reason=locked.reason,
            reverses=locked,
            appointment=locked.appointment,
            note=text,
            idempotency_key=key,
            by=by,
            now=now,
        ).entry
        payment = ledger.deposit_paid(locked.appointment) if locked.appointment else None
        if payment is not None and _online(payment):
            owed = min(left, ledger.money(payment.amount - payment.reversed_amount - _pending(payment)))
            if owed > ZERO:
                deposits.refund_request(payment=payment, amount=owed, reason=locked.reason, key=key, by=by, now=now)
        return waiver


def deposit_record_at_desk(
    *,
    appointment: Appointment,
    method: str,
    idempotency_key: str,
    by: User,
    amount: Decimal | str | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Records a visit's deposit paid at the desk (cash, card terminal,
    Octopus, FPS, Alipay HK, WeChat Pay); ``amount`` defaults to the
    treatment's deposit. Idempotent by ``idempotency_key``. Raises
    InvalidInput (method, amount, key) and InvalidState (the visit is over or
    its deposit already paid). The caller has checked that ``by`` may take money."""
    if method not in LedgerEntry.DESK_METHODS:
        message = _("Choose how the deposit was paid.")
        raise InvalidInput(message, fields={"method": [message]})
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        locked = Appointment.objects.select_for_update().select_related("treatment", "patient").get(pk=appointment.pk)
        replay = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
        if replay is None:
            if locked.status not in OPEN:
                raise InvalidState(_("A deposit can only be taken for a visit still to come."))
            if ledger.deposit_paid(locked) is not None:
                raise InvalidState(_("This visit's deposit is already paid."))
        if amount is None or amount == "":
            amount = ledger.deposit_for(locked.treatment)
            if amount is None:
                message = _("This treatment asks no deposit: enter the amount.")
                raise InvalidInput(message, fields={"amount": [message]})
        elif not _whole_cents(amount):
            message = _("Enter a positive amount in dollars and cents.")
            raise InvalidInput(message, fields={"amount": [message]})
        return ledger.entry_record(
            patient=locked.patient,
            kind=Kind.PAYMENT,
            method=method,
            amount=amount,
            reason=Reason.DEPOSIT,
            appointment=locked,
            idempotency_key=idempotency_key,
            by=by,
            now=now,
        ).entry


def _whole_cents(amount: Decimal | str) -> bool:
    try:
        value = Decimal(str(amount))
        return value.is_finite() and value == value.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    except ArithmeticError:
        return False


@dataclass(frozen=True)
class DeskRefund:
    payment: LedgerEntry
    amount: Decimal


def refunds_due_at_desk(patient_id: int) -> list[DeskRefund]:
    """Desk deposits of cancelled or missed visits not kept as a fee and not yet paid back."""
    payments = LedgerEntry.objects.filter(
        patient_id=patient_id,
        kind=Kind.PAYMENT,
        reason=Reason.DEPOSIT,
        provider="",
        appointment__status__in=ENDED,
    ).select_related("appointment__treatment")
    due = []
    for payment in payments:
        left = left_of(payment)
        if left > ZERO:
            due.append(DeskRefund(payment, left))
    return due


def desk_refund_record(
    *, payment: LedgerEntry, method: str, idempotency_key: str, by: User, now: datetime | None = None
) -> LedgerEntry:
    """Pays back at the desk what is due of a desk deposit (``refunds_due_at_desk``):
    a REFUND reversing the payment. Idempotent by key; InvalidState when nothing is due."""
    if method not in LedgerEntry.DESK_METHODS:
        message = _("Choose how the money was paid back.")
        raise InvalidInput(message, fields={"method": [message]})
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        locked = (
            LedgerEntry.objects.select_for_update(of=("self",))
            .select_related("appointment", "patient")
            .get(pk=payment.pk)
        )
        replay = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
        if replay is not None:
            return replay
        due = (
            left_of(locked)
            if locked.kind == Kind.PAYMENT
            and locked.reason == Reason.DEPOSIT
            and not _online(locked)
            and locked.appointment is not None
            and locked.appointment.status in ENDED
            else ZERO
        )
        if due <= ZERO:
            raise InvalidState(_("No refund is due at the desk for this payment."))
        return ledger.entry_record(
            patient=locked.patient,
            kind=Kind.REFUND,
            method=method,
            amount=due,
            reason=Reason.CANCELLED_IN_TIME,
            reverses=locked,
            appointment=locked.appointment,
            idempotency_key=idempotency_key,
            by=by,
            now=now,
        ).entry


def deposit_states(appointments: list[Appointment]) -> dict[int, str]:
    """``paid`` or ``due`` per visit that asks a deposit, for the schedule's blocks, in one query."""
    ids = [a.pk for a in appointments]
    paid = set(
        LedgerEntry.objects.filter(appointment_id__in=ids, kind=Kind.PAYMENT, reason=Reason.DEPOSIT).values_list(
            "appointment_id", flat=True
        )
    )
    states: dict[int, str] = {}
    for appointment in appointments:
        if appointment.pk in paid:
            states[appointment.pk] = "paid"
        elif ledger.deposit_for(appointment.treatment) is not None and appointment.status in OPEN:
            states[appointment.pk] = "due"
    return states
