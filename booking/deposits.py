"""Money through the online provider (Stripe): deposits, the client and refunds.

Deposits (docs in README, "Online deposits"): when a patient books online a
treatment whose ``ledger.deposit_for`` is not None and a provider is
configured, ``appointment_book_online`` books the visit as ``deposit_due``,
holding its slot for CLINIC_PAYMENT_HOLD, and opens a Stripe Checkout Session
(``checkout_open``). Only the provider's signed webhook (booking/hooks.py →
``stripe_event_handle``) confirms it: the PAYMENT row, the checkout paid, the
visit confirmed and its confirmation queued, in one transaction. A hold that
lapses is cancelled by the next writer there or by the minute's sweep
(booking.checkout). A payment that lands after that is kept if the slot is
still free, and refunded (``refund_request``, reason hold_expired) with a
message to the patient if it is not. Every writer of a checkout takes the
slot's advisory locks, then the checkout row, then the appointment row.

``PAYMENTS_URL`` (clinic/settings.py) names the provider; unset, there is none
and everything is paid at the desk. The provider is reached with the official
``stripe`` library, pointed at ``base_url`` so tests and staging can use a
local fake of its HTTP API.

Refunds are an outbox of their own: ``refund_request`` writes a
``ProviderRefund`` row in the caller's transaction, and ``refund_send`` (a
task after commit, then the sweep until the provider answers) asks the
provider with the row's idempotency key, so a refund asked twice is made
once. The ledger's REFUND row is written only when the provider accepted.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import checkout, holds, ledger, notifications, selectors, services
from booking.models import Appointment, DepositCheckout, InboundEvent, LedgerEntry, PackageOffer, ProviderRefund
from clinic import events
from clinic.clock import clinic_date
from clinic.errors import InvalidInput, InvalidState, PaymentUnavailable
from patients.models import Patient
from treatments import services as clinical
from treatments.models import Treatment

if TYPE_CHECKING:
    import stripe
    from django.contrib.auth.models import User

    from booking.models import Practitioner

logger = logging.getLogger(__name__)

STRIPE = "stripe"
REFUND_TASK = "booking.tasks.deposit_refund_send"
REFUND_MAX_ATTEMPTS = 8
REFUND_RETRY = timedelta(minutes=1)


def configured() -> bool:
    """Whether an online provider is configured (PAYMENTS_URL)."""
    return bool(getattr(settings, "CLINIC_PAYMENTS", None))


def options() -> dict[str, str]:
    if not configured():
        raise InvalidState(_("Online payments are not set up at this clinic."))
    payments: dict[str, Any] = settings.CLINIC_PAYMENTS or {}
    return dict(payments["OPTIONS"])


def client() -> stripe.StripeClient:
    """A Stripe client for the configured account and base URL."""
    import stripe

    config = options()
    return stripe.StripeClient(
        config["account"],
        base_addresses={"api": config["base_url"]},
        max_network_retries=0,
    )


def webhook_secret() -> str:
    return options()["secret"]


def cents(amount: Decimal) -> int:
    """An amount in the provider's smallest unit (HKD cents)."""
    return int((ledger.money(amount) * 100).to_integral_value())


def from_cents(value: int) -> Decimal:
    return ledger.money(Decimal(value) / 100)


def refund_request(
    *,
    payment: LedgerEntry,
    amount: Decimal,
    reason: str,
    key: str,
    by: User | None = None,
    now: datetime | None = None,
) -> ProviderRefund:
    """Owes the patient ``amount`` of an online ``payment`` back through the
    provider. Call inside the transaction that decides it; idempotent by
    ``key``. Refuses more than is left of the payment once earlier refunds,
    made or still pending, are counted."""
    existing = ProviderRefund.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    if payment.kind != LedgerEntry.Kind.PAYMENT or payment.provider != STRIPE or not payment.provider_ref:
        raise InvalidInput(_("Only a payment made online can be refunded online."))
    locked = LedgerEntry.objects.select_for_update().get(pk=payment.pk)
    pending = sum(
        (row.amount for row in ProviderRefund.objects.filter(payment=locked, status=ProviderRefund.Status.PENDING)),
        Decimal("0"),
    )
    amount = ledger.money(amount)
    if amount <= 0 or amount > locked.amount - locked.reversed_amount - pending:
        raise InvalidInput(
            _("That is more than is left of the payment."),
            fields={"amount": [_("That is more than is left of the payment.")]},
        )
    row = ProviderRefund.objects.create(
        payment=locked,
        amount=amount,
        reason=reason,
        idempotency_key=key,
        requested_by=by,
        next_attempt_at=now or timezone.now(),
    )
    transaction.on_commit(partial(_send_later, row.pk))
    return row


def _send_later(refund_id: int) -> None:
    from clinic.celery import app

    try:
        app.send_task(REFUND_TASK, args=[refund_id])
    except Exception:  # the sweep sends it
        logger.warning("refund %s not queued; the sweep will send it", refund_id)


def refund_send(*, refund_id: int, now: datetime | None = None) -> str:
    """Asks the provider for refund ``refund_id`` if it is still pending and
    due; records the ledger's REFUND row when the provider accepts. Safe to
    run twice and concurrently: the row is locked while it is sent."""
    import stripe

    now = now or timezone.now()
    with transaction.atomic():
        row = (
            ProviderRefund.objects.select_for_update(skip_locked=True)
            .select_related("payment__patient")
            .filter(pk=refund_id, status=ProviderRefund.Status.PENDING)
            .first()
        )
        if row is None:
            return "skipped"
        row.attempts += 1
        try:
            made = client().v1.refunds.create(
                params={
                    "payment_intent": row.payment.provider_ref,
                    "amount": cents(row.amount),
                    "metadata": {"refund": str(row.pk)},
                },
                options={"idempotency_key": row.idempotency_key},
            )
        except stripe.InvalidRequestError as error:
            row.status = ProviderRefund.Status.FAILED
            row.last_error = f"{type(error).__name__}: {getattr(error, 'code', '') or ''}"[:300]
            row.save(update_fields=["status", "attempts", "last_error", "updated_at"])
            logger.warning("refund %s refused by the provider", row.pk)
            return "failed"
        except stripe.StripeError as error:
            row.last_error = f"{type(error).__name__}"[:300]
            if row.attempts >= REFUND_MAX_ATTEMPTS:
                row.status = ProviderRefund.Status.FAILED
            row.next_attempt_at = now + REFUND_RETRY * (2 ** (row.attempts - 1))
            row.save(update_fields=["status", "attempts", "last_error", "next_attempt_at", "updated_at"])
            return "retry"
        recorded = ledger.entry_record(
            patient=row.payment.patient,
            kind=LedgerEntry.Kind.REFUND,
            method=row.payment.method,
            reason=row.reason,
            amount=row.amount,
            reverses=row.payment,
            appointment=row.payment.appointment,
            package=row.payment.package,
            provider=STRIPE,
            provider_ref=made.id,
            idempotency_key=f"refund:{row.idempotency_key}"[:100],
            by=row.requested_by,
            now=now,
        )
        row.status = ProviderRefund.Status.DONE
        row.provider_ref = made.id
        row.refund = recorded.entry
        row.last_error = ""
        row.save(update_fields=["status", "attempts", "provider_ref", "refund", "last_error", "updated_at"])
    return "done"


def refunds_due(now: datetime | None = None) -> list[int]:
    """Pending refunds whose next attempt is due: what the sweep sends."""
    return list(
        ProviderRefund.objects.filter(
            status=ProviderRefund.Status.PENDING, next_attempt_at__lte=now or timezone.now()
        ).values_list("pk", flat=True)[:200]
    )


def refunds_sweep(now: datetime | None = None) -> int:
    sent = 0
    for refund_id in refunds_due(now):
        if refund_send(refund_id=refund_id, now=now) == "done":
            sent += 1
    return sent


def payments_sweep(now: datetime | None = None) -> None:
    """The beat's minute: deposit holds that lapsed, then refunds still owed."""
    holds_sweep(now)
    refunds_sweep(now)


def describe(refund: ProviderRefund) -> dict[str, Any]:
    return {"id": refund.pk, "amount": str(refund.amount), "status": refund.status}


# --- deposits ------------------------------------------------------------------------

SESSION_EXPIRE_TASK = "booking.tasks.deposit_session_expire"
STRIPE_MINIMUM_EXPIRY = timedelta(minutes=31)  # Stripe refuses a Checkout Session expiring within 30 minutes
PAYMENT_METHODS = ["card", "alipay", "wechat_pay"]
PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
UNPAID_EVENTS = ("checkout.session.expired", "checkout.session.async_payment_failed")


def deposit_required(treatment: Treatment) -> Decimal | None:
    """The deposit an online booking of ``treatment`` waits for, or None
    (none asked, or no provider: paid at the desk, booked at once)."""
    if not configured():
        return None
    return ledger.deposit_for(treatment)


def appointment_book_online(
    *,
    patient: Patient,
    treatment: Treatment,
    start: datetime,
    practitioner: Practitioner | None,
    booked_by: User,
    now: datetime | None = None,
    **booking: Any,
) -> tuple[Appointment, DepositCheckout | None]:
    """A patient's own online booking (the portal's flow and the API). Without
    a deposit, exactly ``services.appointment_book``. With one, the visit is
    booked ``deposit_due`` until now + CLINIC_PAYMENT_HOLD and a checkout is
    opened at the provider; if the provider fails the hold is released and
    PaymentUnavailable (503) raised. Raises what appointment_book raises."""
    amount = deposit_required(treatment)
    if amount is not None:
        from booking import packages  # packages refunds through this module

        if packages.covers(patient, treatment, on=clinic_date(start)) is not None:
            amount = None  # a course the patient has paid for covers it: no deposit
    if amount is None:
        appointment = services.appointment_book(
            patient=patient,
            treatment=treatment,
            start=start,
            practitioner=practitioner,
            booked_by=booked_by,
            staff=False,
            now=now,
            **booking,
        )
        _known_without_checkouts(appointment)
        return appointment, None
    now = now or timezone.now()
    appointment = services.appointment_book(
        patient=patient,
        treatment=treatment,
        start=start,
        practitioner=practitioner,
        booked_by=booked_by,
        staff=False,
        deposit_hold_until=now + settings.CLINIC_PAYMENT_HOLD,
        now=now,
        **booking,
    )
    opened = checkout_open(appointment=appointment, release_on_failure=True, now=now)
    appointment.refresh_from_db()
    return appointment, opened


def _known_without_checkouts(appointment: Appointment) -> None:
    """A visit just booked with no deposit asked has no checkout: its
    ``deposit_checkouts`` are known to be empty, so what shows it (the API's
    ``deposit`` field, deposit_view) need not ask the database. As if
    prefetched: ``refresh_from_db`` forgets it like any prefetch."""
    appointment._prefetched_objects_cache = {"deposit_checkouts": DepositCheckout.objects.none()}  # type: ignore[attr-defined]


def _lock_checkouts(appointment_id: int) -> list[DepositCheckout]:
    return list(DepositCheckout.objects.select_for_update().filter(appointment_id=appointment_id).order_by("pk"))


def _site_url(name: str, appointment: Appointment) -> str:
    return settings.CLINIC_BASE_URL + reverse(name, args=[appointment.pk])


def checkout_open(
    *, appointment: Appointment, release_on_failure: bool = False, now: datetime | None = None
) -> DepositCheckout:
    """A provider checkout for ``appointment``'s deposit while its hold lasts:
    the open one if it has a while to run, else a new Checkout Session (the
    older ones expired at the provider after commit). InvalidState if the
    visit no longer waits for its deposit; PaymentUnavailable if the provider
    fails (``release_on_failure``: the hold is released too)."""
    import stripe

    now = now or timezone.now()
    with transaction.atomic():
        existing = _lock_checkouts(appointment.pk)
        locked = Appointment.objects.select_for_update().select_related("treatment", "patient").get(pk=appointment.pk)
        if not checkout.awaiting(locked, now):
            raise InvalidState(_("This booking is no longer waiting for its deposit."))
        for row in existing:
            if row.status == DepositCheckout.Status.OPEN and row.url and row.expires_at > now + timedelta(minutes=2):
                return row
        amount = ledger.deposit_for(locked.treatment) or (existing[0].amount if existing else None)
        if amount is None:
            raise InvalidState(_("This treatment no longer asks for a deposit: please call the clinic."))
        stale = [row.session_id for row in existing if row.status == DepositCheckout.Status.OPEN and row.session_id]
        DepositCheckout.objects.filter(pk__in=[row.pk for row in existing], status=DepositCheckout.Status.OPEN).update(
            status=DepositCheckout.Status.CANCELLED, updated_at=now
        )
        hold_until = locked.hold_expires_at or now  # awaiting() checked it is set
        row = DepositCheckout.objects.create(
            patient=locked.patient,
            appointment=locked,
            amount=amount,
            expires_at=max(hold_until, now + STRIPE_MINIMUM_EXPIRY),
        )
        for session_id in stale:
            transaction.on_commit(partial(_expire_later, session_id))
    language = "zh-HK" if locked.patient.preferred_language.startswith("zh") else "en"
    params: Any = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": settings.CLINIC_CURRENCY.lower(),
                    "unit_amount": cents(amount),
                    "product_data": {"name": f"Deposit: {locked.treatment.name_en}"},
                },
            }
        ],
        "payment_method_types": PAYMENT_METHODS,
        "payment_method_options": {"wechat_pay": {"client": "web"}},
        "metadata": {"checkout": str(row.uid), "appointment": str(locked.pk)},
        "payment_intent_data": {"metadata": {"checkout": str(row.uid), "appointment": str(locked.pk)}},
        "client_reference_id": str(row.uid),
        "success_url": _site_url("site:deposit_done", locked) + "?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": _site_url("site:deposit_cancelled", locked),
        "expires_at": int(row.expires_at.timestamp()),
        "locale": language,
    }
    try:
        session = client().v1.checkout.sessions.create(
            params=params,
            options={"idempotency_key": str(row.uid)},
        )
    except stripe.StripeError as error:
        logger.warning("checkout %s not opened at the provider: %s", row.pk, type(error).__name__)
        with transaction.atomic():
            _lock_checkouts(locked.pk)
            DepositCheckout.objects.filter(pk=row.pk).update(status=DepositCheckout.Status.CANCELLED, updated_at=now)
            if release_on_failure:
                held = Appointment.objects.select_for_update().get(pk=locked.pk)
                if held.status == Appointment.Status.DEPOSIT_DUE:
                    checkout.release(held, reason="The online payment could not be started.", now=now)
        raise PaymentUnavailable() from None
    DepositCheckout.objects.filter(pk=row.pk).update(session_id=session.id, url=session.url or "", updated_at=now)
    row.refresh_from_db()
    return row


def package_checkout_open(*, patient: Patient, offer: PackageOffer, now: datetime | None = None) -> DepositCheckout:
    """A provider checkout for the patient to buy course package ``offer``
    online. The signed webhook activates the package
    (booking.packages.package_activate_paid) when it is paid. InvalidState if
    the offer is not sold online; PaymentUnavailable if the provider fails."""
    import stripe

    now = now or timezone.now()
    if not configured() or not offer.active or not offer.sold_online:
        raise InvalidState(_("This package is sold at the front desk."))
    row = DepositCheckout.objects.create(
        patient=patient, package_offer=offer, amount=ledger.money(offer.price), expires_at=now + STRIPE_MINIMUM_EXPIRY
    )
    language = "zh-HK" if patient.preferred_language.startswith("zh") else "en"
    done = settings.CLINIC_BASE_URL + reverse("site:package_done", args=[row.uid])
    params: Any = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": settings.CLINIC_CURRENCY.lower(),
                    "unit_amount": cents(row.amount),
                    "product_data": {"name": f"Package: {offer.name_en}"},
                },
            }
        ],
        "payment_method_types": PAYMENT_METHODS,
        "payment_method_options": {"wechat_pay": {"client": "web"}},
        "metadata": {"checkout": str(row.uid), "package_offer": str(offer.pk)},
        "payment_intent_data": {"metadata": {"checkout": str(row.uid), "package_offer": str(offer.pk)}},
        "client_reference_id": str(row.uid),
        "success_url": done,
        "cancel_url": settings.CLINIC_BASE_URL + reverse("site:treatment", args=[offer.treatment.slug]),
        "expires_at": int(row.expires_at.timestamp()),
        "locale": language,
    }
    try:
        session = client().v1.checkout.sessions.create(params=params, options={"idempotency_key": str(row.uid)})
    except stripe.StripeError as error:
        logger.warning("package checkout %s not opened at the provider: %s", row.pk, type(error).__name__)
        DepositCheckout.objects.filter(pk=row.pk).update(status=DepositCheckout.Status.CANCELLED, updated_at=now)
        raise PaymentUnavailable() from None
    DepositCheckout.objects.filter(pk=row.pk).update(session_id=session.id, url=session.url or "", updated_at=now)
    row.refresh_from_db()
    return row


def deposit_release(*, appointment: Appointment, by: User | None, now: datetime | None = None) -> Appointment:
    """The patient gives up the slot they are paying for (the cancel page):
    released at once, open checkouts expired at the provider after commit.
    InvalidState if the visit no longer waits for its deposit."""
    now = now or timezone.now()
    with transaction.atomic():
        sessions = [
            row.session_id
            for row in _lock_checkouts(appointment.pk)
            if row.status == DepositCheckout.Status.OPEN and row.session_id
        ]
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.status != Appointment.Status.DEPOSIT_DUE:
            raise InvalidState(_("This booking is no longer waiting for its deposit."))
        checkout.release(locked, reason="Released by the patient before paying the deposit.", now=now, by=by)
        locked.cancelled_by = Appointment.CancelledBy.PATIENT
        locked.save(update_fields=["cancelled_by"])
        for session_id in sessions:
            transaction.on_commit(partial(_expire_later, session_id))
    return locked


def holds_sweep(now: datetime | None = None) -> int:
    """Lapses every deposit hold that expired, each in its own transaction
    under its slot's locks (so a webhook confirming it waits, then finds it
    lapsed); their checkouts are expired at the provider after commit."""
    now = now or timezone.now()
    lapsed = 0
    for appointment_id in checkout.due(now):
        appointment = Appointment.objects.select_related("treatment").filter(pk=appointment_id).first()
        if appointment is None:
            continue
        with transaction.atomic():
            services.lock_appointment_slot(appointment)
            sessions = [
                row.session_id
                for row in _lock_checkouts(appointment.pk)
                if row.status == DepositCheckout.Status.OPEN and row.session_id
            ]
            done = checkout.lapse_expired(start=appointment.start, end=appointment.blocked_until, now=now)
            if appointment.pk in done:
                for session_id in sessions:
                    transaction.on_commit(partial(_expire_later, session_id))
            lapsed += len(done)
    return lapsed


def _expire_later(session_id: str) -> None:
    from clinic.celery import app

    try:
        app.send_task(SESSION_EXPIRE_TASK, args=[session_id], ignore_result=True)
    except Exception:  # Stripe expires it by itself; a late payment is refunded
        logger.warning("checkout session expiry not queued")


def session_expire(*, session_id: str) -> bool:
    """Asks the provider to expire a Checkout Session nobody should pay any
    more (best effort: a payment that still lands is refunded)."""
    import stripe

    try:
        client().v1.checkout.sessions.expire(session_id)
    except stripe.StripeError as error:
        logger.info("checkout session not expired: %s", type(error).__name__)
        return False
    return True


def _checkout_of(session: dict[str, Any]) -> DepositCheckout | None:
    uid = str((session.get("metadata") or {}).get("checkout") or session.get("client_reference_id") or "")
    row = None
    try:
        uuid.UUID(uid)
    except ValueError:
        uid = ""  # not one of ours
    if uid:
        row = DepositCheckout.objects.select_related("appointment__treatment").filter(uid=uid).first()
    if row is None and session.get("id"):
        row = DepositCheckout.objects.select_related("appointment__treatment").filter(session_id=session["id"]).first()
    return row


def _intent_id(session: dict[str, Any]) -> str:
    intent = session.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return str(intent or "")


def stripe_event_handle(*, event: dict[str, Any], now: datetime | None = None) -> str:
    """One verified Stripe event, handled once: a replay (same event id)
    changes nothing, and events about one checkout may come in any order (a
    checkout already paid ignores a later "expired"; one expired and then paid
    takes its slot again or is refunded). Returns what happened, for logs."""
    now = now or timezone.now()
    kind = str(event.get("type", ""))
    event_id = str(event.get("id", ""))
    if kind not in PAID_EVENTS + UNPAID_EVENTS or not event_id:
        return "ignored"
    session = (event.get("data") or {}).get("object") or {}
    found = _checkout_of(session)
    if found is None:
        return "unknown"
    with transaction.atomic(durable=True):
        if found.appointment is not None:
            services.lock_appointment_slot(found.appointment)
        try:
            with transaction.atomic():
                InboundEvent.objects.create(provider=STRIPE, event_id=event_id[:200])
        except IntegrityError:
            return "replay"
        locked = DepositCheckout.objects.select_for_update().select_related("patient").get(pk=found.pk)
        if kind in PAID_EVENTS:
            if session.get("payment_status") != "paid":
                return "waiting"  # an async method (Alipay, WeChat Pay) not settled yet
            return _paid(locked, session, now)
        return _unpaid(locked, now)


def _paid(locked: DepositCheckout, session: dict[str, Any], now: datetime) -> str:
    if locked.status in (DepositCheckout.Status.PAID, DepositCheckout.Status.REFUNDED):
        return "already"
    intent = _intent_id(session)
    amount_total = session.get("amount_total")
    amount = from_cents(int(amount_total)) if amount_total else locked.amount
    if locked.package_offer_id is not None and locked.appointment_id is None:
        from booking import packages  # packages refunds through this module

        offer = PackageOffer.objects.get(pk=locked.package_offer_id)
        packages.package_activate_paid(
            patient=locked.patient,
            offer=offer,
            payment_intent=intent or str(session.get("id", "")),
            amount=amount,
            now=now,
        )
        locked.payment_ref = intent
        locked.paid_at = now
        locked.status = DepositCheckout.Status.PAID
        locked.save(update_fields=["status", "payment_ref", "paid_at", "updated_at"])
        logger.info("package checkout %s paid", locked.pk)
        return "package"
    payment = ledger.entry_record(
        patient=locked.patient,
        kind=LedgerEntry.Kind.PAYMENT,
        method=LedgerEntry.Method.ONLINE,
        reason=LedgerEntry.Reason.DEPOSIT,
        amount=amount,
        appointment=locked.appointment,
        provider=STRIPE,
        provider_ref=intent or str(session.get("id", "")),
        idempotency_key=f"stripe:{intent or session.get('id')}"[:100],
        now=now,
    ).entry
    locked.payment_ref = intent
    locked.paid_at = now
    appointment = (
        Appointment.objects.select_for_update().select_related("treatment").get(pk=locked.appointment_id)
        if locked.appointment_id
        else None
    )
    outcome = "refunded"
    if appointment is not None and appointment.status == Appointment.Status.DEPOSIT_DUE:
        _confirm(appointment, now)
        outcome = "confirmed"
    elif appointment is not None and _lapsed(appointment, now) and _retake(appointment, now):
        _confirm(appointment, now)
        outcome = "retaken"
    if outcome == "refunded":
        refund_request(
            payment=payment,
            amount=ledger.refundable(payment),
            reason=LedgerEntry.Reason.HOLD_EXPIRED,
            key=f"hold-expired:{locked.uid}",
            now=now,
        )
        if appointment is not None:
            notifications.notify_deposit_refunded(appointment=appointment, now=now)
        locked.status = DepositCheckout.Status.REFUNDED
    else:
        locked.status = DepositCheckout.Status.PAID
    locked.save(update_fields=["status", "payment_ref", "paid_at", "updated_at"])
    logger.info("deposit checkout %s paid: %s", locked.pk, outcome)
    return outcome


def _lapsed(appointment: Appointment, now: datetime) -> bool:
    """Cancelled because its hold ran out (not by anyone's choice), and still ahead."""
    return (
        appointment.status == Appointment.Status.CANCELLED
        and appointment.cancelled_by == Appointment.CancelledBy.CLINIC
        and appointment.cancellation_reason == checkout.lapse_reason()
        and appointment.start > now
    )


def _retake(appointment: Appointment, now: datetime) -> bool:
    """Takes a lapsed visit's slot back if nobody took it meanwhile (under the
    slot's locks, which the caller holds). The exclusion constraints are the
    last word; the same check in Python says it on SQLite too."""
    holds.lapse_expired(start=appointment.start, end=appointment.blocked_until, now=now)
    checkout.lapse_expired(start=appointment.start, end=appointment.blocked_until, now=now)
    busy = selectors.busy_rows(
        start=appointment.start,
        end=appointment.blocked_until,
        practitioner_ids=[appointment.practitioner_id],
        room_ids=[appointment.room_id],
        device_ids=[appointment.device_id] if appointment.device_id else [],
        exclude_appointment_id=appointment.pk,
        now=now,
    )
    if busy or selectors.patient_has_overlap(
        patient_id=appointment.patient_id,
        start=appointment.start,
        end=appointment.end,
        exclude_appointment_id=appointment.pk,
    ):
        return False
    try:
        with transaction.atomic():
            if appointment.plan_session_id is not None:
                session = clinical.lock_plan_of_session(appointment.plan_session_id)
                clinical.plan_session_check_free(session)
                clinical.plan_session_booked(session=session, on=clinic_date(appointment.start), by=None)
            Appointment.objects.filter(pk=appointment.pk).update(
                status=Appointment.Status.DEPOSIT_DUE, hold_expires_at=now, updated_at=now
            )
    except (IntegrityError, InvalidState):
        return False
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) not in ("23P01", "40P01"):
            raise
        return False
    appointment.refresh_from_db()
    return True


def _confirm(appointment: Appointment, now: datetime) -> None:
    """deposit_due → confirmed; the confirmation and reminders queued, and the
    booking announced, as appointment_book does for a visit without a deposit."""
    appointment.status = Appointment.Status.CONFIRMED
    appointment.hold_expires_at = None
    appointment.cancelled_at = None
    appointment.cancelled_by = ""
    appointment.cancellation_reason = ""
    appointment._history_user = None
    appointment._change_reason = "deposit paid"
    appointment.save(
        update_fields=[
            "status",
            "hold_expires_at",
            "cancelled_at",
            "cancelled_by",
            "cancellation_reason",
            "updated_at",
        ]
    )
    notifications.notify_appointment_booked(appointment=appointment, now=now)
    events.emit(event=events.APPOINTMENT_CREATED, instance=appointment, now=now)


def _unpaid(locked: DepositCheckout, now: datetime) -> str:
    """The session expired, or its async payment failed: the checkout is over.
    The visit keeps its hold while it lasts (the patient may pay again); once
    it is over and nothing else is open, it is released now."""
    if locked.status != DepositCheckout.Status.OPEN:
        return "stale"
    DepositCheckout.objects.filter(pk=locked.pk).update(status=DepositCheckout.Status.EXPIRED, updated_at=now)
    if locked.appointment_id is None:
        return "expired"
    appointment = Appointment.objects.select_for_update().get(pk=locked.appointment_id)
    still_open = DepositCheckout.objects.filter(
        appointment_id=appointment.pk, status=DepositCheckout.Status.OPEN
    ).exists()
    if (
        appointment.status == Appointment.Status.DEPOSIT_DUE
        and not still_open
        and appointment.hold_expires_at is not None
        and appointment.hold_expires_at <= now
    ):
        checkout.release(appointment, reason=checkout.lapse_reason(), now=now)
        return "released"
    return "expired"


def deposit_view(appointment: Appointment, now: datetime | None = None) -> dict[str, Any] | None:
    """What the API's ``deposit`` field says about ``appointment``: the amount,
    and while the patient can pay, the checkout's URL and the hold's end."""
    rows = list(appointment.deposit_checkouts.all())
    if not rows:
        return None
    latest = max(rows, key=lambda row: (row.created_at, row.pk))
    paying = checkout.awaiting(appointment, now) and latest.status == DepositCheckout.Status.OPEN
    return {
        "amount": str(latest.amount),
        "status": latest.status,
        "checkout_url": latest.url if paying and latest.url else None,
        "expires_at": appointment.hold_expires_at if paying else None,
    }
