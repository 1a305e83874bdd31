"""A patient's signed consent as a PDF, from the chart: clinicians, like the
other clinical records; a signature of another patient is 404."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from patients.models import AccessEvent
from patients.permissions import clinician_required
from patients.services import access_record
from treatments.consent_pdf import consent_pdf_response
from treatments.models import ConsentSignature


@clinician_required
@require_GET
def consent_pdf(request: HttpRequest, pk: int, signature_pk: int) -> HttpResponse:
    signature = get_object_or_404(
        ConsentSignature.objects.select_related("version__form", "witnessed_by"), pk=signature_pk, patient_id=pk
    )
    response = consent_pdf_response(signature)
    access_record(request, pk, AccessEvent.What.CONSENT, AccessEvent.Door.PAGE, signature.pk)
    return response
