"""Liveness probe of a Celery worker, for Docker's HEALTHCHECK or a Kubernetes exec probe:

    python -m clinic.probe worker

Exits 0 while the worker's watchdog (clinic/watchdog.py) keeps touching its
heartbeat file, which it does every beacon while the worker receives tasks; 1 when
the file is missing or older than four beacons (the watchdog, or the whole
process, is stuck; a deaf worker's watchdog stops the worker itself). That measures
progress, which ``celery inspect ping`` does not: a worker that no longer takes
tasks still answers pings. Needs no database and no Django start-up.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def worker_alive(heartbeat_file: Path, *, max_age: float, now: float | None = None) -> tuple[bool, str]:
    try:
        age = (now or time.time()) - heartbeat_file.stat().st_mtime
    except FileNotFoundError:
        return False, f"no heartbeat file at {heartbeat_file}: the worker has not started, or is not watched"
    if age > max_age:
        return False, f"last heartbeat {age:.0f} s ago (more than {max_age:.0f} s): the worker stopped making progress"
    return True, f"last heartbeat {age:.0f} s ago"


def main(argv: list[str]) -> int:
    if argv[1:] != ["worker"]:
        print("usage: python -m clinic.probe worker", file=sys.stderr)
        return 2
    var_dir = Path(os.environ.get("CLINIC_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
    heartbeat = Path(os.environ.get("CLINIC_WORKER_HEARTBEAT_FILE", var_dir / "worker-heartbeat"))
    beacon = float(os.environ.get("CLINIC_WORKER_BEACON_SECONDS", "15"))
    ok, message = worker_alive(heartbeat, max_age=4 * beacon)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
