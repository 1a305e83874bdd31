"""The patient's money: the balance on /me/ and their payments and receipts
(/me/payments/). The same selectors as ``GET /api/v1/me/ledger/``; receipts
download from the API's own URL, which checks they are the patient's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from booking import ledger, receipts
from booking.ledger_apis import ledger_rows
from booking.models import LedgerEntry
from patients.models import Patient
from patients.permissions import patient_required, user_of

PAGE_SIZE = 25


def balance_summary(patient: Patient) -> dict[str, Any] | None:
    """What /me/ says of money: nothing for a patient with no rows (two queries at most)."""
    if not LedgerEntry.objects.filter(patient=patient).exists():
        return None
    amount = ledger.balance(patient)
    return {"amount": amount, "text": currency_text(abs(amount)), "state": _state(amount)}


def currency_text(amount: Decimal) -> str:
    """ "HKD 1,500.00": the currency's code, as on the receipts and the clinic's price list."""
    return f"{settings.CLINIC_CURRENCY} {amount:,.2f}"


def _state(amount: Decimal) -> str:
    if amount > 0:
        return "credit"
    return "owed" if amount < 0 else "settled"


def line(entry: LedgerEntry) -> dict[str, Any]:
    """One row as the patient's page shows it, money signed the way it moves their balance."""
    sign = ledger.SIGN.get(entry.kind, 0)
    return {
        "entry": entry,
        "description": receipts.purpose(entry),
        "amount": currency_text(entry.amount),
        "incoming": sign > 0,
        "recorded_by": receipts.recorder_label(entry),
        "receipt_url": reverse("account:receipt", args=[entry.pk]) if receipts.receipted(entry) else None,
    }


@patient_required
@require_GET
def payments(request: HttpRequest) -> HttpResponse:
    patient = user_of(request).patient
    page = Paginator(ledger_rows(patient.pk), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "patient": patient,
        "money": balance_summary(patient),
        "page": page,
        "lines": [line(entry) for entry in page.object_list],
    }
    return render(request, "account/payments.html", context)


@patient_required
@require_GET
def receipt(request: HttpRequest, pk: int) -> HttpResponse:
    """The patient's own receipt; another patient's is 404."""
    entry = (
        LedgerEntry.objects.select_related("patient", "appointment__treatment", "package", "reverses")
        .filter(pk=pk, patient__user=user_of(request), receipt_number__isnull=False)
        .first()
    )
    if entry is None:
        raise Http404
    return receipts.receipt_response(entry)
