"""Packages on the pages: the managers' catalogue, selling and refunding on a
patient's page, the patient's progress and plan pages, the public treatment page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from booking import packages
from booking.models import LedgerEntry, Package, PackageOffer
from tests.factories import PatientFactory, TreatmentFactory, UserFactory
from treatments import services as clinical

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer() -> PackageOffer:
    treatment = TreatmentFactory(slug="pico-laser", name_en="Pico laser", price=Decimal("3500.00"), sessions_max=6)
    return PackageOffer.objects.create(
        treatment=treatment,
        name_en="Pico laser × 4",
        name_zh_hant="皮秒激光 4次",
        sessions=4,
        price=Decimal("12000.00"),
        valid_days=365,
    )


def test_managers_create_edit_and_retire_offers(client, offer: PackageOffer) -> None:
    client.force_login(UserFactory(role="receptionist"))
    assert client.get(reverse("packages:offers")).status_code == 403
    client.force_login(UserFactory(role="manager"))
    listed = client.get(reverse("packages:offers")).content.decode()
    assert "Pico laser × 4" in listed and "HK$2,000.00" in listed
    made = client.post(
        reverse("packages:offer_new"),
        {
            "treatment": offer.treatment.pk,
            "name_en": "Pico laser × 6",
            "name_zh_hant": "皮秒激光 6次",
            "sessions": "6",
            "price": "17000",
            "valid_days": "540",
            "sold_online": "on",
            "active": "on",
        },
    )
    assert made.status_code == 302
    assert PackageOffer.objects.filter(sessions=6, price=Decimal("17000")).exists()
    refused = client.post(reverse("packages:offer_new"), {"treatment": offer.treatment.pk, "sessions": "1"})
    assert refused.status_code == 400
    assert PackageOffer.objects.count() == 2
    client.post(reverse("packages:offer_retire", args=[offer.pk]))
    offer.refresh_from_db()
    assert not offer.active


def test_staff_sell_on_the_patients_page_and_managers_refund(client, offer: PackageOffer) -> None:
    patient = PatientFactory()
    url = reverse("packages:patient", args=[patient.pk])
    client.force_login(UserFactory(role="receptionist"))
    page = client.get(url).content.decode()
    assert "Sell a package" in page and "Refund unused" not in page
    sold = client.post(url, {"offer": offer.pk, "method": "fps", "key": "page-sale"})
    assert sold.status_code == 302
    again = client.post(url, {"offer": offer.pk, "method": "fps", "key": "page-sale"})  # a double click
    assert again.status_code == 302
    package = Package.objects.get()
    assert LedgerEntry.objects.get().method == "fps"
    shown = client.get(url).content.decode()
    assert "Pico laser × 4" in shown and "0 used, 4 left, paid HK$12,000.00" in shown
    bad = client.post(url, {"offer": offer.pk, "method": "online", "key": "bad"})
    assert bad.status_code == 400 and Package.objects.count() == 1
    refund_url = reverse("packages:refund", args=[patient.pk, package.pk])
    assert client.post(refund_url, {"method": "cash", "key": "r"}).status_code == 403
    client.force_login(UserFactory(role="manager"))
    assert "Refund unused sessions (HK$12,000.00)" in client.get(url).content.decode()
    assert client.post(refund_url, {"method": "cash", "key": "r"}).status_code == 302
    package.refresh_from_db()
    assert package.status == Package.Status.REFUNDED
    other = PatientFactory()
    assert client.post(reverse("packages:refund", args=[other.pk, package.pk]), {"key": "x"}).status_code == 404


def test_the_patient_sees_their_package_on_progress_and_plan_pages_in_both_languages(
    client, offer: PackageOffer
) -> None:
    patient = PatientFactory()
    plan = clinical.plan_create(patient=patient, treatment=offer.treatment, sessions=4, by=UserFactory())
    package = packages.package_sell(
        patient=patient, offer=offer, method="cash", by=UserFactory(role="receptionist"), key="k"
    )
    Package.objects.filter(pk=package.pk).update(sessions_used=2)
    expires = package.expires_on
    client.force_login(patient.user)
    english = client.get(reverse("account:progress")).content.decode()
    assert "Pico laser × 4</strong>: 2 used, 2 left, paid HK$12,000.00" in english
    assert f"expires {expires.day} {expires:%b} {expires.year}" in english
    plan_page = client.get(reverse("account:plan", args=[plan.pk])).content.decode()
    assert "2 used, 2 left" in plan_page
    chinese = client.get(reverse("account:progress"), HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "皮秒激光 4次" in chinese
    assert "已用 2 次，尚餘 2 次" in chinese
    # Another patient's page never shows it.
    client.force_login(PatientFactory().user)
    assert "Pico laser × 4" not in client.get(reverse("account:progress")).content.decode()


def test_the_public_treatment_page_shows_the_offers_and_their_saving(client, offer: PackageOffer) -> None:
    page = client.get(reverse("site:treatment", args=["pico-laser"])).content.decode()
    assert "4 sessions for HK$12,000.00" in page and "save HK$2,000.00" in page
    assert "Ask at the front desk" in page  # no online provider: no Buy button


def test_the_booking_flow_shows_the_offers_beside_their_treatment(client, offer: PackageOffer) -> None:
    client.force_login(PatientFactory().user)
    page = client.get(reverse("site:book")).content.decode()
    assert "4 sessions for HK$12,000.00 — save HK$2,000.00" in page
