"""Buying a course package online (booking.deposits.package_checkout_open →
the signed webhook → booking.packages.package_activate_paid), against the
local fake of Stripe; and a visit a package covers asks no deposit."""

# ruff: noqa: F811 (pytest fixtures imported from tests.api.conftest and tests.fakes.stripe)
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from booking.models import Appointment, DepositCheckout, LedgerEntry, Package, PackageOffer
from tests.api.conftest import as_a, as_b, client_for, next_weekday_at, patient_a, patient_b  # noqa: F401 (fixtures)
from tests.factories import PractitionerFactory, RoomFactory, TreatmentFactory
from tests.fakes.stripe import FakeStripe, fake_stripe, stripe_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clinic(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CLINIC_BASE_URL = "http://testserver"


@pytest.fixture
def offer() -> PackageOffer:
    treatment = TreatmentFactory(
        slug="pico-laser", duration_minutes=30, buffer_minutes=10, price=Decimal("3500.00"), deposit_amount=500
    )
    RoomFactory(kind=treatment.room_kind)
    PractitionerFactory(treatments=[treatment])
    return PackageOffer.objects.create(
        treatment=treatment, name_en="Pico laser × 4", name_zh_hant="皮秒激光 × 4", sessions=4, price=Decimal("12000")
    )


def _page(patient: Any) -> Any:
    from django.test import Client

    client = Client()
    client.force_login(patient.user)
    return client


def test_a_patient_buys_a_package_online_and_the_webhook_activates_it_once(
    fake_stripe: FakeStripe, offer: PackageOffer, patient_a: Any, patient_b: Any, as_a: Any
) -> None:
    page = _page(patient_a)
    shown = page.get(reverse("site:package_buy", args=[offer.pk]))
    assert shown.status_code == 200
    assert "HK$12,000.00" in shown.text
    assert "HK$2,000.00" in shown.text  # against four single sessions
    sent = page.post(reverse("site:package_buy", args=[offer.pk]))
    (session,) = fake_stripe.sessions.values()
    assert sent.status_code == 302 and sent["Location"] == session["url"]
    (call,) = fake_stripe.of("POST", "/v1/checkout/sessions")
    assert call.form["line_items[0][price_data][unit_amount]"] == "1200000"
    row = DepositCheckout.objects.get()
    assert row.package_offer == offer and row.appointment is None

    # Waiting: the return page says so; another patient cannot see it.
    done = reverse("site:package_done", args=[row.uid])
    assert "We are confirming your payment." in page.get(done).text
    assert _page(patient_b).get(done).status_code == 404

    delivery, status = fake_stripe.pay(row.session_id, client=as_a)
    assert status == 200
    assert delivery.post(as_a).status_code == 200  # a replay changes nothing
    (package,) = Package.objects.filter(patient=patient_a)
    assert (package.sessions_total, package.sessions_used, package.price) == (4, 0, Decimal("12000.00"))
    (payment,) = LedgerEntry.objects.all()
    assert (payment.kind, payment.method, payment.reason, payment.package_id) == (
        "payment",
        "online",
        "package",
        package.pk,
    )
    assert payment.provider_ref == session["payment_intent"]
    back = page.get(done)
    assert back.status_code == 302 and back["Location"] == reverse("account:progress")


def test_a_package_not_sold_online_has_no_buy_page(
    fake_stripe: FakeStripe, offer: PackageOffer, patient_a: Any
) -> None:
    PackageOffer.objects.filter(pk=offer.pk).update(sold_online=False)
    assert _page(patient_a).get(reverse("site:package_buy", args=[offer.pk])).status_code == 404
    assert not fake_stripe.sessions


def test_a_visit_a_paid_package_covers_asks_no_deposit(
    fake_stripe: FakeStripe, offer: PackageOffer, patient_a: Any, as_a: Any
) -> None:
    from booking import packages

    packages.package_sell(patient=patient_a, offer=offer, method="cash", by=None, key="desk-1")
    start = next_weekday_at(11)
    response = as_a.post(
        "/api/v1/appointments/", {"treatment": offer.treatment.slug, "start": start.isoformat()}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "confirmed"
    assert Appointment.objects.get().status == Appointment.Status.CONFIRMED
    assert not fake_stripe.sessions
