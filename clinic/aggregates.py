"""Aggregates the reports need that Django does not ship, on both databases.

``Percentile(expression, fraction)`` is the continuous percentile (linear
interpolation between the two nearest values, as PostgreSQL's
``percentile_cont`` and numpy's default compute it): the median is
``Percentile(x, 0.5)``, the quartiles 0.25 and 0.75. PostgreSQL computes it
natively; SQLite (the embedded default) through an aggregate registered on
every new connection (``register_sqlite``), so the numbers come out of the
database on both and agree to the last digit.
"""

from __future__ import annotations

import math
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Aggregate, FloatField, Value
from django.db.models.expressions import Combinable
from django.db.models.sql.compiler import SQLCompiler

SQLITE_PERCENTILE = "clinic_percentile_cont"


class Percentile(Aggregate):
    """``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``; NULLs are ignored."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression: Combinable | str, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, Value(float(fraction)), **extra)

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Any:
        expression, fraction = self.get_source_expressions()[:2]
        expression_sql, expression_params = compiler.compile(expression)
        fraction_sql, fraction_params = compiler.compile(fraction)
        sql = f"PERCENTILE_CONT({fraction_sql}) WITHIN GROUP (ORDER BY {expression_sql})"
        params = (*fraction_params, *expression_params)
        if self.filter is not None:
            filter_sql, filter_params = compiler.compile(self.filter)  # " FILTER (WHERE ...)"
            sql += filter_sql
            params = (*params, *filter_params)
        return sql, params

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Any:
        return super().as_sql(compiler, connection, function=SQLITE_PERCENTILE, **extra)


class _PercentileCont:
    """SQLite's side of ``Percentile``: collects the group's values, then interpolates."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value: Any, fraction: Any) -> None:
        self.fraction = float(fraction)
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        return percentile_cont(self.values, self.fraction)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """The continuous percentile of ``values``: what both databases return."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def register_sqlite(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: teaches a new SQLite connection ``Percentile``."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_PERCENTILE, 2, _PercentileCont)
