"""Online deposits through Stripe (booking.deposits), against the local fake
(tests/fakes/stripe.py): the patient's booking waits for its deposit holding
the slot, only the signed webhook confirms it, replays and reordering change
nothing, a lapsed hold frees the slot, a late payment takes its slot back or is
refunded, and refunds are made once at the provider."""

# ruff: noqa: F811 (pytest fixtures imported from tests.api.conftest and tests.fakes.stripe)
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from booking import checkout, deposits, ledger
from booking.models import Appointment, DepositCheckout, InboundEvent, LedgerEntry, Notification, ProviderRefund
from tests.api.conftest import (  # noqa: F401 (fixtures)
    anonymous,
    as_a,
    as_b,
    as_reception,
    as_role,
    client_for,
    next_weekday_at,
    patient_a,
    patient_b,
)
from tests.factories import PractitionerFactory, RoomFactory, TreatmentFactory
from tests.fakes.stripe import Delivery, FakeStripe, fake_stripe, stripe_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

Status = Appointment.Status


@pytest.fixture(autouse=True)
def clinic(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CLINIC_BASE_URL = "http://testserver"
    settings.CLINIC_PAYMENT_HOLD = timedelta(minutes=15)


@pytest.fixture
def laser() -> Any:
    treatment = TreatmentFactory(
        slug="pico-laser", duration_minutes=30, buffer_minutes=10, price=Decimal("2500.00"), deposit_amount=500
    )
    RoomFactory(kind=treatment.room_kind)
    PractitionerFactory(treatments=[treatment])
    return treatment


@pytest.fixture
def slot() -> Any:
    return next_weekday_at(11)


def _book(client: Any, treatment: Any, start: Any) -> Any:
    return client.post(
        "/api/v1/appointments/", {"treatment": treatment.slug, "start": start.isoformat()}, format="json"
    )


def _session(fake: FakeStripe) -> dict[str, Any]:
    (session,) = fake.sessions.values()
    return session


def test_a_patients_booking_waits_for_its_deposit_holding_the_slot_and_the_webhook_confirms_it(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, as_b: Any, patient_a: Any
) -> None:
    response = _book(as_a, laser, slot)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "deposit_due"
    assert body["deposit"]["amount"] == "500.00"
    assert body["deposit"]["checkout_url"] == _session(fake_stripe)["url"]
    assert body["deposit"]["expires_at"]
    # What Stripe was asked: a payment in HKD cents, cards, Alipay and WeChat Pay, tied to the checkout.
    (call,) = fake_stripe.of("POST", "/v1/checkout/sessions")
    form = call.form
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][currency]"] == "hkd"
    assert form["line_items[0][price_data][unit_amount]"] == "50000"
    assert {form[f"payment_method_types[{i}]"] for i in range(3)} == {"card", "alipay", "wechat_pay"}
    assert form["payment_method_options[wechat_pay][client]"] == "web"
    row = DepositCheckout.objects.get()
    assert call.idempotency_key == str(row.uid)
    assert call.metadata() == {"checkout": str(row.uid), "appointment": str(body["id"])}
    assert form["success_url"].startswith(f"http://testserver/appointments/{body['id']}/deposit/done/")
    assert int(form["expires_at"]) >= int((timezone.now() + timedelta(minutes=30)).timestamp())
    # No confirmation yet; the slot is held: another patient cannot take it.
    assert not Notification.objects.filter(kind=Notification.Kind.CONFIRMATION).exists()
    taken = _book(as_b, laser, slot)
    assert taken.status_code == 409 and taken.json()["code"] == "slot_unavailable"

    _, status = fake_stripe.pay(row.session_id, client=as_a)
    assert status == 200
    appointment = Appointment.objects.get(pk=body["id"])
    assert appointment.status == Status.CONFIRMED and appointment.hold_expires_at is None
    (payment,) = LedgerEntry.objects.all()
    assert (payment.kind, payment.method, payment.reason, payment.amount) == ("payment", "online", "deposit", 500)
    assert payment.provider == "stripe" and payment.provider_ref == _session(fake_stripe)["payment_intent"]
    assert payment.appointment_id == appointment.pk and payment.receipt_number
    assert ledger.balance(patient_a) == Decimal("500.00")
    row.refresh_from_db()
    assert row.status == DepositCheckout.Status.PAID
    assert Notification.objects.filter(kind=Notification.Kind.CONFIRMATION, appointment=appointment).count() == 1
    detail = as_a.get(f"/api/v1/appointments/{appointment.pk}/").json()
    assert detail["status"] == "confirmed"
    assert detail["deposit"]["amount"] == "500.00" and detail["deposit"]["checkout_url"] is None


def test_replayed_and_reordered_webhooks_leave_one_ledger_row(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any
) -> None:
    appointment_id = _book(as_a, laser, slot).json()["id"]
    session_id = _session(fake_stripe)["id"]
    completed = fake_stripe.complete(session_id)
    expired = fake_stripe.expired(session_id)
    succeeded = fake_stripe.delivery("checkout.session.async_payment_succeeded", completed.event["data"]["object"])
    # Out of order: the session's "expired" first (the hold still lasts, so nothing is released).
    assert expired.post(as_a).status_code == 200
    assert Appointment.objects.get(pk=appointment_id).status == Status.DEPOSIT_DUE
    for delivery in (completed, completed, fake_stripe.resend(completed), succeeded, expired):
        assert delivery.post(as_a).status_code == 200
    assert Appointment.objects.get(pk=appointment_id).status == Status.CONFIRMED
    assert LedgerEntry.objects.count() == 1
    assert Notification.objects.filter(kind=Notification.Kind.CONFIRMATION).count() == 1
    assert InboundEvent.objects.filter(provider="stripe").count() == 3


def test_an_async_payment_not_settled_yet_confirms_nothing(fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any):
    appointment_id = _book(as_a, laser, slot).json()["id"]
    pending = fake_stripe.complete(_session(fake_stripe)["id"], payment_status="unpaid")
    assert pending.post(as_a).status_code == 200
    assert Appointment.objects.get(pk=appointment_id).status == Status.DEPOSIT_DUE
    assert not LedgerEntry.objects.exists()


def test_a_forged_missing_or_stale_signature_is_403_and_a_signed_non_event_400(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, anonymous: Any
) -> None:
    appointment_id = _book(as_a, laser, slot).json()["id"]
    completed = fake_stripe.complete(_session(fake_stripe)["id"])
    stale = fake_stripe.signed(completed.event, timestamp=int(timezone.now().timestamp()) - 3600)
    for bad in (completed.forged(), completed.unsigned(), stale):
        response = bad.post(anonymous)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    not_json = Delivery(completed.url, {}, b"not json", {"Stripe-Signature": _sign(fake_stripe, b"not json")})
    response = not_json.post(anonymous)
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert Appointment.objects.get(pk=appointment_id).status == Status.DEPOSIT_DUE
    assert not LedgerEntry.objects.exists() and not InboundEvent.objects.exists()


def _sign(fake: FakeStripe, body: bytes) -> str:
    from tests.fakes.stripe import signature

    return signature(fake.webhook_secret, body, int(timezone.now().timestamp()))


def test_provider_down_is_a_clear_503_and_leaves_no_hold(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, as_b: Any
) -> None:
    fake_stripe.down = True
    response = _book(as_a, laser, slot)
    assert response.status_code == 503
    assert response.json()["code"] == "payment_unavailable" and response.json()["detail"]
    assert not Appointment.objects.filter(status__in=[Status.DEPOSIT_DUE, Status.CONFIRMED]).exists()
    assert DepositCheckout.objects.get().status == DepositCheckout.Status.CANCELLED
    fake_stripe.down = False
    assert _book(as_b, laser, slot).status_code == 201  # the slot was given back


def test_without_a_provider_or_for_staff_the_booking_is_confirmed_at_once(
    settings: Any, laser: Any, slot: Any, as_a: Any, patient_b: Any, as_reception: Any, stripe_server: FakeStripe
) -> None:
    settings.CLINIC_PAYMENTS = None
    response = _book(as_a, laser, slot)
    assert response.status_code == 201 and response.json()["status"] == "confirmed"
    assert response.json()["deposit"] is None
    settings.CLINIC_PAYMENTS = stripe_server.setting()
    staff = as_reception.post(
        "/api/v1/appointments/",
        {"treatment": laser.slug, "start": (slot + timedelta(hours=1)).isoformat(), "patient": patient_b.pk},
        format="json",
    )
    assert staff.status_code == 201 and staff.json()["status"] == "confirmed"
    assert not DepositCheckout.objects.exists()


def test_a_treatment_without_a_deposit_books_as_today(fake_stripe: FakeStripe, slot: Any, as_a: Any) -> None:
    plain = TreatmentFactory(slug="peel", duration_minutes=30)
    RoomFactory(kind=plain.room_kind)
    PractitionerFactory(treatments=[plain])
    response = _book(as_a, plain, slot)
    assert response.status_code == 201 and response.json()["status"] == "confirmed"
    assert not fake_stripe.calls


def test_the_sweep_lapses_an_expired_hold_and_frees_the_slot(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, as_b: Any
) -> None:
    appointment_id = _book(as_a, laser, slot).json()["id"]
    deposits.payments_sweep(timezone.now())  # nothing has expired yet
    assert Appointment.objects.get(pk=appointment_id).status == Status.DEPOSIT_DUE
    deposits.payments_sweep(timezone.now() + timedelta(minutes=16))
    lapsed = Appointment.objects.get(pk=appointment_id)
    assert lapsed.status == Status.CANCELLED and lapsed.hold_expires_at is None
    assert lapsed.cancellation_reason == checkout.lapse_reason()
    assert DepositCheckout.objects.get().status == DepositCheckout.Status.EXPIRED
    assert _book(as_b, laser, slot).status_code == 201


def test_an_expired_hold_is_lapsed_by_the_next_booking_there(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, as_b: Any
) -> None:
    appointment_id = _book(as_a, laser, slot).json()["id"]
    # The hold runs out, and the sweep has not come by yet.
    Appointment.objects.filter(pk=appointment_id).update(hold_expires_at=timezone.now() - timedelta(seconds=1))
    response = _book(as_b, laser, slot)
    assert response.status_code == 201, response.json()
    assert Appointment.objects.get(pk=appointment_id).status == Status.CANCELLED


def test_a_late_payment_takes_the_slot_back_when_it_is_still_free(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any
) -> None:
    appointment_id = _book(as_a, laser, slot).json()["id"]
    deposits.payments_sweep(timezone.now() + timedelta(minutes=16))
    assert Appointment.objects.get(pk=appointment_id).status == Status.CANCELLED
    fake_stripe.pay(_session(fake_stripe)["id"], client=as_a)
    appointment = Appointment.objects.get(pk=appointment_id)
    assert appointment.status == Status.CONFIRMED and not appointment.cancellation_reason
    assert DepositCheckout.objects.get().status == DepositCheckout.Status.PAID
    assert not ProviderRefund.objects.exists()


def test_a_late_payment_for_a_slot_taken_meanwhile_is_refunded_and_the_patient_told(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, as_b: Any, patient_a: Any
) -> None:
    appointment_id = _book(as_a, laser, slot).json()["id"]
    deposits.payments_sweep(timezone.now() + timedelta(minutes=16))
    other = _book(as_b, laser, slot)
    assert other.status_code == 201 and other.json()["status"] == "deposit_due"
    fake_stripe.pay(_first_session(fake_stripe), client=as_a)
    assert Appointment.objects.get(pk=appointment_id).status == Status.CANCELLED
    mine = DepositCheckout.objects.get(appointment_id=appointment_id)
    assert mine.status == DepositCheckout.Status.REFUNDED
    refund = ProviderRefund.objects.get()
    assert refund.reason == LedgerEntry.Reason.HOLD_EXPIRED and refund.amount == Decimal("500.00")
    notice = Notification.objects.get(kind=Notification.Kind.DEPOSIT_REFUNDED)
    assert notice.appointment_id == appointment_id
    # The refund goes out (after commit, or the sweep): once at the provider, one REFUND row.
    assert deposits.refund_send(refund_id=refund.pk) == "done"
    assert deposits.refund_send(refund_id=refund.pk) == "skipped"
    assert len(fake_stripe.refunds) == 1
    assert ledger.balance(patient_a) == Decimal("0.00")
    assert LedgerEntry.objects.filter(kind="refund", reason="hold_expired").count() == 1
    # Exactly one visit holds the slot: the other patient's.
    assert Appointment.objects.filter(start=slot, status__in=Appointment.HOLDING_STATUSES).count() == 1


def _first_session(fake: FakeStripe) -> str:
    """The session of the first booking (the patient who paid late)."""
    first = str(Appointment.objects.order_by("pk").values_list("pk", flat=True).first())
    return next(s["id"] for s in fake.sessions.values() if s["metadata"]["appointment"] == first)


def test_the_late_payment_email_exists_in_both_languages(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, as_b: Any, patient_a: Any
) -> None:
    from booking.emails import build_message

    _book(as_a, laser, slot)
    deposits.payments_sweep(timezone.now() + timedelta(minutes=16))
    _book(as_b, laser, slot)
    fake_stripe.pay(_first_session(fake_stripe), client=as_a)
    notice = Notification.objects.select_related("patient", "appointment__treatment").get(
        kind=Notification.Kind.DEPOSIT_REFUNDED
    )
    english = build_message(notice, now=timezone.now())
    assert "refund" in english.subject.lower() and "HK$500.00" in english.body
    patient_a.preferred_language = "zh-hant"
    patient_a.save(update_fields=["preferred_language"])
    notice.refresh_from_db()
    chinese = build_message(notice, now=timezone.now())
    assert "退還" in chinese.subject and "退回" in chinese.body


# --- refunds through the provider -------------------------------------------------------------


@pytest.fixture
def paid(fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any) -> LedgerEntry:
    _book(as_a, laser, slot)
    fake_stripe.pay(_session(fake_stripe)["id"], client=as_a)
    return LedgerEntry.objects.get(kind="payment")


def test_a_refund_asked_twice_is_made_once_at_the_provider(fake_stripe: FakeStripe, paid: LedgerEntry) -> None:
    first = deposits.refund_request(payment=paid, amount=Decimal("500"), reason="cancelled_in_time", key="cancel:1")
    again = deposits.refund_request(payment=paid, amount=Decimal("500"), reason="cancelled_in_time", key="cancel:1")
    assert first.pk == again.pk and ProviderRefund.objects.count() == 1
    assert deposits.refund_send(refund_id=first.pk) == "done"
    assert deposits.refunds_sweep(timezone.now() + timedelta(hours=1)) == 0
    assert len(fake_stripe.refunds) == 1
    (call,) = fake_stripe.of("POST", "/v1/refunds")
    assert call.idempotency_key == "cancel:1" and call.form["amount"] == "50000"
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    paid.refresh_from_db()
    assert paid.reversed_amount == Decimal("500.00")


def test_a_refund_the_provider_fails_is_retried_by_the_sweep(fake_stripe: FakeStripe, paid: LedgerEntry) -> None:
    fake_stripe.fail("/v1/refunds", status=500)
    row = deposits.refund_request(payment=paid, amount=Decimal("200"), reason="cancelled_in_time", key="cancel:2")
    assert deposits.refund_send(refund_id=row.pk) == "retry"
    row.refresh_from_db()
    assert row.status == ProviderRefund.Status.PENDING and row.attempts == 1
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    assert deposits.refunds_sweep(timezone.now()) == 0  # not due yet: it waits its back-off
    assert deposits.refunds_sweep(timezone.now() + timedelta(minutes=5)) == 1
    row.refresh_from_db()
    assert row.status == ProviderRefund.Status.DONE
    assert len(fake_stripe.refunds) == 1 and LedgerEntry.objects.filter(kind="refund").count() == 1


# --- the patient's pages ----------------------------------------------------------------------


def test_the_portal_sends_the_patient_to_the_checkout_and_back(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, patient_a: Any, client: Any
) -> None:
    appointment_id = _book(as_a, laser, slot).json()["id"]
    client.force_login(patient_a.user)
    done = client.get(f"/appointments/{appointment_id}/deposit/done/")
    assert done.status_code == 200 and b"We are confirming your payment." in done.content
    back = client.get(f"/appointments/{appointment_id}/deposit/cancelled/")
    assert back.status_code == 200 and b"Pay the deposit" in back.content
    pay = client.post(f"/appointments/{appointment_id}/deposit/pay/")
    assert pay.status_code == 302 and pay["Location"] == _session(fake_stripe)["url"]
    mine = client.get("/appointments/")
    assert b"Awaiting deposit" in mine.content and b"Pay the deposit" in mine.content
    detail = client.get(f"/appointments/{appointment_id}/")
    assert b"Awaiting deposit" in detail.content and b"Pay the deposit" in detail.content
    fake_stripe.pay(_session(fake_stripe)["id"], client=as_a)
    confirmed = client.get(f"/appointments/{appointment_id}/deposit/done/")
    assert confirmed.status_code == 302 and confirmed["Location"].endswith(f"/appointments/{appointment_id}/?booked=1")


def test_the_patient_can_give_the_held_time_back(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, as_b: Any, patient_a: Any, client: Any
) -> None:
    appointment_id = _book(as_a, laser, slot).json()["id"]
    client.force_login(patient_a.user)
    assert client.post(f"/appointments/{appointment_id}/deposit/release/").status_code == 302
    released = Appointment.objects.get(pk=appointment_id)
    assert released.status == Status.CANCELLED and released.cancelled_by == Appointment.CancelledBy.PATIENT
    assert _book(as_b, laser, slot).status_code == 201
    # Paid anyway, from a tab left open: refunded, not booked.
    fake_stripe.pay(_first_session(fake_stripe), client=as_a)
    assert Appointment.objects.get(pk=appointment_id).status == Status.CANCELLED
    assert ProviderRefund.objects.count() == 1


@pytest.mark.parametrize("page", ["done/", "cancelled/"])
def test_another_patient_gets_404_and_a_visitor_is_sent_to_sign_in(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, patient_b: Any, client: Any, page: str
) -> None:
    appointment_id = _book(as_a, laser, slot).json()["id"]
    url = f"/appointments/{appointment_id}/deposit/{page}"
    assert client.get(url).status_code == 302  # to sign in
    client.force_login(patient_b.user)
    assert client.get(url).status_code == 404
    assert client.post(f"/appointments/{appointment_id}/deposit/pay/").status_code == 404
    assert client.post(f"/appointments/{appointment_id}/deposit/release/").status_code == 404
    assert Appointment.objects.get(pk=appointment_id).status == Status.DEPOSIT_DUE


def _confirm_step(client: Any, treatment: Any, start: Any) -> Any:
    local = timezone.localtime(start)
    return client.post(
        "/book/",
        {
            "action": "confirm",
            "treatment": treatment.slug,
            "practitioner": "any",
            "date": local.date().isoformat(),
            "time": local.strftime("%H:%M"),
        },
    )


def test_the_booking_pages_send_the_patient_to_pay_or_say_clearly_that_they_cannot(
    fake_stripe: FakeStripe, laser: Any, slot: Any, patient_a: Any, patient_b: Any, client: Any
) -> None:
    client.force_login(patient_a.user)
    response = _confirm_step(client, laser, slot)
    appointment = Appointment.objects.get(patient=patient_a)
    assert appointment.status == Status.DEPOSIT_DUE
    assert response.status_code == 302 and response["Location"] == _session(fake_stripe)["url"]

    fake_stripe.down = True
    client.force_login(patient_b.user)
    refused = _confirm_step(client, laser, slot + timedelta(hours=4))  # 15:00, after lunch
    assert refused.status_code == 200
    assert "Online payment is not available right now" in refused.content.decode()
    assert not Appointment.objects.filter(patient=patient_b, status__in=Appointment.HOLDING_STATUSES).exists()


def test_a_released_hold_expires_its_session_at_the_provider(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _book(as_a, laser, slot)
    session_id = _session(fake_stripe)["id"]
    with django_capture_on_commit_callbacks() as callbacks:
        deposits.payments_sweep(timezone.now() + timedelta(minutes=16))
    assert callbacks  # the expiry is asked after commit (a task; here, directly)
    assert deposits.session_expire(session_id=session_id)
    assert fake_stripe.sessions[session_id]["status"] == "expired"
    assert not deposits.session_expire(session_id=session_id)  # already expired: refused, harmless


def test_the_staff_schedule_shows_a_visit_awaiting_its_deposit_as_pending(
    fake_stripe: FakeStripe, laser: Any, slot: Any, as_a: Any, client: Any
) -> None:
    from tests.factories import UserFactory

    _book(as_a, laser, slot)
    client.force_login(UserFactory(role="receptionist"))
    page = client.get(f"/staff/?date={timezone.localtime(slot).date().isoformat()}").content.decode()
    assert "Pending: awaiting deposit" in page and "appt-deposit_due" in page
