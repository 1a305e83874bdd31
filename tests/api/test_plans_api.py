"""Treatment plans through the API (docs/domain.md, Treatment plans; appointments with plan_session).

The course is the factory's superficial peel: 3–6 sessions, 14–35 days apart,
so session 1's window is [start_after, start_after + 21] and session k's is
[anchor + 14, anchor + 35], anchored on session k−1's completed date, else its
booked date, else its window start.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from booking import services as booking
from booking.models import Appointment, Practitioner
from patients.models import Patient
from tests.api.conftest import client_for
from tests.factories import AssessmentFactory, HealthDeclarationFactory, PatientFactory, TreatmentFactory, UserFactory
from treatments import services
from treatments.models import PlanSession, Treatment, TreatmentPlan

pytestmark = pytest.mark.django_db

D = timedelta


def weekday(on_or_after: date) -> date:
    while on_or_after.weekday() >= 5:
        on_or_after += D(days=1)
    return on_or_after


def at(day: date, hour: int = 11) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def start_day() -> date:
    return weekday(timezone.localdate() + D(days=3))


def create(client: APIClient, owner: Patient, course: Treatment, **extra: Any) -> Any:
    body = {"patient": owner.pk, "treatment": course.slug, "sessions": 3, **extra}
    return client.post("/api/v1/plans/", body, format="json")


def plan_for(
    patient: Patient, treatment: Treatment, *, sessions: int = 3, start_after: date | None = None
) -> TreatmentPlan:
    return services.plan_create(
        patient=patient,
        treatment=treatment,
        sessions=sessions,
        start_after=start_after or start_day(),
        by=UserFactory(role="practitioner"),
    )


def sessions_of(client: APIClient, plan: TreatmentPlan | int) -> list[dict[str, Any]]:
    pk = plan if isinstance(plan, int) else plan.pk
    response = client.get(f"/api/v1/plans/{pk}/")
    assert response.status_code == 200, response.json()
    return response.json()["sessions"]


def session(plan: TreatmentPlan, number: int) -> PlanSession:
    return plan.sessions.get(number=number)


def book(
    client: APIClient, treatment: Treatment, start: datetime, plan_session: PlanSession | int | None, **extra: Any
) -> Any:
    pk = plan_session.pk if isinstance(plan_session, PlanSession) else plan_session
    return client.post(
        "/api/v1/appointments/",
        {"treatment": treatment.slug, "start": start.isoformat(), "plan_session": pk, **extra},
        format="json",
    )


def window(row: dict[str, Any]) -> tuple[date, date]:
    return date.fromisoformat(row["window_start"]), date.fromisoformat(row["window_end"])


def complete(appointment_id: int, *, by: Any) -> None:
    """Checks the appointment in on its day and completes it there."""
    appointment = Appointment.objects.get(pk=appointment_id)
    with time_machine.travel(appointment.start - D(minutes=30), tick=False):
        booking.appointment_check_in(appointment=appointment, by=by)
        booking.appointment_complete(appointment=appointment, by=by, record={})


@pytest.fixture
def clinician() -> Any:
    return UserFactory(role="practitioner")


# --- creating plans --------------------------------------------------------------------------


def test_practitioner_plans_a_course_with_projected_windows(
    as_practitioner: APIClient, patient_a: Patient, peel: Treatment
) -> None:
    first = start_day()
    assessment = AssessmentFactory(patient=patient_a)
    response = create(as_practitioner, patient_a, peel, start_after=first.isoformat(), assessment=assessment.pk)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["treatment"], body["patient"], body["assessment"]) == (
        "active",
        peel.slug,
        patient_a.pk,
        assessment.pk,
    )
    rows = body["sessions"]
    assert [(r["number"], r["status"], r["appointment"]) for r in rows] == [
        (1, "pending", None),
        (2, "pending", None),
        (3, "pending", None),
    ]
    assert [window(r) for r in rows] == [
        (first, first + D(21)),
        (first + D(14), first + D(35)),
        (first + D(28), first + D(49)),
    ]
    assert TreatmentPlan.objects.get(pk=body["id"]).history.count() == 1


def test_start_after_defaults_to_today(as_practitioner: APIClient, patient_a: Patient, peel: Treatment) -> None:
    rows = create(as_practitioner, patient_a, peel).json()["sessions"]
    assert window(rows[0]) == (timezone.localdate(), timezone.localdate() + D(21))


def test_a_treatment_without_intervals_cannot_be_planned(as_practitioner: APIClient, patient_a: Patient) -> None:
    consultation = TreatmentFactory(
        slug="consultation", sessions_min=1, sessions_max=1, interval_days_min=None, interval_days_max=None
    )
    response = create(as_practitioner, patient_a, consultation, sessions=1)
    assert response.status_code == 400
    assert "treatment" in response.json()["fields"]
    assert not TreatmentPlan.objects.exists()


@pytest.mark.parametrize(("sessions", "status"), [(2, 400), (3, 201), (6, 201), (7, 400), (0, 400), ("three", 400)])
def test_the_number_of_sessions_must_fit_the_treatment(
    as_practitioner: APIClient, patient_a: Patient, peel: Treatment, sessions: Any, status: int
) -> None:
    response = create(as_practitioner, patient_a, peel, sessions=sessions)
    assert response.status_code == status
    if status == 400:
        assert "sessions" in response.json()["fields"]


def test_an_open_ended_treatment_takes_any_reasonable_number(as_practitioner: APIClient, patient_a: Patient) -> None:
    hydrafacial = TreatmentFactory(
        slug="hydrafacial", sessions_min=1, sessions_max=None, interval_days_min=28, interval_days_max=42
    )
    assert create(as_practitioner, patient_a, hydrafacial, sessions=12).status_code == 201
    assert create(as_practitioner, patient_a, hydrafacial, sessions=51).status_code == 400


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start_after": "2000-01-01"}, "start_after"),
        ({"start_after": "3000-01-01"}, "start_after"),
        ({"treatment": "no-such-treatment"}, "treatment"),
        ({"patient": 999_999_999}, "patient"),
        ({"assessment": 999_999_999}, "assessment"),
    ],
)
def test_plan_input_is_validated(
    as_practitioner: APIClient, patient_a: Patient, peel: Treatment, change: dict, field: str
) -> None:
    response = create(as_practitioner, patient_a, peel, **change)
    assert response.status_code == 400 and field in response.json()["fields"]
    assert not TreatmentPlan.objects.exists()


def test_the_assessment_must_be_the_patients(
    as_practitioner: APIClient, patient_a: Patient, patient_b: Patient, peel: Treatment
) -> None:
    response = create(as_practitioner, patient_a, peel, assessment=AssessmentFactory(patient=patient_b).pk)
    assert response.status_code == 400 and "assessment" in response.json()["fields"]


def test_several_plans_per_patient_may_run(as_practitioner: APIClient, patient_a: Patient, peel: Treatment) -> None:
    laser = TreatmentFactory(
        slug="pico-laser", sessions_min=4, sessions_max=6, interval_days_min=28, interval_days_max=56
    )
    assert create(as_practitioner, patient_a, peel).status_code == 201
    assert create(as_practitioner, patient_a, peel).status_code == 201
    assert create(as_practitioner, patient_a, laser, sessions=4).status_code == 201
    assert TreatmentPlan.objects.filter(patient=patient_a, status="active").count() == 3


# --- booking plan sessions -------------------------------------------------------------------


def test_booking_session_1_anchors_session_2_on_the_booked_date(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel)
    first = weekday(plan.start_after + D(3))
    created = book(as_a, peel, at(first), session(plan, 1))
    assert created.status_code == 201, created.json()
    assert created.json()["plan_session"] == session(plan, 1).pk
    rows = sessions_of(as_a, plan)
    assert (rows[0]["status"], rows[0]["appointment"]) == ("booked", created.json()["id"])
    assert window(rows[1]) == (first + D(14), first + D(35))  # booked, not done: anchored on the booked date
    assert window(rows[2]) == (first + D(28), first + D(49))
    assert rows[1]["status"] == "pending"


def test_patient_books_session_k_only_after_k_minus_1_is_booked(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel)
    second = session(plan, 2)
    refused = book(as_a, peel, at(weekday(second.window_start + D(1))), second)
    assert (refused.status_code, refused.json()["code"]) == (400, "not_bookable")
    assert not Appointment.objects.exists()
    first_day = weekday(plan.start_after)
    assert book(as_a, peel, at(first_day), session(plan, 1)).status_code == 201
    second.refresh_from_db()
    assert book(as_a, peel, at(weekday(second.window_start)), second).status_code == 201


def test_booking_outside_the_window_is_refused_for_patients(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel)
    first = session(plan, 1)
    day_after = first.window_end + D(1)
    while day_after.weekday() >= 5:
        day_after += D(1)
    refused = book(as_a, peel, at(day_after), first)
    assert (refused.status_code, refused.json()["code"]) == (400, "not_bookable")
    first_day = weekday(plan.start_after)
    assert book(as_a, peel, at(first_day), first).status_code == 201
    second = session(plan, 2)
    too_early = second.window_start - D(1)
    while too_early.weekday() >= 5:
        too_early -= D(1)
    refused = book(as_a, peel, at(too_early), second)
    assert (refused.status_code, refused.json()["code"]) == (400, "not_bookable")
    assert Appointment.objects.count() == 1


def test_staff_are_bound_by_an_open_window_too(
    as_reception: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel)
    late = weekday(session(plan, 1).window_end + D(1))
    refused = book(as_reception, peel, at(late), session(plan, 1), patient=patient_a.pk)
    assert (refused.status_code, refused.json()["code"]) == (400, "not_bookable")


def test_an_overdue_session_is_refused_to_the_patient_but_staff_may_book_it(
    patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel, start_after=timezone.localdate())
    first = session(plan, 1)
    later = timezone.make_aware(datetime.combine(first.window_end + D(2), time(8)))
    with time_machine.travel(later, tick=False):
        as_a, as_reception = client_for(patient_a.user), client_for(UserFactory(role="receptionist"))
        rows = sessions_of(as_a, plan)
        assert [r["status"] for r in rows] == ["overdue", "pending", "pending"]
        late_day = weekday(timezone.localdate() + D(2))
        refused = book(as_a, peel, at(late_day), first)
        assert (refused.status_code, refused.json()["code"]) == (400, "not_bookable")
        booked = book(as_reception, peel, at(late_day), first, patient=patient_a.pk)
        assert booked.status_code == 201, booked.json()
        rows = sessions_of(as_a, plan)
        assert rows[0]["status"] == "booked"
        assert window(rows[1]) == (late_day + D(14), late_day + D(35))  # late: the next window moves on
        # Staff may also move it, still outside the (ended) window.
        moved_day = weekday(late_day + D(1))
        moved = as_reception.post(
            f"/api/v1/appointments/{booked.json()['id']}/reschedule/",
            {"start": at(moved_day).isoformat()},
            format="json",
        )
        assert moved.status_code == 200, moved.json()
        assert window(sessions_of(as_a, plan)[1]) == (moved_day + D(14), moved_day + D(35))


def test_completing_early_on_time_and_late_anchors_the_next_windows(
    patient_a: Patient, peel: Treatment, practitioner: Practitioner, clinician: Any
) -> None:
    plan = plan_for(patient_a, peel, sessions=4)
    as_a = client_for(patient_a.user)
    # Session 1 on the first day of its window (early).
    first_day = weekday(plan.start_after)
    one = book(as_a, peel, at(first_day), session(plan, 1)).json()
    complete(one["id"], by=clinician)
    rows = sessions_of(as_a, plan)
    assert rows[0]["status"] == "completed"
    assert window(rows[1]) == (first_day + D(14), first_day + D(35))
    # Session 2 in the middle of its window (on time).
    second_day = weekday(first_day + D(24))
    two = book(as_a, peel, at(second_day), session(plan, 2)).json()
    complete(two["id"], by=clinician)
    rows = sessions_of(as_a, plan)
    assert window(rows[2]) == (second_day + D(14), second_day + D(35))
    assert window(rows[3]) == (second_day + D(28), second_day + D(49))
    # Session 3 on the last bookable day of its window (late, but still inside it).
    third_day = session(plan, 3).window_end
    while third_day.weekday() >= 5:
        third_day -= D(1)
    three = book(as_a, peel, at(third_day), session(plan, 3)).json()
    complete(three["id"], by=clinician)
    assert window(sessions_of(as_a, plan)[3]) == (third_day + D(14), third_day + D(35))
    plan.refresh_from_db()
    assert plan.status == "active"


def test_completing_every_session_completes_the_plan(
    patient_a: Patient, peel: Treatment, practitioner: Practitioner, clinician: Any
) -> None:
    plan = plan_for(patient_a, peel, sessions=3)
    as_a = client_for(patient_a.user)
    for number in (1, 2, 3):
        current = session(plan, number)
        day = weekday(current.window_start)
        created = book(as_a, peel, at(day), current)
        assert created.status_code == 201, created.json()
        complete(created.json()["id"], by=clinician)
    body = as_a.get(f"/api/v1/plans/{plan.pk}/").json()
    assert body["status"] == "completed"
    assert [r["status"] for r in body["sessions"]] == ["completed"] * 3


def test_rescheduling_a_plan_appointment_keeps_the_window(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel)
    first = session(plan, 1)
    created = book(as_a, peel, at(weekday(plan.start_after)), first).json()
    inside = weekday(plan.start_after + D(7))
    moved = as_a.post(
        f"/api/v1/appointments/{created['id']}/reschedule/", {"start": at(inside).isoformat()}, format="json"
    )
    assert moved.status_code == 200, moved.json()
    assert window(sessions_of(as_a, plan)[1]) == (inside + D(14), inside + D(35))
    outside = weekday(first.window_end + D(1))
    refused = as_a.post(
        f"/api/v1/appointments/{created['id']}/reschedule/", {"start": at(outside).isoformat()}, format="json"
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "not_bookable")
    assert Appointment.objects.get(pk=created["id"]).start == at(inside)


def test_cancelling_returns_the_session_to_pending_and_the_windows_to_the_projection(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel)
    projected = [window(r) for r in sessions_of(as_a, plan)]
    created = book(as_a, peel, at(weekday(plan.start_after + D(5))), session(plan, 1)).json()
    assert [window(r) for r in sessions_of(as_a, plan)] != projected
    cancelled = as_a.post(f"/api/v1/appointments/{created['id']}/cancel/", {}, format="json")
    assert cancelled.status_code == 200
    rows = sessions_of(as_a, plan)
    assert [(r["status"], r["appointment"]) for r in rows] == [("pending", None)] * 3
    assert [window(r) for r in rows] == projected
    # The session can be booked again.
    assert book(as_a, peel, at(weekday(plan.start_after + D(1))), session(plan, 1)).status_code == 201


def test_a_no_show_returns_the_session_to_pending(
    patient_a: Patient, peel: Treatment, practitioner: Practitioner, clinician: Any
) -> None:
    plan = plan_for(patient_a, peel)
    created = book(client_for(patient_a.user), peel, at(weekday(plan.start_after)), session(plan, 1)).json()
    appointment = Appointment.objects.get(pk=created["id"])
    with time_machine.travel(appointment.start + D(minutes=20), tick=False):
        booking.appointment_no_show(appointment=appointment, by=clinician)
    assert session(plan, 1).status == "pending" and session(plan, 1).booked_on is None


def test_a_plan_session_holds_one_active_appointment(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel)
    first = session(plan, 1)
    assert book(as_a, peel, at(weekday(plan.start_after)), first).status_code == 201
    again = book(as_a, peel, at(weekday(plan.start_after + D(2)), 15), first)
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
    assert Appointment.objects.count() == 1


def test_another_patients_session_or_treatment_is_400_invalid(
    as_a: APIClient, patient_a: Patient, patient_b: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    theirs = plan_for(patient_b, peel)
    day = at(weekday(theirs.start_after))
    for plan_session in (session(theirs, 1).pk, 999_999_999):
        response = book(as_a, peel, day, plan_session)
        assert (response.status_code, response.json()["code"]) == (400, "invalid")
        assert response.json()["fields"]["plan_session"] == ["Unknown plan session."]
    other_treatment = TreatmentFactory(slug="microneedling")
    mine = plan_for(patient_a, other_treatment)
    response = book(as_a, peel, day, session(mine, 1))
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert "plan_session" in response.json()["fields"]
    as_staff = client_for(UserFactory(role="receptionist"))
    response = book(as_staff, peel, day, session(theirs, 1), patient=patient_a.pk)
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert not Appointment.objects.exists()


# --- cancelling plans ------------------------------------------------------------------------


def test_cancelling_a_plan(
    as_practitioner: APIClient, as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel)
    created = book(as_a, peel, at(weekday(plan.start_after)), session(plan, 1)).json()
    refused = as_practitioner.post(f"/api/v1/plans/{plan.pk}/cancel/", {"reason": "Moving abroad"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_state")
    assert as_a.post(f"/api/v1/appointments/{created['id']}/cancel/", {}, format="json").status_code == 200
    cancelled = as_practitioner.post(f"/api/v1/plans/{plan.pk}/cancel/", {"reason": "Moving abroad"}, format="json")
    assert cancelled.status_code == 200, cancelled.json()
    assert cancelled.json()["status"] == "cancelled"
    assert [r["status"] for r in cancelled.json()["sessions"]] == ["cancelled"] * 3
    again = as_practitioner.post(f"/api/v1/plans/{plan.pk}/cancel/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
    late = book(as_a, peel, at(weekday(plan.start_after + D(1))), session(plan, 1))
    assert (late.status_code, late.json()["code"]) == (409, "invalid_state")


def test_completed_sessions_stay_completed_when_the_plan_is_cancelled(
    as_practitioner: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner, clinician: Any
) -> None:
    plan = plan_for(patient_a, peel)
    created = book(client_for(patient_a.user), peel, at(weekday(plan.start_after)), session(plan, 1)).json()
    complete(created["id"], by=clinician)
    body = as_practitioner.post(f"/api/v1/plans/{plan.pk}/cancel/", {}, format="json").json()
    assert [r["status"] for r in body["sessions"]] == ["completed", "cancelled", "cancelled"]


# --- availability for a plan session ---------------------------------------------------------


def _slots(client: APIClient, treatment: Treatment, first: date, last: date, **extra: Any) -> Any:
    query = "&".join(f"{key}={value}" for key, value in extra.items())
    return client.get(f"/api/v1/availability/?treatment={treatment.slug}&from={first}&to={last}&{query}")


def test_availability_for_a_plan_session_is_limited_to_its_window(
    as_a: APIClient,
    as_b: APIClient,
    anonymous: APIClient,
    patient_a: Patient,
    peel: Treatment,
    practitioner: Practitioner,
) -> None:
    plan = plan_for(patient_a, peel)
    first = session(plan, 1)
    span = (first.window_start - D(5), first.window_end + D(10))
    response = _slots(as_a, peel, *span, plan_session=first.pk)
    assert response.status_code == 200, response.json()
    days = {date.fromisoformat(s["start"][:10]) for s in response.json()["slots"]}
    assert days and all(first.window_start <= day <= first.window_end for day in days)
    # Session 2's turn has not come: nothing is offered.
    assert _slots(as_a, peel, *span, plan_session=session(plan, 2).pk).json()["slots"] == []
    for client in (as_b, anonymous):
        refused = _slots(client, peel, *span, plan_session=first.pk)
        assert refused.status_code == 400 and "plan_session" in refused.json()["fields"]
    other = _slots(as_a, TreatmentFactory(slug="another"), *span, plan_session=first.pk)
    assert other.status_code == 400 and "plan_session" in other.json()["fields"]


def test_availability_of_an_overdue_session_for_staff_is_not_limited(
    patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel, start_after=timezone.localdate())
    first = session(plan, 1)
    with time_machine.travel(timezone.make_aware(datetime.combine(first.window_end + D(3), time(8))), tick=False):
        today = timezone.localdate()
        staff = client_for(UserFactory(role="receptionist"))
        patient = client_for(patient_a.user)
        assert _slots(patient, peel, today, today + D(7), plan_session=first.pk).json()["slots"] == []
        assert _slots(staff, peel, today, today + D(7), plan_session=first.pk).json()["slots"]


def test_availability_when_rescheduling_a_booked_session(
    as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan = plan_for(patient_a, peel)
    first = session(plan, 1)
    created = book(as_a, peel, at(weekday(plan.start_after)), first).json()
    span = (first.window_start, first.window_end + D(5))
    assert _slots(as_a, peel, *span, plan_session=first.pk).json()["slots"] == []  # booked: nothing new
    moving = _slots(as_a, peel, *span, plan_session=first.pk, exclude_appointment=created["id"]).json()["slots"]
    assert moving and all(date.fromisoformat(s["start"][:10]) <= first.window_end for s in moving)


# --- history, roles, queries -----------------------------------------------------------------


def test_history_rows_appear_on_change(
    as_practitioner: APIClient, as_a: APIClient, patient_a: Patient, peel: Treatment, practitioner: Practitioner
) -> None:
    plan_id = create(as_practitioner, patient_a, peel, start_after=start_day().isoformat()).json()["id"]
    plan = TreatmentPlan.objects.get(pk=plan_id)
    before = PlanSession.history.filter(plan_id=plan_id).count()
    book(as_a, peel, at(weekday(plan.start_after + D(2))), session(plan, 1))
    assert PlanSession.history.filter(plan_id=plan_id).count() > before
    latest = PlanSession.history.filter(plan_id=plan_id, number=1).latest("history_date")
    assert (latest.status, latest.history_user_id) == ("booked", patient_a.user_id)
    entries = as_practitioner.get(f"/api/v1/plans/{plan_id}/history/").json()
    kinds = [(e["object"], e["type"]) for e in entries]
    assert kinds[0] == ("plan", "created") and ("plan_session", "changed") in kinds
    moved = [e for e in entries if e["object"] == "plan_session" and e["type"] == "changed"]
    assert any(c["field"] == "window_start" for e in moved for c in e["changes"])
    assert any(c["field"] == "status" and c["new"] == "booked" for e in moved for c in e["changes"])


def test_role_table_for_plans(
    as_a: APIClient,
    as_b: APIClient,
    as_reception: APIClient,
    as_manager: APIClient,
    anonymous: APIClient,
    patient_a: Patient,
    peel: Treatment,
) -> None:
    plan = plan_for(patient_a, peel)
    assert [p["id"] for p in as_a.get("/api/v1/plans/").json()["results"]] == [plan.pk]
    assert as_b.get("/api/v1/plans/").json()["count"] == 0
    assert as_b.get(f"/api/v1/plans/?patient={patient_a.pk}").json()["count"] == 0
    assert as_a.get(f"/api/v1/plans/{plan.pk}/").status_code == 200
    other, missing = as_b.get(f"/api/v1/plans/{plan.pk}/"), as_b.get("/api/v1/plans/999999999/")
    assert other.status_code == missing.status_code == 404 and other.json() == missing.json()
    assert create(as_a, patient_a, peel).status_code == 403
    assert as_a.post(f"/api/v1/plans/{plan.pk}/cancel/", {}, format="json").status_code == 403
    assert as_a.get(f"/api/v1/plans/{plan.pk}/history/").status_code == 403
    for response in (
        as_reception.get("/api/v1/plans/"),
        as_reception.get(f"/api/v1/plans/{plan.pk}/"),
        as_reception.get(f"/api/v1/plans/{plan.pk}/history/"),
        as_reception.post(f"/api/v1/plans/{plan.pk}/cancel/", {}, format="json"),
        create(as_reception, patient_a, peel),
    ):
        assert response.status_code == 403
    assert anonymous.get("/api/v1/plans/").status_code == 401
    assert as_manager.get(f"/api/v1/plans/?patient={patient_a.pk}").json()["count"] == 1
    assert TreatmentPlan.objects.count() == 1 and plan.sessions.filter(status="pending").count() == 3


def test_plans_are_never_deleted(as_manager: APIClient, patient_a: Patient, peel: Treatment) -> None:
    plan = plan_for(patient_a, peel)
    assert as_manager.delete(f"/api/v1/plans/{plan.pk}/").status_code == 405
    assert TreatmentPlan.objects.filter(pk=plan.pk).exists()


@pytest.mark.parametrize("who", ["patient", "practitioner"])
def test_plan_list_queries_do_not_grow_with_rows(
    django_assert_num_queries: Callable, peel: Treatment, practitioner: Practitioner, who: str
) -> None:
    from tests.api.test_query_counts import assert_constant_queries

    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    client = client_for(patient.user if who == "patient" else UserFactory(role="practitioner"))
    counter = [0]

    def add(n: int) -> None:
        for _ in range(n):
            index = counter[0]
            counter[0] += 1
            plan = plan_for(patient, TreatmentFactory(), sessions=3, start_after=start_day() + D(index))
            # Each plan has an appointment, so the session's appointment lookup is exercised.
            from tests.factories import AppointmentFactory

            AppointmentFactory(
                patient=patient,
                treatment=plan.treatment,
                plan_session=session(plan, 1),
                start=at(weekday(plan.start_after), 10) + D(days=index),
            )
        plan_for(PatientFactory(), peel)  # another patient's

    url = "/api/v1/plans/" if who == "patient" else f"/api/v1/plans/?patient={patient.pk}"
    assert_constant_queries(django_assert_num_queries, client, url, add)
