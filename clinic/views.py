"""Django-level error views: JSON in the API's envelope under /api/, pages elsewhere."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from clinic.errors import TooLarge


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"code": "not_found", "detail": _("Not found.")}, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"code": "server_error", "detail": _("Something went wrong on our side.")}, status=500)
    return render(request, "500.html", status=500)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"code": "permission_denied", "detail": _("You do not have permission to do this.")}, status=403
        )
    return render(request, "403.html", status=403)


def too_large(request: HttpRequest) -> HttpResponse:
    """413 for a body over the limits (clinic.middleware.BodyLimitMiddleware)."""
    if _is_api(request):
        return JsonResponse(TooLarge().as_dict(), status=413)
    return render(request, "413.html", status=413)


@csrf_exempt
def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """The last /api/v1/ route: an unknown API URL answers the JSON 404 even
    with DEBUG on (Django would show its HTML debug page), whatever the method."""
    return JsonResponse({"code": "not_found", "detail": _("Not found.")}, status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return too_large(request)
    if _is_api(request):
        return JsonResponse({"code": "invalid", "detail": _("The request is invalid.")}, status=400)
    return render(request, "400.html", status=400)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"code": "permission_denied", "detail": _("The form expired or came from another site (CSRF).")}, status=403
        )
    return render(request, "403.html", {"csrf": True}, status=403)


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches nothing else, so an outage elsewhere
    never gets a web process restarted."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 while the database, the broker and the file storage all answer,
    else 503 in the API's error shape with what is down, so a load balancer stops
    sending traffic. ``?check=database,storage`` asks about those alone: a web pod
    serves bookings without the broker (the outbox sends their messages once it is
    back), so a cluster's probe need not take every pod out during a Redis outage."""
    from clinic.readiness import check_broker, check_database, check_storage

    known = {"database": check_database, "broker": check_broker, "storage": check_storage}
    headers = {"Cache-Control": "no-store"}
    asked = [name.strip() for name in request.GET.get("check", "").split(",") if name.strip()] or list(known)
    unknown = sorted(set(asked) - set(known))
    if unknown:
        detail = _("Unknown check: %(names)s. Known: %(known)s.") % {
            "names": ", ".join(unknown),
            "known": ", ".join(known),
        }
        return JsonResponse({"code": "invalid", "detail": detail, "fields": {"check": [detail]}}, status=400)
    checks = {name: known[name]() for name in known if name in asked}
    down = sorted(name for name, ok in checks.items() if not ok)
    body: dict = {"checks": {name: "ok" if ok else "unavailable" for name, ok in checks.items()}}
    if down:
        body = {
            "code": "unavailable",
            "detail": _("Not ready: %(down)s unavailable.") % {"down": ", ".join(down)},
        } | body
        return JsonResponse(body, status=503, headers=headers)
    return JsonResponse({"status": "ok"} | body, headers=headers)


def lockout(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """django-axes' answer after too many failed sign-ins."""
    detail = _("Too many failed sign-ins. Try again in 15 minutes.")
    if _is_api(request):
        return JsonResponse({"code": "throttled", "detail": detail}, status=429, headers={"Retry-After": "900"})
    return render(request, "403.html", {"lockout": True, "detail": detail}, status=429)
