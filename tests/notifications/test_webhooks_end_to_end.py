"""Outgoing webhooks end to end: the booking service, a real Celery worker with
beat on Redis, and a real HTTP subscriber in this test that fails three times
before it accepts. Nothing is eager or mocked; the worker reads this test's
PostgreSQL database (transactional) and signs with the subscription's secret."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from booking import webhooks
from booking.models import WebhookAttempt, WebhookDelivery
from clinic import events
from tests.factories import UserFactory
from tests.notifications.conftest import Workers, wait_until
from tests.webhooks.conftest import serve_receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

LOCAL = {"WEBHOOK_HTTP_HOSTS": "127.0.0.1", "WEBHOOK_PRIVATE_NETWORKS": "127.0.0.0/8"}


def on_the_grid(after: timedelta) -> Any:
    moment = timezone.localtime(timezone.now() + after).replace(second=0, microsecond=0)
    return moment + timedelta(minutes=-moment.minute % 15)


def test_a_subscriber_failing_three_times_receives_the_event_exactly_once_with_a_valid_signature(
    workers: Workers, book: Any, patient: Any, settings: Any
) -> None:
    settings.CLINIC_WEBHOOK_HTTP_HOSTS = ["127.0.0.1"]
    settings.CLINIC_WEBHOOK_PRIVATE_NETWORKS = ["127.0.0.0/8"]
    with serve_receiver() as receiver:
        receiver.answer(500, 500, 500)
        # Retries after 1, 4 and 16 seconds (RETRY_SECONDS × 4^(n−1)), a sweep every second.
        worker = workers.start(beat=True, WEBHOOK_RETRY_SECONDS=1, WEBHOOK_SWEEP_SECONDS=1, **LOCAL)
        subscription = webhooks.subscription_create(
            url=receiver.url, events=[events.APPOINTMENT_CREATED], by=UserFactory(role="manager")
        )
        appointment = book(patient, on_the_grid(timedelta(days=2)))

        receiver.wait_for(4, timeout=120)
        wait_until(lambda: WebhookDelivery.objects.get().status == WebhookDelivery.Status.SENT, timeout=30, what="sent")
        worker.wait_for_sweeps(3)  # three whole sweeps later, nothing more
        got = receiver.requests()

    assert [request.answered for request in got] == [500, 500, 500, 200]
    delivery = WebhookDelivery.objects.get()
    assert {request.headers["webhook-id"] for request in got} == {delivery.message_id}
    [accepted] = [request for request in got if request.answered == 200]
    payload = Webhook(subscription.secret).verify(accepted.body, accepted.headers)
    assert (payload["type"], payload["data"]["id"]) == ("appointment.created", appointment.pk)
    assert "Chan Tai Man" not in accepted.body.decode()  # not a clinical subscription
    assert delivery.attempts == 4
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True)) == [
        500,
        500,
        500,
        200,
    ]
    # The worker waited each back-off before trying again.
    times = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("at", flat=True))
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    assert gaps[0] >= 1 and gaps[1] >= 4 and gaps[2] >= 16, gaps
