"""Database connections under load: 20 clients for a minute against the server
``make run`` starts (``bin/serve``: gunicorn, WEB_WORKERS x WEB_THREADS), on PostgreSQL.

Seeds the demo clinic into a fresh database, starts ``bin/serve``, has the clients
loop over the booking page, the catalogue and a day's availability, and samples
``pg_stat_activity`` five times a second. Prints requests/s, p50/p99 latency, the
status codes seen and the peak number of connections the server held.

    .venv/bin/python bench/connections.py [--seconds 60] [--clients 20] [--workers 2] [--threads 4]

Goal: the peak stays at most WEB_WORKERS x WEB_THREADS, and no request fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATABASE = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/clinic_bench_connections")
NAME = DATABASE.rsplit("/", 1)[1]
ENV = {
    **os.environ,
    "DATABASE_URL": DATABASE,
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DEBUG": "1",  # as `make run` serves it
    "ALLOWED_HOSTS": "127.0.0.1",
    "LOG_LEVEL": "WARNING",
    "ACCESS_LOG": "/dev/null",
}
ENV.pop("REDIS_URL", None)


def admin() -> psycopg.Connection:
    return psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)


def prepare() -> None:
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{NAME}"')
    for command in (["migrate", "-v0"], ["createcachetable"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=ENV, check=True, capture_output=True)


def connections() -> int:
    with admin() as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [NAME]).fetchone()
        return int(row[0]) if row else 0


def fetch(url: str) -> tuple[int, float]:
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = 0
    return status, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    prepare()
    port = 18000 + os.getpid() % 1000
    env = {**ENV, "PORT": str(port), "WEB_WORKERS": str(args.workers), "WEB_THREADS": str(args.threads)}
    server = subprocess.Popen([str(ROOT / "bin" / "serve")], cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if fetch(f"{base}/healthz/")[0] == 200:
                break
            time.sleep(0.2)
        day = datetime.now(ZoneInfo("Asia/Hong_Kong")).date() + timedelta(days=2)
        paths = [
            "/book/",
            "/treatments/",
            "/api/v1/treatments/",
            f"/api/v1/availability/?treatment=pico-laser&from={day}&to={day}",
        ]
        statuses: Counter[int] = Counter()
        latencies: list[float] = []
        lock = threading.Lock()
        stop = threading.Event()
        peak = 0

        def client(n: int) -> None:
            i = n
            while not stop.is_set():
                status, took = fetch(base + paths[i % len(paths)])
                i += 1
                with lock:
                    statuses[status] += 1
                    latencies.append(took)

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, connections())
                time.sleep(0.2)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        threads.append(threading.Thread(target=sample))
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
        after = connections()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)

    quantiles = statistics.quantiles(latencies, n=100)
    bound = args.workers * args.threads
    print(
        f"bin/serve: {args.workers} workers x {args.threads} threads, {args.clients} clients, {args.seconds:.0f} s, PostgreSQL"
    )
    print(
        f"requests: {len(latencies)} ({len(latencies) / args.seconds:.0f}/s), p50 {1000 * quantiles[49]:.0f} ms, p99 {1000 * quantiles[98]:.0f} ms"
    )
    print(f"statuses: {dict(sorted(statuses.items()))}")
    print(f"database connections: peak {peak}, after the run {after}, bound {bound} (goal: peak <= bound, only 200s)")


if __name__ == "__main__":
    main()
