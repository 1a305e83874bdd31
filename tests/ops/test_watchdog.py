"""The worker watchdog's judgement and the liveness probe, without processes
(tests/notifications/test_stalls.py runs them for real)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from clinic import probe
from clinic.watchdog import Watchdog


@pytest.fixture
def watchdog(tmp_path: Path) -> Watchdog:
    return Watchdog(app=None, hostname="w@h", interval=1, deaf_after=60, heartbeat_file=tmp_path / "beat")  # type: ignore[arg-type]


def test_deaf_only_when_redis_takes_beacons_and_nothing_arrives(watchdog: Watchdog, monkeypatch: Any) -> None:
    from celery.worker import state

    now = time.monotonic()
    watchdog.last_received = now - 300
    watchdog.reachable_since = None
    assert not watchdog.deaf(now)  # cut off from Redis: Celery reconnects, no restart needed
    watchdog.reachable_since = now - 30
    assert not watchdog.deaf(now)  # Redis back only 30 s: give the beacons time
    watchdog.reachable_since = now - 90
    assert watchdog.deaf(now)
    monkeypatch.setattr(state, "active_requests", {object()})
    assert not watchdog.deaf(now)  # busy with a long task, which the time limit bounds
    monkeypatch.setattr(state, "active_requests", set())
    watchdog.received()
    assert not watchdog.deaf(time.monotonic())


def test_the_probe_reads_the_heartbeat(tmp_path: Path) -> None:
    heartbeat = tmp_path / "beat"
    ok, message = probe.worker_alive(heartbeat, max_age=60)
    assert not ok and "no heartbeat file" in message
    heartbeat.touch()
    assert probe.worker_alive(heartbeat, max_age=60)[0]
    old = time.time() - 120
    os.utime(heartbeat, (old, old))
    ok, message = probe.worker_alive(heartbeat, max_age=60)
    assert not ok and "stopped making progress" in message


def test_the_probe_command_exits_non_zero_on_a_stale_heartbeat(tmp_path: Path, monkeypatch: Any) -> None:
    heartbeat = tmp_path / "beat"
    monkeypatch.setenv("CLINIC_WORKER_HEARTBEAT_FILE", str(heartbeat))
    assert probe.main(["probe", "worker"]) == 1
    heartbeat.touch()
    assert probe.main(["probe", "worker"]) == 0
    assert probe.main(["probe"]) == 2
