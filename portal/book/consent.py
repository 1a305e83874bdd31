"""The patient signs the consent forms of their own upcoming visit online
(booking/signing.py parses and presents; treatments.consents decides).
Another patient's appointment is 404."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from booking import selectors, signing
from clinic.client import client_address
from patients.permissions import patient_required, user_of
from portal.book import present


@never_cache
@patient_required
@require_http_methods(["GET", "POST"])
def appointment_consent(request: HttpRequest, pk: int) -> HttpResponse:
    patient = user_of(request).patient
    appointment = get_object_or_404(
        selectors.appointments_for(patient_id=patient.pk).select_related("treatment", "patient"), pk=pk
    )
    upcoming = appointment.status in signing.UPCOMING and appointment.end >= timezone.now()
    language = signing.language_of(translation.get_language())
    posted = None
    status = 200
    if request.method == "POST" and upcoming:
        posted, signature = signing.submit(
            request.POST, appointment, by=user_of(request), staff=False, client_address=client_address(request)
        )
        if signature is None:  # refused in place, the form filled as it was
            status = 400
        else:
            messages.success(
                request,
                _("Thank you. You signed “%(form)s”.") % {"form": signature.version.form.localized("title")},
            )
            return redirect(reverse("site:appointment_consent", args=[appointment.pk]) + "#consent-signed")
    sheets = signing.sheets(appointment, language=language, posted=posted)
    if not upcoming:
        sheets = [sheet for sheet in sheets if sheet.signed]
    return render(
        request,
        "site/consent.html",
        {
            "appointment": appointment,
            "name": appointment.treatment.localized("name"),
            "when": present.when_text(appointment.start, appointment.end),
            "sheets": sheets,
            "upcoming": upcoming,
            "all_signed": upcoming and bool(sheets) and all(s.signed for s in sheets),
            "action": reverse("site:appointment_consent", args=[appointment.pk]),
            "back_url": reverse("site:appointment", args=[appointment.pk]),
        },
        status=status,
    )
