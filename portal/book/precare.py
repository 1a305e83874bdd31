"""Pre-care confirmation pages (issue 17, point 4): the email's link, which
works without signing in, and the signed-in patient's own appointment.

A GET never changes anything (mail scanners open links before the patient
does); confirming is a POST. The rules (which instructions, until when) are
booking.precare's."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from booking import precare, selectors
from booking.models import Appointment, PreCareAcknowledgement
from clinic.errors import ApplicationError, NotFound
from patients.permissions import patient_required, user_of
from portal.book import present
from portal.book.flow import patient_of, signed_in


def section(appointment: Appointment) -> dict[str, Any]:
    """What the pre-care include shows for one visit."""
    items = precare.status(appointment) if appointment.status in precare.OPEN_STATUSES else []
    return {
        "items": items,
        "all_confirmed": bool(items) and all(item.confirmed for item in items),
        "open": appointment.status in precare.OPEN_STATUSES and timezone.now() <= appointment.end,
    }


def _page(request: HttpRequest, appointment: Appointment, *, token: str, status: int = 200) -> HttpResponse:
    context = {
        "appointment": appointment,
        "name": appointment.treatment.localized("name"),
        "when": present.when_text(appointment.start, appointment.end),
        "pre_care": section(appointment),
        "action": reverse("site:pre_care", args=[token]),
    }
    return render(request, "site/pre_care.html", context, status=status)


def _refused(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    status = 404 if isinstance(error, NotFound) else 410
    return render(request, "site/pre_care_invalid.html", {"detail": error.detail}, status=status)


@never_cache
def pre_care(request: HttpRequest, token: str) -> HttpResponse:
    """The email's one-click page: GET shows the instructions, POST confirms them."""
    now = timezone.now()
    try:
        appointment = precare.appointment_for_token(token, now=now)
    except ApplicationError as error:
        return _refused(request, error)
    if request.method == "POST":
        patient = patient_of(request)
        by = signed_in(request) if patient is not None and patient.pk == appointment.patient_id else None
        try:
            precare.pre_care_acknowledge(appointment=appointment, via=PreCareAcknowledgement.Via.LINK, by=by, now=now)
        except ApplicationError as error:
            return _refused(request, error)
        messages.success(request, _("Thank you: you have confirmed your pre-care."))
        return redirect(reverse("site:pre_care", args=[token]))
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    return _page(request, appointment, token=token)


@never_cache
@patient_required
@require_POST
def pre_care_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """The signed-in patient confirms from their appointment's page."""
    found = get_object_or_404(selectors.appointments_for(patient_id=user_of(request).patient.pk), pk=pk)
    try:
        precare.pre_care_acknowledge(
            appointment=found, via=PreCareAcknowledgement.Via.PORTAL, by=signed_in(request), now=timezone.now()
        )
    except ApplicationError as error:
        messages.error(request, str(error.detail))
    else:
        messages.success(request, _("Thank you: you have confirmed your pre-care."))
    return redirect(reverse("site:appointment", args=[found.pk]) + "#pre-care-heading")
