"""The patient's signed consent forms: the list, and each one as a PDF.
Signing is on the appointment's page (portal/book); the rules are in
treatments/consents.py."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from patients.models import AccessEvent
from patients.permissions import patient_required, user_of
from patients.services import access_record
from treatments.consent_pdf import consent_pdf_response
from treatments.consents import signatures_of
from treatments.models import ConsentSignature, PhotoUse


@patient_required
@require_GET
def consents(request: HttpRequest) -> HttpResponse:
    patient = user_of(request).patient
    rows = signatures_of(patient)
    labels = dict(PhotoUse.choices)
    for row in rows:
        # For the template: the form's title in the page's language, the photo choices in words.
        row.signature.title_shown = row.signature.version.form.localized("title")  # type: ignore[attr-defined]
        row.signature.photo_labels = [labels[use] for use in row.signature.photo_use]  # type: ignore[attr-defined]
    return render(request, "account/consents.html", {"rows": rows})


@patient_required
@require_GET
def consent_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the signed-in patient's own signatures; anyone else's is 404."""
    own = ConsentSignature.objects.filter(patient__user=user_of(request)).select_related(
        "version__form", "witnessed_by"
    )
    signature = get_object_or_404(own, pk=pk)
    response = consent_pdf_response(signature)
    access_record(request, signature.patient_id, AccessEvent.What.CONSENT, AccessEvent.Door.PAGE, signature.pk)
    return response
