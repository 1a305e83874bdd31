"""The staff second factor in a real browser: a practitioner enrols a phone on a
desktop (the secret typed by hand, the code computed here as the phone would),
saves the recovery codes, then signs in again on a phone and answers a code."""

from __future__ import annotations

import re
from base64 import b32decode
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.browser.axe import WCAG_AA
from tests.factories import UserFactory

pytestmark = pytest.mark.second_factor_enforced

PASSWORD = "correct-horse-battery"


def assert_accessible(page: Any) -> None:
    violations = Axe().run(page, options=WCAG_AA).response["violations"]
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations]


def phone_code(secret: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for this base32 secret (30 s steps, 6 digits)."""
    key = b32decode(secret.replace(" ", ""))
    return f"{totp(key, 30, -30 * steps_ahead, 6):06d}"


def sign_in(page: Any, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/staff/patients/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_practitioner_enrols_then_signs_in_with_a_code(page: Any, base_url: str, shot: Any) -> None:
    user = UserFactory(role="practitioner")
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, base_url, user.email)

    expect(page).to_have_url(re.compile(r"/staff/second-factor/enrol/\?next=%2Fstaff%2Fpatients%2F$"))
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    shot("enrol-desktop")
    assert_accessible(page)

    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("Code").fill(phone_code(secret))
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(re.compile(r"/staff/second-factor/recovery-codes/"))
    codes = page.locator("#recovery-codes code")
    expect(codes).to_have_count(10)
    shot("recovery-codes-desktop")
    assert_accessible(page)
    # The form will not go on until the box is ticked.
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/second-factor/recovery-codes/"))
    page.get_by_label("I have saved my recovery codes").check()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/patients/$"))
    assert TOTPDevice.objects.get(user=user).confirmed

    page.get_by_role("button", name="Sign out").click()

    # Next morning, on a phone: the password, then the code.
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, base_url, user.email)
    expect(page).to_have_url(re.compile(r"/staff/second-factor/\?next="))
    page.get_by_label("Code").fill("000000" if phone_code(secret, 1) != "000000" else "111111")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("That code is not right.")).to_be_visible()
    shot("wrong-code-phone")
    assert_accessible(page)
    page.wait_for_timeout(1100)  # the throttle after one wrong code
    page.get_by_label("Code").fill(phone_code(secret, 1))  # the code used at enrolment cannot be replayed
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/patients/$"))
    shot("signed-in-phone")
