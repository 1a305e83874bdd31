# ruff: noqa: F811 (pytest fixtures imported from tests.fakes.stripe)
"""Deposits end to end through a live server and the fake Stripe, on
PostgreSQL with real concurrent clients: the patient pays and the signed
webhook confirms; a late payment racing the sweep and another patient's
booking of the same slot ends in exactly one holder of the slot, and the
late payer's money goes back once."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken

from booking import deposits
from booking.models import Appointment, DepositCheckout, LedgerEntry, ProviderRefund
from tests.api.conftest import next_weekday_at
from tests.factories import HealthDeclarationFactory, PatientFactory, PractitionerFactory, RoomFactory, TreatmentFactory
from tests.fakes.stripe import FakeStripe, stripe_server  # noqa: F401 (fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 4


@pytest.fixture
def live_stripe(stripe_server: FakeStripe, settings: Any, live_server: Any) -> FakeStripe:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CLINIC_BASE_URL = live_server.url
    settings.CLINIC_PAYMENT_HOLD = timedelta(minutes=15)
    stripe_server.reset()
    stripe_server.app_url = live_server.url
    settings.CLINIC_PAYMENTS = stripe_server.setting()
    return stripe_server


def _call(url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _patient_token() -> str:
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    return AuthToken.objects.create(patient.user)[1]


def _clinic() -> Any:
    treatment = TreatmentFactory(slug="pico", duration_minutes=30, buffer_minutes=10, deposit_amount=500)
    RoomFactory(kind=treatment.room_kind)
    PractitionerFactory(treatments=[treatment])
    return treatment


def _session_of(fake: FakeStripe, appointment_id: int) -> str:
    return next(s["id"] for s in fake.sessions.values() if s["metadata"]["appointment"] == str(appointment_id))


def _race(url: str, rival: str, slug: str, start: Any, session_id: str, fake: FakeStripe) -> dict[str, Any]:
    """Another patient books ``start``, the late payment's webhook arrives and
    the sweep runs, released together; what each got."""
    barrier = threading.Barrier(3)
    results: dict[str, Any] = {}

    def book_rival() -> None:
        barrier.wait(timeout=30)
        results["rival"] = _call(url, rival, {"treatment": slug, "start": start.isoformat()})

    def pay_late() -> None:
        barrier.wait(timeout=30)
        results["webhook"] = fake.pay(session_id)[1]

    def sweep() -> None:
        try:
            barrier.wait(timeout=30)
            deposits.holds_sweep()
            results["sweep"] = "ok"
        except Exception as error:  # any failure is the bug we look for
            results["sweep"] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for work in (book_rival, pay_late, sweep)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_pay_and_confirm_end_to_end(live_stripe: FakeStripe, live_server: Any) -> None:
    treatment = _clinic()
    token = _patient_token()
    start = next_weekday_at(11)
    status, body = _call(
        f"{live_server.url}/api/v1/appointments/", token, {"treatment": treatment.slug, "start": start.isoformat()}
    )
    assert status == 201 and body["status"] == "deposit_due", body
    assert body["deposit"]["checkout_url"].startswith(f"http://127.0.0.1:{live_stripe.port}/")
    _, answered = live_stripe.pay(_session_of(live_stripe, body["id"]))  # over HTTP, to the live server
    assert answered == 200
    status, detail = _call(f"{live_server.url}/api/v1/appointments/{body['id']}/", token)
    assert status == 200 and detail["status"] == "confirmed"
    assert LedgerEntry.objects.filter(kind="payment", appointment_id=body["id"]).count() == 1


def test_a_late_payment_racing_the_sweep_and_another_booking_ends_with_one_holder(
    live_stripe: FakeStripe, live_server: Any
) -> None:
    treatment = _clinic()
    late, rival = _patient_token(), _patient_token()
    url = f"{live_server.url}/api/v1/appointments/"
    outcomes: list[str] = []
    for round_ in range(ROUNDS):
        start = next_weekday_at(10 + 2 * round_)
        status, body = _call(url, late, {"treatment": treatment.slug, "start": start.isoformat()})
        assert status == 201, body
        appointment_id = body["id"]
        # The hold runs out before the patient's payment arrives.
        Appointment.objects.filter(pk=appointment_id).update(hold_expires_at=timezone.now() - timedelta(seconds=1))
        session_id = _session_of(live_stripe, appointment_id)
        results = _race(url, rival, treatment.slug, start, session_id, live_stripe)

        assert results["webhook"] == 200 and results["sweep"] == "ok", results
        rival_status, rival_body = results["rival"]
        assert rival_status in (201, 409), results
        holders = Appointment.objects.filter(start=start, status__in=Appointment.HOLDING_STATUSES)
        assert holders.count() == 1, list(holders.values("pk", "status", "patient_id"))
        mine = Appointment.objects.get(pk=appointment_id)
        checkout_row = DepositCheckout.objects.get(appointment_id=appointment_id)
        payment = LedgerEntry.objects.get(kind="payment", appointment_id=appointment_id)
        if rival_status == 409:
            outcomes.append("late payer kept the slot")
            assert mine.status == Appointment.Status.CONFIRMED
            assert checkout_row.status == DepositCheckout.Status.PAID
            assert not ProviderRefund.objects.filter(payment=payment).exists()
        else:
            outcomes.append("rival took the slot")
            assert rival_body["status"] == "deposit_due"
            assert mine.status == Appointment.Status.CANCELLED
            assert checkout_row.status == DepositCheckout.Status.REFUNDED
            refund = ProviderRefund.objects.get(payment=payment)
            deposits.refunds_sweep(timezone.now() + timedelta(hours=1))
            deposits.refund_send(refund_id=refund.pk)  # a second try finds nothing to do
            intent = payment.provider_ref
            assert len([r for r in live_stripe.refunds.values() if r["payment_intent"] == intent]) == 1
            assert LedgerEntry.objects.filter(kind="refund", reverses=payment).count() == 1
        # The webhook again, late: nothing changes.
        assert live_stripe.resend(live_stripe.complete(session_id)).send() == 200
        assert LedgerEntry.objects.filter(kind="payment", appointment_id=appointment_id).count() == 1
    assert len(outcomes) == ROUNDS


def test_the_rival_books_first_then_the_late_payment_is_refunded(live_stripe: FakeStripe, live_server: Any) -> None:
    treatment = _clinic()
    late, rival = _patient_token(), _patient_token()
    url = f"{live_server.url}/api/v1/appointments/"
    start = next_weekday_at(12)
    _, body = _call(url, late, {"treatment": treatment.slug, "start": start.isoformat()})
    Appointment.objects.filter(pk=body["id"]).update(hold_expires_at=timezone.now() - timedelta(seconds=1))
    status, _ = _call(url, rival, {"treatment": treatment.slug, "start": start.isoformat()})
    assert status == 201
    assert live_stripe.pay(_session_of(live_stripe, body["id"]))[1] == 200
    assert Appointment.objects.get(pk=body["id"]).status == Appointment.Status.CANCELLED
    assert (
        deposits.refunds_sweep(timezone.now() + timedelta(hours=1))
        + ProviderRefund.objects.filter(status=ProviderRefund.Status.DONE).count()
        >= 1
    )
    assert len(live_stripe.refunds) == 1
    assert Appointment.objects.filter(start=start, status__in=Appointment.HOLDING_STATUSES).count() == 1
