"""What ``make run`` starts (``bin/run-dev``: gunicorn, a Celery worker and beat),
under load and with its worker killed."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken

from tests.factories import PatientFactory
from tests.notifications.conftest import PrivateRedis, SmtpSink, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

CLIENTS = 20
LOAD_SECONDS = float(os.environ.get("CLINIC_TEST_LOAD_SECONDS", "20"))
WEB_WORKERS, WEB_THREADS, WORKER_CONCURRENCY = 2, 4, 2  # bin/serve's and bin/run-dev's defaults
# One connection per web thread, one per pool process, and one each for the
# worker's main process and its beat: the bound the README states.
BOUND = WEB_WORKERS * WEB_THREADS + WORKER_CONCURRENCY + 2


def connections_to(database: str) -> int:
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        dbname="postgres",
        autocommit=True,
    ) as admin:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]).fetchone()
        return int(row[0]) if row else 0


def test_twenty_clients_keep_database_connections_under_the_stated_bound(
    serve: Any, private_redis: PrivateRedis, smtp: SmtpSink, treatment: Any, practitioner: Any
) -> None:
    database = connection.settings_dict["NAME"]
    connection.close()  # the test's own connection would blur the count
    baseline = connections_to(database)
    server = serve("bin/run-dev", REDIS_URL=private_redis.url, EMAIL_URL=smtp.url)
    day = timezone.localdate() + timedelta(days=2)
    paths = [
        "/book/",
        "/treatments/",
        "/api/v1/treatments/",
        f"/api/v1/availability/?treatment={treatment.slug}&from={day}&to={day}",
    ]
    statuses: Counter[int] = Counter()
    peak = 0
    stop = threading.Event()
    lock = threading.Lock()

    def client(n: int) -> None:
        i = n
        while not stop.is_set():
            answer = server.get(paths[i % len(paths)], timeout=30)
            i += 1
            with lock:
                statuses[answer.status] += 1

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, connections_to(database) - baseline)
            time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)] + [threading.Thread(target=sample)]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    print(f"\n{CLIENTS} clients, {LOAD_SECONDS:.0f} s: {sum(statuses.values())} requests, peak {peak} connections")
    assert set(statuses) == {200}, statuses
    assert sum(statuses.values()) > CLIENTS * LOAD_SECONDS  # the server kept up: not a handful of slow answers
    assert 0 < peak <= BOUND, f"{peak} connections (bound {BOUND})"
    time.sleep(1)
    assert connections_to(database) - baseline <= BOUND  # and none left piling up afterwards


def test_make_run_starts_its_worker_again_when_it_dies(
    serve: Any, private_redis: PrivateRedis, smtp: SmtpSink, treatment: Any, practitioner: Any, receptionist: Any
) -> None:
    server = serve("bin/run-dev", REDIS_URL=private_redis.url, EMAIL_URL=smtp.url)
    celery_log = server.var_dir / "log" / "celery.log"
    wait_until(lambda: celery_log.exists() and " ready." in celery_log.read_text(), timeout=60, what="the worker")
    session = server.process.pid  # bin/run-dev starts the worker in a process group of its own, in its session
    worker_pids = subprocess.run(
        ["pgrep", "-s", str(session), "-f", "celery -A clinic worker"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert worker_pids
    subprocess.run(["kill", "-9", *worker_pids], check=True)  # a crash: no warm shutdown

    wait_until(lambda: "starting it again" in celery_log.read_text(), timeout=30, what="the restart")
    wait_until(lambda: celery_log.read_text().count(" ready.") >= 2, timeout=60, what="the new worker")
    _, token = AuthToken.objects.create(receptionist)
    start = timezone.localtime(timezone.now() + timedelta(days=2)).replace(hour=11, minute=0, second=0, microsecond=0)
    booked = server.request(
        "POST",
        "/api/v1/appointments/",
        body={"treatment": treatment.slug, "start": start.isoformat(), "patient": PatientFactory().pk},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert booked.status == 201, booked.text
    smtp.wait_for("confirmation", timeout=60)
