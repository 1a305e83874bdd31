"""The signed-in devices page (/me/devices/) and the password pages signing the
login out everywhere else."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.test import APIClient

from patients.models import SignedInDevice
from patients.services import token_issue
from tests.factories import PatientFactory, UserFactory
from tests.pages.helpers import assert_translated
from tests.signing_in import IPHONE, LAPTOP, NEW_PASSWORD, PASSWORD, browser_signed_in, signed_out

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hant"}


def _browser(user: Any, user_agent: str = LAPTOP) -> Client:
    return browser_signed_in(user, user_agent, landing="/me/devices/")


def _signed_out(browser: Client) -> bool:
    return signed_out(browser, "/me/devices/")


def _app(user: Any, user_agent: str = IPHONE) -> APIClient:
    app = APIClient()
    app.credentials(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=user, user_agent=user_agent)}")
    return app


# --- who may see what ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/me/devices/"), ("post", "/me/devices/1/sign-out/"), ("post", "/me/devices/sign-out-others/")],
)
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, method: str, path: str) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/?next=")


def test_the_account_page_links_to_the_devices(client: Client) -> None:
    client.force_login(PatientFactory().user)
    assert 'href="/me/devices/"' in client.get("/me/").text


def test_a_patient_sees_their_devices_and_this_one_first() -> None:
    patient = PatientFactory()
    _app(patient.user)
    _browser(patient.user, IPHONE)
    _app(PatientFactory().user, "okhttp/4.12 (Android 14)")  # another patient's
    page = _browser(patient.user, LAPTOP).get("/me/devices/")
    assert page.status_code == 200
    assert "no-store" in page.headers["Cache-Control"]
    text = page.text
    assert text.count('action="/me/devices/') == 4  # three devices and "every other"
    assert "Chrome on Windows" in text and text.count("Safari on iPhone") == 2
    assert "An app on Android" not in text
    assert text.index("This device") < text.index("Safari on iPhone")
    assert "Last used" in text and "Signed in" in text


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_see_their_own_devices(role: str) -> None:
    staff = UserFactory(role=role)
    _app(staff)
    _app(PatientFactory().user)
    page = _browser(staff).get("/me/devices/")
    assert page.status_code == 200
    assert page.text.count("Safari on iPhone") == 1 and "This device" in page.text


def test_the_devices_page_in_chinese_is_fully_translated() -> None:
    patient = PatientFactory(preferred_language="zh-hant")  # signing in sets the language it chose
    _app(patient.user)
    page = _browser(patient.user).get("/me/devices/", **ZH)
    assert "已登入的裝置" in page.text and "iPhone 上的 Safari" in page.text
    assert_translated(page.content, allow=["Chrome", "Windows", "Safari", "iPhone"])


# --- signing out -----------------------------------------------------------------------------


def test_signing_out_one_device_revokes_its_token() -> None:
    patient = PatientFactory()
    lost = _app(patient.user)
    browser = _browser(patient.user)
    device = SignedInDevice.objects.get(user=patient.user, kind="token")
    response = browser.post(f"/me/devices/{device.pk}/sign-out/", follow=True)
    assert "That device is signed out." in response.text
    assert lost.get("/api/v1/me/").status_code == 401
    assert browser.get("/me/devices/").status_code == 200


def test_signing_out_another_browser_ends_its_session() -> None:
    patient = PatientFactory()
    other = _browser(patient.user, IPHONE)
    browser = _browser(patient.user)
    device = SignedInDevice.objects.get(user=patient.user, user_agent=IPHONE)
    browser.post(f"/me/devices/{device.pk}/sign-out/")
    assert _signed_out(other)
    assert not _signed_out(browser)


def test_signing_out_this_browser_signs_out_here() -> None:
    patient = PatientFactory()
    browser = _browser(patient.user)
    device = SignedInDevice.objects.get(user=patient.user)
    response = browser.post(f"/me/devices/{device.pk}/sign-out/")
    assert response.status_code == 302 and response.headers["Location"] == "/accounts/login/"
    assert _signed_out(browser)


def test_another_patients_device_cannot_be_signed_out() -> None:
    alice, bob = PatientFactory(), PatientFactory()
    alices_app = _app(alice.user)
    device = SignedInDevice.objects.get(user=alice.user)
    response = _browser(bob.user).post(f"/me/devices/{device.pk}/sign-out/", follow=True)
    assert "That device was already signed out." in response.text
    assert alices_app.get("/api/v1/me/").status_code == 200


def test_signing_out_every_other_device_keeps_this_one() -> None:
    patient, other_patient = PatientFactory(), PatientFactory()
    app, tablet = _app(patient.user), _browser(patient.user, IPHONE)
    others_app = _app(other_patient.user)
    browser = _browser(patient.user)
    response = browser.post("/me/devices/sign-out-others/", follow=True)
    assert "You are signed out on every other device." in response.text
    assert app.get("/api/v1/me/").status_code == 401
    assert _signed_out(tablet)
    assert not _signed_out(browser)
    assert others_app.get("/api/v1/me/").status_code == 200


# --- the password pages ------------------------------------------------------------------------


def test_changing_the_password_on_the_page_signs_out_every_other_device() -> None:
    patient = PatientFactory()
    app = _app(patient.user)
    tablet = _browser(patient.user, IPHONE)
    browser = _browser(patient.user)
    response = browser.post(
        "/me/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "You are signed out on every other device." in response.text
    assert app.get("/api/v1/me/").status_code == 401
    assert _signed_out(tablet)
    assert not _signed_out(browser)
    assert Session.objects.count() == 1


def test_a_wrong_current_password_on_the_page_signs_nobody_out() -> None:
    patient = PatientFactory()
    app = _app(patient.user)
    browser = _browser(patient.user)
    response = browser.post(
        "/me/password/", {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 200 and 'id="id_old_password_error"' in response.text
    assert app.get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("role", ["receptionist", "practitioner", "manager"])
def test_staff_changing_their_password_sign_out_their_other_devices(role: str) -> None:
    staff = UserFactory(role=role)
    app = _app(staff)
    browser = Client()
    browser.force_login(staff)
    response = browser.post(
        "/me/password/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert app.get("/api/v1/appointments/").status_code == 401
    assert browser.get("/me/password/").status_code == 200


def test_resetting_the_password_on_the_page_signs_out_every_device(
    mailoutbox: list, django_capture_on_commit_callbacks: Any
) -> None:
    patient = PatientFactory()
    app = _app(patient.user)
    laptop = _browser(patient.user)
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password-reset/", {"email": patient.email})
    link = re.search(r"http://testserver(/account/reset/[^/\s]+/[^/\s]+/)", mailoutbox[-1].body)
    assert link
    form = client.get(link.group(1))
    done = client.post(form.headers["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert app.get("/api/v1/me/").status_code == 401
    assert _signed_out(laptop)
    assert client.get("/me/").status_code == 200  # the device that reset is signed in
