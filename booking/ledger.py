"""The patient's ledger: every movement of money, and the rules that keep it true.

One row per movement (booking.models.LedgerEntry), amounts positive in the
clinic's currency, the direction given by the kind (``SIGN``). A patient's
balance is the signed sum of their rows: above zero the clinic holds their
money (a deposit, a prepaid package), below zero they owe it.

Every writer goes through ``entry_record``:

- it is idempotent: the same ``idempotency_key`` returns the row it made the
  first time (a double-clicked desk form, a retried API call, a replayed
  provider webhook), and a key reused for a different movement is refused;
- a refund or a waiver locks the row it reverses and raises that row's
  ``reversed_amount``; the database's check refuses a refund larger than the
  payment it returns (or a waiver larger than its fee), whoever races;
- payments and refunds take the next receipt number of the year in the same
  transaction (``receipt_number_next``), so a rollback gives the number back
  and the sequence has no gaps.

Nothing here talks to a payment provider: booking.deposits does, and records
what the provider did through this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.models import Appointment, LedgerEntry, Package, ReceiptCounter
from clinic.clock import clinic_date
from clinic.errors import InvalidInput
from patients.models import Patient
from treatments.models import Treatment

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Kind = LedgerEntry.Kind
Method = LedgerEntry.Method

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Which way each kind moves the balance (what the clinic holds for the patient).
SIGN: dict[str, int] = {
    Kind.PAYMENT: 1,
    Kind.WAIVER: 1,
    Kind.CHARGE: -1,
    Kind.FEE: -1,
    Kind.REFUND: -1,
    Kind.PACKAGE_CREDIT: -1,
}
# What a reversing row may reverse.
REVERSES: dict[str, str] = {Kind.REFUND: Kind.PAYMENT, Kind.WAIVER: Kind.FEE}
RECEIPTED = (Kind.PAYMENT, Kind.REFUND)


def money(value: Any) -> Decimal:
    """``value`` as an amount of the clinic's currency, rounded to the cent."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def deposit_for(treatment: Treatment) -> Decimal | None:
    """The deposit online booking asks for ``treatment``, or None for none."""
    if treatment.deposit_amount is not None:
        return money(treatment.deposit_amount)
    if treatment.deposit_percent:
        amount = money(Decimal(treatment.price) * treatment.deposit_percent / 100)
        return amount if amount > ZERO else None
    return None


def signed_amount() -> Case:
    """The balance effect of a row, as an expression for aggregates."""
    return Case(
        *(When(kind=kind, then=F("amount") * sign) for kind, sign in SIGN.items()),
        default=Value(ZERO),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def balance(patient: Patient | int) -> Decimal:
    """What the clinic holds for the patient (negative: what they owe), in one query."""
    patient_id = patient if isinstance(patient, int) else patient.pk
    total = LedgerEntry.objects.filter(patient_id=patient_id).aggregate(
        total=Coalesce(Sum(signed_amount()), Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=2))
    )["total"]
    return money(total)


def entries(patient: Patient | int) -> QuerySet[LedgerEntry]:
    """The patient's rows, oldest first, with what their lines show."""
    patient_id = patient if isinstance(patient, int) else patient.pk
    return (
        LedgerEntry.objects.filter(patient_id=patient_id)
        .select_related("appointment__treatment", "package", "reverses", "recorded_by")
        .order_by("created_at", "id")
    )


def receipt_number_next(moment: datetime) -> str:
    """The next receipt number of ``moment``'s clinic year, e.g. ``2026-000042``.

    Call inside the transaction that writes the row: the counter row stays
    locked until it commits, and a rollback returns the number."""
    year = clinic_date(moment).year
    ReceiptCounter.objects.get_or_create(year=year)
    counter = ReceiptCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{year}-{counter.last:06d}"


@dataclass(frozen=True)
class Recorded:
    entry: LedgerEntry
    created: bool


def _same(entry: LedgerEntry, wanted: dict[str, Any]) -> bool:
    return all(getattr(entry, field) == value for field, value in wanted.items())


def entry_record(
    *,
    patient: Patient,
    kind: str,
    amount: Decimal | str | int,
    idempotency_key: str,
    method: str = "",
    reason: str = "",
    appointment: Appointment | None = None,
    package: Package | None = None,
    reverses: LedgerEntry | None = None,
    provider: str = "",
    provider_ref: str = "",
    note: str = "",
    by: User | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Writes one ledger row, or returns the one this key already wrote.

    Raises InvalidInput for an amount that is not a positive number of cents,
    a method that does not fit the kind, a reversal of the wrong kind of row or
    of more than is left of it, or a key already used for another movement."""
    try:
        value = money(amount)
        fits = value.is_finite() and ZERO < value < Decimal("1e10") and value == Decimal(str(amount))
    except (ArithmeticError, ValueError, TypeError):
        raise InvalidInput(_("Enter an amount."), fields={"amount": [_("Enter an amount.")]}) from None
    if not fits:
        raise InvalidInput(
            _("Enter a positive amount in dollars and cents."),
            fields={"amount": [_("Enter a positive amount in dollars and cents.")]},
        )
    if not idempotency_key or len(idempotency_key) > 100:
        raise InvalidInput(_("A request key is needed."), fields={"idempotency_key": [_("A request key is needed.")]})
    _check_shape(kind=kind, method=method, reason=reason, reverses=reverses)
    wanted: dict[str, Any] = {
        "patient_id": patient.pk,
        "kind": kind,
        "amount": value,
        "method": method,
        "reverses_id": reverses.pk if reverses else None,
    }
    existing = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replayed(existing, wanted)
    if provider_ref:
        by_ref = LedgerEntry.objects.filter(provider=provider, kind=kind, provider_ref=provider_ref).first()
        if by_ref is not None:
            return Recorded(by_ref, created=False)
    now = now or timezone.now()
    try:
        with transaction.atomic():
            if reverses is not None:
                _reverse(reverses, kind=kind, amount=value, patient=patient)
            entry = LedgerEntry(
                patient=patient,
                kind=kind,
                method=method,
                reason=reason,
                amount=value,
                reverses=reverses,
                appointment=appointment,
                package=package,
                provider=provider,
                provider_ref=provider_ref,
                idempotency_key=idempotency_key,
                note=note,
                recorded_by=by,
                created_at=now,
            )
            if kind in RECEIPTED:
                entry.receipt_number = receipt_number_next(now)
            entry.save()
    except IntegrityError:
        # Another request with the same key (or provider movement) won the race.
        raced = LedgerEntry.objects.filter(
            Q(idempotency_key=idempotency_key)
            | (Q(provider=provider, kind=kind, provider_ref=provider_ref) & ~Q(provider_ref=""))
        ).first()
        if raced is None:
            raise
        return _replayed(raced, wanted) if raced.idempotency_key == idempotency_key else Recorded(raced, created=False)
    return Recorded(entry, created=True)


def _check_shape(*, kind: str, method: str, reason: str, reverses: LedgerEntry | None) -> None:
    """What the database's checks would refuse, refused first with a clear message."""
    if kind not in Kind.values:
        raise InvalidInput(_("Unknown kind of movement."), fields={"kind": [_("Unknown kind of movement.")]})
    if reason not in LedgerEntry.Reason.values:
        raise InvalidInput(_("Unknown reason."), fields={"reason": [_("Unknown reason.")]})
    if kind in (Kind.PAYMENT, Kind.REFUND):
        fits = method in Method.values and method not in (Method.NONE, Method.PACKAGE)
    elif kind == Kind.PACKAGE_CREDIT:
        fits = method == Method.PACKAGE
    else:
        fits = method == Method.NONE
    if not fits:
        message = _("Choose how the money moved.") if kind in RECEIPTED else _("This movement takes no method.")
        raise InvalidInput(message, fields={"method": [message]})
    if (kind in REVERSES) != (reverses is not None):
        message = _("A refund names its payment and a waiver its fee; nothing else reverses a row.")
        raise InvalidInput(message, fields={"reverses": [message]})


def _replayed(existing: LedgerEntry, wanted: dict[str, Any]) -> Recorded:
    if not _same(existing, wanted):
        raise InvalidInput(
            _("This request key was already used for another movement."),
            fields={"idempotency_key": [_("This request key was already used for another movement.")]},
        )
    return Recorded(existing, created=False)


def _reverse(original: LedgerEntry, *, kind: str, amount: Decimal, patient: Patient) -> None:
    expected = REVERSES.get(kind)
    locked = LedgerEntry.objects.select_for_update().get(pk=original.pk)
    if expected is None or locked.kind != expected or locked.patient_id != patient.pk:
        raise InvalidInput(
            _("A refund returns a payment and a waiver forgives a fee of the same patient."),
            fields={"reverses": [_("A refund returns a payment and a waiver forgives a fee of the same patient.")]},
        )
    left = locked.amount - locked.reversed_amount
    if amount > left:
        message = (
            _("That is more than is left of the payment (%(left)s).")
            if kind == Kind.REFUND
            else _("That is more than is left of the fee (%(left)s).")
        ) % {"left": left}
        raise InvalidInput(message, fields={"amount": [message]})
    # The check constraint ledger_reversed_within_amount is the last word.
    LedgerEntry.objects.filter(pk=locked.pk).update(reversed_amount=F("reversed_amount") + amount)
    original.reversed_amount = locked.reversed_amount + amount


def refundable(entry: LedgerEntry) -> Decimal:
    """What is left to refund of a payment (or to waive of a fee)."""
    return money(entry.amount - entry.reversed_amount)


def deposit_paid(appointment: Appointment) -> LedgerEntry | None:
    """The deposit payment recorded for ``appointment``, if any."""
    return (
        LedgerEntry.objects.filter(appointment=appointment, kind=Kind.PAYMENT, reason=LedgerEntry.Reason.DEPOSIT)
        .order_by("id")
        .first()
    )
