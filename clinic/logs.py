"""Logs that follow one request across processes, and carry no patient data.

Every record gets ``request_id`` (the web request it belongs to, or the one that
queued the Celery task that logs it) and ``task_id`` (inside a task), read from
context variables: the request middleware (clinic.middleware.RequestIdMiddleware)
sets them per request, the Celery signals below per task. A task queued while
handling a request carries that request's id in a message header
(``clinic_request_id``), so ``grep <request id>`` finds both the request's line in
the web log and the worker's lines about what it queued (docs/operations.md).

``LOG_FORMAT=json`` writes one JSON object per line (python-json-logger);
``plain`` the human-readable line of development. Neither writes the request
object Django attaches to its own records: its repr holds the query string.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from typing import Any

from django.core.signals import request_finished
from django.dispatch import receiver
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

request_id_var: ContextVar[str | None] = ContextVar("clinic_request_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("clinic_task_id", default=None)

# What an incoming X-Request-ID must look like to be kept: a proxy's or a
# client's id, short and printable, so it can never smuggle a line break or
# anything long into the logs. Anything else is replaced by a fresh one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # fullmatch: "$" would let a final newline in
# The Celery message header carrying the id of the request that queued a task.
HEADER = "clinic_request_id"


_EMAIL = re.compile(r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w-])\+?\d(?:[ -]?\d){7,14}(?![\w-])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# PostgreSQL's "Key (email)=(jane@example.com) already exists."
_KEY_VALUE = re.compile(r"(Key \([^)]*\))=\((.*?)\)")


def scrub_text(text: str) -> str:
    """Emails, phone numbers and the values in database error details, replaced:
    for text the code does not control, such as an exception's message."""
    text = _KEY_VALUE.sub(r"\1=([value])", text)
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub(lambda found: found[0] if _DATE.fullmatch(found[0]) else "[number]", text)


def current_request_id() -> str | None:
    return request_id_var.get()


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``task_id`` (None outside a request or a task) to
    every record. Put on the handlers, so records of every logger get them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.task_id = task_id_var.get()
        request = getattr(record, "request", None)
        if request is not None and isinstance(record.args, tuple):
            # Django's "Not Found: /calendar/<token>.ics": the URL pattern, not the path.
            from clinic.metrics import route_label

            path = getattr(request, "path", None)
            record.args = tuple(route_label(request) if arg == path else arg for arg in record.args)
        return True


# Attributes never written as fields: the standard ones (written by name through
# the format instead), and what Django's loggers attach (``request``: its repr is
# the full path with the query string, which may hold a patient's name in a
# staff search; ``server_time`` of runserver).
_NOT_FIELDS = [*RESERVED_ATTRS, "request", "server_time", "color_message"]


class JsonFormatter(_JsonFormatter):
    """One JSON object per record: timestamp (UTC, ISO 8601), level, logger,
    message, request_id, task_id, any ``extra`` fields, and exc_info when there is one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("reserved_attrs", _NOT_FIELDS)
        super().__init__(*args, **kwargs)

    def formatException(self, ei: Any) -> str | list[str]:  # type: ignore[override]
        # An exception's message may quote input ("invalid address jane@...").
        formatted = super().formatException(ei)
        return scrub_text(formatted) if isinstance(formatted, str) else [scrub_text(line) for line in formatted]


class PlainFormatter(logging.Formatter):
    """Development's line, with the request or task id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        ids = [value for value in (getattr(record, "request_id", None), getattr(record, "task_id", None)) if value]
        record.ids = f" [{' '.join(ids)}]" if ids else ""
        return super().format(record)

    def formatException(self, ei: Any) -> str:
        return scrub_text(super().formatException(ei))


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` setting: one console handler in the chosen format, with
    the context filter, for every logger (Celery's worker too, clinic/celery.py)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "clinic.logs.ContextFilter"}},
        "formatters": {
            "json": {"()": "clinic.logs.JsonFormatter"},
            "plain": {
                "()": "clinic.logs.PlainFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s%(ids)s %(message)s",
            },
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["context"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # runserver's own request line has the query string; the middleware's line replaces it.
            "django.server": {"level": "WARNING"},
        },
    }


@receiver(request_finished, dispatch_uid="clinic.logs.forget_request")
def forget_request(**kwargs: Any) -> None:
    """The answer was sent and closed: the thread's next records belong to no request."""
    request_id_var.set(None)


# --- Celery ---------------------------------------------------------------------------


def _before_publish(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    request_id = request_id_var.get()
    if request_id and headers is not None and HEADER not in headers:
        headers[HEADER] = request_id


def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    request_id = getattr(getattr(task, "request", None), HEADER, None)
    request_id_var.set(request_id if isinstance(request_id, str) and REQUEST_ID.fullmatch(request_id) else None)
    task_id_var.set(task_id)


def _task_finished(**kwargs: Any) -> None:
    request_id_var.set(None)
    task_id_var.set(None)


def _configure_worker_logging(**kwargs: Any) -> None:
    """Celery's worker replaces the root logger's handlers with its own format
    unless something answers ``setup_logging``: ours is settings.LOGGING."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def install_celery() -> None:
    """Called by clinic/celery.py. Tasks run one at a time per pool process
    (prefork), so prerun sets the ids and postrun clears them."""
    from celery import signals

    signals.before_task_publish.connect(_before_publish, weak=False, dispatch_uid="clinic.logs.publish")
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="clinic.logs.prerun")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="clinic.logs.postrun")
    signals.setup_logging.connect(_configure_worker_logging, weak=False, dispatch_uid="clinic.logs.setup")
