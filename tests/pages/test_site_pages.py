"""The public site, the booking flow and "My appointments", through the URLs.

Time is frozen on Monday 30 November 2026, 09:00 in Hong Kong: with the
default two hours' notice, the first free time is 11:00 that day."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from booking import services
from booking.models import Appointment
from patients.models import HealthDeclaration, Patient
from tests.factories import AppointmentFactory, HealthDeclarationFactory, PatientFactory, UserFactory
from tests.pages.helpers import assert_translated
from tests.pages.site_fixtures import PASSWORD, Clinic, at, make_clinic
from treatments.services import plan_create

pytestmark = pytest.mark.django_db

MONDAY = date(2026, 11, 30)
WEDNESDAY = date(2026, 12, 2)
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hant"}
STAFF_ROLES = ["receptionist", "practitioner", "manager"]


@pytest.fixture(autouse=True)
def _monday_morning() -> Any:
    with time_machine.travel("2026-11-30 09:00 +0800", tick=False):
        yield


@pytest.fixture
def clinic() -> Clinic:
    return make_clinic()


@pytest.fixture
def patient() -> Patient:
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient)
    return patient


def _book(clinic: Clinic, patient: Patient, day: date = WEDNESDAY, hour: int = 10, **extra: Any) -> Appointment:
    return services.appointment_book(
        patient=patient,
        treatment=clinic.peel,
        start=at(day, hour),
        practitioner=clinic.first,
        booked_by=patient.user,
        staff=False,
        **extra,
    )


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _flow(**params: str) -> str:
    base = {"treatment": "peel", "practitioner": "any", "date": WEDNESDAY.isoformat(), "time": "10:00"}
    base.update(params)
    return "/book/?" + "&".join(f"{k}={v}" for k, v in base.items() if v)


# --- who may see what ------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/treatments/", "/treatments/peel/", "/book/", "/book/?treatment=peel"])
@pytest.mark.parametrize("role", [None, "patient", *STAFF_ROLES])
def test_public_pages_open_to_everyone(clinic: Clinic, url: str, role: str | None) -> None:
    client = Client()
    if role == "patient":
        client.force_login(PatientFactory().user)
    elif role:
        client.force_login(UserFactory(role=role))
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    "url", ["/appointments/", "/me/health/", "/appointments/{pk}/", "/appointments/{pk}/reschedule/"]
)
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, clinic: Clinic, patient: Patient, url: str) -> None:
    pk = _book(clinic, patient).pk
    response = client.get(url.format(pk=pk))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_get_403_on_patient_pages_and_their_own_view_of_an_appointment(
    clinic: Clinic, patient: Patient, role: str
) -> None:
    pk = _book(clinic, patient).pk
    client = _signed_in(UserFactory(role=role))
    assert client.get("/appointments/").status_code == 403
    assert client.get("/me/health/").status_code == 403
    assert client.get(f"/appointments/{pk}/calendar.ics").status_code == 403
    assert client.post(f"/appointments/{pk}/cancel/").status_code == 403
    response = client.get(f"/appointments/{pk}/")
    assert response.status_code == 302 and response.headers["Location"] == f"/staff/appointments/{pk}/"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/appointments/{pk}/"),
        ("get", "/appointments/{pk}/calendar.ics"),
        ("get", "/appointments/{pk}/reschedule/"),
        ("post", "/appointments/{pk}/reschedule/"),
        ("post", "/appointments/{pk}/cancel/"),
    ],
)
def test_another_patients_appointment_is_404(clinic: Clinic, patient: Patient, method: str, url: str) -> None:
    appointment = _book(clinic, patient)
    intruder = _signed_in(PatientFactory().user)
    response = getattr(intruder, method)(url.format(pk=appointment.pk))
    assert response.status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == "confirmed" and appointment.start == at(WEDNESDAY, 10)


def test_my_appointments_lists_only_mine(clinic: Clinic, patient: Patient) -> None:
    mine = _book(clinic, patient)
    other = PatientFactory(full_name="Someone Else")
    HealthDeclarationFactory(patient=other)
    _book(clinic, other, hour=11)
    response = _signed_in(patient.user).get("/appointments/")
    assert response.status_code == 200
    assert f"/appointments/{mine.pk}/" in response.text
    assert "Someone Else" not in response.text and response.text.count("appointment-card") == 1


def test_someone_elses_plan_session_is_404_and_anonymous_must_sign_in(clinic: Clinic, patient: Patient) -> None:
    plan = plan_create(patient=patient, treatment=clinic.peel, sessions=3, by=clinic.first.user)
    session = plan.sessions.get(number=1)
    response = Client().get(f"/book/?plan_session={session.pk}")
    assert response.status_code == 302 and "/accounts/login/" in response.headers["Location"]
    assert _signed_in(PatientFactory().user).get(f"/book/?plan_session={session.pk}").status_code == 404


# --- the catalogue ----------------------------------------------------------------------------


def test_catalogue_explains_what_each_treatment_suits_in_plain_words(client: Client, clinic: Clinic) -> None:
    page = client.get("/treatments/peel/").text
    assert "Brown or grey marks" in page and "do not fade when you press" in page
    assert "3 to 6 sessions" in page and "2 to 5 weeks apart" in page and "30 minutes" in page
    assert "HK$900.00" in page and "Stop retinoid creams 48 hours before." in page
    assert 'href="/book/?treatment=peel"' in page
    listing = client.get("/treatments/?concern=raised").text
    assert "Scar consultation" in listing and "Glycolic peel" not in listing
    assert client.get("/treatments/?concern=pitted").text.count("treatment-card") == 2
    assert "Acne marks (flat, red or brown)" in client.get("/").text


def test_unknown_or_inactive_treatment_is_a_friendly_404(client: Client, clinic: Clinic) -> None:
    clinic.consultation.active = False
    clinic.consultation.save()
    for url in ["/treatments/nope/", "/treatments/consultation/"]:
        response = client.get(url)
        assert response.status_code == 404 and "Page not found" in response.text


# --- the booking flow ------------------------------------------------------------------------


def test_each_step_asks_one_thing_and_keeps_what_was_chosen(client: Client, clinic: Clinic) -> None:
    assert "What would you like to book?" in client.get("/book/").text
    page = client.get("/book/?treatment=peel").text
    assert "Who would you like to see?" in page and "Any practitioner" in page and "Mei Chan" in page
    page = client.get("/book/?treatment=peel&practitioner=any").text
    assert "Choose a day" in page and "November 2026" in page
    assert 'aria-label="Monday, 30 November 2026: 26 free times"' in page  # 11:00 to 18:30, lunch excluded
    assert "Sunday, 29 November 2026: no free times" in page
    page = client.get(f"/book/?treatment=peel&practitioner=any&date={WEDNESDAY}").text
    assert "Choose a time" in page and "Morning" in page and "Evening" in page and "Hong Kong time (HKT)" in page
    assert f'href="/book/?treatment=peel&amp;practitioner=any&amp;date={WEDNESDAY}&amp;time=10%3A00"' in page
    page = client.get(_flow()).text
    assert "Your details" in page and "Create your account" in page
    assert "Wednesday, 2 December 2026" in page and "10:00" in page  # the summary keeps every choice


def test_the_calendar_opens_on_the_month_of_the_first_free_day(client: Client, clinic: Clinic) -> None:
    with time_machine.travel("2026-12-31 18:00 +0800", tick=False):
        page = client.get("/book/?treatment=peel&practitioner=any").text
    assert "January 2027" in page


def test_a_named_practitioner_narrows_the_times(client: Client, clinic: Clinic, patient: Patient) -> None:
    _book(clinic, patient)  # Mei Chan at 10:00 on Wednesday
    anyone = client.get(f"/book/?treatment=peel&practitioner=any&date={WEDNESDAY}").text
    chan = client.get(f"/book/?treatment=peel&practitioner={clinic.first.pk}&date={WEDNESDAY}").text
    assert "time=10%3A00" in anyone and "time=10%3A00" not in chan


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("treatment=nope", "We could not find that treatment"),
        ("treatment=peel&practitioner=abc", "We could not find that practitioner"),
        ("treatment=peel&practitioner=99999999999999999999", "We could not find that practitioner"),
        ("treatment=peel&practitioner=any&date=2026-13-45", "That date is not valid"),
        ("treatment=peel&practitioner=any&date=yesterday", "That date is not valid"),
        ("treatment=peel&practitioner=any&date=2026-11-01", "That day cannot be booked online"),
        ("treatment=peel&practitioner=any&date=2031-01-01", "That day cannot be booked online"),
        ("treatment=peel&practitioner=any&date=2026-12-06", "There are no free times left"),
        (f"treatment=peel&practitioner=any&date={WEDNESDAY}&time=25:99", "That time is not valid"),
        (f"treatment=peel&practitioner=any&date={WEDNESDAY}&time=10:07", "10:07 is no longer free"),
        ("treatment=peel&practitioner=any&date=2026-11-30&time=09:30", "09:30 is no longer free"),
        ("treatment=peel&practitioner=any&month=9999-99", "Choose a day"),
        ("plan_session=abc", "We could not find that plan session"),
        ("treatment=%00%ff&date=%00", "We could not find that treatment"),
    ],
)
def test_bad_choices_are_explained_in_place(client: Client, clinic: Clinic, query: str, message: str) -> None:
    response = client.get(f"/book/?{query}")
    assert response.status_code == 200
    assert message in response.text


def test_a_practitioner_who_does_not_offer_the_treatment_is_explained(client: Client, clinic: Clinic) -> None:
    clinic.second.treatments.remove(clinic.peel)
    page = client.get(f"/book/?treatment=peel&practitioner={clinic.second.pk}").text
    assert "does not offer this treatment" in page and "Who would you like to see?" in page


def test_registering_inline_signs_in_and_keeps_every_choice(client: Client, clinic: Clinic) -> None:
    form = {
        "action": "register",
        "treatment": "peel",
        "practitioner": "any",
        "date": WEDNESDAY.isoformat(),
        "time": "10:00",
        "full_name": "  Chan   Tai Man ",
        "email": "Tai.Man@Example.com",
        "phone": "9123 4567",
        "date_of_birth": "1990-01-02",
        "password": "a-long-secret-phrase",
    }
    response = client.post("/book/", form)
    assert response.status_code == 302
    assert response.headers["Location"] == _flow().replace(":", "%3A")
    patient = Patient.objects.get(email="tai.man@example.com")
    assert patient.full_name == "Chan Tai Man" and patient.phone == "+85291234567"
    assert client.session["_auth_user_id"] == str(patient.user_id)
    assert "A few health questions" in client.get(response.headers["Location"]).text


def test_registration_errors_keep_the_typed_values_and_name_the_fields(client: Client, clinic: Clinic) -> None:
    PatientFactory(user__username="taken@example.com")
    response = client.post(
        "/book/",
        {"action": "register", "treatment": "peel", "practitioner": "any", "date": WEDNESDAY.isoformat(),
         "time": "10:00", "full_name": "Chan", "email": "taken@example.com", "phone": "12",
         "date_of_birth": "2030-01-01", "password": "password"},
    )  # fmt: skip
    assert response.status_code == 200
    page = response.text
    assert 'aria-invalid="true"' in page and 'value="Chan"' in page
    assert "Enter a valid phone number" in page
    # Once the input has the right shape, the service's rules answer (patients.validators).
    future = client.post(
        "/book/",
        {"action": "register", "treatment": "peel", "practitioner": "any", "date": WEDNESDAY.isoformat(),
         "time": "10:00", "full_name": "Chan", "email": "new@example.com", "phone": "91234567",
         "date_of_birth": "2030-01-01", "password": "a-long-secret-phrase"},
    )  # fmt: skip
    assert "The date of birth cannot be in the future." in future.text and 'value="new@example.com"' in future.text
    assert not Patient.objects.filter(email="new@example.com").exists()
    taken = client.post(
        "/book/",
        {"action": "register", "treatment": "peel", "practitioner": "any", "date": WEDNESDAY.isoformat(),
         "time": "10:00", "full_name": "Chan", "email": "TAKEN@example.com",
         "phone": "91234567", "date_of_birth": "1990-01-01", "password": "a-long-secret-phrase"},
    )  # fmt: skip
    assert "This email is already registered." in taken.text and 'value="TAKEN@example.com"' in taken.text
    assert "Forgot password" in taken.text
    assert Patient.objects.filter(full_name="Chan").count() == 0


def test_signing_in_inline_continues_where_the_patient_was(client: Client, clinic: Clinic, patient: Patient) -> None:
    state = {"treatment": "peel", "practitioner": "any", "date": WEDNESDAY.isoformat(), "time": "10:00"}
    wrong = client.post(
        "/book/", {**state, "action": "signin", "signin-username": patient.email, "signin-password": "x"}
    )
    assert "The email or password is not right." in wrong.text and "I have an account" in wrong.text
    response = client.post(
        "/book/", {**state, "action": "signin", "signin-username": patient.email, "signin-password": PASSWORD}
    )
    assert response.status_code == 302
    assert "Check and confirm" in client.get(response.headers["Location"]).text


def test_the_questionnaire_is_asked_when_missing_or_stale(clinic: Clinic) -> None:
    patient = PatientFactory()
    client = _signed_in(patient.user)
    assert "A few health questions" in client.get(_flow()).text
    incomplete = client.post("/book/", {"action": "health", "treatment": "peel", "practitioner": "any",
                                        "date": WEDNESDAY.isoformat(), "time": "10:00", "isotretinoin": "yes"})  # fmt: skip
    assert (
        "Some questions still need an answer" in incomplete.text and "Give the date, even roughly." in incomplete.text
    )
    assert not HealthDeclaration.objects.filter(patient=patient).exists()
    answers = dict.fromkeys(_YES_NO, "no")
    response = client.post(
        "/book/",
        {**answers, "action": "health", "treatment": "peel", "practitioner": "any", "date": WEDNESDAY.isoformat(),
         "time": "10:00", "isotretinoin": "yes", "isotretinoin_date": "2026-10-01", "allergies": ["lidocaine"]},
    )  # fmt: skip
    assert response.status_code == 302
    declaration = HealthDeclaration.objects.get(patient=patient)
    assert declaration.isotretinoin_last_dose == date(2026, 10, 1) and declaration.allergies == ["lidocaine"]
    assert declaration.topical_retinoid_last_use is None and declaration.pregnant_or_breastfeeding is False
    stale = PatientFactory()
    HealthDeclarationFactory(patient=stale)
    with time_machine.travel("2027-06-01 09:00 +0800", tick=False):
        page = _signed_in(stale.user).get(_flow(date="2027-06-02")).text
    assert "more than 180 days old" in page
    assert 'value="no" required id="id_pregnant_or_breastfeeding_1" checked' in page  # the old answers, to check


_YES_NO = [
    "pregnant_or_breastfeeding", "active_skin_infection", "active_cold_sore", "cold_sore_history", "active_acne",
    "keloid_tendency", "anticoagulants", "photosensitising_medication", "recent_sun_exposure",
    "autoimmune_condition", "neuromuscular_disorder", "implanted_electronic_device", "isotretinoin", "retinoid",
]  # fmt: skip


def test_confirming_books_and_shows_the_confirmation(clinic: Clinic, patient: Patient) -> None:
    client = _signed_in(patient.user)
    assert "Check and confirm" in client.get(_flow()).text
    response = client.post("/book/", {"action": "confirm", "treatment": "peel", "practitioner": "any",
                                      "date": WEDNESDAY.isoformat(), "time": "10:00",
                                      "notes": " Coming with my mother\x00 "})  # fmt: skip
    appointment = Appointment.objects.get(patient=patient)
    assert response.headers["Location"] == f"/appointments/{appointment.pk}/?booked=1"
    assert appointment.notes == "Coming with my mother"
    assert appointment.start == at(WEDNESDAY, 10) and appointment.source == "patient_online"
    page = client.get(response.headers["Location"]).text
    assert "You are booked" in page and "Wednesday, 2 December 2026, 10:00–10:30" in page
    assert "Hong Kong time (HKT)" in page and "Stop retinoid creams 48 hours before." in page
    assert f"/appointments/{appointment.pk}/calendar.ics" in page and "google.com/maps" in page
    assert "until Tuesday, 1 December 2026, 10:00" in page and "Coming with my mother" in page
    ics = client.get(f"/appointments/{appointment.pk}/calendar.ics")
    assert ics.headers["Content-Type"].startswith("text/calendar") and b"BEGIN:VEVENT" in ics.content


def test_confirming_with_htmx_redirects_the_whole_page(clinic: Clinic, patient: Patient) -> None:
    client = _signed_in(patient.user)
    response = client.post(
        "/book/",
        {"action": "confirm", "treatment": "peel", "practitioner": "any", "date": WEDNESDAY.isoformat(),
         "time": "10:00"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert response.headers["HX-Redirect"].startswith("/appointments/")


def test_a_taken_time_gives_fresh_times_of_that_day(clinic: Clinic, patient: Patient) -> None:
    for practitioner in (clinic.first, clinic.second):
        other = PatientFactory()
        HealthDeclarationFactory(patient=other)
        services.appointment_book(patient=other, treatment=clinic.peel, start=at(WEDNESDAY, 10),
                                  practitioner=practitioner, booked_by=other.user, staff=False)  # fmt: skip
    client = _signed_in(patient.user)
    response = client.post("/book/", {"action": "confirm", "treatment": "peel", "practitioner": "any",
                                      "date": WEDNESDAY.isoformat(), "time": "10:00"})  # fmt: skip
    assert response.status_code == 200
    page = response.text
    assert "Here are the times still free" in page and "Choose a time" in page
    assert "time=10%3A00" not in page and "time=10%3A30" in page
    assert not Appointment.objects.filter(patient=patient).exists()


def test_a_past_or_off_grid_time_posted_is_refused_with_words(clinic: Clinic, patient: Patient) -> None:
    client = _signed_in(patient.user)
    refusals = [
        ("2026-11-30", "08:00", "That time has passed."),
        (WEDNESDAY.isoformat(), "10:07", "Appointments start on the clinic&#x27;s 15-minute grid."),
        ("2026-11-02", "10:00", "That day cannot be booked online. Please pick a day from the calendar."),
    ]
    for day, when, words in refusals:
        response = client.post("/book/", {"action": "confirm", "treatment": "peel", "practitioner": "any",
                                          "date": day, "time": when})  # fmt: skip
        assert response.status_code == 200
        # In a notice of the booking flow, not just somewhere on the page.
        notice = rf'<div class="alert \w+" role="(alert|status)">{re.escape(words)}</div>'
        assert re.search(notice, response.text), words
    assert not Appointment.objects.filter(patient=patient).exists()


def test_an_expired_sign_in_keeps_the_choices(client: Client, clinic: Clinic) -> None:
    response = client.post("/book/", {"action": "confirm", "treatment": "peel", "practitioner": "any",
                                      "date": WEDNESDAY.isoformat(), "time": "10:00"})  # fmt: skip
    assert response.status_code == 200
    assert "Please sign in again" in response.text and "Wednesday, 2 December 2026" in response.text


def test_screening_blocks_in_plain_words_and_offers_a_consultation(clinic: Clinic) -> None:
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient, pregnant_or_breastfeeding=True)
    client = _signed_in(patient.user)
    page = client.get(_flow()).text
    assert "We need to see you first" in page and "you told us you are pregnant or breastfeeding" in page
    assert "Confirm booking" not in page
    assert f"/book/?treatment=consultation&amp;practitioner=any&amp;date={WEDNESDAY}" in page
    response = client.post("/book/", {"action": "confirm", "treatment": "peel", "practitioner": "any",
                                      "date": WEDNESDAY.isoformat(), "time": "10:00"})  # fmt: skip
    assert "We need to see you first" in response.text
    assert not Appointment.objects.filter(patient=patient).exists()


def test_cautions_are_shown_and_booking_goes_ahead(clinic: Clinic) -> None:
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient, cold_sore_history=True)
    client = _signed_in(patient.user)
    page = client.get(_flow()).text
    assert "You can book this treatment. Good to know:" in page and "cold sores" in page
    client.post("/book/", {"action": "confirm", "treatment": "peel", "practitioner": "any",
                           "date": WEDNESDAY.isoformat(), "time": "10:00"})  # fmt: skip
    appointment = Appointment.objects.get(patient=patient)
    assert "cold sores" in client.get(f"/appointments/{appointment.pk}/").text


def test_staff_are_pointed_to_the_workspace(clinic: Clinic) -> None:
    page = _signed_in(UserFactory(role="receptionist")).get(_flow()).text
    assert "You are signed in as staff" in page and "/staff/book/" in page


def test_a_plan_session_is_booked_inside_its_window(clinic: Clinic, patient: Patient) -> None:
    plan = plan_create(patient=patient, treatment=clinic.peel, sessions=3, by=clinic.first.user,
                       start_after=WEDNESDAY)  # fmt: skip
    session = plan.sessions.get(number=1)  # window: 2 to 23 December
    client = _signed_in(patient.user)
    page = client.get(f"/book/?plan_session={session.pk}&practitioner=any").text
    assert "Session 1 of your plan" in page
    assert "Tuesday, 1 December 2026: no free times" in page
    assert 'aria-label="Wednesday, 2 December 2026: 30 free times"' in page
    assert "Thursday, 24 December 2026: no free times" in page
    outside = client.get(f"/book/?plan_session={session.pk}&practitioner=any&date=2026-12-28").text
    assert "That day cannot be booked online" in outside
    client.post("/book/", {"action": "confirm", "plan_session": session.pk, "practitioner": "any",
                           "date": WEDNESDAY.isoformat(), "time": "10:00"})  # fmt: skip
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.plan_session_id == session.pk
    later = plan.sessions.get(number=3)
    assert "cannot be booked online right now" in client.get(f"/book/?plan_session={later.pk}").text


def test_booking_the_treatment_of_a_plan_books_its_next_session_or_a_separate_visit(
    clinic: Clinic, patient: Patient
) -> None:
    plan = plan_create(patient=patient, treatment=clinic.peel, sessions=3, by=clinic.first.user,
                       start_after=WEDNESDAY)  # fmt: skip
    session = plan.sessions.get(number=1)
    client = _signed_in(patient.user)
    confirm = client.get(_flow()).text
    assert "Session 1 of your plan" in confirm and "Book a separate visit." in confirm
    response = client.post("/book/", {"action": "confirm", "treatment": "peel", "practitioner": "any",
                                      "date": WEDNESDAY.isoformat(), "time": "10:00"})  # fmt: skip
    booked = Appointment.objects.get(patient=patient)
    assert booked.plan_session_id == session.pk
    assert "Plan session 1" in client.get(response["Location"]).text
    separate = client.get(_flow(separate="1", time="15:00")).text
    assert "A separate visit, not part of your plan." in separate
    client.post("/book/", {"action": "confirm", "treatment": "peel", "practitioner": "any", "separate": "1",
                           "date": WEDNESDAY.isoformat(), "time": "15:00"})  # fmt: skip
    assert Appointment.objects.get(patient=patient, start=at(WEDNESDAY, 15)).plan_session_id is None


# --- my appointments -------------------------------------------------------------------------


def test_appointments_show_upcoming_and_past_with_status_and_plan_window(clinic: Clinic, patient: Patient) -> None:
    plan = plan_create(patient=patient, treatment=clinic.peel, sessions=3, by=clinic.first.user,
                       start_after=WEDNESDAY)  # fmt: skip
    services.appointment_book(patient=patient, treatment=clinic.peel, start=at(WEDNESDAY, 10), practitioner=None,
                              booked_by=patient.user, staff=False, plan_session_id=plan.sessions.get(number=1).pk)  # fmt: skip
    AppointmentFactory(patient=patient, treatment=clinic.peel, practitioner=clinic.first,
                       start=at(MONDAY - timedelta(days=7), 10), status="completed")  # fmt: skip
    page = _signed_in(patient.user).get("/appointments/").text
    upcoming, past = page.split("Past and cancelled")
    assert "status-booked" in upcoming and ">Booked<" in upcoming and "Plan session 1" in upcoming
    assert "Due between Wednesday, 2 December 2026 and Wednesday, 23 December 2026" in upcoming
    assert ">Done<" in past and "Monday, 23 November 2026" in past
    to_book = upcoming.split("Plan sessions to book")[1]
    session = plan.sessions.get(number=2)
    assert f"/book/?plan_session={session.pk}" in to_book and "Plan session 2" in to_book


def test_cancelling_within_the_policy(clinic: Clinic, patient: Patient) -> None:
    appointment = _book(clinic, patient)
    client = _signed_in(patient.user)
    assert client.get(f"/appointments/{appointment.pk}/cancel/").status_code == 405
    response = client.post(f"/appointments/{appointment.pk}/cancel/", {"reason": "Flu"})
    assert response.headers["Location"] == f"/appointments/{appointment.pk}/"
    appointment.refresh_from_db()
    assert appointment.status == "cancelled" and appointment.cancellation_reason == "Flu"
    page = client.get(response.headers["Location"]).text
    assert "Your appointment is cancelled" in page and "status-cancelled" in page and "Book again" in page
    again = client.post(f"/appointments/{appointment.pk}/cancel/")
    assert again.status_code == 302 and "Only a confirmed appointment" in client.get(again.headers["Location"]).text


def test_inside_the_notice_the_buttons_become_call_the_clinic(clinic: Clinic, patient: Patient) -> None:
    appointment = _book(clinic, patient, day=date(2026, 12, 1), hour=10)
    client = _signed_in(patient.user)
    with time_machine.travel("2026-11-30 11:00 +0800", tick=False):
        page = client.get(f"/appointments/{appointment.pk}/").text
        assert "Please call the clinic" in page and "Choose another time" not in page
        assert "Cancel this appointment" not in page
        client.post(f"/appointments/{appointment.pk}/cancel/")
        assert "Please call the clinic" in client.get(f"/appointments/{appointment.pk}/reschedule/").text
    appointment.refresh_from_db()
    assert appointment.status == "confirmed"


def test_rescheduling_with_the_same_picker(clinic: Clinic, patient: Patient) -> None:
    appointment = _book(clinic, patient)
    client = _signed_in(patient.user)
    base = f"/appointments/{appointment.pk}/reschedule/"
    assert "Choose a day" in client.get(base).text
    times = client.get(f"{base}?date={WEDNESDAY}").text
    assert "time=10%3A00" in times  # its own time is free to move within
    assert "Move your appointment?" in client.get(f"{base}?date={WEDNESDAY}&time=15:00").text
    assert "not valid" in client.get(f"{base}?date=garbage&time=99").text
    response = client.post(base, {"date": WEDNESDAY.isoformat(), "time": "15:00"})
    assert response.headers["Location"] == f"/appointments/{appointment.pk}/"
    appointment.refresh_from_db()
    assert appointment.start == at(WEDNESDAY, 15) and appointment.practitioner_id == clinic.first.pk
    assert "Your appointment has moved" in client.get(response.headers["Location"]).text


def test_rescheduling_to_a_taken_time_offers_fresh_times(clinic: Clinic, patient: Patient) -> None:
    appointment = _book(clinic, patient)
    other = PatientFactory()
    HealthDeclarationFactory(patient=other)
    services.appointment_book(patient=other, treatment=clinic.peel, start=at(WEDNESDAY, 15),
                              practitioner=clinic.first, booked_by=other.user, staff=False)  # fmt: skip
    response = _signed_in(patient.user).post(
        f"/appointments/{appointment.pk}/reschedule/", {"date": WEDNESDAY.isoformat(), "time": "15:00"}
    )
    assert response.status_code == 200 and "booked by someone else" in response.text
    assert "Choose a time" in response.text
    appointment.refresh_from_db()
    assert appointment.start == at(WEDNESDAY, 10)


# --- registration and the questionnaire page ------------------------------------------------------


def test_register_page_honours_next_and_refuses_foreign_ones(client: Client, clinic: Clinic) -> None:
    values = {"full_name": "Wong Siu Ming", "email": "siu@example.com", "phone": "+852 6123 4567",
              "date_of_birth": "1988-08-08", "password": "a-long-secret-phrase"}  # fmt: skip
    assert (
        'name="next" value="/book/?treatment=peel"' in client.get("/accounts/register/?next=/book/?treatment=peel").text
    )
    response = client.post("/accounts/register/", {**values, "next": "/book/?treatment=peel"})
    assert response.headers["Location"] == "/book/?treatment=peel"
    other = Client()
    response = other.post("/accounts/register/", {**values, "email": "b@example.com", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/appointments/"
    assert (
        Client(HTTP_ACCEPT_LANGUAGE="zh-Hant")
        .post("/accounts/register/", {**values, "email": "c@example.com"})
        .status_code
        == 302
    )
    assert Patient.objects.get(email="c@example.com").preferred_language == "zh-hant"


def test_questionnaire_page_prefills_and_saves_a_new_declaration(clinic: Clinic) -> None:
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient, cold_sore_history=True)
    client = _signed_in(patient.user)
    page = client.get("/me/health/").text
    assert "Your last answers are from Monday, 30 November 2026" in page
    assert 'name="cold_sore_history" value="yes" required id="id_cold_sore_history_0" checked' in page
    answers = dict.fromkeys(_YES_NO, "no")
    response = client.post("/me/health/?next=/appointments/", {**answers, "pregnant_or_breastfeeding": "yes"})
    assert response.headers["Location"] == "/appointments/"
    assert patient.health_declarations.count() == 2
    assert patient.health_declarations.order_by("-id").first().pregnant_or_breastfeeding is True


# --- both languages -------------------------------------------------------------------------------


def _names(clinic: Clinic, *patients: Patient) -> list[str]:
    return [clinic.first.name, clinic.second.name, *(p.full_name for p in patients)]


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/treatments/",
        "/treatments/?concern=pitted",
        "/treatments/peel/",
        "/book/",
        "/book/?treatment=peel",
        "/book/?treatment=peel&practitioner=any",
        f"/book/?treatment=peel&practitioner=any&date={WEDNESDAY}",
        _flow(),
        _flow(account="signin"),
        "/accounts/register/",
    ],
)
def test_public_pages_are_fully_translated(client: Client, clinic: Clinic, url: str) -> None:
    response = client.get(url, **ZH)
    assert response.status_code == 200
    assert_translated(response.content, allow=_names(clinic))


def test_patient_pages_are_fully_translated(clinic: Clinic) -> None:
    patient = PatientFactory(preferred_language="zh-hant")
    client = _signed_in(patient.user)
    names = _names(clinic, patient)
    assert_translated(client.get(_flow(), **ZH).content, allow=names)  # the questionnaire
    HealthDeclarationFactory(patient=patient, cold_sore_history=True)
    assert_translated(client.get(_flow(), **ZH).content, allow=names)  # confirm, with a caution
    with_block = PatientFactory()
    HealthDeclarationFactory(patient=with_block, pregnant_or_breastfeeding=True)
    assert_translated(_signed_in(with_block.user).get(_flow(), **ZH).content, allow=_names(clinic, with_block))
    client.post("/book/", {"action": "confirm", "treatment": "peel", "practitioner": "any",
                           "date": WEDNESDAY.isoformat(), "time": "10:00"}, **ZH)  # fmt: skip
    appointment = Appointment.objects.get(patient=patient)
    for url in [
        "/appointments/",
        f"/appointments/{appointment.pk}/?booked=1",
        f"/appointments/{appointment.pk}/reschedule/",
        f"/appointments/{appointment.pk}/reschedule/?date={WEDNESDAY}",
        f"/appointments/{appointment.pk}/reschedule/?date={WEDNESDAY}&time=15:00",
        "/me/health/",
    ]:
        response = client.get(url, **ZH)
        assert response.status_code == 200, url
        assert_translated(response.content, allow=names)
    page = client.get(f"/appointments/{appointment.pk}/", **ZH).text
    assert "2026年12月2日星期三" in page and "香港時間" in page and "果酸換膚" in page


# --- queries do not grow with data ----------------------------------------------------------------


def _count_queries(client: Client, url: str, django_assert_max_num_queries: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_appointments_list_queries_do_not_grow(
    clinic: Clinic, patient: Patient, django_assert_max_num_queries: Any
) -> None:
    client = _signed_in(patient.user)
    _book(clinic, patient)
    plan_create(patient=patient, treatment=clinic.peel, sessions=3, by=clinic.first.user)
    one = _count_queries(client, "/appointments/", django_assert_max_num_queries)
    for week in range(1, 6):
        # Weekly visits outside the plan's windows: separate visits, not its sessions.
        _book(clinic, patient, day=WEDNESDAY + timedelta(days=7 * week), separate_visit=True)
        AppointmentFactory(patient=patient, treatment=clinic.peel, practitioner=clinic.second,
                           start=at(MONDAY - timedelta(days=7 * week), 10), status="completed")  # fmt: skip
    many = _count_queries(client, "/appointments/", django_assert_max_num_queries)
    assert many == one + 1  # the pager's count once there is a past appointment
    # 13: the upcoming visits read the patient's dates that matter once (downtime flags).
    with django_assert_max_num_queries(13):
        client.get("/appointments/")


def test_calendar_queries_do_not_grow(client: Client, clinic: Clinic, django_assert_max_num_queries: Any) -> None:
    url = "/book/?treatment=peel&practitioner=any&month=2026-12"
    before = _count_queries(client, url, django_assert_max_num_queries)
    for day in range(1, 20):
        other = PatientFactory()
        AppointmentFactory(patient=other, treatment=clinic.peel, practitioner=clinic.first,
                           start=at(date(2026, 12, day), 11))  # fmt: skip
    after = _count_queries(client, url, django_assert_max_num_queries)
    assert after == before
    with django_assert_max_num_queries(12):
        client.get(f"/book/?treatment=peel&practitioner=any&date={WEDNESDAY}")


# --- htmx swaps the step in place; the same URLs work as plain pages -------------------------------


def test_htmx_gets_only_the_flow_and_a_history_restore_gets_the_page(client: Client, clinic: Clinic) -> None:
    url = "/book/?treatment=peel&practitioner=any"
    partial = client.get(url, HTTP_HX_REQUEST="true").text
    assert partial.startswith('<div id="flow"') and "<html" not in partial and "Choose a day" in partial
    restored = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true").text
    assert "<html" in restored and 'id="flow"' in restored


def test_htmx_form_errors_swap_in_place_and_keep_the_url(client: Client, clinic: Clinic) -> None:
    response = client.post(
        "/book/",
        {"action": "register", "treatment": "peel", "practitioner": "any", "date": WEDNESDAY.isoformat(),
         "time": "10:00"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert response.status_code == 200 and "<html" not in response.text and 'aria-invalid="true"' in response.text
    assert response.headers["HX-Push-Url"] == _flow().replace(":", "%3A")


def test_reschedule_picker_swaps_in_place(clinic: Clinic, patient: Patient) -> None:
    appointment = _book(clinic, patient)
    partial = _signed_in(patient.user).get(
        f"/appointments/{appointment.pk}/reschedule/?date={WEDNESDAY}", HTTP_HX_REQUEST="true"
    )
    assert partial.text.startswith('<div id="picker"') and "Choose a time" in partial.text


def test_rescheduling_can_widen_to_any_practitioner(clinic: Clinic, patient: Patient) -> None:
    appointment = _book(clinic, patient)
    other = PatientFactory()
    HealthDeclarationFactory(patient=other)
    services.appointment_book(patient=other, treatment=clinic.peel, start=at(WEDNESDAY, 15),
                              practitioner=clinic.first, booked_by=other.user, staff=False)  # fmt: skip
    client = _signed_in(patient.user)
    base = f"/appointments/{appointment.pk}/reschedule/"
    assert "time=15%3A00" not in client.get(f"{base}?date={WEDNESDAY}").text
    page = client.get(f"{base}?date={WEDNESDAY}&practitioner=any").text
    assert "Showing times with any practitioner." in page and "time=15%3A00" in page
    client.post(base, {"date": WEDNESDAY.isoformat(), "time": "15:00", "practitioner": "any"})
    appointment.refresh_from_db()
    assert appointment.start == at(WEDNESDAY, 15) and appointment.practitioner_id == clinic.second.pk


def test_pages_with_patient_data_are_never_cached(clinic: Clinic, patient: Patient) -> None:
    appointment = _book(clinic, patient)
    client = _signed_in(patient.user)
    for url in ["/appointments/", f"/appointments/{appointment.pk}/", "/me/health/", _flow()]:
        assert "no-store" in client.get(url).headers["Cache-Control"], url
    flow = client.get(_flow(), HTTP_HX_REQUEST="true").text
    assert 'hx-history="false"' in flow  # htmx keeps no copy of the page in the browser's storage


def test_sign_ups_are_rate_limited_like_the_api(client: Client, clinic: Clinic, monkeypatch: Any) -> None:
    from clinic.api import ScopedThrottle

    monkeypatch.setitem(ScopedThrottle.THROTTLE_RATES, "register", "2/hour")
    values = {
        "full_name": "Lee",
        "phone": "91234567",
        "date_of_birth": "1990-01-01",
        "password": "a-long-secret-phrase",
    }
    for number in range(2):
        response = Client().post("/accounts/register/", {**values, "email": f"p{number}@example.com"})
        assert response.status_code == 302
    refused = client.post("/accounts/register/", {**values, "email": "p3@example.com"})
    assert refused.status_code == 200 and "Too many sign-ups from here" in refused.text
    inline = client.post("/book/", {**values, "email": "p4@example.com", "action": "register", "treatment": "peel",
                                    "practitioner": "any", "date": WEDNESDAY.isoformat(), "time": "10:00"})  # fmt: skip
    assert "Too many sign-ups from here" in inline.text
    assert not Patient.objects.filter(email__in=["p3@example.com", "p4@example.com"]).exists()


def test_home_shows_a_signed_in_patient_their_next_appointment(clinic: Clinic, patient: Patient) -> None:
    appointment = _book(clinic, patient)
    page = _signed_in(patient.user).get("/").text
    assert "Your next appointment" in page and f"/appointments/{appointment.pk}/" in page
    assert "Your next appointment" not in Client().get("/").text


def test_a_second_appointment_at_the_same_time_is_explained(clinic: Clinic, patient: Patient) -> None:
    _book(clinic, patient)
    response = _signed_in(patient.user).post(
        "/book/",
        {"action": "confirm", "treatment": "consultation", "practitioner": "any", "date": WEDNESDAY.isoformat(),
         "time": "10:00"},
    )  # fmt: skip
    assert "You already have an appointment at that time." in response.text
    assert patient.appointments.count() == 1
