"""Injectables on the pages (issue 17, point 5): the session record form's
product rows (an expired lot refused in place, nothing stored), the chart
showing them, and the manager's Lot recall page with its CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from booking.models import Appointment, InjectableUse, SessionRecord
from patients.models import AccessEvent
from tests.api.test_lots import FAR, used
from tests.factories import PatientFactory, TreatmentFactory
from tests.pages.chart_fixtures import checked_in_plan_appointment, staff
from treatments.models import Category

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor(client):
    user = staff("practitioner")
    client.force_login(user)
    return user


def filler() -> object:
    return TreatmentFactory(
        slug="ha-filler", category=Category.FILLER, name_en="Hyaluronic acid filler", name_zh_hant="透明質酸填充"
    )


def _row(index: int, product: str = "", lot: str = "", expiry: str = "", amount: str = "") -> dict[str, str]:
    prefix = f"injectable_{index}_"
    return {prefix + "product": product, prefix + "lot": lot, prefix + "expiry": expiry, prefix + "amount": amount}


# --- the session record form ------------------------------------------------------------------


def test_the_form_of_a_filler_session_asks_for_product_lot_and_expiry(client, doctor) -> None:
    appointment = checked_in_plan_appointment(PatientFactory(), doctor, filler())
    page = client.get(reverse("chart:session_record", args=[appointment.pk])).text
    assert "Products injected" in page and "Amount (ml)" in page
    assert 'name="injectable_0_lot"' in page and 'name="injectable_1_expiry"' in page
    assert 'name="injectable_2_lot"' not in page
    assert "Add a product" in page


def test_a_laser_session_has_no_product_rows(client, doctor) -> None:
    appointment = checked_in_plan_appointment(PatientFactory(), doctor)
    page = client.get(reverse("chart:session_record", args=[appointment.pk])).text
    assert "Products injected" not in page and "injectable_0_lot" not in page


def test_a_filler_session_is_recorded_with_its_lots_and_the_chart_shows_them(client, doctor) -> None:
    patient = PatientFactory()
    appointment = checked_in_plan_appointment(patient, doctor, filler())
    url = reverse("chart:session_record", args=[appointment.pk])
    body = {"notes": "ok", "injectable_rows": "2", **_row(0), **_row(1, "Restylane Volyme", "ha24-0917", FAR, "1.2")}
    response = client.post(url, body)
    assert response.status_code == 302, response.text
    use = InjectableUse.objects.get(session_record__appointment=appointment)
    assert (use.product, use.lot, use.lot_key, use.expiry, str(use.amount), use.unit) == (
        "Restylane Volyme",
        "ha24-0917",
        "HA240917",
        date(2099, 12, 31),
        "1.20",
        "ml",
    )
    shown = client.get(url).text
    assert "Restylane Volyme" in shown and "ha24-0917" in shown and "1.2 ml" in shown
    records = client.get(reverse("chart:records", args=[patient.pk])).text
    assert "ha24-0917" in records


def test_an_expired_lot_is_refused_in_place_and_nothing_is_stored(client, doctor) -> None:
    appointment = checked_in_plan_appointment(PatientFactory(), doctor, filler())
    url = reverse("chart:session_record", args=[appointment.pk])
    expired = (timezone.localdate() - timedelta(days=2)).isoformat()
    body = {"notes": "kept text", **_row(0, "Restylane", "OLD-1", expired, "1")}
    response = client.post(url, body)
    assert response.status_code == 400
    assert "This lot expired on" in response.text and "kept text" in response.text and "OLD-1" in response.text
    # The message sits on the row's expiry field.
    assert "This lot expired on" in response.context["form"].errors["injectable_0_expiry"][0]
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN
    assert not SessionRecord.objects.exists() and not InjectableUse.objects.exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({}, "Record the product, lot and expiry"),
        (_row(0, "Restylane", "", FAR), "Give the lot number printed on the product."),
        (_row(0, "Restylane", "L1", ""), "Give the expiry date printed on the product."),
        (_row(0, "", "L1", FAR), "Give the product&#x27;s name."),
        (_row(0, "Restylane", "L1", FAR, "-1"), "greater than or equal to 0.01"),
    ],
)
def test_missing_product_fields_are_answered_in_place(client, doctor, row, message) -> None:
    appointment = checked_in_plan_appointment(PatientFactory(), doctor, filler())
    response = client.post(reverse("chart:session_record", args=[appointment.pk]), {"notes": "kept", **row})
    assert response.status_code == 400 and message in response.text and "kept" in response.text
    assert not SessionRecord.objects.exists() and not InjectableUse.objects.exists()


def test_a_row_typed_lower_down_gets_its_own_message(client, doctor) -> None:
    appointment = checked_in_plan_appointment(PatientFactory(), doctor, filler())
    expired = (timezone.localdate() - timedelta(days=1)).isoformat()
    body = {"injectable_rows": "2", **_row(0), **_row(1, "Restylane", "L9", expired)}
    response = client.post(reverse("chart:session_record", args=[appointment.pk]), body)
    form = response.context["form"]
    assert form.errors.get("injectable_1_expiry") and not form.errors.get("injectable_0_expiry")


def test_add_a_product_shows_one_more_row_keeps_what_was_typed_and_saves_nothing(client, doctor) -> None:
    appointment = checked_in_plan_appointment(PatientFactory(), doctor, filler())
    url = reverse("chart:session_record", args=[appointment.pk])
    body = {"notes": "typed note", "injectable_rows": "2", **_row(0, "Restylane", "AB1", FAR), "add_injectable": "1"}
    response = client.post(url, body)
    assert response.status_code == 200
    assert 'name="injectable_2_lot"' in response.text and 'name="injectable_3_lot"' not in response.text
    assert "typed note" in response.text and 'value="AB1"' in response.text
    assert "errorlist" not in response.text
    assert not SessionRecord.objects.exists()
    body = {**body, "injectable_rows": "3", **_row(2, "Restylane", "AB2", FAR)}
    del body["add_injectable"]
    assert client.post(url, body).status_code == 302
    assert [use.lot for use in InjectableUse.objects.order_by("position")] == ["AB1", "AB2"]


def test_the_next_session_is_prefilled_with_the_product_but_not_the_lot(client, doctor) -> None:
    patient = PatientFactory()
    treatment = filler()
    first = checked_in_plan_appointment(patient, doctor, treatment)
    body = {**_row(0, "Restylane Volyme", "LOT-A", FAR)}
    assert client.post(reverse("chart:session_record", args=[first.pk]), body).status_code == 302
    plan_session = first.plan_session.plan.sessions.get(number=2)
    second = Appointment.objects.create(
        patient=patient,
        treatment=treatment,
        practitioner=first.practitioner,
        room=first.room,
        start=first.start + timedelta(days=20),
        end=first.end + timedelta(days=20),
        blocked_until=first.blocked_until + timedelta(days=20),
        status=Appointment.Status.CHECKED_IN,
        plan_session=plan_session,
    )
    page = client.get(reverse("chart:session_record", args=[second.pk])).text
    assert 'value="Restylane Volyme"' in page and "LOT-A" not in page


# --- the Lot recall page --------------------------------------------------------------------


@pytest.fixture
def manager(client):
    user = staff("manager")
    client.force_login(user)
    return user


def test_a_manager_searches_a_lot_and_sees_who_to_contact(client, manager) -> None:
    chan = PatientFactory(full_name="Chan Tai Man", phone="+85291234567", email="chan@example.com")
    lee = PatientFactory(full_name="李嘉欣", phone="+85298765432")
    used("HA24-0917", patient=chan, days_ago=10)
    used("ha24 0917", patient=lee)
    used("OTHER", patient=PatientFactory(full_name="Not Listed"))

    page = client.get(reverse("chart:lots"))
    assert page.status_code == 200 and 'name="lot"' in page.text and "Lot recall" in page.text
    response = client.get(reverse("chart:lots"), {"lot": "ha240917"})
    assert response.status_code == 200
    text = response.text
    assert "Chan Tai Man" in text and "李嘉欣" in text and "Not Listed" not in text
    assert "+852 9123 4567" in text and "chan@example.com" in text and 'href="tel:+85291234567"' in text
    assert "Restylane Volyme" in text
    assert "2 uses of lot ha240917" in text and "2 patients to contact." in text
    assert "Download CSV" in text and "?lot=ha240917&amp;format=csv" in text
    events = AccessEvent.objects.filter(door=AccessEvent.Door.PAGE, what=AccessEvent.What.SESSION_RECORD)
    assert sorted(events.values_list("patient_id", flat=True)) == sorted([chan.pk, lee.pk])


def test_the_pages_csv_is_the_same_search(client, manager) -> None:
    patient = PatientFactory(full_name="Chan Tai Man", phone="+85291234567", email="chan@example.com")
    used("KT3391", patient=patient, category=Category.STEROID, product="Kenalog-10")
    response = client.get(reverse("chart:lots"), {"lot": "kt-3391", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    assert [(r["patient_name"], r["phone"], r["email"], r["product"], r["lot"], r["unit"]) for r in rows] == [
        ("Chan Tai Man", "+85291234567", "chan@example.com", "Kenalog-10", "KT3391", "mg")
    ]


def test_nothing_found_and_an_empty_search_are_said_plainly(client, manager) -> None:
    response = client.get(reverse("chart:lots"), {"lot": "ZZ1"})
    assert response.status_code == 200 and "No session recorded this lot." in response.text
    response = client.get(reverse("chart:lots"), {"lot": "  "})
    assert response.status_code == 400 and "Give the lot number to search for." in response.text


@pytest.mark.parametrize("role", ["practitioner", "receptionist"])
def test_other_staff_cannot_open_the_lot_recall(client, role: str) -> None:
    used("AB1")
    client.force_login(staff(role))
    assert client.get(reverse("chart:lots"), {"lot": "AB1"}).status_code == 403
    assert client.get(reverse("chart:lots"), {"lot": "AB1", "format": "csv"}).status_code == 403
    assert "Lot recall" not in client.get(reverse("staff:schedule")).text
    assert not AccessEvent.objects.filter(door=AccessEvent.Door.PAGE).exists()


def test_the_manager_finds_the_lot_recall_in_the_navigation(client, manager) -> None:
    page = client.get(reverse("staff:schedule")).text
    assert f'href="{reverse("chart:lots")}"' in page and "Lot recall" in page
