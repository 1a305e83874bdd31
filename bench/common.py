"""What every benchmark in bench/ needs: its own database, dropped and created
again on each run, a count of the SQL statements a call sends, the median
time of a call, and a way to report a goal to ``make bench``'s table."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any


class QueryCounter:
    """A database execute wrapper that counts the statements sent."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


# A line starting with this marker is one row of ``make bench``'s table (bench/all.py).
GOAL_MARKER = "GOAL\t"


def goal(name: str, measured: str, target: str, met: bool | None) -> None:
    """Prints one goal's outcome where bench/all.py (``make bench``) collects it:
    ``name`` says what was measured, ``measured`` the figure as text with its unit
    ("512.3/s, 31.4 % of /healthz/"), ``target`` the goal ("≥ 30 %"), ``met`` whether
    it holds (None: a figure for context, with no goal)."""
    print(GOAL_MARKER + json.dumps({"name": name, "measured": measured, "target": target, "met": met}), flush=True)


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


def past_visits(n: int, *, owner: Callable[[int], Any], treatment: Any, practitioner: Any, room: Any) -> None:
    """n past 30-minute visits marked ``notes="bench"``, 45 minutes apart going back
    from 400 days ago (clear of any demo history), every seventh a no-show; visit i
    belongs to ``owner(i)``. Written in bulk: a bench's data, not a clinic's."""
    from datetime import timedelta

    from django.utils import timezone

    from booking.models import Appointment

    start = timezone.now() - timedelta(days=400)
    rows = []
    for i in range(n):
        begins = start - timedelta(minutes=45 * (i + 1))
        rows.append(
            Appointment(
                patient=owner(i),
                treatment=treatment,
                practitioner=practitioner,
                room=room,
                start=begins,
                end=begins + timedelta(minutes=30),
                blocked_until=begins + timedelta(minutes=30),
                status=Appointment.Status.COMPLETED if i % 7 else Appointment.Status.NO_SHOW,
                source=Appointment.Source.STAFF,
                notes="bench",
            )
        )
    Appointment.objects.bulk_create(rows, batch_size=2000)
