"""The patient's own copy of their data: a page saying what is inside, and the
download, built by booking.export like the API's (``GET /api/v1/me/export/``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from booking.export import export_response
from patients.permissions import patient_required, user_of


@patient_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    return render(request, "account/export.html", {"patient": user_of(request).patient})


@patient_required
@require_GET
def export_download(request: HttpRequest) -> StreamingHttpResponse:
    return export_response(user_of(request).patient)
