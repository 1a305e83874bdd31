"""The outboxes as Prometheus sees them (docs/operations.md): computed when
scraped, by one query (``selectors.outbox_depths``), and registered with
clinic.metrics by ``BookingConfig.ready``."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from booking import selectors

logger = logging.getLogger(__name__)


class OutboxCollector(Collector):
    """``clinic_outbox_depth`` and ``clinic_outbox_oldest_due_age_seconds`` by
    ``outbox`` (notifications, webhooks). A database that does not answer
    leaves them out of the scrape rather than failing it: the request metrics
    still arrive, and the missing series (and /readyz/) tell the story."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        try:
            depths = selectors.outbox_depths(now=now)
        except DatabaseError as error:
            logger.warning("outbox metrics skipped: the database did not answer (%s)", type(error).__name__)
            return
        depth = GaugeMetricFamily(
            "clinic_outbox_depth", "Messages due and not yet sent (pending or being sent).", labels=["outbox"]
        )
        age = GaugeMetricFamily(
            "clinic_outbox_oldest_due_age_seconds",
            "How long the oldest message due and not yet sent has been due; 0 when none is.",
            labels=["outbox"],
        )
        for row in depths:
            depth.add_metric([row.outbox], row.count)
            waited = (now - row.oldest_due).total_seconds() if row.oldest_due else 0.0
            age.add_metric([row.outbox], max(waited, 0.0))
        yield depth
        yield age
