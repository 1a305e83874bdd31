"""bench/load.py end to end, tiny: it seeds its own database, serves it with bin/serve,
runs Locust against it and prints a table of what happened.

The bench is the issue's load test; this keeps it runnable (a renamed route, a
changed sign-in or a seed that no longer satisfies the models breaks it here,
not on the day someone needs the figures). Locust runs in its own process: it
patches the standard library with gevent, so it is never imported here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench_database() -> Iterator[str]:
    """A database name of this test's own, dropped afterwards with its per-run copy."""
    import psycopg

    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    name = f"clinic_load_smoke_{uuid.uuid4().hex[:8]}"
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        for database in (name, f"{name}_run"):
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.mark.postgres
def test_load_bench_runs_and_reports_without_errors(bench_database: str) -> None:
    finished = subprocess.run(
        [sys.executable, "bench/load.py", "--users", "4", "--seconds", "5", "--spawn-rate", "4", "--quick", "--small"],
        cwd=ROOT,
        env={**os.environ, "BENCH_DATABASE_URL": bench_database},
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output[-4000:]
    # The exact command line heads the output.
    assert output.startswith("$ ") and output.splitlines()[0].endswith(
        "bench/load.py --users 4 --seconds 5 --spawn-rate 4 --quick --small"
    ), output[:300]
    total = re.search(r"^total\s+(\d+)\s+([\d.]+)\s+\d+\s+\d+\s+\d+\s+(\d+)\s+([\d.]+)$", output, re.MULTILINE)
    assert total, output[-4000:]
    requests, rate, errors = int(total[1]), float(total[2]), int(total[3])
    assert requests > 0 and rate > 0, output[-4000:]
    assert errors == 0, output[-4000:]
    # Both kinds of user signed in: patients for an API token, staff through the login form (CSRF).
    signins = re.findall(r"^  (api: sign in \(token\)|page: sign in)\s+(\d+) .* errors (\d+)$", output, re.MULTILINE)
    assert sorted((name, int(count) > 0, errors) for name, count, errors in signins) == [
        ("api: sign in (token)", True, "0"),
        ("page: sign in", True, "0"),
    ], output[-4000:]
    # The bench cleans up after itself.
    import psycopg

    server = bench_database.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres") as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [bench_database.rsplit("/", 1)[1] + "%"]
        ).fetchall()
    assert left == []
