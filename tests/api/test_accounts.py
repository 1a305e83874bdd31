"""Registration, tokens per device, logout, and password reset (which is also
how a patient registered by phone claims their record)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from knox.models import AuthToken
from rest_framework.test import APIClient

from patients.models import Patient
from tests.api.conftest import client_for
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

REGISTRATION = {
    "email": "Mei.Ling@Example.com",
    "password": "a-long-and-unusual-passphrase",
    "full_name": "Mei Ling Cheung",
    "date_of_birth": "1994-03-02",
    "phone": "9123 4567",
    "preferred_language": "zh-hant",
}


def test_registration_creates_a_patient_who_can_book_at_once(anonymous: APIClient) -> None:
    response = anonymous.post("/api/v1/auth/register/", REGISTRATION, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["patient"]["email"] == "mei.ling@example.com"
    assert body["patient"]["phone"] == "+85291234567"  # stored as E.164
    assert body["patient"]["preferred_language"] == "zh-hant"
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    profile = me.get("/api/v1/me/")
    assert profile.status_code == 200
    assert profile.json()["full_name"] == "Mei Ling Cheung"


def test_weak_password_is_refused_and_nothing_is_created(anonymous: APIClient) -> None:
    response = anonymous.post("/api/v1/auth/register/", {**REGISTRATION, "password": "12345678"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "password" in response.json()["fields"]
    assert not User.objects.exists() and not Patient.objects.exists()


def test_registration_never_hands_over_a_staff_created_record(anonymous: APIClient) -> None:
    phoned_in = PatientFactory(user=None, email="walkin@example.com", full_name="Phoned In")
    response = anonymous.post("/api/v1/auth/register/", {**REGISTRATION, "email": "WALKIN@example.com"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["fields"]
    phoned_in.refresh_from_db()
    assert phoned_in.user_id is None
    assert Patient.objects.count() == 1


def test_token_per_device_and_logout_revokes_only_that_one(anonymous: APIClient, patient_a: Patient) -> None:
    credentials = {"email": patient_a.email.upper(), "password": "correct-horse-battery"}
    phone = anonymous.post("/api/v1/auth/token/", credentials, format="json").json()["token"]
    laptop = anonymous.post("/api/v1/auth/token/", credentials, format="json").json()["token"]
    assert phone != laptop
    on_phone, on_laptop = APIClient(), APIClient()
    on_phone.credentials(HTTP_AUTHORIZATION=f"Bearer {phone}")
    on_laptop.credentials(HTTP_AUTHORIZATION=f"Bearer {laptop}")
    assert on_phone.post("/api/v1/auth/logout/").status_code == 204
    assert on_phone.get("/api/v1/me/").status_code == 401
    assert on_laptop.get("/api/v1/me/").status_code == 200


def test_wrong_password_is_400_not_401(anonymous: APIClient, patient_a: Patient) -> None:
    response = anonymous.post("/api/v1/auth/token/", {"email": patient_a.email, "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not AuthToken.objects.exists()


def test_missing_or_bad_token_is_401_with_the_envelope(anonymous: APIClient) -> None:
    assert anonymous.get("/api/v1/me/").json()["code"] == "not_authenticated"
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    response = anonymous.get("/api/v1/appointments/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_repeated_wrong_passwords_lock_the_account_for_a_while(anonymous: APIClient, patient_a: Patient) -> None:
    for _ in range(10):
        anonymous.post("/api/v1/auth/token/", {"email": patient_a.email, "password": "guess"}, format="json")
    locked = anonymous.post(
        "/api/v1/auth/token/", {"email": patient_a.email, "password": "correct-horse-battery"}, format="json"
    )
    assert locked.status_code == 429
    assert locked.json()["code"] == "throttled"


def _link_parts(mailoutbox: list) -> tuple[str, str]:
    match = re.search(r"/account/reset/([^/]+)/([^/]+)/", mailoutbox[-1].body)
    assert match, mailoutbox[-1].body
    return match.group(1), match.group(2)


def test_password_reset_claims_a_phone_registered_record(
    anonymous: APIClient, mailoutbox: list, django_capture_on_commit_callbacks
) -> None:
    record = PatientFactory(user=None, email="phoned@example.com", preferred_language="zh-hant")
    with django_capture_on_commit_callbacks(execute=True):
        response = anonymous.post("/api/v1/auth/password-reset/", {"email": "Phoned@example.com"}, format="json")
    assert response.status_code == 202
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["phoned@example.com"]
    assert "密碼" in mailoutbox[0].subject or "password" in mailoutbox[0].subject.lower()
    uid, token = _link_parts(mailoutbox)
    confirmed = anonymous.post(
        "/api/v1/auth/password-reset/confirm/",
        {"uid": uid, "token": token, "password": "my-own-new-passphrase"},
        format="json",
    )
    assert confirmed.status_code == 200
    record.refresh_from_db()
    assert record.user is not None and record.user.check_password("my-own-new-passphrase")
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {confirmed.json()['token']}")
    assert me.get("/api/v1/me/").json()["id"] == record.pk
    # Single use: the same link cannot set the password again.
    again = anonymous.post(
        "/api/v1/auth/password-reset/confirm/",
        {"uid": uid, "token": token, "password": "another-passphrase-1"},
        format="json",
    )
    assert again.status_code == 400
    record.user.refresh_from_db()
    assert record.user.check_password("my-own-new-passphrase")


def test_password_reset_says_nothing_about_unknown_emails(
    anonymous: APIClient, mailoutbox: list, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = anonymous.post("/api/v1/auth/password-reset/", {"email": "nobody@example.com"}, format="json")
    assert response.status_code == 202
    assert mailoutbox == []
    assert not User.objects.exists()


def test_password_reset_mails_an_address_at_most_three_times_an_hour_through_the_api_too(
    anonymous: APIClient, mailoutbox: list, django_capture_on_commit_callbacks, settings
) -> None:
    # The API's per-client throttle out of the way: the cap per address is the service's own.
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "password_reset": "50/hour"},
    }
    patient = PatientFactory()
    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            response = anonymous.post("/api/v1/auth/password-reset/", {"email": patient.email}, format="json")
        assert response.status_code == 202
    assert len(mailoutbox) == 3


def test_a_reset_link_for_a_deactivated_account_sets_no_password_through_the_api(
    anonymous: APIClient, mailoutbox: list, django_capture_on_commit_callbacks
) -> None:
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        anonymous.post("/api/v1/auth/password-reset/", {"email": patient.email}, format="json")
    uid, token = _link_parts(mailoutbox)
    User.objects.filter(pk=patient.user.pk).update(is_active=False)
    response = anonymous.post(
        "/api/v1/auth/password-reset/confirm/",
        {"uid": uid, "token": token, "password": "my-own-new-passphrase"},
        format="json",
    )
    assert response.status_code == 400 and "token" in response.json()["fields"]
    patient.user.refresh_from_db()
    assert not patient.user.check_password("my-own-new-passphrase")


def test_me_patch_updates_own_profile_but_not_fitzpatrick(as_a: APIClient, patient_a: Patient) -> None:
    response = as_a.patch(
        "/api/v1/me/", {"phone": "+852 6123 4567", "reminders_opt_out": True, "fitzpatrick_type": 6}, format="json"
    )
    assert response.status_code == 200
    patient_a.refresh_from_db()
    assert patient_a.phone == "+85261234567"
    assert patient_a.reminders_opt_out is True
    assert patient_a.fitzpatrick_type == 3


def test_changing_email_moves_the_login(
    as_a: APIClient, patient_a: Patient, anonymous: APIClient, mailoutbox, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    # The change waits for the link sent to the new address (tests/api/test_email_change.py).
    with django_capture_on_commit_callbacks(execute=True):
        assert as_a.patch("/api/v1/me/", {"email": "new@example.com"}, format="json").status_code == 200
    link = next(m for m in mailoutbox if m.to == ["new@example.com"]).body
    confirm = link.split("/me/email/confirm/", 1)[1].split("/", 1)[0]
    assert anonymous.post("/api/v1/me/email/confirm/", {"token": confirm}, format="json").status_code == 200
    token = anonymous.post(
        "/api/v1/auth/token/", {"email": "new@example.com", "password": "correct-horse-battery"}, format="json"
    )
    assert token.status_code == 200


def test_health_declarations_are_added_never_edited(as_a: APIClient, patient_a: Patient) -> None:
    answers = dict.fromkeys(
        "pregnant_or_breastfeeding keloid_tendency cold_sore_history active_cold_sore anticoagulants "
        "photosensitising_medication active_skin_infection recent_sun_exposure autoimmune_condition "
        "neuromuscular_disorder active_acne implanted_electronic_device".split(),
        False,
    )
    answers |= {"isotretinoin_last_dose": None, "topical_retinoid_last_use": "2026-01-05", "allergies": ["lidocaine"]}
    created = as_a.post("/api/v1/me/health-declarations/", answers, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["submitted_at"]
    assert created.json()["allergies"] == ["lidocaine"]
    listed = as_a.get("/api/v1/me/health-declarations/").json()
    assert listed["count"] == 2 and listed["results"][0]["id"] == created.json()["id"]
    url = f"/api/v1/me/health-declarations/{created.json()['id']}/"
    assert as_a.patch(url, {"active_acne": True}, format="json").status_code == 404


def test_staff_enter_a_paper_declaration_and_register_a_patient_without_login(as_reception: APIClient) -> None:
    created = as_reception.post(
        "/api/v1/patients/",
        {"full_name": "Walk In", "date_of_birth": "1980-01-01", "phone": "+85221234567", "preferred_language": "en"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    patient = Patient.objects.get(pk=created.json()["id"])
    assert patient.user is None and patient.email == ""
    found = as_reception.get("/api/v1/patients/?q=2123").json()
    assert [p["id"] for p in found["results"]] == [patient.pk]
    assert as_reception.get("/api/v1/patients/?q=walk").json()["count"] == 1


def test_patient_b_cannot_reach_a_through_client_for(patient_a: Patient, patient_b: Patient) -> None:
    as_b = client_for(patient_b.user)
    assert as_b.get(f"/api/v1/patients/{patient_a.pk}/").status_code == 403
    assert as_b.get("/api/v1/me/").json()["id"] == patient_b.pk
