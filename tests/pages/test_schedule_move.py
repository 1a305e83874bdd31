"""Moving an appointment from the schedule (drag and drop or its Move dialog):
the endpoint asks the reschedule service, so its rules and messages hold; who
may move; bad input is a 4xx that changes nothing."""

from __future__ import annotations

import json

import pytest

from booking import services
from booking.models import Appointment, Notification
from tests.factories import HealthDeclarationFactory, PatientFactory
from tests.pages.staff_fixtures import at, make_clinic, next_workday

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "schedule-status"}


@pytest.fixture
def clinic():
    return make_clinic()


def book(clinic, hour, patient=None, practitioner=None):
    day = next_workday()
    if patient is not None:
        HealthDeclarationFactory(patient=patient)
    return services.appointment_book(
        patient=patient or clinic.patient,
        treatment=clinic.treatment,
        start=at(day, hour),
        practitioner=practitioner or clinic.practitioner,
        booked_by=clinic.receptionist,
        staff=True,
    )


def url(appointment) -> str:
    return f"/staff/appointments/{appointment.pk}/move/"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", 302), ("patient", 403), ("receptionist", 200), ("practitioner", 200), ("manager", 200)],
)
def test_who_may_move(client, clinic, role, expected) -> None:
    appointment = book(clinic, 10)
    user = clinic.user(role)
    if user is not None:
        client.force_login(user)
    response = client.post(url(appointment), {"start": at(next_workday(), 15).isoformat()}, **HTMX)
    assert response.status_code == expected
    appointment.refresh_from_db()
    moved = appointment.start == at(next_workday(), 15)
    assert moved == (expected == 200)
    if expected == 200:
        # The grid redraws itself, and the move is told in a toast (clinic/toasts.py).
        events = json.loads(response.headers["HX-Trigger"])
        assert "schedule-changed" in events
        assert "moved to" in events["clinic:messages"]["messages"][0]["message"]
        assert Notification.objects.filter(appointment=appointment, kind="reschedule").exists()


def test_a_move_to_another_column_changes_the_practitioner(client, clinic) -> None:
    appointment = book(clinic, 10)
    client.force_login(clinic.receptionist)
    start = at(next_workday(), 16)
    response = client.post(url(appointment), {"start": start.isoformat(), "practitioner": clinic.other.pk}, **HTMX)
    assert response.status_code == 200
    appointment.refresh_from_db()
    assert appointment.start == start and appointment.practitioner == clinic.other
    assert appointment.status == Appointment.Status.CONFIRMED


def test_refused_moves_say_why_and_change_nothing(client, clinic) -> None:
    appointment = book(clinic, 10)
    book(clinic, 11, patient=PatientFactory(full_name="Ho Ka Yan"), practitioner=clinic.other)
    client.force_login(clinic.receptionist)
    day = next_workday()
    taken = client.post(url(appointment), {"start": at(day, 11).isoformat(), "practitioner": clinic.other.pk}, **HTMX)
    assert taken.status_code == 409 and "schedule-refused" in taken.text
    closed = client.post(url(appointment), {"start": at(day, 21).isoformat()}, **HTMX)  # after working hours
    assert closed.status_code == 400 and "schedule-refused" in closed.text
    for data, status in [
        ({}, 400),
        ({"start": "garbage"}, 400),
        ({"start": "2026-12-07T10:00"}, 400),  # no offset
        ({"start": "x" * 5000}, 400),
        ({"start": at(day, 15).isoformat(), "practitioner": "abc"}, 400),
        ({"start": at(day, 15).isoformat(), "practitioner": "99999"}, 400),
        ({"start": at(day, 15).isoformat(), "practitioner": "-1"}, 400),
    ]:
        response = client.post(url(appointment), data, **HTMX)
        assert response.status_code == status, data
        assert "HX-Trigger" not in response.headers
    assert client.get(url(appointment)).status_code == 405
    assert client.post("/staff/appointments/999999/move/", {"start": at(day, 15).isoformat()}).status_code == 404
    fresh = Appointment.objects.get(pk=appointment.pk)
    assert (fresh.start, fresh.practitioner_id, fresh.sequence) == (
        appointment.start,
        appointment.practitioner_id,
        appointment.sequence,
    )


def test_a_cancelled_appointment_cannot_be_moved(client, clinic) -> None:
    appointment = book(clinic, 10)
    services.appointment_cancel(appointment=appointment, by=clinic.receptionist, staff=True, reason="")
    client.force_login(clinic.receptionist)
    response = client.post(url(appointment), {"start": at(next_workday(), 15).isoformat()}, **HTMX)
    assert response.status_code == 409 and "Only a confirmed appointment can be moved." in response.text


def test_without_htmx_the_move_returns_to_the_schedule_of_its_day(client, clinic) -> None:
    appointment = book(clinic, 10)
    client.force_login(clinic.manager)
    response = client.post(url(appointment), {"start": at(next_workday(), 15).isoformat()})
    assert response.status_code == 302 and response.headers["Location"] == f"/staff/?date={next_workday()}"


def test_day_blocks_offer_one_click_actions_and_a_move(client, clinic) -> None:
    appointment = book(clinic, 10)
    client.force_login(clinic.receptionist)
    page = client.get(f"/staff/?date={next_workday()}").text
    assert f'data-move="/staff/appointments/{appointment.pk}/move/"' in page
    assert 'data-move-open data-focus-key="move-' in page
    # Tomorrow: neither check-in nor no-show yet (the services would refuse them).
    assert f'hx-post="/staff/appointments/{appointment.pk}/check-in/"' not in page
    assert f'hx-post="/staff/appointments/{appointment.pk}/no-show/"' not in page
