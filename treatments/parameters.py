"""What a session record holds, per treatment category (docs/domain.md).

Pure validation, no ORM: the ``complete`` endpoint and the service that writes
session records both call ``validate_parameters`` and ``validate_areas``. Keys
carry their unit (``fluence_j_cm2``, ``needle_depth_mm``, ...). Every key is
optional; an unknown key, a value of the wrong type or out of range is an
error. The numeric ranges are sanity bounds that catch typos and unit
mistakes (joules for millijoules), not clinical limits, which belong to the
practitioner.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from django.utils.translation import gettext as _

from treatments.models import Category

TEXT_MAX: Final = 200

AREAS: Final[tuple[str, ...]] = (
    "forehead",
    "left_cheek",
    "right_cheek",
    "temples",
    "nose",
    "perioral",
    "chin",
    "jawline",
    "neck",
    "chest",
    "back",
)


@dataclass(frozen=True)
class Number:
    low: float
    high: float
    integer: bool = False


@dataclass(frozen=True)
class Text:
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Day:
    """An ISO date, ``YYYY-MM-DD`` (e.g. when sutures come out)."""


Spec = Number | Text | Day

_DEVICE = Text()
_PASSES = Number(1, 20, integer=True)
_NEEDLE_DEPTH = Number(0, 5)
_CONCENTRATION = Number(0, 100)
_SCARS = Number(0, 500, integer=True)

PARAMETERS: Final[Mapping[str, Mapping[str, Spec]]] = {
    Category.LASER: {
        "device": _DEVICE,
        "wavelength_nm": Number(100, 12000),
        "mode": Text(),
        "fluence_j_cm2": Number(0, 100),
        "energy_mj": Number(0, 2000),
        "spot_size_mm": Number(0, 30),
        "pulse_duration": Text(),  # with its unit, e.g. "450 ps", "10 ms"
        "density_percent": Number(0, 100),
        "passes": _PASSES,
    },
    Category.RF_MICRONEEDLING: {
        "device": _DEVICE,
        "tip": Text(),
        "energy_mj_per_pin": Number(0, 200),
        "needle_depth_mm": _NEEDLE_DEPTH,
        "passes": _PASSES,
    },
    Category.MICRONEEDLING: {"device": _DEVICE, "needle_depth_mm": _NEEDLE_DEPTH, "passes": _PASSES},
    Category.RESURFACING: {"device": _DEVICE, "passes": _PASSES, "endpoint": Text()},
    Category.PEEL: {
        "agent": Text(),
        "concentration_percent": _CONCENTRATION,
        "coats": Number(1, 20, integer=True),
        "contact_time_min": Number(0, 60),
        "endpoint": Text(),
    },
    Category.TCA_CROSS: {"concentration_percent": _CONCENTRATION, "applicator": Text(), "scars_treated": _SCARS},
    # Product, lot and expiry of filler, steroid and toxin are structured rows
    # (treatments.injectables), not parameters: a recall must find them.
    Category.FILLER: {
        "volume_ml": Number(0, 20),
        "sites": Number(0, 500, integer=True),
        "depth": Text(),
        "needle_or_cannula": Text(choices=("needle", "cannula")),
    },
    Category.STEROID: {
        "concentration_mg_ml": Number(0, 100),
        "total_dose_mg": Number(0, 200),
    },
    Category.TOXIN: {
        "dilution": Text(),  # e.g. "2.5 ml per 100 U"
        "units": Number(0, 500),
        "units_per_site": Number(0, 100),
    },
    Category.SUBCISION: {"instrument": Text(), "scars_treated": _SCARS},
    Category.PUNCH: {
        "technique": Text(),
        "punch_size_mm": Number(0, 10),
        "closure": Text(),
        "suture_removal_date": Day(),
    },
    Category.FACIAL: {"device": _DEVICE, "serums": Text()},
    Category.CONSULTATION: {},
}

# Keys of which at most one may be given: a laser session records fluence or energy, not both.
ONE_OF: Final[Mapping[str, tuple[tuple[str, ...], ...]]] = {
    Category.LASER: (("fluence_j_cm2", "energy_mj"),),
}


def _check(spec: Spec, value: Any) -> tuple[Any, str | None]:
    """The clean value, or an error message."""
    if isinstance(spec, Number):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, _("Give a number.")
        if isinstance(value, float) and not math.isfinite(value):
            return None, _("Give a finite number.")
        if spec.integer and not (isinstance(value, int) or float(value).is_integer()):
            return None, _("Give a whole number.")
        if not spec.low <= value <= spec.high:
            return None, _("Must be between %(low)g and %(high)g.") % {"low": spec.low, "high": spec.high}
        return (int(value) if spec.integer else value), None
    if isinstance(spec, Day):
        if not isinstance(value, str) or len(value) != 10:
            return None, _("Give a date as YYYY-MM-DD.")
        try:
            return date.fromisoformat(value).isoformat(), None
        except ValueError:
            return None, _("Give a date as YYYY-MM-DD.")
    if not isinstance(value, str):
        return None, _("Give text.")
    value = value.strip()
    if "\x00" in value:
        return None, _("Text must not contain NUL characters.")
    if len(value) > TEXT_MAX:
        return None, _("At most %(max)d characters.") % {"max": TEXT_MAX}
    if spec.choices and value not in spec.choices:
        return None, _("Choose one of: %(choices)s.") % {"choices": ", ".join(spec.choices)}
    return value, None


def validate_parameters(category: str, parameters: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(clean parameters, errors by ``parameters.<key>``) for a treatment category."""
    if not isinstance(parameters, dict):
        return {}, {"parameters": [_("Give an object of parameter keys and values.")]}
    allowed = PARAMETERS.get(category, {})
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key, value in parameters.items():
        name = f"parameters.{str(key)[:60]}"
        spec = allowed.get(key)
        if spec is None:
            if allowed:
                message = _("Unknown parameter for this treatment. Known: %(keys)s.") % {"keys": ", ".join(allowed)}
            else:
                message = _("This treatment records no parameters.")
            errors[name] = [message]
            continue
        value, error = _check(spec, value)
        if error:
            errors[name] = [error]
        else:
            clean[key] = value
    for group in ONE_OF.get(category, ()):
        given = [key for key in group if key in parameters]
        if len(given) > 1:
            errors.setdefault("parameters", []).append(_("Give only one of %(keys)s.") % {"keys": " or ".join(group)})
    return clean, errors


def validate_areas(areas: Any) -> tuple[list[str], list[str]]:
    """(areas in the canonical order, error messages)."""
    if not isinstance(areas, list) or not all(isinstance(area, str) for area in areas):
        return [], [_("Give a list of area codes.")]
    unknown = sorted({area[:40] for area in areas} - set(AREAS))
    if unknown:
        return [], [
            _("Unknown areas: %(areas)s. Known: %(known)s.") % {"areas": ", ".join(unknown), "known": ", ".join(AREAS)}
        ]
    chosen = set(areas)
    return [area for area in AREAS if area in chosen], []
