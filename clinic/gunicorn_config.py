"""gunicorn's hooks for bin/serve, loaded by path (``--config clinic/gunicorn_config.py``)
so the master process does not import the application.

Prometheus's multiprocess mode (clinic/metrics.py): every worker writes its
counts to files in PROMETHEUS_MULTIPROC_DIR, and a scrape of any worker adds
them up. The files of a previous run would be added too, so they are removed
when the server starts; a worker that exits is marked dead, so its live-only
values (none today; gauges with a "livesum" mode) stop counting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def on_starting(server: Any) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
