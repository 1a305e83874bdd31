"""Lot recall for managers: which patients received a lot of filler, toxin or
steroid, with their phone and email, and the same list as CSV in one step
(``booking.recall``, shared with ``GET /api/v1/lots/``). Every patient listed
is written to the access log as a read of their session records."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from booking import recall
from clinic.errors import InvalidInput
from patients.models import AccessEvent
from patients.permissions import manager_required
from patients.services import access_record_many


@manager_required
@require_GET
def lots(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("lot")
    context: dict[str, object] = {"asked": (raw or "")[:200]}
    if raw is None:  # the page opened, nothing searched yet
        return render(request, "chart/lots.html", context)
    try:
        key, rows = recall.search(raw, language=get_language())
    except InvalidInput as error:
        context["error"] = " ".join(str(message) for messages in (error.fields or {}).values() for message in messages)
        return render(request, "chart/lots.html", context, status=400)
    access_record_many(request, recall.access_reads(rows), AccessEvent.Door.PAGE)
    if request.GET.get("format") == "csv":
        response = HttpResponse(recall.lot_csv(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{recall.csv_filename(key)}"'
        response["Cache-Control"] = "private, no-store"
        return response
    context.update(rows=rows, key=key, patients=len({row.patient_id for row in rows}))
    return render(request, "chart/lots.html", context)
