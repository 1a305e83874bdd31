"""Who received a lot (issue 17, traceability of injectables): the manager's
recall search, shared by the API (``GET /api/v1/lots/``) and the Lot recall
page, so both find the same rows and write the same CSV.

The caller has checked that a manager asks, and writes the access log (one
read of session records per patient listed): ``access_reads`` gives the rows.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from django.utils.translation import gettext as _

from booking import selectors
from booking.models import InjectableUse
from clinic import formats
from clinic.errors import InvalidInput
from patients.models import AccessEvent
from treatments.injectables import LOT_MAX, normalise_lot

CSV_COLUMNS: Final = (
    "patient_id",
    "patient_name",
    "phone",
    "email",
    "date",
    "treatment",
    "product",
    "lot",
    "expiry",
    "amount",
    "unit",
    "practitioner",
    "session_record",
)


def lot_key(raw: Any) -> str:
    """The searched lot, folded as stored, or InvalidInput on ``lot``."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput(fields={"lot": [_("Give the lot number to search for.")]})
    if len(raw) > LOT_MAX or "\x00" in raw:
        raise InvalidInput(fields={"lot": [_("At most %(max)d characters.") % {"max": LOT_MAX}]})
    key = normalise_lot(raw)
    if not key:
        raise InvalidInput(fields={"lot": [_("Give the lot number to search for.")]})
    return key[:LOT_MAX]


@dataclass(frozen=True)
class LotRow:
    use: InjectableUse
    patient_id: int
    patient_name: str
    phone: str
    email: str
    day: date
    treatment: str
    treatment_slug: str
    practitioner: str

    @property
    def session_record_id(self) -> int:
        return self.use.session_record_id


def lot_rows(uses: Iterable[InjectableUse], *, language: str | None = None) -> list[LotRow]:
    """The uses as the page and the CSV show them (visit day clinic-local)."""
    rows = []
    for use in uses:
        appointment = use.session_record.appointment
        patient = appointment.patient
        rows.append(
            LotRow(
                use=use,
                patient_id=patient.pk,
                patient_name=patient.full_name,
                phone=patient.phone,
                email=patient.email,
                day=appointment.start.astimezone(formats.clinic_zone()).date(),
                treatment=appointment.treatment.localized("name", language),
                treatment_slug=appointment.treatment.slug,
                practitioner=appointment.practitioner.name,
            )
        )
    return rows


def search(raw_lot: Any, *, language: str | None = None) -> tuple[str, list[LotRow]]:
    """(the folded lot, its uses), or InvalidInput when no lot is given."""
    key = lot_key(raw_lot)
    return key, lot_rows(selectors.injectable_uses(lot_key=key), language=language)


def access_reads(rows: Sequence[LotRow]) -> list[tuple[int, str, int | None]]:
    """One read of session records per patient listed (patients.services.access_record_many)."""
    patients = sorted({row.patient_id for row in rows})
    return [(patient_id, AccessEvent.What.SESSION_RECORD, None) for patient_id in patients]


_PHONE: Final = re.compile(r"\+[0-9]{4,19}")  # E.164, as stored: harmless in a spreadsheet


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting like a formula runs as one in a spreadsheet: a patient's
    # name typed as "=HYPERLINK(...)" must stay text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _PHONE.fullmatch(text):
        return "'" + text
    return text


def _amount(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def lot_csv(rows: Sequence[LotRow]) -> str:
    """The rows as CSV, with a byte-order mark so spreadsheets read Chinese names."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        use = row.use
        writer.writerow(
            [
                _cell(value)
                for value in (
                    row.patient_id,
                    row.patient_name,
                    row.phone,
                    row.email,
                    row.day.isoformat(),
                    row.treatment_slug,
                    use.product,
                    use.lot,
                    use.expiry.isoformat() if use.expiry else "",
                    _amount(use.amount),
                    use.unit,
                    row.practitioner,
                    use.session_record_id,
                )
            ]
        )
    return buffer.getvalue()


def csv_filename(key: str) -> str:
    safe = "".join(ch for ch in key if ch.isascii() and ch.isalnum())[:40] or "lot"
    return f"lot-{safe}.csv"
