"""A patient's export and erasure from the staff chart, managers only. The
builder (booking.export) and the service (booking.erasure) are the ones the API
calls; these views only check the role, ask for confirmation and show results."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from booking.erasure import patient_erase
from booking.export import export_response
from booking.models import Appointment, Erasure
from clinic.errors import ApplicationError
from patients.models import AccessEvent, Patient
from patients.permissions import manager_required, user_of
from patients.services import access_record


@manager_required
@require_GET
def export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    patient = get_object_or_404(Patient, pk=pk)
    access_record(request, patient, AccessEvent.What.EXPORT, AccessEvent.Door.PAGE)
    return export_response(patient)


@manager_required
@require_http_methods(["GET", "POST"])
def erase(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=pk)
    erasure = Erasure.objects.filter(patient=patient).first()
    if request.method == "POST" and erasure is None:
        if request.POST.get("confirm") != "erase":
            messages.error(request, _("Tick the box to confirm the erasure."))
        else:
            try:
                patient_erase(patient=patient, by=user_of(request))
            except ApplicationError as error:
                messages.error(request, str(error.detail))
            else:
                messages.success(request, _("The patient's details and login were erased."))
                return redirect(reverse("chart:erase", args=[patient.pk]))
    future = Appointment.objects.filter(
        patient=patient, status=Appointment.Status.CONFIRMED, start__gt=timezone.now()
    ).count()
    return render(
        request,
        "chart/erase.html",
        {"patient": patient, "erasure": erasure, "future_appointments": future},
        status=400 if request.method == "POST" and erasure is None else 200,
    )
