"""“Who opened my record”: the patient's view of the access log. The same rows
and the same rule for names as ``GET /api/v1/me/access-log/``."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from patients.permissions import patient_required, user_of
from patients.selectors import access_events_for_patient
from patients.serializers import patient_visible_actor_name

PAGE_SIZE = 25


@patient_required
@require_GET
def my_access_log(request: HttpRequest) -> HttpResponse:
    patient = user_of(request).patient
    page = Paginator(access_events_for_patient(patient), PAGE_SIZE).get_page(request.GET.get("page"))
    events = list(page.object_list)
    for event in events:
        event.shown_name = patient_visible_actor_name(event)  # type: ignore[attr-defined]  # for the template
    return render(request, "account/access_log.html", {"page": page, "events": events})
