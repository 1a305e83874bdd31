"""A patient's new email is confirmed from the new address, through the API
and the /me/ pages alike, and never tells whether another account uses it
(issue 15, point 7)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from patients.models import Patient
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def _link(mailoutbox: list[Any], to: str) -> str:
    message = next(m for m in mailoutbox if m.to == [to])
    return re.search(r"/me/email/confirm/([^/\s]+)/", message.body).group(1)


def _request_by_api(as_a: APIClient, email: str, capture: Any) -> Any:
    with capture(execute=True):
        return as_a.patch("/api/v1/me/", {"email": email}, format="json")


def test_the_api_sends_a_link_and_changes_nothing_yet(
    as_a: APIClient, patient_a: Patient, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    old = patient_a.email
    response = _request_by_api(as_a, "New.Address@example.com", django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert response.json()["email"] == old
    assert "confirmation link" in response.json()["detail"]
    patient_a.refresh_from_db()
    assert patient_a.email == old and User.objects.get(pk=patient_a.user_id).email == old
    assert sorted(m.to[0] for m in mailoutbox) == sorted(["new.address@example.com", old])
    notice = next(m for m in mailoutbox if m.to == [old])
    assert "/me/email/confirm/" not in notice.body  # the old address gets no link


def test_following_the_link_changes_the_email_and_the_login_once(
    as_a: APIClient,
    anonymous: APIClient,
    patient_a: Patient,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    _request_by_api(as_a, "new@example.com", django_capture_on_commit_callbacks)
    token = _link(mailoutbox, "new@example.com")

    response = anonymous.post("/api/v1/me/email/confirm/", {"token": token}, format="json")
    assert response.status_code == 200
    assert response.json()["email"] == "new@example.com"
    patient_a.refresh_from_db()
    user = User.objects.get(pk=patient_a.user_id)
    assert patient_a.email == user.email == user.username == "new@example.com"

    again = anonymous.post("/api/v1/me/email/confirm/", {"token": token}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "invalid"


def test_a_taken_address_answers_the_same_and_fails_neutrally_at_the_link(
    as_a: APIClient,
    anonymous: APIClient,
    patient_a: Patient,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    UserFactory(role="practitioner", email="doctor@example.com", username="doctor@example.com")
    free = _request_by_api(as_a, "free@example.com", django_capture_on_commit_callbacks)
    taken = _request_by_api(as_a, "doctor@example.com", django_capture_on_commit_callbacks)
    assert taken.status_code == free.status_code == 200
    assert taken.json() == free.json()

    response = anonymous.post(
        "/api/v1/me/email/confirm/", {"token": _link(mailoutbox, "doctor@example.com")}, format="json"
    )
    expired = anonymous.post("/api/v1/me/email/confirm/", {"token": "forged"}, format="json")
    assert response.status_code == expired.status_code == 400
    assert response.json() == expired.json()  # taken, forged, used or expired: one answer
    patient_a.refresh_from_db()
    assert patient_a.email != "doctor@example.com"


def test_the_link_expires(
    as_a: APIClient,
    anonymous: APIClient,
    patient_a: Patient,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    _request_by_api(as_a, "late@example.com", django_capture_on_commit_callbacks)
    token = _link(mailoutbox, "late@example.com")
    with time_machine.travel(timezone.now() + timezone.timedelta(days=4)):
        response = anonymous.post("/api/v1/me/email/confirm/", {"token": token}, format="json")
    assert response.status_code == 400
    patient_a.refresh_from_db()
    assert patient_a.email != "late@example.com"


def test_other_fields_still_change_at_once(as_a: APIClient, patient_a: Patient) -> None:
    response = as_a.patch("/api/v1/me/", {"full_name": "Alice Chan Tai Man"}, format="json")
    assert response.status_code == 200
    assert response.json()["full_name"] == "Alice Chan Tai Man"
    assert response.json()["detail"] == "Your details are saved."


def test_a_blank_email_is_refused(as_a: APIClient) -> None:
    response = as_a.patch("/api/v1/me/", {"email": ""}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["fields"]


@pytest.mark.parametrize("who", ["anonymous", "receptionist", "practitioner", "manager"])
def test_only_a_patient_asks_for_their_own_email_change(who: str, mailoutbox: list[Any]) -> None:
    from tests.api.conftest import client_for

    client = client_for(None if who == "anonymous" else UserFactory(role=who))
    response = client.patch("/api/v1/me/", {"email": "x@example.com"}, format="json")
    assert response.status_code == (401 if who == "anonymous" else 403)
    assert mailoutbox == []


def test_a_link_for_one_patient_never_changes_another(
    as_a: APIClient,
    as_b: APIClient,
    anonymous: APIClient,
    patient_a: Patient,
    patient_b: Patient,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    b_email = patient_b.email
    _request_by_api(as_a, "mine@example.com", django_capture_on_commit_callbacks)
    anonymous.post("/api/v1/me/email/confirm/", {"token": _link(mailoutbox, "mine@example.com")}, format="json")
    patient_b.refresh_from_db()
    assert patient_b.email == b_email


# --- the pages ------------------------------------------------------------------------------------


def test_the_profile_page_links_to_the_email_change(client: Client) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    assert "/me/email/" in client.get("/me/").text


def test_the_pages_send_a_link_and_the_link_page_confirms_on_post(
    client: Client, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    assert client.get("/me/email/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/me/email/", {"email": "page@example.com"})
    assert response.status_code == 200
    assert "We sent a confirmation link" in response.text
    token = _link(mailoutbox, "page@example.com")

    other = Client()  # the link works in another browser, signed in or not
    shown = other.get(f"/me/email/confirm/{token}/")
    assert shown.status_code == 200 and "Use this email for my account" in shown.text
    patient.refresh_from_db()
    assert patient.email != "page@example.com"  # a GET (a mail scanner) changes nothing
    done = other.post(f"/me/email/confirm/{token}/")
    assert done.status_code == 200 and "Your email is changed" in done.text
    patient.refresh_from_db()
    assert patient.email == "page@example.com"
    used = other.post(f"/me/email/confirm/{token}/")
    assert used.status_code == 400 and "This link cannot be used" in used.text


def test_the_page_answers_the_same_for_a_taken_address(
    client: Client, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    UserFactory(role="manager", email="boss@example.com", username="boss@example.com")
    patient = PatientFactory()
    client.force_login(patient.user)
    with django_capture_on_commit_callbacks(execute=True):
        taken = client.post("/me/email/", {"email": "boss@example.com"})
        free = client.post("/me/email/", {"email": "free2@example.com"})
    assert taken.status_code == free.status_code == 200
    assert "We sent a confirmation link" in taken.text
    assert "boss@example.com" not in taken.text and "already" not in taken.text


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_have_no_email_change_page(client: Client, role: str) -> None:
    client.force_login(UserFactory(role=role))
    assert client.get("/me/email/").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in_for_the_email_page(client: Client) -> None:
    response = client.get("/me/email/")
    assert response.status_code == 302


def test_the_email_pages_speak_chinese(client: Client) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    page = client.get("/me/email/", HTTP_ACCEPT_LANGUAGE="zh-Hant")
    assert "更改我的電郵地址" in page.text
