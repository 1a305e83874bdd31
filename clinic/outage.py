"""While the database (or the broker, or the file storage) is down, answer 503 in the API's error shape,
and a plain "we'll be back" page elsewhere, whatever ``DEBUG`` says.

An outage shows up as an exception from wherever the first query happens: a view,
DRF's authentication, or the session middleware saving on the way out. Views'
exceptions reach ``process_exception``; exceptions raised inside another
middleware are turned into a 500 by Django before an outer middleware sees them,
so ``got_request_exception`` (sent while the exception is being handled) marks
the request and the middleware swaps that 500 for the 503. The connection that
failed is closed at the end of the request (Django's ``close_old_connections``
sees the error), so the first request after the database is back succeeds
without a restart.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ConnectionError as StorageConnectionError
from botocore.exceptions import HTTPClientError as StorageHTTPError
from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

# Django's wrappers of the driver's connection errors (and of "too many clients",
# a lost connection, a statement cancelled by the server), kombu's for the broker,
# and botocore's for an S3 storage that cannot be reached or stops answering
# (docs/storage.md): refused, timed out, closed mid-way.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    BrokerError,
    StorageConnectionError,
    StorageHTTPError,
)
RETRY_AFTER_SECONDS = 30
_MARK = "_clinic_outage"


def is_outage(error: BaseException | None) -> bool:
    return isinstance(error, OUTAGE_ERRORS)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """Built without the database: no session, no user, no context processors."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if request.path.startswith("/api/"):
        body = {
            "code": "unavailable",
            "detail": _("The service is briefly unavailable. Please try again in a minute."),
        }
        return JsonResponse(body, status=503, headers=headers)
    chinese = get_language() == "zh-hant"
    context = {
        "LANGUAGE_CODE": get_language(),
        "clinic_name": settings.CLINIC_NAME_ZH_HANT if chinese else settings.CLINIC_NAME,
        "clinic_phone": settings.CLINIC_PHONE,
        "clinic_phone_link": "tel:" + "".join(c for c in settings.CLINIC_PHONE if c.isdigit() or c == "+"),
        "retry_after": RETRY_AFTER_SECONDS,
    }
    return HttpResponse(render_to_string("503.html", context), status=503, headers=headers)


@receiver(got_request_exception, dispatch_uid="clinic.outage.mark")
def _mark_outage(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is not None and is_outage(sys.exc_info()[1]):
        setattr(request, _MARK, True)


class OutageMiddleware:
    """Placed near the top of ``MIDDLEWARE`` so that it wraps everything that may query."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, _MARK, False):
            return unavailable_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_outage(exception):
            return None
        logger.warning("answering 503: %s", type(exception).__name__)
        return unavailable_response(request)
