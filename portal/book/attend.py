"""The reminder email's "I'm coming" page (booking/attendance.py): works
without signing in, the signed link is the proof. GET shows the visit and a
button; POST confirms (booking.services.appointment_patient_confirm, via
"email"); a GET never changes anything, since mail scanners open links
before the patient does."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from booking import attendance, services
from clinic.errors import ApplicationError, NotFound
from portal.book import present


@never_cache
def confirm_visit(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    try:
        appointment = attendance.appointment_for_token(token, now=now)
    except ApplicationError as error:
        status = 404 if isinstance(error, NotFound) else 410
        return render(request, "site/visit_confirm_invalid.html", {"detail": error.detail}, status=status)
    if request.method == "POST":
        services.appointment_patient_confirm(appointment=appointment, via="email", now=now)
        messages.success(request, _("Thank you: we look forward to seeing you."))
        return redirect(reverse("site:visit_confirm", args=[token]))
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    context = {
        "appointment": appointment,
        "name": appointment.treatment.localized("name"),
        "when": present.when_text(appointment.start, appointment.end),
        "action": reverse("site:visit_confirm", args=[token]),
    }
    return render(request, "site/visit_confirm.html", context)
