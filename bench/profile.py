"""Where a request's time goes: a profile and the SQL of the request paths that
bench/booking.py times, in-process (no network), on PostgreSQL.

Seeds bench/booking.py's clinic into its own database, then for each request
(a real booking, ``GET /api/v1/me/`` and ``GET /healthz/``) runs it ``--runs``
times under pyinstrument and prints:

- the mean wall time per request and the SQL statements one request sends;
- the functions with the most time of their own (pyinstrument's samples,
  summed by function, library frames included), and the call tree down to
  ``--depth`` levels;
- with ``--explain``, ``EXPLAIN (ANALYZE, BUFFERS)`` of each statement of one
  request, run again inside a transaction that is rolled back.

    .venv/bin/python bench/profile.py [--runs 300] [--explain] [--only booking,me]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_profile")


def own_time(session: Any, top: int) -> list[tuple[float, str]]:
    """Seconds of samples whose innermost frame is each function."""
    totals: Counter[str] = Counter()

    def walk(frame: Any) -> None:
        for child in frame.children:
            if child.is_synthetic_leaf:  # pyinstrument's "[self]": time spent in ``frame`` itself
                location = f"{frame.class_name + '.' if frame.class_name else ''}{frame.function}"
                totals[f"{location}  {Path(frame.file_path or '?').name}:{frame.line_no}"] += child.time
            else:
                walk(child)

    walk(session.root_frame())
    return [(seconds, name) for name, seconds in totals.most_common(top)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--depth", type=float, default=0.03, help="hide tree nodes under this share of the time")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--only", default="booking,me,healthz")
    args = parser.parse_args()

    from bench import booking as bench

    bench.recreate_database()
    slug, clients = bench.seed(1)
    token, practitioner = clients[0]

    from django.test import Client
    from django.utils import timezone

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    day = timezone.localdate() + timedelta(days=1)
    slots = iter(
        timezone.make_aware(datetime.combine(day + timedelta(days=n // 24), clock(8)))
        + timedelta(minutes=30 * (n % 24))
        for n in range(10**6)
    )

    def book() -> Any:
        body = {"treatment": slug, "start": next(slots).isoformat(), "practitioner": practitioner}
        response = client.post("/api/v1/appointments/", body, content_type="application/json")
        assert response.status_code == 201, response.content[:300]
        return response

    def me() -> Any:
        response = client.get("/api/v1/me/")
        assert response.status_code == 200, response.content[:300]
        return response

    def healthz() -> Any:
        response = client.get("/healthz/")
        assert response.status_code == 200
        return response

    requests = {"booking": book, "me": me, "healthz": healthz}
    for name in args.only.split(","):
        profile_one(name, requests[name], args)


def profile_one(name: str, call: Any, args: argparse.Namespace) -> None:
    """Times, profiles and lists the statements of ``call`` (one request)."""
    from django.db import connection, transaction
    from pyinstrument import Profiler

    for _ in range(20):  # warm the connection, caches and templates
        call()
    statements: list[str] = []
    with connection.execute_wrapper(lambda execute, sql, *rest: statements.append(sql) or execute(sql, *rest)):
        call()
    # Wall time per statement (round trip included) over a series without the profiler.
    spent: Counter[str] = Counter()

    def timing(execute: Any, sql: str, *rest: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, *rest)
        finally:
            spent[sql[:100]] += time.perf_counter() - began

    began = time.perf_counter()
    with connection.execute_wrapper(timing):
        for _ in range(args.runs):
            call()
    plain = (time.perf_counter() - began) / args.runs * 1000
    profiler = Profiler(interval=0.0005)
    began = time.perf_counter()
    profiler.start()
    for _ in range(args.runs):
        call()
    profiler.stop()
    took = (time.perf_counter() - began) / args.runs * 1000
    in_sql = sum(spent.values()) / args.runs * 1000
    print(
        f"\n===== {name}: {plain:.2f} ms per request in-process ({took:.2f} ms under the profiler), "
        f"{len(statements)} SQL statements taking {in_sql:.2f} ms (round trips included; commits not counted)"
    )
    for number, sql in enumerate(statements, 1):
        print(f"  {number:2}. {spent[sql[:100]] / args.runs * 1000:6.3f} ms  {sql[:150]}")
    print(f"\n--- most time of its own ({args.runs} requests, ms per request)")
    for seconds, location in own_time(profiler.last_session, args.top):
        print(f"  {seconds / args.runs * 1000:7.3f}  {location}")
    print("\n--- call tree")
    print(
        profiler.output_text(
            unicode=False,
            color=False,
            processor_options={"filter_threshold": args.depth, "hide_regex": r".*/(threading|socketserver)\.py"},
        )
    )
    if args.explain:
        print(f"--- EXPLAIN (ANALYZE, BUFFERS) of one {name} request's statements")
        explained: list[tuple[str, Any]] = []
        with connection.execute_wrapper(
            lambda execute, sql, params, *rest: explained.append((sql, params)) or execute(sql, params, *rest)
        ):
            call()
        with transaction.atomic():
            with connection.cursor() as cursor:
                for number, (sql, params) in enumerate(explained, 1):
                    if not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
                        continue
                    sid = transaction.savepoint()
                    try:
                        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, TIMING) {sql}", params)
                        plan = [row[0] for row in cursor.fetchall()]
                    except Exception as error:  # a statement that needs its own context
                        transaction.savepoint_rollback(sid)
                        print(f"  {number:2}. (not explained: {type(error).__name__})")
                        continue
                    transaction.savepoint_rollback(sid)
                    print(f"  {number:2}. {sql[:120]}")
                    for line in plan:
                        if "Execution Time" in line or line.lstrip().startswith(("->", "Seq Scan", "Index")):
                            print(f"        {line}")
            transaction.set_rollback(True)


if __name__ == "__main__":
    main()
