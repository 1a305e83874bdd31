"""What a manager may subscribe, and the secret's life."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from booking import webhook_delivery, webhooks
from booking.models import WebhookDelivery, WebhookSubscription
from clinic import events
from clinic.errors import InvalidInput, InvalidState
from tests.webhooks.conftest import at, subscribe

pytestmark = pytest.mark.django_db


def refusal(url: str) -> str:
    with pytest.raises(InvalidInput) as raised:
        subscribe(url)
    return " ".join(str(text) for text in raised.value.fields["url"])


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://93.184.215.14/hooks", "https"),
        ("ftp://93.184.215.14/hooks", "full address"),
        ("https:///hooks", "full address"),
        ("93.184.215.14/hooks", "full address"),
        ("https://user:secret@93.184.215.14/hooks", "user name and password"),
        ("https://127.0.0.1/hooks", "private network"),
        ("https://localhost/hooks", "private network"),
        ("https://10.0.0.8/hooks", "private network"),
        ("https://169.254.169.254/latest/meta-data/", "private network"),
        ("https://[::1]/hooks", "private network"),
        ("https://[fd12::1]/hooks", "private network"),
        ("https://0.0.0.0/hooks", "private network"),
        ("https://no-such-host.invalid/hooks", "could not be found"),
        ("https://93.184.215.14:99999/hooks", "full address"),
        ("https://93.184.215.14/ho oks", "full address"),
        ("https://93.184.215.14/" + "x" * 500, "full address"),
    ],
)
def test_addresses_a_subscriber_may_not_have_are_refused_when_saved(url: str, says: str) -> None:
    assert says in refusal(url)
    assert not WebhookSubscription.objects.exists()


def test_local_addresses_need_both_settings(settings: Any) -> None:
    settings.CLINIC_WEBHOOK_HTTP_HOSTS = ["127.0.0.1"]
    assert "private network" in refusal("http://127.0.0.1:8080/hooks")
    settings.CLINIC_WEBHOOK_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    assert subscribe("http://127.0.0.1:8080/hooks").url == "http://127.0.0.1:8080/hooks"


def test_a_subscription_gets_a_secret_of_the_standard_shape() -> None:
    subscription = subscribe("https://93.184.215.14/hooks", events=[events.PLAN_CREATED, events.APPOINTMENT_CREATED])
    assert subscription.secret.startswith("whsec_")
    assert len(base64.b64decode(subscription.secret.removeprefix("whsec_"))) >= 24
    assert subscription.events == [events.APPOINTMENT_CREATED, events.PLAN_CREATED]  # in the list's order
    assert subscribe("https://93.184.215.14/hooks").secret != subscription.secret


@pytest.mark.parametrize(
    ("chosen", "says"),
    [([], "at least one"), (["appointment.deleted"], "Unknown event"), ([events.PLAN_CREATED, "ping"], "Unknown")],
)
def test_events_are_chosen_from_the_list(chosen: list[str], says: str, manager: Any) -> None:
    with pytest.raises(InvalidInput) as raised:
        webhooks.subscription_create(url="https://93.184.215.14/hooks", events=chosen, by=manager)
    assert says in str(raised.value.fields["events"])


def test_a_long_description_is_refused(manager: Any) -> None:
    with pytest.raises(InvalidInput) as raised:
        webhooks.subscription_create(
            url="https://93.184.215.14/hooks", events=[events.PLAN_CREATED], description="x" * 201, by=manager
        )
    assert "description" in raised.value.fields


def test_a_second_rotation_within_the_day_keeps_only_the_last_two(manager: Any) -> None:
    subscription = subscribe("https://93.184.215.14/hooks")
    first = subscription.secret
    once = webhooks.subscription_rotate(subscription=subscription, by=manager, now=at(9))
    twice = webhooks.subscription_rotate(subscription=subscription, by=manager, now=at(10))
    assert twice.previous_secret == once.secret != first
    assert twice.previous_expires_at == at(10) + timedelta(hours=24)
    assert webhook_delivery.signing_secrets(twice, at(11)) == [twice.secret, once.secret]
    assert webhook_delivery.signing_secrets(twice, at(10) + timedelta(hours=24)) == [twice.secret]


def test_a_test_event_goes_to_that_subscription_alone(manager: Any) -> None:
    one = subscribe("https://93.184.215.14/hooks")
    subscribe("https://93.184.215.14/other")
    delivery = webhooks.subscription_ping(subscription=one, by=manager, now=at(9))
    assert list(WebhookDelivery.objects.values_list("subscription_id", "event_type")) == [(one.pk, "ping")]
    assert '"type":"ping"' in delivery.body and "Clear Skin Clinic" in delivery.body
    webhooks.subscription_ping(subscription=one, by=manager, now=at(9))
    assert WebhookDelivery.objects.count() == 2  # each test event is its own message
    webhooks.subscription_update(subscription=one, by=manager, active=False)
    with pytest.raises(InvalidState):
        webhooks.subscription_ping(subscription=one, by=manager)


def test_only_a_failed_delivery_is_sent_again(manager: Any) -> None:
    delivery = webhooks.subscription_ping(subscription=subscribe("https://93.184.215.14/hooks"), by=manager)
    with pytest.raises(InvalidState):
        webhooks.delivery_retry(delivery=delivery)


def test_deleting_a_subscription_deletes_its_log(manager: Any) -> None:
    subscription = subscribe("https://93.184.215.14/hooks")
    webhooks.subscription_ping(subscription=subscription, by=manager)
    webhooks.subscription_delete(subscription=subscription, by=manager)
    assert not WebhookSubscription.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_the_examples_shown_to_managers_are_the_real_shapes() -> None:
    import json

    examples = webhooks.example_payloads()
    plain, clinical = json.loads(examples["plain"]), json.loads(examples["clinical"])
    assert webhooks.strip_clinical(clinical) == plain
    assert "full_name" not in plain["data"]["patient"] and "treatment" not in plain["data"]
    assert clinical["data"]["patient"]["full_name"] and clinical["data"]["treatment"]["slug"]


def test_the_documented_shape_is_the_one_sent() -> None:
    from pathlib import Path

    documented = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    assert webhooks.example_payloads()["plain"] in documented
