"""My progress, plan pages and the patient's own photos."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking.models import Appointment
from clinic.clock import clinic_today
from tests.factories import AppointmentFactory, PatientFactory, UserFactory
from tests.pages.account_fixtures import add_photo, plan, scores
from tests.pages.helpers import assert_translated
from treatments.models import PlanSession

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hant"}


def _points(html: str) -> int:
    return len(re.findall(r'<circle class="point"', html))


def test_progress_with_nothing_yet_explains_what_will_appear(client: Client) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    response = client.get("/progress/")
    assert response.status_code == 200
    text = response.text
    assert "No score yet" in text and "No photos yet" in text and "You have no treatment course yet" in text
    assert "<svg" not in text


def test_one_score_is_one_point_without_a_line(client: Client) -> None:
    patient = PatientFactory()
    scores(patient, [31], clinic_today() - timedelta(days=3))
    client.force_login(patient.user)
    text = client.get("/progress/").text
    assert _points(text) == 1
    assert '<polyline class="line"' not in text
    assert '<span class="big">31</span>' in text


def test_several_scores_draw_a_line_with_session_marks_and_a_table(client: Client) -> None:
    patient = PatientFactory()
    today = clinic_today()
    scores(patient, [40, 32, 24, 20], today - timedelta(days=120), every_days=30)
    plan(patient, sessions=3, done=2)
    client.force_login(patient.user)
    text = client.get("/progress/").text
    assert _points(text) == 4
    polyline = re.search(r'<polyline class="line" points="([^"]+)"', text)
    assert polyline and len(polyline.group(1).split()) == 4
    assert text.count('<line class="session"') == 2
    # The scores go down, so the points go down the page (SVG y grows downwards).
    ys = [float(pair.split(",")[1]) for pair in polyline.group(1).split()]
    assert ys == sorted(ys)
    assert "20 points lower (50% less) than at your first check" in text
    table = re.search(r"<tbody>(.*?)</tbody>", text, re.S)
    assert table and table.group(1).count("<tr>") == 4
    assert 'role="img"' in text and 'aria-labelledby="chart-title chart-desc"' in text
    assert "style=" not in text and "<script>" not in text


def test_first_and_latest_photos_of_each_view_side_by_side(client: Client) -> None:
    patient = PatientFactory()
    today = clinic_today()
    first, middle, latest = scores(patient, [40, 30, 20], today - timedelta(days=90))
    front_first = add_photo(first, "front")
    add_photo(middle, "front")
    front_latest = add_photo(latest, "front")
    side_only = add_photo(middle, "left_45")
    client.force_login(patient.user)
    text = client.get("/progress/").text
    assert text.count('<div class="compare">') == 1
    assert text.count('<div class="compare single">') == 1
    assert f"/progress/photos/{front_first.pk}/thumbnail/" in text
    assert f"/progress/photos/{front_latest.pk}/thumbnail/" in text
    assert f"/progress/photos/{side_only.pk}/thumbnail/" in text
    assert "Front, first photo" in text and "Front, latest photo" in text


def test_own_photo_is_served_privately(client: Client) -> None:
    patient = PatientFactory()
    (assessment,) = scores(patient, [30], clinic_today())
    photo = add_photo(assessment)
    client.force_login(patient.user)
    for kind in ("thumbnail", "image"):
        response = client.get(f"/progress/photos/{photo.pk}/{kind}/")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["Cache-Control"].startswith("private")
        assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert client.get(f"/progress/photos/{photo.pk}/original/").status_code == 404


def test_another_patients_photo_is_not_found(client: Client) -> None:
    other = PatientFactory()
    (assessment,) = scores(other, [30], clinic_today())
    photo = add_photo(assessment)
    client.force_login(PatientFactory().user)
    assert client.get(f"/progress/photos/{photo.pk}/thumbnail/").status_code == 404
    assert client.get(f"/progress/photos/{photo.pk}/image/").status_code == 404


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_do_not_use_the_patients_photo_address(client: Client, role: str) -> None:
    (assessment,) = scores(PatientFactory(), [30], clinic_today())
    photo = add_photo(assessment)
    client.force_login(UserFactory(role=role))
    assert client.get(f"/progress/photos/{photo.pk}/image/").status_code == 403


def test_a_plans_sessions_done_and_due_with_a_booking_link(client: Client) -> None:
    patient = PatientFactory()
    course = plan(patient, sessions=4, done=1)
    client.force_login(patient.user)
    text = client.get("/progress/").text
    second = PlanSession.objects.get(plan=course, number=2)
    assert "1 of 4 sessions done" in text
    assert f'href="/book/?plan_session={second.pk}"' in text
    assert "Book session 2" in text
    detail = client.get(f"/plans/{course.pk}/").text
    assert detail.count('class="session-row') >= 4
    assert "Done on" in detail and "Later" in detail
    assert f'href="/book/?plan_session={second.pk}"' in detail


def test_an_overdue_session_says_to_call_and_has_no_booking_link(client: Client) -> None:
    patient = PatientFactory()
    course = plan(patient, sessions=3)
    today = clinic_today()
    PlanSession.objects.filter(plan=course, number=1).update(
        window_start=today - timedelta(days=40), window_end=today - timedelta(days=5)
    )
    client.force_login(patient.user)
    text = client.get(f"/plans/{course.pk}/").text
    assert "Overdue" in text and "Call us" in text
    assert "/book/?plan_session=" not in text


def test_a_booked_session_links_to_its_appointment(client: Client) -> None:
    patient = PatientFactory()
    course = plan(patient, sessions=3)
    first = PlanSession.objects.get(plan=course, number=1)
    appointment = AppointmentFactory(patient=patient, treatment=course.treatment, plan_session=first)
    PlanSession.objects.filter(pk=first.pk).update(status="booked", booked_on=clinic_today() + timedelta(days=2))
    client.force_login(patient.user)
    text = client.get(f"/plans/{course.pk}/").text
    assert f'href="/appointments/{appointment.pk}/"' in text
    local = appointment.start.astimezone(ZoneInfo("Asia/Hong_Kong"))
    assert f"Booked for {local:%A}, {local.day} {local:%B %Y, %H:%M} (Hong Kong time (HKT))." in text
    assert appointment.status == Appointment.Status.CONFIRMED


def test_a_session_far_ahead_says_when_booking_opens(client: Client) -> None:
    patient = PatientFactory()
    course = plan(patient, sessions=3, start_after=clinic_today() + timedelta(days=120))
    client.force_login(patient.user)
    text = client.get(f"/plans/{course.pk}/").text
    assert "Online booking for it opens on" in text
    assert "/book/?plan_session=" not in text


def test_another_patients_plan_is_not_found(client: Client) -> None:
    course = plan(PatientFactory())
    client.force_login(PatientFactory().user)
    assert client.get(f"/plans/{course.pk}/").status_code == 404
    assert client.get("/plans/999999/").status_code == 404


@pytest.mark.parametrize("role", ["practitioner", "manager"])
def test_a_clinician_following_a_plan_link_lands_on_the_patients_chart(client: Client, role: str) -> None:
    course = plan(PatientFactory())
    client.force_login(UserFactory(role=role))
    response = client.get(f"/plans/{course.pk}/")
    assert response.status_code == 302 and response.headers["Location"] == f"/staff/patients/{course.patient_id}/"
    assert client.get("/plans/999999/").status_code == 404


def test_a_receptionist_cannot_open_a_plan(client: Client) -> None:
    course = plan(PatientFactory())
    client.force_login(UserFactory(role="receptionist"))
    assert client.get(f"/plans/{course.pk}/").status_code == 403


_DAYS = itertools.count(2)


def _book(session: PlanSession) -> Appointment:
    """An appointment for the session (each on its own day, as the patient cannot overlap)."""
    start = timezone.now() + timedelta(days=next(_DAYS))
    appointment = AppointmentFactory(
        patient=session.plan.patient, treatment=session.plan.treatment, plan_session=session, start=start
    )
    PlanSession.objects.filter(pk=session.pk).update(status="booked", booked_on=timezone.localdate(start))
    return appointment


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_progress_queries_do_not_grow_with_history(client: Client) -> None:
    patient = PatientFactory()
    today = clinic_today()
    (first,) = scores(patient, [30], today - timedelta(days=400))
    add_photo(first)
    first_plan = plan(patient, sessions=3, done=1)
    _book(first_plan.sessions.get(number=2))
    client.force_login(patient.user)
    small = _queries(client, "/progress/")
    more = scores(patient, [28, 26, 24, 22, 20, 18, 16], today - timedelta(days=300))
    for assessment in more:
        add_photo(assessment, "front")
        add_photo(assessment, "left_90")
    for _ in range(4):
        _book(plan(patient, sessions=5, done=2).sessions.get(number=3))
    large = _queries(client, "/progress/")
    assert large == small
    assert large <= 11, large  # session, user, role, patient, 5 reads of selectors.progress, booked times, packages


def test_plan_page_queries_do_not_grow_with_sessions(client: Client) -> None:
    patient = PatientFactory()
    short = plan(patient, sessions=3, done=1)
    long = plan(patient, sessions=6, done=3)
    client.force_login(patient.user)
    assert _queries(client, f"/plans/{short.pk}/") == _queries(client, f"/plans/{long.pk}/")


def test_progress_and_plan_in_chinese_are_fully_translated(client: Client) -> None:
    patient = PatientFactory()
    today = clinic_today()
    first, _middle, latest = scores(patient, [40, 30, 20], today - timedelta(days=90))
    add_photo(first)
    add_photo(latest)
    add_photo(latest, "right_90")
    course = plan(patient, sessions=4, done=2)
    _book(course.sessions.get(number=3))
    stopped = plan(patient, sessions=3)
    PlanSession.objects.filter(plan=stopped).update(status="cancelled")
    type(stopped).objects.filter(pk=stopped.pk).update(status="cancelled")
    client.force_login(patient.user)
    response = client.get("/progress/", **ZH)
    assert "我的進度" in response.text
    assert_translated(response.content)
    detail = client.get(f"/plans/{course.pk}/", **ZH)
    assert "已預約於" in detail.text and "星期" in detail.text
    assert_translated(detail.content)
    assert_translated(client.get("/progress/", **ZH).content)


def test_empty_progress_in_chinese_is_fully_translated(client: Client) -> None:
    client.force_login(PatientFactory().user)
    assert_translated(client.get("/progress/", **ZH).content)


def test_account_pages_keep_to_the_content_security_policy(client: Client) -> None:
    patient = PatientFactory()
    first, latest = scores(patient, [30, 20], clinic_today() - timedelta(days=60))
    add_photo(first)
    add_photo(latest)
    course = plan(patient, sessions=3, done=1)
    client.force_login(patient.user)
    for path in ["/me/", "/me/password/", "/progress/", f"/plans/{course.pk}/", "/accounts/password-reset/"]:
        text = client.get(path).text
        assert not re.search(r"\sstyle=", text), path
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), path
        assert not re.search(r"\son[a-z]+=", text), path
        assert "hx-on" not in text, path
