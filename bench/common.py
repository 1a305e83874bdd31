"""What every benchmark in bench/ needs: its own database, dropped and created
again on each run, a count of the SQL statements a call sends, and the median
time of a call."""

from __future__ import annotations

import statistics
import time
from typing import Any


class QueryCounter:
    """A database execute wrapper that counts the statements sent."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def recreate_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def ok(response: Any) -> Any:
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return response


def timed(runs: int, call: Any) -> tuple[float, int]:
    """Median milliseconds of ``call`` over ``runs``, and the queries of the last run."""
    from django.db import connection

    times = []
    counter = QueryCounter()
    for _ in range(runs):
        counter.count = 0
        with connection.execute_wrapper(counter):
            began = time.perf_counter()
            call()
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), counter.count
