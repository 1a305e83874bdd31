"""Errors to Sentry when ``SENTRY_DSN`` is set (clinic/settings.py), without
patient data: ``before_send`` keeps what a developer needs to find the fault
(the exception, the stack without its local variables, the URL pattern, the
request id) and strips what a patient or staff member typed or sent (bodies,
query strings, cookies, most headers, the user but for their id), whatever
the SDK's defaults do. docs/operations.md.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from clinic.logs import current_request_id, scrub_text, task_id_var

# Request headers that say nothing about the person: kept, everything else dropped.
SAFE_HEADERS = frozenset(
    {"accept", "accept-encoding", "accept-language", "content-length", "content-type", "host", "user-agent"}
    | {"x-request-id", "x-forwarded-proto"}
)


def _strip_frames(container: dict[str, Any] | None) -> None:
    stacktrace = (container or {}).get("stacktrace") or {}
    for frame in stacktrace.get("frames") or []:
        frame.pop("vars", None)


def _url_without_path(url: str, route: Any) -> str:
    """The origin and the URL pattern that answered (Sentry's transaction name,
    e.g. ``/calendar/{token}.ics``), never the path itself: paths carry calendar
    feed tokens and password-reset links, and the query string what people typed."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return origin + (route if isinstance(route, str) and route.startswith("/") else "/")


def before_send(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Applied to every event and transaction before it leaves the process."""
    request = event.get("request")
    if isinstance(request, dict):
        url = _url_without_path(str(request.get("url") or ""), event.get("transaction"))
        headers = request.get("headers") or {}
        event["request"] = {
            "method": request.get("method"),
            "url": url,
            "headers": {name: value for name, value in headers.items() if name.lower() in SAFE_HEADERS},
        }
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if user.get("id") is not None else {}
    for exception in (event.get("exception") or {}).get("values") or []:
        _strip_frames(exception)
        if isinstance(exception.get("value"), str):
            exception["value"] = scrub_text(exception["value"])
    for thread in (event.get("threads") or {}).get("values") or []:
        _strip_frames(thread)
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        logentry.pop("params", None)
        for key in ("message", "formatted"):
            if isinstance(logentry.get(key), str):
                logentry[key] = scrub_text(logentry[key])
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    for crumb in values or []:
        crumb.pop("data", None)
        if isinstance(crumb.get("message"), str):
            crumb["message"] = scrub_text(crumb["message"])
    event.pop("extra", None)
    for key in ("request_id", "task_id"):
        value = current_request_id() if key == "request_id" else task_id_var.get()
        if value:
            event.setdefault("tags", {})[key] = value
    return event


def init(*, dsn: str, environment: str, traces_sample_rate: float, release: str | None = None) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=before_send,  # type: ignore[arg-type]
        before_send_transaction=before_send,  # type: ignore[arg-type]
    )
