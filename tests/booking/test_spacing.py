"""Spacing between different treatments at booking and moving (booking.spacing,
the 422 too_close): every seeded rule from both sides, done and booked visits,
staff passing a block with a reason, and the order of the checks."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking import spacing
from booking.models import Appointment
from booking.services import appointment_book, appointment_reschedule
from clinic.errors import Contraindicated, NotBookable, SlotUnavailable, TooClose
from tests.booking.conftest import MONDAY
from tests.booking.spacing_fixtures import GapClinic, make_gap_clinic
from tests.factories import ContraindicationRuleFactory, HealthDeclarationFactory, PatientFactory
from tests.treatments.test_gaps import IDS, PAIRS
from treatments.models import GapRule

pytestmark = pytest.mark.django_db

VISIT_DAY = MONDAY + timedelta(days=28)  # a Monday, far enough ahead for bookings before it


@pytest.fixture
def gap_clinic() -> GapClinic:
    return make_gap_clinic()


@pytest.fixture
def book(patient, gap_clinic: GapClinic, now):
    """``book(slug, day, hour=10, **overrides)`` as the patient, online."""

    def make(slug, day, hour=10, **kwargs):
        arguments = {
            "patient": patient,
            "treatment": gap_clinic[slug],
            "start": _at(day, hour),
            "practitioner": gap_clinic.practitioner,
            "booked_by": patient.user,
            "staff": False,
            "now": now,
        }
        arguments.update(kwargs)
        return appointment_book(**arguments)

    return make


def _at(day, hour=10, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo("Asia/Hong_Kong"))


def _monday_to_saturday(day):
    """The clinic is closed on Sundays: a Sunday moves to Saturday."""
    return day - timedelta(days=1) if day.weekday() == 6 else day


@pytest.mark.parametrize(("earlier", "later", "block_days", "caution_days", "reverse"), PAIRS, ids=IDS)
def test_booking_the_later_treatment_too_soon_after_the_earlier_is_refused(
    book, patient, gap_clinic, earlier, later, block_days, caution_days, reverse
) -> None:
    first = gap_clinic.visit(patient, earlier, _at(VISIT_DAY, 11))
    too_soon = VISIT_DAY + timedelta(days=block_days - 1)
    if too_soon.weekday() == 6:
        too_soon -= timedelta(days=1)
    with pytest.raises(TooClose) as refused:
        book(later, too_soon)
    body = refused.value.as_dict()
    assert body["code"] == "too_close"
    assert [(r["code"], r["severity"], r["appointment"]) for r in body["reasons"]] == [("too_close", "block", first.pk)]
    assert not Appointment.objects.filter(treatment=gap_clinic[later]).exists()
    # The earlier treatment again is a separate matter (same treatment, no rule).
    enough = VISIT_DAY + timedelta(days=block_days)
    if enough.weekday() == 6:
        enough += timedelta(days=1)
    booked = book(later, enough)
    assert [c["severity"] for c in booked.cautions] == (["caution"] if caution_days else [])


@pytest.mark.parametrize(("earlier", "later", "block_days", "caution_days", "reverse"), PAIRS, ids=IDS)
def test_booking_the_earlier_treatment_too_soon_before_a_booked_later_one(
    book, patient, gap_clinic, earlier, later, block_days, caution_days, reverse
) -> None:
    booked_later = gap_clinic.visit(patient, later, _at(VISIT_DAY + timedelta(days=20), 11))
    day = booked_later.start.date() - timedelta(days=min(block_days - 1, 13))
    day = _monday_to_saturday(day)
    with pytest.raises(TooClose) as refused:
        book(earlier, day)
    assert refused.value.reasons[0]["appointment"] == booked_later.pk


@pytest.mark.parametrize(("earlier", "later", "block_days", "caution_days", "reverse"), PAIRS, ids=IDS)
def test_the_reverse_order_is_refused_only_where_a_reverse_rule_exists(
    book, patient, gap_clinic, earlier, later, block_days, caution_days, reverse
) -> None:
    gap_clinic.visit(patient, later, _at(VISIT_DAY, 11))
    day = _monday_to_saturday(VISIT_DAY + timedelta(days=3))
    if reverse:
        with pytest.raises(TooClose):
            book(earlier, day)
    else:
        assert book(earlier, day).cautions == []


def test_a_done_visit_counts_through_its_session_record(book, patient, gap_clinic, now) -> None:
    done = gap_clinic.visit(patient, "botox", now - timedelta(days=2), status="completed")
    with pytest.raises(TooClose) as refused:
        book("hydrafacial", MONDAY + timedelta(days=3))
    assert refused.value.reasons[0]["appointment"] == done.pk
    assert book("hydrafacial", MONDAY + timedelta(days=5)).pk


def test_cancelled_and_missed_visits_count_for_nothing(book, patient, gap_clinic) -> None:
    gap_clinic.visit(patient, "botox", _at(VISIT_DAY, 11), status="cancelled")
    gap_clinic.visit(patient, "ha-filler", _at(VISIT_DAY, 12), status="no_show")
    assert book("hydrafacial", VISIT_DAY + timedelta(days=1)).pk


def test_another_patients_visits_do_not_count(book, gap_clinic) -> None:
    gap_clinic.visit(PatientFactory(), "botox", _at(VISIT_DAY, 11))
    assert book("hydrafacial", VISIT_DAY + timedelta(days=1)).pk


def test_an_inactive_rule_is_not_applied(book, patient, gap_clinic) -> None:
    GapRule.objects.filter(earlier_category="toxin").update(active=False)
    gap_clinic.visit(patient, "botox", _at(VISIT_DAY, 11))
    assert book("hydrafacial", VISIT_DAY + timedelta(days=1)).pk


def test_a_caution_is_stored_and_needs_no_reason(book, patient, gap_clinic) -> None:
    punch = gap_clinic.visit(patient, "punch-excision", _at(MONDAY + timedelta(days=1), 11))
    appointment = book("co2-fractional", MONDAY + timedelta(days=31))
    appointment.refresh_from_db()
    assert [(c["code"], c["severity"], c["appointment"]) for c in appointment.cautions] == [
        ("too_close", "caution", punch.pk)
    ]
    assert "Punch excision" in appointment.cautions[0]["detail"]
    assert appointment.override_reason == ""
    assert appointment.overridden_by is None


def test_patients_cannot_pass_a_block_with_a_reason(book, patient, gap_clinic) -> None:
    gap_clinic.visit(patient, "botox", _at(VISIT_DAY, 11))
    with pytest.raises(TooClose):
        book("hydrafacial", VISIT_DAY + timedelta(days=2), override_reason="I really want it")


def test_staff_pass_a_block_with_a_reason_which_is_stored(book, patient, gap_clinic, receptionist) -> None:
    toxin = gap_clinic.visit(patient, "botox", _at(VISIT_DAY, 11))
    with pytest.raises(TooClose):
        book("hydrafacial", VISIT_DAY + timedelta(days=2), booked_by=receptionist, staff=True, override_reason=" ")
    appointment = book(
        "hydrafacial",
        VISIT_DAY + timedelta(days=2),
        booked_by=receptionist,
        staff=True,
        override_reason="Toxin was on the forehead only",
    )
    appointment.refresh_from_db()
    assert appointment.override_reason == "Toxin was on the forehead only"
    assert appointment.overridden_by == receptionist
    assert [(c["code"], c["severity"], c["appointment"]) for c in appointment.cautions] == [
        ("too_close", "block", toxin.pk)
    ]


def test_one_reason_passes_screening_and_spacing_together(book, patient, gap_clinic, receptionist, now) -> None:
    HealthDeclarationFactory(patient=patient, pregnant_or_breastfeeding=True, submitted_at=now - timedelta(days=1))
    ContraindicationRuleFactory(treatment=gap_clinic["hydrafacial"], code="PREG", severity="block")
    gap_clinic.visit(patient, "botox", _at(VISIT_DAY, 11))
    with pytest.raises(Contraindicated):  # screening first: both 422s, in the architecture's order
        book("hydrafacial", VISIT_DAY + timedelta(days=2), booked_by=receptionist, staff=True)
    appointment = book(
        "hydrafacial", VISIT_DAY + timedelta(days=2), booked_by=receptionist, staff=True, override_reason="Dr Chan"
    )
    assert [c["code"] for c in appointment.cautions] == ["PREG", "too_close"]
    assert appointment.override_reason == "Dr Chan"


def test_not_bookable_comes_before_too_close(book, patient, gap_clinic) -> None:
    gap_clinic.visit(patient, "botox", _at(VISIT_DAY, 11))
    with pytest.raises(NotBookable):  # 10:05 is not a slot
        book("hydrafacial", VISIT_DAY, start=_at(VISIT_DAY + timedelta(days=2), 10, 5))


def test_too_close_comes_before_a_taken_slot(book, patient, gap_clinic) -> None:
    gap_clinic.visit(patient, "botox", _at(VISIT_DAY, 11))
    for day in (VISIT_DAY + timedelta(days=2), VISIT_DAY + timedelta(days=8)):
        gap_clinic.visit(PatientFactory(), "peel-superficial", _at(day, 10))  # the only practitioner is busy
    with pytest.raises(TooClose):
        book("hydrafacial", VISIT_DAY + timedelta(days=2))
    with pytest.raises(SlotUnavailable):
        book("hydrafacial", VISIT_DAY + timedelta(days=8))


def test_moving_a_visit_too_close_to_another_is_refused(book, patient, gap_clinic, now) -> None:
    peel = gap_clinic.visit(patient, "peel-superficial", _at(VISIT_DAY, 11))
    hydra = book("hydrafacial", VISIT_DAY + timedelta(days=18))
    with pytest.raises(TooClose) as refused:
        appointment_reschedule(
            appointment=hydra, start=_at(VISIT_DAY + timedelta(days=5)), by=patient.user, staff=False, now=now
        )
    assert refused.value.reasons[0]["appointment"] == peel.pk
    hydra.refresh_from_db()
    assert hydra.start == _at(VISIT_DAY + timedelta(days=18))
    # The peel may move about on its own: its old time is not counted against it.
    moved = appointment_reschedule(
        appointment=peel, start=_at(VISIT_DAY + timedelta(days=1)), by=patient.user, staff=False, now=now
    )
    assert moved.cautions == []


def test_staff_move_past_a_block_with_a_reason(book, patient, gap_clinic, receptionist, now) -> None:
    gap_clinic.visit(patient, "peel-superficial", _at(VISIT_DAY, 11))
    hydra = book("hydrafacial", VISIT_DAY + timedelta(days=18))
    target = _at(VISIT_DAY + timedelta(days=5))
    with pytest.raises(TooClose):
        appointment_reschedule(appointment=hydra, start=target, by=receptionist, staff=True, now=now)
    moved = appointment_reschedule(
        appointment=hydra, start=target, by=receptionist, staff=True, override_reason="Peel was on the back", now=now
    )
    moved.refresh_from_db()
    assert moved.start == target
    assert moved.override_reason == "Peel was on the back"
    assert moved.overridden_by == receptionist
    assert [c["code"] for c in moved.cautions] == ["too_close"]


def test_spacing_findings_take_two_queries_however_many_visits(patient, gap_clinic) -> None:
    start = _at(VISIT_DAY + timedelta(days=3))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            spacing.spacing_findings(patient_id=patient.pk, treatment=gap_clinic["hydrafacial"], start=start)
        return len(queries)

    gap_clinic.visit(patient, "botox", _at(VISIT_DAY, 11))
    few = count()
    for n, slug in enumerate(["ha-filler", "peel-superficial", "co2-fractional", "pico-laser", "punch-excision"]):
        gap_clinic.visit(patient, slug, _at(VISIT_DAY + timedelta(days=n + 1), 12), status="completed")
    assert count() == few == 2
    assert len(spacing.spacing_findings(patient_id=patient.pk, treatment=gap_clinic["hydrafacial"], start=start)) == 5


def test_blocked_days_for_the_calendar(patient, gap_clinic) -> None:
    gap_clinic.visit(patient, "botox", _at(VISIT_DAY, 11))
    days = spacing.blocked_days(
        patient_id=patient.pk, treatment=gap_clinic["hydrafacial"], first=MONDAY, last=MONDAY + timedelta(days=60)
    )
    assert sorted(days) == [VISIT_DAY + timedelta(days=n) for n in range(7)]
    assert "Botulinum toxin" in days[VISIT_DAY]


def test_blocked_days_leave_out_the_appointment_being_moved(patient, gap_clinic) -> None:
    toxin = gap_clinic.visit(patient, "botox", _at(VISIT_DAY, 11))
    week = {"patient_id": patient.pk, "treatment": gap_clinic["hydrafacial"], "first": VISIT_DAY}
    assert len(spacing.blocked_days(**week, last=VISIT_DAY + timedelta(days=6))) == 7
    assert spacing.blocked_days(**week, last=VISIT_DAY + timedelta(days=6), exclude_appointment_id=toxin.pk) == {}
