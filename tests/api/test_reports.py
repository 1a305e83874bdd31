"""The reports' API: GET /api/v1/reports/outcomes/ and /operations/ (booking/report_apis.py).

Who may ask, the shape of the answer, the filters refused with the field named,
the numbers equal to the report functions' (which the staff pages draw) for
the same filters, and a query count that does not grow with the clinic.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from booking import report_apis
from booking.models import Appointment, Practitioner, SessionRecord
from booking.report_operations import operations_report
from booking.report_outcomes import outcomes_report
from booking.reports import ReportFilters, report_json
from clinic.clock import clinic_today, clinic_zone
from tests.api.conftest import client_for
from tests.factories import (
    AppointmentFactory,
    AssessmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Treatment

pytestmark = pytest.mark.django_db

OUTCOMES = "/api/v1/reports/outcomes/"
OPERATIONS = "/api/v1/reports/operations/"
KINDS = {"text", "count", "number", "percent", "money", "rate"}


def treat(
    patients: int, *, practitioner: Practitioner, treatment: Treatment, first_day: date, adverse_every: int = 0
) -> None:
    """``patients`` new patients, each with a baseline assessment, two completed
    visits with ``practitioner`` a month apart (session records with settings)
    and a follow-up assessment scoring 6 points better."""
    zone = clinic_zone()
    room = RoomFactory(kind=treatment.room_kind)
    for index in range(patients):
        patient = PatientFactory(fitzpatrick_type=3 + index % 2)
        AssessmentFactory(patient=patient, assessed_on=first_day, qualitative_grade=3, macular=12)
        for visit in range(2):
            day = first_day + timedelta(days=1 + 30 * visit)
            start = datetime.combine(day, time(9), tzinfo=zone) + timedelta(minutes=40 * index)
            appointment = AppointmentFactory(
                patient=patient,
                treatment=treatment,
                practitioner=practitioner,
                room=room,
                start=start,
                status=Appointment.Status.COMPLETED,
                completed_at=start + timedelta(minutes=30),
            )
            SessionRecord.objects.create(
                appointment=appointment,
                category=treatment.category,
                parameters={"fluence_j_cm2": 20 + index, "density_percent": 10},
                adverse_events="Prolonged redness" if adverse_every and index % adverse_every == 0 else "",
            )
        AssessmentFactory(patient=patient, assessed_on=first_day + timedelta(days=60), qualitative_grade=2, macular=6)


@pytest.fixture
def clinic() -> dict[str, Any]:
    """Two practitioners with six patients each, treated within the last 100 days."""
    treatment = TreatmentFactory(slug="co2-fractional")
    karen = PractitionerFactory(treatments=[treatment])
    michael = PractitionerFactory(treatments=[treatment])
    first_day = clinic_today() - timedelta(days=100)
    treat(6, practitioner=karen, treatment=treatment, first_day=first_day, adverse_every=3)
    treat(6, practitioner=michael, treatment=treatment, first_day=first_day)
    return {"treatment": treatment, "karen": karen, "michael": michael}


# --- who may ask ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "outcomes", "operations"),
    [
        (None, 401, 401),
        ("patient", 403, 403),
        ("receptionist", 403, 403),
        ("practitioner", 200, 403),
        ("manager", 200, 200),
    ],
)
def test_who_may_read_each_report(role: str | None, outcomes: int, operations: int) -> None:
    if role is None:
        client = APIClient()
    elif role == "patient":
        client = client_for(PatientFactory().user)
    else:
        client = client_for(UserFactory(role=role))
    for url, expected in ((OUTCOMES, outcomes), (OPERATIONS, operations)):
        response = client.get(url)
        assert response.status_code == expected, (url, response.content[:200])
        if expected != 200:
            assert response.json()["code"] in {"not_authenticated", "permission_denied"}


def test_a_practitioner_sees_only_their_own_patients_outcomes(
    clinic: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[ReportFilters] = []

    def spy(filters: ReportFilters) -> Any:
        asked.append(filters)
        return outcomes_report(filters)

    monkeypatch.setattr(report_apis, "outcomes_report", spy)
    karen = clinic["karen"]
    mine = client_for(karen.user).get(OUTCOMES, {"practitioner": clinic["michael"].pk}).json()
    everyone = client_for(UserFactory(role="manager")).get(OUTCOMES).json()
    assert asked[0].own_patients_of == karen.pk  # even when asking about another practitioner's visits
    assert mine["filters"]["own_patients_only"] is True
    assert asked[1].own_patients_of is None and everyone["filters"]["own_patients_only"] is False
    # The answer is the report of exactly those filters, so the function's rule applies.
    assert mine == report_json(outcomes_report(asked[0]))


def test_a_practitioner_without_a_diary_sees_no_one(clinic: dict[str, Any]) -> None:
    body = client_for(UserFactory(role="practitioner")).get(OUTCOMES).json()
    assert body["filters"]["own_patients_only"] is True
    for table in body["tables"]:
        assert table["rows"] == []


# --- the answer ----------------------------------------------------------------------


def test_the_answer_is_tables_of_rows_keyed_by_column(clinic: dict[str, Any]) -> None:
    manager = client_for(UserFactory(role="manager"))
    for url, key in ((OUTCOMES, "outcomes"), (OPERATIONS, "operations")):
        body = manager.get(url).json()
        assert body["report"] == key
        assert set(body) == {"report", "filters", "min_group", "tables"}
        assert body["min_group"] == 5
        assert body["tables"], url
        for table in body["tables"]:
            assert set(table) == {"key", "title", "description", "columns", "rows", "hidden_groups"}
            keys = [column["key"] for column in table["columns"]]
            assert all(column["kind"] in KINDS and column["label"] for column in table["columns"])
            for row in table["rows"]:
                assert list(row) == keys
                assert all(value is None or isinstance(value, str | int | float) for value in row.values())


def test_default_periods_end_today() -> None:
    manager = client_for(UserFactory(role="manager"))
    today = clinic_today()
    outcomes = manager.get(OUTCOMES).json()["filters"]
    operations = manager.get(OPERATIONS).json()["filters"]
    assert outcomes["to"] == operations["to"] == today.isoformat()
    assert outcomes["from"] == (today - timedelta(days=364)).isoformat()
    assert operations["from"] == (today - timedelta(days=83)).isoformat()
    assert outcomes["target_grade"] == 2 and outcomes["practitioner"] is None and outcomes["treatment"] is None


def test_filters_are_echoed_as_read(clinic: dict[str, Any]) -> None:
    manager = client_for(UserFactory(role="manager"))
    query = {
        "from": "2026-01-01",
        "to": "2026-06-30",
        "practitioner": clinic["karen"].pk,
        "treatment": "co2-fractional",
        "target_grade": "1",
    }
    filters = manager.get(OUTCOMES, query).json()["filters"]
    assert filters == {
        "from": "2026-01-01",
        "to": "2026-06-30",
        "practitioner": clinic["karen"].pk,
        "treatment": "co2-fractional",
        "target_grade": 1,
        "own_patients_only": False,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "01/02/2026"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-1-1"}, "from"),
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"from": "2026-03-01", "to": "2026-02-01"}, "to"),
        ({"from": "2022-01-01", "to": "2026-01-01"}, "to"),
        ({"practitioner": "999999"}, "practitioner"),
        ({"practitioner": "abc"}, "practitioner"),
        ({"practitioner": "²"}, "practitioner"),
        ({"treatment": "no-such-treatment"}, "treatment"),
        ({"treatment": "bad\x00slug"}, "treatment"),
        ({"target_grade": "5"}, "target_grade"),
        ({"target_grade": "0"}, "target_grade"),
        ({"target_grade": "mild"}, "target_grade"),
        ({"to": ""}, "to"),
        ({"practitioner": " "}, "practitioner"),
    ],
)
def test_bad_filters_are_400_naming_the_field(query: dict[str, str], field: str) -> None:
    manager = client_for(UserFactory(role="manager"))
    for url in (OUTCOMES, OPERATIONS):
        response = manager.get(url, query)
        assert response.status_code == 400, (url, query, response.content[:300])
        body = response.json()
        assert body["code"] == "invalid"
        assert list(body["fields"]) == [field]
        assert body["fields"][field][0]


def test_every_bad_filter_is_named_at_once() -> None:
    body = (
        client_for(UserFactory(role="manager"))
        .get(OPERATIONS, {"from": "yesterday", "treatment": "nope", "target_grade": "9"})
        .json()
    )
    assert set(body["fields"]) == {"from", "treatment", "target_grade"}


def test_errors_speak_the_requests_language() -> None:
    response = client_for(UserFactory(role="manager")).get(
        OPERATIONS, {"target_grade": "9"}, HTTP_ACCEPT_LANGUAGE="zh-hant"
    )
    assert response.status_code == 400
    message = response.json()["fields"]["target_grade"][0]
    assert message != "Give a grade from 1 to 4." and any("\u4e00" <= ch <= "\u9fff" for ch in message)


# --- the same numbers as the pages -----------------------------------------------------


def test_the_numbers_are_the_report_functions_for_the_same_filters(clinic: dict[str, Any]) -> None:
    """The staff pages draw booking.report_outcomes / report_operations for these
    filters; the API must answer exactly their tables."""
    manager = client_for(UserFactory(role="manager"))
    end = clinic_today()
    start = end - timedelta(days=120)
    for url, report, practitioner in (
        (OUTCOMES, outcomes_report, None),
        (OUTCOMES, outcomes_report, clinic["karen"].pk),
        (OPERATIONS, operations_report, None),
        (OPERATIONS, operations_report, clinic["michael"].pk),
    ):
        query: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat(), "treatment": "co2-fractional"}
        if practitioner:
            query["practitioner"] = practitioner
        body = manager.get(url, query).json()
        filters = ReportFilters(
            start=start,
            end=end,
            practitioner_id=practitioner,
            treatment_id=clinic["treatment"].pk,
            treatment_slug="co2-fractional",
        )
        assert body == report_json(report(filters)), url


# --- cost --------------------------------------------------------------------------------


def test_the_query_count_does_not_grow_with_the_clinic(clinic: dict[str, Any]) -> None:
    manager = client_for(UserFactory(role="manager"))
    practitioner = client_for(clinic["karen"].user)

    def queries(client: APIClient, url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    calls: list[tuple[APIClient, str]] = [(manager, OUTCOMES), (manager, OPERATIONS), (practitioner, OUTCOMES)]
    for client, url in calls:  # the first request of a token also reads what later ones find cached
        queries(client, url)
    before = [queries(client, url) for client, url in calls]
    treatment: Treatment = clinic["treatment"]
    other = TreatmentFactory(slug="subcision")
    treat(15, practitioner=clinic["karen"], treatment=treatment, first_day=clinic_today() - timedelta(days=200))
    treat(10, practitioner=clinic["michael"], treatment=other, first_day=clinic_today() - timedelta(days=150))
    after = [queries(client, url) for client, url in calls]
    assert after == before


def test_the_schema_documents_both_reports() -> None:
    body = client_for(None).get("/api/v1/schema/?format=json").json()
    for url in (OUTCOMES, OPERATIONS):
        operation = body["paths"][url]["get"]
        assert {"200", "400", "401", "403"} <= set(operation["responses"])
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert names == {"from", "to", "practitioner", "treatment", "target_grade"}
    rows = body["components"]["schemas"]["ReportTable"]["properties"]["rows"]
    assert rows["items"]["additionalProperties"]["nullable"] is True
