"""The Goodman & Baron quantitative acne-scar score (docs/domain.md has a worked example).

One pure function, used by the assessment service and by the staff pages, so
the score shown is the score stored. Scoring is per sub-type: ``weight ×
band``, where the band is 0 for no lesions, 1 for 1–10, 2 for 11–20 and 3 for
more than 20; the keloidal/hypertrophic sub-type (D2) scores by total area
instead. The total runs from 0 to 84.

The sub-type table is a reconstruction checked against the published maximum
(not verified by a clinician in every detail), which is why assessments store the
raw counts: a corrected table recomputes every score from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Final

WEIGHTS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "macular": 1,  # A1 macular erythematous or pigmented
        "mild_atrophic": 1,  # A2 mildly atrophic, dish-like
        "moderate_atrophic": 2,  # B1 moderately atrophic, multiple small
        "punched_out_shallow": 2,  # B2 small punched-out, shallow base, <5 mm
        "broad_shallow": 2,  # B3 shallow but broad atrophic areas
        "punched_out_deep_normal_base": 3,  # C1 punched-out, deep, normal base, <5 mm
        "punched_out_deep_abnormal_base": 3,  # C2 punched-out, deep, abnormal base, <5 mm
        "linear_troughed": 3,  # C3 linear or troughed dermal scarring
        "broad_deep": 3,  # C4 deep, broad atrophic areas
        "hyperplastic_papular": 2,  # D1 hyperplastic papular
    }
)

MAX_SCORE: Final = 84


def count_band(count: int) -> int:
    """0 for none, 1 for 1–10 lesions, 2 for 11–20, 3 for more than 20."""
    if count < 0:
        raise ValueError("a lesion count cannot be negative")
    if count == 0:
        return 0
    if count <= 10:
        return 1
    if count <= 20:
        return 2
    return 3


def keloid_points(area_cm2: Decimal | int) -> int:
    """D2 by total area: 0 → 0, above 0 and under 5 cm² → 6, 5–20 cm² → 12,
    over 20 cm² → 18."""
    area = Decimal(area_cm2)
    if area < 0:
        raise ValueError("an area cannot be negative")
    if area == 0:
        return 0
    if area < 5:
        return 6
    if area <= 20:
        return 12
    return 18


def goodman_baron_score(lesions: Mapping[str, int], keloid_area_cm2: Decimal | int = 0) -> int:
    """The quantitative score of the ten lesion counts (API keys; a missing
    key counts as 0) and the keloid area. Unknown keys raise ValueError: a
    count that does not score must not pass silently."""
    unknown = set(lesions) - set(WEIGHTS)
    if unknown:
        raise ValueError(f"unknown lesion keys: {sorted(unknown)}")
    total = sum(weight * count_band(lesions.get(key, 0)) for key, weight in WEIGHTS.items())
    return total + keloid_points(keloid_area_cm2)
