"""Delivery to a real HTTP subscriber in this test, the sweep driven through the
back-off with time-machine: retries, signatures, rotation, and the addresses
the clinic refuses to call. (A real Celery worker on Redis delivers the same
in tests/notifications/test_webhooks_end_to_end.py.)"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from booking import webhook_delivery, webhooks
from booking.models import WebhookAttempt, WebhookDelivery
from booking.webhook_delivery import deliver_here, webhooks_claim_due, webhooks_deliver, webhooks_sweep
from clinic import events
from tests.webhooks.conftest import Clinic, Receiver, at, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def monday_morning() -> Any:
    """The clinic's clock at Monday 07:00 (the events' ``now``), ticking; tests
    that step through the back-off travel on from there."""
    with time_machine.travel(at(7), tick=True):
        yield


def sweep() -> Any:
    return webhooks_sweep(dispatch=deliver_here)


def test_a_subscriber_failing_three_times_receives_the_event_once_with_a_valid_signature(
    clinic: Clinic, receiver: Receiver, allow_local: None
) -> None:
    receiver.answer(500, 500, 500)
    with time_machine.travel(at(7), tick=False) as clock:
        subscription = subscribe(receiver.url, events=[events.APPOINTMENT_CREATED])
        appointment = clinic.book(at(11), now=timezone.now())
        delivery = WebhookDelivery.objects.get()
        webhooks_deliver(ids=[delivery.pk])  # what the after-commit task does
        assert len(receiver.requests()) == 1
        # Each retry waits its back-off (30 s × 4^(n−1)): a sweep a second early sends nothing.
        for wait in (30, 120, 480):
            clock.shift(timedelta(seconds=wait - 1))
            sweep()
            sent_before = len(receiver.requests())
            clock.shift(timedelta(seconds=1))
            sweep()
            assert len(receiver.requests()) == sent_before + 1
        clock.shift(timedelta(days=2))
        sweep()  # nothing left to send

        got = receiver.requests()
        assert [request.answered for request in got] == [500, 500, 500, 200]
        assert {request.headers["webhook-id"] for request in got} == {delivery.message_id}
        assert len({request.body for request in got}) == 1  # the same payload every time
        [accepted] = receiver.accepted()
        clock.move_to(at(7) + timedelta(seconds=630))  # when it was accepted: verify checks the timestamp
        payload = Webhook(subscription.secret).verify(accepted.body, accepted.headers)
    assert payload["type"] == "appointment.created"
    assert payload["data"]["id"] == appointment.pk
    assert accepted.headers["content-type"] == "application/json"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 4, 200)
    log = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", "error"))
    assert log == [(500, "http_500"), (500, "http_500"), (500, "http_500"), (200, "")]


def test_after_the_last_attempt_it_fails_and_can_be_sent_again_unchanged(
    clinic: Clinic, receiver: Receiver, allow_local: None, settings: Any
) -> None:
    settings.CLINIC_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answer(503, 503)
    with time_machine.travel(at(7), tick=False) as clock:
        subscribe(receiver.url, events=[events.APPOINTMENT_CREATED])
        clinic.book(at(11), now=timezone.now())
        delivery = WebhookDelivery.objects.get()
        webhooks_deliver(ids=[delivery.pk])
        clock.shift(timedelta(seconds=30))
        sweep()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 2, "http_503")
        clock.shift(timedelta(days=1))
        sweep()
        assert len(receiver.requests()) == 2  # a failed delivery waits for a person

        webhooks.delivery_retry(delivery=delivery)
        sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert [r.headers["webhook-id"] for r in receiver.requests()] == [delivery.message_id] * 3


def test_a_delivery_task_run_twice_sends_once(clinic: Clinic, receiver: Receiver, allow_local: None) -> None:
    subscribe(receiver.url, events=[events.APPOINTMENT_CREATED])
    clinic.book(at(11), now=at(7))
    delivery = WebhookDelivery.objects.get()
    token, ids = webhooks_claim_due(now=timezone.now())
    assert ids == [delivery.pk]
    webhooks_deliver(ids=ids, claim=token)
    webhooks_deliver(ids=ids, claim=token)  # redelivered by the broker
    webhooks_deliver(ids=ids)  # and the after-commit task, late
    assert len(receiver.requests()) == 1


def test_a_claim_of_a_dead_worker_is_sent_again_with_the_same_id(
    clinic: Clinic, receiver: Receiver, allow_local: None
) -> None:
    with time_machine.travel(at(7), tick=False) as clock:
        subscribe(receiver.url, events=[events.APPOINTMENT_CREATED])
        clinic.book(at(11), now=timezone.now())
        webhooks_claim_due(now=timezone.now())  # claimed, then the worker died
        clock.shift(webhook_delivery.CLAIM_TIMEOUT - timedelta(seconds=1))
        assert sweep().claimed == 0
        clock.shift(timedelta(seconds=2))
        result = sweep()
    assert (result.released, result.claimed) == (1, 1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "sent"
    assert [r.headers["webhook-id"] for r in receiver.requests()] == [delivery.message_id]


def test_rotation_signs_with_both_secrets_for_a_day(
    clinic: Clinic, receiver: Receiver, allow_local: None, settings: Any
) -> None:
    with time_machine.travel(at(7), tick=False) as clock:
        subscription = subscribe(receiver.url, events=[events.APPOINTMENT_CREATED, events.APPOINTMENT_CANCELLED])
        old = subscription.secret
        rotated = webhooks.subscription_rotate(subscription=subscription, by=clinic.reception)
        assert rotated.secret != old and rotated.secret.startswith("whsec_")
        appointment = clinic.book(at(11), now=timezone.now())
        sweep()
        [during] = receiver.requests()
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        Webhook(old).verify(during.body, during.headers)  # the receiver not yet switched
        Webhook(rotated.secret).verify(during.body, during.headers)  # and the one that has

        clock.shift(timedelta(hours=24, seconds=1))
        from booking import services

        services.appointment_cancel(appointment=appointment, by=clinic.reception, staff=True, now=timezone.now())
        sweep()
        after = receiver.requests()[1]
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        Webhook(rotated.secret).verify(after.body, after.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(after.body, after.headers)


def test_a_redirect_is_not_followed(clinic: Clinic, receiver: Receiver, allow_local: None) -> None:
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    subscribe(receiver.url, events=[events.APPOINTMENT_CREATED])
    clinic.book(at(11), now=at(7))
    sweep()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("pending", 302, "http_302")
    assert len(receiver.requests()) == 1


def test_a_slow_subscriber_times_out(
    clinic: Clinic, receiver: Receiver, allow_local: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook_delivery, "READ_TIMEOUT", 0.3)
    receiver.delay = 1.0
    subscribe(receiver.url, events=[events.APPOINTMENT_CREATED])
    clinic.book(at(11), now=at(7))
    sweep()
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (None, "read_timeout")
    assert attempt.duration_ms < 1000


def test_a_subscriber_that_is_down_is_a_connection_error(clinic: Clinic, allow_local: None) -> None:
    subscribe("http://127.0.0.1:9/hooks", events=[events.APPOINTMENT_CREATED])  # the discard port: nobody there
    clinic.book(at(11), now=at(7))
    sweep()
    assert WebhookDelivery.objects.get().last_error == "connection"


# --- addresses the clinic will not call ------------------------------------------------


def test_an_address_inside_the_network_is_refused_at_the_connection(
    clinic: Clinic, receiver: Receiver, allow_local: None, settings: Any
) -> None:
    """Saved while allowed; then the setting no longer allows loopback (or a
    name now resolves there): the address actually reached is refused before a
    byte is sent."""
    settings.CLINIC_WEBHOOK_HTTP_HOSTS = ["127.0.0.1", "localhost"]
    subscribe(f"http://localhost:{receiver.port}/hooks", events=[events.APPOINTMENT_CREATED])
    settings.CLINIC_WEBHOOK_PRIVATE_NETWORKS = []
    clinic.book(at(11), now=at(7))
    sweep()
    assert WebhookDelivery.objects.get().last_error == "refused_address"
    assert receiver.requests() == []


def test_plain_http_no_longer_allowed_is_refused_at_send(
    clinic: Clinic, receiver: Receiver, allow_local: None, settings: Any
) -> None:
    subscribe(receiver.url, events=[events.APPOINTMENT_CREATED])
    settings.CLINIC_WEBHOOK_HTTP_HOSTS = []
    clinic.book(at(11), now=at(7))
    sweep()
    assert WebhookDelivery.objects.get().last_error == "refused_url"
    assert receiver.requests() == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.10",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str) -> None:
    assert not webhook_delivery.address_allowed(address)


def test_public_addresses_and_the_allowed_networks_are_accepted(settings: Any) -> None:
    assert webhook_delivery.address_allowed("93.184.215.14")
    assert webhook_delivery.address_allowed("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    settings.CLINIC_WEBHOOK_PRIVATE_NETWORKS = ["10.20.0.0/24"]
    assert webhook_delivery.address_allowed("10.20.0.7")
    assert not webhook_delivery.address_allowed("10.20.1.7")


# --- a turned-off subscription, the broker, two sweeps at once --------------------------


def test_turning_a_subscription_off_fails_what_waits(clinic: Clinic, receiver: Receiver, allow_local: None) -> None:
    subscription = subscribe(receiver.url, events=[events.APPOINTMENT_CREATED])
    clinic.book(at(11), now=at(7))
    webhooks.subscription_update(subscription=subscription, by=clinic.reception, active=False)
    sweep()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_error, delivery.attempts) == ("failed", "subscription_inactive", 0)
    assert receiver.requests() == []
    with pytest.raises(Exception, match="turned off"):
        webhooks.delivery_retry(delivery=delivery)
    webhooks.subscription_update(subscription=subscription, by=clinic.reception, active=True)
    webhooks.delivery_retry(delivery=delivery)
    sweep()
    assert len(receiver.accepted()) == 1


def test_with_the_broker_down_the_booking_still_succeeds(
    clinic: Clinic, allow_local: None, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    from booking import tasks

    def down(*args: Any, **kwargs: Any) -> None:
        raise OSError("Connection refused")

    monkeypatch.setattr(tasks.deliver_webhooks, "delay", down)
    subscribe("http://127.0.0.1:9/hooks", events=[events.APPOINTMENT_CREATED])
    with django_capture_on_commit_callbacks(execute=True):
        appointment = clinic.book(at(11), now=at(7))
    assert appointment.pk
    assert WebhookDelivery.objects.get().status == "pending"  # for the sweep
    result = webhooks_sweep(dispatch=webhook_delivery.dispatch_to_workers)
    assert result.claimed == 1
    assert WebhookDelivery.objects.get().status == "pending"  # given back, not stranded in "sending"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_never_claim_the_same_delivery(allow_local: None) -> None:
    subscription = subscribe("https://93.184.215.14/hooks")
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            subscription=subscription,
            event_type="ping",
            event_key=f"ping:{n}",
            message_id=f"msg_{n}",
            body="{}",
            next_attempt_at=now,
        )
        for n in range(300)
    )
    barrier = threading.Barrier(2)
    claimed: list[list[int]] = []

    def claim() -> None:
        try:
            barrier.wait()
            claimed.append(webhooks_claim_due(now=timezone.now(), limit=200)[1])
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = claimed
    assert not set(first) & set(second)
    assert len(first) + len(second) == 300


def test_the_body_sent_is_the_body_stored(clinic: Clinic, receiver: Receiver, allow_local: None) -> None:
    subscribe(receiver.url, events=[events.APPOINTMENT_CREATED], clinical=True)
    clinic.book(at(11), now=at(7))
    sweep()
    [request] = receiver.requests()
    delivery = WebhookDelivery.objects.get()
    assert request.body == delivery.body.encode()
    assert json.loads(request.body)["data"]["patient"]["full_name"] == "Chan Tai Man"
    assert request.headers["user-agent"] == webhook_delivery.USER_AGENT
