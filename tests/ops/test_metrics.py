"""GET /metrics (clinic/metrics.py): who may scrape it, and that what it says is
what happened: bookings counted once committed, the outboxes' depth and age."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from booking.models import Appointment, Notification, WebhookDelivery, WebhookSubscription
from tests.api.conftest import as_a, next_weekday_at, patient_a, peel, practitioner
from tests.factories import NotificationFactory, UserFactory
from treatments.models import Treatment

__all__ = ["as_a", "patient_a", "peel", "practitioner"]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: Client, **extra: Any) -> Any:
    return client.get("/metrics", **extra)


@pytest.mark.django_db
def test_without_a_token_only_loopback_and_private_addresses_may_scrape(client: Client) -> None:
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.9", "::1"):
        answer = scrape(client, REMOTE_ADDR=address)
        assert answer.status_code == 200, address
        assert answer["Content-Type"].startswith("text/plain; version=")
        assert "# TYPE clinic_http_request_duration_seconds histogram" in answer.content.decode()

    refused = scrape(client, REMOTE_ADDR="81.2.69.142", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert refused.status_code == 403
    assert refused.json() == {"code": "permission_denied", "detail": "You do not have permission to do this."}
    assert "clinic_" not in refused.content.decode()


@pytest.mark.django_db
def test_without_a_token_nothing_forwarded_by_a_proxy_may_scrape(client: Client, settings: Any) -> None:
    """Behind a proxy on the private network every visitor arrives from a private
    address; what the proxy forwarded is refused, whoever it says sent it."""
    settings.CLINIC_TRUSTED_PROXIES = "10.0.0.0/8"
    assert scrape(client, REMOTE_ADDR="10.0.0.5").status_code == 200  # the scraper, straight to the pod
    for header in ({"HTTP_X_FORWARDED_FOR": "192.168.1.20"}, {"HTTP_FORWARDED": "for=192.168.1.20"}):
        assert scrape(client, REMOTE_ADDR="10.0.0.5", **header).status_code == 403, header


@pytest.mark.django_db
def test_with_a_token_only_the_bearer_of_it_may_scrape_from_anywhere(client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-scrape-token"

    assert scrape(client, REMOTE_ADDR="81.2.69.142", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200
    for header in ("Bearer wrong-token", "Bearer s3cret-scrape-toke", "Basic s3cret-scrape-token", ""):
        answer = scrape(client, REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=header)
        assert answer.status_code == 403, header
        assert answer.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_requests_are_timed_by_url_pattern_never_by_path(client: Client) -> None:
    client.get("/api/v1/treatments/?q=Chan+Tai+Man")
    client.get("/api/v1/patients/12345/")  # 401: not signed in
    client.get("/api/v1/nowhere/at/all/")

    exposed = scrape(client).content.decode()
    counts = samples(exposed)
    key = "clinic_http_request_duration_seconds_count"
    assert counts[(key, (("method", "GET"), ("route", "api/v1/treatments/"), ("status", "2xx")))] >= 1
    assert counts[(key, (("method", "GET"), ("route", "api/v1/patients/<int:pk>/"), ("status", "4xx")))] >= 1
    assert counts[(key, (("method", "GET"), ("route", "unmatched"), ("status", "4xx")))] >= 1
    assert "12345" not in exposed and "nowhere" not in exposed and "Chan" not in exposed


def bookings(source: str) -> float:
    return REGISTRY.get_sample_value("clinic_bookings_total", {"source": source}) or 0.0


@pytest.mark.django_db
def test_a_booking_through_the_api_counts_one_once_committed_and_a_refused_one_none(
    as_a: APIClient,
    peel: Treatment,
    practitioner: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    before = bookings("patient_online"), bookings("staff")
    start = next_weekday_at(11)
    with django_capture_on_commit_callbacks(execute=True):
        created = as_a.post(
            "/api/v1/appointments/", {"treatment": peel.slug, "start": start.isoformat()}, format="json"
        )
    assert created.status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        taken = as_a.post("/api/v1/appointments/", {"treatment": peel.slug, "start": start.isoformat()}, format="json")
    assert taken.status_code == 409

    assert Appointment.objects.count() == 1
    assert (bookings("patient_online"), bookings("staff")) == (before[0] + 1, before[1])
    exposed = samples(scrape(Client()).content.decode())
    assert exposed[("clinic_bookings_total", (("source", "patient_online"),))] == before[0] + 1


@pytest.mark.django_db
def test_outbox_depth_and_age_are_what_is_due_and_unsent(client: Client) -> None:
    now = timezone.now().replace(microsecond=0)
    with time_machine.travel(now, tick=False):
        # Due 5 and 2 minutes ago, one being sent: three due. Not due yet, sent, failed: not counted.
        NotificationFactory(due_at=now - timedelta(minutes=5))
        NotificationFactory(due_at=now - timedelta(minutes=2))
        NotificationFactory(
            due_at=now - timedelta(seconds=30), status=Notification.Status.SENDING, claim=uuid.uuid4(), claimed_at=now
        )
        NotificationFactory(due_at=now + timedelta(hours=1))
        NotificationFactory(due_at=now - timedelta(hours=3), status=Notification.Status.SENT, sent_at=now)
        NotificationFactory(due_at=now - timedelta(hours=4), status=Notification.Status.FAILED)
        manager = UserFactory(role="manager")
        subscription = WebhookSubscription.objects.create(
            url="https://hooks.example.org/clinic", events=["appointment.created"], secret="whsec_x", created_by=manager
        )
        WebhookDelivery.objects.create(
            subscription=subscription,
            event_type="appointment.created",
            event_key="appointment.created:1:0",
            message_id="msg_1",
            body="{}",
            next_attempt_at=now - timedelta(seconds=90),
        )

        exposed = samples(scrape(client).content.decode())

    assert exposed[("clinic_outbox_depth", (("outbox", "notifications"),))] == 3
    assert exposed[("clinic_outbox_oldest_due_age_seconds", (("outbox", "notifications"),))] == 300
    assert exposed[("clinic_outbox_depth", (("outbox", "webhooks"),))] == 1
    assert exposed[("clinic_outbox_oldest_due_age_seconds", (("outbox", "webhooks"),))] == 90

    Notification.objects.filter(status__in=["pending", "sending"], due_at__lte=now).update(status="sent", sent_at=now)
    WebhookDelivery.objects.update(status="sent", sent_at=now)
    with time_machine.travel(now, tick=False):
        emptied = samples(scrape(client).content.decode())
    assert emptied[("clinic_outbox_depth", (("outbox", "notifications"),))] == 0
    assert emptied[("clinic_outbox_oldest_due_age_seconds", (("outbox", "notifications"),))] == 0
    assert emptied[("clinic_outbox_depth", (("outbox", "webhooks"),))] == 0
