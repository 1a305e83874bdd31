"""Managers' webhook pages (workspace/webhooks): the list with how each
subscription is going, a new one, one with its secret and actions, its
delivery log with "Send again"; everyone else is refused."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from booking import webhooks
from booking.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from clinic import events
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

PUBLIC = "https://93.184.215.14/hooks/clinic"


@pytest.fixture
def manager(client: Client) -> Any:
    user = UserFactory(role="manager")
    client.force_login(user)
    return user


def subscription(manager: Any, **kwargs: Any) -> WebhookSubscription:
    values = {"url": PUBLIC, "events": [events.APPOINTMENT_CREATED], "description": "Accounting", **kwargs}
    return webhooks.subscription_create(by=manager, **values)


def delivered(target: WebhookSubscription, *answers: int, status: str = "sent", hours_ago: int = 0) -> WebhookDelivery:
    """A delivery of ``target`` whose attempts, an hour apart, the last ``hours_ago``, were
    answered ``answers`` (0: no connection)."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        subscription=target,
        event_type=events.APPOINTMENT_CREATED,
        event_key=f"appointment.created:appointment:{WebhookDelivery.objects.count() + 1}:0",
        message_id=f"msg_{WebhookDelivery.objects.count() + 1:032d}",
        body=json.dumps({"type": "appointment.created", "data": {"id": 1}}),
        status=status,
        attempts=len(answers),
        next_attempt_at=now,
        sent_at=now if status == "sent" else None,
        last_status_code=answers[-1] or None,
        last_error="" if status == "sent" else (f"http_{answers[-1]}" if answers[-1] else "connection"),
    )
    for index, code in enumerate(answers):
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=now - timedelta(hours=hours_ago + len(answers) - 1 - index),
            status_code=code or None,
            duration_ms=120,
            error="" if 200 <= code < 300 else (f"http_{code}" if code else "connection"),
        )
    return delivery


@pytest.mark.parametrize("role", ["receptionist", "practitioner"])
def test_only_managers_see_the_webhook_pages(client: Client, role: str) -> None:
    target = subscription(UserFactory(role="manager"))
    client.force_login(UserFactory(role=role))
    for name, args in [("webhooks:list", []), ("webhooks:new", []), ("webhooks:subscription", [target.pk])]:
        assert client.get(reverse(name, args=args)).status_code == 403
    assert client.post(reverse("webhooks:rotate", args=[target.pk])).status_code == 403
    assert client.post(reverse("webhooks:delete", args=[target.pk])).status_code == 403
    assert WebhookSubscription.objects.get().secret == target.secret


def test_the_manage_menu_leads_to_the_webhooks(client: Client, manager: Any) -> None:
    page = client.get(reverse("staff:schedule")).content.decode()
    assert reverse("webhooks:list") in page
    client.force_login(UserFactory(role="receptionist"))
    assert reverse("webhooks:list") not in client.get(reverse("staff:schedule")).content.decode()


def test_a_manager_subscribes_and_gets_the_secret(client: Client, manager: Any) -> None:
    response = client.post(
        reverse("webhooks:new"),
        {
            "url": PUBLIC,
            "description": "Marketing CRM",
            "events": [events.APPOINTMENT_CREATED, events.PATIENT_CREATED],
            "active": "on",
        },
    )
    created = WebhookSubscription.objects.get()
    assert response.headers["Location"] == reverse("webhooks:subscription", args=[created.pk])
    assert (created.events, created.clinical, created.created_by) == (
        [events.APPOINTMENT_CREATED, events.PATIENT_CREATED],
        False,
        manager,
    )
    page = client.get(response.headers["Location"]).content.decode()
    assert created.secret in page
    assert "Give its secret to the receiving system" in page


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://93.184.215.14/hooks", "Use an https:// address"),
        ("https://192.168.0.5/hooks", "private network"),
        ("https://me:pw@93.184.215.14/", "user name and password"),
    ],
)
def test_a_refused_address_is_shown_in_place_with_what_was_typed(
    client: Client, manager: Any, url: str, says: str
) -> None:
    response = client.post(reverse("webhooks:new"), {"url": url, "description": "CRM", "events": [events.PLAN_CREATED]})
    assert response.status_code == 400
    page = response.content.decode()
    assert says in page
    assert 'value="CRM"' in page
    assert re.search(r'value="plan\.created"[^>]*checked', page)
    assert not WebhookSubscription.objects.exists()


def test_no_event_chosen_is_refused(client: Client, manager: Any) -> None:
    response = client.post(reverse("webhooks:new"), {"url": PUBLIC})
    assert response.status_code == 400
    assert "Choose at least one event." in response.content.decode()


def test_the_form_explains_what_clinical_adds(client: Client, manager: Any) -> None:
    page = client.get(reverse("webhooks:new")).content.decode()
    assert "the patient&#x27;s name, email, phone and language" in page
    assert "ids, times and statuses only" in page


def test_editing_turns_clinical_on_and_sending_off(client: Client, manager: Any) -> None:
    target = subscription(manager)
    response = client.post(
        reverse("webhooks:subscription", args=[target.pk]),
        {"url": PUBLIC, "description": "Accounting", "events": [events.PLAN_CREATED], "clinical": "on"},
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.events, target.clinical, target.active) == ([events.PLAN_CREATED], True, False)


def test_rotating_shows_the_new_secret_and_until_when_the_old_one_signs(client: Client, manager: Any) -> None:
    target = subscription(manager)
    old = target.secret
    response = client.post(reverse("webhooks:rotate", args=[target.pk]), follow=True)
    target.refresh_from_db()
    page = response.content.decode()
    assert target.secret != old and target.previous_secret == old
    assert target.secret in page and old not in page
    assert "The previous secret also signs every message until" in page
    assert "every message is signed with the old secret as well" in page


def test_a_test_event_is_queued_for_that_subscription(client: Client, manager: Any) -> None:
    target = subscription(manager)
    response = client.post(reverse("webhooks:ping", args=[target.pk]), follow=True)
    assert WebhookDelivery.objects.get().event_type == "ping"
    assert "A test event is on its way" in response.content.decode()


def test_no_test_event_to_a_subscription_turned_off(client: Client, manager: Any) -> None:
    target = subscription(manager, active=False)
    response = client.post(reverse("webhooks:ping", args=[target.pk]), follow=True)
    assert not WebhookDelivery.objects.exists()
    assert "turned off" in response.content.decode()


def test_deleting_goes_back_to_the_list(client: Client, manager: Any) -> None:
    target = subscription(manager)
    response = client.post(reverse("webhooks:delete", args=[target.pk]))
    assert response.headers["Location"] == reverse("webhooks:list")
    assert not WebhookSubscription.objects.exists()


def test_a_subscription_failing_for_days_is_shown_not_silently_dropped(client: Client, manager: Any) -> None:
    healthy = subscription(manager, description="Accounting")
    delivered(healthy, 500, 200)
    broken = subscription(manager, description="Old CRM")
    delivered(broken, 200, hours_ago=80)
    for days in (3, 2, 1):
        delivered(broken, 500, 500, 0, status="failed", hours_ago=24 * days)
    page = client.get(reverse("webhooks:list")).content.decode()
    assert "1 subscription is failing:" in page
    assert "Old CRM" in page and "failing since" in page
    assert "Could not connect" in page  # the last attempt's error, in words
    row = webhooks.subscriptions_overview().get(pk=broken.pk)
    assert row.failed_count == 3
    since = webhooks.failing_since(row)
    assert since is not None and timedelta(hours=74) < timezone.now() - since < timedelta(hours=75)
    assert webhooks.failing_since(webhooks.subscriptions_overview().get(pk=healthy.pk)) is None


def test_the_delivery_log_shows_each_attempt_and_sends_a_failed_one_again(client: Client, manager: Any) -> None:
    target = subscription(manager)
    failed = delivered(target, 500, 502, 0, status="failed")
    delivered(target, 200)
    page = client.get(reverse("webhooks:deliveries", args=[target.pk])).content.decode()
    assert failed.message_id in page
    assert "The system answered 500" in page and "The system answered 502" in page and "Could not connect" in page
    assert "accepted (200)" in page
    assert page.count("Send again</button>") + page.count("Send again<span") == 1

    response = client.post(reverse("webhooks:send_again", args=[target.pk, failed.pk]), follow=True)
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)
    assert "same webhook-id" in response.content.decode()
    again = client.post(reverse("webhooks:send_again", args=[target.pk, failed.pk]), follow=True)
    assert "Only a failed delivery can be sent again." in again.content.decode()


def test_a_delivery_of_another_subscription_is_not_found(client: Client, manager: Any) -> None:
    one, other = subscription(manager), subscription(manager)
    delivery = delivered(other, 500, status="failed")
    response = client.post(reverse("webhooks:send_again", args=[one.pk, delivery.pk]))
    assert response.status_code == 404


def test_the_pages_speak_chinese(client: Client, manager: Any) -> None:
    target = subscription(manager)
    delivered(target, 500, status="failed")
    client.post(reverse("set_language"), {"language": "zh-hant", "next": "/staff/"})
    pages = {
        reverse("webhooks:list"): "接收系統",
        reverse("webhooks:new"): "接收系統的網址",
        reverse("webhooks:subscription", args=[target.pk]): "更換密鑰",
        reverse("webhooks:deliveries", args=[target.pk]): "傳送紀錄",
    }
    for url, chinese in pages.items():
        page = client.get(url).content.decode()
        assert chinese in page, url
        for english in ("Delivery log", "Rotate the secret", "Receiving system", "The system answered", "Send again<"):
            assert english not in page, (url, english)


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_list_makes_as_many_queries_for_many_subscriptions_as_for_one(client: Client, manager: Any) -> None:
    first = subscription(manager)
    delivered(first, 500, 200)
    client.get(reverse("webhooks:list"))  # warm-up
    one = _queries(client, reverse("webhooks:list"))
    for n in range(20):
        more = subscription(manager, description=f"System {n}")
        delivered(more, 500, status="failed")
        delivered(more, 200)
    assert _queries(client, reverse("webhooks:list")) == one


def test_the_log_and_the_subscription_page_make_flat_queries(client: Client, manager: Any) -> None:
    target = subscription(manager)
    delivered(target, 500, 200)
    urls = [reverse("webhooks:deliveries", args=[target.pk]), reverse("webhooks:subscription", args=[target.pk])]
    for url in urls:
        client.get(url)
    before = [_queries(client, url) for url in urls]
    for _ in range(20):
        delivered(target, 500, 502, 0, status="failed")
    assert [_queries(client, url) for url in urls] == before


def test_patients_data_never_shows_on_a_plain_subscriptions_log(client: Client, manager: Any) -> None:
    """The log shows codes and times, never a payload: not even a clinical one's."""
    from booking import services
    from tests.factories import HealthDeclarationFactory, PractitionerFactory, RoomFactory, TreatmentFactory

    subscription(manager, clinical=True)
    treatment = TreatmentFactory(slug="pico-laser")
    RoomFactory(kind=treatment.room_kind)
    practitioner = PractitionerFactory(treatments=[treatment])
    patient = PatientFactory(full_name="Ho Ka Ling")
    HealthDeclarationFactory(patient=patient)
    start = timezone.localtime() + timedelta(days=3)
    start = start.replace(hour=11, minute=0, second=0, microsecond=0)
    while start.weekday() == 6:
        start += timedelta(days=1)
    services.appointment_book(
        patient=patient, treatment=treatment, start=start, practitioner=practitioner, booked_by=manager, staff=True
    )
    target = WebhookSubscription.objects.get()
    assert "Ho Ka Ling" in WebhookDelivery.objects.get().body
    for url in (reverse("webhooks:deliveries", args=[target.pk]), reverse("webhooks:subscription", args=[target.pk])):
        assert "Ho Ka Ling" not in client.get(url).content.decode()
