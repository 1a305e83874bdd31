"""Traceability of injectables (issue 17, point 5): filler, toxin and steroid
sessions record product, lot and expiry as rows; an expired lot is refused; a
manager asks who received a lot (GET /api/v1/lots/) and gets the list with
contact details, or the CSV in one step."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from booking import services
from booking.models import Appointment, InjectableUse, Notification, SessionRecord
from clinic.clock import clinic_zone
from patients.models import AccessEvent, Patient
from tests.api.conftest import client_for
from tests.factories import AppointmentFactory, PatientFactory, PractitionerFactory, TreatmentFactory, UserFactory
from treatments.injectables import normalise_lot
from treatments.models import Category

pytestmark = pytest.mark.django_db

FAR = "2099-12-31"


def checked_in(
    category: str = Category.FILLER, *, patient: Patient | None = None, start: datetime | None = None
) -> Appointment:
    treatment = TreatmentFactory(category=category)
    start = start or timezone.make_aware(datetime.combine(timezone.localdate(), time(10)))
    return AppointmentFactory(
        treatment=treatment,
        practitioner=PractitionerFactory(treatments=[treatment]),
        start=start,
        status=Appointment.Status.CHECKED_IN,
        checked_in_at=start - timedelta(minutes=10),
        **({"patient": patient} if patient else {}),
    )


def complete(client: APIClient, appointment: Appointment, injectables: Any, **body: Any) -> Any:
    payload = {"areas": ["left_cheek"], **body}
    if injectables is not ...:
        payload["injectables"] = injectables
    return client.post(f"/api/v1/appointments/{appointment.pk}/complete/", payload, format="json")


def used(
    lot: str,
    *,
    patient: Patient | None = None,
    category: str = Category.FILLER,
    product: str = "Restylane Volyme",
    days_ago: int = 3,
) -> SessionRecord:
    """A completed session that used ``lot``, through the service."""
    day = timezone.localdate() - timedelta(days=days_ago)
    start = datetime.combine(day, time(11), tzinfo=clinic_zone())
    appointment = checked_in(category, patient=patient, start=start)
    _, record = services.appointment_complete(
        appointment=appointment,
        by=UserFactory(role="practitioner"),
        record={"injectables": [{"product": product, "lot": lot, "expiry": FAR, "amount": 1}]},
        now=start + timedelta(minutes=30),
    )
    return record


def nothing_stored(appointment: Appointment) -> None:
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN
    assert not SessionRecord.objects.filter(appointment=appointment).exists()
    assert not InjectableUse.objects.exists()
    assert not Notification.objects.filter(appointment=appointment, kind=Notification.Kind.AFTERCARE).exists()


# --- recording ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "unit", "amount"),
    [(Category.FILLER, "ml", "1.20"), (Category.TOXIN, "units", "20.00"), (Category.STEROID, "mg", "5.00")],
)
def test_an_injectable_session_keeps_product_lot_expiry_and_amount(
    as_practitioner: APIClient, category: str, unit: str, amount: str
) -> None:
    appointment = checked_in(category)
    item = {"product": "Product X", "lot": " ab-123 ", "expiry": "2027-03-31", "amount": float(amount)}
    response = complete(as_practitioner, appointment, [item])
    assert response.status_code == 200, response.json()
    use = InjectableUse.objects.get(session_record__appointment=appointment)
    assert (use.product, use.lot, use.lot_key, use.expiry, use.amount, use.unit) == (
        "Product X",
        "ab-123",
        "AB123",
        date(2027, 3, 31),
        Decimal(amount),
        unit,
    )
    assert use.history.count() == 1  # kept in history like the record
    record = as_practitioner.get(f"/api/v1/session-records/{response.json()['session_record']}/").json()
    assert record["injectables"] == [
        {"product": "Product X", "lot": "ab-123", "expiry": "2027-03-31", "amount": amount, "unit": unit}
    ]


def test_several_lots_in_one_session_keep_their_order(as_practitioner: APIClient) -> None:
    appointment = checked_in()
    items = [
        {"product": "Restylane", "lot": "B2", "expiry": FAR, "amount": 1, "unit": "ml"},
        {"product": "Restylane", "lot": "A1", "expiry": FAR},
    ]
    assert complete(as_practitioner, appointment, items).status_code == 200
    record = SessionRecord.objects.get(appointment=appointment)
    assert [(u.lot, u.amount) for u in record.injectables.all()] == [("B2", Decimal("1.00")), ("A1", None)]


def test_an_expired_lot_is_refused_and_nothing_is_stored(as_practitioner: APIClient) -> None:
    appointment = checked_in()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    items = [
        {"product": "Restylane", "lot": "GOOD1", "expiry": FAR},
        {"product": "Restylane", "lot": "OLD1", "expiry": yesterday},
    ]
    response = complete(as_practitioner, appointment, items)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and list(body["fields"]) == ["injectables.1.expiry"]
    assert "expired" in body["fields"]["injectables.1.expiry"][0]
    nothing_stored(appointment)


def test_a_lot_expiring_on_the_visit_day_may_be_used(as_practitioner: APIClient) -> None:
    appointment = checked_in()
    today = timezone.localdate().isoformat()
    assert complete(as_practitioner, appointment, [{"product": "P", "lot": "L", "expiry": today}]).status_code == 200


def test_expiry_is_compared_with_the_clinic_local_day_of_the_visit(as_practitioner: APIClient) -> None:
    # 00:30 in Hong Kong is still the previous day in UTC: the lot expired the day before the visit.
    day = timezone.localdate()
    appointment = checked_in(start=datetime.combine(day, time(0, 30), tzinfo=clinic_zone()))
    expiry = (day - timedelta(days=1)).isoformat()
    response = complete(as_practitioner, appointment, [{"product": "P", "lot": "L", "expiry": expiry}])
    assert response.status_code == 400 and "injectables.0.expiry" in response.json()["fields"]
    nothing_stored(appointment)


@pytest.mark.parametrize(
    ("category", "injectables", "field"),
    [
        (Category.FILLER, ..., "injectables"),
        (Category.TOXIN, [], "injectables"),
        (Category.STEROID, None, "injectables"),
        (Category.FILLER, [{"lot": "L1", "expiry": FAR}], "injectables.0.product"),
        (Category.FILLER, [{"product": "P", "expiry": FAR}], "injectables.0.lot"),
        (Category.FILLER, [{"product": "P", "lot": "L1"}], "injectables.0.expiry"),
        (Category.FILLER, [{"product": "P", "lot": "  ", "expiry": FAR}], "injectables.0.lot"),
        (Category.FILLER, [{"product": "P", "lot": "--", "expiry": FAR}], "injectables.0.lot"),
        (Category.FILLER, [{"product": "P", "lot": "L", "expiry": "31/12/2099"}], "injectables.0.expiry"),
        (Category.FILLER, [{"product": "P", "lot": "L", "expiry": FAR, "unit": "mg"}], "injectables.0.unit"),
        (Category.FILLER, [{"product": "P", "lot": "L", "expiry": FAR, "amount": 0}], "injectables.0.amount"),
        (Category.FILLER, [{"product": "P", "lot": "L", "expiry": FAR, "amount": 21}], "injectables.0.amount"),
        (Category.TOXIN, [{"product": "P", "lot": "L", "expiry": FAR, "amount": "1e400"}], "injectables.0.amount"),
        (Category.FILLER, [{"product": "P", "lot": "L", "expiry": FAR, "batch": "x"}], "injectables.0.batch"),
        (Category.FILLER, [{"product": 12, "lot": "L", "expiry": FAR}], "injectables.0.product"),
        (Category.FILLER, [{"product": "P", "lot": "L\x00", "expiry": FAR}], "injectables.0.lot"),
        (Category.FILLER, ["L1"], "injectables.0.non_field_errors"),
        (Category.FILLER, [{"product": "P", "lot": f"L{n}", "expiry": FAR} for n in range(11)], "injectables"),
        (Category.LASER, [{"product": "P", "lot": "L", "expiry": FAR}], "injectables"),
    ],
)
def test_missing_or_bad_injectable_fields_are_400_and_store_nothing(
    as_practitioner: APIClient, category: str, injectables: Any, field: str
) -> None:
    appointment = checked_in(category)
    response = complete(as_practitioner, appointment, injectables)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid" and field in response.json()["fields"], response.json()
    nothing_stored(appointment)


def test_product_and_lot_are_no_longer_free_parameters(as_practitioner: APIClient) -> None:
    appointment = checked_in()
    items = [{"product": "P", "lot": "L", "expiry": FAR}]
    response = complete(as_practitioner, appointment, items, parameters={"lot": "L"})
    assert response.status_code == 400 and "parameters.lot" in response.json()["fields"]
    nothing_stored(appointment)


def test_the_service_refuses_an_expired_lot_from_any_door() -> None:
    from clinic.errors import InvalidInput

    appointment = checked_in()
    expired = (timezone.localdate() - timedelta(days=30)).isoformat()
    with pytest.raises(InvalidInput) as raised:
        services.appointment_complete(
            appointment=appointment,
            by=UserFactory(role="practitioner"),
            record={"injectables": [{"product": "P", "lot": "L", "expiry": expired}]},
        )
    assert list(raised.value.fields or {}) == ["injectables.0.expiry"]
    nothing_stored(appointment)


# --- the lot search ---------------------------------------------------------------------------


def test_a_manager_finds_who_received_a_lot_whatever_its_spelling(as_manager: APIClient) -> None:
    chan = PatientFactory(full_name="Chan Tai Man", phone="+85291234567", email="chan@example.com")
    lee = PatientFactory(full_name="李嘉欣", phone="+85298765432", email="")
    first = used("AB-123", patient=chan, days_ago=20)
    second = used("ab123", patient=lee, days_ago=5)
    used("AB-1234", days_ago=2)  # another lot, however close
    used("XY9", patient=chan)

    response = as_manager.get("/api/v1/lots/", {"lot": "ab 123"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert [newest["session_record"], oldest["session_record"]] == [second.pk, first.pk]  # newest visit first
    assert newest["patient"] == {"id": lee.pk, "name": "李嘉欣", "phone": "+85298765432", "email": ""}
    assert oldest["patient"] == {
        "id": chan.pk,
        "name": "Chan Tai Man",
        "phone": "+85291234567",
        "email": "chan@example.com",
    }
    appointment = first.appointment
    assert oldest["date"] == appointment.start.astimezone(clinic_zone()).date().isoformat()
    assert oldest["treatment"] == appointment.treatment.slug
    assert (oldest["product"], oldest["lot"], oldest["expiry"], oldest["amount"], oldest["unit"]) == (
        "Restylane Volyme",
        "AB-123",
        FAR,
        "1.00",
        "ml",
    )
    assert oldest["practitioner"] == {"id": appointment.practitioner_id, "name": appointment.practitioner.name}
    assert oldest["appointment"] == appointment.pk


def test_full_width_and_dashes_are_folded() -> None:
    assert normalise_lot("ＡＢ－１２３") == normalise_lot(" a.b 1-2/3 ") == "AB123"


def test_each_patient_listed_is_written_to_the_access_log(as_manager: APIClient) -> None:
    chan, lee = PatientFactory(), PatientFactory()
    used("L77", patient=chan, days_ago=9)
    used("L77", patient=chan, days_ago=4)
    used("L77", patient=lee)
    bystander = PatientFactory()
    used("OTHER", patient=bystander)

    assert as_manager.get("/api/v1/lots/", {"lot": "l77"}).status_code == 200
    events = AccessEvent.objects.filter(what=AccessEvent.What.SESSION_RECORD, door=AccessEvent.Door.API)
    assert sorted(events.values_list("patient_id", flat=True)) == sorted([chan.pk, lee.pk])  # one per patient
    assert events.first().actor_role == "manager"

    before = AccessEvent.objects.count()
    assert as_manager.get("/api/v1/lots/", {"lot": "l77", "format": "csv"}).status_code == 200
    csv_reads = AccessEvent.objects.order_by("id")[before:]
    assert sorted(event.patient_id for event in csv_reads) == sorted([chan.pk, lee.pk])


def test_the_csv_holds_the_same_rows_in_one_step(as_manager: APIClient) -> None:
    patient = PatientFactory(full_name='=HYPERLINK("http://x")', phone="+85291234567", email="p@example.com")
    record = used("KT-3391", patient=patient, category=Category.STEROID, product="Kenalog-10")
    used("KT3391", days_ago=8)

    for response in (
        as_manager.get("/api/v1/lots/", {"lot": "kt3391", "format": "csv"}),
        as_manager.get("/api/v1/lots/", {"lot": "kt3391"}, HTTP_ACCEPT="text/csv"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert 'filename="lot-KT3391.csv"' in response["Content-Disposition"]
        text = response.content.decode("utf-8")
        assert text.startswith("\ufeff")  # spreadsheets read the Chinese names as UTF-8
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        assert len(rows) == 2
        mine = rows[0]
        assert mine["patient_id"] == str(patient.pk)
        assert mine["patient_name"] == '\'=HYPERLINK("http://x")'  # never a formula
        assert (mine["phone"], mine["email"]) == ("+85291234567", "p@example.com")
        assert (mine["product"], mine["lot"], mine["expiry"], mine["amount"], mine["unit"]) == (
            "Kenalog-10",
            "KT-3391",
            FAR,
            "1",
            "mg",
        )
        assert mine["session_record"] == str(record.pk)
        assert mine["practitioner"] == record.appointment.practitioner.name


def test_a_lot_nobody_received_is_an_empty_list(as_manager: APIClient) -> None:
    used("AB1")
    assert as_manager.get("/api/v1/lots/", {"lot": "ZZ9"}).json()["count"] == 0
    assert not AccessEvent.objects.exists()


@pytest.mark.parametrize("query", [{}, {"lot": ""}, {"lot": "  -- "}, {"lot": "x" * 61}, {"lot": "A", "format": "xml"}])
def test_a_search_without_a_lot_is_400(as_manager: APIClient, query: dict[str, str]) -> None:
    response = as_manager.get("/api/v1/lots/", query)
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) <= {"lot", "format"}


@pytest.mark.parametrize("role", ["practitioner", "receptionist"])
def test_only_managers_search_lots(role: str) -> None:
    used("AB1")
    response = client_for(UserFactory(role=role)).get("/api/v1/lots/", {"lot": "AB1"})
    assert response.status_code == 403
    response = client_for(UserFactory(role=role)).get("/api/v1/lots/", {"lot": "AB1", "format": "csv"})
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert not AccessEvent.objects.exists()


def test_a_patient_cannot_search_lots() -> None:
    patient = PatientFactory()
    used("AB1", patient=patient)
    assert client_for(patient.user).get("/api/v1/lots/", {"lot": "AB1"}).status_code == 403


def test_the_search_queries_do_not_grow(as_manager: APIClient, django_assert_max_num_queries: Any) -> None:
    for _ in range(6):
        used("Q1")
    with django_assert_max_num_queries(12):
        response = as_manager.get("/api/v1/lots/", {"lot": "Q1"})
    assert response.json()["count"] == 6


# --- old records and erasure ------------------------------------------------------------------


def test_old_parameters_are_copied_into_rows_with_the_expiry_unknown() -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("booking.migrations.0011_injectable_use_from_parameters")
    appointment = AppointmentFactory(
        treatment=TreatmentFactory(slug="old-filler", category=Category.FILLER), status=Appointment.Status.COMPLETED
    )
    record = SessionRecord.objects.create(
        appointment=appointment,
        category=Category.FILLER,
        parameters={"product": "Juvederm", "lot": "jv 42", "volume_ml": 1.5, "depth": "deep"},
    )
    migration.forwards(apps, None)
    record.refresh_from_db()
    assert record.parameters == {"volume_ml": 1.5, "depth": "deep"}
    use = record.injectables.get()
    assert (use.product, use.lot, use.lot_key, use.expiry, use.amount, use.unit) == (
        "Juvederm",
        "jv 42",
        "JV42",
        None,
        Decimal("1.50"),
        "ml",
    )


def test_the_search_shows_old_rows_without_an_expiry(as_manager: APIClient) -> None:
    record = used("NEW1")
    InjectableUse.objects.filter(session_record=record).update(expiry=None)
    result = as_manager.get("/api/v1/lots/", {"lot": "new1"}).json()["results"][0]
    assert result["expiry"] is None


def test_erasure_removes_the_rows_with_the_records() -> None:
    from booking import erasure

    patient = PatientFactory()
    record = used("ER1", patient=patient, days_ago=10)
    done = erasure.patient_erase(patient=patient, by=UserFactory(role="manager"))
    far = timezone.now() + timedelta(days=365 * 30)
    assert erasure.erasure_purge(erasure_id=done.pk, now=far)
    assert not InjectableUse.objects.exists() and not InjectableUse.history.exists()
    assert not SessionRecord.objects.filter(pk=record.pk).exists()
