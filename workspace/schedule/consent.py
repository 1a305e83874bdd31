"""The front desk's tablet page at check-in: the patient reads and signs the
visit's consent forms on the clinic's tablet, and the signed-in staff member
is the witness (channel desk). The same sheets and pad as the patient's own
page (booking/signing.py, templates/consent/_sheets.html)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from booking import selectors, signing
from clinic.client import client_address
from clinic.pages import HtmxHttpRequest
from patients.permissions import staff_required, user_of
from workspace.schedule.common import labelled, local


@never_cache
@staff_required
@require_http_methods(["GET", "POST"])
def appointment_consent(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    appointment = labelled(
        [get_object_or_404(selectors.appointments_for().select_related("patient", "treatment"), pk=pk)]
    )[0]
    upcoming = appointment.status in signing.UPCOMING
    chosen = request.POST.get("language") or request.GET.get("language")
    language = chosen if chosen in ("en", "zh-hant") else signing.language_of(appointment.patient.preferred_language)
    schedule_url = f"{reverse('staff:schedule')}?date={local(appointment.start).date().isoformat()}"
    posted = None
    status = 200
    if request.method == "POST" and upcoming:
        posted, signature = signing.submit(
            request.POST, appointment, by=user_of(request), staff=True, client_address=client_address(request)
        )
        if signature is None:  # refused in place, the form filled as it was
            status = 400
        else:
            text = _("%(name)s signed “%(form)s”.") % {
                "name": appointment.patient.full_name,
                "form": signature.version.form.localized("title"),
            }
            messages.success(request, text)
            left = signing.missing_by_appointment([appointment]).get(appointment.pk)
            if not left:
                return HttpResponseRedirect(schedule_url)
            return HttpResponseRedirect(
                reverse("staff:appointment_consent", args=[appointment.pk]) + f"?language={language}"
            )
    sheets = signing.sheets(appointment, language=language, posted=posted)
    if not upcoming:
        sheets = [sheet for sheet in sheets if sheet.signed]
    here = reverse("staff:appointment_consent", args=[appointment.pk])
    return render(
        request,
        "workspace/consent.html",
        {
            "appointment": appointment,
            "sheets": sheets,
            "upcoming": upcoming,
            "all_signed": upcoming and bool(sheets) and all(s.signed for s in sheets),
            "language": language,
            "action": f"{here}?language={language}",
            "other_language_url": f"{here}?language={'en' if language == 'zh-hant' else 'zh-hant'}",
            "schedule_url": schedule_url,
        },
        status=status,
    )
