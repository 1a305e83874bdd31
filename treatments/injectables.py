"""What an injectable session records about each product it used: product, lot,
expiry and amount (issue 17, traceability). Pure validation, no ORM: the service
that writes session records (``booking.services.appointment_complete``) calls
``validate_injectables`` and stores the rows it returns; the lot search reads
``lot_key``.

Fillers, toxin and steroid sessions need at least one product; other categories
none. A lot that expired before the visit's clinic-local day is refused (on its
expiry day it may still be used). Amounts carry the unit of the category:
millilitres of filler, units of toxin, milligrams of steroid.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.utils.translation import gettext as _

from clinic import formats
from treatments.models import Category

PRODUCT_MAX: Final = 200
LOT_MAX: Final = 60
MAX_ROWS: Final = 10
FIELDS: Final = ("product", "lot", "expiry", "amount", "unit")

# The unit of an amount per injectable category, and a sanity bound that
# catches unit mistakes (a total in units typed as millilitres), not a clinical limit.
UNITS: Final[dict[str, tuple[str, Decimal]]] = {
    Category.FILLER: ("ml", Decimal("20")),
    Category.TOXIN: ("units", Decimal("500")),
    Category.STEROID: ("mg", Decimal("200")),
}
INJECTABLE_CATEGORIES: Final = frozenset(UNITS)

# Spaces, dashes and dots inside a lot number are how it was printed or typed, not part of it.
_FOLD = re.compile(r"[\s\-\u2010-\u2015.\u00b7/_]+")


def normalise_lot(lot: str) -> str:
    """The lot as searched: full-width characters (a Chinese keyboard's) made
    plain, case folded, spaces, dashes, dots and slashes dropped, so "ab 123",
    "AB-123" and "ＡＢ１２３" all find "AB123"."""
    return _FOLD.sub("", unicodedata.normalize("NFKC", lot)).upper()


def needs_injectables(category: str) -> bool:
    return category in INJECTABLE_CATEGORIES


def unit_for(category: str) -> str:
    return UNITS[category][0] if category in UNITS else ""


@dataclass(frozen=True)
class Injectable:
    product: str
    lot: str
    lot_key: str
    expiry: date
    amount: Decimal | None
    unit: str


def _text(value: Any, maximum: int, missing: str) -> tuple[str, str | None]:
    if value is None:
        return "", missing
    if not isinstance(value, str):
        return "", _("Give text.")
    value = value.strip()
    if "\x00" in value:
        return "", _("Text must not contain NUL characters.")
    if not value:
        return "", missing
    if len(value) > maximum:
        return "", _("At most %(max)d characters.") % {"max": maximum}
    return value, None


def _expiry(value: Any, visit_day: date) -> tuple[date | None, str | None]:
    if value in (None, ""):
        return None, _("Give the expiry date printed on the product.")
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None, _("Give a date as YYYY-MM-DD.")
    else:
        return None, _("Give a date as YYYY-MM-DD.")
    if day < visit_day:
        return None, _("This lot expired on %(expiry)s, before the visit (%(visit)s): use a lot in date.") % {
            "expiry": formats.date_text(day),
            "visit": formats.date_text(visit_day),
        }
    return day, None


def _amount(value: Any, high: Decimal) -> tuple[Decimal | None, str | None]:
    if value in (None, ""):
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None, _("Give a number.")
    if isinstance(value, float) and not math.isfinite(value):
        return None, _("Give a finite number.")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return None, _("Give a number.")
    if not number.is_finite():
        return None, _("Give a finite number.")
    if not Decimal(0) < number <= high:
        return None, _("Must be more than 0 and at most %(high)s.") % {"high": high}
    if number != number.quantize(Decimal("0.01")):
        return None, _("At most two decimal places.")
    return number.quantize(Decimal("0.01")), None


def validate_injectables(
    category: str, items: Any, *, visit_day: date
) -> tuple[list[Injectable], dict[str, list[str]]]:
    """(clean rows, errors by ``injectables`` or ``injectables.<n>.<field>``)
    for a session of ``category`` on ``visit_day`` (clinic-local)."""
    if items is None:
        items = []
    if not isinstance(items, list):
        return [], {"injectables": [_("Give a list of products used.")]}
    if not needs_injectables(category):
        if items:
            return [], {"injectables": [_("This treatment records no injectable products.")]}
        return [], {}
    if not items:
        return [], {"injectables": [_("Record the product, lot and expiry of what was injected.")]}
    if len(items) > MAX_ROWS:
        return [], {"injectables": [_("At most %(max)d products per session.") % {"max": MAX_ROWS}]}
    unit, high = UNITS[category]
    clean: list[Injectable] = []
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        prefix = f"injectables.{index}"
        if not isinstance(item, dict):
            errors[prefix] = [_("Give an object with product, lot, expiry and amount.")]
            continue
        unknown = sorted(str(key)[:40] for key in item if key not in FIELDS)
        if unknown:
            errors[prefix] = [
                _("Unknown fields: %(fields)s. Known: %(known)s.")
                % {"fields": ", ".join(unknown), "known": ", ".join(FIELDS)}
            ]
        product, product_error = _text(item.get("product"), PRODUCT_MAX, _("Give the product's name."))
        lot, lot_error = _text(item.get("lot"), LOT_MAX, _("Give the lot number printed on the product."))
        lot_key = normalise_lot(lot) if lot_error is None else ""
        if lot_error is None and not lot_key:
            lot_error = _("Give the lot number printed on the product.")
        expiry, expiry_error = _expiry(item.get("expiry"), visit_day)
        amount, amount_error = _amount(item.get("amount"), high)
        given_unit = item.get("unit")
        unit_error = None
        if given_unit not in (None, "", unit):
            unit_error = _("The amount of this treatment is in %(unit)s.") % {"unit": unit}
        for name, error in (
            ("product", product_error),
            ("lot", lot_error),
            ("expiry", expiry_error),
            ("amount", amount_error),
            ("unit", unit_error),
        ):
            if error:
                errors[f"{prefix}.{name}"] = [error]
        if expiry is not None and not any(key.startswith(f"{prefix}.") or key == prefix for key in errors):
            clean.append(Injectable(product=product, lot=lot, lot_key=lot_key, expiry=expiry, amount=amount, unit=unit))
    return clean, errors
