"""Dates, times and money read the same way on every page, in both languages
(clinic/formats.py through the clinic_format template filters)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from django.template import engines
from django.utils import translation

TEMPLATE = (
    "{% load clinic_format %}"
    "{{ day|clinic_date }}|{{ day|clinic_date:'full' }}|{{ moment|clinic_datetime }}|{{ moment|clinic_time }}"
    "|{{ wall|clinic_time }}|{{ price|money }}|{{ day|clinic_date:'weekday_short' }}|{{ day|clinic_date:'day_month' }}"
    "|{{ nothing|clinic_date }}{{ nothing|clinic_datetime }}{{ nothing|money }}"
)
VALUES = {
    "day": date(2026, 12, 7),
    # 18:30 UTC on the 6th is 02:30 on the 7th in Hong Kong: the clinic's zone, not UTC's day.
    "moment": datetime(2026, 12, 6, 18, 30, tzinfo=UTC),
    "wall": time(9, 5),
    "price": Decimal("3500"),
    "nothing": None,
}


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            "7 Dec 2026|Monday, 7 December 2026|7 Dec 2026, 02:30|02:30|09:05|HK$3,500.00|Mon|7 Dec|",
        ),
        (
            "zh-hant",
            "2026年12月7日|2026年12月7日星期一|2026年12月7日 02:30|02:30|09:05|HK$3,500.00|週一|12月7日|",
        ),
    ],
)
def test_dates_times_and_money_read_one_way_in_each_language(language: str, expected: str) -> None:
    with translation.override(language):
        assert engines["django"].from_string(TEMPLATE).render(VALUES) == expected


def test_the_clinic_zone_and_currency_come_from_the_settings(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CLINIC_TIME_ZONE = "Europe/London"
    settings.CLINIC_CURRENCY = "GBP"
    with translation.override("en"):
        text = engines["django"].from_string(TEMPLATE).render(VALUES)
    assert "6 Dec 2026, 18:30|18:30|" in text and "£3,500.00" in text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "7 Dec 2026, 02:30|7 Dec 2026|02:30|00:00|12:00"),
        ("zh-hant", "2026年12月7日 02:30|2026年12月7日|02:30|00:00|12:00"),
    ],
)
def test_djangos_own_formats_agree_with_the_helper(language: str, expected: str) -> None:
    """The safety net (settings.FORMAT_MODULE_PATH): a value printed bare, or through
    Django's |date, reads as clinic/formats.py writes it, not "Dec. 7, 2026, midnight"."""
    from clinic import formats

    template = engines["django"].from_string(
        "{{ moment }}|{{ day }}|{{ moment|time }}|{{ midnight|time }}|{{ noon|time }}"
    )
    with translation.override(language):
        rendered = template.render({**VALUES, "midnight": time(0, 0), "noon": time(12, 0)})
        assert rendered == expected
        assert rendered.split("|")[0] == formats.datetime_text(VALUES["moment"])  # type: ignore[arg-type]
        assert rendered.split("|")[1] == formats.date_text(VALUES["day"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("+85291234567", "+852 9123 4567"), ("+447700900123", "+44 7700 900123"), ("not a number", "not a number")],
)
def test_phone_numbers_are_grouped_as_people_read_them(stored: str, shown: str) -> None:
    rendered = engines["django"].from_string("{% load clinic_format %}{{ number|phone }}").render({"number": stored})
    assert rendered == shown


@pytest.mark.django_db
def test_the_chart_shows_a_grouped_phone_number_and_dials_the_stored_one(client) -> None:
    from tests.factories import PatientFactory, UserFactory

    patient = PatientFactory(phone="+85291234567")
    client.force_login(UserFactory(role="receptionist"))
    page = client.get(f"/staff/patients/{patient.pk}/").content.decode()
    assert "+852 9123 4567" in page and 'href="tel:+85291234567"' in page
