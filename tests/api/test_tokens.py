"""Tokens and signed-in devices through the API: a password change or reset
signs the login out everywhere else, the caller sees and revokes their devices,
and "last used" is kept without turning every request into a write."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from patients.models import Patient, SignedInDevice
from tests.factories import PatientFactory, UserFactory
from tests.signing_in import (
    ANDROID_APP,
    IPHONE,
    LAPTOP,
    NEW_PASSWORD,
    PASSWORD,
    api_sign_in,
    browser_signed_in,
    page_sign_in,
    signed_out,
)

pytestmark = pytest.mark.django_db


def _sign_in(user: Any, user_agent: str = ANDROID_APP) -> APIClient:
    return api_sign_in(user, user_agent=user_agent)


def _browser(user: Any, user_agent: str = LAPTOP) -> Client:
    return browser_signed_in(user, user_agent)


def _with_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- changing the password --------------------------------------------------------------------


def test_changing_the_password_revokes_every_old_token_and_session() -> None:
    patient = PatientFactory()
    phone, tablet = _sign_in(patient.user), _sign_in(patient.user, IPHONE)
    laptop = _browser(patient.user)
    response = phone.post(
        "/api/v1/me/password/", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    assert phone.get("/api/v1/me/").status_code == 401  # the token that asked, replaced by the new one
    assert tablet.get("/api/v1/me/").status_code == 401
    assert tablet.get("/api/v1/me/").json()["code"] == "not_authenticated"
    assert signed_out(laptop)
    assert not Session.objects.exists()
    fresh = _with_token(response.json()["token"])
    assert fresh.get("/api/v1/me/").json()["id"] == patient.pk
    assert AuthToken.objects.filter(user=patient.user).count() == 1
    patient.user.refresh_from_db()
    assert patient.user.check_password(NEW_PASSWORD)


def test_a_browser_changing_its_password_through_the_api_stays_signed_in() -> None:
    patient = PatientFactory()
    phone = _sign_in(patient.user)
    browser = APIClient()
    browser.force_login(patient.user)
    assert browser.get("/api/v1/me/").status_code == 200
    response = browser.post(
        "/api/v1/me/password/", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert browser.get("/api/v1/me/").status_code == 200
    assert phone.get("/api/v1/me/").status_code == 401


def test_a_wrong_current_password_changes_nothing() -> None:
    patient = PatientFactory()
    phone, other = _sign_in(patient.user), _sign_in(patient.user, IPHONE)
    response = phone.post(
        "/api/v1/me/password/", {"current_password": "not-it-at-all", "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "current_password" in body["fields"]
    assert phone.get("/api/v1/me/").status_code == other.get("/api/v1/me/").status_code == 200
    patient.user.refresh_from_db()
    assert patient.user.check_password(PASSWORD)


@pytest.mark.parametrize("weak", ["short", "password123", "1234567890123"])
def test_a_weak_new_password_is_refused(weak: str) -> None:
    patient = PatientFactory()
    phone = _sign_in(patient.user)
    response = phone.post("/api/v1/me/password/", {"current_password": PASSWORD, "new_password": weak}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "new_password" in response.json()["fields"]
    assert phone.get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("body", [{}, {"current_password": PASSWORD}, {"current_password": 5, "new_password": []}])
def test_a_malformed_password_change_is_400(body: dict[str, Any]) -> None:
    response = _sign_in(PatientFactory().user).post("/api/v1/me/password/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_change_their_password_the_same_way(role: str) -> None:
    staff = UserFactory(role=role)
    desk, other = _sign_in(staff), _sign_in(staff, IPHONE)
    response = desk.post(
        "/api/v1/me/password/", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert other.get("/api/v1/appointments/").status_code == 401
    assert _with_token(response.json()["token"]).get("/api/v1/appointments/").status_code == 200


def test_changing_the_password_needs_a_sign_in() -> None:
    response = APIClient().post(
        "/api/v1/me/password/", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


# --- resetting the password ---------------------------------------------------------------------


def test_a_reset_answers_with_the_one_new_token_and_signs_out_everything_else(
    mailoutbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    patient = PatientFactory()
    stolen_phone = _sign_in(patient.user)
    laptop = _browser(patient.user)
    with django_capture_on_commit_callbacks(execute=True):
        APIClient().post("/api/v1/auth/password-reset/", {"email": patient.email}, format="json")
    match = re.search(r"/account/reset/([^/]+)/([^/]+)/", mailoutbox[-1].body)
    assert match
    response = APIClient().post(
        "/api/v1/auth/password-reset/confirm/",
        {"uid": match.group(1), "token": match.group(2), "password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    assert stolen_phone.get("/api/v1/me/").status_code == 401
    assert signed_out(laptop)
    assert _with_token(response.json()["token"]).get("/api/v1/me/").status_code == 200
    assert AuthToken.objects.filter(user=patient.user).count() == 1


# --- signed-in devices ----------------------------------------------------------------------


def test_the_caller_sees_their_devices_and_which_one_is_this() -> None:
    patient = PatientFactory()
    phone = _sign_in(patient.user, IPHONE)
    _sign_in(patient.user, ANDROID_APP)
    _browser(patient.user, LAPTOP)
    _sign_in(PatientFactory().user)  # someone else's: never listed
    response = phone.get("/api/v1/me/devices/")
    assert response.status_code == 200
    body = response.json()
    assert {"count", "next", "previous", "results"} <= set(body)
    assert body["count"] == 3
    rows = {row["label"]: row for row in body["results"]}
    assert set(rows) == {"Safari on iPhone", "An app on Android", "Chrome on Windows"}
    assert rows["Safari on iPhone"]["current"] is True
    assert [row["current"] for row in body["results"]].count(True) == 1
    assert rows["Chrome on Windows"]["kind"] == "session"
    assert rows["An app on Android"]["kind"] == "token"
    assert set(rows["An app on Android"]) == {"id", "kind", "label", "created_at", "last_used_at", "current"}


def test_device_labels_follow_the_language() -> None:
    patient = PatientFactory()
    phone = _sign_in(patient.user, IPHONE)
    body = phone.get("/api/v1/me/devices/", HTTP_ACCEPT_LANGUAGE="zh-Hant").json()
    assert body["results"][0]["label"] == "iPhone 上的 Safari"


def test_revoking_one_device_signs_out_that_device_only() -> None:
    patient = PatientFactory()
    phone, lost = _sign_in(patient.user), _sign_in(patient.user, IPHONE)
    lost_id = next(row["id"] for row in phone.get("/api/v1/me/devices/").json()["results"] if not row["current"])
    assert phone.delete(f"/api/v1/me/devices/{lost_id}/").status_code == 204
    assert lost.get("/api/v1/me/").status_code == 401
    assert phone.get("/api/v1/me/").status_code == 200
    assert phone.delete(f"/api/v1/me/devices/{lost_id}/").status_code == 404  # already gone


def test_revoking_a_browser_session_signs_that_browser_out() -> None:
    patient = PatientFactory()
    phone = _sign_in(patient.user)
    laptop = _browser(patient.user)
    session_id = next(
        row["id"] for row in phone.get("/api/v1/me/devices/").json()["results"] if row["kind"] == "session"
    )
    assert phone.delete(f"/api/v1/me/devices/{session_id}/").status_code == 204
    assert signed_out(laptop)


def test_another_patients_device_is_404_and_stays_signed_in() -> None:
    alice, bob = PatientFactory(), PatientFactory()
    alices_phone = _sign_in(alice.user)
    bobs_phone = _sign_in(bob.user)
    alices_device = SignedInDevice.objects.get(user=alice.user)
    response = bobs_phone.delete(f"/api/v1/me/devices/{alices_device.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert alices_phone.get("/api/v1/me/").status_code == 200
    assert bobs_phone.delete("/api/v1/me/devices/999999999/").status_code == 404


def test_logout_all_revokes_every_token_and_session_of_the_caller() -> None:
    patient, other = PatientFactory(), PatientFactory()
    phone, tablet = _sign_in(patient.user), _sign_in(patient.user, IPHONE)
    laptop = _browser(patient.user)
    others_phone = _sign_in(other.user)
    assert phone.post("/api/v1/auth/logout-all/").status_code == 204
    assert phone.get("/api/v1/me/").status_code == 401
    assert tablet.get("/api/v1/me/").status_code == 401
    assert signed_out(laptop)
    assert not SignedInDevice.objects.filter(user=patient.user).exists()
    assert others_phone.get("/api/v1/me/").status_code == 200  # nobody else's


def test_logout_all_also_revokes_tokens_issued_before_devices_were_recorded() -> None:
    patient = PatientFactory()
    _instance, old = AuthToken.objects.create(patient.user)  # no device row yet, never used since
    phone = _sign_in(patient.user)
    assert phone.post("/api/v1/auth/logout-all/").status_code == 204
    assert _with_token(old).get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/v1/me/devices/"), ("delete", "/api/v1/me/devices/1/"), ("post", "/api/v1/auth/logout-all/")],
)
def test_devices_need_a_sign_in(method: str, path: str) -> None:
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_see_and_revoke_their_own_devices(role: str) -> None:
    staff = UserFactory(role=role)
    desk, old = _sign_in(staff), _sign_in(staff, IPHONE)
    _sign_in(PatientFactory().user)
    rows = desk.get("/api/v1/me/devices/").json()["results"]
    assert len(rows) == 2
    old_id = next(row["id"] for row in rows if not row["current"])
    assert desk.delete(f"/api/v1/me/devices/{old_id}/").status_code == 204
    assert old.get("/api/v1/appointments/").status_code == 401


# --- last used, without a write on every request ------------------------------------------------


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].split()[0].upper() in {"UPDATE", "INSERT"}]


def test_last_used_is_refreshed_at_most_once_a_minute() -> None:
    patient: Patient = PatientFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        phone = _sign_in(patient.user)
        device = SignedInDevice.objects.get(user=patient.user)
        assert device.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        with CaptureQueriesContext(connection) as queries:
            assert phone.get("/api/v1/me/").status_code == 200
        assert not _writes(queries), "a read within the minute wrote"
        device.refresh_from_db()
        assert device.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=90), tick=False):
        assert phone.get("/api/v1/me/").status_code == 200
        device.refresh_from_db()
        assert device.last_used_at == start + timedelta(seconds=90)


def test_a_browser_sessions_last_use_is_kept_the_same_way() -> None:
    patient = PatientFactory()
    start = timezone.now()
    browser = Client(HTTP_USER_AGENT=LAPTOP)
    with time_machine.travel(start, tick=False):
        page_sign_in(browser, patient.user)  # recorded as it signs in
        browser.get("/me/")
        device = SignedInDevice.objects.get(user=patient.user, kind="session")
    with time_machine.travel(start + timedelta(seconds=20), tick=False):
        with CaptureQueriesContext(connection) as queries:
            browser.get("/me/")
        assert not [sql for sql in _writes(queries) if "signed_in_device" in sql or "django_session" in sql]
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        browser.get("/me/")
        device.refresh_from_db()
        assert device.last_used_at == start + timedelta(minutes=5)
        assert device.created_at == start


def test_a_token_from_before_devices_were_recorded_appears_when_used() -> None:
    patient = PatientFactory()
    _instance, token = AuthToken.objects.create(patient.user)
    phone = _with_token(token)
    phone.credentials(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_USER_AGENT=IPHONE)
    rows = phone.get("/api/v1/me/devices/").json()["results"]
    assert [(row["label"], row["current"]) for row in rows] == [("Safari on iPhone", True)]


# --- a password set outside the services ----------------------------------------------------


def test_a_password_set_in_the_admin_revokes_the_logins_tokens(client: Client) -> None:
    patient = PatientFactory()
    phone = _sign_in(patient.user)
    assert phone.get("/api/v1/me/").status_code == 200
    admin = UserFactory(role="manager", is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(
        f"/admin/auth/user/{patient.user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:500]
    assert phone.get("/api/v1/me/").status_code == 401
    assert not SignedInDevice.objects.filter(user=patient.user).exists()
    assert api_sign_in(patient.user, NEW_PASSWORD).get("/api/v1/me/").status_code == 200


def test_changepassword_from_the_shell_revokes_tokens_too() -> None:
    patient = PatientFactory()
    phone = _sign_in(patient.user)
    patient.user.set_password(NEW_PASSWORD)
    patient.user.save()  # what `manage.py changepassword` does
    assert phone.get("/api/v1/me/").status_code == 401


def test_saving_a_user_without_a_new_password_keeps_their_tokens() -> None:
    patient = PatientFactory()
    phone = _sign_in(patient.user)
    patient.user.first_name = "Renamed"
    patient.user.save()
    patient.user.save(update_fields=["last_login"])
    assert phone.get("/api/v1/me/").status_code == 200


# --- one query per token request --------------------------------------------------------------


def test_a_patients_signed_in_read_is_one_query_however_many_tokens_and_groups() -> None:
    """GET /api/v1/me/ with a token: the token, its user, device, patient record
    and role in one statement, whether the account has one token or many."""
    from django.contrib.auth.models import Group

    patient = PatientFactory(full_name="Alice Chan")
    phone = _sign_in(patient.user)
    phone.get("/api/v1/me/")  # per-process caches (translations, content types)
    with CaptureQueriesContext(connection) as few:
        answer = phone.get("/api/v1/me/")
    assert answer.status_code == 200 and answer.json()["full_name"] == "Alice Chan"
    for _ in range(5):
        _sign_in(patient.user, IPHONE)
    patient.user.groups.add(Group.objects.create(name="newsletter"))  # a group that is not a role
    with CaptureQueriesContext(connection) as many:
        assert phone.get("/api/v1/me/").json()["full_name"] == "Alice Chan"
    assert len(few) == len(many) == 1, [q["sql"] for q in many.captured_queries]


def test_an_expired_token_is_refused_and_deleted_and_a_sign_in_clears_the_others() -> None:
    patient = PatientFactory()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        old, older = _sign_in(patient.user), _sign_in(patient.user, IPHONE)
    later = start + timedelta(days=91)  # past the 90-day TTL
    with time_machine.travel(later, tick=False):
        refused = old.get("/api/v1/me/")
        assert refused.status_code == 401 and refused.json()["code"] == "not_authenticated"
        assert AuthToken.objects.filter(user=patient.user).count() == 1  # that one went; the other waits
        fresh = _sign_in(patient.user, LAPTOP)
        assert AuthToken.objects.filter(user=patient.user).count() == 1  # the sign-in cleared the other
        assert fresh.get("/api/v1/me/").status_code == 200
        assert older.get("/api/v1/me/").status_code == 401


def test_a_staff_token_carries_its_role() -> None:
    """The role comes with the token's query: reception may list patients, a
    patient's token may not, and a receptionist who is also a patient is staff."""
    from django.contrib.auth.models import Group

    reception = UserFactory()
    reception.groups.add(Group.objects.get(name="receptionist"))
    assert _sign_in(reception).get("/api/v1/patients/").status_code == 200
    patient = PatientFactory()
    assert _sign_in(patient.user).get("/api/v1/patients/").status_code == 403
    patient.user.groups.add(Group.objects.get(name="receptionist"))
    both = _sign_in(patient.user)
    assert both.get("/api/v1/patients/").status_code == 200
    assert both.get("/api/v1/me/").status_code == 403  # staff first, as role_of decides
