from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from clinic import metrics
from clinic.logs import REQUEST_ID, request_id_var

# One line per request (Django's own django.request logs only errors).
request_logger = logging.getLogger("clinic.request")

TRADITIONAL_CHINESE = {"zh-hant", "zh-hk", "zh-tw", "zh-mo"}


def language_from_header(header: str) -> str:
    """Traditional Chinese for ``zh-Hant`` / ``zh-HK`` / ``zh-TW`` (and their
    sub-tags), English for anything else, in the client's order of preference.
    Simplified Chinese is not offered, so ``zh-CN`` reads English rather than
    being mistaken for Traditional by Django's prefix fallback."""
    for tag, _ in parse_accept_lang_header(header or ""):
        tag = tag.lower()
        if tag in TRADITIONAL_CHINESE or tag.startswith(("zh-hant", "zh-hk", "zh-tw", "zh-mo")):
            return "zh-hant"
        if tag.startswith("en"):
            return "en"
    return settings.LANGUAGE_CODE


class ClinicLocaleMiddleware(LocaleMiddleware):
    """The language cookie (set by the pages' switch) first, then Accept-Language."""

    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if chosen not in dict(settings.LANGUAGES):
            chosen = language_from_header(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        translation.activate(chosen)
        request.LANGUAGE_CODE = translation.get_language()


class BodyLimitMiddleware:
    """413 for a body declared larger than the server accepts, before any of it
    is read and whatever DEBUG is: the API's error shape under /api/, a page
    elsewhere. Multipart bodies (photos) may be larger than the others
    (``CLINIC_MULTIPART_MAX_BYTES``, ``DATA_UPLOAD_MAX_MEMORY_SIZE``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        multipart = request.META.get("CONTENT_TYPE", "").startswith("multipart/")
        limit = settings.CLINIC_MULTIPART_MAX_BYTES if multipart else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and declared > limit:
            from clinic.views import too_large

            return too_large(request)
        return self.get_response(request)


class RequestIdMiddleware:
    """First in ``MIDDLEWARE``, so everything after it, and every answer (the
    outage middleware's 503, a 413, a redirect to https), is covered.

    Keeps a well-formed incoming ``X-Request-ID`` (a proxy's), or makes one;
    puts it in the logs' context (clinic/logs.py), on ``request.request_id`` and
    on the answer. Then writes one log line per request and observes its
    duration (clinic/metrics.py), naming the URL pattern that answered, never
    the path: the path and query string may hold what a patient or staff typed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        # Cleared when the answer is closed (clinic.logs.forget_request), not here:
        # Django logs a 4xx or 5xx ("Not Found: ...") after the middleware returns.
        request_id_var.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        elapsed = time.perf_counter() - started
        method = metrics.method_label(request.method)
        route = metrics.route_label(request)
        metrics.observe_request(method=method, route=route, status=response.status_code, seconds=elapsed)
        request_logger.info(
            "%s %s %s %.0fms",
            method,
            route,
            response.status_code,
            elapsed * 1000,
            extra={
                "method": method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
        return response
