"""The page shell without a browser: the brand sheet and favicon, messages of htmx
answers, and the registration checks (the browser tests: tests/browser/test_page_shell.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib import messages
from django.contrib.messages.storage.session import SessionStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django_htmx.middleware import HtmxDetails

from clinic import brand
from clinic.toasts import EVENT, HtmxMessagesMiddleware
from portal.book.forms import RegisterForm

pytestmark = pytest.mark.django_db


# --- brand ---------------------------------------------------------------------------------


def test_every_page_links_the_favicon_and_the_accent_sheet(client: Any, settings: Any) -> None:
    settings.CLINIC_ACCENT = "#7a2e8e"
    page = client.get("/").content.decode()
    assert f'href="{brand.favicon_url()}"' in page
    assert f'href="{brand.stylesheet_url()}"' in page
    assert f'src="{brand.logo_url()}"' in page
    sheet = client.get(brand.stylesheet_url())
    assert sheet.status_code == 200 and sheet["Content-Type"].startswith("text/css")
    assert "--accent: #7a2e8e;" in sheet.content.decode()


def test_a_new_accent_gets_a_new_sheet_address(settings: Any) -> None:
    settings.CLINIC_ACCENT = "#0f6e6e"
    before = brand.stylesheet_url()
    settings.CLINIC_ACCENT = "#7a2e8e"
    assert brand.stylesheet_url() != before


def test_favicon_ico_leads_to_the_configured_favicon(client: Any, settings: Any) -> None:
    settings.CLINIC_FAVICON = "clinic/brand/logo.svg"
    answer = client.get("/favicon.ico")
    assert answer.status_code == 302 and answer["Location"] == brand.favicon_url()
    assert answer["Location"].endswith(".svg")


@pytest.mark.parametrize("colour", ["#f4d03f", "#ffffff", "#9be7ff", "#0f6e6e", "#000000"])
def test_the_accent_is_readable_with_white_text_whatever_the_setting(colour: str) -> None:
    colours = brand.palette(colour)
    assert brand.contrast(colours["accent"], "#ffffff") >= 4.5
    assert brand.contrast(colours["accent-dark"], "#ffffff") >= brand.contrast(colours["accent"], "#ffffff")


def test_a_readable_accent_is_kept_as_it_is() -> None:
    assert brand.palette("#0f6e6e")["accent"] == "#0f6e6e"


# --- messages of htmx answers ----------------------------------------------------------------


def _request(*, htmx: bool) -> HttpRequest:
    request = RequestFactory().post("/staff/x/", HTTP_HX_REQUEST="true" if htmx else None)
    if not htmx:
        del request.META["HTTP_HX_REQUEST"]
    request.session = SessionStore()
    request._messages = SessionStorage(request)  # type: ignore[attr-defined]
    request.htmx = HtmxDetails(request)  # type: ignore[attr-defined]
    return request


def _answer(request: HttpRequest, view: Any) -> HttpResponse:
    return HtmxMessagesMiddleware(view)(request)  # type: ignore[return-value]


def test_an_htmx_answer_carries_the_messages_nobody_showed() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        messages.success(request, "Booked Glycolic peel for Wing Lee.")
        response = HttpResponse("<p>fragment</p>")
        response["HX-Trigger"] = json.dumps({"schedule-changed": {}})
        return response

    request = _request(htmx=True)
    response = _answer(request, view)
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["schedule-changed"] == {}  # the view's own events are kept
    assert trigger[EVENT] == {"messages": [{"message": "Booked Glycolic peel for Wing Lee.", "tags": "success"}]}
    assert request._messages.used  # type: ignore[attr-defined]  # so they are not shown again on the next page


def test_a_plain_event_name_of_the_view_is_kept_beside_the_messages() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        messages.warning(request, "Closed that day.")
        response = HttpResponse("<p>fragment</p>")
        response["HX-Trigger"] = "schedule-changed, panel-closed"
        return response

    trigger = json.loads(_answer(_request(htmx=True), view)["HX-Trigger"])
    assert set(trigger) == {"schedule-changed", "panel-closed", EVENT}
    assert trigger[EVENT]["messages"][0]["tags"] == "warning"


def test_messages_a_fragment_showed_or_a_redirect_leaves_are_not_sent_again() -> None:
    def shown(request: HttpRequest) -> HttpResponse:
        messages.info(request, "Shown in place.")
        return HttpResponse("".join(str(m) for m in messages.get_messages(request)))

    def redirected(request: HttpRequest) -> HttpResponse:
        messages.info(request, "For the next page.")
        response = HttpResponse(status=204)
        response["HX-Redirect"] = "/staff/"
        return response

    assert "HX-Trigger" not in _answer(_request(htmx=True), shown)
    request = _request(htmx=True)
    assert "HX-Trigger" not in _answer(request, redirected)
    assert [str(m) for m in request._messages] == ["For the next page."]  # type: ignore[attr-defined]


def test_a_full_page_keeps_its_messages_for_the_page() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        messages.success(request, "Saved.")
        return HttpResponse("page")

    assert "HX-Trigger" not in _answer(_request(htmx=False), view)


def test_staff_pages_show_messages_as_toasts_in_a_live_region(client: Any) -> None:
    from tests.pages.staff_fixtures import make_clinic

    clinic = make_clinic()
    client.force_login(clinic.receptionist)
    session = client.session
    session.save()
    page = client.get(reverse("staff:schedule")).content.decode()
    assert '<div id="toasts" class="toasts" role="status" aria-live="polite">' in page


# --- registration ------------------------------------------------------------------------


def test_submit_reports_a_weak_password_with_every_other_error() -> None:
    form = RegisterForm({"full_name": "Chan Tai Man", "email": "not-an-email", "password": "short"})
    assert not form.is_valid()
    assert {"email", "phone", "date_of_birth", "password"} <= set(form.errors)
    assert any("too short" in message for message in form.errors["password"])


def test_a_password_like_the_email_is_refused_by_the_form_as_by_the_service() -> None:
    form = RegisterForm({"email": "chantaiman@example.com", "password": "chantaiman1"})
    form.is_valid()
    assert any("similar" in message for message in form.errors["password"])


def test_one_field_is_checked_in_the_patients_language(client: Any, settings: Any) -> None:
    url = reverse("site:register_check")
    answer = client.post(url, {"field": "password", "password": "12345"}).json()
    assert answer["field"] == "password" and any("too short" in e for e in answer["errors"])
    assert client.post(url, {"field": "password", "password": "a-much-better-passphrase"}).json()["errors"] == []
    # A field left empty is not an error yet; an unknown field has none.
    assert client.post(url, {"field": "email", "email": ""}).json()["errors"] == []
    assert client.post(url, {"field": "nonsense", "nonsense": "x"}).json()["errors"] == []
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    chinese = client.post(url, {"field": "password", "password": "12345"}).json()["errors"]
    assert chinese and all(any("\u4e00" <= c <= "\u9fff" for c in e) for e in chinese)
    assert client.get(url).status_code == 405
