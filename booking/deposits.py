"""Money through the online provider (Stripe): the client and refunds.

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
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking import ledger
from booking.models import LedgerEntry, ProviderRefund
from clinic.errors import InvalidInput, InvalidState

if TYPE_CHECKING:
    import stripe
    from django.contrib.auth.models import User

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
    return dict(settings.CLINIC_PAYMENTS["OPTIONS"])


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
    """The beat's minute: refunds still owed. (Expired deposit holds join here.)"""
    refunds_sweep(now)


def describe(refund: ProviderRefund) -> dict[str, Any]:
    return {"id": refund.pk, "amount": str(refund.amount), "status": refund.status}
