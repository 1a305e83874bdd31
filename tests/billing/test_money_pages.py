"""The visit's money box on the staff appointment page, its three forms, and what the patient's page says."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from booking import deposit_rules, ledger
from booking.models import Appointment, LedgerEntry
from tests.factories import AppointmentFactory, PatientFactory
from tests.pages.staff_fixtures import make_clinic

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "patient", "receptionist", "practitioner", "manager"]
# Money is the front desk's: receptionists and managers.
ALLOWED = {"anonymous": 302, "patient": 403, "receptionist": 302, "practitioner": 403, "manager": 302}


@pytest.fixture
def clinic():
    clinic = make_clinic()
    clinic.treatment.deposit_amount = Decimal("400.00")
    clinic.treatment.save(update_fields=["deposit_amount"])
    return clinic


@pytest.fixture
def visit(clinic):
    return AppointmentFactory(
        patient=clinic.patient,
        treatment=clinic.treatment,
        practitioner=clinic.practitioner,
        room=clinic.room,
        start=timezone.now() + timedelta(days=4),
    )


def _key(html: str) -> str:
    return re.search(r'name="key" value="([0-9a-f]+)"', html).group(1)


def _late_fee(clinic, visit):
    deposit_rules.deposit_record_at_desk(appointment=visit, method="cash", idempotency_key="d", by=clinic.receptionist)
    from booking import services

    services.appointment_cancel(
        appointment=visit, by=clinic.receptionist, staff=True, for_patient=True, now=visit.start - timedelta(hours=1)
    )
    return LedgerEntry.objects.get(kind="fee")


def test_the_front_desk_records_a_deposit_once_even_if_the_form_is_sent_twice(client, clinic, visit) -> None:
    client.force_login(clinic.receptionist)
    page = client.get(f"/staff/appointments/{visit.pk}/").text
    assert "Deposit due" in page and "HK$400.00" in page and "Record a deposit paid at the desk" in page
    form = {"method": "octopus", "amount": "400.00", "key": _key(page)}
    first = client.post(f"/staff/appointments/{visit.pk}/deposit/", form)
    again = client.post(f"/staff/appointments/{visit.pk}/deposit/", form)
    assert first.status_code == again.status_code == 302
    paid = LedgerEntry.objects.get()
    assert (paid.method, paid.amount, paid.appointment_id) == ("octopus", Decimal("400.00"), visit.pk)
    page = client.get(f"/staff/appointments/{visit.pk}/").text
    assert "Deposit paid" in page and paid.receipt_number in page


@pytest.mark.parametrize(("form", "status"), [({"method": "bitcoin"}, 400), ({"method": "cash", "amount": "-1"}, 400)])
def test_a_bad_deposit_form_is_refused_in_place(client, clinic, visit, form, status) -> None:
    client.force_login(clinic.manager)
    response = client.post(f"/staff/appointments/{visit.pk}/deposit/", {**form, "key": "k1"})
    assert response.status_code == status
    assert 'class="alert error"' in response.text
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_who_may_take_money_waive_and_refund(client, clinic, visit, role) -> None:
    user = clinic.user(role)
    if user is not None:
        client.force_login(user)
    response = client.post(f"/staff/appointments/{visit.pk}/deposit/", {"method": "cash", "key": f"k-{role}"})
    assert response.status_code == ALLOWED[role]
    assert LedgerEntry.objects.exists() == (ALLOWED[role] == 302 and role != "anonymous")


def test_practitioners_see_the_deposit_but_no_money_forms(client, clinic, visit) -> None:
    client.force_login(clinic.practitioner.user)
    page = client.get(f"/staff/appointments/{visit.pk}/").text
    assert "Deposit due" in page and "Record a deposit paid at the desk" not in page


def test_waiving_a_fee_from_the_visit_page_keeps_the_reason_and_leaves_a_desk_refund(client, clinic, visit) -> None:
    fee = _late_fee(clinic, visit)
    client.force_login(clinic.manager)
    page = client.get(f"/staff/appointments/{visit.pk}/").text
    assert "Late-cancellation fee HK$400.00: waive fee" in page
    refused = client.post(f"/staff/ledger/{fee.pk}/waive/", {"reason": ""})
    assert refused.status_code == 400 and not LedgerEntry.objects.filter(kind="waiver").exists()
    assert client.post(f"/staff/ledger/{fee.pk}/waive/", {"reason": "Typhoon signal 8"}).status_code == 302
    waiver = LedgerEntry.objects.get(kind="waiver")
    assert (waiver.note, waiver.recorded_by) == ("Typhoon signal 8", clinic.manager)
    page = client.get(f"/staff/appointments/{visit.pk}/").text
    assert "Refund due at the desk: HK$400.00" in page
    payment = ledger.deposit_paid(visit)
    client.post(f"/staff/ledger/{payment.pk}/refund/", {"method": "cash", "key": _key(page)})
    assert ledger.balance(clinic.patient) == Decimal("0.00")
    assert "Refund due at the desk" not in client.get(f"/staff/appointments/{visit.pk}/").text


def test_practitioners_may_not_waive(client, clinic, visit) -> None:
    fee = _late_fee(clinic, visit)
    client.force_login(clinic.practitioner.user)
    assert client.post(f"/staff/ledger/{fee.pk}/waive/", {"reason": "Kind"}).status_code == 403
    assert not LedgerEntry.objects.filter(kind="waiver").exists()


def test_the_patient_is_told_before_cancelling_what_happens_to_the_deposit(client, clinic, visit) -> None:
    visit.start = timezone.now() + timedelta(days=4)
    deposit_rules.deposit_record_at_desk(appointment=visit, method="cash", idempotency_key="d", by=clinic.receptionist)
    client.force_login(clinic.patient.user)
    page = client.get(f"/appointments/{visit.pk}/").text
    assert "Your HK$400.00 deposit will be refunded at the clinic&#x27;s desk." in page
    other = PatientFactory()
    client.force_login(other.user)
    assert client.get(f"/appointments/{visit.pk}/").status_code == 404
    assert Appointment.objects.get(pk=visit.pk).status == "confirmed"


def test_the_schedule_says_which_visits_have_paid_their_deposit(client, clinic) -> None:
    from tests.pages.staff_fixtures import at, next_workday

    day = next_workday()
    paid = AppointmentFactory(
        patient=clinic.patient,
        treatment=clinic.treatment,
        practitioner=clinic.practitioner,
        room=clinic.room,
        start=at(day, 10),
    )
    AppointmentFactory(
        patient=PatientFactory(full_name="Due Person"),
        treatment=clinic.treatment,
        practitioner=clinic.other,
        room=clinic.room,
        start=at(day, 15),
    )
    deposit_rules.deposit_record_at_desk(appointment=paid, method="fps", idempotency_key="s", by=clinic.receptionist)
    client.force_login(clinic.receptionist)
    page = client.get(f"/staff/?date={day}").text
    assert page.count("Deposit paid") == 1 and page.count("Deposit due") == 1
    client.cookies.load({"django_language": "zh-hant"})
    page = client.get(f"/staff/?date={day}", HTTP_ACCEPT_LANGUAGE="zh-hant").text
    assert "已付訂金" in page and "未付訂金" in page


def test_staff_cancelling_late_for_the_patient_keeps_the_fee_from_the_page(client, clinic, visit) -> None:
    deposit_rules.deposit_record_at_desk(appointment=visit, method="cash", idempotency_key="d", by=clinic.receptionist)
    Appointment.objects.filter(pk=visit.pk).update(
        start=timezone.now() + timedelta(hours=2), end=timezone.now() + timedelta(hours=2, minutes=30)
    )
    Appointment.objects.filter(pk=visit.pk).update(blocked_until=timezone.now() + timedelta(hours=2, minutes=30))
    client.force_login(clinic.receptionist)
    page = client.get(f"/staff/appointments/{visit.pk}/").text
    assert "The patient asked to cancel" in page
    client.post(f"/staff/appointments/{visit.pk}/cancel/", {"reason": "Phoned", "for_patient": "on"})
    assert LedgerEntry.objects.get(kind="fee").reason == "late_cancellation"
