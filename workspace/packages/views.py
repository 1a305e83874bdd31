"""Course packages for staff: the managers' catalogue (Manage → Packages) and a
patient's packages with "Sell a package" (any staff role) and the refund of
unused sessions (managers). Every rule is in booking/packages.py."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from booking import packages
from booking.models import Package, PackageOffer
from clinic import formats
from clinic.errors import ApplicationError, InvalidInput
from patients.models import Patient
from patients.permissions import is_manager, manager_required, staff_required, user_of
from treatments.models import TreatmentPlan
from workspace.packages.forms import OfferForm, RefundForm, SellForm


def _apply(form: Any, error: ApplicationError) -> None:
    placed = False
    if isinstance(error, InvalidInput):
        for name, texts in (error.fields or {}).items():
            for text in texts:
                form.add_error(name if name in form.fields else None, str(text))
                placed = True
    if not placed:
        form.add_error(None, str(error.detail))


# --- the catalogue -------------------------------------------------------------------------


@manager_required
@require_GET
def offers(request: HttpRequest) -> HttpResponse:
    rows = [{"offer": offer, "saving": packages.saving(offer)} for offer in packages.offers_all()]
    return render(request, "packages/offers.html", {"rows": rows})


def _offer_form(request: HttpRequest, offer: PackageOffer | None) -> HttpResponse:
    form = OfferForm(request.POST if request.method == "POST" else None, instance=offer)
    if request.method == "POST":
        if form.is_valid():
            try:
                packages.offer_save(offer=form.instance, by=user_of(request))
            except InvalidInput as error:
                _apply(form, error)
            else:
                messages.success(request, _("The package was saved."))
                return redirect("packages:offers")
        return render(request, "packages/offer_form.html", {"form": form, "offer": offer}, status=400)
    return render(request, "packages/offer_form.html", {"form": form, "offer": offer})


@manager_required
@require_http_methods(["GET", "POST"])
def offer_new(request: HttpRequest) -> HttpResponse:
    return _offer_form(request, None)


@manager_required
@require_http_methods(["GET", "POST"])
def offer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _offer_form(request, get_object_or_404(PackageOffer, pk=pk))


@manager_required
@require_POST
def offer_retire(request: HttpRequest, pk: int) -> HttpResponse:
    offer = get_object_or_404(PackageOffer, pk=pk)
    packages.offer_retire(offer=offer, by=user_of(request))
    messages.success(request, _("%(name)s is no longer sold.") % {"name": packages.package_name(offer)})
    return redirect("packages:offers")


# --- a patient's packages ------------------------------------------------------------------


def _plans(patient: Patient) -> QuerySet[TreatmentPlan]:
    return TreatmentPlan.objects.filter(patient=patient, status=TreatmentPlan.Status.ACTIVE).select_related("treatment")


def _page(request: HttpRequest, patient: Patient, form: SellForm, status: int = 200) -> HttpResponse:
    lines = [packages.line(package) for package in packages.packages_for(patient_id=patient.pk)]
    context = {
        "patient": patient,
        "lines": lines,
        "form": form,
        "manager": is_manager(request),
        "refund_form": RefundForm(initial={"key": uuid.uuid4().hex}),
    }
    return render(request, "packages/patient.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def patient_packages(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=pk, erased_at__isnull=True)
    offers_on_sale = packages.offers_on_sale()
    if request.method != "POST":
        return _page(request, patient, SellForm(offers=offers_on_sale, plans=_plans(patient)))
    form = SellForm(request.POST, offers=offers_on_sale, plans=_plans(patient))
    if form.is_valid():
        data = form.cleaned_data
        try:
            sold = packages.package_sell(
                patient=patient,
                offer=data["offer"],
                plan=data["plan"],
                method=data["method"],
                by=user_of(request),
                key=data["key"],
            )
        except InvalidInput as error:
            _apply(form, error)
        else:
            messages.success(
                request,
                _("%(name)s was sold: %(price)s paid.")
                % {"name": packages.package_name(sold), "price": formats.money_text(sold.price)},
            )
            return redirect("packages:patient", pk=patient.pk)
    return _page(request, patient, form, status=400)


@manager_required
@require_POST
def package_refund(request: HttpRequest, pk: int, package_pk: int) -> HttpResponse:
    package = get_object_or_404(Package, pk=package_pk, patient_id=pk)
    form = RefundForm(request.POST)
    target = reverse("packages:patient", args=[pk])
    if not form.is_valid():
        messages.error(request, _("Choose how the money is returned."))
        return redirect(target)
    try:
        done = packages.package_refund_unused(
            package=package, by=user_of(request), method=form.cleaned_data["method"], key=form.cleaned_data["key"]
        )
    except ApplicationError as error:
        messages.error(request, str(error.detail))
        return redirect(target)
    if done.online:
        text = _("%(amount)s will be returned to the patient's card; the refund is recorded when the provider accepts.")
    else:
        text = _("%(amount)s was refunded for the unused sessions.")
    messages.success(request, text % {"amount": formats.money_text(done.amount)})
    return redirect(target)
