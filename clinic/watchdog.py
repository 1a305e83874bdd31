"""A worker that stops receiving tasks notices, and exits so that it is restarted.

``celery inspect ping`` proves only that a worker answers on the control channel,
which a worker that no longer takes tasks still does. So each worker measures
progress instead: every ``CLINIC_WORKER_BEACON_SECONDS`` it publishes a no-op
beacon task to its own direct queue, and counts the time since it last received
any task. While Redis keeps accepting the beacons and nothing arrives for
``CLINIC_WORKER_DEAF_SECONDS`` (and no task is running), the worker is deaf: it
logs why and exits, and whatever runs it starts a new one (Compose's restart
policy, Kubernetes, ``bin/run-dev``). While Redis refuses the beacons the worker
is not deaf but cut off, and Celery's own reconnection deals with that.

A healthy worker touches ``CLINIC_WORKER_HEARTBEAT_FILE`` at every beacon; the
liveness probe (``python -m clinic.probe worker``) fails when that file is stale.
Nothing here runs in the web processes: the signals fire only in a worker.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from celery import Celery, signals
from celery.utils.nodenames import worker_direct

logger = logging.getLogger(__name__)

BEACON_TASK = "clinic.beacon"


class Watchdog:
    def __init__(self, app: Celery, hostname: str, *, interval: float, deaf_after: float, heartbeat_file: Path) -> None:
        self.app = app
        self.hostname = hostname
        self.interval = interval
        self.deaf_after = deaf_after
        self.heartbeat_file = heartbeat_file
        self.last_received = time.monotonic()
        # Since when Redis has accepted every beacon without a break (None while it refuses them).
        self.reachable_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clinic-watchdog", daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def received(self) -> None:
        self.last_received = time.monotonic()

    def beat(self) -> None:
        self.heartbeat_file.parent.mkdir(parents=True, exist_ok=True)
        self.heartbeat_file.touch()

    def deaf(self, now: float) -> bool:
        from celery.worker import state

        if state.active_requests or self.reachable_since is None:
            return False  # busy, or cut off from Redis rather than deaf
        heard_from = max(self.last_received, self.reachable_since)
        return now - heard_from > self.deaf_after

    def _publish_beacon(self) -> None:
        try:
            self.app.send_task(BEACON_TASK, queue=worker_direct(self.hostname), retry=False, ignore_result=True)
        except Exception as error:  # kombu raises OperationalError, OSError, timeouts...
            logger.warning("watchdog: Redis refused the beacon (%s)", type(error).__name__)
            self.reachable_since = None
        else:
            if self.reachable_since is None:
                self.reachable_since = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._publish_beacon()
            if self.deaf(time.monotonic()):
                self._exit()
                return
            self.beat()

    def _exit(self) -> None:
        logger.error(
            "watchdog: no task received for %.0f s while Redis accepted this worker's beacons; "
            "exiting so that the worker is restarted",
            self.deaf_after,
        )
        os.kill(os.getpid(), signal.SIGTERM)  # warm shutdown: messages in hand go back to Redis
        if not self._stop.wait(60):
            os._exit(70)


_watchdog: Watchdog | None = None


def install(app: Celery) -> None:
    """Registers the beacon task and starts a watchdog in each worker's main process."""

    @app.task(name=BEACON_TASK, ignore_result=True)
    def beacon() -> None:
        """Nothing to do: receiving it is the point (see the module docstring)."""

    @signals.worker_ready.connect(weak=False)
    def start_watchdog(sender: Any, **kwargs: Any) -> None:
        from django.conf import settings

        global _watchdog
        _watchdog = Watchdog(
            app,
            sender.hostname,
            interval=settings.CLINIC_WORKER_BEACON_SECONDS,
            deaf_after=settings.CLINIC_WORKER_DEAF_SECONDS,
            heartbeat_file=Path(settings.CLINIC_WORKER_HEARTBEAT_FILE),
        )
        _watchdog.start()

    @signals.task_received.connect(weak=False)
    def note_received(**kwargs: Any) -> None:
        if _watchdog is not None:
            _watchdog.received()

    @signals.worker_shutting_down.connect(weak=False)
    def stop_watchdog(**kwargs: Any) -> None:
        if _watchdog is not None:
            _watchdog.stop()
