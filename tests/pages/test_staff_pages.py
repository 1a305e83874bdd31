"""The staff workspace's pages: who may see them, what bad input does, both
languages, and query counts that do not grow with the data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking import services
from booking.models import Appointment, ClinicClosure, Notification
from tests.factories import (
    AppointmentFactory,
    HealthDeclarationFactory,
    NotificationFactory,
    PatientFactory,
)
from tests.pages.helpers import assert_translated
from tests.pages.staff_fixtures import at, make_clinic, names, next_workday, overdue_plan

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "patient", "receptionist", "practitioner", "manager"]
EXPECTED = {"anonymous": 302, "patient": 403, "receptionist": 200, "practitioner": 200, "manager": 200}


@pytest.fixture
def clinic():
    return make_clinic()


def book(clinic, day, hour=10, minute=0, patient=None, practitioner=None):
    if patient is not None and not patient.health_declarations.exists():
        HealthDeclarationFactory(patient=patient)
    return services.appointment_book(
        patient=patient or clinic.patient,
        treatment=clinic.treatment,
        start=at(day, hour, minute),
        practitioner=practitioner or clinic.practitioner,
        booked_by=clinic.receptionist,
        staff=True,
    )


def pages(clinic):
    day = next_workday()
    appointment = book(clinic, day)
    closure = ClinicClosure.objects.create(start=at(day, 9), end=at(day, 20), reason="Typhoon", kind="weather")
    return [
        "/staff/",
        f"/staff/?date={day}&view=week",
        f"/staff/?date={day}&by=room",
        f"/staff/appointments/{appointment.pk}/",
        f"/staff/appointments/{appointment.pk}/reschedule/?date={day}",
        "/staff/book/",
        "/staff/book/patients/?q=wing",
        "/staff/closures/",
        f"/staff/closures/clinic/{closure.pk}/",
        "/staff/due/",
        "/staff/no-shows/",
        "/staff/notifications/failed/",
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_page_for_every_role(client, clinic, role) -> None:
    user = clinic.user(role)
    if user is not None:
        client.force_login(user)
    for url in pages(clinic):
        response = client.get(url)
        assert response.status_code == EXPECTED[role], url
        if role == "anonymous":
            assert response.headers["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("role", ["anonymous", "patient"])
def test_no_action_for_patients_or_anonymous(client, clinic, role) -> None:
    appointment = book(clinic, next_workday())
    user = clinic.user(role)
    if user is not None:
        client.force_login(user)
    for action in ("check-in", "no-show", "cancel", "reschedule"):
        response = client.post(f"/staff/appointments/{appointment.pk}/{action}/", {"reason": "x"})
        assert response.status_code == EXPECTED[role]
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_complete_is_offered_to_clinicians_only(client, clinic) -> None:
    now = timezone.localtime()
    appointment = AppointmentFactory(
        patient=clinic.patient,
        treatment=clinic.treatment,
        practitioner=clinic.practitioner,
        room=clinic.room,
        start=now,
        status=Appointment.Status.CHECKED_IN,
        cautions=[{"code": "PREG", "severity": "block", "detail": "Pregnant"}],
        override_reason="Doctor cleared it",
    )
    record_url = f"/staff/appointments/{appointment.pk}/record/"
    client.force_login(clinic.receptionist)
    front = client.get(f"/staff/appointments/{appointment.pk}/").text
    assert record_url not in front and "Doctor cleared it" not in front and "Pregnant" not in front
    client.force_login(clinic.practitioner.user)
    clinical = client.get(f"/staff/appointments/{appointment.pk}/").text
    assert record_url in clinical and "Doctor cleared it" in clinical


def test_check_in_from_the_panel_changes_the_status_and_refreshes_the_schedule(client, clinic) -> None:
    # This hour's visit: always today, whatever the time of day the test runs.
    start = timezone.localtime().replace(minute=0, second=0, microsecond=0)
    appointment = AppointmentFactory(
        patient=clinic.patient,
        treatment=clinic.treatment,
        practitioner=clinic.practitioner,
        room=clinic.room,
        start=start,
    )
    client.force_login(clinic.receptionist)
    response = client.post(
        f"/staff/appointments/{appointment.pk}/check-in/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="appointment-panel"
    )
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "schedule-changed"
    assert "is checked in" in response.text
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN


def test_wrong_transitions_say_so_in_place(client, clinic) -> None:
    day = next_workday()
    appointment = book(clinic, day)
    client.force_login(clinic.receptionist)
    # Not its day yet, and it has not started.
    response = client.post(
        f"/staff/appointments/{appointment.pk}/check-in/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="appointment-panel"
    )
    assert response.status_code == 409 and "only possible on the day" in response.text
    response = client.post(f"/staff/appointments/{appointment.pk}/no-show/")
    assert response.status_code == 409 and "only after it has started" in response.text
    services.appointment_cancel(appointment=appointment, by=clinic.receptionist, staff=True, reason="x")
    for action in ("check-in", "no-show"):
        assert client.post(f"/staff/appointments/{appointment.pk}/{action}/").status_code == 409
    response = client.post(f"/staff/appointments/{appointment.pk}/cancel/", {"reason": "again"})
    assert response.status_code == 409 and "Only a confirmed appointment" in response.text


def test_bad_ids_and_methods(client, clinic) -> None:
    client.force_login(clinic.receptionist)
    assert client.get("/staff/appointments/999999/").status_code == 404
    assert client.post("/staff/appointments/999999/check-in/").status_code == 404
    assert client.get("/staff/appointments/1/check-in/").status_code == 405
    assert client.get("/staff/closures/nope/1/").status_code == 404
    assert client.get("/staff/closures/clinic/999/").status_code == 404
    assert client.post("/staff/notifications/999/send-again/").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/staff/?date=not-a-date",
        "/staff/?date=99999-01-01",
        "/staff/?date=2026-02-30&view=week",
        "/staff/?practitioner=abc",
        "/staff/no-shows/?date=%00",
        "/staff/book/?patient=abc",
        "/staff/book/?patient=99999",
        "/staff/book/?patient=1&treatment=nope",
        "/staff/book/?plan_session=99999",
    ],
)
def test_garbage_in_query_strings_is_a_message_not_a_500(client, clinic, url) -> None:
    client.force_login(clinic.receptionist)
    response = client.get(url)
    assert response.status_code in (400, 404)
    assert 'class="alert error"' in response.text


def test_cancel_keeps_the_reason_given_and_needs_none_as_through_the_api(client, clinic) -> None:
    day = next_workday()
    appointment = book(clinic, day)
    client.force_login(clinic.receptionist)
    response = client.post(f"/staff/appointments/{appointment.pk}/cancel/", {"reason": "Patient is ill"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED and appointment.cancellation_reason == "Patient is ill"
    assert Notification.objects.filter(appointment=appointment, kind="cancellation").exists()
    other = book(clinic, day, 11, patient=PatientFactory())
    assert client.post(f"/staff/appointments/{other.pk}/cancel/", {"reason": "  "}).status_code == 302
    other.refresh_from_db()
    assert other.status == Appointment.Status.CANCELLED and other.cancellation_reason == ""


def test_reschedule_to_a_free_time_and_bad_starts(client, clinic) -> None:
    day = next_workday()
    appointment = book(clinic, day)
    other = book(clinic, day, 11, patient=PatientFactory())
    client.force_login(clinic.receptionist)
    url = f"/staff/appointments/{appointment.pk}/reschedule/"
    assert client.post(url, {"start": "garbage"}).status_code == 400
    assert client.post(url, {"start": "2026-01-01T10:00"}).status_code == 400  # no offset
    taken = at(day, 11).isoformat()
    response = client.post(url, {"start": taken})
    assert response.status_code == 409 and "Free times on" in response.text  # fresh times in place
    off_grid = at(day, 12, 7).isoformat()
    assert client.post(url, {"start": off_grid}).status_code == 400
    response = client.post(url, {"start": at(day, 15).isoformat()})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.start == at(day, 15) and other.start == at(day, 11)
    assert Notification.objects.filter(appointment=appointment, kind="reschedule").exists()


def test_a_staff_reschedule_tells_the_patient_the_reason_given(client, clinic) -> None:
    day = next_workday()
    appointment = book(clinic, day)
    client.force_login(clinic.receptionist)
    url = f"/staff/appointments/{appointment.pk}/reschedule/"
    panel = client.get(url, {"date": day.isoformat()}).text
    assert 'name="reason"' in panel and "Reason for the patient (optional)" in panel
    # Too long: refused, nothing moves.
    response = client.post(url, {"start": at(day, 15).isoformat(), "reason": "x" * 201})
    assert response.status_code == 400
    appointment.refresh_from_db()
    assert appointment.start == at(day, 10)
    response = client.post(url, {"start": at(day, 15).isoformat(), "reason": "  Dr Lam is at a conference  "})
    assert response.status_code == 302
    notice = Notification.objects.get(appointment=appointment, kind="reschedule")
    assert notice.reason == "Dr Lam is at a conference" and notice.previous_start == at(day, 10)


def test_book_for_an_existing_patient_with_screening(client, clinic) -> None:
    day = next_workday()
    client.force_login(clinic.receptionist)
    page = client.get(f"/staff/book/?patient={clinic.patient.pk}&treatment={clinic.treatment.pk}&date={day}")
    assert "Nothing in the patient" in page.text and at(day, 10).isoformat() in page.text
    response = client.post(
        "/staff/book/",
        {"patient": clinic.patient.pk, "treatment": clinic.treatment.pk, "start": at(day, 10).isoformat()},
    )
    assert response.status_code == 302
    booked = Appointment.objects.get(patient=clinic.patient)
    assert booked.source == "staff" and booked.booked_by == clinic.receptionist
    # The same time again: taken, with fresh times in place and nothing booked.
    someone = PatientFactory()
    HealthDeclarationFactory(patient=someone)
    response = client.post(
        "/staff/book/",
        {
            "patient": someone.pk,
            "treatment": clinic.treatment.pk,
            "practitioner": clinic.practitioner.pk,
            "start": at(day, 10).isoformat(),
            "notes": "Prefers mornings",
        },
    )
    assert response.status_code == 409 and "just been taken" in response.text
    assert "Prefers mornings" in response.text and at(day, 10, 30).isoformat() in response.text


def test_a_screening_block_needs_an_override_reason(client, clinic) -> None:
    day = next_workday()
    pregnant = PatientFactory()
    HealthDeclarationFactory(patient=pregnant, pregnant_or_breastfeeding=True)
    client.force_login(clinic.receptionist)
    page = client.get(f"/staff/book/?patient={pregnant.pk}&treatment={clinic.treatment.pk}&date={day}")
    assert "Screening blocks this treatment" in page.text and "pregnant" in page.text
    data = {"patient": pregnant.pk, "treatment": clinic.treatment.pk, "start": at(day, 10).isoformat()}
    response = client.post("/staff/book/", data)
    assert response.status_code == 422 and not Appointment.objects.filter(patient=pregnant).exists()
    response = client.post("/staff/book/", {**data, "override_reason": "Cleared by her obstetrician"})
    assert response.status_code == 302
    booked = Appointment.objects.get(patient=pregnant)
    assert booked.override_reason == "Cleared by her obstetrician" and booked.overridden_by == clinic.receptionist


def test_book_with_bad_input(client, clinic) -> None:
    client.force_login(clinic.receptionist)
    base = {"patient": clinic.patient.pk, "treatment": clinic.treatment.pk}
    assert client.post("/staff/book/", {**base, "start": "yesterday"}).status_code == 400
    assert client.post("/staff/book/", {**base}).status_code == 400
    assert (
        client.post("/staff/book/", {**base, "patient": 99999, "start": "2030-01-01T10:00:00+08:00"}).status_code == 404
    )
    past = (timezone.localtime() - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    response = client.post("/staff/book/", {**base, "start": past.isoformat()})
    assert response.status_code == 400 and "passed" in response.text
    assert not Appointment.objects.exists()


def test_create_a_patient_without_a_login(client, clinic) -> None:
    client.force_login(clinic.receptionist)
    data = {
        "new-full_name": "Siu Ming Cheung",
        "new-phone": "9876 5432",
        "new-date_of_birth": "1990-04-01",
        "new-email": "",
        "new-preferred_language": "zh-hant",
        "treatment": clinic.treatment.pk,
    }
    response = client.post("/staff/book/patients/new/", {**data, "new-phone": "123"})
    assert response.status_code == 400 and 'aria-invalid="true"' in response.text
    assert 'value="Siu Ming Cheung"' in response.text
    response = client.post("/staff/book/patients/new/", data)
    assert response.status_code == 302
    from patients.models import Patient

    created = Patient.objects.get(full_name="Siu Ming Cheung")
    assert created.phone == "+85298765432" and created.user_id is None
    assert f"patient={created.pk}" in response.headers["Location"] and "treatment=" in response.headers["Location"]


def test_patient_search_by_name_phone_and_email(client, clinic) -> None:
    client.force_login(clinic.receptionist)
    assert "Wing Lee" in client.get("/staff/book/patients/?q=wing").text
    assert "Wing Lee" in client.get("/staff/book/patients/?q=9123 4567").text
    assert "Wing Lee" in client.get(f"/staff/book/patients/?q={clinic.patient.email}").text
    assert "No patient matches" in client.get("/staff/book/patients/?q=zzzz").text


def test_closure_lists_and_cancels_affected_appointments(client, clinic) -> None:
    day = next_workday()
    first = book(clinic, day, 10)
    second = book(clinic, day, 11, patient=PatientFactory())
    client.force_login(clinic.manager)
    bad = client.post(
        "/staff/closures/",
        {
            "form": "closure",
            "closure-kind": "weather",
            "closure-start": f"{day}T19:00",
            "closure-end": f"{day}T09:00",
            "closure-reason": "T8",
        },
    )
    assert bad.status_code == 400 and "The end must be after the start." in bad.text
    response = client.post(
        "/staff/closures/",
        {
            "form": "closure",
            "closure-kind": "weather",
            "closure-start": f"{day}T00:00",
            "closure-end": f"{day}T23:59",
            "closure-reason": "Typhoon signal No. 8",
        },
    )
    assert response.status_code == 302
    closure = ClinicClosure.objects.get()
    page = client.get(response.headers["Location"])
    assert first.patient.full_name in page.text and second.patient.full_name in page.text
    # Not one of the affected: refused, nothing cancelled.
    stranger = book(clinic, next_workday(day), 10)
    url = f"/staff/closures/clinic/{closure.pk}/"
    response = client.post(url, {"action": "cancel", "appointments": [stranger.pk], "reason": "T8"})
    assert response.status_code == 400
    response = client.post(url, {"action": "cancel", "appointments": [first.pk, second.pk], "reason": ""})
    assert response.status_code == 400 and "Give a reason for cancelling." in response.text
    response = client.post(url, {"action": "cancel", "appointments": [first.pk, second.pk], "reason": "Typhoon"})
    assert response.status_code == 302
    assert set(Appointment.objects.filter(status="cancelled").values_list("pk", flat=True)) == {first.pk, second.pk}
    assert Notification.objects.filter(kind="cancellation", appointment__in=[first, second]).count() == 2
    assert Appointment.objects.get(pk=stranger.pk).status == "confirmed"


def test_time_off_moves_affected_to_their_next_free_times(client, clinic) -> None:
    day = next_workday()
    first = book(clinic, day, 10)
    client.force_login(clinic.receptionist)
    response = client.post(
        "/staff/closures/",
        {
            "form": "time_off",
            "off-practitioner": clinic.practitioner.pk,
            "off-start": f"{day}T00:00",
            "off-end": f"{day}T23:59",
            "off-reason": "Ill",
        },
    )
    assert response.status_code == 302
    response = client.post(response.headers["Location"], {"action": "move", "appointments": [first.pk]})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == "confirmed" and first.start > at(day, 10)
    assert Notification.objects.filter(kind="reschedule", appointment=first).exists()


def test_due_list_shows_overdue_until_booked(client, clinic) -> None:
    plan = overdue_plan(clinic)
    session = plan.sessions.get(number=1)
    client.force_login(clinic.receptionist)
    page = client.get("/staff/due/")
    assert "Wing Lee" in page.text and "days overdue" in page.text
    assert f"/staff/book/?patient={clinic.patient.pk}&amp;plan_session={session.pk}" in page.text
    # Only session 1: session 2's turn has not come.
    assert page.text.count('class="due-row"') == 1
    booking = client.get(f"/staff/book/?patient={clinic.patient.pk}&plan_session={session.pk}")
    assert booking.status_code == 200 and "Overdue" in booking.text
    day = next_workday()
    response = client.post(
        "/staff/book/",
        {
            "patient": clinic.patient.pk,
            "treatment": clinic.treatment.pk,
            "plan_session": session.pk,
            "start": at(day, 10).isoformat(),
        },
    )
    assert response.status_code == 302
    assert 'class="due-row"' not in client.get("/staff/due/").text


def test_failed_notifications_send_again(client, clinic) -> None:
    failed = NotificationFactory(status=Notification.Status.FAILED, attempts=6, last_error="SMTP 550")
    client.force_login(clinic.receptionist)
    page = client.get("/staff/notifications/failed/")
    assert "SMTP 550" in page.text and failed.patient.full_name in page.text
    assert client.post(f"/staff/notifications/{failed.pk}/send-again/").status_code == 302
    failed.refresh_from_db()
    assert failed.status == Notification.Status.PENDING and failed.attempts == 0
    again = client.post(f"/staff/notifications/{failed.pk}/send-again/")
    assert again.status_code == 409 and "no longer failed" in again.text


def test_no_shows_lists_the_days_no_shows(client, clinic) -> None:
    start = timezone.localtime().replace(second=0, microsecond=0) - timedelta(minutes=5)
    missed = AppointmentFactory(
        patient=clinic.patient,
        treatment=clinic.treatment,
        practitioner=clinic.practitioner,
        room=clinic.room,
        start=start,
    )
    client.force_login(clinic.receptionist)
    page = client.get("/staff/no-shows/")
    assert "Not arrived yet" in page.text and "Wing Lee" in page.text
    response = client.post(f"/staff/appointments/{missed.pk}/no-show/", {"next": "/staff/no-shows/"})
    assert response.status_code == 302 and response.headers["Location"] == "/staff/no-shows/"
    page = client.get("/staff/no-shows/")
    assert "Did not come" in page.text and "Book again" in page.text


def test_pages_in_traditional_chinese(client, clinic) -> None:
    day = next_workday()
    appointment = book(clinic, day)
    overdue_plan(clinic, patient=PatientFactory(full_name="Chi Keung Ho"))
    closure = ClinicClosure.objects.create(start=at(day, 9), end=at(day, 20), reason="颱風", kind="weather")
    failed = NotificationFactory(status=Notification.Status.FAILED, attempts=6)
    allow = names(
        clinic,
        "Chi Keung Ho",
        failed.patient.full_name,
        failed.patient.email,
        failed.appointment.practitioner.name,
        "garbage",
        "Glycolic",
        "peel",
        "Room",
        "Device",
        "Treatment",
    )
    client.force_login(clinic.practitioner.user)
    for url in [
        f"/staff/?date={day}",
        f"/staff/?date={day}&view=week",
        f"/staff/?date={day}&by=room",
        f"/staff/appointments/{appointment.pk}/",
        f"/staff/appointments/{appointment.pk}/reschedule/?date={day}",
        "/staff/book/?q=wing",
        f"/staff/book/?patient={clinic.patient.pk}&treatment={clinic.treatment.pk}&date={day}",
        "/staff/closures/",
        f"/staff/closures/clinic/{closure.pk}/",
        "/staff/due/",
        "/staff/no-shows/",
        "/staff/notifications/failed/",
        "/staff/?date=garbage",
    ]:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-Hant")
        assert response.status_code in (200, 400), url
        assert 'lang="zh-Hant-HK"' in response.text, url
        try:
            assert_translated(response.content, allow=allow)
        except AssertionError as error:
            raise AssertionError(f"{url}: {error}") from None


def _count(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_query_counts_do_not_grow_with_appointments(client, clinic) -> None:
    day = next_workday()
    client.force_login(clinic.practitioner.user)
    book(clinic, day, 10)
    NotificationFactory(status=Notification.Status.FAILED)
    overdue_plan(clinic)
    closure = ClinicClosure.objects.create(start=at(day, 0), end=at(day, 23, 59), reason="Typhoon", kind="weather")
    urls = [
        f"/staff/closures/clinic/{closure.pk}/",
        "/staff/closures/",
        f"/staff/book/?patient={clinic.patient.pk}&treatment={clinic.treatment.pk}&date={day}",
        f"/staff/?date={day}",
        f"/staff/?date={day}&view=week",
        f"/staff/?date={day}&by=room",
        "/staff/due/",
        "/staff/notifications/failed/",
        f"/staff/no-shows/?date={day}",
    ]
    before = {url: _count(client, url) for url in urls}
    ClinicClosure.objects.filter(pk=closure.pk).update(end=at(day, 0, 15))  # open for the bookings below
    for hour in (11, 12, 14, 15, 16, 17):
        book(clinic, day, hour, patient=PatientFactory())
        book(clinic, day, hour, patient=PatientFactory(), practitioner=clinic.other)
    for _n in range(5):
        NotificationFactory(status=Notification.Status.FAILED)
        overdue_plan(clinic, patient=PatientFactory())
    ClinicClosure.objects.filter(pk=closure.pk).update(end=at(day, 23, 59))
    assert Appointment.objects.filter(treatment=clinic.treatment).count() == 13
    after = {url: _count(client, url) for url in urls}
    assert after == before
    # sessions, role, the second factor's device, a handful of reads per page, and the
    # access log's one INSERT where the page reads a patient's declarations (staff booking),
    # and the gap rules and the patient's visits around the day (booking.spacing, staff booking).
    assert max(after.values()) <= 29, after


def test_a_practitioner_sees_their_own_column_first(client, clinic) -> None:
    client.force_login(clinic.other.user)
    page = client.get(f"/staff/?date={next_workday()}").text
    assert page.index(clinic.other.name) < page.index(clinic.practitioner.name)
    client.force_login(clinic.receptionist)
    page = client.get(f"/staff/?date={next_workday()}").text
    assert page.index(clinic.practitioner.name) < page.index(clinic.other.name)


def test_filter_by_practitioner_shows_only_their_column(client, clinic) -> None:
    day = next_workday()
    book(clinic, day, 10)
    book(clinic, day, 11, patient=PatientFactory(full_name="Other Person"), practitioner=clinic.other)
    client.force_login(clinic.receptionist)
    page = client.get(f"/staff/?date={day}&practitioner={clinic.other.pk}").text
    assert "Other Person" in page and "Wing Lee" not in page


def test_reschedule_panel_with_garbage_query(client, clinic) -> None:
    appointment = book(clinic, next_workday())
    client.force_login(clinic.receptionist)
    url = f"/staff/appointments/{appointment.pk}/reschedule/"
    for query in ("?date=nope", "?practitioner=abc", "?date=2026-13-45&practitioner=-1"):
        response = client.get(url + query)
        assert response.status_code == 400 and 'class="alert error"' in response.text
    response = client.post(url, {"start": at(next_workday(), 15).isoformat(), "practitioner": "999999"})
    assert response.status_code == 400 and "Unknown practitioner." in response.text
    appointment.refresh_from_db()
    assert appointment.start == at(next_workday(), 10)


def test_closure_and_time_off_forms_refuse_garbage(client, clinic) -> None:
    client.force_login(clinic.receptionist)
    for data in (
        {"form": "closure", "closure-kind": "volcano", "closure-start": "x", "closure-end": "", "closure-reason": ""},
        {"form": "time_off", "off-practitioner": "999", "off-start": "2026-01-01T10:00", "off-end": "2026-01-01T09:00"},
        {"form": "nonsense"},
    ):
        response = client.post("/staff/closures/", data)
        assert response.status_code == 400
    assert not ClinicClosure.objects.exists()


def test_the_same_closure_twice_is_refused(client, clinic) -> None:
    client.force_login(clinic.receptionist)
    day = next_workday()
    data = {
        "form": "closure",
        "closure-kind": "weather",
        "closure-start": f"{day}T00:00",
        "closure-end": f"{day}T23:59",
        "closure-reason": "Black rainstorm",
    }
    assert client.post("/staff/closures/", data).status_code == 302
    response = client.post("/staff/closures/", data)
    assert response.status_code == 400 and "already saved" in response.text
    assert ClinicClosure.objects.count() == 1


def test_moving_says_which_could_not_be_moved(client, clinic) -> None:
    day = next_workday()
    stuck = book(clinic, day, 10)
    for practitioner in (clinic.practitioner, clinic.other):
        services.time_off_add(
            practitioner=practitioner,
            start=at(day, 0),
            end=at(day + timedelta(days=60), 0),
            reason="Away",
            by=clinic.manager,
        )
    client.force_login(clinic.receptionist)
    closure = ClinicClosure.objects.create(start=at(day, 0), end=at(day, 23, 59), reason="Typhoon", kind="weather")
    response = client.post(f"/staff/closures/clinic/{closure.pk}/", {"action": "move", "appointments": [stuck.pk]})
    assert response.status_code == 409
    assert "Some appointments could not be moved." in response.text and "No free time" in response.text
    stuck.refresh_from_db()
    assert stuck.start == at(day, 10) and stuck.status == "confirmed"


def test_booking_the_treatment_of_a_course_offers_the_course_session_first(client, clinic) -> None:
    plan = overdue_plan(clinic)
    session = plan.sessions.get(number=1)
    client.force_login(clinic.receptionist)
    url = f"/staff/book/?patient={clinic.patient.pk}&treatment={clinic.treatment.pk}"
    page = client.get(url).text
    assert "Part of Wing Lee's Glycolic peel course, session 1" in page
    assert 'name="separate_visit" value="" checked' in page and "A separate visit" in page
    day = next_workday()
    response = client.post(
        "/staff/book/",
        {"patient": clinic.patient.pk, "treatment": clinic.treatment.pk, "start": at(day, 10).isoformat()},
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == "booked" and Appointment.objects.get(patient=clinic.patient).plan_session == session
    # The next session's turn has come, but a separate visit is not tied to it.
    separate = client.get(f"{url}&separate_visit=1").text
    assert 'name="separate_visit" value="1" checked' in separate
    client.post(
        "/staff/book/",
        {
            "patient": clinic.patient.pk,
            "treatment": clinic.treatment.pk,
            "start": at(day, 15).isoformat(),
            "separate_visit": "1",
        },
    )
    assert Appointment.objects.get(patient=clinic.patient, start=at(day, 15)).plan_session is None


def test_a_caution_is_shown_but_needs_no_reason_and_a_reason_given_is_kept(client, clinic) -> None:
    from tests.factories import ContraindicationRuleFactory

    ContraindicationRuleFactory(treatment=clinic.treatment, code="TAN", severity="caution")
    tanned = PatientFactory()
    HealthDeclarationFactory(patient=tanned, recent_sun_exposure=True)
    day = next_workday()
    client.force_login(clinic.receptionist)
    page = client.get(f"/staff/book/?patient={tanned.pk}&treatment={clinic.treatment.pk}&date={day}")
    assert "Screening found cautions" in page.text and "tan or sunburn" in page.text
    assert "Why go ahead despite the cautions (optional)" in page.text
    data = {"patient": tanned.pk, "treatment": clinic.treatment.pk, "start": at(day, 10).isoformat()}
    assert client.post("/staff/book/", {**data, "notes": "Sensitive skin"}).status_code == 302
    booked = Appointment.objects.get(patient=tanned)
    assert booked.notes == "Sensitive skin" and booked.override_reason == "" and booked.overridden_by is None
    assert booked.cautions[0]["code"] == "TAN"
    later = {**data, "start": at(day, 14).isoformat(), "override_reason": "Tan has faded"}
    assert client.post("/staff/book/", later).status_code == 302
    second = Appointment.objects.get(patient=tanned, start=at(day, 14))
    assert second.override_reason == "Tan has faded" and second.overridden_by is None and second.notes == ""
