"""The money actions of a visit: the deposit taken at the desk, a fee waived, a desk refund.

Receptionists and managers (the front desk) take and give back money and waive
fees; other staff see the state. Each form posts to its own view, which calls
the one service in booking/deposit_rules.py and returns to the visit's page;
the chart's money section (workspace/chart) can include
``chart/_waive_fee.html`` and ``chart/_money_actions.html`` with ``panel``'s context.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from booking import deposit_rules, ledger, selectors
from booking.models import Appointment, LedgerEntry
from clinic import formats
from clinic.errors import ApplicationError
from clinic.pages import HtmxHttpRequest, safe_next
from patients.permissions import CONTACT_EDITORS, front_desk_required, user_of
from patients.roles import role_of
from workspace.schedule.common import describe

Kind = LedgerEntry.Kind
DESK_METHODS = [(m.value, m.label) for m in LedgerEntry.DESK_METHODS]


@dataclass
class Panel:
    """What the visit's money box shows and offers."""

    asked: Decimal | None
    paid: LedgerEntry | None
    can_take_money: bool
    can_record_deposit: bool
    fees: list[LedgerEntry] = field(default_factory=list)
    desk_refunds: list[deposit_rules.DeskRefund] = field(default_factory=list)
    outcome: deposit_rules.Outcome | None = None
    methods: list[tuple[str, Any]] = field(default_factory=lambda: DESK_METHODS)
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


def panel(request: HttpRequest, appointment: Appointment) -> Panel:
    paid = ledger.deposit_paid(appointment)
    front_desk = role_of(request.user) in CONTACT_EDITORS
    open_visit = appointment.status in deposit_rules.OPEN
    fees = [
        fee
        for fee in LedgerEntry.objects.filter(
            appointment=appointment, kind=Kind.FEE, reason__in=deposit_rules.FEE_REASONS
        ).order_by("pk")
        if ledger.refundable(fee) > 0
    ]
    return Panel(
        asked=ledger.deposit_for(appointment.treatment),
        paid=paid,
        can_take_money=front_desk,
        can_record_deposit=front_desk and open_visit and paid is None,
        fees=fees,
        desk_refunds=[
            due
            for due in deposit_rules.refunds_due_at_desk(appointment.patient_id)
            if due.payment.appointment_id == appointment.pk
        ],
        outcome=deposit_rules.deposit_outcome(appointment, by_patient=False) if paid else None,
    )


def _back(request: HttpRequest, appointment_id: int | None) -> HttpResponse:
    fallback = reverse("staff:appointment", args=[appointment_id]) if appointment_id else reverse("staff:schedule")
    return HttpResponseRedirect(safe_next(request, fallback))


@front_desk_required
@require_POST
def deposit_record(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = get_object_or_404(selectors.appointments_for(), pk=pk)
    try:
        entry = deposit_rules.deposit_record_at_desk(
            appointment=appointment,
            method=request.POST.get("method", ""),
            amount=request.POST.get("amount", "").strip() or None,
            idempotency_key=request.POST.get("key", ""),
            by=user_of(request),
        )
    except ApplicationError as error:
        return _refused(request, appointment.pk, error)
    else:
        messages.success(
            request,
            _("Deposit of %(amount)s recorded (receipt %(receipt)s).")
            % {"amount": formats.money_text(entry.amount), "receipt": entry.receipt_number},
        )
    return _back(request, appointment.pk)


@front_desk_required
@require_POST
def fee_waive(request: HttpRequest, pk: int) -> HttpResponse:
    fee = get_object_or_404(LedgerEntry.objects.filter(kind=Kind.FEE), pk=pk)
    try:
        waiver = deposit_rules.fee_waive(fee=fee, by=user_of(request), reason=request.POST.get("reason", ""))
    except ApplicationError as error:
        return _refused(request, fee.appointment_id, error)
    else:
        messages.success(request, _("Fee of %(amount)s waived.") % {"amount": formats.money_text(waiver.amount)})
    return _back(request, fee.appointment_id)


@front_desk_required
@require_POST
def desk_refund(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(LedgerEntry.objects.filter(kind=Kind.PAYMENT), pk=pk)
    try:
        refund = deposit_rules.desk_refund_record(
            payment=payment,
            method=request.POST.get("method", ""),
            idempotency_key=request.POST.get("key", ""),
            by=user_of(request),
        )
    except ApplicationError as error:
        return _refused(request, payment.appointment_id, error)
    else:
        messages.success(
            request,
            _("Refund of %(amount)s recorded (receipt %(receipt)s).")
            % {"amount": formats.money_text(refund.amount), "receipt": refund.receipt_number},
        )
    return _back(request, payment.appointment_id)


def _refused(request: HttpRequest, appointment_id: int | None, error: ApplicationError) -> HttpResponse:
    """The visit's page again, the refusal in place, with the error's status (400, 409)."""
    from workspace.schedule import views

    if appointment_id is None:
        messages.error(request, describe(error))
        return HttpResponseRedirect(reverse("staff:schedule"))
    htmx_request = cast("HtmxHttpRequest", request)  # django-htmx's middleware runs on every page
    page = views._render_appointment(htmx_request, views._appointment(appointment_id), error=describe(error))
    page.status_code = error.status
    return page
