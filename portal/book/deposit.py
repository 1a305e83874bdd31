"""The patient's pages around an online deposit (booking.deposits).

The booking flow sends the patient to the provider's checkout; the provider
sends them back here: to ``done`` after paying (the webhook confirms the
visit, usually within seconds: the page polls until it has), or to
``cancelled`` if they left the checkout (pay again while the hold lasts, or
give the time back). Only the patient whose visit it is sees these pages
(anyone else: 404).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from booking import checkout, deposits, packages
from booking.models import Appointment, DepositCheckout, PackageOffer
from clinic import formats
from clinic.errors import InvalidState, PaymentUnavailable
from patients.permissions import patient_required, user_of
from portal.book import present
from portal.book.flow import signed_in


def _own(request: HttpRequest, pk: int) -> Appointment:
    return get_object_or_404(
        Appointment.objects.select_related("treatment", "practitioner__user").prefetch_related("deposit_checkouts"),
        pk=pk,
        patient__user=user_of(request),
    )


def _context(appointment: Appointment) -> dict[str, Any]:
    now = timezone.now()
    rows = sorted(appointment.deposit_checkouts.all(), key=lambda row: (row.created_at, row.pk))
    latest = rows[-1] if rows else None
    awaiting = checkout.awaiting(appointment, now)
    return {
        "appointment": appointment,
        "name": appointment.treatment.localized("name"),
        "when": present.when_text(appointment.start, appointment.end),
        "practitioner": present.practitioner_label(appointment.practitioner),
        "amount": formats.money_text(latest.amount) if latest else "",
        "awaiting": awaiting,
        "held_until": present.time_text(appointment.hold_expires_at)
        if awaiting and appointment.hold_expires_at
        else "",
        "confirmed": appointment.status in (Appointment.Status.CONFIRMED, Appointment.Status.CHECKED_IN),
        "refunded": any(row.status == DepositCheckout.Status.REFUNDED for row in rows),
        "pay_url": reverse("site:deposit_pay", args=[appointment.pk]),
        "release_url": reverse("site:deposit_release", args=[appointment.pk]),
        "appointment_url": reverse("site:appointment", args=[appointment.pk]),
    }


@never_cache
@patient_required
@require_POST
def pay(request: HttpRequest, pk: int) -> HttpResponse:
    """Pay (again) while the hold lasts: to the provider's checkout."""
    found = _own(request, pk)
    try:
        opened = deposits.checkout_open(appointment=found)
    except InvalidState:
        messages.error(request, _("This time is no longer held for you. Please choose a time again."))
        return redirect("site:deposit_cancelled", pk=found.pk)
    except PaymentUnavailable as error:
        messages.error(request, str(error.detail))
        return redirect("site:deposit_cancelled", pk=found.pk)
    return redirect(opened.url)


@never_cache
@patient_required
@require_GET
def done(request: HttpRequest, pk: int) -> HttpResponse:
    """Back from a payment: "we are confirming it" until the webhook has."""
    found = _own(request, pk)
    context = _context(found)
    if context["confirmed"]:
        target = reverse("site:appointment", args=[found.pk]) + "?booked=1"
        return HttpResponseClientRedirect(target) if getattr(request, "htmx", False) else redirect(target)
    context["page"] = "done"
    template = "site/_deposit_status.html" if getattr(request, "htmx", False) else "site/deposit.html"
    return render(request, template, context)


@never_cache
@patient_required
@require_GET
def cancelled(request: HttpRequest, pk: int) -> HttpResponse:
    """Back without paying: pay again while the hold lasts, or give the time back."""
    found = _own(request, pk)
    context = _context(found)
    if context["confirmed"]:
        return redirect("site:appointment", pk=found.pk)
    context["page"] = "cancelled"
    return render(request, "site/deposit.html", context)


@never_cache
@patient_required
@require_POST
def release(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the held time back without paying."""
    found = _own(request, pk)
    try:
        deposits.deposit_release(appointment=found, by=signed_in(request))
    except InvalidState:
        messages.error(request, _("This time is no longer held for you."))
        return redirect("site:appointments")
    messages.success(request, _("Done: the time is released and nothing was charged."))
    return redirect("site:appointments")


# --- buying a course package online --------------------------------------------------


@never_cache
@patient_required
@require_http_methods(["GET", "POST"])
def package_buy(request: HttpRequest, offer_id: int) -> HttpResponse:
    """GET: what the package is and what it costs; POST: to the provider's checkout."""
    offer = get_object_or_404(PackageOffer.objects.select_related("treatment"), pk=offer_id, active=True)
    if not (deposits.configured() and offer.sold_online):
        raise Http404
    if request.method == "POST":
        patient = signed_in(request).patient
        try:
            opened = deposits.package_checkout_open(patient=patient, offer=offer)
        except (InvalidState, PaymentUnavailable) as error:
            messages.error(request, str(error.detail))
            return redirect("site:package_buy", offer_id=offer.pk)
        return redirect(opened.url)
    saving = packages.saving(offer)
    context = {
        "offer": offer,
        "name": packages.package_name(offer),
        "price": formats.money_text(offer.price),
        "saving": formats.money_text(saving) if saving else "",
        "treatment": offer.treatment.localized("name"),
    }
    return render(request, "site/package_buy.html", context)


@never_cache
@patient_required
@require_GET
def package_done(request: HttpRequest, uid: str) -> HttpResponse:
    """Back from paying for a package: "we are confirming it" until the webhook has."""
    try:
        uuid.UUID(uid)
    except ValueError:
        raise Http404 from None
    row = get_object_or_404(
        DepositCheckout.objects.select_related("package_offer"),
        uid=uid,
        package_offer__isnull=False,
        patient__user=user_of(request),
    )
    if row.status == DepositCheckout.Status.PAID:
        messages.success(request, _("Thank you: your package is ready. Its sessions are shown on your progress page."))
        target = reverse("account:progress")
        return HttpResponseClientRedirect(target) if getattr(request, "htmx", False) else redirect(target)
    context = {"row": row, "name": packages.package_name(row.package_offer) if row.package_offer else ""}
    template = "site/_package_status.html" if getattr(request, "htmx", False) else "site/package_done.html"
    return render(request, template, context)
