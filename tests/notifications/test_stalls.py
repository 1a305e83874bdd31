"""Redis hanging mid-acknowledgement, a worker killed while it holds messages, a worker
that stops taking tasks: the outbox keeps moving. Real worker processes on a private
redis-server that the test pauses and inspects (never the shared one)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.utils import timezone

from booking.models import Notification
from clinic.celery import app
from tests.factories import PatientFactory
from tests.notifications.conftest import PrivateRedis, SmtpSink, Workers, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def book_one(receptionist: Any, practitioner: Any, treatment: Any) -> Callable[[int], int]:
    """Books a new patient ``hours`` hours into the day after tomorrow, through the API."""
    from tests.api.conftest import client_for

    api = client_for(receptionist)

    def book(hours: int) -> int:
        day = timezone.localtime(timezone.now() + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
        response = api.post(
            "/api/v1/appointments/",
            {
                "treatment": treatment.slug,
                "start": (day + timedelta(hours=hours)).isoformat(),
                "patient": PatientFactory().pk,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        return int(response.json()["id"])

    return book


def failed_acks(log: str) -> int:
    """kombu's own message, or clinic/broker.py's, which keeps the worker listening."""
    return log.count("Couldn't ack") + log.count("could not acknowledge")


def test_two_redis_hangs_mid_acknowledgement_do_not_leave_the_worker_deaf(
    workers: Workers,
    smtp: SmtpSink,
    private_redis: PrivateRedis,
    use_broker: Callable[[str], None],
    book_one: Callable[[int], int],
) -> None:
    use_broker(private_redis.url)
    worker = workers.start(beat=True, broker=private_redis.url)  # as `make run` runs it: -B
    server = redis.Redis(port=private_redis.port)
    smtp.delay = 2.5  # each confirmation takes 2.5 s to send; the task is acknowledged after it

    for n in range(2):
        book_one(9 + n)
        wait_until(lambda n=n: worker.output().count("deliver_notifications[") > n, timeout=30, what="the task")
        time.sleep(1.0)
        server.execute_command("CLIENT", "PAUSE", "3000")  # Redis hangs while the task finishes and acks
        smtp.wait_for("confirmation", count=n + 1, timeout=30)
        wait_until(lambda n=n: failed_acks(worker.output()) > n, timeout=15, what="the acknowledgement to fail")
        time.sleep(5)

    smtp.delay = 0
    book_one(12)
    smtp.wait_for("confirmation", count=3, timeout=60)
    assert smtp.duplicates() == {}
    assert "Couldn't ack" not in worker.output()


def test_a_worker_killed_holding_unacknowledged_messages_strands_nothing(
    workers: Workers,
    smtp: SmtpSink,
    private_redis: PrivateRedis,
    use_broker: Callable[[str], None],
    book_one: Callable[[int], int],
) -> None:
    use_broker(private_redis.url)
    server = redis.Redis(port=private_redis.port)
    # Short enough to see Redis hand the dead worker's messages out again within the test.
    limits = {"TASK_TIME_LIMIT_SECONDS": 20, "BROKER_VISIBILITY_SECONDS": 21}
    first = workers.start(concurrency=2, broker=private_redis.url, **limits)
    smtp.delay = 4
    ids = [book_one(9 + n) for n in range(4)]
    wait_until(lambda: server.hlen("unacked") >= 2, timeout=30, what="the worker to hold two messages")
    first.kill()  # SIGKILL: no warm shutdown, nothing handed back
    assert server.hlen("unacked") >= 2

    smtp.delay = 0
    workers.start(concurrency=2, beat=True, broker=private_redis.url, NOTIFICATION_CLAIM_SECONDS=5, **limits)
    wait_until(
        lambda: Notification.objects.filter(appointment_id__in=ids, kind="confirmation", status="sent").count() == 4,
        timeout=90,
        what="every confirmation sent",
    )
    assert {r.message["To"] for r in smtp.of_kind("confirmation")} == set(
        Notification.objects.filter(appointment_id__in=ids, kind="confirmation").values_list(
            "patient__email", flat=True
        )
    )
    # The documented window: a message the SMTP server took just as its sender died.
    assert sum(n - 1 for n in smtp.duplicates().values()) <= 2
    wait_until(lambda: server.hlen("unacked") == 0, timeout=60, what="Redis to hand the held messages out again")


def test_a_worker_that_stops_taking_tasks_exits_though_it_still_answers_ping(
    workers: Workers, private_redis: PrivateRedis, use_broker: Callable[[str], None], tmp_path: Any
) -> None:
    use_broker(private_redis.url)
    heartbeat = tmp_path / "heartbeat"
    worker = workers.start(
        broker=private_redis.url, WORKER_BEACON_SECONDS=1, WORKER_DEAF_SECONDS=6, WORKER_HEARTBEAT_FILE=heartbeat
    )
    wait_until(lambda: worker.output().count("clinic.beacon[") >= 2, timeout=20, what="beacons arriving")
    assert heartbeat.exists()
    nodes = app.control.ping(timeout=2)
    [node] = [name for reply in nodes for name in reply]
    queues = [
        q["name"]
        for reply in app.control.inspect(destination=[node], timeout=2).active_queues().values()
        for q in reply
    ]
    for queue in queues:  # deaf, the way a failed ack or a lost consumer leaves it
        app.control.cancel_consumer(queue, destination=[node], reply=True, timeout=2)
    assert app.control.ping(destination=[node], timeout=2)  # a ping still says all is well

    wait_until(lambda: worker.process.poll() is not None, timeout=30, what="the watchdog to stop the worker")
    assert "watchdog: no task received" in worker.output()
