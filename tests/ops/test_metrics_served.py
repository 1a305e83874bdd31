"""/metrics under bin/serve as deployed: several gunicorn workers, and whichever
one a scrape reaches reports the whole server's counts (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

COUNT = re.compile(r'^clinic_http_request_duration_seconds_count\{[^}]*route="brand\.css"[^}]*\} (\S+)$', re.M)


def test_every_worker_reports_the_whole_servers_counts_and_logs_no_query_string(serve: Any) -> None:
    server = serve(WEB_WORKERS="2", WEB_THREADS="1", LOG_FORMAT="json")
    folder = Path(server.var_dir) / "metrics"

    def workers_counting() -> set[str]:
        return {re.sub(r"\D", "", path.stem) for path in folder.rglob("histogram_*.db")}

    # New connections, four at a time, until both workers have answered some: which
    # worker takes a connection is the kernel's choice, so a busy machine may need more.
    # At least one round: the server's start-up polls may already have reached both.
    sent = 0
    with ThreadPoolExecutor(4) as pool:
        while sent == 0 or (sent < 400 and len(workers_counting()) < 2):
            answers = list(pool.map(lambda _: server.get("/brand.css?patient=Chan+Tai+Man").status, range(12)))
            assert answers == [200] * 12
            sent += 12
    assert len(workers_counting()) == 2, "both workers counted requests"

    # Each worker holds only part of the count; any scrape, whichever worker answers, has all of it.
    for _ in range(6):
        scraped = server.get("/metrics")
        assert scraped.status == 200
        assert [float(value) for value in COUNT.findall(scraped.text)] == [float(sent)]

    log = server.output()
    assert log.count('"route": "brand.css"') == sent
    assert "Chan" not in log and "patient=" not in log
