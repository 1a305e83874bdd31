"""Gap rules through the API: 422 too_close in the contract's order, staff
passing it with override_reason, the screening endpoint, moving, and the
warnings in a new plan's answer."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from booking.models import Appointment
from patients.models import Patient
from tests.booking.spacing_fixtures import GapClinic, make_gap_clinic

pytestmark = pytest.mark.django_db


@pytest.fixture
def gap_clinic() -> GapClinic:
    return make_gap_clinic()


def weekday(on_or_after: date) -> date:
    while on_or_after.weekday() >= 5:
        on_or_after += timedelta(days=1)
    return on_or_after


def at(day: date, hour: int = 11) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


@pytest.fixture
def toxin_day() -> date:
    return weekday(timezone.localdate() + timedelta(days=7))


def book(client: APIClient, slug: str, start: datetime, **extra: Any) -> Any:
    return client.post("/api/v1/appointments/", {"treatment": slug, "start": start.isoformat(), **extra}, format="json")


def test_a_patient_booking_too_close_is_422_too_close_naming_the_other_visit(
    as_a: APIClient, patient_a: Patient, gap_clinic: GapClinic, toxin_day: date
) -> None:
    toxin = gap_clinic.visit(patient_a, "botox", at(toxin_day))
    day = weekday(toxin_day + timedelta(days=2))
    response = book(as_a, "hydrafacial", at(day))
    assert response.status_code == 422, response.json()
    body = response.json()
    assert body["code"] == "too_close"
    assert [(r["code"], r["severity"], r["appointment"]) for r in body["reasons"]] == [("too_close", "block", toxin.pk)]
    assert "Botulinum toxin" in body["reasons"][0]["detail"]
    assert not Appointment.objects.filter(treatment=gap_clinic["hydrafacial"]).exists()
    # 400 not_bookable comes first: 10:07 is not on the grid.
    response = book(as_a, "hydrafacial", at(day).replace(minute=7))
    assert response.json()["code"] == "not_bookable"


def test_staff_pass_the_block_with_a_reason(
    as_reception: APIClient, patient_a: Patient, gap_clinic: GapClinic, toxin_day: date
) -> None:
    toxin = gap_clinic.visit(patient_a, "botox", at(toxin_day))
    start = at(weekday(toxin_day + timedelta(days=2)))
    refused = book(as_reception, "hydrafacial", start, patient=patient_a.pk)
    assert refused.status_code == 422
    response = book(as_reception, "hydrafacial", start, patient=patient_a.pk, override_reason="Forehead only")
    assert response.status_code == 201, response.json()
    assert [(c["code"], c["appointment"]) for c in response.json()["cautions"]] == [("too_close", toxin.pk)]
    assert Appointment.objects.get(pk=response.json()["id"]).override_reason == "Forehead only"


def test_screening_with_a_start_says_what_booking_would(
    as_a: APIClient, patient_a: Patient, gap_clinic: GapClinic, toxin_day: date
) -> None:
    toxin = gap_clinic.visit(patient_a, "botox", at(toxin_day))
    close = at(weekday(toxin_day + timedelta(days=2)))
    response = as_a.post("/api/v1/screening/", {"treatment": "hydrafacial", "start": close.isoformat()}, format="json")
    assert response.status_code == 200
    assert response.json()["outcome"] == "blocked"
    assert [(r["code"], r["appointment"]) for r in response.json()["reasons"]] == [("too_close", toxin.pk)]
    far = at(weekday(toxin_day + timedelta(days=8)))
    response = as_a.post("/api/v1/screening/", {"treatment": "hydrafacial", "start": far.isoformat()}, format="json")
    assert response.json() == {"outcome": "clear", "reasons": [], "downtime": []}


def test_moving_too_close_is_422_and_only_staff_may_send_a_reason(
    as_a: APIClient, as_reception: APIClient, patient_a: Patient, gap_clinic: GapClinic, toxin_day: date
) -> None:
    gap_clinic.visit(patient_a, "peel-superficial", at(toxin_day))
    hydra = gap_clinic.visit(patient_a, "hydrafacial", at(weekday(toxin_day + timedelta(days=21))))
    target = {"start": at(weekday(toxin_day + timedelta(days=3))).isoformat()}
    url = f"/api/v1/appointments/{hydra.pk}/reschedule/"
    refused = as_a.post(url, target, format="json")
    assert (refused.status_code, refused.json()["code"]) == (422, "too_close")
    assert "Superficial peel" in refused.json()["reasons"][0]["detail"]
    assert Appointment.objects.get(pk=hydra.pk).start == hydra.start
    refused = as_a.post(url, {**target, "override_reason": "please"}, format="json")
    assert refused.status_code == 400
    assert "override_reason" in refused.json()["fields"]
    moved = as_reception.post(url, {**target, "override_reason": "Peel on the back"}, format="json")
    assert moved.status_code == 200, moved.json()
    hydra.refresh_from_db()
    assert hydra.override_reason == "Peel on the back"


def test_a_new_plan_warns_of_windows_a_gap_rule_touches(
    as_practitioner: APIClient, patient_a: Patient, gap_clinic: GapClinic, toxin_day: date
) -> None:
    body = {"patient": patient_a.pk, "treatment": "peel-superficial", "sessions": 3, "start_after": str(toxin_day)}
    clear = as_practitioner.post("/api/v1/plans/", body, format="json")
    assert clear.status_code == 201, clear.json()
    assert clear.json()["spacing"] == []
    hydra = gap_clinic.visit(patient_a, "hydrafacial", at(weekday(toxin_day + timedelta(days=3))))
    warned = as_practitioner.post("/api/v1/plans/", {**body, "treatment": "peel-tca-medium"}, format="json")
    assert warned.status_code == 201, warned.json()
    [finding] = [f for f in warned.json()["spacing"] if f["session"] == 1]
    assert (finding["code"], finding["severity"], finding["appointment"]) == ("too_close", "block", hydra.pk)
