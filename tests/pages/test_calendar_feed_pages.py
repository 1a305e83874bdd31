"""The calendar feed pages: a practitioner's own in the workspace (from the
schedule), the managers' list under Manage, and the patient's /me/calendar/
(from /me/). Each role sees what it may, and every button does what it says
to the address a calendar subscribed to."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from booking import feeds
from booking.models import CalendarFeed
from tests.factories import PatientFactory, PractitionerFactory, UserFactory
from tests.pages.helpers import assert_translated

pytestmark = pytest.mark.django_db

STAFF_PAGE = "/staff/calendar-feed/"
MANAGER_LIST = "/staff/calendar-feeds/"
PATIENT_PAGE = "/me/calendar/"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-Hant"}


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown_address(html: str) -> str:
    found = re.search(r'id="feed-url" value="([^"]+)"', html)
    assert found, "no address on the page"
    return found.group(1)


def fetch(address: str) -> int:
    return Client().get("/" + address.split("://", 1)[1].split("/", 1)[1]).status_code


def live(user: Any) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).first()


# --- a practitioner -----------------------------------------------------------------------


def test_a_practitioner_makes_copies_resets_and_turns_off_their_feed() -> None:
    practitioner = PractitionerFactory()
    browser = signed_in(practitioner.user)

    page = browser.get(STAFF_PAGE)
    assert page.status_code == 200
    assert "Create my calendar link" in page.text
    assert 'id="feed-url"' not in page.text

    made = browser.post(STAFF_PAGE, {"action": "create", "language": "en"}, follow=True)
    assert "Your calendar link is ready." in made.text
    address = shown_address(made.text)
    feed = live(practitioner.user)
    assert feed is not None and address.endswith(f"/calendar/{feed.token}.ics")
    assert 'href="webcal://' in made.text
    assert 'data-copy="feed-url"' in made.text
    assert 'src="/static/clinic/feeds.js"' in made.text
    assert made["Cache-Control"] == "private, no-store"
    assert fetch(address) == 200

    reset = browser.post(STAFF_PAGE, {"action": "reset", "language": "zh-hant"}, follow=True)
    assert "the old one has stopped working" in reset.text
    assert fetch(address) == 404
    new_address = shown_address(reset.text)
    assert new_address != address and fetch(new_address) == 200
    assert live(practitioner.user).language == "zh-hant"

    off = browser.post(STAFF_PAGE, {"action": "revoke"}, follow=True)
    assert "Your calendar feed is off" in off.text
    assert fetch(new_address) == 404
    assert live(practitioner.user) is None
    assert "Create my calendar link" in off.text

    again = browser.post(STAFF_PAGE, {"action": "revoke"}, follow=True)
    assert "already off" in again.text


def test_an_unknown_action_changes_nothing() -> None:
    practitioner = PractitionerFactory()
    feeds.feed_create(user=practitioner.user, kind="practitioner")
    before = list(CalendarFeed.objects.values_list("pk", "revoked_at"))
    signed_in(practitioner.user).post(STAFF_PAGE, {"action": "launch", "language": "x" * 5000})
    assert list(CalendarFeed.objects.values_list("pk", "revoked_at")) == before


def test_the_page_is_in_chinese_and_the_language_defaults_to_the_pages() -> None:
    practitioner = PractitionerFactory()
    browser = signed_in(practitioner.user)
    page = browser.get(STAFF_PAGE, **ZH)
    assert "建立我的日曆連結" in page.text
    assert '<option value="zh-hant" lang="zh-Hant-HK" selected>' in page.text
    browser.post(STAFF_PAGE, {"action": "create"}, **ZH)
    assert live(practitioner.user).language == "zh-hant"


def test_the_schedule_offers_a_practitioner_their_feed_and_a_receptionist_nothing() -> None:
    practitioner = PractitionerFactory()
    assert 'href="/staff/calendar-feed/"' in signed_in(practitioner.user).get("/staff/").text
    assert 'href="/staff/calendar-feed/"' not in signed_in(UserFactory(role="receptionist")).get("/staff/").text


def test_a_receptionist_is_told_there_is_no_schedule_of_theirs() -> None:
    browser = signed_in(UserFactory(role="receptionist"))
    page = browser.get(STAFF_PAGE)
    assert page.status_code == 200
    assert "Your login has no practitioner profile" in page.text
    assert "Create my calendar link" not in page.text
    assert MANAGER_LIST not in page.text
    browser.post(STAFF_PAGE, {"action": "create"})
    assert not CalendarFeed.objects.exists()


def test_a_patient_cannot_open_the_workspace_pages() -> None:
    browser = signed_in(PatientFactory().user)
    for url in (STAFF_PAGE, MANAGER_LIST):
        assert browser.get(url).status_code == 403
        assert browser.post(url, {"action": "create"}).status_code == 403
    assert not CalendarFeed.objects.exists()


# --- a manager ----------------------------------------------------------------------------


def test_a_manager_sees_who_has_a_feed_and_turns_one_off() -> None:
    with_feed, without = PractitionerFactory(), PractitionerFactory()
    feed = feeds.feed_create(user=with_feed.user, kind="practitioner")
    manager = UserFactory(role="manager")
    browser = signed_in(manager)

    menu = browser.get("/staff/")
    assert f'href="{MANAGER_LIST}"' in menu.text
    page = browser.get(MANAGER_LIST)
    assert page.status_code == 200
    assert with_feed.name in page.text and without.name in page.text
    assert "1 feed is on." in page.text
    assert feed.token not in page.text  # only its owner sees the address

    browser.post(MANAGER_LIST, {"feed": feed.pk}, follow=True)
    feed.refresh_from_db()
    assert (feed.revoked_by, feed.is_live) == (manager, False)
    assert Client().get(f"/calendar/{feed.token}.ics").status_code == 404
    assert "0 feeds are on." in browser.get(MANAGER_LIST).text


@pytest.mark.parametrize("posted", ["", "abc", "99999999999999999999", "-1", "999999"])
def test_turning_off_a_feed_that_is_not_there_says_so(posted: str) -> None:
    feed = feeds.feed_create(user=PractitionerFactory().user, kind="practitioner")
    page = signed_in(UserFactory(role="manager")).post(MANAGER_LIST, {"feed": posted}, follow=True)
    assert page.status_code == 200
    assert "already off" in page.text
    feed.refresh_from_db()
    assert feed.is_live


def test_a_manager_cannot_turn_off_a_patients_feed_from_the_list() -> None:
    feed = feeds.feed_create(user=PatientFactory().user, kind="patient")
    signed_in(UserFactory(role="manager")).post(MANAGER_LIST, {"feed": feed.pk})
    feed.refresh_from_db()
    assert feed.is_live


def test_a_manager_without_a_practitioner_profile_is_pointed_to_the_list() -> None:
    page = signed_in(UserFactory(role="manager")).get(STAFF_PAGE)
    assert "Your login has no practitioner profile" in page.text
    assert f'href="{MANAGER_LIST}"' in page.text


@pytest.mark.parametrize("role", ["receptionist", "practitioner"])
def test_only_managers_see_the_list(role: str) -> None:
    user = UserFactory(role=role)
    if role == "practitioner":
        PractitionerFactory(user=user)
    browser = signed_in(user)
    assert browser.get(MANAGER_LIST).status_code == 403
    assert f'href="{MANAGER_LIST}"' not in browser.get("/staff/").text


# --- a patient ----------------------------------------------------------------------------


def test_a_patient_reaches_their_calendar_link_from_their_account() -> None:
    patient = PatientFactory()
    browser = signed_in(patient.user)
    account = browser.get("/me/")
    assert "Add your appointments to your calendar" in account.text
    assert f'href="{PATIENT_PAGE}"' in account.text

    page = browser.get(PATIENT_PAGE)
    assert page.status_code == 200
    assert 'id="feed-language"' not in page.text  # a patient's follows their preferred language

    made = browser.post(PATIENT_PAGE, {"action": "create"}, follow=True)
    address = shown_address(made.text)
    assert live(patient.user).kind == "patient"
    assert fetch(address) == 200
    assert "in English, your preferred language" in made.text

    reset = browser.post(PATIENT_PAGE, {"action": "reset"}, follow=True)
    assert fetch(address) == 404
    assert fetch(shown_address(reset.text)) == 200

    browser.post(PATIENT_PAGE, {"action": "revoke"})
    assert live(patient.user) is None


def test_a_patient_sees_only_their_own_address() -> None:
    alice, bob = PatientFactory(), PatientFactory()
    feed = feeds.feed_create(user=alice.user, kind="patient")
    page = signed_in(bob.user).get(PATIENT_PAGE)
    assert feed.token not in page.text
    assert "Create my calendar link" in page.text
    signed_in(bob.user).post(PATIENT_PAGE, {"action": "revoke"})
    feed.refresh_from_db()
    assert feed.is_live


def test_staff_have_no_patient_calendar_page() -> None:
    assert signed_in(PractitionerFactory().user).get(PATIENT_PAGE).status_code == 403


def test_the_patients_page_in_chinese() -> None:
    patient = PatientFactory(preferred_language="zh-hant")
    browser = signed_in(patient.user)
    browser.post(PATIENT_PAGE, {"action": "create"}, **ZH)
    page = browser.get(PATIENT_PAGE, **ZH)
    assert "你的日曆連結" in page.text
    assert "以繁體中文" in page.text
    assert_translated(page.content, allow=[patient.full_name])
