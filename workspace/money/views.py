"""Money in the staff workspace: the chart's money section with the desk's form,
receipts, and the managers' daily takings (with its CSV).

Roles (booking/ledger_apis.py says why): every staff role sees a patient's
money; receptionists and managers record it; managers see the takings. The
desk form carries a hidden idempotency key made when the form is drawn, so a
double-clicked or resent form records one row (booking.ledger.entry_record).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from booking import deposit_rules, ledger, receipts, takings
from booking.ledger_apis import MONEY_WRITERS, ledger_rows
from booking.models import LedgerEntry
from clinic.clock import clinic_today
from clinic.errors import InvalidInput
from clinic.pages import HtmxHttpRequest
from patients.models import AccessEvent, Patient
from patients.permissions import is_clinician, is_manager, manager_required, staff_required, user_of
from patients.roles import role_of
from patients.services import access_record_many
from workspace.chart import chart
from workspace.chart.forms import apply_errors
from workspace.money.forms import DeskEntryForm, TakingsDayForm

PAGE_SIZE = 50


def _refundable(patient: Patient) -> list[LedgerEntry]:
    """The patient's payments with something left to refund, newest first."""
    return list(
        LedgerEntry.objects.filter(
            patient=patient, kind=LedgerEntry.Kind.PAYMENT, reversed_amount__lt=F("amount")
        ).order_by("-created_at", "-id")[:100]
    )


def _money_context(request: HttpRequest, patient: Patient) -> dict[str, Any]:
    page = Paginator(ledger_rows(patient.pk), PAGE_SIZE).get_page(request.GET.get("page"))
    amount = ledger.balance(patient)
    return {
        "balance": amount,
        "balance_text": f"{abs(amount):,.2f}",
        "page": page,
        "rows": [
            {
                "entry": entry,
                "description": receipts.purpose(entry),
                "kind_label": entry.get_kind_display(),
                "sign": ledger.SIGN.get(entry.kind, 0),
                "left": ledger.refundable(entry) if entry.kind == LedgerEntry.Kind.PAYMENT else None,
                "by": entry.recorded_by.get_full_name() or entry.recorded_by.get_username()
                if entry.recorded_by
                else receipts.recorder_label(entry),
            }
            for entry in page.object_list
        ],
        "can_record": role_of(request.user) in MONEY_WRITERS,
    }


@staff_required
@require_http_methods(["GET", "POST"])
def chart_money(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=pk)
    can_record = role_of(request.user) in MONEY_WRITERS
    refundable = _refundable(patient) if can_record else []
    form = DeskEntryForm(refundable=refundable)
    status = 200
    if request.method == "POST":
        if not can_record:
            raise PermissionDenied
        form = DeskEntryForm(request.POST, refundable=refundable)
        if form.is_valid():
            data = form.cleaned_data
            try:
                recorded = takings.desk_record(
                    patient=patient,
                    kind=data["kind"],
                    amount=data["amount"],
                    method=data["method"] if data["kind"] != LedgerEntry.Kind.CHARGE else "",
                    reverses_id=data["reverses"] if data["kind"] == LedgerEntry.Kind.REFUND else None,
                    note=data["note"],
                    idempotency_key=data["idempotency_key"],
                    by=user_of(request),
                )
            except InvalidInput as error:
                apply_errors(form, error.fields, error.detail)
            else:
                entry = recorded.entry
                if not recorded.created:
                    messages.info(request, _("This was already recorded; nothing was added."))
                elif entry.receipt_number:
                    messages.success(request, _("Recorded, receipt %(number)s.") % {"number": entry.receipt_number})
                else:
                    messages.success(request, _("The charge was recorded."))
                return redirect(reverse("money:chart", args=[patient.pk]) + "#money")
        status = 400
    section = chart.SECTION_BY_SLUG["money"]
    clinical = is_clinician(request)
    context = chart.chart_context(patient=patient, section=section, clinical=clinical, query=request.GET)
    context["manager"] = is_manager(request)
    context["front_desk"] = can_record
    context.update(_money_context(request, patient))
    context["form"] = form
    context["fees_to_waive"] = _fees_to_waive(patient) if can_record else []
    context["next"] = reverse("money:chart", args=[patient.pk])
    if request.method == "GET":
        access_record_many(
            request,
            [(patient, what, None) for what in chart.kinds_shown(section, clinical=clinical)],
            AccessEvent.Door.PAGE,
        )
    return render(request, "money/section_money.html", context, status=status)


def _fees_to_waive(patient: Patient) -> list[LedgerEntry]:
    """The patient's late-cancellation and no-show fees not yet waived in full:
    the front desk may waive each, with a reason (booking.deposit_rules.fee_waive)."""
    fees = LedgerEntry.objects.filter(patient=patient, kind=LedgerEntry.Kind.FEE, reason__in=deposit_rules.FEE_REASONS)
    return [fee for fee in fees.order_by("pk") if ledger.refundable(fee) > 0]


@staff_required
@require_GET
def receipt(request: HttpRequest, pk: int, entry_pk: int) -> HttpResponse:
    entry = (
        LedgerEntry.objects.select_related("patient", "appointment__treatment", "package", "reverses")
        .filter(pk=entry_pk, patient_id=pk, receipt_number__isnull=False)
        .first()
    )
    if entry is None:
        raise Http404
    return receipts.receipt_response(entry)


def _takings(request: HttpRequest) -> tuple[TakingsDayForm, takings.Takings]:
    form = TakingsDayForm(request.GET or None)
    day = clinic_today()
    if form.is_valid() and form.cleaned_data["date"]:
        day = form.cleaned_data["date"]
    return form, takings.takings_for(day)


@manager_required
@require_GET
def takings_page(request: HttpRequest) -> HttpResponse:
    form, found = _takings(request)
    context = {
        "form": form,
        "takings": found,
        "rows": [
            {"entry": entry, "description": receipts.purpose(entry), "refund": entry.kind == LedgerEntry.Kind.REFUND}
            for entry in found.rows
        ],
        "previous_day": found.day - timedelta(days=1),
        "next_day": found.day + timedelta(days=1),
        "today": clinic_today(),
    }
    return render(request, "money/takings.html", context, status=200 if not form.errors else 400)


@manager_required
@require_GET
def takings_csv(request: HttpRequest) -> HttpResponse:
    form, found = _takings(request)
    if form.errors:
        return HttpResponse(_("Give a date as YYYY-MM-DD."), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(takings.takings_csv(found), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="takings-{found.day.isoformat()}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
