"""The waitlist engine (booking/waitlist.py): joining, matching, offers that
hold their slot, accepting, declining, expiry, and the chain from one patient
to the next."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from booking import availability, holds, waitlist
from booking.models import Appointment, Notification, WaitlistEntry, WaitlistOffer, WorkingHours
from booking.services import appointment_book, appointment_cancel, appointment_reschedule
from clinic.errors import AlreadyWaiting, Contraindicated, InvalidInput, InvalidState, NotBookable, SlotUnavailable
from tests.booking.conftest import MONDAY
from tests.factories import (
    AppointmentFactory,
    ContraindicationRuleFactory,
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    TreatmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def practitioner(treatment, room):
    """Works Mondays 10:00-10:30 only: one slot, 10:00, for a 30-minute peel
    (its 10-minute buffer may run past the hours)."""
    practitioner = PractitionerFactory(treatments=[treatment], hours=False)
    WorkingHours.objects.create(practitioner=practitioner, weekday=0, start=time(10), end=time(10, 30))
    return practitioner


@pytest.fixture
def full_monday(practitioner, treatment, at, now):
    """Monday's one slot (10:00), booked by someone else."""
    other = PatientFactory()
    return appointment_book(
        patient=other, treatment=treatment, start=at(10), practitioner=None, booked_by=other.user, staff=False, now=now
    )


@pytest.fixture
def worker(monkeypatch, django_capture_on_commit_callbacks):
    """Stands in for Celery: records the freed times and expiries that would be
    sent after commit; ``worker.match(now)`` runs the match tasks."""

    class Worker:
        freed: list[tuple[str, str]] = []
        expiries: list[int] = []

        def match(self, now):
            made = []
            while self.freed:
                start, end = self.freed.pop(0)
                with django_capture_on_commit_callbacks(execute=True):
                    made += waitlist.waitlist_match(
                        start=datetime.fromisoformat(start), end=datetime.fromisoformat(end), now=now
                    )
            return made

    running = Worker()
    running.freed, running.expiries = [], []
    monkeypatch.setattr(holds, "_publish_match", lambda start, end: running.freed.append((start, end)))
    monkeypatch.setattr(waitlist, "_schedule_expiry", lambda pk, eta: running.expiries.append(pk))
    monkeypatch.setattr("booking.notifications.publish", lambda ids, claim=None: True)
    return running


@pytest.fixture
def join(treatment, practitioner, now, worker, django_capture_on_commit_callbacks):
    def make(patient=None, *, earliest=MONDAY, latest=MONDAY, staff=False, at_=None, **kwargs):
        patient = patient or PatientFactory()
        with django_capture_on_commit_callbacks(execute=True):
            return waitlist.waitlist_join(
                patient=patient,
                treatment=kwargs.pop("treatment", treatment),
                earliest=earliest,
                latest=latest,
                by=patient.user,
                staff=staff,
                now=at_ or now,
                **kwargs,
            )

    return make


def cancel(appointment, now, capture):
    with capture(execute=True):
        return appointment_cancel(appointment=appointment, by=UserFactory(role="receptionist"), staff=True, now=now)


def held_rows():
    return Appointment.with_holds.filter(status=Appointment.Status.HELD)


# --- joining -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earliest", "latest", "extra", "field"),
    [
        (TUESDAY, MONDAY, {}, "latest"),
        (MONDAY - timedelta(days=1), MONDAY, {}, "earliest"),
        (MONDAY, MONDAY + timedelta(days=91), {}, "latest"),
        (MONDAY, MONDAY + timedelta(days=62), {}, "latest"),
        (MONDAY, MONDAY, {"parts": ["night"]}, "parts"),
    ],
)
def test_joining_refuses_bad_dates_and_parts(join, full_monday, earliest, latest, extra, field):
    with pytest.raises(InvalidInput) as error:
        join(earliest=earliest, latest=latest, **extra)
    assert field in error.value.fields
    assert not WaitlistEntry.objects.exists()


def test_staff_may_join_beyond_the_patient_horizon(join, full_monday):
    entry = join(earliest=MONDAY + timedelta(days=100), latest=MONDAY + timedelta(days=101), staff=True)
    assert entry.status == WaitlistEntry.Status.WAITING


def test_joining_refuses_a_practitioner_who_does_not_offer_the_treatment(join, full_monday):
    stranger = PractitionerFactory()
    with pytest.raises(InvalidInput) as error:
        join(practitioner=stranger)
    assert "practitioner" in error.value.fields


def test_patients_cannot_wait_for_an_inactive_treatment(join, treatment, full_monday):
    treatment.active = False
    treatment.save(update_fields=["active"])
    with pytest.raises(InvalidInput) as error:
        join()
    assert "treatment" in error.value.fields


def test_overlapping_entries_for_one_treatment_are_refused(join, patient, full_monday):
    join(patient, earliest=MONDAY, latest=TUESDAY)
    with pytest.raises(AlreadyWaiting) as error:
        join(patient, earliest=TUESDAY, latest=TUESDAY + timedelta(days=3))
    assert error.value.status == 409
    assert error.value.code == "already_waiting"
    join(patient, earliest=TUESDAY + timedelta(days=1), latest=TUESDAY + timedelta(days=3))  # no overlap: fine
    assert WaitlistEntry.objects.filter(patient=patient).count() == 2


def test_a_patient_waits_for_at_most_five_things(join, patient, full_monday):
    for week in range(waitlist.MAX_WAITING):
        join(patient, earliest=MONDAY + timedelta(weeks=week), latest=MONDAY + timedelta(weeks=week))
    with pytest.raises(AlreadyWaiting, match="Leave one"):
        join(patient, earliest=MONDAY + timedelta(weeks=6), latest=MONDAY + timedelta(weeks=6))


def test_joining_when_a_slot_is_free_offers_it_at_once(join, practitioner, at, now):
    entry = join(parts=["morning"])
    offer = waitlist.open_offer_for(entry)
    assert offer is not None
    assert offer.start == at(10)
    assert offer.expires_at == min(now + timedelta(minutes=60), at(10) - timedelta(hours=2))
    assert offer.hold.status == Appointment.Status.HELD
    assert Notification.objects.filter(kind=Notification.Kind.WAITLIST_OFFER, waitlist_offer=offer).count() == 1


def test_an_entry_for_the_evening_is_not_offered_a_morning_slot(join, practitioner):
    entry = join(parts=["evening"])
    assert waitlist.open_offer_for(entry) is None


# --- holds -------------------------------------------------------------------------------


def test_a_held_slot_is_not_offered_nor_bookable_until_it_expires(join, treatment, at, now):
    entry = join()
    offer = waitlist.open_offer_for(entry)
    assert availability.find_slots(treatment=treatment, first_date=MONDAY, last_date=MONDAY, now=now) == []
    other = PatientFactory()
    with pytest.raises(SlotUnavailable):
        appointment_book(
            patient=other,
            treatment=treatment,
            start=at(10),
            practitioner=None,
            booked_by=other.user,
            staff=True,
            now=now,
        )
    later = offer.expires_at
    free = availability.find_slots(treatment=treatment, first_date=MONDAY, last_date=MONDAY, now=later, staff=True)
    assert at(10) in [slot.start for slot in free]
    booked = appointment_book(
        patient=other, treatment=treatment, start=at(10), practitioner=None, booked_by=other.user, staff=True, now=later
    )
    assert booked.status == Appointment.Status.CONFIRMED
    assert not held_rows().exists()
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.EXPIRED


def test_held_rows_are_invisible_to_the_default_manager(join):
    join()
    assert held_rows().count() == 1
    assert not Appointment.objects.filter(status=Appointment.Status.HELD).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exclusion constraints are PostgreSQL's")
def test_the_database_refuses_a_hold_over_a_hold_or_a_booking(join, treatment, practitioner, room, at):
    join()
    hold = held_rows().get()
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(
            treatment=treatment,
            practitioner=practitioner,
            room=room,
            start=at(10, 15),
            status=Appointment.Status.HELD,
            hold_expires_at=hold.hold_expires_at,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(treatment=treatment, practitioner=practitioner, room=room, start=at(10, 15))


# --- matching after a cancellation -------------------------------------------------------


def test_a_cancellation_offers_the_slot_to_the_first_in_line(
    join, full_monday, worker, at, now, django_capture_on_commit_callbacks
):
    first, second = join(), join()
    assert waitlist.open_offer_for(first) is None
    cancel(full_monday, now, django_capture_on_commit_callbacks)
    made = worker.match(now)
    assert [offer.entry_id for offer in made] == [first.pk]
    assert made[0].start == at(10)
    assert waitlist.open_offer_for(second) is None
    assert worker.expiries == [made[0].pk]


def test_a_reschedule_offers_the_old_time(
    join, full_monday, worker, treatment, at, now, django_capture_on_commit_callbacks
):
    WorkingHours.objects.create(practitioner=full_monday.practitioner, weekday=1, start=time(10), end=time(11))
    entry = join()
    with django_capture_on_commit_callbacks(execute=True):
        appointment_reschedule(
            appointment=full_monday, start=at(10, day=TUESDAY), by=UserFactory(role="receptionist"), staff=True, now=now
        )
    made = worker.match(now)
    assert [offer.entry_id for offer in made] == [entry.pk]


def test_the_patient_is_not_offered_a_time_they_are_already_booked_elsewhere(
    join, full_monday, worker, now, at, django_capture_on_commit_callbacks
):
    patient = PatientFactory()
    entry = join(patient)
    other_treatment = TreatmentFactory()
    AppointmentFactory(patient=patient, treatment=other_treatment, start=at(10, 15), practitioner=PractitionerFactory())
    cancel(full_monday, now, django_capture_on_commit_callbacks)
    assert worker.match(now) == []
    assert waitlist.open_offer_for(entry) is None


# --- accepting, declining, leaving -------------------------------------------------------


def test_accepting_books_the_slot_in_place_of_the_hold(join, patient, at, now):
    entry = join(patient)
    offer = waitlist.open_offer_for(entry)
    appointment = waitlist.offer_accept(offer=offer, by=patient.user, now=now + timedelta(minutes=5))
    assert appointment.status == Appointment.Status.CONFIRMED
    assert appointment.start == at(10)
    assert appointment.patient == patient
    assert not held_rows().exists()
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert (offer.status, offer.appointment) == (WaitlistOffer.Status.ACCEPTED, appointment)
    assert (entry.status, entry.appointment) == (WaitlistEntry.Status.BOOKED, appointment)
    assert Notification.objects.filter(appointment=appointment, kind=Notification.Kind.CONFIRMATION).exists()
    with pytest.raises(InvalidState):
        waitlist.offer_accept(offer=offer, by=patient.user, now=now + timedelta(minutes=6))


def test_an_expired_offer_cannot_be_accepted(join, patient, now):
    offer = waitlist.open_offer_for(join(patient))
    with pytest.raises(InvalidState, match="expired"):
        waitlist.offer_accept(offer=offer, by=patient.user, now=offer.expires_at)
    assert not Appointment.objects.exists()


def test_screening_still_applies_and_the_offer_stays_open(join, patient, treatment, now):
    ContraindicationRuleFactory(treatment=treatment, code="PREG", severity="block")
    HealthDeclarationFactory(patient=patient, pregnant_or_breastfeeding=True)
    offer = waitlist.open_offer_for(join(patient))
    with pytest.raises(Contraindicated):
        waitlist.offer_accept(offer=offer, by=patient.user, now=now)
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.OPEN
    assert held_rows().count() == 1


def test_declining_passes_the_slot_to_the_next_and_never_back(
    join, worker, full_monday, now, django_capture_on_commit_callbacks
):
    first, second = join(), join()
    cancel(full_monday, now, django_capture_on_commit_callbacks)
    (offer,) = worker.match(now)
    with django_capture_on_commit_callbacks(execute=True):
        waitlist.offer_decline(offer=offer, by=first.patient.user, now=now)
    (passed,) = worker.match(now)
    assert passed.entry_id == second.pk
    first.refresh_from_db()
    assert first.status == WaitlistEntry.Status.WAITING
    # The second lets it go too: the first, who declined it, is not offered it again.
    with django_capture_on_commit_callbacks(execute=True):
        waitlist.offer_decline(offer=passed, by=second.patient.user, now=now)
    assert worker.match(now) == []
    assert not held_rows().exists()


def test_leaving_withdraws_the_open_offer(join, patient, worker, now, django_capture_on_commit_callbacks):
    entry = join(patient)
    offer = waitlist.open_offer_for(entry)
    with django_capture_on_commit_callbacks(execute=True):
        waitlist.waitlist_leave(entry=entry, by=patient.user, now=now)
    offer.refresh_from_db()
    entry.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.WITHDRAWN
    assert entry.status == WaitlistEntry.Status.LEFT
    assert not held_rows().exists()
    assert len(worker.freed) == 1
    assert waitlist.waitlist_leave(entry=entry, by=patient.user, now=now).status == WaitlistEntry.Status.LEFT


def test_a_booked_entry_cannot_be_left(join, patient, now):
    entry = join(patient)
    waitlist.offer_accept(offer=waitlist.open_offer_for(entry), by=patient.user, now=now)
    with pytest.raises(InvalidState):
        waitlist.waitlist_leave(entry=entry, by=patient.user, now=now)


# --- by hand -----------------------------------------------------------------------------


def test_staff_offer_by_hand_inside_the_notice(join, full_monday, practitioner, at, now, receptionist):
    WorkingHours.objects.filter(practitioner=practitioner).update(start=time(8))
    entry = join(parts=["evening"])
    assert waitlist.open_offer_for(entry) is None
    offer = waitlist.waitlist_offer_by_hand(entry=entry, start=at(8), by=receptionist, now=now)
    assert offer.offered_by == receptionist
    assert offer.expires_at == now + timedelta(minutes=60)
    with pytest.raises(InvalidState):
        waitlist.waitlist_offer_by_hand(entry=entry, start=at(9), by=receptionist, now=now)
    appointment = waitlist.offer_accept(offer=offer, by=entry.patient.user, now=now + timedelta(minutes=30))
    assert appointment.start == at(8)


def test_by_hand_refuses_a_taken_or_unbookable_time(join, full_monday, at, now, receptionist):
    entry = join()
    with pytest.raises(SlotUnavailable):
        waitlist.waitlist_offer_by_hand(entry=entry, start=at(10), by=receptionist, now=now)
    with pytest.raises(NotBookable):
        waitlist.waitlist_offer_by_hand(entry=entry, start=at(10, 5), by=receptionist, now=now)
    assert not WaitlistOffer.objects.exists()


# --- expiry and the chain ----------------------------------------------------------------


def test_the_chain_across_three_patients(
    join, worker, full_monday, treatment, at, now, django_capture_on_commit_callbacks
):
    now = now - timedelta(days=1)  # Sunday: each offer can run its full hour
    a, b, c = join(at_=now), join(at_=now), join(at_=now)
    cancel(full_monday, now, django_capture_on_commit_callbacks)
    (to_a,) = worker.match(now)
    assert to_a.expires_at == now + timedelta(hours=1)
    assert to_a.entry_id == a.pk
    with time_machine.travel(to_a.expires_at + timedelta(seconds=1), tick=False):
        # A lets it expire: the expiry task passes it to B at once.
        assert waitlist.offer_expire(offer_id=to_a.pk) is True
        assert waitlist.offer_expire(offer_id=to_a.pk) is False  # a second run changes nothing
        to_b = waitlist.open_offer_for(b)
        assert to_b is not None
        assert to_b.start == at(10)
        # B declines: C has it at once.
        with django_capture_on_commit_callbacks(execute=True):
            waitlist.offer_decline(offer=to_b, by=b.patient.user)
        (to_c,) = worker.match(to_b.created_at)
        assert to_c.entry_id == c.pk
        appointment = waitlist.offer_accept(offer=to_c, by=c.patient.user)
    assert list(Appointment.objects.filter(status=Appointment.Status.CONFIRMED)) == [appointment]
    assert appointment.patient_id == c.patient_id
    statuses = {entry.pk: entry.status for entry in WaitlistEntry.objects.all()}
    assert statuses == {a.pk: "waiting", b.pk: "waiting", c.pk: "booked"}
    assert list(WaitlistOffer.objects.order_by("pk").values_list("status", flat=True)) == [
        "expired",
        "declined",
        "accepted",
    ]
    assert not held_rows().exists()


def test_the_sweep_expires_every_due_hold_and_ends_past_entries(join, worker, now):
    offer = waitlist.open_offer_for(join())
    assert waitlist.offers_expire(now=offer.expires_at - timedelta(seconds=1)) == 0
    assert waitlist.offers_expire(now=offer.expires_at) == 1
    assert waitlist.offers_expire(now=offer.expires_at) == 0
    assert not held_rows().exists()
    waitlist.offers_expire(now=now + timedelta(days=1))
    assert set(WaitlistEntry.objects.values_list("status", flat=True)) == {"ended"}


def test_the_full_match_finds_what_a_lost_message_missed(join, full_monday, now):
    entry = join()
    Appointment.objects.filter(pk=full_monday.pk).update(status=Appointment.Status.CANCELLED)  # the task never ran
    made = waitlist.waitlist_match_all(now=now)
    assert [offer.entry_id for offer in made] == [entry.pk]
    assert waitlist.waitlist_match_all(now=now) == []


def test_matching_many_entries_costs_a_constant_number_of_queries(
    join, full_monday, now, django_assert_max_num_queries
):
    for _ in range(30):
        join()
    Appointment.objects.filter(pk=full_monday.pk).update(status=Appointment.Status.CANCELLED)
    with django_assert_max_num_queries(60):
        made = waitlist.waitlist_match(start=full_monday.start, end=full_monday.blocked_until, now=now)
    assert len(made) == 1
