"""Money at the desk: the daily takings (a selector) and what the desk records (a service).

A day's takings are the payments and refunds written that clinic-local day
(booking.ledger gives each its receipt number), totalled by method: the
manager counts the cash drawer, the card terminal's batch, Octopus and the
rest against these numbers. Charges, fees, waivers and package credits move
no money and are not takings. Everything is summed in Decimal, so the page,
the CSV and the API match the ledger to the cent.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from booking import ledger
from booking.models import LedgerEntry
from clinic.clock import clinic_zone
from clinic.errors import InvalidInput
from patients.models import Patient

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Kind = LedgerEntry.Kind
Method = LedgerEntry.Method
ZERO = Decimal("0.00")
# What the desk may record by hand; deposits and packages online come from the provider.
DESK_KINDS = (Kind.CHARGE, Kind.PAYMENT, Kind.REFUND)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The clinic-local day as an aware half-open range."""
    start = datetime.combine(day, time.min, tzinfo=clinic_zone())
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=clinic_zone())


def day_rows(day: date) -> QuerySet[LedgerEntry]:
    start, end = day_bounds(day)
    return (
        LedgerEntry.objects.filter(kind__in=ledger.RECEIPTED, created_at__gte=start, created_at__lt=end)
        .select_related("patient", "recorded_by", "reverses", "appointment__treatment", "package")
        .order_by("created_at", "id")
    )


@dataclass
class MethodTotal:
    method: str
    label: str
    payments: Decimal = ZERO
    refunds: Decimal = ZERO
    count: int = 0

    @property
    def net(self) -> Decimal:
        return self.payments - self.refunds


@dataclass
class Takings:
    day: date
    rows: list[LedgerEntry]
    methods: list[MethodTotal] = field(default_factory=list)

    @property
    def payments(self) -> Decimal:
        return sum((m.payments for m in self.methods), ZERO)

    @property
    def refunds(self) -> Decimal:
        return sum((m.refunds for m in self.methods), ZERO)

    @property
    def net(self) -> Decimal:
        return self.payments - self.refunds


def takings_for(day: date) -> Takings:
    """The day's payments and refunds and their totals by method, in one query."""
    rows = list(day_rows(day))
    by_method: dict[str, MethodTotal] = {}
    for row in rows:
        total = by_method.setdefault(row.method, MethodTotal(row.method, str(row.get_method_display())))
        if row.kind == Kind.PAYMENT:
            total.payments += row.amount
        else:
            total.refunds += row.amount
        total.count += 1
    order = {value: index for index, value in enumerate(Method.values)}
    return Takings(day=day, rows=rows, methods=sorted(by_method.values(), key=lambda m: order.get(m.method, 99)))


def takings_csv(takings: Takings) -> str:
    """The day's rows, then the totals by method, for the bookkeeper's spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["receipt_number", "created_at", "kind", "method", "amount", "patient_id", "patient", "reverses"])
    for row in takings.rows:
        writer.writerow(
            [
                row.receipt_number,
                row.created_at.astimezone(clinic_zone()).isoformat(),
                row.kind,
                row.method,
                f"{row.amount:.2f}",
                row.patient_id,
                _csv_safe(row.patient.full_name),
                row.reverses.receipt_number if row.reverses else "",
            ]
        )
    writer.writerow([])
    writer.writerow(["method", "payments", "refunds", "net"])
    for total in takings.methods:
        writer.writerow([total.method, f"{total.payments:.2f}", f"{total.refunds:.2f}", f"{total.net:.2f}"])
    writer.writerow(["total", f"{takings.payments:.2f}", f"{takings.refunds:.2f}", f"{takings.net:.2f}"])
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def desk_record(
    *,
    patient: Patient,
    kind: str,
    amount: Decimal | str,
    idempotency_key: str,
    by: User,
    method: str = "",
    reverses_id: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> ledger.Recorded:
    """What the front desk records by hand: a charge, a payment taken at the
    desk, or a refund of a payment (given back at the desk).

    The caller has checked the role. Raises InvalidInput for another kind, a
    method the desk does not take, a refund of something that is not this
    patient's payment or of more than is left of it (booking.ledger), and a
    key reused for another movement. A replayed key returns the first row."""
    if kind not in DESK_KINDS:
        message = _("The desk records a charge, a payment or a refund.")
        raise InvalidInput(message, fields={"kind": [message]})
    if kind in ledger.RECEIPTED and method not in LedgerEntry.DESK_METHODS:
        message = _("Choose how the money moved at the desk.")
        raise InvalidInput(message, fields={"method": [message]})
    if kind == Kind.CHARGE and method:
        message = _("A charge takes no method.")
        raise InvalidInput(message, fields={"method": [message]})
    reverses = None
    if kind == Kind.REFUND:
        if reverses_id is not None:
            reverses = LedgerEntry.objects.filter(pk=reverses_id, patient=patient, kind=Kind.PAYMENT).first()
        if reverses is None:
            message = _("Choose a payment of this patient to refund.")
            raise InvalidInput(message, fields={"reverses": [message]})
    elif reverses_id is not None:
        message = _("Only a refund names a payment.")
        raise InvalidInput(message, fields={"reverses": [message]})
    with transaction.atomic(durable=True):
        return ledger.entry_record(
            patient=patient,
            kind=kind,
            amount=amount,
            method=method,
            reverses=reverses,
            note=note,
            idempotency_key=idempotency_key,
            by=by,
            now=now,
        )
