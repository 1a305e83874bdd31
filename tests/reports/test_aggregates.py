"""The reports' medians and quartiles come out of the database, and both
databases give the same numbers (clinic/aggregates.py)."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import connection
from django.db.models import Q

from clinic.aggregates import SQLITE_PERCENTILE, Percentile, _PercentileCont, percentile_cont
from tests.factories import PatientFactory

VALUES = [12.0, 3.0, 7.0, 20.0, 5.0, 9.0]  # sorted: 3 5 7 9 12 20


def test_percentile_by_hand() -> None:
    # Six values: position = fraction × 5. Median: between 7 and 9 → 8.
    # First quartile: position 1.25 → 5 + 0.25 × (7 − 5) = 5.5.
    # Third quartile: position 3.75 → 9 + 0.75 × (12 − 9) = 11.25.
    assert percentile_cont(VALUES, 0.5) == 8.0
    assert percentile_cont(VALUES, 0.25) == 5.5
    assert percentile_cont(VALUES, 0.75) == 11.25
    assert percentile_cont([4.0], 0.75) == 4.0
    assert percentile_cont([], 0.5) is None


def test_sqlite_aggregate_gives_the_same_numbers() -> None:
    db = sqlite3.connect(":memory:")
    db.create_aggregate(SQLITE_PERCENTILE, 2, _PercentileCont)
    db.execute("CREATE TABLE t (g TEXT, x REAL)")
    db.executemany("INSERT INTO t VALUES ('a', ?)", [(v,) for v in VALUES])
    db.executemany("INSERT INTO t VALUES ('b', ?)", [(1.0,), (None,), (3.0,)])
    assert SQLITE_PERCENTILE == "clinic_percentile_cont"
    rows = db.execute(
        "SELECT g, clinic_percentile_cont(x, 0.25), clinic_percentile_cont(x, 0.5) FROM t GROUP BY g ORDER BY g"
    ).fetchall()
    # Group b ignores its NULL: the median of 1 and 3 is 2.
    assert rows == [("a", 5.5, 8.0), ("b", 1.5, 2.0)]


@pytest.mark.django_db
def test_percentile_aggregate_in_the_orm() -> None:
    """Through Django on whichever database the suite runs on (PostgreSQL in CI,
    SQLite on a bare machine): group-wise, with a filter, NULLs ignored."""
    from datetime import date

    births = [date(1990, 1, 1 + int(v)) for v in VALUES]
    for born in births:
        PatientFactory(date_of_birth=born)
    from django.db.models import ExpressionWrapper, F, FloatField
    from django.db.models.functions import ExtractDay

    from patients.models import Patient

    day = ExpressionWrapper(ExtractDay(F("date_of_birth")) - 1, output_field=FloatField())
    found = Patient.objects.aggregate(
        median=Percentile(day, 0.5),
        q3=Percentile(day, 0.75),
        low_median=Percentile(day, 0.5, filter=Q(date_of_birth__lt=date(1990, 1, 10))),
    )
    assert found["median"] == pytest.approx(8.0)
    assert found["q3"] == pytest.approx(11.25)
    # Born before the 10th (values below 9): 3 5 7 → median 5.
    assert found["low_median"] == pytest.approx(5.0)
    assert connection.vendor in {"postgresql", "sqlite"}
