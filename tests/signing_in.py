"""Signing in as a test: through the API as an app does, or through the sign-in page as a
browser does, with user agents that name the device. Shared by the token and device tests."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from patients.second_factor import second_factor_required

PASSWORD = "correct-horse-battery"  # the factories' password
NEW_PASSWORD = "a-brand-new-passphrase-7"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Safari/604.1"
ANDROID_APP = "okhttp/4.12.0 (Linux; Android 14)"
LAPTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def api_sign_in(user: Any, password: str = PASSWORD, *, user_agent: str = ANDROID_APP) -> APIClient:
    """A device signing in through the API, as an app would; staff who need a second factor
    give a recovery code."""
    client = APIClient(HTTP_USER_AGENT=user_agent)
    body = {"email": user.email, "password": password}
    if second_factor_required(user):
        TOTPDevice.objects.get_or_create(user=user, name="phone", defaults={"confirmed": True})
        device, _ = StaticDevice.objects.get_or_create(user=user, name="recovery codes", defaults={"confirmed": True})
        body["otp"] = device.token_set.create(token=StaticToken.random_token()).token
    response = client.post("/api/v1/auth/token/", body, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    return client


def page_sign_in(browser: Client, user: Any) -> None:
    """Signs in through the sign-in page, as a browser does (its user agent names the device)."""
    response = browser.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]


def browser_signed_in(user: Any, user_agent: str = LAPTOP, *, landing: str = "/me/") -> Client:
    """A browser signed in through the page, checked on ``landing``."""
    browser = Client(HTTP_USER_AGENT=user_agent)
    page_sign_in(browser, user)
    assert browser.get(landing).status_code == 200
    return browser


def signed_out(browser: Client, path: str = "/me/") -> bool:
    """Whether ``browser`` is sent to the sign-in page from ``path``."""
    response = browser.get(path)
    return response.status_code == 302 and response.headers["Location"].startswith("/accounts/login/")
