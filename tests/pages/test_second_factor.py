"""The staff second factor on the pages and the admin: enrolment with a QR code,
the code after every password sign-in, recovery codes, throttling, a manager's
reset after a lost phone, and the idle timeout of staff sessions.

Tests of the real flow are marked ``second_factor_enforced`` (tests/conftest.py
otherwise counts every staff sign-in as verified)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from patients import second_factor
from tests.factories import PatientFactory, UserFactory
from tests.pages.helpers import assert_translated

pytestmark = pytest.mark.django_db
enforced = pytest.mark.second_factor_enforced

PASSWORD = "correct-horse-battery"
ENROL = "/staff/second-factor/enrol/"
VERIFY = "/staff/second-factor/"
CODES = "/staff/second-factor/recovery-codes/"
SETTINGS = "/staff/second-factor/settings/"


def code_of(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the phone shows now (or ``steps_ahead`` periods later)."""
    return f"{totp(device.bin_key, device.step, device.t0 - steps_ahead * device.step, device.digits):06d}"


def sign_in(client: Client, user) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content


def enrolled(role: str = "practitioner"):  # type: ignore[no-untyped-def]
    user = UserFactory(role=role)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    static = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    static.token_set.create(token="abcd2345")
    return user, device


# --- enrolment ----------------------------------------------------------------------------


@enforced
def test_a_practitioner_without_a_device_enrols_then_saves_recovery_codes(client: Client) -> None:
    user = UserFactory(role="practitioner")
    sign_in(client, user)

    # Every staff page and the admin send them to enrol first, keeping where they were going.
    response = client.get("/staff/patients/")
    assert response.status_code == 302
    assert response["Location"] == f"{ENROL}?next=%2Fstaff%2Fpatients%2F"
    assert client.get("/admin/")["Location"].startswith(ENROL)

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html  # the QR code, inline
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', html)
    assert secret is not None
    from base64 import b32decode

    assert b32decode(secret.group(1).replace(" ", "")) == device.bin_key  # typed by hand, it is the same key
    # Reloading the page keeps the same secret (the phone may have scanned it already).
    client.get(ENROL)
    assert TOTPDevice.objects.filter(user=user).count() == 1

    wrong = client.post(ENROL, {"otp": "000000" if code_of(device) != "000000" else "111111"})
    assert wrong.status_code == 400
    assert "not right" in wrong.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed

    with time_machine.travel(timezone.now() + timedelta(seconds=2), tick=False):  # past the 1 s throttle
        done = client.post(ENROL, {"otp": code_of(device), "next": "/staff/patients/"})
    assert done.status_code == 302
    assert done["Location"] == f"{CODES}?next=%2Fstaff%2Fpatients%2F"
    assert TOTPDevice.objects.get(pk=device.pk).confirmed

    shown = client.get(done["Location"])
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", shown.content.decode())
    assert len(codes) == 10
    assert set(codes) == set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    # Until they say they saved them, the codes page is where staff pages lead.
    assert client.get("/staff/")["Location"] == CODES

    saved = client.post(CODES, {"saved": "1", "next": "/staff/patients/"})
    assert saved["Location"] == "/staff/patients/"
    assert client.get("/staff/patients/").status_code == 200
    # Shown once: the page does not show them again.
    assert client.get(CODES)["Location"] == SETTINGS


@enforced
def test_an_enrolled_user_who_has_not_answered_cannot_enrol_another_phone(client: Client) -> None:
    user, _device = enrolled()
    sign_in(client, user)
    # A stolen password alone must not add the thief's phone.
    response = client.get(ENROL)
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)
    assert client.post(ENROL, {"otp": "123456"})["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=user).count() == 1


# --- the code after signing in ------------------------------------------------------------


@enforced
def test_signing_in_asks_for_the_code_and_a_wrong_one_is_refused(client: Client) -> None:
    user, device = enrolled("manager")
    sign_in(client, user)
    response = client.get("/staff/due/")
    assert response["Location"] == f"{VERIFY}?next=%2Fstaff%2Fdue%2F"
    assert client.get("/admin/")["Location"] == f"{VERIFY}?next=%2Fadmin%2F"

    wrong = client.post(VERIFY, {"otp": "999999" if code_of(device) != "999999" else "888888", "next": "/staff/due/"})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    assert client.get("/staff/due/").status_code == 302

    with time_machine.travel(timezone.now() + timedelta(seconds=2), tick=False):
        right = client.post(VERIFY, {"otp": code_of(device), "next": "/staff/due/"})
    assert right["Location"] == "/staff/due/"
    assert client.get("/staff/due/").status_code == 200
    assert client.get("/admin/").status_code == 200


@enforced
def test_wrong_codes_are_throttled_even_when_the_next_one_is_right(client: Client) -> None:
    user, device = enrolled()
    sign_in(client, user)
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        for _ in range(3):
            client.post(VERIFY, {"otp": "000000" if code_of(device) != "000000" else "111111"})
        refused = client.post(VERIFY, {"otp": code_of(device)})
    assert refused.status_code == 400
    assert "Too many wrong codes" in refused.content.decode()
    # Once the wait has passed, the right code works.
    with time_machine.travel(now + timedelta(seconds=5), tick=False):
        assert client.post(VERIFY, {"otp": code_of(device)})["Location"] == "/staff/"


@enforced
def test_a_code_works_once(client: Client) -> None:
    user, device = enrolled()
    sign_in(client, user)
    code = code_of(device)
    assert client.post(VERIFY, {"otp": code}).status_code == 302
    other = Client()
    sign_in(other, user)
    assert other.post(VERIFY, {"otp": code}).status_code == 400  # replayed


@enforced
def test_a_recovery_code_signs_in_once(client: Client) -> None:
    user, _device = enrolled()
    sign_in(client, user)
    used = client.post(VERIFY, {"otp": "ABCD-2345"}, follow=True)  # typed in capitals with a dash
    assert used.status_code == 200
    assert "You used a recovery code" in used.content.decode()
    assert not StaticToken.objects.filter(token="abcd2345").exists()

    other = Client()
    sign_in(other, user)
    assert other.post(VERIFY, {"otp": "abcd2345"}).status_code == 400
    assert other.get("/staff/").status_code == 302


@enforced
def test_an_unverified_session_is_not_signed_in_to_the_api(client: Client) -> None:
    user, device = enrolled()
    sign_in(client, user)
    assert client.get("/api/v1/patients/").status_code == 401
    client.post(VERIFY, {"otp": code_of(device)})
    assert client.get("/api/v1/patients/").status_code == 200


@enforced
def test_a_receptionist_signs_in_with_a_password_only_by_default(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    receptionist = UserFactory(role="receptionist")
    sign_in(client, receptionist)
    assert client.get("/staff/").status_code == 200
    assert client.get("/api/v1/patients/").status_code == 200
    assert not TOTPDevice.objects.filter(user=receptionist).exists()

    settings.CLINIC_SECOND_FACTOR_ROLES = ["receptionist", "practitioner", "manager"]
    assert client.get("/staff/")["Location"].startswith(ENROL)


@enforced
def test_patients_never_meet_the_second_factor(client: Client) -> None:
    patient = PatientFactory()
    sign_in(client, patient.user)
    assert client.get("/appointments/").status_code == 200
    assert client.get(VERIFY).status_code == 403


@enforced
def test_the_second_factor_pages_speak_traditional_chinese(client: Client) -> None:
    user, _device = enrolled()
    sign_in(client, user)
    client.cookies["django_language"] = "zh-hant"
    page = client.get(VERIFY)
    assert "輸入驗證碼" in page.content.decode()
    assert_translated(page.content)
    fresh = UserFactory(role="practitioner")
    other = Client()
    other.cookies["django_language"] = "zh-hant"
    sign_in(other, fresh)
    enrol = other.get(ENROL)
    assert_translated(enrol.content, allow={"google", "authenticator", "microsoft", "password", "qr"})


# --- recovery codes and the managers' reset ------------------------------------------------


def test_staff_make_new_recovery_codes_and_the_old_ones_stop_working(client: Client) -> None:
    user, _device = enrolled()
    client.force_login(user)
    response = client.post(CODES, {"action": "regenerate"})
    assert response["Location"] == CODES
    page = client.get(CODES).content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page)
    assert len(codes) == 10
    assert not StaticToken.objects.filter(token="abcd2345").exists()
    assert second_factor.recovery_codes_left(user) == 10


@pytest.mark.parametrize(
    ("role", "expected"),
    [("anonymous", 302), ("patient", 403), ("receptionist", 403), ("practitioner", 403), ("manager", 302)],
)
def test_only_managers_reset_a_colleagues_second_factor(client: Client, role: str, expected: int) -> None:
    target, _device = enrolled()
    if role == "patient":
        client.force_login(PatientFactory().user)
    elif role != "anonymous":
        client.force_login(UserFactory(role=role))
    response = client.post(f"/staff/second-factor/reset/{target.pk}/")
    assert response.status_code == expected
    if role == "anonymous":
        assert response["Location"].startswith("/accounts/login/")
    assert TOTPDevice.objects.filter(user=target).exists() is (role != "manager")


def test_a_managers_reset_removes_the_devices_and_is_logged(client: Client) -> None:
    manager = UserFactory(role="manager", first_name="Mandy", last_name="Lee")
    target, _device = enrolled()
    client.force_login(manager)
    page = client.get(SETTINGS)
    assert page.status_code == 200
    assert target.email in page.content.decode()

    response = client.post(f"/staff/second-factor/reset/{target.pk}/", follow=True)
    assert "is reset" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=target).exists()
    assert not StaticDevice.objects.filter(user=target).exists()
    entry = LogEntry.objects.get(object_id=str(target.pk))
    assert entry.user == manager
    assert "Second factor reset" in entry.get_change_message()
    # Not a staff member, or nobody: 404.
    assert client.post(f"/staff/second-factor/reset/{PatientFactory().user.pk}/").status_code == 404
    assert client.post("/staff/second-factor/reset/987654/").status_code == 404


def test_a_reset_signs_the_colleague_out_everywhere(client: Client) -> None:
    from django.test import Client as Browser

    from patients.services import token_issue

    target, _device = enrolled()
    their_browser = Browser()
    their_browser.force_login(target)
    assert their_browser.get("/staff/").status_code == 200
    token = token_issue(user=target)
    client.force_login(UserFactory(role="manager"))
    client.post(f"/staff/second-factor/reset/{target.pk}/")
    # Whoever holds the lost phone may hold a signed-in session or an app's token too.
    assert their_browser.get("/staff/")["Location"].startswith("/accounts/login/")
    assert Browser().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


@enforced
def test_after_a_reset_the_next_sign_in_enrols_again(client: Client) -> None:
    target, _device = enrolled()
    second_factor.second_factor_reset(user=target, by=UserFactory(role="manager"))
    sign_in(client, target)
    assert client.get("/staff/")["Location"].startswith(ENROL)


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_every_staff_role_sees_its_sign_in_security_page(client: Client, role: str) -> None:
    client.force_login(UserFactory(role=role))
    page = client.get(SETTINGS)
    assert page.status_code == 200
    assert ('id="staff-title"' in page.content.decode()) is (role == "manager")  # the reset list


# --- idle staff sessions ------------------------------------------------------------------


def test_an_idle_staff_session_is_signed_out_with_a_message(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.STAFF_IDLE_TIMEOUT = timedelta(minutes=30)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.force_login(UserFactory(role="receptionist"))
        assert client.get("/staff/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=25), tick=False):
        assert client.get("/staff/").status_code == 200  # activity keeps it alive
    with time_machine.travel(start + timedelta(minutes=50), tick=False):
        assert client.get("/staff/due/").status_code == 200  # 25 minutes after the last request
    with time_machine.travel(start + timedelta(minutes=81), tick=False):
        response = client.get("/staff/due/")
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=%2Fstaff%2Fdue%2F"
        login = client.get(response["Location"])
        assert "signed out after 30 minutes without activity" in login.content.decode()
        assert client.get("/staff/").status_code == 302  # really signed out
        assert client.get("/api/v1/patients/").status_code == 401


def test_an_idle_staff_api_session_answers_401(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.force_login(UserFactory(role="practitioner"))
        assert client.get("/api/v1/patients/").status_code == 200
    with time_machine.travel(start + settings.STAFF_IDLE_TIMEOUT + timedelta(minutes=1), tick=False):
        response = client.get("/api/v1/patients/")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_patients_stay_signed_in_however_long_they_pause(client: Client) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.force_login(PatientFactory().user)
        assert client.get("/appointments/").status_code == 200
    with time_machine.travel(start + timedelta(hours=6), tick=False):
        assert client.get("/appointments/").status_code == 200


def test_a_database_outage_in_the_staff_guards_answers_503_not_the_page(client: Client) -> None:
    from django.db import OperationalError, connection

    client.force_login(UserFactory(role="practitioner"))

    def refuse(*args: object) -> None:
        raise OperationalError("connection refused")

    with connection.execute_wrapper(refuse):
        response = client.get("/staff/patients/")
    assert response.status_code == 503
