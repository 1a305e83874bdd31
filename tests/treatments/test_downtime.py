"""The downtime flag: a visit on day D with downtime min–max days covers D .. D+max."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import translation

from patients.models import ImportantDate
from tests.factories import PatientFactory, TreatmentFactory
from treatments import downtime
from treatments.downtime import DateRange
from treatments.selectors import downtime_conflicts

VISIT = date(2026, 12, 1)


def _one(day: date) -> list[DateRange]:
    return [DateRange(day, day, "Wedding")]


@pytest.mark.parametrize(
    ("event", "flagged"),
    [
        (VISIT - timedelta(days=1), False),  # the day before the visit
        (VISIT, True),  # the visit day itself
        (VISIT + timedelta(days=7), True),  # the last day of 7 days of downtime
        (VISIT + timedelta(days=8), False),  # the day after it
    ],
)
def test_a_single_day_is_flagged_only_inside_the_visit_day_and_the_max_days_after(event: date, flagged: bool) -> None:
    assert bool(downtime.conflicts(VISIT, days_max=7, dates=_one(event))) is flagged


def test_zero_downtime_never_flags_even_on_the_visit_day() -> None:
    assert downtime.conflicts(VISIT, days_max=0, dates=_one(VISIT)) == []
    assert downtime.covered(VISIT, days_max=0) is None


def test_a_trip_that_starts_before_the_visit_and_ends_inside_the_downtime_is_flagged() -> None:
    trip = DateRange(VISIT - timedelta(days=10), VISIT + timedelta(days=1), "Trip")
    ended = DateRange(VISIT - timedelta(days=10), VISIT - timedelta(days=1), "Earlier trip")
    assert downtime.conflicts(VISIT, days_max=3, dates=[trip, ended]) == [trip]


def test_a_span_around_the_whole_downtime_is_flagged() -> None:
    around = DateRange(VISIT - timedelta(days=1), VISIT + timedelta(days=30), "Exchange term")
    assert downtime.conflicts(VISIT, days_max=3, dates=[around]) == [around]


@pytest.mark.django_db
def test_the_selector_words_the_flag_in_the_patients_language() -> None:
    patient = PatientFactory()
    co2 = TreatmentFactory(
        slug="co2-test",
        name_en="Fractional CO2 laser",
        name_zh_hant="點陣二氧化碳激光",
        downtime_days_min=5,
        downtime_days_max=7,
    )
    ImportantDate.objects.create(
        patient=patient, starts_on=date(2026, 12, 6), ends_on=date(2026, 12, 6), label="Wedding"
    )
    ImportantDate.objects.create(patient=patient, starts_on=date(2026, 12, 20), ends_on=date(2026, 12, 27), label="Ski")
    with translation.override("en"):
        found = downtime_conflicts(patient_id=patient.pk, treatment=co2, day=VISIT)
    assert [c["label"] for c in found] == ["Wedding"]
    assert found[0]["detail"] == (
        "Your Wedding on 6 Dec falls within the usual 5–7 days of redness after Fractional CO2 laser."
    )
    with translation.override("zh-hant"):
        chinese = downtime_conflicts(patient_id=patient.pk, treatment=co2, day=VISIT)[0]["detail"]
    assert "點陣二氧化碳激光" in chinese and "5至7日泛紅" in chinese


@pytest.mark.django_db
def test_a_treatment_without_downtime_flags_nothing_and_reads_nothing(django_assert_num_queries: Any) -> None:
    patient = PatientFactory()
    facial = TreatmentFactory(slug="facial-test", downtime_days_min=0, downtime_days_max=0)
    ImportantDate.objects.create(patient=patient, starts_on=VISIT, ends_on=VISIT, label="Wedding")
    with django_assert_num_queries(0):
        assert downtime_conflicts(patient_id=patient.pk, treatment=facial, day=VISIT) == []
