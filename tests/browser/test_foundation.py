"""The frame every page shares, in a real browser: sign-in, the language switch, the policy."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.factories import PatientFactory


def test_language_switch_and_sign_in_on_a_phone(page: Any, base_url: str, shot: Any) -> None:
    patient = PatientFactory(preferred_language="en")
    console_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))

    page.goto(f"{base_url}/accounts/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot("sign-in-english")

    page.get_by_role("button", name="繁體中文").click()
    expect(page.get_by_role("heading", name="登入")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant-HK")
    shot("sign-in-chinese")

    # The choice is remembered on the next visit.
    page.goto(f"{base_url}/accounts/login/")
    expect(page.get_by_role("heading", name="登入")).to_be_visible()

    page.get_by_label("電郵").fill(patient.user.email)
    page.get_by_label("密碼").fill("wrong")
    page.get_by_label("密碼").press("Enter")
    expect(page.get_by_role("alert").filter(has_text="電郵或密碼不正確")).to_be_visible()
    expect(page.get_by_label("電郵")).to_have_value(patient.user.email)
    shot("wrong-password")

    # Nothing is wider than a 360 px phone, and the page broke no rule of the content security policy.
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
