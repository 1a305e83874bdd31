"""The access log for managers: who read one patient's clinical data, and what
one staff member read (``patients.selectors``). Reading the log writes nothing to it."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from patients.models import Patient
from patients.permissions import manager_required
from patients.selectors import access_actors, access_events_by_actor, access_events_for_patient, patient_names

PAGE_SIZE = 50


@manager_required
@require_GET
def patient_access_log(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=pk)
    page = Paginator(access_events_for_patient(patient), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "chart/access_log_patient.html", {"patient": patient, "page": page})


@manager_required
@require_GET
def staff_access_log(request: HttpRequest) -> HttpResponse:
    """Pick a staff member, then see what they read, newest first."""
    actors = list(access_actors())
    raw = request.GET.get("actor") or ""
    chosen = next((actor for actor in actors if str(actor.pk) == raw), None)
    context: dict[str, object] = {"actors": actors, "chosen": chosen, "asked": raw}
    if chosen is not None:
        page = Paginator(access_events_by_actor(chosen.pk), PAGE_SIZE).get_page(request.GET.get("page"))
        events = list(page.object_list)
        names = patient_names(event.patient_id for event in events)
        for event in events:
            event.patient_name = names.get(event.patient_id, "")  # type: ignore[attr-defined]  # for the template
        context.update(page=page, events=events)
    status = 404 if raw and chosen is None else 200
    return render(request, "chart/access_log_staff.html", context, status=status)
