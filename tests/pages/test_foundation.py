"""What every page shares: sign in and out, the language switch, access rules, error pages."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.factories import PatientFactory, UserFactory
from tests.pages.helpers import assert_translated

pytestmark = pytest.mark.django_db


def test_sign_in_page_in_both_languages(client) -> None:
    english = client.get("/accounts/login/")
    assert english.status_code == 200
    assert "Sign in" in english.text and 'lang="en"' in english.text
    chinese = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-HK")
    assert 'lang="zh-Hant-HK"' in chinese.text
    assert "登入" in chinese.text
    assert_translated(chinese.content)


def test_pages_load_no_script_from_elsewhere_and_none_inline(client) -> None:
    response = client.get("/accounts/login/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in response.text and '<script src="http' not in response.text
    assert "/static/django_htmx/htmx-2" in response.text  # htmx served by the app itself


def test_patient_signs_in_with_email_and_lands_on_appointments(client) -> None:
    patient = PatientFactory()
    response = client.post(
        "/accounts/login/", {"username": patient.user.email.upper(), "password": "correct-horse-battery"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/appointments/"


def test_wrong_password_keeps_the_email_and_says_so(client) -> None:
    patient = PatientFactory()
    response = client.post("/accounts/login/", {"username": patient.user.email, "password": "nope"})
    assert response.status_code == 200
    assert "The email or password is not right." in response.text
    assert f'value="{patient.user.email}"' in response.text


def test_staff_sign_in_lands_on_the_workspace(client) -> None:
    user = UserFactory(role="receptionist")
    response = client.post("/accounts/login/", {"username": user.email, "password": "correct-horse-battery"})
    assert response.headers["Location"] == "/staff/"


def test_sign_in_does_not_redirect_to_another_site(client) -> None:
    patient = PatientFactory()
    response = client.post(
        "/accounts/login/?next=https://evil.example/",
        {"username": patient.user.email, "password": "correct-horse-battery", "next": "https://evil.example/"},
    )
    assert response.headers["Location"] == "/appointments/"


def test_sign_out_needs_a_post_and_ends_the_session(client) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_language_switch_remembers_the_choice_and_the_patients_emails_follow(client) -> None:
    patient = PatientFactory(preferred_language="en")
    client.force_login(patient.user)
    response = client.post("/i18n/setlang/", {"language": "zh-hant", "next": "/accounts/login/"})
    assert response.status_code == 302 and response.headers["Location"] == "/accounts/login/"
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "zh-hant" and int(cookie["max-age"]) >= 30 * 24 * 3600
    patient.refresh_from_db()
    assert patient.preferred_language == "zh-hant"
    assert 'lang="zh-Hant-HK"' in client.get("/no-such-page/").text


def test_language_switch_refuses_a_foreign_next(client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "https://evil.example/"})
    assert "evil" not in response.headers.get("Location", "")


def test_unknown_page_is_a_friendly_404_in_the_visitors_language(client) -> None:
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-Hant")
    assert response.status_code == 404
    assert "找不到" in response.text
    assert_translated(response.content)


def test_signing_in_brings_back_the_patients_language(client) -> None:
    patient = PatientFactory(preferred_language="zh-hant")
    response = client.post("/accounts/login/", {"username": patient.user.email, "password": "correct-horse-battery"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hant"
