"""The deposit endpoints: what the cancel answer and the deposit state say, bad input in the error shape."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from booking import ledger
from booking.models import LedgerEntry, ProviderRefund
from tests.api.conftest import client_for
from tests.factories import AppointmentFactory, PatientFactory, TreatmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit():
    treatment = TreatmentFactory(deposit_amount=Decimal("500.00"))
    return AppointmentFactory(treatment=treatment, patient=PatientFactory(), start=timezone.now() + timedelta(days=5))


@pytest.fixture
def reception():
    return client_for(UserFactory(role="receptionist"))


def _online(visit):
    return ledger.entry_record(
        patient=visit.patient,
        kind="payment",
        method="online",
        provider="stripe",
        provider_ref=f"pi_{visit.pk}",
        reason="deposit",
        appointment=visit,
        amount="500.00",
        idempotency_key=f"checkout:{visit.pk}",
    ).entry


def _error(response, status, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) <= {"code", "detail", "fields"} and body["detail"]
    if field:
        assert field in body["fields"], body


def test_the_patient_reads_beforehand_what_cancelling_does_and_the_answer_says_what_happened(visit) -> None:
    _online(visit)
    patient = client_for(visit.patient.user)
    state = patient.get(f"/api/v1/appointments/{visit.pk}/deposit/").json()
    assert state["amount"] == "500.00" and state["paid"]["method"] == "online"
    assert state["on_cancel"]["outcome"] == "refund"
    assert "HK$500.00 deposit will be refunded" in state["on_cancel"]["detail"]
    zh = patient.get(f"/api/v1/appointments/{visit.pk}/deposit/", HTTP_ACCEPT_LANGUAGE="zh-hant").json()
    assert zh["on_cancel"]["detail"] != state["on_cancel"]["detail"]
    answer = patient.post(f"/api/v1/appointments/{visit.pk}/cancel/", {}, format="json").json()
    assert answer["status"] == "cancelled"
    assert answer["deposit"]["outcome"] == "refund" and answer["deposit"]["online"] is True
    assert ProviderRefund.objects.get().amount == Decimal("500.00")


def test_staff_cancelling_at_the_patients_request_late_keeps_the_fee(visit, reception) -> None:
    _online(visit)
    visit.start = timezone.now() + timedelta(hours=3)
    visit.end = visit.start + timedelta(minutes=30)
    visit.blocked_until = visit.end
    visit.save(update_fields=["start", "end", "blocked_until"])
    answer = reception.post(f"/api/v1/appointments/{visit.pk}/cancel/", {"for_patient": True}, format="json").json()
    assert answer["deposit"]["outcome"] == "fee"
    assert LedgerEntry.objects.get(kind="fee").reason == "late_cancellation"


def test_a_patient_may_not_say_for_patient(visit) -> None:
    response = client_for(visit.patient.user).post(
        f"/api/v1/appointments/{visit.pk}/cancel/", {"for_patient": True}, format="json"
    )
    _error(response, 400, "for_patient")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "bitcoin", "idempotency_key": "k"}, "method"),
        ({"method": "online", "idempotency_key": "k"}, "method"),
        ({"method": "cash", "amount": "-5", "idempotency_key": "k"}, "amount"),
        ({"method": "cash", "amount": "0", "idempotency_key": "k"}, "amount"),
        ({"method": "cash", "amount": "12.345", "idempotency_key": "k"}, "amount"),
        ({"method": "cash", "amount": "abc", "idempotency_key": "k"}, "amount"),
        ({"method": "cash"}, "idempotency_key"),
        ({"method": "cash", "idempotency_key": ""}, "idempotency_key"),
        ({"method": "cash", "idempotency_key": "x" * 101}, "idempotency_key"),
    ],
)
def test_a_desk_deposit_refuses_bad_input_and_records_nothing(visit, reception, body, field) -> None:
    _error(reception.post(f"/api/v1/appointments/{visit.pk}/deposit/", body, format="json"), 400, field)
    assert not LedgerEntry.objects.exists()


def test_a_desk_deposit_through_the_api_is_idempotent(visit, reception) -> None:
    body = {"method": "wechat_pay", "idempotency_key": "form-1"}
    first = reception.post(f"/api/v1/appointments/{visit.pk}/deposit/", body, format="json")
    again = reception.post(f"/api/v1/appointments/{visit.pk}/deposit/", body, format="json")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["amount"] == "500.00"
    other = reception.post(
        f"/api/v1/appointments/{visit.pk}/deposit/", {**body, "idempotency_key": "form-2"}, format="json"
    )
    _error(other, 409)
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "two\nlines"}, {"reason": "x" * 501}, {"reason": 5}])
def test_a_waiver_needs_a_reason(visit, reception, body) -> None:
    _online(visit)
    fee = ledger.entry_record(
        patient=visit.patient,
        kind="fee",
        amount="500.00",
        reason="no_show",
        appointment=visit,
        idempotency_key=f"fee:{visit.pk}",
    ).entry
    _error(reception.post(f"/api/v1/ledger/{fee.pk}/waive/", body, format="json"), 400, "reason")
    assert not LedgerEntry.objects.filter(kind="waiver").exists()


def test_waiving_something_that_is_not_a_fee_or_refunding_what_is_not_due(visit, reception) -> None:
    payment = _online(visit)
    _error(reception.post(f"/api/v1/ledger/{payment.pk}/waive/", {"reason": "No"}, format="json"), 400)
    _error(
        reception.post(
            f"/api/v1/ledger/{payment.pk}/refund/", {"method": "cash", "idempotency_key": "k"}, format="json"
        ),
        409,
    )
    _error(reception.post("/api/v1/ledger/999999/waive/", {"reason": "No"}, format="json"), 404)
    assert LedgerEntry.objects.count() == 1
