"""Ctrl-C stops everything ``make run`` started (``bin/run-dev``: gunicorn, the Celery
worker with its pool and embedded beat) within 10 seconds, on either broker.

Ctrl-C is SIGINT to the terminal's process group, which is what the test sends: the
group of ``bin/run-dev``, started in a session of its own. Every process of that
session must be gone (zombies aside: the test reaps ``bin/run-dev`` itself)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

import pytest

from tests.notifications.conftest import PrivateRedis, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

LIMIT = 10.0


def running_in_session(session: int) -> list[str]:
    listed = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-s", str(session)], capture_output=True, text=True)
    return [line.strip() for line in listed.stdout.splitlines() if line.split()[1:2] and "Z" not in line.split()[1]]


def stops_within_the_limit(server: Any) -> None:
    celery_log = server.var_dir / "log" / "celery.log"
    wait_until(lambda: celery_log.exists() and " ready." in celery_log.read_text(), timeout=60, what="the worker")
    time.sleep(1)  # the pool and beat are up, and beat has sent its first jobs
    session = server.process.pid
    before = running_in_session(session)
    assert any("celery" in line for line in before) and any("gunicorn" in line for line in before), before

    started = time.monotonic()
    os.killpg(server.process.pid, signal.SIGINT)  # Ctrl-C
    left = before
    while left and time.monotonic() - started < LIMIT + 5:
        server.process.poll()
        left = running_in_session(session)
        time.sleep(0.1)
    took = time.monotonic() - started
    print(f"\nstopped in {took:.1f} s")
    assert not left, f"still running {took:.1f} s after Ctrl-C: {left}\n{server.output()[-2000:]}"
    assert took <= LIMIT, f"{took:.1f} s"
    assert server.process.wait(timeout=1) is not None


def test_ctrl_c_stops_every_process_with_the_filesystem_broker(serve: Any) -> None:
    stops_within_the_limit(serve("bin/run-dev", REDIS_URL="", EMAIL_URL="locmem://"))


@pytest.mark.redis
def test_ctrl_c_stops_every_process_with_redis(serve: Any, private_redis: PrivateRedis) -> None:
    stops_within_the_limit(serve("bin/run-dev", REDIS_URL=private_redis.url, EMAIL_URL="locmem://"))
