"""The account pages: profile, password change, password reset (request and link)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from patients.models import Patient
from tests.factories import PatientFactory, UserFactory
from tests.pages.helpers import assert_translated

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hant"}
PASSWORD = "correct-horse-battery"


def _profile_data(patient: Patient, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "full_name": patient.full_name,
        "phone": patient.phone,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "preferred_language": patient.preferred_language,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


# --- who may see what ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/me/", "/me/password/", "/progress/", "/plans/1/", "/progress/photos/1/thumbnail/"])
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
@pytest.mark.parametrize("path", ["/me/", "/progress/"])
def test_staff_get_no_access_to_patient_pages(client: Client, role: str, path: str) -> None:
    client.force_login(UserFactory(role=role))
    response = client.get(path)
    assert response.status_code == 403
    assert "You do not have access to this page." in response.text


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_may_change_their_own_password(client: Client, role: str) -> None:
    user = UserFactory(role=role)
    client.force_login(user)
    assert client.get("/me/password/").status_code == 200
    response = client.post(
        "/me/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-longer-phrase-9",
            "new_password2": "a-much-longer-phrase-9",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/me/password/"
    user.refresh_from_db()
    assert user.check_password("a-much-longer-phrase-9")


def test_the_reset_pages_are_open_to_everyone(client: Client) -> None:
    assert client.get("/accounts/password-reset/").status_code == 200
    assert client.get("/account/reset/MQ/nope/").status_code == 200


# --- profile -------------------------------------------------------------------------------------


def test_profile_shows_the_patients_details(client: Client) -> None:
    patient = PatientFactory(full_name="Chan Tai Man", phone="+85291234567", reminders_opt_out=True)
    client.force_login(patient.user)
    response = client.get("/me/")
    assert response.status_code == 200
    text = response.text
    assert 'value="Chan Tai Man"' in text and 'value="+852 9123 4567"' in text and 'value="1995-05-17"' in text
    assert patient.email in text
    # Reminders are turned off in "How we contact you" (tests/pages/test_contact_pages.py).
    assert '<option value="off" selected>' in text
    assert 'href="/me/health/"' in text  # the health questionnaire
    assert 'action="/accounts/logout/"' in text
    assert '<label for="id_full_name">Full name</label>' in text


def test_saving_the_profile_updates_the_record(client: Client) -> None:
    patient = PatientFactory(reminders_opt_out=False)
    client.force_login(patient.user)
    response = client.post(
        "/me/",
        _profile_data(patient, full_name="  Wong   Siu Ming ", phone="6123 4567", date_of_birth="1990-01-02"),
    )
    assert response.status_code == 302 and response.headers["Location"] == "/me/"
    patient.refresh_from_db()
    assert patient.full_name == "Wong Siu Ming"
    assert patient.phone == "+85261234567"  # read as a Hong Kong number, stored as E.164
    assert patient.date_of_birth == date(1990, 1, 2)
    assert patient.reminders_opt_out is False  # set in "How we contact you", not here
    assert "Your details are saved." in client.get("/me/").text


def test_saving_chinese_switches_the_site_language(client: Client) -> None:
    patient = PatientFactory(preferred_language="en")
    client.force_login(patient.user)
    response = client.post("/me/", _profile_data(patient, preferred_language="zh-hant"))
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "zh-hant" and int(cookie["max-age"]) >= 30 * 24 * 3600
    patient.refresh_from_db()
    assert patient.preferred_language == "zh-hant"
    page = client.get("/me/")
    assert 'lang="zh-Hant-HK"' in page.text
    assert "已儲存" in page.text  # the confirmation, in the new language


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "12345", "Enter a mobile number we can call"),
        ("date_of_birth", "2999-01-01", "The date of birth cannot be in the future."),
        ("date_of_birth", "1850-01-01", "Check the year of birth."),
        ("date_of_birth", "not a date", "Enter the date as day, month and year."),
        ("full_name", "   ", "This field is required."),
        ("preferred_language", "fr", "Select a valid choice."),
    ],
)
def test_bad_input_is_explained_in_place_and_changes_nothing(
    client: Client, field: str, value: str, message: str
) -> None:
    patient = PatientFactory(full_name="Chan Tai Man")
    client.force_login(patient.user)
    response = client.post(
        "/me/",
        _profile_data(patient, **{field: value, "full_name": "Kept Name"} if field != "full_name" else {field: value}),
    )
    assert response.status_code == 200
    text = response.text
    assert message in text
    assert f'id="id_{field}_error"' in text
    if field != "preferred_language":
        tag = re.search(rf'<input[^>]*name="{field}"[^>]*>', text)
        assert tag and 'aria-invalid="true"' in tag.group(0) and f"id_{field}_error" in tag.group(0)
    if field not in {"full_name", "date_of_birth"}:
        assert 'value="Kept Name"' in text  # what the patient typed is kept
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    patient.refresh_from_db()
    assert patient.full_name == "Chan Tai Man"


def test_profile_in_chinese_is_fully_translated(client: Client) -> None:
    patient = PatientFactory(full_name="Chan Tai Man")
    client.force_login(patient.user)
    response = client.get("/me/", **ZH)
    assert "你的資料" in response.text
    assert_translated(response.content, allow=[patient.full_name])


def test_profile_errors_in_chinese_are_translated(client: Client) -> None:
    patient = PatientFactory(full_name="Chan Tai Man")
    client.force_login(patient.user)
    response = client.post("/me/", _profile_data(patient, phone="12", date_of_birth="2999-01-01"), **ZH)
    assert response.status_code == 200
    assert_translated(response.content, allow=[patient.full_name])


# --- password change ------------------------------------------------------------------------------


def test_password_change_keeps_this_device_signed_in(client: Client) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    page = client.get("/me/password/")
    assert '<label for="id_old_password">Current password</label>' in page.text
    response = client.post(
        "/me/password/",
        {"old_password": PASSWORD, "new_password1": "new-passphrase-2026", "new_password2": "new-passphrase-2026"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/me/"
    patient.user.refresh_from_db()
    assert patient.user.check_password("new-passphrase-2026")
    page = client.get("/me/")
    assert page.status_code == 200  # still signed in
    assert "Your password is changed." in page.text


def test_password_change_errors_are_shown_and_change_nothing(client: Client) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    wrong = client.post(
        "/me/password/",
        {"old_password": "nope", "new_password1": "new-passphrase-2026", "new_password2": "new-passphrase-2026"},
    )
    assert wrong.status_code == 200 and 'id="id_old_password_error"' in wrong.text
    weak = client.post(
        "/me/password/", {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    )
    assert weak.status_code == 200 and 'id="id_new_password2_error"' in weak.text
    patient.user.refresh_from_db()
    assert patient.user.check_password(PASSWORD)


def test_password_change_in_chinese_is_fully_translated(client: Client) -> None:
    patient = PatientFactory()
    client.force_login(patient.user)
    assert_translated(client.get("/me/password/", **ZH).content)
    response = client.post("/me/password/", {"old_password": "x", "new_password1": "1", "new_password2": "2"}, **ZH)
    assert_translated(response.content)


# --- password reset --------------------------------------------------------------------------------


def _reset(client: Client, email: str, capture, **extra: object):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        return client.post("/accounts/password-reset/", {"email": email}, **extra)


def _link(mailoutbox: list) -> str:
    match = re.search(r"http://testserver(/account/reset/[^/\s]+/[^/\s]+/)", mailoutbox[-1].body)
    assert match, mailoutbox[-1].body
    return match.group(1)


def test_reset_answers_the_same_for_known_and_unknown_emails(
    client: Client, mailoutbox: list, django_capture_on_commit_callbacks
) -> None:
    patient = PatientFactory()
    unknown = _reset(client, "nobody@example.com", django_capture_on_commit_callbacks)
    assert mailoutbox == []
    known = _reset(client, patient.user.email.upper(), django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [patient.user.email]
    assert unknown.status_code == known.status_code == 302
    assert unknown.headers["Location"] == known.headers["Location"] == "/accounts/password-reset/?sent=1"
    page = client.get("/accounts/password-reset/?sent=1")
    assert "If an account or a clinic record uses that email" in page.text


def test_reset_sends_at_most_a_few_emails_per_address_an_hour(
    client: Client, mailoutbox: list, django_capture_on_commit_callbacks
) -> None:
    patient = PatientFactory()
    for _ in range(5):
        response = _reset(client, patient.user.email, django_capture_on_commit_callbacks)
        assert response.status_code == 302
    assert len(mailoutbox) == 3


def test_reset_requests_from_one_device_are_limited_at_the_apis_rate(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "password_reset": "5/hour"},
    }
    for number in range(5):
        assert client.post("/accounts/password-reset/", {"email": f"someone{number}@example.com"}).status_code == 302
    refused = client.post("/accounts/password-reset/", {"email": "one-more@example.com"})
    assert refused.status_code == 429
    assert "Too many requests" in refused.text
    assert 'value="one-more@example.com"' in refused.text


def test_reset_request_needs_an_email(client: Client) -> None:
    response = client.post("/accounts/password-reset/", {"email": "not-an-email"})
    assert response.status_code == 200
    assert 'id="id_email_error"' in response.text and 'value="not-an-email"' in response.text


def test_reset_link_claims_a_staff_created_record_and_signs_in(
    client: Client, mailoutbox: list, django_capture_on_commit_callbacks
) -> None:
    record = PatientFactory(user=None, email="phoned@example.com")
    _reset(client, "phoned@example.com", django_capture_on_commit_callbacks)
    link = _link(mailoutbox)
    opened = client.get(link)
    # The token leaves the address bar at once (as Django's own reset view does).
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/set-password/")
    form = client.get(opened.headers["Location"])
    assert form.status_code == 200 and "phoned@example.com" in form.text
    weak = client.post(opened.headers["Location"], {"new_password1": "12345", "new_password2": "12345"})
    assert weak.status_code == 200 and 'id="id_new_password1_error"' in weak.text
    done = client.post(
        opened.headers["Location"], {"new_password1": "my-own-passphrase-1", "new_password2": "my-own-passphrase-1"}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/me/"
    record.refresh_from_db()
    assert record.user is not None and record.user.check_password("my-own-passphrase-1")
    assert int(client.session["_auth_user_id"]) == record.user.pk
    assert "Your password is set and you are signed in." in client.get("/me/").text


def test_a_used_link_says_so_kindly(client: Client, mailoutbox: list, django_capture_on_commit_callbacks) -> None:
    patient = PatientFactory()
    _reset(client, patient.user.email, django_capture_on_commit_callbacks)
    link = _link(mailoutbox)
    target = client.get(link).headers["Location"]
    client.post(target, {"new_password1": "my-own-passphrase-1", "new_password2": "my-own-passphrase-1"})
    other = Client()
    again = other.get(link)
    assert again.status_code == 200
    assert "This link has expired" in again.text
    assert 'action="/accounts/password-reset/"' in again.text  # a new link is one step away
    patient.user.refresh_from_db()
    assert patient.user.check_password("my-own-passphrase-1")


@pytest.mark.parametrize(
    "path",
    [
        "/account/reset/MQ/abc-123/",
        "/account/reset/!!!/x/",
        "/account/reset/OTk5OTk5OTk5OTk5OTk5OTk5OTk5/x/",
        "/account/reset/MQ/set-password/",
    ],
)
def test_a_bad_link_is_a_friendly_page(client: Client, path: str) -> None:
    UserFactory()
    response = client.get(path)
    assert response.status_code == 200
    assert "This link has expired" in response.text
    posted = client.post(path, {"new_password1": "my-own-passphrase-1", "new_password2": "my-own-passphrase-1"})
    assert posted.status_code == 200 and "This link has expired" in posted.text


def test_mismatched_passwords_are_refused_before_the_link_is_used(
    client: Client, mailoutbox: list, django_capture_on_commit_callbacks
) -> None:
    patient = PatientFactory()
    _reset(client, patient.user.email, django_capture_on_commit_callbacks)
    target = client.get(_link(mailoutbox)).headers["Location"]
    response = client.post(target, {"new_password1": "my-own-passphrase-1", "new_password2": "my-own-passphrase-2"})
    assert response.status_code == 200 and "The two passwords are not the same." in response.text
    ok = client.post(target, {"new_password1": "my-own-passphrase-1", "new_password2": "my-own-passphrase-1"})
    assert ok.status_code == 302


def test_reset_pages_in_chinese_are_fully_translated(
    client: Client, mailoutbox: list, django_capture_on_commit_callbacks
) -> None:
    patient = PatientFactory()
    assert_translated(client.get("/accounts/password-reset/", **ZH).content)
    assert_translated(client.get("/accounts/password-reset/?sent=1", **ZH).content)
    assert_translated(client.post("/accounts/password-reset/", {"email": "x"}, **ZH).content)
    assert_translated(client.get("/account/reset/MQ/nope/", **ZH).content)
    _reset(client, patient.user.email, django_capture_on_commit_callbacks)
    target = client.get(_link(mailoutbox)).headers["Location"]
    assert_translated(client.get(target, **ZH).content)
    mismatch = client.post(target, {"new_password1": "abc", "new_password2": "abd"}, **ZH)
    assert_translated(mismatch.content)


def test_reset_does_not_create_accounts_for_unknown_emails(client: Client) -> None:
    client.post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert not User.objects.exists()


def test_a_staff_member_who_resets_lands_in_the_workspace(
    client: Client, mailoutbox: list, django_capture_on_commit_callbacks
) -> None:
    user = UserFactory(role="receptionist")
    _reset(client, user.email, django_capture_on_commit_callbacks)
    target = client.get(_link(mailoutbox)).headers["Location"]
    done = client.post(target, {"new_password1": "my-own-passphrase-1", "new_password2": "my-own-passphrase-1"})
    assert done.status_code == 302 and done.headers["Location"] == "/staff/"


def test_a_link_for_a_deactivated_account_does_not_work(
    client: Client, mailoutbox: list, django_capture_on_commit_callbacks
) -> None:
    patient = PatientFactory()
    _reset(client, patient.user.email, django_capture_on_commit_callbacks)
    User.objects.filter(pk=patient.user.pk).update(is_active=False)
    assert "This link has expired" in client.get(_link(mailoutbox)).text
