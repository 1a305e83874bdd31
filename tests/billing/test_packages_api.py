"""The packages API: who may see and do what, bad input, and constant query counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking import packages
from booking.models import LedgerEntry, Package, PackageOffer
from patients.models import Patient
from tests.api.conftest import client_for
from tests.factories import PatientFactory, TreatmentFactory, UserFactory
from treatments import services as clinical

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer() -> PackageOffer:
    treatment = TreatmentFactory(slug="pico-laser", price=Decimal("3500.00"))
    return PackageOffer.objects.create(
        treatment=treatment,
        name_en="Pico laser x 4",
        name_zh_hant="皮秒激光 4次",
        sessions=4,
        price=Decimal("12000.00"),
        valid_days=365,
    )


def _sell(patient: Patient, offer: PackageOffer, key: str = "k") -> Package:
    return packages.package_sell(patient=patient, offer=offer, method="cash", by=UserFactory(role="manager"), key=key)


def _state() -> tuple[int, int]:
    return Package.objects.count(), LedgerEntry.objects.count()


def test_staff_sell_at_the_desk_and_a_retry_answers_the_same_package(offer: PackageOffer) -> None:
    patient = PatientFactory()
    desk = client_for(UserFactory(role="receptionist"))
    body = {"offer": offer.pk, "method": "octopus", "idempotency_key": "desk-1"}
    made = desk.post(f"/api/v1/patients/{patient.pk}/packages/", body, format="json")
    assert made.status_code == 201, made.json()
    data = made.json()
    assert data["price"] == "12000.00" and data["sessions_left"] == 4 and data["treatment"] == "pico-laser"
    assert data["name"] == "Pico laser x 4" and data["status"] == "active"
    again = desk.post(f"/api/v1/patients/{patient.pk}/packages/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert _state() == (1, 1)
    chinese = desk.get(f"/api/v1/patients/{patient.pk}/packages/", HTTP_ACCEPT_LANGUAGE="zh-hant").json()
    assert chinese["results"][0]["name"] == "皮秒激光 4次"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"offer": 999999}, "offer"),
        ({"offer": "1"}, "offer"),
        ({"offer": 1.0}, "offer"),
        ({"method": "online"}, "method"),
        ({"method": "package"}, "method"),
        ({"method": None}, "method"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "x" * 65}, "idempotency_key"),
        ({"idempotency_key": 12}, "idempotency_key"),
        ({"plan": "a"}, "plan"),
        ({"price": "1.00"}, "price"),
    ],
)
def test_bad_input_to_a_sale_is_400_and_changes_nothing(offer: PackageOffer, change: dict, field: str) -> None:
    patient = PatientFactory()
    body: dict[str, Any] = {"offer": offer.pk, "method": "cash", "idempotency_key": "bad", **change}
    answer = client_for(UserFactory(role="manager")).post(
        f"/api/v1/patients/{patient.pk}/packages/", body, format="json"
    )
    assert answer.status_code == 400, answer.json()
    assert answer.json()["code"] == "invalid"
    assert field in answer.json()["fields"]
    assert _state() == (0, 0)


def test_a_missing_field_and_another_patients_plan_are_400(offer: PackageOffer) -> None:
    patient = PatientFactory()
    manager = client_for(UserFactory(role="manager"))
    url = f"/api/v1/patients/{patient.pk}/packages/"
    for missing in ("offer", "method", "idempotency_key"):
        body = {"offer": offer.pk, "method": "cash", "idempotency_key": "m"}
        del body[missing]
        answer = manager.post(url, body, format="json")
        assert answer.status_code == 400 and missing in answer.json()["fields"]
    plan = clinical.plan_create(patient=PatientFactory(), treatment=offer.treatment, sessions=3, by=UserFactory())
    answer = manager.post(
        url, {"offer": offer.pk, "method": "cash", "plan": plan.pk, "idempotency_key": "p"}, format="json"
    )
    assert answer.status_code == 400 and "plan" in answer.json()["fields"]
    for garbage in ([], "x", 1):
        assert manager.post(url, garbage, format="json").status_code == 400
    assert _state() == (0, 0)


def test_patients_are_refused_the_staff_doors_and_see_only_their_own(offer: PackageOffer) -> None:
    alice, bob = PatientFactory(), PatientFactory()
    mine = _sell(alice, offer)
    _sell(bob, offer, key="bob")
    as_alice = client_for(alice.user)
    listed = as_alice.get("/api/v1/me/packages/").json()
    assert [row["id"] for row in listed["results"]] == [mine.pk]
    assert as_alice.get(f"/api/v1/patients/{bob.pk}/packages/").status_code == 403
    assert (
        as_alice.post(
            f"/api/v1/patients/{alice.pk}/packages/",
            {"offer": offer.pk, "method": "cash", "idempotency_key": "self"},
            format="json",
        ).status_code
        == 403
    )
    assert client_for(None).get("/api/v1/me/packages/").status_code == 401
    assert client_for(UserFactory(role="practitioner")).get("/api/v1/me/packages/").status_code == 403
    assert client_for(UserFactory(role="practitioner")).get("/api/v1/patients/999999/packages/").status_code == 404
    assert _state() == (2, 2)


def test_only_managers_refund_and_only_once(offer: PackageOffer) -> None:
    package = _sell(PatientFactory(), offer)
    url = f"/api/v1/packages/{package.pk}/refund/"
    body = {"method": "cash", "idempotency_key": "refund-1"}
    for role in ("receptionist", "practitioner"):
        assert client_for(UserFactory(role=role)).post(url, body, format="json").status_code == 403
    assert client_for(package.patient.user).post(url, body, format="json").status_code == 403
    manager = client_for(UserFactory(role="manager"))
    assert manager.post(url, {"method": "bitcoin", "idempotency_key": "x"}, format="json").status_code == 400
    assert manager.post("/api/v1/packages/999999/refund/", body, format="json").status_code == 404
    done = manager.post(url, body, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["amount"] == "12000.00" and done.json()["package"]["status"] == "refunded"
    twice = manager.post(url, {"method": "cash", "idempotency_key": "refund-2"}, format="json")
    assert twice.status_code == 409 and twice.json()["code"] == "invalid_state"
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_the_offer_catalogue_is_public_with_its_saving(offer: PackageOffer) -> None:
    PackageOffer.objects.create(
        treatment=offer.treatment, name_en="Retired", name_zh_hant="停售", sessions=2, price=1, active=False
    )
    answer = client_for(None).get("/api/v1/package-offers/?treatment=pico-laser")
    assert answer.status_code == 200
    [row] = answer.json()["results"]
    assert (row["price"], row["saving"], row["sessions"]) == ("12000.00", "2000.00", 4)
    assert client_for(None).get("/api/v1/package-offers/?treatment=nope").status_code == 400


def _count(client: Any, url: str) -> tuple[int, int]:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).json()
    return len(queries), len(body["results"])


def test_list_query_counts_stay_constant_as_packages_grow(offer: PackageOffer) -> None:
    patient = PatientFactory()
    _sell(patient, offer, key="first")
    staff = client_for(UserFactory(role="receptionist"))
    own = client_for(patient.user)
    urls = [(staff, f"/api/v1/patients/{patient.pk}/packages/"), (own, "/api/v1/me/packages/")]
    one = [_count(client, url) for client, url in urls]
    for n in range(20):
        plan = clinical.plan_create(
            patient=patient, treatment=offer.treatment, sessions=3, by=UserFactory(role="practitioner")
        )
        other = PackageOffer.objects.create(
            treatment=TreatmentFactory(), name_en=f"Offer {n}", name_zh_hant="套票", sessions=2, price=100
        )
        packages.package_sell(
            patient=patient, offer=other, plan=None, method="cash", by=UserFactory(role="manager"), key=f"k{n}"
        )
        Package.objects.filter(offer=other).update(plan=plan)
    many = [_count(client, url) for client, url in urls]
    assert [rows for _, rows in many] == [21, 21]
    assert [queries for queries, _ in many] == [queries for queries, _ in one]
    assert all(queries <= 12 for queries, _ in many)
    for n in range(5):
        PackageOffer.objects.create(
            treatment=TreatmentFactory(), name_en=f"More {n}", name_zh_hant="套票", sessions=2, price=100
        )
    public = client_for(None)
    before = _count(public, "/api/v1/package-offers/")[0]
    PackageOffer.objects.create(treatment=TreatmentFactory(), name_en="Last", name_zh_hant="套票", sessions=2, price=1)
    assert _count(public, "/api/v1/package-offers/")[0] == before
