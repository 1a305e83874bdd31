"""A small clinic for the public site's tests: one peel that screening can
block, the consultation, two practitioners working Monday to Saturday."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from booking.models import Practitioner
from tests.factories import (
    ContraindicationRuleFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
)
from treatments.models import Category, Treatment

PASSWORD = "correct-horse-battery"


@dataclass
class Clinic:
    peel: Treatment
    consultation: Treatment
    first: Practitioner
    second: Practitioner


def make_clinic() -> Clinic:
    peel = TreatmentFactory(
        slug="peel",
        name_en="Glycolic peel",
        name_zh_hant="果酸換膚",
        description_en="A gentle acid peel that fades marks.",
        description_zh_hant="溫和的果酸換膚，淡化暗瘡印。",
        pre_care_en="Stop retinoid creams 48 hours before.",
        pre_care_zh_hant="治療前48小時停用A酸產品。",
        aftercare_en="Use sunscreen every day.",
        aftercare_zh_hant="每日塗防曬。",
        suits=["pih", "pie", "boxcar_shallow"],
        category=Category.PEEL,
        price=Decimal("900"),
        display_order=10,
    )
    ContraindicationRuleFactory(treatment=peel, code="PREG", severity="block")
    ContraindicationRuleFactory(treatment=peel, code="HSV_HX", severity="caution")
    consultation = TreatmentFactory(
        slug="consultation",
        name_en="Scar consultation",
        name_zh_hant="疤痕諮詢",
        description_en="We look at your skin and plan with you.",
        description_zh_hant="評估你的皮膚並一起計劃療程。",
        category=Category.CONSULTATION,
        suits=["pih", "icepick", "rolling", "keloid"],
        sessions_min=1,
        sessions_max=1,
        interval_days_min=None,
        interval_days_max=None,
        price=Decimal("0"),
        display_order=1,
    )
    RoomFactory(name_en="Room A")
    RoomFactory(name_en="Room B")
    first = PractitionerFactory(treatments=[peel, consultation], user__first_name="Mei", user__last_name="Chan")
    second = PractitionerFactory(treatments=[peel, consultation], user__first_name="Ka", user__last_name="Wong")
    return Clinic(peel=peel, consultation=consultation, first=first, second=second)


def next_weekday(after: date | None = None, days: int = 2) -> date:
    """A Monday-to-Friday date at least ``days`` after today (clinic time)."""
    day = (after or timezone.localdate()) + timedelta(days=days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))
