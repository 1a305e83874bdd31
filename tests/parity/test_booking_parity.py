"""The page and the API make the same booking decisions.

Every write that both a page and the API can make in booking (book, as a
patient and as staff; reschedule; cancel; check in; no-show; complete) is
driven through both doors with the same inputs. Each door runs from the same
starting state (the first door's changes are rolled back to a savepoint
before the second door runs), and the test asserts the same outcome: the same
refusal (the API's error code, and the page showing its message for that
code) or the same stored rows (appointments, plan sessions, session records
and outbox rows, compared without their generated ids and timestamps).

Each case also names the outcome the rule demands, so a rule broken in
``booking.services`` fails here even though both doors would still agree, and
a rule written back into a view fails because the doors stop agreeing.

Time is frozen on Monday 30 November 2026, 09:00 in Hong Kong: patients may
book from 11:00 today (two hours' notice); the practitioner works Monday to
Saturday, 10:00 to 19:00 with lunch from 13:00.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from html import escape
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone

from booking import services
from booking.models import Appointment, Notification, Practitioner, SessionRecord
from patients.models import Patient
from tests.api.conftest import client_for
from tests.factories import (
    ContraindicationRuleFactory,
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import PlanSession, Treatment, TreatmentPlan
from treatments.services import plan_create

pytestmark = pytest.mark.django_db

MONDAY = date(2026, 11, 30)
TUESDAY = date(2026, 12, 1)
WEDNESDAY = date(2026, 12, 2)


@pytest.fixture(autouse=True)
def _monday_morning() -> Iterator[None]:
    with time_machine.travel("2026-11-30 09:00 +0800", tick=False):
        yield


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_default_timezone())


@dataclass
class World:
    peel: Treatment
    practitioner: Practitioner
    receptionist: User
    patients: dict[str, Patient]

    @property
    def clinician(self) -> User:
        return self.practitioner.user


@pytest.fixture
def world() -> World:
    peel = TreatmentFactory(slug="peel", name_en="Glycolic peel")
    ContraindicationRuleFactory(treatment=peel, code="PREG", severity="block")
    ContraindicationRuleFactory(treatment=peel, code="HSV_HX", severity="caution")
    RoomFactory(kind=peel.room_kind)
    practitioner = PractitionerFactory(treatments=[peel], user__first_name="Mei", user__last_name="Chan")
    answers = {
        "clear": {},
        "caution": {"cold_sore_history": True},
        "blocked": {"pregnant_or_breastfeeding": True},
        "other": {},
    }
    patients = {}
    for name, declared in answers.items():
        patient = PatientFactory(full_name=f"Patient {name}")
        HealthDeclarationFactory(patient=patient, **declared)
        patients[name] = patient
    return World(
        peel=peel,
        practitioner=practitioner,
        receptionist=UserFactory(role="receptionist", first_name="Rita", last_name="Ho"),
        patients=patients,
    )


# --- the two doors' answers, side by side ------------------------------------------------------


@dataclass
class Answer:
    ok: bool
    status: int
    text: str
    body: dict[str, Any]


def api_answer(response: Any) -> Answer:
    body = response.json() if response.content else {}
    return Answer(ok=response.status_code < 300, status=response.status_code, text="", body=body)


def page_answer(response: Any, client: Client) -> Answer:
    """A page succeeds by redirecting with no error message; a refusal is shown
    in place, or (the patient's own appointment actions) as an error message
    on the page it redirects to."""
    if response.status_code != 302:
        return Answer(ok=False, status=response.status_code, text=response.content.decode(), body={})
    shown = client.get(response["Location"])
    errors = [m for m in shown.context["messages"] if m.level_tag == "error"] if shown.context else []
    return Answer(ok=not errors, status=302, text=shown.content.decode(), body={})


def stored() -> dict[str, Any]:
    """What the booking writes leave behind, without generated ids and timestamps."""
    appointments = [
        {**row, "cautions": json.dumps(row["cautions"], sort_keys=True)}
        for row in Appointment.objects.values(
            "patient_id",
            "treatment_id",
            "practitioner_id",
            "room_id",
            "device_id",
            "start",
            "end",
            "blocked_until",
            "status",
            "source",
            "notes",
            "cautions",
            "override_reason",
            "overridden_by_id",
            "plan_session_id",
            "booked_by_id",
            "sequence",
            "checked_in_at",
            "completed_at",
            "cancelled_at",
            "cancelled_by",
            "cancelled_by_user_id",
            "cancellation_reason",
        )
    ]
    return {
        "appointments": sorted(appointments, key=lambda row: (row["start"], row["patient_id"], row["status"])),
        "sessions": list(
            PlanSession.objects.order_by("id").values_list(
                "id", "status", "booked_on", "completed_on", "window_start", "window_end"
            )
        ),
        "plans": list(TreatmentPlan.objects.order_by("id").values_list("id", "status")),
        "records": sorted(
            SessionRecord.objects.values_list(
                "appointment__start", "category", "pain_score", "notes", "recorded_by_id", "areas"
            ),
            key=repr,
        ),
        "outbox": sorted(
            Notification.objects.values_list(
                "kind", "status", "patient_id", "appointment__start", "sequence", "offset_minutes", "due_at"
            ),
            key=repr,
        ),
    }


def through_both(api: Callable[[], Answer], page: Callable[[], Answer]) -> tuple[Answer, Answer, dict, dict]:
    """Runs the API door, keeps what it stored, rolls back to where it started,
    then runs the page door from the same state."""
    savepoint = transaction.savepoint_create()
    by_api = api()
    api_rows = stored()
    transaction.savepoint_rollback(savepoint)
    by_page = page()
    return by_api, by_page, api_rows, stored()


def assert_same(
    by_api: Answer,
    by_page: Answer,
    api_rows: dict,
    page_rows: dict,
    *,
    expected: str | None,
    page_message: str | None = None,
    same_status: bool = True,
) -> None:
    """``expected``: None for success, else the API's error code. The page
    must refuse alike: the same status (pages that answer in place) and, in
    its text, ``page_message`` (default: the API's own detail)."""
    assert page_rows == api_rows
    if expected is None:
        assert by_api.ok, by_api.body
        assert by_page.ok, by_page.text[:2000]
        return
    assert not by_api.ok and by_api.body["code"] == expected, by_api.body
    assert not by_page.ok
    if same_status:
        assert by_page.status == by_api.status
    message = page_message if page_message is not None else by_api.body["detail"]
    assert escape(message) in by_page.text, (message, by_page.text[:3000])


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- booking as staff --------------------------------------------------------------------------

BLOCK_MESSAGE = "Screening blocks this treatment: say why you are going ahead."

STAFF_BOOKINGS = [
    # (case, patient, start, override_reason, expected API code, the page's message for it)
    ("clear", "clear", at(WEDNESDAY, 10), "", None, None),
    ("caution without a reason is accepted", "caution", at(WEDNESDAY, 10), "", None, None),
    ("caution with a reason keeps it", "caution", at(WEDNESDAY, 10), "Discussed with her", None, None),
    ("block without a reason is refused", "blocked", at(WEDNESDAY, 10), "", "contraindicated", BLOCK_MESSAGE),
    ("block with a blank reason is refused", "blocked", at(WEDNESDAY, 10), "   ", "contraindicated", BLOCK_MESSAGE),
    ("block with a reason is accepted", "blocked", at(WEDNESDAY, 10), "Cleared by her obstetrician", None, None),
    ("off the grid", "clear", at(WEDNESDAY, 10, 7), "", "not_bookable", None),
    ("in the past", "clear", at(MONDAY, 8), "", "not_bookable", None),
    ("outside working hours", "clear", at(WEDNESDAY, 13), "", "not_bookable", None),
    ("a walk-in inside the patients' notice", "clear", at(MONDAY, 10), "", None, None),
    ("held by another patient", "clear", at(TUESDAY, 11), "", "slot_unavailable", None),
]


@pytest.mark.parametrize(
    ("patient", "start", "reason", "expected", "page_message"),
    [case[1:] for case in STAFF_BOOKINGS],
    ids=[case[0] for case in STAFF_BOOKINGS],
)
def test_staff_booking_decides_the_same_through_the_page_and_the_api(
    world: World, patient: str, start: datetime, reason: str, expected: str | None, page_message: str | None
) -> None:
    _hold(world, at(TUESDAY, 11))
    who = world.patients[patient]
    api_body = {
        "treatment": "peel",
        "start": start.isoformat(),
        "patient": who.pk,
        "practitioner": world.practitioner.pk,
    }
    if reason:
        api_body["override_reason"] = reason
    page_data = {
        "patient": who.pk,
        "treatment": world.peel.pk,
        "practitioner": world.practitioner.pk,
        "start": start.isoformat(),
        "override_reason": reason,
    }
    outcome = through_both(
        lambda: api_answer(client_for(world.receptionist).post("/api/v1/appointments/", api_body, format="json")),
        lambda: _staff_page_post(world, "/staff/book/", page_data),
    )
    assert_same(*outcome, expected=expected, page_message=page_message)
    if expected is None:
        booked = Appointment.objects.get(patient=who)
        assert booked.override_reason == reason.strip()
        assert booked.overridden_by_id == (world.receptionist.pk if patient == "blocked" else None)
        assert [c["code"] for c in booked.cautions] == {"clear": [], "caution": ["HSV_HX"], "blocked": ["PREG"]}[
            patient
        ]


def _hold(world: World, start: datetime) -> Appointment:
    """Another patient's appointment with the practitioner at ``start``."""
    return services.appointment_book(
        patient=world.patients["other"],
        treatment=world.peel,
        start=start,
        practitioner=world.practitioner,
        booked_by=world.receptionist,
        staff=True,
        separate_visit=True,
    )


def _staff_page_post(world: World, url: str, data: dict[str, Any], user: User | None = None) -> Answer:
    client = signed_in(user or world.receptionist)
    return page_answer(client.post(url, data), client)


# --- booking as the patient --------------------------------------------------------------------

PATIENT_BOOKINGS = [
    # (case, patient, start, expected API code, the booking flow's message for it)
    ("clear", "clear", at(WEDNESDAY, 10), None, None),
    ("a caution is shown, not asked about", "caution", at(WEDNESDAY, 10), None, None),
    ("a block is refused", "blocked", at(WEDNESDAY, 10), "contraindicated", "We need to see you first"),
    ("inside the minimum notice", "clear", at(MONDAY, 10), "not_bookable", None),
    ("off the grid", "clear", at(WEDNESDAY, 10, 5), "not_bookable", None),
    ("held by another patient", "clear", at(TUESDAY, 11), "slot_unavailable", "was booked by someone else"),
]


@pytest.mark.parametrize(
    ("patient", "start", "expected", "page_message"),
    [case[1:] for case in PATIENT_BOOKINGS],
    ids=[case[0] for case in PATIENT_BOOKINGS],
)
def test_a_patient_booking_decides_the_same_through_the_booking_flow_and_the_api(
    world: World, patient: str, start: datetime, expected: str | None, page_message: str | None
) -> None:
    _hold(world, at(TUESDAY, 11))
    who = world.patients[patient]
    outcome = through_both(
        lambda: _api_patient_book(world, who, start),
        lambda: _flow_book(world, who, start),
    )
    # The booking flow answers a refusal in place with 200 and its words.
    assert_same(*outcome, expected=expected, page_message=page_message, same_status=False)


def _api_patient_book(world: World, patient: Patient, start: datetime, **extra: Any) -> Answer:
    body = {"treatment": "peel", "start": start.isoformat(), "practitioner": world.practitioner.pk, **extra}
    return api_answer(client_for(patient.user).post("/api/v1/appointments/", body, format="json"))


def _flow_book(world: World, patient: Patient, start: datetime, **extra: str) -> Answer:
    local = timezone.localtime(start)
    client = signed_in(patient.user)
    data = {
        "treatment": "peel",
        "practitioner": str(world.practitioner.pk),
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "action": "confirm",
        **extra,
    }
    return page_answer(client.post("/book/", data), client)


# --- the plan session a booking is for ---------------------------------------------------------

COURSE_MESSAGE = "Choose a time in that window, or book it as a separate visit"
PLAN_CASES = [
    # (case, start, separate visit?, expected API code, tied to session 1?)
    ("inside the window it is the course's next session", at(WEDNESDAY, 10), False, None, True),
    ("a separate visit stays apart from the course", at(WEDNESDAY, 10), True, None, False),
    ("outside the window it is refused", at(TUESDAY, 11), False, "not_bookable", False),
    ("outside the window as a separate visit", at(TUESDAY, 11), True, None, False),
]


def _plan(world: World, patient: Patient) -> TreatmentPlan:
    """Three sessions; the first due from Wednesday 2 to Wednesday 23 December."""
    return plan_create(patient=patient, treatment=world.peel, sessions=3, by=world.clinician, start_after=WEDNESDAY)


@pytest.mark.parametrize(
    ("start", "separate", "expected", "tied"),
    [case[1:] for case in PLAN_CASES],
    ids=[case[0] for case in PLAN_CASES],
)
def test_staff_bookings_join_the_patients_course_alike(
    world: World, start: datetime, separate: bool, expected: str | None, tied: bool
) -> None:
    who = world.patients["clear"]
    first = _plan(world, who).sessions.get(number=1)
    api_body = {
        "treatment": "peel",
        "start": start.isoformat(),
        "patient": who.pk,
        "practitioner": world.practitioner.pk,
        "separate_visit": separate,
    }
    page_data = {
        "patient": who.pk,
        "treatment": world.peel.pk,
        "practitioner": world.practitioner.pk,
        "start": start.isoformat(),
        **({"separate_visit": "1"} if separate else {}),
    }
    outcome = through_both(
        lambda: api_answer(client_for(world.receptionist).post("/api/v1/appointments/", api_body, format="json")),
        lambda: _staff_page_post(world, "/staff/book/", page_data),
    )
    assert_same(*outcome, expected=expected, page_message=COURSE_MESSAGE if expected else None)
    if expected is not None:
        assert COURSE_MESSAGE in outcome[0].body["detail"]
        assert "Book it as a separate visit" in outcome[1].text  # the page offers the way out
    else:
        booked = Appointment.objects.get(patient=who)
        first.refresh_from_db()
        assert (booked.plan_session_id == first.pk) is tied
        assert first.status == ("booked" if tied else "pending")
        assert outcome[0].body["plan_session"] == (first.pk if tied else None)


@pytest.mark.parametrize(
    ("start", "separate", "expected", "tied"),
    [case[1:] for case in PLAN_CASES],
    ids=[case[0] for case in PLAN_CASES],
)
def test_patient_bookings_join_their_course_alike(
    world: World, start: datetime, separate: bool, expected: str | None, tied: bool
) -> None:
    who = world.patients["clear"]
    first = _plan(world, who).sessions.get(number=1)
    outcome = through_both(
        lambda: _api_patient_book(world, who, start, **({"separate_visit": True} if separate else {})),
        lambda: _flow_book(world, who, start, **({"separate": "1"} if separate else {})),
    )
    assert_same(*outcome, expected=expected, page_message=COURSE_MESSAGE if expected else None, same_status=False)
    if expected is None:
        booked = Appointment.objects.get(patient=who)
        assert (booked.plan_session_id == first.pk) is tied
        if tied:  # the patient's confirmation names the session
            assert "Plan session 1" in outcome[1].text


def test_once_a_session_is_booked_the_next_booking_joins_the_next_one(world: World) -> None:
    who = world.patients["clear"]
    plan = _plan(world, who)
    first, second = plan.sessions.get(number=1), plan.sessions.get(number=2)
    services.appointment_book(
        patient=who,
        treatment=world.peel,
        start=at(WEDNESDAY, 10),
        practitioner=world.practitioner,
        booked_by=world.receptionist,
        staff=True,
    )
    second.refresh_from_db()
    start = at(second.window_start, 10)  # Wednesday 16 December: 14 days after session 1
    outcome = through_both(
        lambda: _api_patient_book(world, who, start),
        lambda: _flow_book(world, who, start),
    )
    assert_same(*outcome, expected=None, same_status=False)
    assert Appointment.objects.get(patient=who, start=start).plan_session_id == second.pk
    assert Appointment.objects.get(patient=who, start=at(WEDNESDAY, 10)).plan_session_id == first.pk


# --- changing an appointment -------------------------------------------------------------------


def _booked(world: World, start: datetime, patient: str = "clear") -> Appointment:
    return services.appointment_book(
        patient=world.patients[patient],
        treatment=world.peel,
        start=start,
        practitioner=world.practitioner,
        booked_by=world.receptionist,
        staff=True,
    )


def _state(world: World, appointment: Appointment, state: str) -> Appointment:
    """Brings the appointment to ``state`` through the services, as the clinic would."""
    if state == "cancelled":
        return services.appointment_cancel(appointment=appointment, by=world.receptionist, staff=True)
    if state in ("checked_in", "completed"):
        services.appointment_check_in(appointment=appointment, by=world.receptionist)
    if state == "completed":
        services.appointment_complete(appointment=appointment, by=world.clinician, record={})
    return appointment


STAFF_MOVES = [
    # (case, state, new start, expected)
    ("a confirmed appointment moves", "confirmed", at(WEDNESDAY, 15), None),
    ("onto the old time's neighbour (overlapping the old time)", "confirmed", at(WEDNESDAY, 10, 15), None),
    ("off the grid", "confirmed", at(WEDNESDAY, 15, 5), "not_bookable"),
    ("onto another patient's time", "confirmed", at(TUESDAY, 11), "slot_unavailable"),
    ("a cancelled one does not move", "cancelled", at(WEDNESDAY, 15), "invalid_state"),
]


@pytest.mark.parametrize(("state", "start", "expected"), [c[1:] for c in STAFF_MOVES], ids=[c[0] for c in STAFF_MOVES])
def test_staff_rescheduling_decides_the_same(world: World, state: str, start: datetime, expected: str | None) -> None:
    _hold(world, at(TUESDAY, 11))
    appointment = _state(world, _booked(world, at(WEDNESDAY, 10)), state)
    url = f"/appointments/{appointment.pk}/reschedule/"
    outcome = through_both(
        lambda: api_answer(
            client_for(world.receptionist).post(f"/api/v1{url}", {"start": start.isoformat()}, format="json")
        ),
        lambda: _staff_page_post(world, f"/staff{url}", {"start": start.isoformat()}),
    )
    assert_same(*outcome, expected=expected)


PATIENT_MOVES = [
    # (case, booked at, state, new start, expected, the page's message)
    ("a move in good time", at(WEDNESDAY, 10), "confirmed", at(WEDNESDAY, 15), None, None),
    (
        "inside the notice window",
        at(MONDAY, 16),
        "confirmed",
        at(WEDNESDAY, 15),
        "cancellation_window_passed",
        "It is too late to change this appointment online. Please call the clinic.",
    ),
    ("off the grid", at(WEDNESDAY, 10), "confirmed", at(WEDNESDAY, 15, 5), "not_bookable", None),
    ("a cancelled one does not move", at(WEDNESDAY, 10), "cancelled", at(WEDNESDAY, 15), "invalid_state", None),
]


@pytest.mark.parametrize(
    ("booked_at", "state", "start", "expected", "page_message"),
    [c[1:] for c in PATIENT_MOVES],
    ids=[c[0] for c in PATIENT_MOVES],
)
def test_patient_rescheduling_decides_the_same(
    world: World, booked_at: datetime, state: str, start: datetime, expected: str | None, page_message: str | None
) -> None:
    appointment = _state(world, _booked(world, booked_at), state)
    patient = world.patients["clear"]
    local = timezone.localtime(start)
    client = signed_in(patient.user)
    outcome = through_both(
        lambda: api_answer(
            client_for(patient.user).post(
                f"/api/v1/appointments/{appointment.pk}/reschedule/", {"start": start.isoformat()}, format="json"
            )
        ),
        lambda: page_answer(
            client.post(
                f"/appointments/{appointment.pk}/reschedule/",
                {"date": local.date().isoformat(), "time": local.strftime("%H:%M")},
            ),
            client,
        ),
    )
    assert_same(*outcome, expected=expected, page_message=page_message, same_status=False)


CANCELS = [
    # (case, who, booked at, state, expected, the page's message)
    ("staff cancel", "staff", at(WEDNESDAY, 10), "confirmed", None, None),
    # The contract makes the reason optional, for staff too: the page must not ask for more.
    ("staff cancel without a reason", "staff-no-reason", at(WEDNESDAY, 10), "confirmed", None, None),
    ("staff cancel inside the notice window", "staff", at(MONDAY, 16), "confirmed", None, None),
    ("staff cannot cancel a checked-in one", "staff", at(MONDAY, 16), "checked_in", "invalid_state", None),
    ("a patient cancels in good time", "patient", at(WEDNESDAY, 10), "confirmed", None, None),
    (
        "a patient inside the notice window",
        "patient",
        at(MONDAY, 16),
        "confirmed",
        "cancellation_window_passed",
        "It is too late to cancel online. Please call the clinic.",
    ),
    ("a patient cannot cancel twice", "patient", at(WEDNESDAY, 10), "cancelled", "invalid_state", None),
]


@pytest.mark.parametrize(
    ("who", "booked_at", "state", "expected", "page_message"), [c[1:] for c in CANCELS], ids=[c[0] for c in CANCELS]
)
def test_cancelling_decides_the_same(
    world: World, who: str, booked_at: datetime, state: str, expected: str | None, page_message: str | None
) -> None:
    appointment = _state(world, _booked(world, booked_at), state)
    patient = world.patients["clear"]
    staff = who.startswith("staff")
    user = world.receptionist if staff else patient.user
    reason = "Patient unwell" if who == "staff" else ""
    page_url = f"/staff/appointments/{appointment.pk}/cancel/" if staff else f"/appointments/{appointment.pk}/cancel/"
    client = signed_in(user)
    outcome = through_both(
        lambda: api_answer(
            client_for(user).post(f"/api/v1/appointments/{appointment.pk}/cancel/", {"reason": reason}, format="json")
        ),
        lambda: page_answer(client.post(page_url, {"reason": reason}), client),
    )
    assert_same(*outcome, expected=expected, page_message=page_message, same_status=staff)


# --- the clinic's transitions ------------------------------------------------------------------

TRANSITIONS = [
    # (case, verb, booked at, state, expected)
    ("check in on the day", "check-in", at(MONDAY, 16), "confirmed", None),
    ("check in on another day", "check-in", at(WEDNESDAY, 10), "confirmed", "invalid_state"),
    ("check in a cancelled one", "check-in", at(MONDAY, 16), "cancelled", "invalid_state"),
    ("check in twice", "check-in", at(MONDAY, 16), "checked_in", "invalid_state"),
    ("no-show before the start", "no-show", at(MONDAY, 16), "confirmed", "invalid_state"),
    ("no-show once checked in", "no-show", at(MONDAY, 16), "checked_in", "invalid_state"),
]


@pytest.mark.parametrize(
    ("verb", "booked_at", "state", "expected"), [c[1:] for c in TRANSITIONS], ids=[c[0] for c in TRANSITIONS]
)
def test_check_in_and_no_show_decide_the_same(
    world: World, verb: str, booked_at: datetime, state: str, expected: str | None
) -> None:
    appointment = _state(world, _booked(world, booked_at), state)
    path = f"/appointments/{appointment.pk}/{verb}/"
    outcome = through_both(
        lambda: api_answer(client_for(world.receptionist).post(f"/api/v1{path}", {}, format="json")),
        lambda: _staff_page_post(world, f"/staff{path}", {}),
    )
    assert_same(*outcome, expected=expected)


def test_a_no_show_after_the_start_is_recorded_alike(world: World) -> None:
    appointment = _booked(world, at(MONDAY, 10), patient="clear")
    with time_machine.travel("2026-11-30 10:30 +0800", tick=False):
        outcome = through_both(
            lambda: api_answer(
                client_for(world.receptionist).post(f"/api/v1/appointments/{appointment.pk}/no-show/", format="json")
            ),
            lambda: _staff_page_post(world, f"/staff/appointments/{appointment.pk}/no-show/", {}),
        )
    assert_same(*outcome, expected=None)
    assert Appointment.objects.get(pk=appointment.pk).status == "no_show"


COMPLETES = [
    # (case, state, record, expected, the page's message)
    ("a checked-in appointment is completed", "checked_in", {"pain_score": 3, "notes": "Tolerated well"}, None, None),
    (
        "not checked in yet",
        "confirmed",
        {"notes": "Too early"},
        "invalid_state",
        "The patient has not been checked in yet. Check them in first, then record the session.",
    ),
    (
        "completed already",
        "completed",
        {"notes": "Again"},
        "invalid_state",
        "This appointment is already completed; its session record is below.",
    ),
    ("a pain score out of range", "checked_in", {"pain_score": 11}, "invalid", "Select a valid choice."),
]


@pytest.mark.parametrize(
    ("state", "record", "expected", "page_message"), [c[1:] for c in COMPLETES], ids=[c[0] for c in COMPLETES]
)
def test_completing_decides_the_same(
    world: World, state: str, record: dict[str, Any], expected: str | None, page_message: str | None
) -> None:
    appointment = _state(world, _booked(world, at(MONDAY, 16)), state)
    client = signed_in(world.clinician)
    outcome = through_both(
        lambda: api_answer(
            client_for(world.clinician).post(f"/api/v1/appointments/{appointment.pk}/complete/", record, format="json")
        ),
        lambda: page_answer(client.post(f"/staff/appointments/{appointment.pk}/record/", record), client),
    )
    assert_same(*outcome, expected=expected, page_message=page_message)
