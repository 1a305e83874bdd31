"""Prometheus metrics, and ``GET /metrics`` (docs/operations.md).

The metric objects live here, below every app, so that any floor may count
(``booking.services`` counts bookings). What must be read from the database
at scrape time (the outboxes' depth and age) is a collector the owning app
registers with ``register_scrape_collector`` from its ``AppConfig.ready``.

Several processes: gunicorn runs ``WEB_WORKERS`` processes, and a scrape
reaches one of them. With ``PROMETHEUS_MULTIPROC_DIR`` set (bin/serve sets one
per server), each process writes its counts to files there and a scrape adds
up every process's; gunicorn tells prometheus_client of each worker that exits
(clinic/gunicorn.py). Without it, the process's own registry.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable, Iterator
from typing import Any

# prometheus_client chooses its multiprocess mode from this variable when first
# imported; a directory that does not exist yet would fail the first count.
_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _MULTIPROC_DIR:
    os.makedirs(_MULTIPROC_DIR, exist_ok=True)

from django.conf import settings  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.utils.translation import gettext as _  # noqa: E402
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

from clinic.client import client_address  # noqa: E402

# The *_created series double what is exposed and no dashboard here reads them.
disable_created_metrics()

REQUEST_DURATION = Histogram(
    "clinic_http_request_duration_seconds",
    "Time from the first middleware receiving a request to its answer.",
    ["method", "route", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BOOKINGS = Counter(
    "clinic_bookings",
    "Appointments booked (committed), by who booked them: patient_online, staff or walk_in.",
    ["source"],
)


def booking_committed(source: str) -> None:
    """Counts one booking; the booking service calls it once its transaction commits."""
    BOOKINGS.labels(source=source).inc()


# Anything else a client sends as a method is one label, so nobody can grow the series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# The API's catch-all (clinic/urls.py): any path under /api/v1/ would otherwise be one route.
API_UNMATCHED = "api_unmatched"


def method_label(method: str | None) -> str:
    return method if method in _METHODS else "other"


def route_label(request: HttpRequest) -> str:
    """The URL pattern that answered (``api/v1/appointments/<int:pk>/``), never
    the path: bounded, and free of ids and search terms. Static files are
    "static"; a path no pattern matched (404s, answers from a middleware before
    the URL was resolved) is "unmatched"."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.url_name == API_UNMATCHED:
        return "static" if request.path.startswith(settings.STATIC_URL) else UNMATCHED
    return match.route or match.view_name or UNMATCHED


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_DURATION.labels(method=method, route=route, status=f"{status // 100}xx").observe(seconds)


# --- scraping ----------------------------------------------------------------------------

_scrape_collectors: list[Collector] = []


def register_scrape_collector(collector: Collector) -> None:
    """A collector computed when scraped (one cheap query), by whichever
    process answers: its value is the same whoever asks, so it is never summed."""
    _scrape_collectors[:] = [existing for existing in _scrape_collectors if type(existing) is not type(collector)]
    _scrape_collectors.append(collector)


class _Scrape:
    """What one scrape exposes: the counted metrics and the computed ones."""

    def __init__(self, sources: Iterable[Any]) -> None:
        self.sources = list(sources)

    def collect(self) -> Iterator[Any]:
        for source in self.sources:
            yield from source.collect()


def _counted() -> Any:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def exposition() -> bytes:
    return generate_latest(_Scrape([_counted(), *_scrape_collectors]))


def _allowed(request: HttpRequest) -> bool:
    """With METRICS_TOKEN set: only ``Authorization: Bearer <token>``, from
    anywhere. Without: only from loopback or a private network (the scraper in
    the cluster, a colleague on the host), as ``client_address`` decides, and never
    through a proxy: a request that a proxy forwarded (it says so with
    ``X-Forwarded-For`` or ``Forwarded``) came from somewhere the proxy serves,
    which may be the internet even when the proxy's own address is private."""
    token: str = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return JsonResponse(
            {"code": "permission_denied", "detail": _("You do not have permission to do this.")}, status=403
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
