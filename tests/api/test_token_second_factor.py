"""POST /api/v1/auth/token/ for roles that must pass the second factor: the
token API must not be a way around it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.factories import PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.second_factor_enforced]

URL = "/api/v1/auth/token/"
PASSWORD = "correct-horse-battery"


def code_of(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def enrolled(role: str = "practitioner"):  # type: ignore[no-untyped-def]
    user = UserFactory(role=role)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    static = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    static.token_set.create(token="abcd2345")
    return user, device


def ask(body: dict) -> tuple[int, dict]:
    response = APIClient().post(URL, body, format="json")
    return response.status_code, response.json()


def wrong(device: TOTPDevice) -> str:
    return "000000" if code_of(device) != "000000" else "111111"


@pytest.mark.parametrize("role", ["practitioner", "manager"])
def test_clinicians_need_the_code_for_a_token(role: str) -> None:
    user, device = enrolled(role)
    status, body = ask({"email": user.email, "password": PASSWORD})
    assert status == 400
    assert body["code"] == "invalid"
    assert "otp" in body["fields"]

    status, body = ask({"email": user.email, "password": PASSWORD, "otp": wrong(device)})
    assert (status, body["code"]) == (400, "invalid")
    assert body["fields"]["otp"] == ["That code is not right."]

    with time_machine.travel(timezone.now() + timedelta(seconds=2), tick=False):
        status, body = ask({"email": user.email, "password": PASSWORD, "otp": code_of(device)})
    assert status == 200
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {body['token']}").get("/api/v1/patients/").status_code == 200


def test_a_wrong_password_is_refused_before_the_code_is_looked_at() -> None:
    user, device = enrolled()
    status, body = ask({"email": user.email, "password": "nope-nope-nope", "otp": code_of(device)})
    assert status == 400
    assert "password" in body["fields"]
    assert TOTPDevice.objects.get(pk=device.pk).throttling_failure_count == 0


def test_a_clinician_without_a_device_is_told_to_set_it_up_on_the_staff_pages() -> None:
    user = UserFactory(role="practitioner")
    status, body = ask({"email": user.email, "password": PASSWORD, "otp": "123456"})
    assert status == 400
    assert "staff pages" in body["fields"]["otp"][0]
    assert "staff pages" in body["detail"]


def test_a_recovery_code_gives_one_token() -> None:
    user, _device = enrolled()
    assert ask({"email": user.email, "password": PASSWORD, "otp": "abcd2345"})[0] == 200
    assert ask({"email": user.email, "password": PASSWORD, "otp": "abcd2345"})[0] == 400


def test_repeated_wrong_codes_are_throttled_with_429() -> None:
    user, device = enrolled()
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        assert ask({"email": user.email, "password": PASSWORD, "otp": wrong(device)})[0] == 400
        status, body = ask({"email": user.email, "password": PASSWORD, "otp": code_of(device)})
    assert (status, body["code"]) == (429, "throttled")
    with time_machine.travel(now + timedelta(seconds=3), tick=False):
        assert ask({"email": user.email, "password": PASSWORD, "otp": code_of(device)})[0] == 200


def test_receptionists_and_patients_need_no_code_by_default() -> None:
    receptionist = UserFactory(role="receptionist")
    patient = PatientFactory()
    assert ask({"email": receptionist.email, "password": PASSWORD})[0] == 200
    assert ask({"email": patient.user.email, "password": PASSWORD})[0] == 200
    # A stray otp from a client that always sends one does no harm.
    assert ask({"email": patient.user.email, "password": PASSWORD, "otp": ""})[0] == 200


def test_the_roles_are_a_setting(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CLINIC_SECOND_FACTOR_ROLES = ["receptionist", "practitioner", "manager"]
    receptionist = UserFactory(role="receptionist")
    assert ask({"email": receptionist.email, "password": PASSWORD})[0] == 400


def test_odd_otp_values_are_a_400_never_a_500() -> None:
    user, _device = enrolled()
    for otp in (123456, None, ["123456"], {"a": 1}, "x" * 5000, "\x00123456", "１２３４５６"):
        status, body = ask({"email": user.email, "password": PASSWORD, "otp": otp})
        assert status in (400, 429), (otp, status)
        assert body["code"] in ("invalid", "throttled")


def test_the_schema_documents_the_otp_field() -> None:
    schema = APIClient().get("/api/v1/schema/?format=json").json()
    request = schema["components"]["schemas"]["TokenRequestRequest"]
    assert "otp" in request["properties"]
    assert "otp" not in request.get("required", [])
    operation = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert {"200", "400", "429"} <= set(operation["responses"])
    assert "otp" in operation["description"]


def test_a_reset_link_gives_a_clinician_a_token_only_with_a_code() -> None:
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user, device = enrolled()
    link = {"uid": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)}
    url = "/api/v1/auth/password-reset/confirm/"

    refused = APIClient().post(url, {**link, "password": "a-brand-new-passphrase"}, format="json")
    assert refused.status_code == 400
    assert "otp" in refused.json()["fields"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # nothing changed

    done = APIClient().post(url, {**link, "password": "a-brand-new-passphrase", "otp": code_of(device)}, format="json")
    assert done.status_code == 200
    user.refresh_from_db()
    assert user.check_password("a-brand-new-passphrase")
    assert "token" in done.json()
