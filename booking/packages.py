"""Course packages: sessions of one treatment sold ahead ("Pico laser x 4 at HKD 12,000").

The catalogue is ``PackageOffer``; a sale makes a ``Package`` and a PAYMENT
(reason package) on the patient's ledger, the patient's prepaid value. Each
completed visit of the package's treatment redeems one session
(``package_redeem``, called by ``booking.services.appointment_complete`` in its
transaction): ``sessions_used`` grows under the package's row lock (the
database refuses more than were bought) and a PACKAGE_CREDIT of the session's
unit value lowers the balance. Unit values are the price divided by the
sessions, rounded to the cent, the last session taking the remainder, so the
credits of a fully used package sum to its price exactly (``unit_values``).

A package past ``expires_on`` redeems nothing; the minute's sweep marks it
expired (``packages_expire``). Unused sessions are refunded by the clinic's rule
(``CLINIC_PACKAGE_REFUND``: ``pro_rata``, the default, or ``none``): through the
provider for a package bought online, at the desk otherwise.

Permissions are the callers': any staff member may sell at the desk, managers
alone refund (booking/package_apis.py, workspace pages).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import deposits, ledger
from booking.models import Appointment, LedgerEntry, Package, PackageOffer
from clinic.clock import clinic_date
from clinic.errors import InvalidInput, InvalidState
from patients.models import Patient
from treatments.models import Treatment, TreatmentPlan

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Kind = LedgerEntry.Kind
Method = LedgerEntry.Method
Reason = LedgerEntry.Reason
Status = Package.Status

PRO_RATA = "pro_rata"
NO_REFUND = "none"
REFUND_RULES = (PRO_RATA, NO_REFUND)
KEY_MAX = 64
# Visits that will use a session if they happen: counted against what is left (``covers``).
UPCOMING = (Appointment.Status.CONFIRMED, Appointment.Status.CHECKED_IN, Appointment.Status.DEPOSIT_DUE)


# --- pure arithmetic ----------------------------------------------------------------


def unit_values(price: Decimal, sessions: int) -> list[Decimal]:
    """What each session is worth: price / sessions rounded to the cent, the
    last taking the remainder, so the list sums to ``price`` exactly."""
    price = ledger.money(price)
    if sessions < 1:
        return []
    unit = ledger.money(price / sessions)
    if unit * (sessions - 1) > price:  # a few cents over many sessions: round down so none is negative
        unit = (price / sessions).quantize(ledger.CENT, rounding=ROUND_DOWN)
    values = [unit] * (sessions - 1)
    return [*values, price - sum(values, ledger.ZERO)]


def unused_value(price: Decimal, sessions: int, used: int) -> Decimal:
    """The value of the sessions not yet used (the pro-rata refund)."""
    return sum(unit_values(price, sessions)[used:], ledger.ZERO)


def saving(offer: PackageOffer) -> Decimal | None:
    """What the package saves against paying each session at the treatment's price."""
    full = ledger.money(Decimal(offer.treatment.price) * offer.sessions)
    difference = full - ledger.money(offer.price)
    return difference if difference > 0 else None


def refund_rule() -> str:
    rule = getattr(settings, "CLINIC_PACKAGE_REFUND", PRO_RATA)
    return rule if rule in REFUND_RULES else PRO_RATA


# --- selectors ------------------------------------------------------------------------


def offers_all() -> QuerySet[PackageOffer]:
    """Every offer, retired ones included (managers' catalogue)."""
    return PackageOffer.objects.select_related("treatment")


def offers_on_sale(*, treatment: Treatment | None = None, online: bool | None = None) -> QuerySet[PackageOffer]:
    """Active offers of active treatments; ``online=True``: those patients may buy themselves."""
    found = offers_all().filter(active=True, treatment__active=True)
    if treatment is not None:
        found = found.filter(treatment=treatment)
    if online is not None:
        found = found.filter(sold_online=online)
    return found


def packages_for(*, patient_id: int) -> QuerySet[Package]:
    """A patient's packages, newest first, with what their lines show (constant queries)."""
    return Package.objects.filter(patient_id=patient_id).select_related("treatment", "plan", "offer")


def _redeemable(*, patient_id: int, treatment_id: int, on: date) -> QuerySet[Package]:
    return Package.objects.filter(
        patient_id=patient_id, treatment_id=treatment_id, status=Status.ACTIVE, sessions_used__lt=F("sessions_total")
    ).filter(Q(expires_on__isnull=True) | Q(expires_on__gte=on))


def covers(patient: Patient, treatment: Treatment, on: date) -> Package | None:
    """The package that would pay a visit of ``treatment`` on ``on``, or None.

    Sessions already promised to upcoming visits of the treatment are counted
    as used, so a package with one session left covers one booking, not two.
    The deposit code asks this: a visit a package pays needs no deposit."""
    found = list(_redeemable(patient_id=patient.pk, treatment_id=treatment.pk, on=on).order_by("created_at", "id"))
    if not found:
        return None
    left = sum(package.sessions_left for package in found)
    promised = Appointment.objects.filter(patient=patient, treatment=treatment, status__in=UPCOMING).count()
    return found[0] if left > promised else None


def payment_of(package: Package) -> LedgerEntry | None:
    """The payment that bought ``package``."""
    return LedgerEntry.objects.filter(package=package, kind=Kind.PAYMENT, reason=Reason.PACKAGE).order_by("id").first()


@dataclass(frozen=True)
class Line:
    """A package as pages show it."""

    package: Package
    name: str
    used: int
    left: int
    total: int
    price: Decimal
    expires_on: date | None
    status: str
    status_label: str
    refundable: Decimal


def line(package: Package, *, language: str | None = None) -> Line:
    return Line(
        package=package,
        name=package_name(package, language),
        used=package.sessions_used,
        left=package.sessions_left,
        total=package.sessions_total,
        price=ledger.money(package.price),
        expires_on=package.expires_on,
        status=package.status,
        status_label=str(package.get_status_display()),
        refundable=refund_amount(package) if package.status in (Status.ACTIVE, Status.EXPIRED) else ledger.ZERO,
    )


def package_name(package: Package | PackageOffer, language: str | None = None) -> str:
    from django.utils.translation import get_language

    language = (language or get_language() or "en").lower()
    if language.startswith("zh") and package.name_zh_hant:
        return package.name_zh_hant
    return package.name_en


def refund_amount(package: Package) -> Decimal:
    """What ``package_refund_unused`` would return now under the clinic's rule."""
    if refund_rule() == NO_REFUND:
        return ledger.ZERO
    return unused_value(package.price, package.sessions_total, package.sessions_used)


# --- the catalogue --------------------------------------------------------------------


def offer_save(*, offer: PackageOffer, by: User | None = None) -> PackageOffer:
    """Creates or updates a catalogue offer after the model's own validation.
    Raises InvalidInput naming the fields. The caller has checked the manager role."""
    try:
        offer.full_clean()
    except ValidationError as error:
        raise InvalidInput(_("Check the package's details."), fields=error.message_dict) from None
    offer.save()
    return offer


def offer_retire(*, offer: PackageOffer, by: User | None = None) -> PackageOffer:
    """Takes an offer off sale; packages already sold keep their sessions."""
    PackageOffer.objects.filter(pk=offer.pk).update(active=False)
    offer.active = False
    return offer


# --- selling --------------------------------------------------------------------------


def _clean_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > KEY_MAX:
        message = _("A request key of at most %(max)d characters is needed.") % {"max": KEY_MAX}
        raise InvalidInput(message, fields={"idempotency_key": [message]})
    return key.strip()


def _plan_for(*, patient: Patient, treatment: Treatment, plan: TreatmentPlan | None) -> TreatmentPlan | None:
    if plan is not None:
        if plan.patient_id != patient.pk or plan.treatment_id != treatment.pk:
            message = _("Choose one of this patient's plans of the package's treatment.")
            raise InvalidInput(message, fields={"plan": [message]})
        return plan
    return (
        TreatmentPlan.objects.filter(patient=patient, treatment=treatment, status=TreatmentPlan.Status.ACTIVE)
        .order_by("-created_at", "-id")
        .first()
    )


def _sell(
    *,
    patient: Patient,
    offer: PackageOffer,
    plan: TreatmentPlan | None,
    method: str,
    price: Decimal,
    ledger_key: str,
    provider: str = "",
    provider_ref: str = "",
    by: User | None,
    now: datetime,
) -> Package:
    # The patient's row lock serialises sales to one patient: a key replayed
    # while its first request is still running waits and finds the package.
    Patient.objects.select_for_update().only("pk").get(pk=patient.pk)
    earlier = LedgerEntry.objects.filter(idempotency_key=ledger_key).select_related("package").first()
    if earlier is None and provider_ref:
        earlier = (
            LedgerEntry.objects.filter(provider=provider, kind=Kind.PAYMENT, provider_ref=provider_ref)
            .select_related("package")
            .first()
        )
    if earlier is not None:
        if earlier.package is None or earlier.patient_id != patient.pk or earlier.package.offer_id != offer.pk:
            message = _("This request key was already used for another movement.")
            raise InvalidInput(message, fields={"idempotency_key": [message]})
        return earlier.package
    chosen_plan = _plan_for(patient=patient, treatment=offer.treatment, plan=plan)
    sold_on = clinic_date(now)
    package = Package.objects.create(
        patient=patient,
        offer=offer,
        treatment=offer.treatment,
        plan=chosen_plan,
        name_en=offer.name_en,
        name_zh_hant=offer.name_zh_hant,
        sessions_total=offer.sessions,
        price=price,
        expires_on=sold_on + timedelta(days=offer.valid_days) if offer.valid_days else None,
        sold_by=by,
    )
    if price > 0:
        ledger.entry_record(
            patient=patient,
            kind=Kind.PAYMENT,
            method=method,
            reason=Reason.PACKAGE,
            amount=price,
            package=package,
            provider=provider,
            provider_ref=provider_ref,
            idempotency_key=ledger_key,
            by=by,
            now=now,
        )
    return package


def package_sell(
    *,
    patient: Patient,
    offer: PackageOffer,
    method: str,
    by: User,
    key: str,
    plan: TreatmentPlan | None = None,
    now: datetime | None = None,
) -> Package:
    """Sells ``offer`` to ``patient`` at the desk, paid by ``method`` (one of
    LedgerEntry.DESK_METHODS): the package and its PAYMENT in one transaction.
    Tied to ``plan`` if given (the patient's, of the offer's treatment), else
    to the patient's newest active plan of the treatment, if any.

    Idempotent by ``key``: the same key returns the package it made. Raises
    InvalidInput (unknown method, retired offer, someone else's plan, a key used
    for another sale). The caller has checked that ``by`` is staff."""
    key = _clean_key(key)
    if method not in LedgerEntry.DESK_METHODS:
        message = _("Choose how the patient paid at the desk.")
        raise InvalidInput(message, fields={"method": [message]})
    now = now or timezone.now()
    with transaction.atomic():
        ledger_key = f"package-sale:{key}"
        if not LedgerEntry.objects.filter(idempotency_key=ledger_key).exists() and not (
            offer.active and offer.treatment.active
        ):
            message = _("This package is no longer sold.")
            raise InvalidInput(message, fields={"offer": [message]})
        return _sell(
            patient=patient,
            offer=offer,
            plan=plan,
            method=method,
            price=ledger.money(offer.price),
            ledger_key=ledger_key,
            by=by,
            now=now,
        )


def package_activate_paid(
    *,
    patient: Patient,
    offer: PackageOffer,
    payment_intent: str,
    amount: Decimal,
    plan: TreatmentPlan | None = None,
    now: datetime | None = None,
) -> Package:
    """What a paid online checkout for ``offer`` does (the provider's webhook
    calls it): the same as a desk sale, paid ``online`` through Stripe with
    ``payment_intent`` as the provider's reference, at the ``amount`` the
    patient paid (the offer's price when the checkout opened). Idempotent by
    the payment intent: a replayed webhook returns the same package. A retired
    offer is still honoured: the patient has paid for it."""
    if not payment_intent:
        raise InvalidInput(_("The payment's reference is missing."))
    with transaction.atomic():
        return _sell(
            patient=patient,
            offer=offer,
            plan=plan,
            method=Method.ONLINE,
            price=ledger.money(amount),
            ledger_key=f"package-online:{payment_intent}"[:100],
            provider=deposits.STRIPE,
            provider_ref=payment_intent,
            by=None,
            now=now or timezone.now(),
        )


# --- redeeming ------------------------------------------------------------------------


def package_redeem(*, appointment: Appointment, by: User | None = None, now: datetime | None = None) -> Package | None:
    """Redeems one session for a completed ``appointment`` from the patient's
    oldest active, unexpired package of its treatment (one tied to the visit's
    plan first), or does nothing when none covers it. Runs inside the caller's
    transaction (appointment_complete); idempotent per visit."""
    credited = (
        LedgerEntry.objects.filter(appointment=appointment, kind=Kind.PACKAGE_CREDIT).select_related("package").first()
    )
    if credited is not None:
        return credited.package
    visit_day = clinic_date(appointment.start)
    plan_id = None
    if appointment.plan_session_id is not None:
        plan_id = appointment.plan_session.plan_id  # type: ignore[union-attr]
    with transaction.atomic():
        # Every candidate is locked in id order (no deadlock between two visits);
        # PostgreSQL re-checks the filter on rows another transaction changed.
        candidates = list(
            _redeemable(patient_id=appointment.patient_id, treatment_id=appointment.treatment_id, on=visit_day)
            .select_for_update()
            .order_by("id")
        )
        if not candidates:
            return None
        candidates.sort(key=lambda p: (p.plan_id != plan_id or plan_id is None, p.created_at, p.pk))
        package = candidates[0]
        value = unit_values(package.price, package.sessions_total)[package.sessions_used]
        package.sessions_used += 1
        if package.sessions_used >= package.sessions_total:
            package.status = Status.USED
        package.save(update_fields=["sessions_used", "status", "updated_at"])
        if value > 0:
            ledger.entry_record(
                patient=appointment.patient,
                kind=Kind.PACKAGE_CREDIT,
                method=Method.PACKAGE,
                reason=Reason.PACKAGE,
                amount=value,
                appointment=appointment,
                package=package,
                idempotency_key=f"package-credit:{appointment.pk}",
                by=by,
                now=now,
            )
        return package


# --- expiry and refunds ---------------------------------------------------------------


def packages_expire(*, now: datetime | None = None) -> int:
    """Marks active packages past their last day expired. Safe to run twice."""
    today = clinic_date(now or timezone.now())
    return Package.objects.filter(status=Status.ACTIVE, expires_on__lt=today).update(
        status=Status.EXPIRED, updated_at=now or timezone.now()
    )


@dataclass(frozen=True)
class Refunded:
    package: Package
    amount: Decimal
    online: bool


def package_refund_unused(
    *, package: Package, by: User, method: str, key: str, now: datetime | None = None
) -> Refunded:
    """Refunds the unused sessions of ``package`` by the clinic's rule and marks it refunded.

    Pro rata: the unused sessions' unit values. A package bought online is
    refunded through the provider (``deposits.refund_request``: owed now,
    recorded when the provider accepts; ``method`` is ignored); otherwise at
    the desk by ``method``, a REFUND reversing the package's payment. An
    active or expired package may be refunded, once; the same ``key`` again
    returns the first answer. Raises InvalidInput (method, key) and
    InvalidState (rule ``none``, nothing left, already refunded). The caller
    has checked that ``by`` is a manager."""
    key = _clean_key(key)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Package.objects.select_for_update().get(pk=package.pk)
        payment = payment_of(locked)
        done = LedgerEntry.objects.filter(idempotency_key=f"package-refund:{key}").first()
        if locked.status == Status.REFUNDED:
            if done is not None and done.package_id == locked.pk:
                return Refunded(locked, done.amount, online=False)
            if payment is not None and payment.provider and _pending_refund(payment, key):
                return Refunded(locked, _pending_refund(payment, key) or ledger.ZERO, online=True)
            raise InvalidState(_("This package has already been refunded."))
        if refund_rule() == NO_REFUND:
            raise InvalidState(_("The clinic does not refund unused sessions."))
        if locked.status not in (Status.ACTIVE, Status.EXPIRED) or locked.sessions_left == 0:
            raise InvalidState(_("This package has no unused sessions to refund."))
        amount = refund_amount(locked)
        online = payment is not None and payment.provider == deposits.STRIPE
        if not online and method not in LedgerEntry.DESK_METHODS:
            message = _("Choose how the money is returned at the desk.")
            raise InvalidInput(message, fields={"method": [message]})
        if amount > 0 and payment is not None:
            amount = min(amount, ledger.refundable(payment))
            if online:
                deposits.refund_request(
                    payment=payment,
                    amount=amount,
                    reason=Reason.UNUSED_SESSIONS,
                    key=f"package-refund:{key}",
                    by=by,
                    now=now,
                )
            elif amount > 0:
                ledger.entry_record(
                    patient=locked.patient,
                    kind=Kind.REFUND,
                    method=method,
                    reason=Reason.UNUSED_SESSIONS,
                    amount=amount,
                    reverses=payment,
                    package=locked,
                    idempotency_key=f"package-refund:{key}",
                    by=by,
                    now=now,
                )
        locked.status = Status.REFUNDED
        locked.save(update_fields=["status", "updated_at"])
        return Refunded(locked, amount, online=online)


def _pending_refund(payment: LedgerEntry, key: str) -> Decimal | None:
    from booking.models import ProviderRefund

    row = ProviderRefund.objects.filter(payment=payment, idempotency_key=f"package-refund:{key}").first()
    return row.amount if row is not None else None
