"""``make bench``: the request path's benchmarks in one run, and one table of their goals.

Runs, one after another on this machine (each with its own database):

- ``bench/booking.py``: bookings, ``/api/v1/me/`` and ``/healthz/`` under
  gunicorn, and the same requests' SQL replayed by psycopg alone;
- ``bench/availability.py``: ``find_slots`` and the availability endpoint over
  31 days and 10 practitioners as the appointment table grows;
- ``bench/pages.py``: the busiest pages (the patient chart's sections
  included) at N = 0 and 10,000 rows, with their query counts.

Each script's own output streams through as it runs; every ``goal`` line
(bench.common.goal) is collected, and the run ends with one table: what was
measured, the goal, and whether it was met. The exit status is 0 whatever the
figures (these machines are noisy: a goal is read, not asserted), and 1 only
when a script fails.

    .venv/bin/python bench/all.py [--quick] [--only booking,pages]

``--quick`` shortens each run (seconds rather than minutes) to check that
everything works; its figures are rougher.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import GOAL_MARKER

BENCHES = {
    "booking": (["bench/booking.py"], ["bench/booking.py", "--seconds", "5"]),
    "availability": (
        ["bench/availability.py", "--sizes", "0,10000"],
        ["bench/availability.py", "--sizes", "0,10000", "--runs", "5"],
    ),
    "pages": (["bench/pages.py", "--sizes", "0,10000"], ["bench/pages.py", "--sizes", "0,10000", "--runs", "3"]),
}


def run(script: list[str]) -> tuple[list[dict], int, float]:
    """Runs one bench, echoing its output; returns its goals, exit status and seconds."""
    began = time.perf_counter()
    goals = []
    with subprocess.Popen(
        [sys.executable, *script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(GOAL_MARKER):
                goals.append(json.loads(line[len(GOAL_MARKER) :]))
            else:
                print(line, end="", flush=True)
    return goals, process.returncode, time.perf_counter() - began


def table(rows: list[tuple[str, dict]]) -> str:
    verdicts = {True: "met", False: "NOT met", None: "(context)"}
    header = ("bench", "what", "measured", "goal", "")
    lines = [header] + [(bench, g["name"], g["measured"], g["target"], verdicts[g["met"]]) for bench, g in rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    out = []
    for number, line in enumerate(lines):
        out.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if number == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs: check that it works, rough figures")
    parser.add_argument("--only", default=",".join(BENCHES), help="a comma-separated subset of: " + ", ".join(BENCHES))
    args = parser.parse_args()
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHES]
    if unknown:
        parser.error(f"unknown bench: {', '.join(unknown)} (choose from {', '.join(BENCHES)})")

    rows: list[tuple[str, dict]] = []
    failed = []
    for name in names:
        script = BENCHES[name][1 if args.quick else 0]
        print(f"\n===== {' '.join(script)}", flush=True)
        goals, status, seconds = run(script)
        print(f"===== {name}: {seconds:.0f} s, exit {status}", flush=True)
        if status != 0:
            failed.append(name)
        rows.extend((name, goal) for goal in goals)

    print("\n" + table(rows))
    met = sum(1 for _, goal in rows if goal["met"] is True)
    judged = sum(1 for _, goal in rows if goal["met"] is not None)
    print(f"\n{met} of {judged} goals met{' (quick run: rough figures)' if args.quick else ''}")
    if failed:
        print(f"failed to run: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
