"""The demo clinic's course packages: a few courses of its laser and RF
treatments at a saving against single sessions (booking.packages)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from booking.models import PackageOffer
from treatments.models import Treatment

# slug, English name, Chinese name, sessions, price (HKD), valid days, sold online
OFFERS = [
    ("pico-laser", "Pico laser × 4", "蜂巢皮秒激光 4次療程", 4, "12000", 365, True),
    ("co2-fractional", "Fractional CO2 laser × 3", "點陣二氧化碳激光 3次療程", 3, "18000", 540, True),
    ("rf-microneedling", "RF microneedling × 3", "點陣射頻微針 3次療程", 3, "11000", 365, False),
]


def seed_packages(tally: Any, upsert: Callable[..., Any], treatments: dict[str, Treatment]) -> None:
    for slug, name_en, name_zh, sessions, price, valid_days, online in OFFERS:
        treatment = treatments.get(slug)
        if treatment is None:
            continue
        upsert(
            PackageOffer,
            lookup={"treatment": treatment, "sessions": sessions},
            values={
                "name_en": name_en,
                "name_zh_hant": name_zh,
                "price": Decimal(price),
                "valid_days": valid_days,
                "sold_online": online,
                "active": True,
            },
            tally=tally,
        )
