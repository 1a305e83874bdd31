"""The waitlist's pages (issue 18): joining from the booking flow when no time
suits, the patient's waitlist (/me/waitlist/), the offer page a freed time
brings (/waitlist/offers/<id>/), and the desk's waitlist per treatment with a
time offered by hand. The rules are booking/waitlist.py's; these tests check
what a patient or a receptionist sees and that the pages reach the services."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from booking import holds, waitlist
from booking.models import Appointment, Practitioner, WaitlistEntry, WaitlistOffer, WorkingHours
from patients.models import Patient
from tests.factories import (
    HealthDeclarationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    UserFactory,
)
from treatments.models import Treatment

pytestmark = pytest.mark.django_db

# Monday 30 November 2026, 08:00 in Hong Kong. The peel's one practitioner works
# Wednesdays 10:00-10:30 only: one slot a week, 10:00, so the queue is easy to follow.
NOW = "2026-11-30 08:00 +0800"
WEDNESDAY = date(2026, 12, 2)
NEXT_WEDNESDAY = WEDNESDAY + timedelta(days=7)


@pytest.fixture(autouse=True)
def _monday_morning(settings: Any) -> Any:
    settings.CLINIC_MIN_NOTICE = timedelta(hours=2)
    settings.CLINIC_BOOKING_HORIZON = timedelta(days=90)
    settings.CLINIC_WAITLIST_HOLD = timedelta(minutes=60)
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def matcher(monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any) -> None:
    """Stands in for the Celery worker: a freed time is matched at once, and
    no expiry task or email is sent (the sweep's and the outbox's tests cover them)."""

    def match_now(start: str, end: str) -> None:
        waitlist.waitlist_match(start=datetime.fromisoformat(start), end=datetime.fromisoformat(end))

    monkeypatch.setattr(holds, "_publish_match", match_now)
    monkeypatch.setattr(waitlist, "_schedule_expiry", lambda pk, eta: None)
    monkeypatch.setattr("booking.notifications.publish", lambda ids, claim=None: True)


@pytest.fixture
def peel() -> Treatment:
    treatment = TreatmentFactory(slug="peel", name_en="Glycolic peel", name_zh_hant="果酸換膚", duration_minutes=30)
    RoomFactory(kind=treatment.room_kind)
    return treatment


@pytest.fixture
def doctor(peel: Treatment) -> Practitioner:
    practitioner = PractitionerFactory(treatments=[peel], hours=False, user__first_name="Mei", user__last_name="Chan")
    WorkingHours.objects.create(practitioner=practitioner, weekday=2, start=time(10), end=time(10, 30))
    return practitioner


def patient() -> Patient:
    someone = PatientFactory()
    HealthDeclarationFactory(patient=someone)
    return someone


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def join(who: Patient, treatment: Treatment, *, first: date = WEDNESDAY, last: date = WEDNESDAY) -> WaitlistEntry:
    return waitlist.waitlist_join(
        patient=who, treatment=treatment, earliest=first, latest=last, by=who.user, staff=False
    )


def wednesday_taken(peel: Treatment) -> Appointment:
    from booking.services import appointment_book

    other = patient()
    return appointment_book(
        patient=other,
        treatment=peel,
        start=datetime.combine(WEDNESDAY, time(10), tzinfo=timezone.get_current_timezone()),
        practitioner=None,
        booked_by=other.user,
        staff=False,
    )


# --- joining from the booking flow ---------------------------------------------------------------


def test_the_times_of_a_day_offer_the_waitlist_prefilled_with_that_week(peel, doctor) -> None:
    page = signed_in(patient().user).get(f"/book/?treatment=peel&practitioner=any&date={WEDNESDAY}")
    text = page.content.decode()
    assert "None of these times suit me" in text
    assert 'name="action" value="waitlist"' in text
    assert f'value="{WEDNESDAY.isoformat()}"' in text  # from the day shown...
    assert f'value="{(WEDNESDAY + timedelta(days=6)).isoformat()}"' in text  # ...to a week on
    assert '<details class="waitlist-join card" id="waitlist">' in text  # folded: there are times


def test_a_month_without_free_times_opens_the_waitlist_form(peel) -> None:
    text = signed_in(patient().user).get("/book/?treatment=peel&practitioner=any").content.decode()
    assert "There are no free times this month." in text or "no days that can be booked" in text
    assert 'id="waitlist" open' in text


def test_joining_from_the_flow_puts_the_patient_on_the_waitlist(peel, doctor) -> None:
    wednesday_taken(peel)
    me = patient()
    response = signed_in(me.user).post(
        "/book/",
        {
            "treatment": "peel",
            "practitioner": "any",
            "date": WEDNESDAY.isoformat(),
            "action": "waitlist",
            "waitlist-earliest": WEDNESDAY.isoformat(),
            "waitlist-latest": (WEDNESDAY + timedelta(days=6)).isoformat(),
            "waitlist-parts": ["morning"],
        },
        follow=True,
    )
    entry = WaitlistEntry.objects.get(patient=me)
    assert (entry.treatment, entry.practitioner, entry.earliest, entry.parts) == (peel, None, WEDNESDAY, ["morning"])
    assert response.redirect_chain[-1][0] == "/me/waitlist/"
    text = response.content.decode()
    assert "on the waitlist for Glycolic peel, 2–8 Dec 2026, mornings" in text
    assert "held for you for 1 hour" in text


def test_a_time_free_at_once_is_held_as_soon_as_the_patient_joins(peel, doctor) -> None:
    me = patient()
    response = signed_in(me.user).post(
        "/book/",
        {
            "treatment": "peel",
            "practitioner": doctor.pk,
            "date": WEDNESDAY.isoformat(),
            "action": "waitlist",
            "waitlist-earliest": WEDNESDAY.isoformat(),
            "waitlist-latest": WEDNESDAY.isoformat(),
        },
        follow=True,
    )
    offer = WaitlistOffer.objects.get(entry__patient=me, status="open")
    text = response.content.decode()
    assert "is free now and held for you" in text
    assert f"/waitlist/offers/{offer.pk}/" in text


def test_join_errors_show_in_place_with_the_form_kept(peel, doctor) -> None:
    me = patient()
    response = signed_in(me.user).post(
        "/book/",
        {
            "treatment": "peel",
            "practitioner": "any",
            "date": WEDNESDAY.isoformat(),
            "action": "waitlist",
            "waitlist-earliest": NEXT_WEDNESDAY.isoformat(),
            "waitlist-latest": WEDNESDAY.isoformat(),
            "waitlist-parts": ["evening"],
        },
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "The last date must be on or after the first." in text
    assert 'id="waitlist" open' in text
    assert f'value="{NEXT_WEDNESDAY.isoformat()}"' in text
    assert 'value="evening" id="id_waitlist-parts_2" checked' in text or 'value="evening" checked' in text
    assert not WaitlistEntry.objects.filter(patient=me).exists()


def test_joining_twice_for_the_same_dates_is_refused_in_place(peel, doctor) -> None:
    wednesday_taken(peel)
    me = patient()
    join(me, peel)
    response = signed_in(me.user).post(
        "/book/",
        {
            "treatment": "peel",
            "practitioner": "any",
            "date": WEDNESDAY.isoformat(),
            "action": "waitlist",
            "waitlist-earliest": WEDNESDAY.isoformat(),
            "waitlist-latest": WEDNESDAY.isoformat(),
        },
    )
    assert "already on the waitlist for this treatment" in response.content.decode()
    assert WaitlistEntry.objects.filter(patient=me).count() == 1


def test_a_signed_out_visitor_is_asked_to_sign_in_and_comes_back_to_the_form(peel, doctor) -> None:
    client = Client()
    text = client.get(f"/book/?treatment=peel&practitioner=any&date={WEDNESDAY}").content.decode()
    assert "Sign in to join the waitlist" in text
    response = client.post(
        "/book/", {"treatment": "peel", "practitioner": "any", "date": WEDNESDAY.isoformat(), "action": "waitlist"}
    )
    assert response.status_code == 302
    target = urlparse(response.headers["Location"])
    assert target.path == "/accounts/login/"
    back = parse_qs(target.query)["next"][0]
    assert "waitlist=1" in back and "treatment=peel" in back
    assert not WaitlistEntry.objects.exists()
    me = patient()
    client.force_login(me.user)
    assert 'id="waitlist" open' in client.get(back.split("#")[0]).content.decode()


# --- my waitlist -------------------------------------------------------------------------------


def test_my_waitlist_lists_my_entries_and_their_offer(peel, doctor) -> None:
    me = patient()
    entry = join(me, peel)  # Wednesday 10:00 is free: held for me at once
    offer = WaitlistOffer.objects.get(entry=entry)
    someone_else = join(patient(), peel, last=NEXT_WEDNESDAY)
    text = signed_in(me.user).get("/me/waitlist/").content.decode()
    assert "Glycolic peel" in text and "Any practitioner" in text and "Any time of day" in text
    assert f"/waitlist/offers/{offer.pk}/" in text
    assert "Held until 09:00." in text
    assert f"/me/waitlist/{someone_else.pk}/leave/" not in text


def test_an_empty_waitlist_points_to_booking() -> None:
    text = signed_in(patient().user).get("/me/waitlist/").content.decode()
    assert "You are not waiting for any time." in text and 'href="/book/"' in text


def test_leaving_the_waitlist(peel, doctor) -> None:
    wednesday_taken(peel)
    me = patient()
    entry = join(me, peel)
    response = signed_in(me.user).post(f"/me/waitlist/{entry.pk}/leave/", follow=True)
    entry.refresh_from_db()
    assert entry.status == WaitlistEntry.Status.LEFT
    assert "You have left the waitlist for Glycolic peel" in response.content.decode()


def test_a_patient_cannot_leave_or_see_another_patients_entry_or_offer(peel, doctor) -> None:
    other = patient()
    entry = join(other, peel)
    offer = WaitlistOffer.objects.get(entry=entry)
    client = signed_in(patient().user)
    assert client.post(f"/me/waitlist/{entry.pk}/leave/").status_code == 404
    assert client.get(f"/waitlist/offers/{offer.pk}/").status_code == 404
    assert client.post(f"/waitlist/offers/{offer.pk}/", {"action": "accept"}).status_code == 404
    entry.refresh_from_db()
    offer.refresh_from_db()
    assert (entry.status, offer.status) == ("waiting", "open")


# --- the offer page ----------------------------------------------------------------------------


def test_the_offer_page_shows_the_time_and_how_long_it_is_held(peel, doctor) -> None:
    me = patient()
    offer = WaitlistOffer.objects.get(entry=join(me, peel))
    text = signed_in(me.user).get(f"/waitlist/offers/{offer.pk}/").content.decode()
    assert "Wednesday, 2 December 2026, 10:00–10:30" in text
    assert "Mei Chan" in text
    assert "Held for you until 09:00." in text
    assert 'data-countdown="3600"' in text
    assert 'value="accept"' in text and 'value="decline"' in text


def test_the_offer_flags_a_date_that_matters_inside_the_downtime_before_accepting(peel, doctor) -> None:
    from patients.models import ImportantDate

    Treatment.objects.filter(pk=peel.pk).update(downtime_days_min=1, downtime_days_max=3)
    me = patient()
    ImportantDate.objects.create(patient=me, starts_on=WEDNESDAY + timedelta(days=2), ends_on=WEDNESDAY + timedelta(days=2),
                                 label="Wedding")  # fmt: skip
    offer = WaitlistOffer.objects.get(entry=join(me, peel))
    text = signed_in(me.user).get(f"/waitlist/offers/{offer.pk}/").content.decode()
    assert "Wedding" in text and "falls within the usual" in text
    assert "You can still accept this time" in text
    assert 'value="accept"' in text  # a flag, never a refusal


def test_an_offer_a_gap_rule_refuses_explains_why_and_books_nothing(peel, doctor) -> None:
    from tests.factories import AppointmentFactory
    from treatments.models import GapRule

    toxin = TreatmentFactory(slug="toxin", name_en="Toxin", category="toxin")
    me = patient()
    offer = WaitlistOffer.objects.get(entry=join(me, peel))
    # Booked after the offer was made: the rule now refuses the offered day.
    AppointmentFactory(patient=me, treatment=toxin, practitioner=doctor,
                       start=timezone.make_aware(datetime.combine(WEDNESDAY - timedelta(days=1), time(11))))  # fmt: skip
    GapRule.objects.create(earlier_treatment=toxin, later_treatment=peel, min_days=7, severity="block",
                           note_en="Let the toxin settle.", note_zh_hant="讓肉毒桿菌素穩定。")  # fmt: skip
    response = signed_in(me.user).post(f"/waitlist/offers/{offer.pk}/", {"action": "accept"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "Toxin" in text and "Let the toxin settle." in text
    assert not Appointment.objects.filter(patient=me, treatment=peel).exists()
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.OPEN  # still held until it expires: the patient may call the clinic


def test_accepting_books_the_time_and_shows_the_appointment(peel, doctor) -> None:
    me = patient()
    offer = WaitlistOffer.objects.get(entry=join(me, peel))
    response = signed_in(me.user).post(f"/waitlist/offers/{offer.pk}/", {"action": "accept"})
    booked = Appointment.objects.get(patient=me, status=Appointment.Status.CONFIRMED)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/appointments/{booked.pk}/?booked=1"
    assert booked.start == offer.start
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.ACCEPTED


def test_screening_that_blocks_the_treatment_is_explained_on_the_offer(peel, doctor) -> None:
    from tests.factories import ContraindicationRuleFactory

    ContraindicationRuleFactory(treatment=peel, code="PREG", severity="block")
    me = PatientFactory()
    HealthDeclarationFactory(patient=me, pregnant_or_breastfeeding=True)
    offer = WaitlistOffer.objects.get(entry=join(me, peel))
    response = signed_in(me.user).post(f"/waitlist/offers/{offer.pk}/", {"action": "accept"})
    assert response.status_code == 200
    text = response.content.decode()
    assert 'role="alert"' in text and "needs a conversation with the clinic" in text
    assert not Appointment.objects.filter(patient=me).exists()
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.OPEN  # still held: the patient may call the clinic


def test_declining_passes_the_time_to_the_next_person_waiting(peel, doctor, django_capture_on_commit_callbacks) -> None:
    first, second = patient(), patient()
    offer = WaitlistOffer.objects.get(entry=join(first, peel))
    waiting = join(second, peel)
    assert not WaitlistOffer.objects.filter(entry=waiting).exists()
    client = signed_in(first.user)
    with django_capture_on_commit_callbacks(execute=True):  # the freed time is matched after commit
        response = client.post(f"/waitlist/offers/{offer.pk}/", {"action": "decline"}, follow=True)
    assert "It goes to the next person waiting" in response.content.decode()
    offer.refresh_from_db()
    assert offer.status == WaitlistOffer.Status.DECLINED
    passed = WaitlistOffer.objects.get(entry=waiting)
    assert (passed.status, passed.start) == ("open", offer.start)
    assert "went to the next person waiting" in client.get(f"/waitlist/offers/{offer.pk}/").content.decode()


def test_an_expired_offer_says_so_plainly_and_books_nothing(peel, doctor) -> None:
    me = patient()
    offer = WaitlistOffer.objects.get(entry=join(me, peel))
    client = signed_in(me.user)
    with time_machine.travel(offer.expires_at + timedelta(minutes=1), tick=False):
        page = client.get(f"/waitlist/offers/{offer.pk}/").content.decode()
        assert "the time to answer has run out" in page
        assert 'value="accept"' not in page
        response = client.post(f"/waitlist/offers/{offer.pk}/", {"action": "accept"})
    assert "can no longer be accepted" in response.content.decode()
    assert not Appointment.objects.filter(patient=me, status=Appointment.Status.CONFIRMED).exists()


def test_the_offer_page_needs_a_signed_in_patient(peel, doctor) -> None:
    offer = WaitlistOffer.objects.get(entry=join(patient(), peel))
    response = Client().get(f"/waitlist/offers/{offer.pk}/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/?next=/waitlist/offers/")


# --- the desk ----------------------------------------------------------------------------------


def test_staff_see_the_waitlist_per_treatment_in_queue_order(peel, doctor) -> None:
    wednesday_taken(peel)
    other = TreatmentFactory(slug="laser", name_en="Pico laser")
    first, second, third = patient(), patient(), patient()
    join(first, peel)
    join(second, peel, last=NEXT_WEDNESDAY)
    join(third, other, first=NEXT_WEDNESDAY, last=NEXT_WEDNESDAY)
    client = signed_in(UserFactory(role="receptionist"))
    text = client.get(f"/staff/waitlist/?treatment={peel.pk}").content.decode()
    assert text.index(first.full_name) < text.index(second.full_name)
    assert third.full_name not in text
    assert f"/staff/patients/{first.pk}/" in text
    everyone = client.get("/staff/waitlist/").content.decode()
    assert third.full_name in everyone
    assert 'Glycolic peel <span class="count">2</span>' in everyone
    assert 'Pico laser <span class="count">1</span>' in everyone


def test_the_staff_list_reads_the_same_queries_whatever_its_length(peel, doctor, django_assert_max_num_queries) -> None:
    client = signed_in(UserFactory(role="receptionist"))
    join(patient(), peel)  # with an open offer
    client.get("/staff/waitlist/")
    for _ in range(3):
        join(patient(), peel, last=NEXT_WEDNESDAY)
    with django_assert_max_num_queries(12) as few:
        client.get("/staff/waitlist/")
    for _ in range(12):
        join(patient(), peel, first=NEXT_WEDNESDAY, last=NEXT_WEDNESDAY + timedelta(days=1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/staff/waitlist/").status_code == 200


def test_staff_offer_a_time_by_hand(peel, doctor) -> None:
    wednesday_taken(peel)
    me = patient()
    entry = join(me, peel)  # Wednesday only, which is taken: nothing offered yet
    client = signed_in(UserFactory(role="receptionist"))
    page = client.get(f"/staff/waitlist/{entry.pk}/offer/?date={NEXT_WEDNESDAY}").content.decode()
    start = datetime.combine(NEXT_WEDNESDAY, time(10), tzinfo=timezone.get_current_timezone())
    assert f'value="{start.isoformat()}"' in page
    assert "outside the dates the patient asked for" in page
    response = client.post(
        f"/staff/waitlist/{entry.pk}/offer/", {"date": NEXT_WEDNESDAY.isoformat(), "start": start.isoformat()}
    )
    assert response.status_code == 302
    offer = WaitlistOffer.objects.get(entry=entry)
    assert (offer.start, offer.status, offer.offered_by_id is not None) == (start, "open", True)


def test_an_offer_by_hand_that_fails_says_why_in_place(peel, doctor) -> None:
    booked = wednesday_taken(peel)
    entry = join(patient(), peel)
    client = signed_in(UserFactory(role="receptionist"))
    response = client.post(
        f"/staff/waitlist/{entry.pk}/offer/", {"date": WEDNESDAY.isoformat(), "start": booked.start.isoformat()}
    )
    assert response.status_code == 409
    assert 'role="alert"' in response.content.decode()
    assert not WaitlistOffer.objects.filter(entry=entry).exists()


# --- the front desk: joining from the staff booking page, the chart, holds on the schedule ----------


def _desk_join(client: Client, who: Patient, peel: Treatment, **fields: Any) -> Any:
    data = {
        "action": "waitlist",
        "patient": who.pk,
        "treatment": peel.pk,
        "date": WEDNESDAY.isoformat(),
        "waitlist-earliest": WEDNESDAY.isoformat(),
        "waitlist-latest": NEXT_WEDNESDAY.isoformat(),
        **fields,
    }
    return client.post("/staff/book/", data)


def test_the_staff_booking_page_offers_the_waitlist_from_the_day_shown_for_two_weeks(peel, doctor) -> None:
    wednesday_taken(peel)  # nothing free that day: the form is unfolded
    client = signed_in(UserFactory(role="receptionist"))
    page = client.get(f"/staff/book/?patient={patient().pk}&treatment={peel.pk}&date={WEDNESDAY}").content.decode()
    assert '<details class="action-box waitlist-join" id="waitlist" open>' in page
    assert f'name="waitlist-earliest" value="{WEDNESDAY}"' in page
    assert f'name="waitlist-latest" value="{WEDNESDAY + timedelta(days=13)}"' in page
    assert f'<option value="{doctor.pk}">Mei Chan</option>' in page


def test_the_desk_puts_a_patient_on_the_waitlist_from_the_booking_page(peel, doctor) -> None:
    wednesday_taken(peel)
    me = patient()
    desk = UserFactory(role="receptionist")
    client = signed_in(desk)
    response = _desk_join(client, me, peel, **{"waitlist-practitioner": doctor.pk, "waitlist-parts": ["morning"]})
    assert response.status_code == 302
    assert response["Location"] == f"/staff/waitlist/?treatment={peel.pk}"
    entry = WaitlistEntry.objects.get(patient=me)
    assert (entry.treatment, entry.practitioner, entry.parts, entry.created_by) == (peel, doctor, ["morning"], desk)
    assert (entry.earliest, entry.latest, entry.status) == (WEDNESDAY, NEXT_WEDNESDAY, "waiting")
    listed = client.get(response["Location"]).content.decode()
    assert f"{me.full_name} is on the waitlist for Glycolic peel" in listed


def test_a_time_free_at_once_is_held_and_the_desk_is_told(peel, doctor) -> None:
    me = patient()
    response = _desk_join(signed_in(UserFactory(role="receptionist")), me, peel)
    assert response.status_code == 302
    offer = WaitlistOffer.objects.get(entry__patient=me, status="open")
    assert offer.start.date() == WEDNESDAY
    listed = signed_in(UserFactory(role="receptionist")).get(response["Location"])
    assert listed.status_code == 200


def test_desk_join_errors_show_in_place_with_the_form_kept(peel, doctor) -> None:
    wednesday_taken(peel)
    client = signed_in(UserFactory(role="receptionist"))
    me = patient()
    response = _desk_join(
        client,
        me,
        peel,
        **{"waitlist-latest": (WEDNESDAY - timedelta(days=1)).isoformat(), "waitlist-parts": "evening"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "The last date must be on or after the first." in page
    assert f'name="waitlist-earliest" value="{WEDNESDAY}"' in page
    assert 'value="evening" id="id_waitlist-parts_2" checked' in page
    assert '<details class="action-box waitlist-join" id="waitlist" open>' in page
    assert not WaitlistEntry.objects.filter(patient=me).exists()
    assert _desk_join(client, me, peel).status_code == 302
    again = _desk_join(client, me, peel)
    assert again.status_code == 409
    assert f"{me.full_name} is already on the waitlist for this treatment" in again.content.decode()
    assert WaitlistEntry.objects.filter(patient=me).count() == 1


@pytest.mark.parametrize("role", ["practitioner", "manager"])
def test_other_staff_roles_may_add_to_the_waitlist(peel, doctor, role) -> None:
    wednesday_taken(peel)
    me = patient()
    assert _desk_join(signed_in(UserFactory(role=role)), me, peel).status_code == 302
    assert WaitlistEntry.objects.filter(patient=me).exists()


def test_a_patient_cannot_use_the_desks_waitlist_form(peel, doctor) -> None:
    wednesday_taken(peel)
    me = patient()
    response = _desk_join(signed_in(me.user), me, peel)
    assert response.status_code in (302, 403)
    assert response.get("Location", "").startswith("/staff/") is False
    assert not WaitlistEntry.objects.filter(patient=me).exists()


def test_the_chart_summary_names_what_the_patient_waits_for(peel, doctor, django_assert_max_num_queries) -> None:
    wednesday_taken(peel)
    me = patient()
    client = signed_in(PractitionerFactory().user)
    url = f"/staff/patients/{me.pk}/"
    with django_assert_max_num_queries(100) as before:
        assert "summary-waitlist" not in client.get(url).content.decode()
    join(me, peel)
    join(me, TreatmentFactory(name_en="Pico laser"), last=NEXT_WEDNESDAY)
    with django_assert_max_num_queries(len(before.captured_queries)):
        page = client.get(url).content.decode()
    assert f'<a href="/staff/waitlist/?treatment={peel.pk}">Glycolic peel</a>' in page
    assert "Pico laser" in page


def test_the_day_schedule_shows_a_hold_until_it_expires(peel, doctor) -> None:
    me = patient()
    client = signed_in(UserFactory(role="receptionist"))
    url = f"/staff/?date={WEDNESDAY}"
    join(me, peel)  # Wednesday 10:00 is free: held for me at once, until 09:00 today
    offer = WaitlistOffer.objects.get(entry__patient=me, status="open")
    page = client.get(url).content.decode()
    assert f"Waitlist hold: {me.full_name}" in page
    assert f'href="/staff/waitlist/?treatment={peel.pk}" data-hold="{offer.hold_id}"' in page
    assert f"/staff/appointments/{offer.hold_id}/" not in page  # no panel, no drag
    assert f'data-appointment="{offer.hold_id}"' not in page
    assert "Book at 10:00" not in page  # the held time is not offered as free
    with time_machine.travel("2026-11-30 09:01 +0800", tick=False):  # a new sign-in: idle sessions end
        later = signed_in(UserFactory(role="receptionist")).get(url).content.decode()
    assert "Waitlist hold:" not in later
    assert "Book at 10:00" in later


def test_an_accepted_hold_becomes_the_appointment_on_the_schedule(peel, doctor) -> None:
    me = patient()
    join(me, peel)
    offer = WaitlistOffer.objects.get(entry__patient=me, status="open")
    booked = waitlist.offer_accept(offer=offer, by=me.user)
    for role in ("practitioner", "manager"):
        page = signed_in(UserFactory(role=role)).get(f"/staff/?date={WEDNESDAY}").content.decode()
        assert "Waitlist hold:" not in page
        assert f'data-appointment="{booked.pk}"' in page


@pytest.mark.parametrize("role", ["practitioner", "manager"])
def test_every_staff_role_sees_the_holds(peel, doctor, role) -> None:
    me = patient()
    join(me, peel)
    page = signed_in(UserFactory(role=role)).get(f"/staff/?date={WEDNESDAY}").content.decode()
    assert f"Waitlist hold: {me.full_name}" in page


def test_holds_cost_the_day_schedule_no_extra_queries(peel, doctor, django_assert_max_num_queries) -> None:
    client = signed_in(UserFactory(role="receptionist"))
    second = PractitionerFactory(treatments=[peel], hours=False)
    WorkingHours.objects.create(practitioner=second, weekday=2, start=time(10), end=time(10, 30))
    RoomFactory(kind=peel.room_kind)
    url = f"/staff/?date={WEDNESDAY}"
    with django_assert_max_num_queries(100) as before:
        assert "Waitlist hold:" not in client.get(url).content.decode()
    join(patient(), peel)
    join(patient(), peel)
    assert WaitlistOffer.objects.filter(status="open").count() == 2
    with django_assert_max_num_queries(len(before.captured_queries)):
        page = client.get(url).content.decode()
    assert page.count("Waitlist hold:") == 2
