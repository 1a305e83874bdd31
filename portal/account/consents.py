"""The patient's own consents: what they allow for their photos now, the
forms they signed (/me/consents/, each as a PDF), withdrawing one (which
withdraws its photo choices) and signing again for an upcoming visit
(portal/book/consent.py). The rules are in treatments/consents.py."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from booking import selectors, signing
from clinic.errors import ApplicationError
from patients.models import AccessEvent, Patient
from patients.permissions import patient_required, user_of
from patients.services import access_record
from treatments import consents
from treatments.consent_pdf import consent_pdf_response
from treatments.models import ConsentSignature, PhotoUse


def photo_use_labels(patient: Patient) -> list[str]:
    labels = dict(PhotoUse.choices)
    uses = consents.photo_use(patient)
    if uses == [PhotoUse.CLINICAL.value]:
        return [str(labels[PhotoUse.CLINICAL])]
    return [_("Clinical use")] + [str(labels[use]) for use in uses if use != PhotoUse.CLINICAL]


def consent_context(patient: Patient) -> dict[str, Any]:
    """For the profile page, in a fixed number of queries."""
    signatures = list(
        ConsentSignature.objects.filter(patient=patient)
        .select_related("version__form")
        .order_by("-signed_at", "-id")[:50]
    )
    labels = dict(PhotoUse.choices)
    for row in signatures:
        row.form_title = row.version.form.localized("title")  # type: ignore[attr-defined]
        row.photo_labels = [str(labels[use]) for use in row.photo_use]  # type: ignore[attr-defined]
    upcoming = list(
        selectors.appointments_for(patient_id=patient.pk, statuses=signing.UPCOMING).filter(end__gte=timezone.now())[
            :20
        ]
    )
    state = signing.consent_state(upcoming)
    return {
        "photo_use": photo_use_labels(patient),
        "signatures": signatures,
        "to_sign": [
            {"appointment": a, "name": a.treatment.localized("name")} for a in upcoming if state.get(a.pk) == "missing"
        ],
    }


@patient_required
@require_POST
def consent_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """The patient withdraws one of their own consents; another's is 404."""
    patient = user_of(request).patient
    signature = get_object_or_404(ConsentSignature, pk=pk, patient_id=patient.pk)
    try:
        consents.consent_withdraw(signature=signature, by=user_of(request), reason=request.POST.get("reason", "")[:500])
    except ApplicationError as error:
        messages.error(request, str(error.detail))
    else:
        messages.success(
            request,
            _("Your consent is withdrawn, with the photo choices it gave. Sign again before your next treatment."),
        )
    return redirect(reverse("account:profile") + "#consent-heading")


@patient_required
@require_GET
def consent_list(request: HttpRequest) -> HttpResponse:
    patient = user_of(request).patient
    rows = consents.signatures_of(patient)
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
