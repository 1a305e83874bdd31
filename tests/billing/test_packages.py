"""Course packages: sold with their payment, redeemed one session per completed visit, expiring, refunded."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from hypothesis import example, given
from hypothesis import strategies as st

from booking import ledger, packages, services
from booking.models import Appointment, LedgerEntry, Package, PackageOffer, ProviderRefund
from clinic.errors import InvalidInput, InvalidState
from tests.factories import AppointmentFactory, PatientFactory, TreatmentFactory, UserFactory
from treatments import services as clinical

pytestmark = pytest.mark.django_db

ZONE = ZoneInfo("Asia/Hong_Kong")
SOLD = datetime(2030, 1, 7, 10, tzinfo=ZONE)
Kind = LedgerEntry.Kind


def _offer(treatment=None, **fields) -> PackageOffer:
    treatment = treatment or TreatmentFactory(slug="pico-laser", price=Decimal("3500.00"))
    values = {
        "treatment": treatment,
        "name_en": "Pico laser x 4",
        "name_zh_hant": "皮秒激光 4次",
        "sessions": 4,
        "price": Decimal("12000.00"),
        "valid_days": 365,
    }
    values.update(fields)
    return PackageOffer.objects.create(**values)


def _sell(patient, offer, key="sale-1", **kwargs) -> Package:
    return packages.package_sell(
        patient=patient,
        offer=offer,
        method=kwargs.pop("method", "card"),
        by=kwargs.pop("by", UserFactory(role="receptionist")),
        key=key,
        now=kwargs.pop("now", SOLD),
        **kwargs,
    )


def _visit(patient, treatment, day: date, **fields) -> Appointment:
    start = datetime.combine(day, time(11), tzinfo=ZONE)
    return AppointmentFactory(
        patient=patient, treatment=treatment, start=start, status=Appointment.Status.CHECKED_IN, **fields
    )


def _complete(appointment: Appointment) -> None:
    services.appointment_complete(
        appointment=appointment, by=UserFactory(role="practitioner"), record={}, now=appointment.start
    )


def test_a_package_redeemed_across_four_completed_sessions() -> None:
    offer = _offer()
    patient = PatientFactory()
    package = _sell(patient, offer)
    assert ledger.balance(patient) == Decimal("12000.00")
    payment = LedgerEntry.objects.get(package=package, kind=Kind.PAYMENT)
    assert (payment.reason, payment.method, payment.receipt_number is not None) == ("package", "card", True)
    assert package.expires_on == date(2031, 1, 7)

    for week in range(4):
        _complete(_visit(patient, offer.treatment, date(2030, 1, 8) + timedelta(weeks=week)))
        package.refresh_from_db()
        assert package.sessions_used == week + 1

    credits = LedgerEntry.objects.filter(package=package, kind=Kind.PACKAGE_CREDIT)
    assert [c.amount for c in credits.order_by("id")] == [Decimal("3000.00")] * 4
    assert sum(c.amount for c in credits) == package.price
    assert all(c.appointment_id and c.method == "package" for c in credits)
    assert package.status == Package.Status.USED
    assert ledger.balance(patient) == Decimal("0.00")
    fifth = _visit(patient, offer.treatment, date(2030, 3, 1))
    assert packages.covers(patient, offer.treatment, on=date(2030, 3, 1)) is None
    _complete(fifth)
    assert not LedgerEntry.objects.filter(appointment=fifth).exists()


def test_credits_sum_to_the_price_when_it_does_not_divide_evenly() -> None:
    offer = _offer(sessions=3, price=Decimal("10000.00"), name_en="CO2 x 3")
    patient = PatientFactory()
    package = _sell(patient, offer)
    for week in range(3):
        _complete(_visit(patient, offer.treatment, date(2030, 1, 8) + timedelta(weeks=week)))
    amounts = list(
        LedgerEntry.objects.filter(package=package, kind=Kind.PACKAGE_CREDIT)
        .order_by("id")
        .values_list("amount", flat=True)
    )
    assert amounts == [Decimal("3333.33"), Decimal("3333.33"), Decimal("3333.34")]


@given(price=st.integers(min_value=0, max_value=10**9), sessions=st.integers(min_value=1, max_value=50))
@example(price=15, sessions=10)  # HK$0.15 / 10 rounds up to 0.02: nine of them pass the price
def test_unit_values_always_sum_to_the_price(price: int, sessions: int) -> None:
    amount = Decimal(price) / 100
    values = packages.unit_values(amount, sessions)
    assert len(values) == sessions
    assert sum(values) == ledger.money(amount)
    assert all(v >= 0 for v in values)


def test_a_visit_of_another_treatment_redeems_nothing() -> None:
    offer = _offer()
    patient = PatientFactory()
    package = _sell(patient, offer)
    _complete(_visit(patient, TreatmentFactory(slug="peel"), date(2030, 1, 8)))
    package.refresh_from_db()
    assert package.sessions_used == 0


def test_the_package_tied_to_the_visits_plan_is_redeemed_first() -> None:
    offer = _offer()
    patient = PatientFactory()
    older = _sell(patient, offer, key="older")
    plan = clinical.plan_create(
        patient=patient, treatment=offer.treatment, sessions=3, by=UserFactory(role="practitioner"), today=SOLD.date()
    )
    newer = _sell(patient, offer, key="newer", plan=plan)
    assert newer.plan == plan
    visit = _visit(patient, offer.treatment, date(2030, 1, 8), plan_session=plan.sessions.get(number=1))
    _complete(visit)
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.sessions_used, newer.sessions_used) == (0, 1)


def test_a_sale_ties_itself_to_the_patients_active_plan_of_the_treatment() -> None:
    offer = _offer()
    patient = PatientFactory()
    plan = clinical.plan_create(
        patient=patient, treatment=offer.treatment, sessions=3, by=UserFactory(role="practitioner"), today=SOLD.date()
    )
    assert _sell(patient, offer).plan == plan


def test_another_patients_plan_is_refused() -> None:
    offer = _offer()
    other_plan = clinical.plan_create(
        patient=PatientFactory(), treatment=offer.treatment, sessions=3, by=UserFactory(role="practitioner")
    )
    with pytest.raises(InvalidInput) as refused:
        _sell(PatientFactory(), offer, plan=other_plan)
    assert "plan" in refused.value.fields
    assert not Package.objects.exists() and not LedgerEntry.objects.exists()


def test_a_sale_is_idempotent_by_its_key() -> None:
    offer = _offer()
    patient = PatientFactory()
    first = _sell(patient, offer)
    again = _sell(patient, offer)
    assert again.pk == first.pk
    assert Package.objects.count() == 1 and LedgerEntry.objects.count() == 1
    with pytest.raises(InvalidInput):
        _sell(patient, _offer(treatment=offer.treatment, name_en="Other"))


@pytest.mark.parametrize("method", ["", "online", "package", "bitcoin"])
def test_a_desk_sale_needs_a_desk_method(method: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _sell(PatientFactory(), _offer(), method=method)
    assert "method" in refused.value.fields
    assert not Package.objects.exists()


def test_a_retired_offer_is_not_sold() -> None:
    offer = _offer()
    packages.offer_retire(offer=offer)
    with pytest.raises(InvalidInput):
        _sell(PatientFactory(), offer)
    assert not packages.offers_on_sale().exists()


def test_an_expired_package_redeems_nothing_and_the_sweep_marks_it() -> None:
    offer = _offer(valid_days=30)
    patient = PatientFactory()
    package = _sell(patient, offer)
    assert package.expires_on == date(2030, 2, 6)
    assert packages.covers(patient, offer.treatment, on=date(2030, 2, 6)) == package
    assert packages.covers(patient, offer.treatment, on=date(2030, 2, 7)) is None
    _complete(_visit(patient, offer.treatment, date(2030, 2, 7)))
    package.refresh_from_db()
    assert package.sessions_used == 0
    assert packages.packages_expire(now=datetime(2030, 2, 6, 23, tzinfo=ZONE)) == 0
    assert packages.packages_expire(now=datetime(2030, 2, 7, 0, 1, tzinfo=ZONE)) == 1
    assert packages.packages_expire(now=datetime(2030, 2, 7, 0, 2, tzinfo=ZONE)) == 0
    package.refresh_from_db()
    assert package.status == Package.Status.EXPIRED


def test_covers_counts_sessions_promised_to_upcoming_visits() -> None:
    offer = _offer(sessions=2, price=Decimal("6000"))
    patient = PatientFactory()
    _sell(patient, offer)
    day = date(2030, 1, 20)
    assert packages.covers(patient, offer.treatment, on=day) is not None
    AppointmentFactory(patient=patient, treatment=offer.treatment, start=datetime(2030, 1, 9, 11, tzinfo=ZONE))
    assert packages.covers(patient, offer.treatment, on=day) is not None
    AppointmentFactory(patient=patient, treatment=offer.treatment, start=datetime(2030, 1, 16, 11, tzinfo=ZONE))
    assert packages.covers(patient, offer.treatment, on=day) is None


def test_refund_of_unused_sessions_is_pro_rata_and_only_once() -> None:
    offer = _offer()
    patient = PatientFactory()
    package = _sell(patient, offer)
    _complete(_visit(patient, offer.treatment, date(2030, 1, 8)))
    manager = UserFactory(role="manager")
    done = packages.package_refund_unused(package=package, by=manager, method="cash", key="refund-1")
    assert (done.amount, done.online) == (Decimal("9000.00"), False)
    refund = LedgerEntry.objects.get(package=package, kind=Kind.REFUND)
    assert (refund.amount, refund.method, refund.reason) == (Decimal("9000.00"), "cash", "unused_sessions")
    assert refund.reverses == LedgerEntry.objects.get(package=package, kind=Kind.PAYMENT)
    assert ledger.balance(patient) == Decimal("0.00")
    package.refresh_from_db()
    assert package.status == Package.Status.REFUNDED
    again = packages.package_refund_unused(package=package, by=manager, method="cash", key="refund-1")
    assert again.amount == Decimal("9000.00")
    with pytest.raises(InvalidState):
        packages.package_refund_unused(package=package, by=manager, method="cash", key="refund-2")
    assert LedgerEntry.objects.filter(kind=Kind.REFUND).count() == 1
    # A refunded package redeems nothing more.
    _complete(_visit(patient, offer.treatment, date(2030, 1, 15)))
    package.refresh_from_db()
    assert package.sessions_used == 1


def test_an_expired_package_may_still_be_refunded_but_a_used_one_not() -> None:
    offer = _offer(sessions=2, price=Decimal("6000"), valid_days=10)
    patient = PatientFactory()
    expired = _sell(patient, offer, key="a")
    packages.packages_expire(now=datetime(2030, 3, 1, tzinfo=ZONE))
    done = packages.package_refund_unused(package=expired, by=UserFactory(role="manager"), method="fps", key="r")
    assert done.amount == Decimal("6000.00")
    used = _sell(patient, _offer(treatment=offer.treatment, sessions=2, price=Decimal("100")), key="b")
    Package.objects.filter(pk=used.pk).update(sessions_used=2, status=Package.Status.USED)
    with pytest.raises(InvalidState):
        packages.package_refund_unused(package=used, by=UserFactory(role="manager"), method="fps", key="r2")


@override_settings(CLINIC_PACKAGE_REFUND="none")
def test_the_rule_none_refunds_nothing() -> None:
    package = _sell(PatientFactory(), _offer())
    with pytest.raises(InvalidState):
        packages.package_refund_unused(package=package, by=UserFactory(role="manager"), method="cash", key="r")
    package.refresh_from_db()
    assert package.status == Package.Status.ACTIVE
    assert not LedgerEntry.objects.filter(kind=Kind.REFUND).exists()


def test_a_package_bought_online_is_activated_once_and_refunded_through_the_provider() -> None:
    offer = _offer()
    patient = PatientFactory()
    package = packages.package_activate_paid(
        patient=patient, offer=offer, payment_intent="pi_123", amount=Decimal("12000"), now=SOLD
    )
    replayed = packages.package_activate_paid(
        patient=patient, offer=offer, payment_intent="pi_123", amount=Decimal("12000"), now=SOLD
    )
    assert replayed.pk == package.pk
    payment = LedgerEntry.objects.get(package=package)
    assert (payment.method, payment.provider, payment.provider_ref) == ("online", "stripe", "pi_123")
    _complete(_visit(patient, offer.treatment, date(2030, 1, 8)))
    with transaction.atomic():
        done = packages.package_refund_unused(package=package, by=UserFactory(role="manager"), method="", key="r")
    assert (done.amount, done.online) == (Decimal("9000.00"), True)
    owed = ProviderRefund.objects.get()
    assert (owed.amount, owed.payment_id, owed.reason) == (Decimal("9000.00"), payment.pk, "unused_sessions")
    assert not LedgerEntry.objects.filter(kind=Kind.REFUND).exists()  # written when the provider accepts


def test_the_database_refuses_more_sessions_than_were_bought() -> None:
    package = _sell(PatientFactory(), _offer(sessions=2, price=Decimal("100")))
    with pytest.raises(IntegrityError), transaction.atomic():
        Package.objects.filter(pk=package.pk).update(sessions_used=3)


def test_saving_against_single_sessions() -> None:
    offer = _offer(price=Decimal("12000"), treatment=TreatmentFactory(slug="pico", price=Decimal("3500")))
    assert packages.saving(offer) == Decimal("2000.00")
    assert packages.saving(_offer(treatment=offer.treatment, price=Decimal("14000"))) is None
