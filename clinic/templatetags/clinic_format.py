"""``{% load clinic_format %}``: dates, times and money the same way on every page
and email (clinic/formats.py decides how). Registered as a template library in
settings.TEMPLATES, since clinic is not an installed app.

    {{ appointment.start|clinic_datetime }}   7 Dec 2026, 14:30 / 2026年12月7日 14:30
    {{ day|clinic_date }}                     7 Dec 2026 / 2026年12月7日
    {{ day|clinic_date:"full" }}              Monday, 7 December 2026 / 2026年12月7日星期一
    {{ appointment.start|clinic_time }}       14:30
    {{ treatment.price|money }}               HK$3,500.00
    {{ patient.phone|phone }}                 +852 9123 4567 (links keep the stored number)

Empty values show as nothing, as Django's date filter does.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from django import template

from clinic import formats

register = template.Library()


@register.filter
def clinic_date(value: date | datetime | None, style: str = "medium") -> str:
    return formats.date_text(value, style) if value else ""


@register.filter
def clinic_datetime(value: datetime | None, style: str = "medium") -> str:
    return formats.datetime_text(value, style) if value else ""


@register.filter
def clinic_time(value: datetime | time | None) -> str:
    return formats.time_text(value) if value is not None and value != "" else ""


@register.filter
def money(value: Decimal | int | None) -> str:
    return formats.money_text(value) if value is not None and value != "" else ""


@register.filter
def phone(value: str | None) -> str:
    return formats.phone_text(value) if value else ""
